from django.core.management.base import BaseCommand, CommandParser

from steve.models import ApiKey
from steve.services import api_key_create, company_get_or_create


class Command(BaseCommand):
    help = "Create an API key for a company (created if it does not exist); prints the key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="company slug")
        parser.add_argument("--name", required=True, help="a name for the key")
        parser.add_argument(
            "--environment",
            default=ApiKey.Environment.PRODUCTION,
            choices=ApiKey.Environment.values,
        )

    def handle(self, *args: object, **options: str) -> None:
        company = company_get_or_create(slug=options["company"])
        created = api_key_create(
            company=company, name=options["name"], environment=options["environment"]
        )
        self.stderr.write(f"Created key {created.api_key.prefix}… for company {company.slug}.")
        self.stdout.write(created.secret)
