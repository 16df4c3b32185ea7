"""A database blip (PostgreSQL restarting, a dropped connection) while a job runs: the
job is retried at once, without spending the re-queues meant for workers killed mid-job."""

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection

from jobs import pipeline
from jobs.models import SessionState, WorkflowSession
from jobs.services import sessions_recover_stuck
from submissions.models import SubmissionEvent
from tests.jobs.fakes import fake_extract_file
from tests.jobs.test_beat import beat_age
from tests.jobs.test_sessions_api import create, jpeg_bytes, put
from webhooks import delivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _reconnect_after():
    yield
    connection.close()  # a test that dropped the connection leaves none broken behind


def drop_our_connection() -> None:
    """What a PostgreSQL restart does to this process's connection."""
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    conninfo = f"host={db['HOST'] or 'localhost'} port={db['PORT'] or 5432} "
    conninfo += f"user={db['USER'] or 'postgres'} dbname={db['NAME']}"
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


class QuietMidTransaction:
    """This thread's connection falls quiet inside a transaction for longer than
    PostgreSQL's idle_in_transaction_session_timeout (made tiny on it): PostgreSQL ends
    the session, and the transaction's next statement, or its commit, is refused
    (SQLSTATE 25P03). Once per arm(), after the first statement of the next transaction."""

    def __init__(self) -> None:
        self.armed = 0
        self.after: list[str] = []  # the statement after which each session was ended

    def arm(self, times: int = 1) -> None:
        self.armed += times

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql, params, many, context)
        if self.armed and connection.in_atomic_block:
            self.armed -= 1
            self.after.append(sql)
            with connection.connection.cursor() as cursor:  # psycopg's own: not wrapped
                cursor.execute("SET idle_in_transaction_session_timeout = 50")
            time.sleep(0.3)
        return result


@contextlib.contextmanager
def quiet_mid_transaction(times: int = 1) -> Iterator[QuietMidTransaction]:
    """The next `times` transactions of this thread are ended by PostgreSQL midway."""
    quiet = QuietMidTransaction()
    quiet.arm(times)
    with connection.execute_wrapper(quiet):
        yield quiet


def blip_after_each_answer(monkeypatch) -> None:
    """A receiver's answer arrives, then PostgreSQL restarts before it is recorded; the
    deliveries' retries on a new connection come at once."""
    post = delivery.post_signed

    def post_then_blip(**kwargs):
        outcome = post(**kwargs)
        drop_our_connection()
        return outcome

    monkeypatch.setattr(delivery, "post_signed", post_then_blip)
    monkeypatch.setattr(delivery, "DATABASE_RETRY_DELAYS", (0, 0, 0))


def submitted(api) -> str:
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    return body["sessionId"]


def blipping(times: int):
    """_extract_file that reads the file, then loses the database `times` times."""
    calls: list[int] = []

    def extract(session, file, deadline, on_progress=None):
        calls.append(1)
        found = fake_extract_file(session, file)
        if len(calls) <= times:
            drop_our_connection()
        return found

    return extract, calls


def test_a_database_blip_mid_job_is_retried_without_spending_a_requeue(api, workflows, monkeypatch):
    session_id = submitted(api)
    extract, calls = blipping(1)
    monkeypatch.setattr(pipeline, "_extract_file", extract)
    monkeypatch.setattr(pipeline, "DATABASE_RETRY_DELAYS", (0, 0, 0))
    pipeline.run(session_id)
    session = WorkflowSession.objects.get(pk=session_id)
    assert session.state == SessionState.COMPLETED, session.failed_reason
    assert (session.requeue_count, len(calls)) == (0, 2)
    events = SubmissionEvent.objects.filter(submission_id=session.submission_id)
    assert not events.filter(type="processing_requeued").exists()
    assert events.filter(type="session_completed").count() == 1


def test_a_claim_whose_answer_a_blip_lost_is_still_this_runs(api, workflows, monkeypatch):
    """The claim committed and the connection dropped before its answer came back: the
    new try found the session claimed (by itself) and gave the job up, which then waited
    ~90 s for the stuck sweep and spent a re-queue, as if its worker had died."""
    session_id = submitted(api)
    start_run = pipeline.session_start_run
    lost: list[bool] = []

    def claim_then_blip(*, session_id: str, **kwargs) -> bool:
        claimed = start_run(session_id=session_id, **kwargs)
        if not lost:
            lost.append(claimed)
            drop_our_connection()
            raise OperationalError("server closed the connection unexpectedly")
        return claimed

    monkeypatch.setattr(pipeline, "session_start_run", claim_then_blip)
    monkeypatch.setattr(pipeline, "_extract_file", blipping(0)[0])
    monkeypatch.setattr(pipeline, "DATABASE_RETRY_DELAYS", (0, 0, 0))
    pipeline.run(session_id)
    session = WorkflowSession.objects.get(pk=session_id)
    assert lost == [True]
    assert session.state == SessionState.COMPLETED, session.failed_reason
    assert session.requeue_count == 0


def test_a_database_that_stays_away_is_given_up_after_the_retries(api, workflows, monkeypatch):
    """No loop: after the retries the error goes on, and the stuck sweep's budget (one
    re-queue per death) bounds the job as for a worker killed mid-job."""
    session_id = submitted(api)
    extract, calls = blipping(99)
    monkeypatch.setattr(pipeline, "_extract_file", extract)
    monkeypatch.setattr(pipeline, "DATABASE_RETRY_DELAYS", (0, 0, 0))
    with pytest.raises(OperationalError):
        pipeline.run(session_id)
    assert len(calls) == 4
    connection.close()
    session = WorkflowSession.objects.get(pk=session_id)
    assert session.state == SessionState.SUBMITTED
    beat_age(session, 91)
    assert sessions_recover_stuck()["requeued"] == 1
    assert WorkflowSession.objects.get(pk=session_id).requeue_count == 1


def test_a_blip_too_late_for_a_new_try_to_end_in_time_is_left_to_the_sweep(
    api, workflows, monkeypatch
):
    """A new try starts over: after a long read it ran into the task's soft time limit,
    which failed the job PROCESSING_ERROR. Left to the sweep, it is re-queued with a
    whole limit (one re-queue)."""
    session_id = submitted(api)
    extract, calls = blipping(1)

    def slow_read(session, file, deadline, on_progress=None):
        time.sleep(0.6)
        return extract(session, file, deadline, on_progress)

    monkeypatch.setattr(pipeline, "_extract_file", slow_read)
    monkeypatch.setattr(pipeline, "DATABASE_RETRY_DELAYS", (0, 0, 0))
    monkeypatch.setattr(pipeline, "TIME_LIMIT_SECONDS", 1.0, raising=False)
    with pytest.raises(OperationalError):
        pipeline.run(session_id)
    assert len(calls) == 1
    connection.close()
    session = WorkflowSession.objects.get(pk=session_id)
    assert session.state == SessionState.SUBMITTED
    beat_age(session, 91)
    assert sessions_recover_stuck()["requeued"] == 1


def test_the_heartbeat_thread_beats_on_after_a_database_blip(api, workflows, settings, monkeypatch):
    settings.SESSION_HEARTBEAT_EVERY_SECONDS = 0.01
    beats: list[str] = []

    def heartbeat(*, session_id: str, claimed_at: datetime | None = None) -> bool:
        beats.append(session_id)
        if len(beats) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return True

    monkeypatch.setattr(pipeline, "session_heartbeat", heartbeat)
    with pipeline._heartbeat_meanwhile("ses_x"):
        deadline = time.monotonic() + 5
        while len(beats) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(beats) >= 3


def test_a_job_whose_transaction_postgresql_ended_is_retried_as_a_blip(api, workflows, monkeypatch):
    """A transaction left idle past DATABASE_IDLE_IN_TRANSACTION_SECONDS is ended by
    PostgreSQL with SQLSTATE 25P03, an InternalError, not an OperationalError: the job
    failed PROCESSING_ERROR instead of being tried again like any other blip."""
    session_id = submitted(api)
    read = blipping(0)[0]
    calls: list[int] = []

    def read_then_fall_quiet(session, file, deadline, on_progress=None):
        calls.append(1)
        if len(calls) == 1:
            quiet.arm()  # the next transaction (a heartbeat's) is ended midway
        return read(session, file, deadline, on_progress)

    monkeypatch.setattr(pipeline, "_extract_file", read_then_fall_quiet)
    monkeypatch.setattr(pipeline, "DATABASE_RETRY_DELAYS", (0, 0, 0))
    with quiet_mid_transaction(times=0) as quiet:
        pipeline.run(session_id)
    assert len(quiet.after) == 1
    session = WorkflowSession.objects.get(pk=session_id)
    assert session.state == SessionState.COMPLETED, session.failed_reason
    assert (session.requeue_count, len(calls)) == (0, 2)
    events = SubmissionEvent.objects.filter(submission_id=session.submission_id)
    assert events.filter(type="session_completed").count() == 1


def test_the_heartbeat_thread_beats_on_after_postgresql_ended_its_transaction(
    api, workflows, settings, monkeypatch
):
    # A 25P03 ended the thread: the live worker stopped beating while its fraud checks
    # ran, and the stuck sweep took it for dead and ran its session a second time.
    session_id = submitted(api)
    settings.SESSION_HEARTBEAT_EVERY_SECONDS = 0.01
    beat = pipeline.session_heartbeat
    beats: list[bool] = []

    def heartbeat(*, session_id: str, claimed_at: datetime | None = None) -> bool:
        if beats:
            beats.append(beat(session_id=session_id, claimed_at=claimed_at))
            return beats[-1]
        with quiet_mid_transaction() as quiet:  # this thread's own connection
            try:
                return beat(session_id=session_id, claimed_at=claimed_at)
            finally:
                beats.append(bool(quiet.after))

    monkeypatch.setattr(pipeline, "session_heartbeat", heartbeat)
    with pipeline._heartbeat_meanwhile(session_id):
        deadline = time.monotonic() + 5
        while len(beats) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert beats[:3] == [True, True, True]
