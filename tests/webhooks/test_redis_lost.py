"""A delivery whose message Redis lost (it came back empty) is queued again by beat's
next pass, seconds after the loss is noticed, not when its queue lease ends (2 minutes
to an hour); one whose attempt is in flight is left to it."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import TestCase
from django.utils import timezone

from jobs.services import redis_lost_work_requeue
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
