"""Environments are a tenancy boundary: a sandbox key reaches no production object.

Every production object an integrator can reach is made through the production key's
API; the sandbox key of the same company then gets exactly what another company's key
gets: 404 (empty lists), and nothing it does changes a production object.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from rest_framework.test import APIClient

from fraud.models import FraudMatch
from jobs.models import WorkflowSession
from steve.ids import new_id
from submissions.models import Submission
from tests import factories
from tests.jobs.fixtures_docs import invoice_pdf
from webhooks.models import SessionWebhookSecret, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_emit

pytestmark = pytest.mark.django_db


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def sandbox(company) -> APIClient:
    return client_for(factories.api_key(company, "sandbox key", environment="sandbox").secret)


@pytest.fixture
def production_objects(api, company, workflows, receiver_url) -> dict[str, str]:
    """One of every production object, made through the production key's API."""
    session = api.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "order-1"},
        format="json",
    ).json()
    submission = Submission.objects.get(pk=session["submissionId"])
    Submission.objects.filter(pk=submission.pk).update(status="review")
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        check_type="tampering",
        score=80,
        similarity=0.8,
    )
    endpoint = api.post(
        "/api/v1/webhook-endpoints", {"url": receiver_url}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    ).json()
    with transaction.atomic():
        (delivery,) = webhook_emit(
            company_id=company.pk,
            event_id=new_id("evt"),
            event_type="submission.approved",
            payload={},
            environment="production",
        )
    job = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": "invoice", "file": SimpleUploadedFile("i.pdf", invoice_pdf())},
        format="multipart",
    ).json()["job"]
    assert api.post("/api/v1/webhook-endpoints/session-secret/rotate").status_code == 200
    return {
        "session": session["sessionId"],
        "submission": submission.pk,
        "match": match.pk,
        "endpoint": endpoint["id"],
        "delivery": delivery.pk,
        "job": job["id"],
    }


@pytest.fixture
def receiver_url() -> str:
    return "http://127.0.0.1:9/steve"  # never called: nothing here is delivered


READS = [
    "/api/v1/jobs/{session}",
    "/api/v1/submissions/{submission}",
    "/api/v1/submissions/{submission}/fraud-matches",
    "/api/v1/webhook-endpoints/{endpoint}",
    "/api/v1/webhook-endpoints/{endpoint}/deliveries",
    "/api/v1/webhook-deliveries/{delivery}",
    "/api/v1/extraction-jobs/{job}",
    "/api/v1/extraction-jobs/{job}/result",
]
WRITES = [
    ("post", "/api/v1/workflows/receipt-ocr/sessions/{session}/submit", {}),
    ("post", "/api/v1/submissions/{submission}/approve", {}),
    ("post", "/api/v1/submissions/{submission}/reject", {"reason": "no"}),
    ("post", "/api/v1/submissions/{submission}/cancel", {}),
    ("post", "/api/v1/extraction-jobs/{job}/cancel", {}),
    (
        "post",
        "/api/v1/submissions/{submission}/fraud-matches/{match}/resolve",
        {"resolution": "false_positive"},
    ),
    ("patch", "/api/v1/webhook-endpoints/{endpoint}", {"enabled": False}),
    ("post", "/api/v1/webhook-endpoints/{endpoint}/rotate-secret", {"gracePeriodHours": 0}),
    ("post", "/api/v1/webhook-endpoints/{endpoint}/redeliver", {"since": "2020-01-01T00:00:00Z"}),
    ("post", "/api/v1/webhook-deliveries/{delivery}/redeliver", {}),
    ("post", "/api/v1/webhooks/test", {"endpointId": "{endpoint}"}),
    ("delete", "/api/v1/webhook-endpoints/{endpoint}", None),
]


@pytest.mark.parametrize("path", READS)
def test_a_sandbox_key_reads_no_production_object(sandbox, production_objects, api, path):
    url = path.format(**production_objects)
    assert api.get(url).status_code != 404  # the production key does see it
    assert sandbox.get(url).status_code == 404


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_sandbox_key_changes_no_production_object(
    sandbox, production_objects, method, path, body
):
    before = snapshot()
    payload = {
        k: v.format(**production_objects) if isinstance(v, str) else v
        for k, v in (body or {}).items()
    } or None
    response = getattr(sandbox, method)(path.format(**production_objects), payload, format="json")
    assert response.status_code == 404, response.content
    assert snapshot() == before


def snapshot() -> list:
    return [
        list(Submission.objects.order_by("pk").values_list("pk", "status", "version")),
        list(FraudMatch.objects.values_list("pk", "resolution")),
        list(WebhookEndpoint.objects.values_list("pk", "secret", "enabled")),
        list(WebhookDelivery.objects.values_list("pk", "status", "attempts")),
        list(WorkflowSession.objects.values_list("pk", "state")),
        list(SessionWebhookSecret.objects.values_list("environment", "secret")),
    ]


def test_sandbox_lists_hold_no_production_rows(sandbox, production_objects):
    assert sandbox.get("/api/v1/submissions").json()["data"] == []
    assert sandbox.get("/api/v1/webhook-endpoints").json()["data"] == []
    assert sandbox.get("/api/v1/webhook-endpoints/session-secret").json()["exists"] is False


def test_sandbox_session_secret_rotation_leaves_production_signatures_alone(
    sandbox, production_objects, company
):
    production = SessionWebhookSecret.objects.get(company=company, environment="production")
    assert sandbox.post("/api/v1/webhook-endpoints/session-secret/rotate").status_code == 200
    assert SessionWebhookSecret.objects.get(pk=production.pk).secret == production.secret
    assert SessionWebhookSecret.objects.filter(company=company, environment="sandbox").exists()


def test_file_urls_of_production_reach_only_the_production_key(sandbox, production_objects, api):
    """Upload and download URLs are bearer URLs handed out with the objects: a sandbox key
    never receives them, because it never receives the objects."""
    detail = api.get(f"/api/v1/submissions/{production_objects['submission']}").json()
    assert "files" in detail
    refused = sandbox.get(f"/api/v1/submissions/{production_objects['submission']}")
    assert refused.status_code == 404 and "files" not in refused.json()


def test_sandbox_objects_are_sandbox_and_client_ids_are_per_environment(
    api, sandbox, workflows, company
):
    body = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "order-9"}
    made = api.post("/api/v1/workflows/receipt-ocr/sessions", body, format="json")
    again = sandbox.post("/api/v1/workflows/receipt-ocr/sessions", body, format="json")
    assert made.status_code == again.status_code == 201
    session = WorkflowSession.objects.get(pk=again.json()["sessionId"])
    assert session.environment == session.submission.environment == "sandbox"
    listed = sandbox.get("/api/v1/submissions").json()["data"]
    assert [s["id"] for s in listed] == [session.submission_id]


def test_events_of_sandbox_submissions_reach_only_sandbox_endpoints(
    api, sandbox, workflows, company
):
    sandbox.post("/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/sandbox"}, format="json")
    api.post("/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/production"}, format="json")
    created = sandbox.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "o-1"},
        format="json",
    ).json()
    sandbox.post(f"/api/v1/submissions/{created['submissionId']}/cancel", {}, format="json")
    deliveries = WebhookDelivery.objects.exclude(event_type="webhook.test")
    assert deliveries.exists()
    assert set(deliveries.values_list("url", "environment")) == {
        ("http://127.0.0.1:9/sandbox", "sandbox")
    }
