"""A submission's `sync_next_attempt_at` is when its sync post is next attempted, in
every state of the post: null only when none is scheduled (synced, given up, dropped)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from submissions.models import Submission
from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory
from tests.submissions.test_sync import (
    approved_with_target,
    failing_sync_in_flight,
    sync_of,
    with_sync_target,
)
from webhooks.delivery import MAX_ATTEMPTS, Outcome, claim, record
from webhooks.models import SyncTarget, WebhookDelivery
from webhooks.services import deliveries_redeliver, delivery_redeliver

pytestmark = pytest.mark.django_db

URL = "https://example.com/erp"
MAINTENANCE = Outcome(503, "", "HTTP 503", 1, retry_after=timedelta(minutes=10))


def shown(submission: Submission) -> object:
    return Submission.objects.get(pk=submission.pk).sync_next_attempt_at


def given_up(submission: Submission) -> WebhookDelivery:
    """The submission's sync post, its last attempt answered 503: given up."""
    delivery = sync_of(submission)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    _, last = claim(delivery.pk)
    record(delivery.pk, last, Outcome(503, "", "HTTP 503", 1))
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"
    assert shown(submission) is None  # nothing scheduled
    return delivery


def approved_later(first: Submission) -> Submission:
    other = with_sync_target(SubmissionFactory(company=first.company), URL)
    submission_approve(submission_id=other.pk, actor=Actor.system())
    return other


def held_until(company_id: str) -> object:
    return SyncTarget.objects.get(company_id=company_id, url=URL).held_until


def test_a_post_due_when_another_post_to_its_target_is_told_to_wait_shows_the_holds_end():
    """The target answered one post 503 + Retry-After: 600. Every post to it waits till
    then, but the others' submissions went on showing their own due time, minutes in the
    past by the end of the hold."""
    asked, delivery = approved_with_target(URL)
    waiting = approved_later(asked)
    assert shown(waiting) <= timezone.now()  # due now: the approval's first attempt
    _, attempt = claim(delivery.pk)
    record(delivery.pk, attempt, MAINTENANCE)
    end = held_until(asked.company_id)
    assert end > timezone.now() + timedelta(minutes=9)
    assert shown(waiting) == end
    assert shown(asked) >= end  # the answered post's own retry


@pytest.mark.parametrize("redeliver", ["one", "bulk"])
def test_redelivering_a_given_up_sync_shows_its_attempt_now(redeliver):
    """After "Redeliver now" the submission showed no next attempt (null, as when given
    up) until the target answered, though the attempt was queued to go at once."""
    submission, _ = approved_with_target(URL)
    delivery = given_up(submission)
    if redeliver == "one":
        delivery_redeliver(delivery_id=delivery.pk)
    else:
        assert deliveries_redeliver(delivery_ids=[delivery.pk]).queued == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert shown(submission) == delivery.next_attempt_at
    assert shown(submission) <= timezone.now()  # it goes now


@pytest.mark.parametrize("ended_by", ["redelivery", "2xx"])
def test_the_held_posts_stop_showing_the_holds_end_when_it_ends_early(ended_by):
    """A redelivery or a 2xx ends the hold at once: the posts it held go (one at a time
    till a 2xx) from then on, not at the end of a hold that no longer exists."""
    asked, delivery = approved_with_target(URL)
    waiting = approved_later(asked)
    _, attempt = claim(delivery.pk)
    record(delivery.pk, attempt, MAINTENANCE)
    assert shown(waiting) == held_until(asked.company_id)
    if ended_by == "redelivery":
        delivery_redeliver(delivery_id=delivery.pk)
    else:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        SyncTarget.objects.filter(company=asked.company).update(held_until=timezone.now())
        _, retry = claim(delivery.pk)
        record(delivery.pk, retry, Outcome(200, "", "", 1))
        assert Submission.objects.get(pk=asked.pk).status == "synced"
    assert shown(waiting) == sync_of(waiting).next_attempt_at
    assert shown(waiting) <= timezone.now()


def test_the_apis_redeliver_of_a_given_up_sync_shows_its_attempt_now(company, api):
    """The integrator's "sync again" (POST …/redeliver on the sync delivery)."""
    submission = with_sync_target(SubmissionFactory(company=company), URL)
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    delivery = given_up(submission)
    response = api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    delivery.refresh_from_db()
    assert shown(submission) == delivery.next_attempt_at
    assert shown(submission) <= timezone.now()


def test_a_post_pushed_back_behind_its_failing_targets_attempt_in_flight_shows_when():
    """A failing target takes one attempt at a time: a post claimed meanwhile is pushed
    back 10 s unsent, but its submission went on showing the time it was claimed at."""
    first = failing_sync_in_flight(URL)
    waiting = approved_later(first)
    before, in_flight = shown(waiting), shown(first)
    assert claim(sync_of(waiting).pk) is None  # pushed back
    pushed = sync_of(waiting).next_attempt_at
    assert pushed > before
    assert shown(waiting) == pushed
    assert shown(first) == in_flight  # only the post pushed back
