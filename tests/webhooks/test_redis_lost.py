"""A delivery whose message Redis lost (it came back empty) is queued again by beat's
next pass, seconds after the loss is noticed, not when its queue lease ends (2 minutes
to an hour); one whose attempt is in flight is left to it."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import TestCase
from django.utils import timezone

from jobs import services as jobs_services
from jobs.services import redis_lost_work_requeue
from steve.models import RedisEpoch
from steve.services import RequeuedAfterLoss, redis_epoch_check
from tests.webhooks.helpers import emit
from webhooks.models import WebhookDelivery
from webhooks.tasks import dispatch_due_webhooks

pytestmark = pytest.mark.django_db


def test_a_delivery_whose_message_redis_lost_goes_at_beats_next_pass(company, endpoint):
    broker = redis.Redis.from_url(settings.REDIS_URL)  # this test process's own database
    assert redis_epoch_check(requeue=redis_lost_work_requeue) == "started"
    with TestCase.captureOnCommitCallbacks(execute=True):  # its message, on commit
        (queued,) = emit(company)
    (in_flight,) = emit(company, "submission.rejected")
    WebhookDelivery.objects.filter(pk=in_flight.pk).update(
        locked_until=timezone.now() + timedelta(minutes=2)
    )
    assert broker.llen("deliveries") == 1
    assert dispatch_due_webhooks() == 0  # its lease holds beat off: the message covers it

    broker.flushdb()  # Redis restarted empty
    done = redis_epoch_check(requeue=redis_lost_work_requeue)
    assert isinstance(done, RequeuedAfterLoss)
    assert "1 webhook/sync delivery(ies), for beat's next pass" in [
        f"{count} {kind}" for kind, count in done.counts.items()
    ]
    assert dispatch_due_webhooks() == 1  # beat's next pass, 5 s later
    assert broker.llen("deliveries") == 1
    queued.refresh_from_db()
    assert queued.queued_until > timezone.now() and queued.attempts == 0
    in_flight.refresh_from_db()
    assert in_flight.queued_until is not None and in_flight.locked_until > timezone.now()


def test_a_loss_of_more_deliveries_than_a_batch_drops_their_leases_a_batch_a_check(
    company, endpoint, monkeypatch
):
    """Every leased delivery was loaded and locked in one go (a backlog of 100,000 held
    the check's transaction, and every lock, for all of them): a batch a check now, in
    key order, and a delivery beat queued again since a batch is not dropped again."""
    monkeypatch.setattr(jobs_services, "LOST_IN_REDIS_BATCH", 2)
    assert redis_epoch_check(requeue=redis_lost_work_requeue) == "started"
    with TestCase.captureOnCommitCallbacks(execute=True):  # their messages, on commit
        lost = sorted((emit(company)[0] for _ in range(3)), key=lambda d: d.pk)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()

    first = redis_epoch_check(requeue=redis_lost_work_requeue)
    assert isinstance(first, RequeuedAfterLoss) and first.left
    assert dropped(first) == 2
    assert [leased(d) for d in lost] == [False, False, True]  # the first two, by key
    assert dispatch_due_webhooks() == 2  # beat queues them again at its next pass

    second = redis_epoch_check(requeue=redis_lost_work_requeue)
    assert isinstance(second, RequeuedAfterLoss) and not second.left
    assert dropped(second) == 1
    assert [leased(d) for d in lost] == [True, True, False]  # theirs kept: not lost
    assert redis_epoch_check(requeue=redis_lost_work_requeue) == "same"
    assert RedisEpoch.objects.get().lost_at is None


def dropped(done: RequeuedAfterLoss) -> int:
    return done.counts["webhook/sync delivery(ies), for beat's next pass"]


def leased(delivery: WebhookDelivery) -> bool:
    delivery.refresh_from_db()
    return delivery.queued_until is not None
