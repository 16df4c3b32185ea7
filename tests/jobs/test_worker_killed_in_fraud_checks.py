"""A real Celery worker killed (SIGKILL) while its session's fraud checks run: the checks'
transaction dies with it, the stuck sweep re-queues the job, and the twin it duplicates is
matched once, the session decided once, each change announced once."""

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, transaction

from fraud.models import FraudMatch
from jobs import pipeline
from jobs.models import SessionState
from jobs.services import sessions_recover_stuck
from submissions.models import SubmissionEvent
from tests.jobs.test_beat import beat_age
from tests.jobs.test_sessions_api import create, put
from tests.jobs.test_worker_killed import session_of, wait_for
from tests.worker import celery_worker
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def submit(api, receipt: bytes, client_id: str) -> str:
    _, body, _ = create(api, clientSubmissionId=client_id)
    assert put(api, body["uploadUrls"][0]["uploadUrl"], receipt).status_code == 200
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200, submitted.content
    return body["sessionId"]


@contextmanager
def fraud_checks_held(company_id: str) -> Iterator[threading.Event]:
    """Hold the company's fraud-check lock (fraud.services._lock_company) from another
    connection until the event yielded is set: a worker's checks wait in their transaction."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                key = zlib.crc32(f"fraud:{company_id}".encode())
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
                held.set()
                release.wait(120)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        yield release
    finally:
        release.set()
        thread.join()


def waiting_for_the_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_in_its_fraud_checks_is_recovered_matching_its_twin_once(
    api, workflows, company, settings, sroie_dir, _isolated_storage
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    endpoint_create(company=company, url="https://93.184.215.10/hook")
    receipt = (sroie_dir / "img" / "000.jpg").read_bytes()
    with celery_worker(_isolated_storage, name="first"):
        twin = submit(api, receipt, "twin-1")
        wait_for(lambda: session_of(twin).is_terminal, 120, "the first copy")
    assert session_of(twin).state == SessionState.COMPLETED

    with fraud_checks_held(company.pk) as release:
        with celery_worker(_isolated_storage, name="doomed") as doomed:
            session_id = submit(api, receipt, "twin-2")
            wait_for(waiting_for_the_lock, 120, "the fraud checks to start")
            assert session_of(session_id).progress == pipeline.PROGRESS_EXTRACTED
            doomed.kill()  # SIGKILL inside the checks' transaction
            doomed.wait(timeout=10)
        release.set()

    stalled = session_of(session_id)
    assert stalled.state == SessionState.SUBMITTED
    assert not FraudMatch.objects.exists()  # the dead worker's checks wrote nothing
    # The integrator polling meanwhile sees a job still running, not an error.
    polled = api.get(f"/api/v1/jobs/{session_id}").json()
    assert polled["state"] in {"submitted", "processing"}, polled
    beat_age(stalled, 91)

    with celery_worker(_isolated_storage, name="rescuer"):
        assert sessions_recover_stuck() == {"requeued": 1, "failed": 0, "errors": 0}
        wait_for(lambda: session_of(session_id).is_terminal, 120, "the re-queued job")

    recovered = session_of(session_id)
    assert recovered.state == SessionState.COMPLETED, recovered.failed_reason
    assert recovered.requeue_count == 1
    pipeline.run(session_id)  # the dead worker's message, back after the visibility timeout
    pair = {recovered.submission_id, session_of(twin).submission_id}
    matches = list(
        FraudMatch.objects.values_list("submission_id", "target_submission_id", "check_type")
    )
    assert matches and all({a, b} == pair for a, b, _ in matches), matches
    checks = [check for _, _, check in matches]
    assert len(checks) == len(set(checks)), checks  # each check matched the pair once
    submission = recovered.submission
    submission.refresh_from_db()
    assert (submission.status, submission.fraud_status) == (
        "review",
        "blocked",
    )  # the same bytes twice
    events = SubmissionEvent.objects.filter(submission_id=recovered.submission_id)
    assert events.filter(type="session_completed").count() == 1
    assert events.filter(to_status="review").count() == 1
    # One webhook per event, whatever ran twice.
    per_event = WebhookDelivery.objects.values_list("event_id", flat=True)
    assert len(per_event) == len(set(per_event)) > 0
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete("unacked", "unacked_index")
