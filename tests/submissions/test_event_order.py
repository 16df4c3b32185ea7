"""Events of one submission have strictly increasing `occurredAt` as the API renders it
(milliseconds): webhooks can arrive out of order, and docs/webhooks.md tells a consumer to
order them by `occurredAt`. Two events of one transaction shared it, so a consumer holding
`submission.rejected` could take a retried `submission.fraud_match_resolved` (its snapshot
still `review`) as the newer and roll back."""

import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from fraud.models import FraudMatch
from steve.timefmt import iso
from submissions.models import EventType, Submission, SubmissionEvent
from submissions.services import Actor, record_event
from tests.factories import SubmissionFactory
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def confirm_fraud_with_the_clock_stopped(api, company) -> Submission:
    """A submission in review with one flagged match, confirmed over the API while the
    clock stands still: the resolution and the rejection it causes, in one transaction."""
    submission = SubmissionFactory(company=company)
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        target_submission=SubmissionFactory(company=company),
        check_type=FraudMatch.CheckType.VISUAL,
        score=72.5,
        similarity=0.88,
    )
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        response = api.post(
            f"/api/v1/submissions/{submission.pk}/fraud-matches/{match.pk}/resolve",
            {"resolution": "confirmed_fraud"},
            format="json",
        )
    assert response.status_code == 200
    submission.refresh_from_db()
    assert submission.status == "rejected"
    return submission


def test_a_confirmation_that_rejects_announces_the_rejection_strictly_later(api, company):
    endpoint, _ = endpoint_create(company=company, url="https://93.184.215.14/hook")
    submission = confirm_fraud_with_the_clock_stopped(api, company)
    payloads = {
        d.event_type: d.payload
        for d in WebhookDelivery.objects.filter(
            endpoint=endpoint, payload__submissionId=submission.pk
        )
    }
    resolved = payloads["submission.fraud_match_resolved"]
    rejected = payloads["submission.rejected"]
    assert resolved["submissionStatus"] == "review"  # the snapshot a rollback would restore
    # The documented format (fixed width, UTC) orders as text does.
    assert resolved["occurredAt"] < rejected["occurredAt"]


def test_polling_lists_the_confirmation_pair_in_the_order_and_at_the_times_announced(api, company):
    endpoint, _ = endpoint_create(company=company, url="https://93.184.215.14/hook")
    submission = confirm_fraud_with_the_clock_stopped(api, company)
    announced = {
        d.event_type: d.payload["occurredAt"]
        for d in WebhookDelivery.objects.filter(
            endpoint=endpoint, payload__submissionId=submission.pk
        )
    }
    events = api.get(f"/api/v1/submissions/{submission.pk}").json()["events"]
    polled = [(e["type"], e["occurredAt"]) for e in events]  # newest first
    times = [at for _, at in polled]
    assert times == sorted(set(times), reverse=True)  # strictly decreasing: no tie
    types = [t for t, _ in polled]
    assert types.index("rejected") < types.index("fraud_match_resolved")
    assert dict(polled)["rejected"] == announced["submission.rejected"]
    assert dict(polled)["fraud_match_resolved"] == announced["submission.fraud_match_resolved"]


def test_two_events_of_one_transaction_at_one_instant_get_distinct_increasing_times(company):
    submission = SubmissionFactory(company=company)
    frozen = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=frozen), transaction.atomic():
        first = record_event(submission=submission, type=EventType.COMMENT, actor=Actor.system())
        second = record_event(submission=submission, type=EventType.COMMENT, actor=Actor.system())
    assert iso(first.occurred_at) < iso(second.occurred_at)
    stored = list(submission.events.order_by("-id").values_list("pk", "occurred_at"))
    # The newest first by id (the API's and the timeline's order) is the newest in time.
    assert [pk for pk, _ in stored[:2]] == [second.pk, first.pk]
    assert [iso(at) for _, at in stored[:2]] == [iso(second.occurred_at), iso(first.occurred_at)]


def test_events_less_than_a_millisecond_apart_are_a_millisecond_apart_as_rendered(company):
    # Apart in microseconds, not in the milliseconds the API shows: still a tie there.
    submission = SubmissionFactory(company=company)
    start = datetime(2030, 1, 1, 10, 0, 0, 123_400, tzinfo=UTC)
    ticks = iter(start + timedelta(microseconds=200 * n) for n in range(10))
    with mock.patch("django.utils.timezone.now", side_effect=lambda: next(ticks)):
        made = [
            record_event(submission=submission, type=EventType.COMMENT, actor=Actor.system())
            for _ in range(3)
        ]
    rendered = [iso(event.occurred_at) for event in made]
    assert rendered == sorted(set(rendered))
    assert rendered == [
        "2030-01-01T10:00:00.123Z",
        "2030-01-01T10:00:00.124Z",
        "2030-01-01T10:00:00.125Z",
    ]
    # What is stored is what was announced from the row in memory.
    for event in made:
        assert iso(SubmissionEvent.objects.get(pk=event.pk).occurred_at) == iso(event.occurred_at)


def test_a_clock_behind_the_last_event_still_records_the_next_one_later(company):
    # Web and worker hosts' clocks differ: an event recorded by a host behind the one
    # that recorded the last event is still after it.
    submission = SubmissionFactory(company=company)
    later = record_event(submission=submission, type=EventType.COMMENT, actor=Actor.system())
    behind = later.occurred_at - timedelta(seconds=2)
    with mock.patch("django.utils.timezone.now", return_value=behind):
        after = record_event(submission=submission, type=EventType.COMMENT, actor=Actor.system())
    assert iso(after.occurred_at) > iso(later.occurred_at)


@pytest.mark.django_db(transaction=True)
def test_recording_an_event_holds_the_submission_row_until_the_transaction_ends(company):
    """The time of the event before is read under the submission's row lock, whichever
    path records it (an admin's known-fraud removal locked no submission): two writers
    at once cannot both read the same last event and tie."""
    submission = SubmissionFactory(company=company)
    held: list[bool] = []

    def try_to_lock() -> None:
        try:
            with transaction.atomic():
                Submission.objects.select_for_update(nowait=True).get(pk=submission.pk)
            held.append(False)
        except DatabaseError:
            held.append(True)
        finally:
            connection.close()

    with transaction.atomic():
        record_event(submission=submission, type=EventType.COMMENT, actor=Actor.system())
        thread = threading.Thread(target=try_to_lock)
        thread.start()
        thread.join(timeout=30)
    assert held == [True]
