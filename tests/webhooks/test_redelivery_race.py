"""A redelivery asked for while an attempt is in flight, with the real pieces: a receiver
thread that holds the attempt's answer until the redelivery was asked for, a worker
thread with its own database connection, and the API an integrator calls meanwhile."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from steve.services import workflow_publish
from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from submissions.sync import sync_event_id
from tests.factories import SubmissionFactory
from tests.webhooks.helpers import emit, make_due
from webhooks.delivery import deliver
from webhooks.models import WebhookDelivery
from webhooks.tasks import deliver_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def attempt_in_a_worker_thread(delivery_id: str) -> threading.Thread:
    """One attempt on another thread and database connection, as a worker makes it."""

    def run() -> None:
        try:
            deliver(delivery_id)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def queued(monkeypatch) -> list[str]:
    """The task messages sent (from any thread), for the test to run as a worker would."""
    messages: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", messages.append)
    return messages


@pytest.mark.parametrize("in_flight_answer", [200, 500])
def test_a_redelivery_asked_for_during_an_attempt_is_sent_once_after_it_whatever_it_answers(
    company, endpoint, receiver, api, queued, in_flight_answer
):
    """The receiver lost what the attempt in flight brought it, and asks again: that
    attempt then answering 2xx marked the delivery delivered, and the redelivery was
    never sent."""
    receiver.hang_first = True  # the first request's answer waits for `release`
    receiver.script = [in_flight_answer]
    (delivery,) = emit(company)
    queued.clear()  # the emit's message: the worker thread below takes it
    worker = attempt_in_a_worker_thread(delivery.pk)
    assert receiver.got_request.wait(10), "the first attempt never reached the receiver"

    url = f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"
    for _ in range(3):  # asked for three times while the attempt is in flight
        assert api.post(url).status_code == 202
    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    assert (detail["status"], detail["attempts"], len(detail["attemptLog"])) == ("pending", 1, 1)
    assert len(queued) == 3
    assert [deliver(pk) for pk in queued] == [None] * 3  # the attempt in flight holds the lease
    queued.clear()

    receiver.release.set()  # the attempt in flight answers
    worker.join(20)
    assert not worker.is_alive()

    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    # What a poller sees between the two attempts: still owed, the first one's answer.
    assert detail["status"] == "pending" and detail["deliveredAt"] is None
    assert detail["attempts"] == 1 and detail["lastStatusCode"] == in_flight_answer
    assert [a["statusCode"] for a in detail["attemptLog"]] == [in_flight_answer]
    assert queued == [delivery.pk]  # the redelivery goes now, not when the lease is over

    deliver(queued.pop())  # the redelivery's attempt: the receiver answers 200
    for _ in range(3):  # every further message or beat pass finds nothing to send
        make_due(delivery)
        assert deliver(delivery.pk) is None

    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    assert detail["status"] == "delivered" and detail["lastStatusCode"] == 200
    assert detail["attempts"] == len(detail["attemptLog"]) == 2
    assert [(a["number"], a["statusCode"]) for a in detail["attemptLog"]] == [
        (2, 200),
        (1, in_flight_answer),
    ]
    assert len(receiver.requests) == 2  # once more, and only once, after the attempt


def test_a_redelivery_asked_for_after_the_attempt_answered_is_one_more_attempt(
    company, endpoint, receiver, api, queued
):
    (delivery,) = emit(company)
    deliver(delivery.pk)
    assert api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver").status_code == 202
    for pk in queued:
        deliver(pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 2
    assert len(receiver.requests) == 2


def approved_with_sync_to(company, url: str):
    """A production submission approved with its workflow posting to `url`: its sync."""
    submission = SubmissionFactory(company=company)
    version = workflow_publish(
        company=company,
        slug=submission.workflow.slug,
        name=submission.workflow.name,
        sync_url=url,
    )
    Submission.objects.filter(pk=submission.pk).update(workflow_version=version)
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get(event_id=sync_event_id(submission.pk))
    return submission, delivery


def sync_state(submission_id: str) -> tuple[int, list[tuple[str, int | None, int | None]]]:
    submission = Submission.objects.get(pk=submission_id)
    events = [
        (event.type, event.details.get("attempt"), event.details.get("statusCode"))
        for event in SubmissionEvent.objects.filter(submission_id=submission_id).order_by("id")
        if event.type.startswith("sync")
    ]
    return submission.sync_attempts, events


def test_a_sync_attempt_that_fails_after_a_redelivery_was_asked_for_is_logged_on_the_submission(
    company, receiver, api, queued
):
    """The sync post's attempt in flight when it was redelivered answered 500: the
    submission logged nothing for it (no sync_failed, its attempts and next attempt time
    as before) until the redelivery's attempt answered, and then only that one."""
    receiver.hang_first = True
    receiver.script = [500, 503]  # then 200
    submission, delivery = approved_with_sync_to(company, receiver.url)
    queued.clear()  # the approval's message: the worker thread below takes it
    worker = attempt_in_a_worker_thread(delivery.pk)
    assert receiver.got_request.wait(10), "the sync post never reached the receiver"
    url = f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"
    assert api.post(url).status_code == 202  # "Redeliver now" while the post is in flight
    queued.clear()  # its message finds the lease taken; the answer queues the attempt

    receiver.release.set()  # the attempt in flight answers 500
    worker.join(20)
    assert not worker.is_alive()

    # What a poller and the review timeline read between the two attempts.
    assert sync_state(submission.pk) == (1, [("sync_failed", 1, 500)])
    waiting = Submission.objects.get(pk=submission.pk)
    assert waiting.status == "approved"
    assert waiting.sync_next_attempt_at <= timezone.now()  # the redelivery goes now
    assert queued == [delivery.pk]

    deliver(queued.pop())  # the redelivery's attempt: 503
    assert sync_state(submission.pk) == (2, [("sync_failed", 1, 500), ("sync_failed", 2, 503)])
    make_due(delivery)
    deliver(delivery.pk)  # the retry: 200
    for _ in range(2):
        make_due(delivery)
        assert deliver(delivery.pk) is None

    synced = Submission.objects.get(pk=submission.pk)
    assert synced.status == "synced" and synced.sync_next_attempt_at is None
    assert synced.sync_attempts == 3  # the attempt that got through counts too
    _, events = sync_state(submission.pk)
    assert events == [("sync_failed", 1, 500), ("sync_failed", 2, 503), ("synced", 3, 200)]
    assert len(receiver.requests) == 3  # one post per attempt, none after the 2xx
