"""Demo data: a company, an API key, the workflows, a reviewer, and a dozen submissions
made by running generated receipts and invoices through the real pipeline."""

import random
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from jobs import samples
from jobs.defaults import publish_default_workflows
from jobs.models import WorkflowSession
from jobs.services import (
    SessionRequest,
    session_create,
    session_store_upload,
    session_submit,
)
from steve.celery import app
from steve.models import ApiKey, Membership, WorkflowVersion
from steve.services import CreatedApiKey, api_key_create, company_get_or_create


def demo_documents(rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(workflow slug, content type, bytes): receipts, near-duplicates and invoices."""
    docs: list[tuple[str, str, bytes]] = []
    images = []
    for index in range(8):
        image = samples.receipt_image(samples.random_receipt(rng, merchant_index=index % 4))
        images.append(image)
        docs.append(("receipt-ocr", "image/jpeg", samples.jpeg(image)))
    # Re-submissions a fraud reviewer should see: the same bytes, and a re-photograph.
    docs.append(("receipt-ocr", "image/jpeg", docs[0][2]))
    docs.append(("receipt-ocr", "image/jpeg", samples.jpeg(samples.recapture(images[1], rng), 70)))
    for number in range(1, 3):
        docs.append(("invoice", "application/pdf", samples.invoice_pdf(rng, number)))
    return docs


class Command(BaseCommand):
    help = "Create the demo company, key, workflows, reviewer and processed submissions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: object, seed: int, **options: object) -> None:
        # Processing runs right here, through the task code path, so the demo is ready
        # when the command ends whether or not a worker is running yet.
        # (Celery reads Django settings under the CELERY_ namespace, hence the key.)
        app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)
        company = company_get_or_create(slug="demo", name="Demo Co")
        versions = {
            v.workflow.slug: v
            for v in publish_default_workflows(company=company, auto_approve=True)
        }
        key = api_key_create(company=company, name="demo")
        password = self._reviewer(company)
        self._submissions(key, versions, random.Random(seed))
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        # Steve stores only its digest; scripts/dev keeps this output in data/.
        # One block, its values in one column (the README quotes it).
        self.stdout.write(f"  API key:        {key.secret}")
        self.stdout.write(f"  Reviewer login: demo / {password} (also an admin)")

    def _reviewer(self, company) -> str:
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username="demo")
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        Membership.objects.get_or_create(
            user=user, company=company, defaults={"role": Membership.Role.ADMIN}
        )
        return password

    def _submissions(
        self, key: CreatedApiKey, versions: dict[str, WorkflowVersion], rng: random.Random
    ) -> None:
        for index, (slug, content_type, data) in enumerate(demo_documents(rng)):
            client_id = f"demo-{index + 1:02d}"
            if WorkflowSession.objects.filter(
                company=key.api_key.company, client_submission_id=client_id
            ).exists():
                continue
            self._run_one(key.api_key, versions[slug], client_id, content_type, data)
            # Progress on stderr: scripts/dev keeps stdout (the key and login) in data/.
            self.stderr.write(f"  processed {client_id} ({slug})")

    @staticmethod
    def _run_one(
        api_key: ApiKey, version: WorkflowVersion, client_id: str, content_type: str, data: bytes
    ) -> None:
        request = SessionRequest(1, [content_type], client_id, {"source": "demo"}, None, "")
        session, _ = session_create(api_key=api_key, version=version, request=request)
        file = session.submission.files.get()
        session_store_upload(file_id=file.pk, data=data)
        session_submit(session_id=session.pk)
