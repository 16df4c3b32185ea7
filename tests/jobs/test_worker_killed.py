"""A real Celery worker killed (SIGKILL) mid-job: its session's heartbeat goes stale, the
stuck sweep re-queues it, another worker finishes it, and it is decided exactly once."""

import io
import time
from collections.abc import Callable

import pypdfium2 as pdfium
import pytest
import redis
from django.conf import settings as django_settings

from jobs import pipeline
from jobs.models import SessionState, WorkflowSession
from jobs.services import sessions_recover_stuck
from submissions.models import SubmissionEvent
from tests.jobs.fixtures_docs import receipt_pdf_whose_font_lies
from tests.jobs.test_beat import beat_age
from tests.jobs.test_extraction_shown import ADDS_UP, PAID_ROWS
from tests.jobs.test_sessions_api import create, put
from tests.worker import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def session_of(session_id: str) -> WorkflowSession:
    return WorkflowSession.objects.get(pk=session_id)


def test_a_worker_killed_mid_job_is_recovered_and_its_session_decided_once(
    api, workflows, settings, sroie_dir, _isolated_storage
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    receipt = (sroie_dir / "img" / "000.jpg").read_bytes()
    with celery_worker(_isolated_storage, name="doomed") as doomed:
        _, body, _ = create(api, clientSubmissionId="killed-1")
        session_id = body["sessionId"]
        assert put(api, body["uploadUrls"][0]["uploadUrl"], receipt).status_code == 200
        submit = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit")
        assert submit.status_code == 200, submit.content
        wait_for(lambda: session_of(session_id).heartbeat_at is not None, 60, "the job to start")
        doomed.kill()  # SIGKILL mid-job: no acknowledgement, no outcome
        doomed.wait(timeout=10)

    stalled = session_of(session_id)
    assert stalled.state == SessionState.SUBMITTED
    assert sessions_recover_stuck() == {
        "requeued": 0,
        "failed": 0,
        "errors": 0,
    }  # heartbeat still fresh
    beat_age(stalled, 91)  # 91 s pass without a heartbeat (not 15 minutes)

    with celery_worker(_isolated_storage, name="rescuer"):
        assert sessions_recover_stuck() == {"requeued": 1, "failed": 0, "errors": 0}
        wait_for(lambda: session_of(session_id).is_terminal, 120, "the re-queued job")

    recovered = session_of(session_id)
    assert recovered.state == SessionState.COMPLETED, recovered.failed_reason
    assert recovered.requeue_count == 1
    # The dead worker's message comes back after the visibility timeout: it changes nothing.
    pipeline.run(session_id)
    events = SubmissionEvent.objects.filter(submission_id=recovered.submission_id)
    assert events.filter(type="session_completed").count() == 1
    assert events.filter(to_status__in=["review", "approved"]).count() == 1
    # Forget the killed worker's unacknowledged message: its database is gone after this test.
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete("unacked", "unacked_index")


def pages_of(data: bytes, count: int) -> bytes:
    """The one-page PDF ``data`` ``count`` times over, as one document."""
    whole = pdfium.PdfDocument.new()
    for _ in range(count):
        whole.import_pages(pdfium.PdfDocument(data))
    out = io.BytesIO()
    whole.save(out)
    return out.getvalue()


def submit_pdf(api, data: bytes, client_id: str) -> str:
    _, body, _ = create(api, contentTypes=["application/pdf"], clientSubmissionId=client_id)
    path = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    assert api.generic("PUT", path, data, content_type="application/pdf").status_code == 200
    submit = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submit.status_code == 200, submit.content
    return body["sessionId"]


def read_back(session_id: str) -> tuple[object, ...]:
    """What the session's file was read as (not its fraud checks: a second upload of the
    same file is a duplicate of the first)."""
    submission = session_of(session_id).submission
    return submission.extracted_data, submission.field_confidences, submission.evidence


def test_a_worker_killed_reading_a_text_layer_pdf_is_recovered_with_the_fields_of_a_whole_run(
    api, workflows, settings, _isolated_storage
):
    # A text-layer PDF goes through the check of its text against its rendered page
    # (jobs.extraction.shown), which reads boxes with the OCR engine the worker loads.
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    data = pages_of(receipt_pdf_whose_font_lies(ADDS_UP, rows=PAID_ROWS), 6)
    with celery_worker(_isolated_storage, name="doomed") as doomed:
        session_id = submit_pdf(api, data, "killed-pdf")
        wait_for(lambda: session_of(session_id).heartbeat_at is not None, 60, "the job to start")
        doomed.kill()  # SIGKILL mid-job: no acknowledgement, no outcome
        doomed.wait(timeout=10)
    stalled = session_of(session_id)
    assert stalled.state == SessionState.SUBMITTED
    beat_age(stalled, 91)

    with celery_worker(_isolated_storage, name="rescuer"):
        assert sessions_recover_stuck() == {"requeued": 1, "failed": 0, "errors": 0}
        wait_for(lambda: session_of(session_id).is_terminal, 120, "the re-queued job")
        whole_run = submit_pdf(api, data, "whole-pdf")
        wait_for(lambda: session_of(whole_run).is_terminal, 120, "the uninterrupted job")

    recovered = session_of(session_id)
    assert recovered.state == SessionState.COMPLETED, recovered.failed_reason
    assert recovered.requeue_count == 1
    assert read_back(session_id) == read_back(whole_run)
    # The check ran: the total's box says what the page shows, not the text layer's lie.
    assert recovered.submission.evidence["totalAmount"][0]["shown"] == "17.90"
    assert "text layer does not say what its page shows" in recovered.submission.ai_summary
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete("unacked", "unacked_index")
