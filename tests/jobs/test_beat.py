"""Beat work of the jobs app: stuck-session recovery by heartbeat; request limits."""

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from fraud import services as fraud_services
from jobs import pipeline
from jobs.extraction.errors import ExtractionError, ReadingKilled
from jobs.models import SessionHeartbeat, SessionState, WorkflowSession
from jobs.services import session_heartbeat, session_start_run, sessions_recover_stuck
from tests.jobs.fakes import fake_extract_file
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

pytestmark = pytest.mark.django_db


def submitted_session(api) -> WorkflowSession:
    """Submitted, its processing message sent at commit as in production: a test's
    transaction never commits, and a message left in the outbox holds the sweep off."""
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    with TestCase.captureOnCommitCallbacks(execute=True):
        api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    return WorkflowSession.objects.get(pk=body["sessionId"])


def age(session: WorkflowSession, minutes: int) -> None:
    WorkflowSession.objects.filter(pk=session.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_session_no_worker_took_is_queued_again_and_never_given_up(
    api, workflows, settings, django_capture_on_commit_callbacks
):
    # Its message was lost, or it waits behind a backlog or a processing worker that is
    # down: no worker died on it, so it is not PROCESSING_TIMEOUT (a helper's probe).
    settings.STUCK_SESSION_MINUTES = 15
    settings.STUCK_SESSION_MAX_REQUEUES = 1
    session = submitted_session(api)
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 0, "errors": 0}  # still fresh
    for _ in range(3):
        age(session, 20)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert sessions_recover_stuck() == {"requeued": 1, "failed": 0, "errors": 0}
        assert len(callbacks) == 1
    session.refresh_from_db()
    assert session.state == SessionState.SUBMITTED and session.requeue_count == 0
    event = session.submission.events.filter(type="processing_requeued").last()
    assert event.details["why"] == "not_started"


def test_a_session_waiting_behind_a_backlog_is_queued_again_less_often_the_longer_it_waits(
    api, workflows, settings, django_capture_on_commit_callbacks
):
    """Every STUCK_SESSION_MINUTES, however long it had waited: a 4-hour backlog put ~16
    copies of each session's message on the processing queue, all but one no-ops, each
    queued behind that backlog too. The wait between copies grows with the session's wait
    (as a webhook delivery's queue lease), and a lost message is queued again within an
    hour at most."""
    settings.STUCK_SESSION_MINUTES = 15
    session = submitted_session(api)
    now = timezone.now()

    def waited(submitted: int, queued: int) -> int:
        """Minutes ago it was submitted and its latest copy queued: the sweep's re-queues."""
        WorkflowSession.objects.filter(pk=session.pk).update(
            submitted_at=now - timedelta(minutes=submitted),
            updated_at=now - timedelta(minutes=queued),
        )
        with django_capture_on_commit_callbacks(execute=True):  # its copy is sent
            return sessions_recover_stuck()["requeued"]

    assert waited(submitted=16, queued=16) == 1  # its first copy: after 15 minutes
    assert waited(submitted=120, queued=20) == 0  # queued after 100 minutes of waiting
    assert waited(submitted=120, queued=59) == 0
    assert waited(submitted=120, queued=61) == 1  # within the hour, however long the wait
    assert waited(submitted=50, queued=26) == 1  # queued after 24 minutes: 24 is enough
    assert waited(submitted=50, queued=24) == 0


def test_a_session_whose_worker_died_each_time_is_failed_once_its_requeues_are_spent(
    api, workflows, settings, django_capture_on_commit_callbacks
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    settings.STUCK_SESSION_MAX_REQUEUES = 1
    session = submitted_session(api)
    assert session_start_run(session_id=session.pk)  # a worker took it, then died
    beat_age(session, 100)
    with django_capture_on_commit_callbacks(execute=True):
        assert sessions_recover_stuck() == {"requeued": 1, "failed": 0, "errors": 0}
    assert session_start_run(session_id=session.pk)  # the next worker died too
    beat_age(session, 100)
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 1, "errors": 0}
    session.refresh_from_db()
    assert session.state == SessionState.FAILED
    assert session.error_code == "PROCESSING_TIMEOUT"
    assert session.submission.status == "failed"
    job = api.get(f"/api/v1/jobs/{session.pk}").json()
    assert job["error"]["code"] == "PROCESSING_TIMEOUT"
    assert job["error"]["details"] == {"step": "pipeline", "retryable": True}


def test_a_job_whose_worker_was_frozen_past_its_lease_is_requeued_as_a_lease_run_out(
    api, workflows, settings, django_capture_on_commit_callbacks
):
    """A worker stopped (SIGSTOP) past STUCK_SESSION_HEARTBEAT_SECONDS, its job taken by
    another worker, then resumed: it never died, yet the submission's event said
    "why": "worker_died". What the sweep knows is that the heartbeat's lease ran out."""
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    assert session_start_run(session_id=session.pk)  # a worker took it, then froze
    beat_age(session, 100)
    with django_capture_on_commit_callbacks(execute=False):
        assert sessions_recover_stuck()["requeued"] == 1
    assert session_start_run(session_id=session.pk)  # another worker took it over
    event = session.submission.events.filter(type="processing_requeued").get()
    assert event.details == {"sessionId": session.pk, "requeue": 1, "why": "lease_expired"}


def test_a_frozen_run_whose_job_another_run_took_stops_at_its_next_step_changing_nothing(
    api, workflows, settings, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """Frozen (SIGSTOP) past its lease, its job re-queued by the sweep and taken by another
    worker, the run resumed: its heartbeat found the session still running and let it go
    on, two runs side by side. Its next step finds the job held by the other run, and it
    stops there: no progress, beat, event or outcome of its own."""
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    seen: dict = {}

    def frozen_meanwhile(session, file, deadline, on_progress=None):
        found = fake_extract_file(session, file)
        beat_age(session, 100)  # frozen past its lease: the sweep re-queues the job
        with django_capture_on_commit_callbacks(execute=False):
            assert sessions_recover_stuck()["requeued"] == 1
        assert session_start_run(session_id=session.pk)  # another worker takes it
        pipeline._step(session.pk, 20)
        seen["before"] = snapshot(session)
        return found  # and the frozen one resumes

    ran_fraud: list[str] = []
    monkeypatch.setattr(pipeline, "_extract_file", frozen_meanwhile)
    monkeypatch.setattr(pipeline, "fraud_run_checks", lambda **kw: ran_fraud.append("x"))
    with caplog.at_level("INFO", logger="jobs.pipeline"):
        pipeline.run(session.pk)
    assert ran_fraud == []
    assert snapshot(session) == seen["before"]
    assert "lost its job to another run" in caplog.text


@pytest.mark.parametrize("failure", ["extraction_error", "reading_killed", "crash"])
def test_a_frozen_run_that_lost_its_job_and_then_fails_leaves_the_other_runs_job_alone(
    api, workflows, settings, monkeypatch, caplog, django_capture_on_commit_callbacks, failure
):
    """The same frozen run, but its file then fails (or its reading child is killed, or it
    crashes) before its next step: it failed (or interrupted) the job the other run held,
    whose own run then stopped on a failed session."""
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    seen: dict = {}

    def frozen_then_failing(session, file, deadline, on_progress=None):
        beat_age(session, 100)
        with django_capture_on_commit_callbacks(execute=False):
            assert sessions_recover_stuck()["requeued"] == 1
        assert session_start_run(session_id=session.pk)  # another worker takes it
        seen["before"] = snapshot(session)
        if failure == "extraction_error":
            raise ExtractionError("UNSUPPORTED_FILE", "Not an image.", retryable=False)
        if failure == "reading_killed":
            raise ReadingKilled("SIGKILL")
        raise RuntimeError("a bug")

    monkeypatch.setattr(pipeline, "_extract_file", frozen_then_failing)
    with caplog.at_level("INFO", logger="jobs.pipeline"):
        pipeline.run(session.pk)
    assert snapshot(session) == seen["before"]
    assert WorkflowSession.objects.get(pk=session.pk).interrupted_by in ("", None)
    assert "lost its job to another run" in caplog.text


def snapshot(session: WorkflowSession) -> tuple:
    """What a run may change: the session, its beat and its submission's events."""
    row = WorkflowSession.objects.values(
        "state", "progress", "heartbeat_at", "updated_at", "error_code"
    ).get(pk=session.pk)
    beat = SessionHeartbeat.objects.filter(session_id=session.pk).values_list("beat_at")
    events = list(session.submission.events.values_list("type", flat=True))
    return row, list(beat), events


def test_the_heartbeat_of_a_run_that_lost_its_job_is_refused_and_writes_nothing(
    api, workflows, settings
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    first = timezone.now() - timedelta(seconds=100)
    assert session_start_run(session_id=session.pk, at=first)
    assert session_heartbeat(session_id=session.pk, claimed_at=first)
    beat_age(session, 100)
    assert sessions_recover_stuck()["requeued"] == 1
    assert session_start_run(session_id=session.pk)  # another run holds it now
    before = snapshot(session)
    assert not session_heartbeat(session_id=session.pk, claimed_at=first)
    assert snapshot(session) == before


def beat_age(session: WorkflowSession, seconds: int) -> None:
    """`seconds` pass without a heartbeat: the claim's and steps', and the beats'."""
    then = timezone.now() - timedelta(seconds=seconds)
    WorkflowSession.objects.filter(pk=session.pk).update(heartbeat_at=then)
    SessionHeartbeat.objects.filter(session_id=session.pk).update(beat_at=then)


def test_a_running_session_whose_heartbeat_stopped_is_requeued_after_90_seconds(
    api, workflows, settings, django_capture_on_commit_callbacks
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    assert session_start_run(session_id=session.pk)  # a worker took it
    beat_age(session, 60)
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 0, "errors": 0}  # alive
    beat_age(session, 100)  # the worker died mid-job; 15 minutes have not passed
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sessions_recover_stuck() == {"requeued": 1, "failed": 0, "errors": 0}
    assert len(callbacks) == 1
    session.refresh_from_db()
    assert session.heartbeat_at is None and session.requeue_count == 1
    assert sessions_recover_stuck() == {
        "requeued": 0,
        "failed": 0,
        "errors": 0,
    }  # queued, not stuck


def test_a_session_waiting_on_a_busy_queue_is_not_requeued(api, workflows, settings):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    age(session, 10)  # no worker took it yet: only a lost message (15 min) is stuck
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 0, "errors": 0}


def test_a_second_run_is_refused_while_the_first_worker_is_alive(api, workflows, settings):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    assert session_start_run(session_id=session.pk)
    assert not session_start_run(session_id=session.pk)  # a duplicate message
    session_heartbeat(session_id=session.pk)
    assert not session_start_run(session_id=session.pk)
    beat_age(session, 100)
    assert session_start_run(session_id=session.pk)  # the first worker is dead: take over


def test_a_step_below_the_progress_found_still_renews_the_heartbeat(api, workflows, settings):
    """A run taken over after a worker died repeats steps below the progress it found;
    they must keep it alive too."""
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    assert session_start_run(session_id=session.pk)
    pipeline._step(session.pk, 75)
    beat_age(session, 100)
    pipeline._step(session.pk, 50)
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 0, "errors": 0}


def test_a_worker_in_a_long_transaction_keeps_its_heartbeat(settings, monkeypatch):
    """The fraud step runs in one transaction that may wait minutes for the company's
    lock; its own writes are seen only at commit, so a thread of its own (with its own
    connection, autocommit) renews the heartbeat meanwhile."""
    settings.SESSION_HEARTBEAT_EVERY_SECONDS = 0.05
    beats: list[tuple[str, str]] = []

    def heartbeat(*, session_id: str, claimed_at: datetime | None = None) -> bool:
        beats.append((session_id, threading.current_thread().name))
        return True

    monkeypatch.setattr(pipeline, "session_heartbeat", heartbeat)
    with pipeline._heartbeat_meanwhile("ses_waiting"):
        time.sleep(0.5)
    assert len(beats) >= 3
    assert set(beats) == {("ses_waiting", "heartbeat-ses_waiting")}
    count = len(beats)
    time.sleep(0.2)
    assert len(beats) == count  # stopped with the step


IDLE_SWEEP = {"requeued": 0, "failed": 0, "errors": 0}


def test_beats_keep_a_run_alive_and_a_worker_that_stopped_beating_is_still_requeued(
    api, workflows, settings
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session = submitted_session(api)
    assert session_start_run(session_id=session.pk)
    beat_age(session, 100)
    assert session_heartbeat(session_id=session.pk)  # a beat during a long step
    assert sessions_recover_stuck() == IDLE_SWEEP
    assert not session_start_run(session_id=session.pk)
    beat_age(session, 91)  # then the worker died: its beats stopped too
    assert sessions_recover_stuck()["requeued"] == 1


def long_fraud_check(session: WorkflowSession, monkeypatch, meanwhile) -> dict:
    """The pipeline's fraud step, its checks holding the session's row lock (taken with
    the submission's) for 2.5 s, past a 1 s heartbeat threshold, while `meanwhile` runs on
    another connection 1.5 s in; then the beat's sweep, before the pipeline's next step."""
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 1
    settings.SESSION_HEARTBEAT_EVERY_SECONDS = 0.1
    assert session_start_run(session_id=session.pk)
    checks = fraud_services._duplicate_findings

    def slow_checks(*args, **kwargs):
        time.sleep(2.5)
        return checks(*args, **kwargs)

    monkeypatch.setattr(fraud_services, "_duplicate_findings", slow_checks)
    seen: dict = {}

    def other_connection() -> None:
        try:
            time.sleep(1.5)
            seen["sweep while held"] = sessions_recover_stuck()
            meanwhile(seen)
        finally:
            connection.close()

    other = threading.Thread(target=other_connection)
    other.start()
    with pipeline._heartbeat_meanwhile(session.pk):
        fraud_services.fraud_run_checks(
            submission_id=session.submission_id, fields={}, text="", hashed=[]
        )
        other.join()
        seen["sweep after"] = sessions_recover_stuck()
    session.refresh_from_db()
    assert session.state == SessionState.SUBMITTED
    assert not session.submission.events.filter(type="processing_requeued").exists()
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_long_fraud_check_holding_its_session_lock_is_not_taken_for_a_dead_worker(
    api, workflows, monkeypatch
):
    session = submitted_session(api)
    seen = long_fraud_check(session, monkeypatch, lambda seen: None)
    assert seen == {"sweep while held": IDLE_SWEEP, "sweep after": IDLE_SWEEP}
    assert session.requeue_count == 0


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_message_does_not_run_a_job_whose_fraud_check_holds_the_lock(
    api, workflows, monkeypatch
):
    session = submitted_session(api)

    def duplicate_message(seen: dict) -> None:
        # Waits for the session's row lock, then finds its worker alive.
        seen["second run claimed"] = session_start_run(session_id=session.pk)

    seen = long_fraud_check(session, monkeypatch, duplicate_message)
    assert seen["second run claimed"] is False


def test_body_larger_than_the_limit_is_413(api, workflows, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "x" * 2000},
        format="json",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "BODY_TOO_LARGE"


def test_the_heartbeat_of_a_cancelled_session_stops_its_extraction(api, workflows):
    session = submitted_session(api)
    assert session_heartbeat(session_id=session.pk)
    pipeline._beat(session.pk)  # running: reading goes on
    api.post(f"/api/v1/submissions/{session.submission_id}/cancel", {}, format="json")
    assert not session_heartbeat(session_id=session.pk)
    with pytest.raises(pipeline.Stopped):
        pipeline._beat(session.pk)


SWEEPS = [
    "steve.tasks.relay_outbox",
    "jobs.tasks.recover_stuck_sessions",
    "jobs.tasks.expire_sessions",
    "jobs.tasks.purge_expired_data",
    "webhooks.tasks.dispatch_due_webhooks",
    "webhooks.tasks.purge_old_webhook_deliveries",
    "steve.tasks.purge_idempotency_keys",
    "steve.tasks.sweep_partial_writes",
    "fraud.tasks.withdraw_missed_fraud_matches",
]


def test_the_sweeps_wait_behind_neither_ocr_work_nor_webhook_sends():
    from steve.celery import app

    def queue(task: str) -> str:
        return app.amqp.router.route({}, task)["queue"].name

    assert {queue(task) for task in SWEEPS} == {"maintenance"}
    assert queue("jobs.tasks.process_session") == "processing"
    assert queue("webhooks.tasks.deliver_webhook") == "deliveries"
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(SWEEPS)


@pytest.mark.django_db(transaction=True)
def test_a_worker_of_another_queue_runs_the_sweeps_too(api, workflows, _isolated_storage):
    from jobs.tasks import expire_sessions
    from tests.worker import celery_worker

    _, body, _ = create(api)
    WorkflowSession.objects.filter(pk=body["sessionId"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    with celery_worker(_isolated_storage, queues="processing"):  # no "maintenance" in -Q
        expire_sessions.delay()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if WorkflowSession.objects.get(pk=body["sessionId"]).state == SessionState.EXPIRED:
                break
            time.sleep(0.2)
    assert WorkflowSession.objects.get(pk=body["sessionId"]).state == SessionState.EXPIRED
