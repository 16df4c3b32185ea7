from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from steve.models import ApiKey, Company
from steve.services import api_key_create, company_get_or_create


class Command(BaseCommand):
    help = (
        "Create an API key for a company and print it once. The company must exist, "
        "unless --create-company is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="company slug")
        parser.add_argument("--name", required=True, help="a name for the key")
        parser.add_argument(
            "--environment",
            default=ApiKey.Environment.PRODUCTION,
            choices=ApiKey.Environment.values,
        )
        parser.add_argument(
            "--create-company",
            action="store_true",
            help="create the company when no company has that slug",
        )

    def handle(self, *args: object, **options: str) -> None:
        slug = slugify(options["company"])
        # A mistyped slug used to create an empty company silently, and the key handed out
        # saw none of the submissions its operator meant it for.
        if not options["create_company"] and not Company.objects.filter(slug=slug).exists():
            known = ", ".join(Company.objects.order_by("slug").values_list("slug", flat=True)[:20])
            raise CommandError(
                f"No company has the slug {slug!r} (companies: {known or 'none'}); "
                "pass --create-company to create it."
            )
        company = company_get_or_create(slug=options["company"])
        created = api_key_create(
            company=company, name=options["name"], environment=options["environment"]
        )
        self.stderr.write(f"Created key {created.api_key.prefix}… for company {company.slug}.")
        self.stdout.write(created.secret)
