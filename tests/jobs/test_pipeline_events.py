"""What the pipeline announces when it finishes a session."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs import pipeline
from tests.jobs.fixtures_docs import invoice_pdf
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_auto_approved_session_announces_completion_consistently(api, workflows, company):
    WebhookEndpoint.objects.create(company=company, url="https://example.com/hook", secret="x")
    response = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": "invoice", "file": SimpleUploadedFile("i.pdf", invoice_pdf())},
        format="multipart",
    )
    pipeline.run(response.json()["job"]["id"])
    payloads = {
        d.event_type: d.payload for d in WebhookDelivery.objects.order_by("created_at", "id")
    }
    assert set(payloads) == {"session.completed", "submission.approved"}
    # Both are sent from one transaction; each already tells the whole outcome.
    assert payloads["submission.approved"]["state"] == "completed"
    assert payloads["session.completed"]["submissionStatus"] == "approved"
    assert payloads["session.completed"]["result"]["extractedData"]["invoiceNumber"]


def test_the_pipeline_hashes_every_page_view_with_the_words_it_read(api, workflows):
    from fraud import hashing
    from fraud.models import PageFingerprint

    response = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": "invoice", "file": SimpleUploadedFile("i.pdf", invoice_pdf())},
        format="multipart",
    )
    pipeline.run(response.json()["job"]["id"])
    variants = set(PageFingerprint.objects.values_list("variant", flat=True))
    assert variants == {f"v2-{view}" for view in hashing.VIEWS}  # "v2-text" included
