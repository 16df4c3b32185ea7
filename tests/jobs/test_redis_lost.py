"""Redis coming back empty (a restart or a failover: it keeps nothing on disk) loses every
message queued in it. Beat's frequent sweep notices it by Steve's mark, gone from Redis,
and queues again at once what only Redis held, not STUCK_SESSION_MINUTES later."""

import io
import time

import pytest
import redis
from django.conf import settings
from PIL import Image

from jobs.models import SessionState
from jobs.tasks import recover_stuck_sessions
from submissions.models import SubmissionEvent
from tests.jobs.test_worker_killed import session_of, submit_pdf, wait_for
from tests.worker import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def receipts_pdf(sroie_dir, *, pages: int) -> bytes:
    """A PDF of `pages` scanned receipts: a job that runs some seconds (also the busy
    worker's of tests/steve/test_worker_liveness.py)."""
    scans = [
        Image.open(sroie_dir / "img" / f"{number:03d}.jpg").convert("RGB")
        for number in range(pages)
    ]
    out = io.BytesIO()
    scans[0].save(out, "PDF", save_all=True, append_images=scans[1:])
    return out.getvalue()


def requeues(session_id: str) -> list[dict]:
    submission_id = session_of(session_id).submission_id
    events = SubmissionEvent.objects.filter(submission_id=submission_id, type="processing_requeued")
    return [event.details for event in events]


def test_a_job_whose_message_redis_lost_is_queued_again_at_once_and_a_running_one_goes_on(
    api, workflows, sroie_dir, _isolated_storage
):
    # This test process's own Redis database (tests/parallel.py), never another's.
    broker = redis.Redis.from_url(settings.REDIS_URL)
    with celery_worker(_isolated_storage, name="lost", pool="prefork"):  # one slot
        recover_stuck_sessions()  # beat's sweep, as every 15 s since Steve started
        running = submit_pdf(api, receipts_pdf(sroie_dir, pages=4), "lost-running")
        wait_for(lambda: session_of(running).heartbeat_at is not None, 60, "the job to start")
        # The worker's one slot is busy: the next job's message waits in Redis.
        waiting = submit_pdf(api, receipts_pdf(sroie_dir, pages=1), "lost-waiting")
        wait_for(lambda: broker.llen("processing") == 1, 10, "its message on the queue")

        broker.flushdb()  # Redis restarted empty
        started = time.monotonic()
        recover_stuck_sessions()  # beat's next sweep, seconds later
        assert not session_of(running).is_terminal, "the job ended before the check"
        wait_for(lambda: session_of(waiting).is_terminal, 180, "the lost job")
        took = time.monotonic() - started
        wait_for(lambda: session_of(running).is_terminal, 180, "the running job")

    lost, ran = session_of(waiting), session_of(running)
    assert lost.state == SessionState.COMPLETED, lost.failed_reason
    assert ran.state == SessionState.COMPLETED, ran.failed_reason
    assert took < settings.STUCK_SESSION_MINUTES * 60
    # Queued again once, said why, and no re-queue spent: none of its runs failed.
    assert requeues(waiting) == [{"sessionId": waiting, "requeue": 0, "why": "redis_lost"}]
    assert lost.requeue_count == 0
    # The run in progress was left to its worker: not queued again, decided once.
    assert requeues(running) == [] and ran.requeue_count == 0
    events = SubmissionEvent.objects.filter(submission_id=ran.submission_id)
    assert events.filter(type="session_completed").count() == 1
    # Beat's later sweeps find Steve's mark again: nothing more is queued.
    recover_stuck_sessions()
    assert len(requeues(waiting)) == 1
