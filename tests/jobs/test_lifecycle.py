"""A session follows its submission: cancel in each state, failures, and sweeps that
meet a failing row."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs import pipeline
from jobs.models import SessionState, WorkflowSession
from jobs.services import (
    SESSION_SUBMISSION_PAIRS,
    SESSION_TRANSITIONS,
    SessionRequest,
    session_create,
    session_expire,
    session_fail,
    sessions_expire_stale,
    states_agree,
)
from submissions.models import Submission, SubmissionEvent, SubmissionStatus
from submissions.services import Actor, submission_cancel, submission_start_processing
from tests.jobs.fakes import fake_extract_file
from tests.jobs.test_sessions_api import create, jpeg_bytes, put
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

SESSION_URL = "https://93.184.215.14/session-hook"


def open_session(api_key, version, client_id: str = "order-1") -> WorkflowSession:
    session, _ = session_create(
        api_key=api_key.api_key,
        version=version,
        request=SessionRequest(1, ["image/jpeg"], client_id, {}, None, SESSION_URL),
    )
    return session


def submit(api, body: dict):
    return api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")


def cancel(api, submission_id: str):
    return api.post(f"/api/v1/submissions/{submission_id}/cancel", {}, format="json")


def event_types(session: WorkflowSession) -> list[str]:
    return list(
        SubmissionEvent.objects.filter(submission_id=session.submission_id)
        .order_by("id")
        .values_list("type", flat=True)
    )


def webhooks(session: WorkflowSession) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(session_id=session.pk)
        .order_by("created_at", "id")
        .values_list("event_type", flat=True)
    )


def test_cancel_of_a_pending_session_ends_it_failed_with_its_code(api, workflows):
    _, body, _ = create(api)
    assert cancel(api, body["submissionId"]).status_code == 200
    job = api.get(f"/api/v1/jobs/{body['sessionId']}").json()
    assert job["state"] == "failed"
    assert job["submissionStatus"] == "cancelled"
    assert job["error"]["code"] == "SUBMISSION_CANCELLED"
    assert "retryAfterMs" not in job
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert event_types(session) == ["created", "cancelled", "session_failed"]


def test_cancel_announces_the_session_failed_once(api_key, receipt_workflow):
    session = open_session(api_key, receipt_workflow)
    submission_cancel(submission_id=session.submission_id, actor=Actor.system(), reason="dup")
    assert webhooks(session) == ["submission.cancelled", "session.failed"]
    failed = WebhookDelivery.objects.get(session_id=session.pk, event_type="session.failed")
    assert failed.payload["state"] == "failed"
    assert failed.payload["submissionStatus"] == "cancelled"
    session.refresh_from_db()
    assert session.failed_reason == "The submission was cancelled: dup"


def test_upload_and_submit_after_cancel_are_refused_with_codes(api, workflows):
    _, body, _ = create(api)
    cancel(api, body["submissionId"])
    upload = put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    assert upload.status_code == 410
    assert upload.json()["code"] == "SESSION_NOT_PENDING"
    refused = submit(api, body)
    assert refused.status_code == 400
    assert refused.json()["code"] == "SUBMISSION_CANCELLED"


def test_cancel_while_submitted_ends_the_session_and_the_pipeline_stops(api, workflows):
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    assert submit(api, body).status_code == 200
    assert cancel(api, body["submissionId"]).status_code == 200
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert session.state == SessionState.FAILED
    assert session.error_code == "SUBMISSION_CANCELLED"
    pipeline.run(session.pk)  # the queued task runs after the cancel
    session.refresh_from_db()
    assert session.state == SessionState.FAILED
    assert session.submission.status == SubmissionStatus.CANCELLED
    assert event_types(session).count("session_failed") == 1


def test_cancel_during_processing_stops_the_pipeline_at_its_next_step(api, workflows, monkeypatch):
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    submit(api, body)

    def cancel_midway(session, file, deadline, on_progress=None):
        found = fake_extract_file(session, file)
        submission_cancel(submission_id=session.submission_id, actor=Actor.system())
        return found

    monkeypatch.setattr(pipeline, "_extract_file", cancel_midway)
    ran_fraud: list[str] = []
    monkeypatch.setattr(pipeline, "fraud_run_checks", lambda **kw: ran_fraud.append("x"))
    pipeline.run(body["sessionId"])
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert ran_fraud == []
    assert session.state == SessionState.FAILED
    assert session.error_code == "SUBMISSION_CANCELLED"
    assert session.progress < pipeline.PROGRESS_EXTRACTED


def test_a_session_left_pending_beside_a_cancelled_submission_is_ended_not_cancelled_twice(
    api, workflows
):
    """Rows from before sessions followed their submissions: the sweep and submit cope."""
    _, body, _ = create(api)
    Submission.objects.filter(pk=body["submissionId"]).update(status=SubmissionStatus.CANCELLED)
    WorkflowSession.objects.filter(pk=body["sessionId"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert sessions_expire_stale() == 0
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert session.state == SessionState.FAILED
    assert session.error_code == "SUBMISSION_CANCELLED"
    assert not session_expire(session_id=session.pk)


def test_submit_of_a_pending_session_whose_submission_was_cancelled_is_a_400(api, workflows):
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    Submission.objects.filter(pk=body["submissionId"]).update(status=SubmissionStatus.CANCELLED)
    response = submit(api, body)
    assert response.status_code == 400
    assert response.json()["code"] == "SUBMISSION_CANCELLED"


def test_pipeline_failure_ends_both_with_one_session_event(api_key, receipt_workflow):
    session = open_session(api_key, receipt_workflow)
    WorkflowSession.objects.filter(pk=session.pk).update(state=SessionState.SUBMITTED)
    submission_start_processing(submission_id=session.submission_id)
    session_fail(session_id=session.pk, code="OCR_FAILED", reason="x", step="ocr", retryable=False)
    session.refresh_from_db()
    assert (session.state, session.error_code) == (SessionState.FAILED, "OCR_FAILED")
    assert session.submission.status == SubmissionStatus.FAILED
    assert event_types(session).count("session_failed") == 1
    assert webhooks(session).count("session.failed") == 1


def test_every_session_state_has_its_submission_statuses():
    for state in SessionState:
        assert SESSION_SUBMISSION_PAIRS[state], state
    assert states_agree(SessionState.PENDING, SubmissionStatus.CREATED)
    assert not states_agree(SessionState.PENDING, SubmissionStatus.CANCELLED)
    assert not SESSION_TRANSITIONS.get(SessionState.COMPLETED)


def test_expiry_sweep_goes_on_after_a_row_that_raises(api_key, receipt_workflow, monkeypatch):
    sessions = [open_session(api_key, receipt_workflow, f"sweep-{i}") for i in range(3)]
    WorkflowSession.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    broken = sessions[0].pk
    real = session_expire

    def expire(*, session_id: str, wait: bool = False) -> bool:
        if session_id == broken:
            raise RuntimeError("a row that raises")
        return real(session_id=session_id, wait=wait)

    monkeypatch.setattr("jobs.services.session_expire", expire)
    assert sessions_expire_stale() == 2
    states = dict(WorkflowSession.objects.values_list("pk", "state"))
    assert states.pop(broken) == SessionState.PENDING
    assert set(states.values()) == {SessionState.EXPIRED}


def test_a_reviewer_cancelling_in_the_ui_ends_the_pending_session(ui, api, workflows):
    _, body, _ = create(api)
    submission = Submission.objects.get(pk=body["submissionId"])
    response = ui.post(
        reverse("review:cancel", args=[submission.pk]),
        {"version": submission.version, "reason": "dup"},
    )
    assert response.status_code == 303
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert (session.state, session.error_code) == (SessionState.FAILED, "SUBMISSION_CANCELLED")


def lapse(session_id: str) -> None:
    """Past its TTL, and the expiry sweep (beat) has not run."""
    WorkflowSession.objects.filter(pk=session_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_cancel_after_the_ttl_expires_the_session_as_the_sweep_would(api, workflows):
    _, body, _ = create(api, webhookUrl=SESSION_URL)
    lapse(body["sessionId"])
    response = cancel(api, body["submissionId"])
    # What a cancel of a session the sweep had expired answers: its submission is
    # cancelled already.
    assert response.status_code == 409
    assert response.json()["code"] == "SUBMISSION_IS_CANCELLED"
    assert response.json()["currentStatus"] == "cancelled"
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert (session.state, session.error_code) == (SessionState.EXPIRED, "")
    assert event_types(session) == ["created", "session_expired", "cancelled"]
    assert webhooks(session) == ["session.expired", "submission.cancelled"]


def test_cancel_after_the_sweep_expired_the_session_answers_the_same(api, workflows):
    _, body, _ = create(api, webhookUrl=SESSION_URL)
    lapse(body["sessionId"])
    sessions_expire_stale()
    response = cancel(api, body["submissionId"])
    assert response.status_code == 409
    assert response.json()["code"] == "SUBMISSION_IS_CANCELLED"
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert event_types(session) == ["created", "session_expired", "cancelled"]
    assert webhooks(session) == ["session.expired", "submission.cancelled"]


def test_a_reviewer_cancelling_a_session_past_its_ttl_expires_it(ui, api, workflows):
    _, body, _ = create(api)
    lapse(body["sessionId"])
    submission = Submission.objects.get(pk=body["submissionId"])
    ui.post(reverse("review:cancel", args=[submission.pk]), {"version": submission.version})
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert session.state == SessionState.EXPIRED
    assert event_types(session) == ["created", "session_expired", "cancelled"]
