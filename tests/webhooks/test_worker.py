"""A real Celery worker killed (SIGKILL) in the middle of a delivery: the event still
arrives, once as far as the receiver's dedup by webhook-id sees, through beat's claim."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from steve.celery import app
from steve.services import workflow_publish
from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory
from tests.webhooks.helpers import emit, make_due
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.tasks import dispatch_due_webhooks

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]


def worker_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "1"
    return env


@contextmanager
def deliveries_worker(name: str, log: Path) -> Iterator[subprocess.Popen]:
    command = [
        sys.executable, "-m", "celery", "-A", "steve", "worker", "-Q", "deliveries",
        "-P", "solo", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "-l", "INFO",
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=REPO, env=worker_env(), stdout=out, stderr=out)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


def test_a_worker_killed_mid_delivery_does_not_lose_the_event(
    company, endpoint, receiver, tmp_path
):
    app.control.purge()  # stale messages of earlier tests
    receiver.hang_first = True
    log = tmp_path / "worker.log"
    (delivery,) = emit(company)  # committed: the first attempt is queued on Redis

    with deliveries_worker("first", log) as first:
        wait_for(receiver.got_request.is_set, 30, "the first request", log)
        first.kill()  # SIGKILL mid-request: no acknowledgement, no outcome recorded
        first.wait(timeout=10)
    receiver.release.set()

    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.finished_at is None  # the interrupted attempt stays in the log
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"

    with deliveries_worker("second", log):
        make_due(delivery)  # the lease of the dead worker has passed
        assert dispatch_due_webhooks() == 1  # beat claims it again
        wait_for(
            lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered",
            30,
            "the redelivery",
            log,
        )

    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert [a.status_code for a in delivery.log.order_by("number")] == [None, 200]
    assert len(receiver.requests) == 2
    assert receiver.processed_ids == [delivery.event_id]


def test_a_redelivery_asked_for_during_a_workers_attempt_is_sent_once_after_its_2xx(
    company, endpoint, receiver, api, tmp_path
):
    """The integrator's receiver lost what the attempt in flight brought it: asked for
    (twice) while the worker waits for that attempt's answer, the redelivery is sent
    once after it, though that attempt answered 200."""
    app.control.purge()
    receiver.hang_first = True  # the first attempt's 200 waits until the redelivery
    log = tmp_path / "worker.log"
    (delivery,) = emit(company)

    with deliveries_worker("redelivery", log):
        wait_for(receiver.got_request.is_set, 30, "the first request", log)
        for _ in range(2):
            assert (
                api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver").status_code == 202
            )
        receiver.release.set()
        wait_for(
            lambda: (
                WebhookDelivery.objects.get(pk=delivery.pk).attempts == 2
                and WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered"
            ),
            30,
            "the redelivery's attempt",
            log,
        )
        # A later event's message queues behind every copy of the first one's: once it
        # is delivered, the worker has taken them all.
        (later,) = emit(company)
        wait_for(
            lambda: WebhookDelivery.objects.get(pk=later.pk).status == "delivered",
            30,
            "the later event",
            log,
        )

    delivery.refresh_from_db()
    assert [a.status_code for a in delivery.log.order_by("number")] == [200, 200]
    sent = [r for r in receiver.requests if r.headers["webhook-id"] == delivery.event_id]
    assert len(sent) == 2


def test_a_sync_post_whose_worker_was_killed_shows_on_the_submission_at_beats_next_pass(
    company, receiver, tmp_path
):
    """Killed mid-post, the attempt said nothing until the retry's claim (hours away later
    in the schedule): no event, and a next attempt in the past on the submission."""
    app.control.purge()
    receiver.hang_first = True
    log = tmp_path / "worker.log"
    submission = SubmissionFactory(company=company)
    version = workflow_publish(
        company=company,
        slug=submission.workflow.slug,
        name=submission.workflow.name,
        sync_url=receiver.url,
    )
    Submission.objects.filter(pk=submission.pk).update(workflow_version=version)
    submission_approve(submission_id=submission.pk, actor=Actor.system())  # queues the post
    delivery = WebhookDelivery.objects.get(purpose=WebhookDelivery.Purpose.SYNC)

    with deliveries_worker("sync", log) as worker:
        wait_for(receiver.got_request.is_set, 30, "the sync post", log)
        worker.kill()  # SIGKILL mid-post
        worker.wait(timeout=10)
    receiver.release.set()
    assert WebhookAttempt.objects.get(delivery=delivery).finished_at is None

    # The lease of the dead worker has passed; its retry is an hour away, as later in
    # the schedule.
    retry_at = timezone.now() + timedelta(hours=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now(), next_attempt_at=retry_at
    )
    assert dispatch_due_webhooks() == 0  # beat's next pass: nothing due to send
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == ("pending", retry_at)
    assert WebhookAttempt.objects.get(delivery=delivery).error.startswith("Interrupted")
    failed = Submission.objects.get(pk=submission.pk)
    assert (failed.status, failed.sync_attempts) == ("approved", 1)
    assert failed.sync_next_attempt_at == delivery.next_attempt_at
    events = SubmissionEvent.objects.filter(submission=submission).order_by("id")
    assert list(events.values_list("type", "details__attempt")) == [
        ("approved", None),
        ("sync_failed", 1),
    ]

    with deliveries_worker("sync-retry", log):
        make_due(delivery)  # the retry is due
        assert dispatch_due_webhooks() == 1
        wait_for(
            lambda: Submission.objects.get(pk=submission.pk).status == "synced",
            30,
            "the retry",
            log,
        )
    synced = Submission.objects.get(pk=submission.pk)
    assert synced.sync_attempts == 2
    types = SubmissionEvent.objects.filter(submission=submission).values_list("type", flat=True)
    assert list(types.order_by("id")) == ["approved", "sync_failed", "synced"]
