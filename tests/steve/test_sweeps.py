"""Every beat sweep handles its rows one by one: a row that raises is logged, counted
and skipped, and the rest are still handled. The webhook dispatch stops at the broker,
though: when it cannot be reached, every other row would wait for it too."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.models import SessionState, WorkflowSession
from jobs.services import retention_purge, sessions_expire_stale, sessions_recover_stuck
from steve.broker import broker_pause
from steve.sweeps import sweep_rows
from submissions.models import Submission, SubmissionEvent
from tests import factories, redis_down
from tests.jobs.test_broker_down import _use_broker
from tests.jobs.test_expiry import make_sessions
from tests.jobs.test_lifecycle import open_session
from tests.redis_down import REFUSED
from tests.webhooks.helpers import emit, make_due
from webhooks import tasks as webhook_tasks
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def raising_for(bad: str, real=None):
    seen: list[str] = []

    def handle(row_id: str, **kwargs) -> object:
        if row_id == bad:
            raise RuntimeError("a row that raises")
        seen.append(row_id)
        return real(row_id, **kwargs) if real else None

    return handle, seen


def first_rows_raise(count: int, real: Callable[..., object], key: str) -> Callable[..., object]:
    """`real`, but the first `count` rows it meets (by their keyword `key`) raise, every
    run: a full batch of poison rows, whichever the sweep lists first."""
    poison: list[str] = []

    def handle(**kwargs: str) -> object:
        row_id = kwargs[key]
        if row_id not in poison and len(poison) < count:
            poison.append(row_id)
        if row_id in poison:
            raise RuntimeError("a row that raises")
        return real(**kwargs)

    return handle


def test_sweep_rows_counts_a_failing_row_and_goes_on(caplog):
    def handle(row: int) -> str:
        if row == 2:
            raise ValueError("bad row")
        return "ok"

    counts = sweep_rows("demo", [1, 2, 3], handle)
    assert counts == {"ok": 2, "errors": 1}
    assert "demo: row 2 failed" in caplog.text


def test_stuck_recovery_goes_on_after_a_row_that_raises(api_key, receipt_workflow, monkeypatch):
    sessions = [open_session(api_key, receipt_workflow, f"stuck-{i}") for i in range(3)]
    WorkflowSession.objects.update(
        state=SessionState.SUBMITTED, updated_at=timezone.now() - timedelta(hours=1)
    )
    from jobs import services

    real = services.session_recover_stuck

    def recover(*, session_id: str) -> str | None:
        if session_id == sessions[1].pk:
            raise RuntimeError("a row that raises")
        return real(session_id=session_id)

    monkeypatch.setattr(services, "session_recover_stuck", recover)
    assert sessions_recover_stuck() == {"requeued": 2, "failed": 0, "errors": 1}


def test_retention_purge_goes_on_after_a_row_that_raises(company, settings, monkeypatch):
    settings.RETENTION_DAYS = 1
    old = timezone.now() - timedelta(days=3)
    rows = [factories.SubmissionFactory(company=company, status="approved") for _ in range(3)]
    Submission.objects.update(created_at=old, updated_at=old)
    from jobs import services

    real = services.submission_purge_results

    def purge(*, submission_id: str) -> Submission:
        if submission_id == rows[0].pk:
            raise RuntimeError("storage said no")
        return real(submission_id=submission_id)

    monkeypatch.setattr(services, "submission_purge_results", purge)
    assert retention_purge() == 2
    purged = Submission.objects.filter(results_purged_at__isnull=False)
    assert set(purged.values_list("pk", flat=True)) == {rows[1].pk, rows[2].pk}


def test_stuck_recovery_reaches_a_session_beyond_a_full_batch_that_raises(
    api_key, receipt_workflow, monkeypatch
):
    """The batch had no set order and a session that raised stayed stuck: a full batch
    of them was all that every run ever tried, and the sessions beyond it waited for good."""
    for i in range(3):
        open_session(api_key, receipt_workflow, f"stuck-{i}")
    WorkflowSession.objects.update(
        state=SessionState.SUBMITTED, updated_at=timezone.now() - timedelta(hours=1)
    )
    from jobs import services

    recover = first_rows_raise(2, services.session_recover_stuck, "session_id")
    monkeypatch.setattr(services, "session_recover_stuck", recover)
    runs = [sessions_recover_stuck(limit=2) for _ in range(2)]
    assert [run["requeued"] for run in runs] == [0, 1]
    assert SubmissionEvent.objects.filter(type="processing_requeued").count() == 1


def test_expiry_reaches_a_session_beyond_a_full_batch_that_raises(
    api_key, receipt_workflow, monkeypatch
):
    """Newest lapse first, and a session that raised stayed pending in its place: the
    sessions that lapsed before a full batch of them were never expired by beat."""
    make_sessions(api_key, receipt_workflow, 3)
    WorkflowSession.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    from jobs import services

    expire = first_rows_raise(2, services.session_expire, "session_id")
    monkeypatch.setattr(services, "session_expire", expire)
    assert [sessions_expire_stale(limit=2) for _ in range(2)] == [0, 1]
    assert WorkflowSession.objects.filter(state=SessionState.EXPIRED).count() == 1


def test_retention_purge_reaches_a_submission_beyond_a_full_batch_that_raises(
    company, settings, monkeypatch
):
    settings.RETENTION_DAYS = 1
    old = timezone.now() - timedelta(days=3)
    for _ in range(3):
        factories.SubmissionFactory(company=company, status="approved")
    Submission.objects.update(created_at=old, updated_at=old)
    from jobs import services

    purge = first_rows_raise(2, services.submission_purge_results, "submission_id")
    monkeypatch.setattr(services, "submission_purge_results", purge)
    assert [retention_purge(limit=2) for _ in range(2)] == [0, 1]
    assert Submission.objects.filter(results_purged_at__isnull=False).count() == 1


def test_interrupted_attempts_reach_a_lease_beyond_a_full_batch_that_raises(company, monkeypatch):
    """Oldest lapse first, and one that raised stayed the oldest: a full batch of them
    was all that every beat pass tried to record."""
    from webhooks import delivery as webhook_delivery

    deliveries = due_deliveries(company, 3)
    for age, delivery in zip((30, 20, 10), deliveries, strict=True):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            locked_until=timezone.now() - timedelta(seconds=age)
        )
    record = first_rows_raise(2, webhook_tasks.delivery_record_interrupted, "delivery_id")
    monkeypatch.setattr(webhook_delivery, "CLAIM_BATCH", 2)
    monkeypatch.setattr(webhook_tasks, "delivery_record_interrupted", record)
    monkeypatch.setattr(webhook_tasks, "claim_due", list)
    for _ in range(2):
        webhook_tasks.dispatch_due_webhooks()
    recorded = WebhookDelivery.objects.filter(last_error__startswith="Interrupted")
    assert list(recorded.values_list("pk", flat=True)) == [deliveries[2].pk]


def twice_at_once(sweep: Callable[[], object]) -> list[object]:
    """Run `sweep` on two connections at the same moment, as two beats (or a run still
    going at the next tick) do; what each returned."""
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = sweep()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_two_retention_purges_at_once_count_each_submission_once(company, settings):
    """Both listed the same due submissions: the run that came second to one purged
    nothing, yet counted it, so the purge logged twice what it removed."""
    settings.RETENTION_DAYS = 1
    old = timezone.now() - timedelta(days=3)
    for _ in range(10):
        factories.SubmissionFactory(company=company, status="approved")
    Submission.objects.update(created_at=old, updated_at=old)
    assert sum(twice_at_once(retention_purge)) == 10
    assert Submission.objects.filter(results_purged_at__isnull=True).count() == 0
    assert SubmissionEvent.objects.filter(type="results_purged").count() == 10


def test_webhook_dispatch_goes_on_after_a_delivery_it_cannot_queue(monkeypatch):
    monkeypatch.setattr(webhook_tasks, "claim_due", lambda: ["whd_1", "whd_2", "whd_3"])
    handle, seen = raising_for("whd_2")
    monkeypatch.setattr(webhook_tasks.deliver_webhook, "delay", handle)
    assert webhook_tasks.dispatch_due_webhooks() == 2
    assert seen == ["whd_1", "whd_3"]
    assert not broker_pause.active()  # the row's own failure, not the broker's


@pytest.fixture(params=["refusing", "silent"])
def unreachable_broker(request) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        silent = request.param == "silent"
        _use_broker(stack.enter_context(redis_down.silent_redis()) if silent else REFUSED)
        try:
            yield
        finally:
            _use_broker(None)


@pytest.fixture
def publishes(monkeypatch) -> list[str]:
    """The deliveries beat tried to publish, through the real broker connection."""
    tried: list[str] = []
    real = webhook_tasks.deliver_webhook.delay

    def delay(delivery_id: str) -> object:
        tried.append(delivery_id)
        return real(delivery_id)

    monkeypatch.setattr(webhook_tasks.deliver_webhook, "delay", delay)
    return tried


def due_deliveries(company, count: int) -> list[WebhookDelivery]:
    for n in range(count):
        endpoint_create(company=company, url=f"https://93.184.215.{n + 10}/hook")
    deliveries = emit(company)
    for delivery in deliveries:
        make_due(delivery)
    return deliveries


def test_webhook_dispatch_stops_at_the_first_delivery_the_broker_does_not_answer(
    company, unreachable_broker, publishes
):
    """Each due delivery waited out the broker's timeout: a batch of 200 held a
    maintenance worker for ~10 minutes."""
    deliveries = due_deliveries(company, 5)
    started = time.monotonic()
    assert webhook_tasks.dispatch_due_webhooks() == 0
    elapsed = time.monotonic() - started

    assert len(publishes) == 1  # one wait for the broker, not one per delivery
    assert elapsed < settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] + 1.5, elapsed
    # None is left leased: beat's next pass claims them all again.
    pending = WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert pending.count() == 5
    assert not pending.filter(queued_until__isnull=False).exists()
    assert broker_pause.active()


def test_webhook_dispatch_waits_out_the_broker_pause(company, publishes):
    """A publish failed a moment ago in this process: the pass does not try again yet,
    and leases nothing, so the first pass after the pause queues them all."""
    deliveries = due_deliveries(company, 3)
    broker_pause.start()
    assert webhook_tasks.dispatch_due_webhooks() == 0
    assert publishes == []
    assert not WebhookDelivery.objects.filter(queued_until__isnull=False).exists()

    broker_pause.end()
    assert webhook_tasks.dispatch_due_webhooks() == 3
    assert sorted(publishes) == sorted(d.pk for d in deliveries)
