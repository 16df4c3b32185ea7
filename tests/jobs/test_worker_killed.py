"""A real Celery worker killed (SIGKILL) mid-job: its session's heartbeat goes stale, the
stuck sweep re-queues it, another worker finishes it, and it is decided exactly once."""

import time
from collections.abc import Callable

import pytest
import redis
from django.conf import settings as django_settings

from jobs import pipeline
from jobs.models import SessionState, WorkflowSession
from jobs.services import sessions_recover_stuck
from submissions.models import SubmissionEvent
from tests.jobs.test_beat import beat_age
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
