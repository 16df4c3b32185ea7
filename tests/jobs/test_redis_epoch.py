"""Beat's check for a Redis that came back empty (steve.services.redis_epoch_check): what
only Redis held is queued again once, at once, and nothing else is; safe at a first
start, with two beats, and with Redis flapping. The real worker's run of it is
tests/jobs/test_redis_lost.py."""

import logging
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import TestCase
from django.utils import timezone

from jobs import services as jobs_services
from jobs.models import SessionHeartbeat, SessionState, WorkflowSession
from jobs.services import redis_lost_work_requeue
from steve.models import OutboxMessage, RedisEpoch
from steve.services import REDIS_EPOCH_KEY, RequeuedAfterLoss, redis_epoch_check
from submissions.models import SubmissionEvent
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

pytestmark = pytest.mark.django_db


def flushdb() -> None:
    # This test process's own Redis database (tests/parallel.py), never another's.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def submitted_session(api) -> WorkflowSession:
    """Submitted, its processing message sent at commit (to this test's Redis) as in
    production: a test's transaction never commits."""
    _, body, _ = create(api, clientSubmissionId=f"order-{WorkflowSession.objects.count()}")
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    with TestCase.captureOnCommitCallbacks(execute=True):
        api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    return WorkflowSession.objects.get(pk=body["sessionId"])


def check() -> RequeuedAfterLoss | str:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the outbox's relay, on commit
        return redis_epoch_check(requeue=redis_lost_work_requeue)


def requeued(session: WorkflowSession) -> list[dict]:
    events = SubmissionEvent.objects.filter(
        submission_id=session.submission_id, type="processing_requeued"
    )
    return [event.details for event in events]


def running(api) -> WorkflowSession:
    """Submitted and claimed by a worker that beats now."""
    session = submitted_session(api)
    now = timezone.now()
    WorkflowSession.objects.filter(pk=session.pk).update(heartbeat_at=now, run_claimed_at=now)
    SessionHeartbeat.objects.create(session=session, beat_at=now)
    return session


def test_the_first_check_marks_redis_and_queues_nothing_again(api, workflows):
    """A brand-new install, or the first start of this release with messages on the
    queues: no mark was ever written, so none was lost, and nothing is queued twice."""
    flushdb()
    waiting = submitted_session(api)
    assert check() == "started"
    assert cache.get(REDIS_EPOCH_KEY) == RedisEpoch.objects.get().value
    assert check() == "same"
    assert requeued(waiting) == []
    assert redis.Redis.from_url(settings.REDIS_URL).llen("processing") == 1


def test_a_redis_without_its_mark_has_each_job_no_worker_took_queued_again_once(
    api, workflows, settings, caplog
):
    settings.STUCK_SESSION_MAX_REQUEUES = 1
    assert check() == "started"
    waiting = submitted_session(api)
    # Its re-queues spent on dead workers before: a lost message is no death, and it is
    # neither given up nor charged.
    spent = submitted_session(api)
    WorkflowSession.objects.filter(pk=spent.pk).update(requeue_count=1)
    busy = running(api)
    # Its worker died: its lease runs out as usual (the stuck sweep, a re-queue spent).
    lapsed = running(api)
    SessionHeartbeat.objects.filter(session=lapsed).delete()
    WorkflowSession.objects.filter(pk=lapsed.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    unsent = submitted_session(api)  # its message still waits in the outbox (broker down)
    OutboxMessage.objects.create(task="jobs.tasks.process_session", args=[unsent.pk])

    flushdb()  # Redis restarted empty
    with caplog.at_level(logging.INFO, logger="steve.services"):
        done = check()
        assert check() == "same"
    assert isinstance(done, RequeuedAfterLoss) and not done.left
    assert list(done.counts.values()) == [2, 0]
    for session, count in ((waiting, 0), (spent, 1)):
        assert requeued(session) == [
            {"sessionId": session.pk, "requeue": count, "why": "redis_lost"}
        ]
        session.refresh_from_db()
        assert session.state == SessionState.SUBMITTED and session.requeue_count == count
    for session in (busy, lapsed, unsent):
        assert requeued(session) == []
    # The two messages went to the broker through the outbox, on commit.
    assert redis.Redis.from_url(settings.REDIS_URL).llen("processing") == 2
    assert OutboxMessage.objects.count() == 1
    # Said once, and clearly.
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1
    assert "Redis came back empty" in lines[0].getMessage()
    assert "2 session(s)" in lines[0].getMessage()


def test_a_redis_holding_another_mark_lost_what_was_queued_since(api, workflows):
    """Restored from an older copy, or a check whose commit failed after it wrote its
    mark: either way Redis does not hold what was queued since the database's mark."""
    assert check() == "started"
    waiting = submitted_session(api)
    cache.set(REDIS_EPOCH_KEY, "an-older-mark", timeout=None)
    assert isinstance(check(), RequeuedAfterLoss)
    assert [d["why"] for d in requeued(waiting)] == ["redis_lost"]
    assert check() == "same"


def test_redis_out_of_reach_decides_nothing_and_its_loss_is_noticed_when_it_answers(
    api, workflows, monkeypatch
):
    assert check() == "started"
    waiting = submitted_session(api)
    before = RedisEpoch.objects.get()

    def refused(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(cache, "get", refused)
        assert check() == "unreachable"
    flushdb()  # it comes back empty, and is gone again as the check writes its mark
    with monkeypatch.context() as patched:
        patched.setattr(cache, "set", refused)
        assert check() == "unreachable"
    # Nothing of either check stayed: no event, the database's mark as it was.
    assert requeued(waiting) == []
    after = RedisEpoch.objects.get()
    assert (after.value, after.since, after.lost_at) == (before.value, before.since, None)
    # Redis answers again, still without the mark: the loss is noticed then.
    assert isinstance(check(), RequeuedAfterLoss)
    assert [d["why"] for d in requeued(waiting)] == ["redis_lost"]
    assert cache.get(REDIS_EPOCH_KEY) == RedisEpoch.objects.get().value != before.value


def test_a_large_loss_is_queued_again_a_batch_a_check_and_nothing_queued_after_it(
    api, workflows, monkeypatch
):
    monkeypatch.setattr(jobs_services, "LOST_IN_REDIS_BATCH", 2)
    assert check() == "started"
    lost = [submitted_session(api) for _ in range(3)]
    flushdb()
    first = check()
    assert isinstance(first, RequeuedAfterLoss) and first.left
    assert RedisEpoch.objects.get().lost_at is not None
    later = submitted_session(api)  # queued after the loss was noticed: its message is safe
    second = check()
    assert isinstance(second, RequeuedAfterLoss) and not second.left
    assert list(second.counts.values()) == [1]
    assert RedisEpoch.objects.get().lost_at is None
    assert check() == "same"
    assert [len(requeued(session)) for session in lost] == [1, 1, 1]
    assert requeued(later) == []


def test_without_redis_there_is_nothing_to_check(api, workflows, settings):
    # The dev broker keeps its messages on disk; the cache is each process's own memory.
    settings.REDIS_URL = ""
    assert check() == "off"
    assert not RedisEpoch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_beats_checking_at_once_queue_each_lost_job_once(api, workflows):
    assert redis_epoch_check(requeue=redis_lost_work_requeue) == "started"
    lost = [submitted_session(api) for _ in range(3)]
    flushdb()
    both = threading.Barrier(2)
    outcomes = []

    def beat() -> None:
        try:
            both.wait()
            outcomes.append(redis_epoch_check(requeue=redis_lost_work_requeue))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(type, outcomes), key=str) == [RequeuedAfterLoss, str]
    assert "same" in outcomes
    assert [len(requeued(session)) for session in lost] == [1, 1, 1]


def test_the_loss_is_logged_once_when_its_recovery_commits_not_by_one_rolled_back(
    api, workflows, caplog
):
    """The WARNING was written before the commit: a check whose commit failed said Redis
    came back empty and what it queued again, none of which happened, and the next check,
    which does it, said it a second time."""
    assert check() == "started"
    waiting = submitted_session(api)
    flushdb()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="steve.services"):
        with (
            TestCase.captureOnCommitCallbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            redis_epoch_check(requeue=redis_lost_work_requeue)
            raise RuntimeError("the commit failed")
        assert requeued(waiting) == []
        assert not [r for r in caplog.records if "Redis" in r.getMessage()]
        assert isinstance(check(), RequeuedAfterLoss)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "Redis came back empty" in lines[0]
    assert [d["why"] for d in requeued(waiting)] == ["redis_lost"]
