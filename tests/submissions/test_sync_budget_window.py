"""A sync post's retry budget is bounded in time too: the retry schedule's span (+10 %
for its jitter) from its queueing or latest redelivery. A target answering 503 +
Retry-After every time holds its posts: each waiting post got an attempt only when it
was first due at a hold's end, one at a time, so a post queued during the holds was
never attempted nor given up (`sync_abandoned`) until its submission's retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory
from tests.receiver import http_receiver
from tests.submissions.test_sync import (
    approved_with_target,
    event_types,
    sync_of,
    with_sync_target,
)
from webhooks.delivery import BUDGET_WINDOW, RETRY_SCHEDULE, deliver
from webhooks.models import WebhookDelivery
from webhooks.services import delivery_redeliver

pytestmark = pytest.mark.django_db


def test_the_window_is_the_retry_schedules_span_with_its_jitter_as_the_docs_say():
    # docs/webhooks.md and docs/api.md: "about 83 hours".
    assert sum(RETRY_SCHEDULE, timedelta()) < BUDGET_WINDOW
    assert timedelta(hours=83) < BUDGET_WINDOW < timedelta(hours=84)


def holding_target(receiver, monkeypatch) -> tuple[Submission, Submission, dict]:
    """A target in maintenance for days: every answer 503 + Retry-After: 1 h. One post
    got that answer; another was approved during the hold, never attempted."""
    clock = {"now": timezone.now()}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    receiver.statuses = [503] * 10
    receiver.headers = {"Retry-After": "3600"}
    url = f"{receiver.url}/erp"
    asked, delivery = approved_with_target(url)
    deliver(delivery.pk)
    held = with_sync_target(SubmissionFactory(company=asked.company), url)
    submission_approve(submission_id=held.pk, actor=Actor.system())
    return asked, held, clock


def test_a_post_held_past_its_window_is_abandoned_at_the_targets_next_retry_after(monkeypatch):
    with http_receiver() as receiver:
        asked, held, clock = holding_target(receiver, monkeypatch)
        clock["now"] += BUDGET_WINDOW + timedelta(minutes=1)
        assert deliver(sync_of(asked).pk).status_code == 503  # its retry, at the hold's end
    never_sent = sync_of(held)
    assert (never_sent.status, never_sent.attempts) == ("failed", 0)
    assert never_sent.next_attempt_at is None and never_sent.failed_at == clock["now"]
    abandoned = Submission.objects.get(pk=held.pk)
    assert (abandoned.status, abandoned.sync_next_attempt_at) == ("approved", None)
    assert event_types(abandoned) == ["approved", "sync_abandoned"]
    event = SubmissionEvent.objects.get(submission=abandoned, type="sync_abandoned")
    assert event.details["error"].startswith("Retry budget expired")
    # The post that got the answer is past its window too: that was its last attempt.
    assert sync_of(asked).status == "failed"
    assert event_types(asked) == ["approved", "sync_failed", "sync_abandoned"]
    assert len(receiver.requests) == 2


def test_a_post_held_within_its_window_keeps_waiting(monkeypatch):
    with http_receiver() as receiver:
        asked, held, clock = holding_target(receiver, monkeypatch)
        clock["now"] += BUDGET_WINDOW - timedelta(hours=2)
        assert deliver(sync_of(asked).pk).status_code == 503
    assert sync_of(held).status == "pending" and sync_of(asked).status == "pending"
    assert event_types(Submission.objects.get(pk=held.pk)) == ["approved"]


def test_a_redelivery_starts_its_posts_window_afresh(monkeypatch):
    with http_receiver() as receiver:
        asked, held, clock = holding_target(receiver, monkeypatch)
        clock["now"] += BUDGET_WINDOW - timedelta(hours=1)
        delivery_redeliver(delivery_id=sync_of(held).pk)  # "sync again": ends the hold
        assert deliver(sync_of(held).pk).status_code == 503  # held again
        clock["now"] += timedelta(hours=2)  # past the first window, not the redelivery's
        assert deliver(sync_of(asked).pk).status_code == 503
    assert sync_of(held).status == "pending"
    assert sync_of(asked).status == "failed"


def test_a_failed_answer_past_the_window_is_the_last_attempt_with_budget_left(monkeypatch):
    """Past its window, a post whose answer asks no wait (the maintenance over, the
    error not) is given up at that failure, however many attempts its budget has left."""
    with http_receiver() as receiver:
        asked, _, clock = holding_target(receiver, monkeypatch)
        receiver.headers = {}
        clock["now"] += BUDGET_WINDOW + timedelta(minutes=1)
        deliver(sync_of(asked).pk)
    given_up = WebhookDelivery.objects.get(pk=sync_of(asked).pk)
    assert (given_up.status, given_up.attempts) == ("failed", 2)
