"""Cancelling an extraction job over the API (Steve's extension of seed 003)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from jobs import pipeline
from jobs.models import SessionState, WorkflowSession
from jobs.services import retention_purge
from submissions.models import Submission, SubmissionEvent, SubmissionStatus
from submissions.services import REASON_MAX
from tests import factories
from tests.jobs.fakes import fake_extract_file
from tests.jobs.test_extraction_jobs_api import URL, create, run_job, status_of
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def cancel(api: APIClient, job_id: str, body: dict | None = None, **headers):
    return api.post(f"{URL}/{job_id}/cancel", body or {}, format="json", **headers)


def new_job(api: APIClient, **fields) -> str:
    response = create(api, **fields)
    assert response.status_code == 202, response.content
    return response.json()["job"]["id"]


def submission_of(job_id: str) -> Submission:
    return WorkflowSession.objects.select_related("submission").get(pk=job_id).submission


def what_was_recorded(job_id: str) -> list[tuple]:
    """The job's submission events and webhooks, as a caller of either cancel sees them."""
    submission_id = submission_of(job_id).pk
    events = SubmissionEvent.objects.filter(submission_id=submission_id).order_by("id")
    deliveries = WebhookDelivery.objects.filter(session_id=job_id).order_by("created_at", "id")
    return [
        *((e.type, e.actor_type, e.actor_label, _without_ids(e.details)) for e in events),
        *((d.event_type, d.payload.get("submissionStatus"), d.payload.get("state"))
          for d in deliveries),
    ]  # fmt: skip


def _without_ids(details: dict) -> dict:
    return {name: value for name, value in details.items() if name != "sessionId"}


def client_of(created) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"api-key {created.secret}")
    return client


def test_cancelling_a_queued_job_answers_it_canceled_and_a_later_poll_agrees(api, workflows):
    job_id = new_job(api)
    response = cancel(api, job_id, {"reason": "Sent the wrong file."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["job"]["id"] == job_id
    assert body["job"]["status"] == "canceled" and body["job"]["canceledAt"]
    assert "retryAfterMs" not in body["job"] and "Retry-After" not in response
    assert status_of(api, job_id) == body["job"]
    assert api.get(f"{URL}/{job_id}/result").json()["code"] == "JOB_CANCELED"
    submission = submission_of(job_id)
    assert submission.status == SubmissionStatus.CANCELLED
    assert submission.cancel_reason == "Sent the wrong file."


def test_cancelling_a_job_twice_is_a_409_job_canceled(api, workflows):
    job_id = new_job(api)
    assert cancel(api, job_id).status_code == 200
    recorded = what_was_recorded(job_id)
    again = cancel(api, job_id)
    assert again.status_code == 409
    assert again.json()["code"] == "JOB_CANCELED"
    assert again.json()["success"] is False and again.json()["error"]["code"] == "JOB_CANCELED"
    assert what_was_recorded(job_id) == recorded


def test_a_completed_job_cannot_be_canceled_and_nothing_changes(api, workflows):
    job_id = new_job(api)
    run_job(job_id)
    before = status_of(api, job_id)
    recorded = what_was_recorded(job_id)
    refused = cancel(api, job_id, {"reason": "Too late."})
    assert refused.status_code == 409
    assert refused.json()["code"] == "JOB_COMPLETED"
    assert status_of(api, job_id) == before and before["status"] == "completed"
    assert api.get(f"{URL}/{job_id}/result").status_code == 200
    assert what_was_recorded(job_id) == recorded
    assert submission_of(job_id).cancel_reason is None


def test_a_failed_job_cannot_be_canceled(api, workflows):
    rejected = new_job(api, documentReview="99")
    run_job(rejected)
    submission_id = status_of(api, rejected)["submissionId"]
    api.post(f"/api/v1/submissions/{submission_id}/reject", {"reason": "bad"}, format="json")
    assert status_of(api, rejected)["status"] == "failed"
    refused = cancel(api, rejected)
    assert refused.status_code == 409 and refused.json()["code"] == "JOB_FAILED"
    assert status_of(api, rejected)["status"] == "failed"


def test_an_expired_job_cannot_be_canceled(api, workflows):
    purged = new_job(api)
    run_job(purged)
    long_ago = timezone.now() - timedelta(days=31)
    Submission.objects.filter(pk=submission_of(purged).pk).update(
        created_at=long_ago, updated_at=long_ago
    )
    assert retention_purge() == 1
    refused = cancel(api, purged)
    assert refused.status_code == 409 and refused.json()["code"] == "JOB_EXPIRED"
    assert status_of(api, purged)["status"] == "expired"


def test_a_job_waiting_for_review_is_canceled_as_its_submission_would_be(api, workflows):
    job_id = new_job(api, documentReview="99")
    run_job(job_id)
    assert status_of(api, job_id)["status"] == "review_required"
    response = cancel(api, job_id)
    assert response.status_code == 200, response.content
    assert response.json()["job"]["status"] == "canceled"
    assert submission_of(job_id).status == SubmissionStatus.CANCELLED


def test_the_cancel_records_and_announces_what_a_submission_cancel_does(
    api, api_key, workflows, company
):
    WebhookEndpoint.objects.create(company=company, url="https://example.com/hook", secret="x")
    by_job, by_submission = new_job(api), new_job(api, data=_other_invoice())
    reason = {"reason": "Duplicate upload."}
    assert cancel(api, by_job, reason).status_code == 200
    submission_id = submission_of(by_submission).pk
    by_path = api.post(f"/api/v1/submissions/{submission_id}/cancel", reason, format="json")
    assert by_path.status_code == 200
    recorded = what_was_recorded(by_job)
    assert recorded == what_was_recorded(by_submission)
    assert ("cancelled", "api_key", f"API key {api_key.api_key.name}", reason) in recorded
    assert [r[0] for r in recorded if "." in r[0]] == ["submission.cancelled", "session.failed"]


def _other_invoice() -> bytes:
    from tests.jobs.fixtures_docs import InvoiceSpec, invoice_pdf

    return invoice_pdf(InvoiceSpec(number="INV-9"))


def test_another_companys_or_environments_job_is_404_and_stays_queued(api, workflows, company):
    job_id = new_job(api)
    sandbox, foreign = (
        factories.api_key(company, "sandbox", "sandbox"),
        factories.api_key(factories.CompanyFactory()),
    )
    for outsider in (sandbox, foreign):
        response = cancel(client_of(outsider), job_id)
        assert response.status_code == 404
        assert response.json()["code"] == "JOB_NOT_FOUND"
        assert response.json()["error"]["code"] == "JOB_NOT_FOUND"
    assert status_of(api, job_id)["status"] == "queued"
    # Another key of the same company and environment reaches it, as its reads do.
    assert cancel(client_of(factories.api_key(company, "replacement")), job_id).status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "field_code"),
    [
        ({"reason": "x" * (REASON_MAX + 1)}, "reason", "long"),
        ({"reason": 42}, "reason", "invalid_type"),
        ({"reason": "Bad \u202e file"}, "reason", "invalid"),
        ({"reasn": "typo"}, "reasn", "unknown_field"),
    ],
)
def test_a_refused_body_is_a_400_and_cancels_nothing(api, workflows, body, field, field_code):
    job_id = new_job(api)
    response = cancel(api, job_id, body)
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == "INVALID_REQUEST" and problem["success"] is False
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, field_code)]
    assert status_of(api, job_id)["status"] == "queued"


def test_a_cancel_without_a_body_or_with_a_null_reason_cancels(api, workflows):
    first, second = new_job(api), new_job(api, data=_other_invoice())
    assert api.post(f"{URL}/{first}/cancel").status_code == 200
    assert cancel(api, second, {"reason": None}).status_code == 200
    assert {submission_of(j).status for j in (first, second)} == {SubmissionStatus.CANCELLED}


def test_a_cancel_spends_the_write_bucket(api, workflows):
    job_id = new_job(api)
    assert cancel(api, job_id)["X-RateLimit-Bucket"] == "write"


def test_a_cancel_while_the_worker_reads_stops_it(api, workflows, monkeypatch):
    job_id = new_job(api)

    def cancel_midway(session, file, deadline, on_progress=None):
        found = fake_extract_file(session, file)
        assert cancel(api, session.pk).status_code == 200
        return found

    monkeypatch.setattr(pipeline, "_extract_file", cancel_midway)
    ran_fraud: list[str] = []
    monkeypatch.setattr(pipeline, "fraud_run_checks", lambda **kw: ran_fraud.append("x"))
    pipeline.run(job_id)
    session = WorkflowSession.objects.get(pk=job_id)
    assert ran_fraud == []
    assert session.state == SessionState.FAILED
    assert session.error_code == "SUBMISSION_CANCELLED"
    assert status_of(api, job_id)["status"] == "canceled"
