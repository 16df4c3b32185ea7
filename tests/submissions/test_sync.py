"""Approval starts the downstream sync, sent by the webhook delivery machinery: leases,
the webhook retry schedule, the private-target guard, no proxies, a per-company secret."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from steve.services import workflow_publish
from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from submissions.sync import sync_event_id, sync_queue
from tests.factories import CompanyFactory, SubmissionFactory
from tests.jobs.test_database_blip import blip_after_each_answer
from tests.receiver import http_receiver
from webhooks.delivery import deliver, signing_secrets
from webhooks.models import WebhookDelivery
from webhooks.services import sync_secret_get_or_create, sync_secret_rotate
from webhooks.verify import verify_webhook

pytestmark = pytest.mark.django_db


def with_sync_target(submission: Submission, url: str) -> Submission:
    version = workflow_publish(
        company=submission.company,
        slug=submission.workflow.slug,
        name=submission.workflow.name,
        sync_url=url,
    )
    Submission.objects.filter(pk=submission.pk).update(workflow_version=version)
    submission.refresh_from_db()
    return submission


def approved_with_target(url: str) -> tuple[Submission, WebhookDelivery]:
    submission = with_sync_target(SubmissionFactory(), url)
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    return submission, WebhookDelivery.objects.get(purpose=WebhookDelivery.Purpose.SYNC)


def event_types(submission: Submission) -> list[str]:
    events = SubmissionEvent.objects.filter(submission=submission).order_by("id")
    return list(events.values_list("type", flat=True))


def test_approval_without_a_target_ends_at_approved():
    submission = SubmissionFactory()
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    assert Submission.objects.get(pk=submission.pk).status == "approved"
    assert not WebhookDelivery.objects.filter(purpose=WebhookDelivery.Purpose.SYNC).exists()


def test_a_sandbox_approval_is_never_posted_downstream():
    # Workflows (and their sync_url) are shared by both environments: a sandbox approval
    # posted downstream, signed with the company's secret, read as a real one.
    submission = with_sync_target(SubmissionFactory(environment="sandbox"), "https://example.com/")
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    assert Submission.objects.get(pk=submission.pk).status == "approved"
    assert not WebhookDelivery.objects.filter(purpose=WebhookDelivery.Purpose.SYNC).exists()


def test_sync_retries_on_the_webhook_schedule_then_marks_synced(
    django_capture_on_commit_callbacks,
):
    with http_receiver() as receiver:
        receiver.statuses = [503]
        submission = with_sync_target(SubmissionFactory(), f"{receiver.url}/erp")
        _, secret, _ = sync_secret_rotate(company_id=submission.company_id, grace=timedelta(0))
        with django_capture_on_commit_callbacks() as callbacks:
            submission_approve(submission_id=submission.pk, actor=Actor.system())
        assert len(callbacks) == 1  # the first attempt, queued after commit
        delivery = WebhookDelivery.objects.get(purpose=WebhookDelivery.Purpose.SYNC)
        assert delivery.url == f"{receiver.url}/erp"
        assert delivery.event_id == sync_event_id(submission.pk)

        deliver(delivery.pk)
        failed = Submission.objects.get(pk=submission.pk)
        assert failed.status == "approved" and failed.sync_attempts == 1
        # The webhook schedule's first retry: ~5 s (±10 %), not the old 30 s.
        wait = failed.sync_next_attempt_at - timezone.now()
        assert timedelta(seconds=3) < wait < timedelta(seconds=6)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        deliver(delivery.pk)
    synced = Submission.objects.get(pk=submission.pk)
    assert synced.status == "synced"
    assert event_types(synced) == ["approved", "sync_failed", "synced"]
    # Every attempt counts, the one that got through too (it stayed at the failures').
    assert (synced.sync_attempts, synced.sync_next_attempt_at) == (2, None)
    last = receiver.requests[-1]
    assert json.loads(last.body)["submission"]["id"] == submission.pk
    assert verify_webhook(secret, last.headers, last.body)["submission"]["id"] == submission.pk
    log = WebhookDelivery.objects.get(pk=delivery.pk).log.order_by("number")
    assert [attempt.status_code for attempt in log] == [503, 200]  # the delivery log


@pytest.mark.django_db(transaction=True)  # the test drops its own connection
def test_a_sync_answer_that_meets_a_database_blip_marks_it_synced_and_posts_once(monkeypatch):
    """PostgreSQL restarting while the target answers: lost, the 200 was taken for an
    interrupted attempt after the lease, and the submission posted downstream twice."""
    blip_after_each_answer(monkeypatch)
    with http_receiver() as receiver:
        submission, delivery = approved_with_target(f"{receiver.url}/erp")
        try:
            deliver(delivery.pk)
        finally:
            connection.close()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            locked_until=timezone.now() - timedelta(seconds=1)
        )
        deliver(delivery.pk)  # the lease has passed: a second worker looks
    synced = Submission.objects.get(pk=submission.pk)
    assert synced.status == "synced"
    assert event_types(synced) == ["approved", "synced"]
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_one_sync_post_it_once():
    with http_receiver() as receiver:
        receiver.delay = 0.5  # the first post is still in flight when the second worker looks
        submission, delivery = approved_with_target(f"{receiver.url}/erp")
        sync_queue(submission=Submission.objects.get(pk=submission.pk))  # queued twice: one row
        assert WebhookDelivery.objects.filter(purpose=WebhookDelivery.Purpose.SYNC).count() == 1
        start = threading.Barrier(2)

        def worker() -> None:
            try:
                start.wait()
                deliver(delivery.pk)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(receiver.requests) == 1
    assert Submission.objects.get(pk=submission.pk).status == "synced"
    assert event_types(submission).count("synced") == 1


def test_sync_to_a_private_target_is_refused(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with http_receiver() as receiver:
        submission, delivery = approved_with_target(f"{receiver.url}/erp")
        deliver(delivery.pk)
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("Target refused")
    assert Submission.objects.get(pk=submission.pk).status == "approved"
    assert event_types(submission) == ["approved", "sync_failed"]


def test_sync_ignores_proxy_variables(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with http_receiver() as receiver:
        submission, delivery = approved_with_target(f"{receiver.url}/erp")
        deliver(delivery.pk)
    assert len(receiver.requests) == 1
    assert Submission.objects.get(pk=submission.pk).status == "synced"


def test_sync_secret_is_generated_per_company_and_independent_of_secret_key(settings):
    first, second = CompanyFactory(), CompanyFactory()
    secret = sync_secret_get_or_create(company_id=first.pk).secret
    assert secret.startswith("whsec_")
    assert secret != sync_secret_get_or_create(company_id=second.pk).secret
    assert settings.SECRET_KEY.encode().hex()[:16] not in secret
    delivery = WebhookDelivery(company=first, purpose=WebhookDelivery.Purpose.SYNC)
    settings.SECRET_KEY = "another-secret-key"
    assert signing_secrets(delivery) == [secret]  # SECRET_KEY plays no part


def test_rotated_sync_secret_keeps_the_old_one_signing_for_the_grace_period():
    company = CompanyFactory()
    old = sync_secret_get_or_create(company_id=company.pk).secret
    _, new, _ = sync_secret_rotate(company_id=company.pk, grace=timedelta(hours=1))
    delivery = WebhookDelivery(company=company, purpose=WebhookDelivery.Purpose.SYNC)
    assert signing_secrets(delivery) == [new, old]
    _, newest, _ = sync_secret_rotate(company_id=company.pk, grace=timedelta(0))
    assert signing_secrets(delivery) == [newest]


def test_a_sync_that_succeeded_is_not_posted_again():
    from webhooks.services import WebhookError, delivery_redeliver

    _, delivery = approved_with_target("https://example.com/erp")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="delivered")
    with pytest.raises(WebhookError) as refused:
        delivery_redeliver(delivery_id=delivery.pk)
    assert refused.value.code == "SYNC_DELIVERED"
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered"


def test_a_sync_redelivered_while_its_attempt_is_in_flight_is_posted_once_when_that_succeeds(
    django_capture_on_commit_callbacks,
):
    """Unlike a webhook's (which goes once more after the attempt in flight), a sync's
    redelivery is a retry now: its attempt's 2xx posted it, and it is posted once."""
    from webhooks.delivery import Outcome, claim, record
    from webhooks.services import delivery_redeliver

    submission, delivery = approved_with_target("https://example.com/erp")
    _, attempt = claim(delivery.pk)  # the post is in flight
    delivery_redeliver(delivery_id=delivery.pk)  # "Redeliver now" meanwhile
    with django_capture_on_commit_callbacks() as callbacks:
        record(delivery.pk, attempt, Outcome(status_code=200, body="", error="", latency_ms=1))
    assert callbacks == []  # nothing more to send
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert Submission.objects.get(pk=submission.pk).status == "synced"
    assert claim(delivery.pk) is None


def test_a_redirect_is_logged_as_the_failure_it_is():
    with http_receiver() as receiver:
        receiver.statuses = [302]
        submission = with_sync_target(SubmissionFactory(), f"{receiver.url}/erp")
        submission_approve(submission_id=submission.pk, actor=Actor.system())
        delivery = WebhookDelivery.objects.get(purpose=WebhookDelivery.Purpose.SYNC)
        deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_error == "HTTP 302"


def test_retention_drops_a_waiting_sync_and_blanks_the_results_it_posted():
    from jobs.services import _purge_one

    waiting, delivery = approved_with_target("https://example.com/erp")
    Submission.objects.filter(pk=waiting.pk).update(ai_summary="Receipt from KEDAI X, MYR 9")
    synced = with_sync_target(SubmissionFactory(), "https://example.com/erp")
    submission_approve(submission_id=synced.pk, actor=Actor.system())
    posted = WebhookDelivery.objects.get(event_id=sync_event_id(synced.pk))
    WebhookDelivery.objects.filter(pk=posted.pk).update(status="delivered")
    for submission in (waiting, synced):
        _purge_one(submission.pk, submission.company_id)

    # The failed or pending sync would have posted purged data: it is gone.
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    posted.refresh_from_db()
    assert posted.payload["submission"]["extractedData"] is None
    # Still the shape the receiver was sent, should it be redelivered.
    assert posted.payload["submission"]["resultsPurgedAt"] is not None
    assert posted.payload["eventId"] == sync_event_id(synced.pk)  # its idempotency key
    assert [f["downloadUrl"] for f in posted.payload["submission"]["files"]] == [None] * len(
        posted.payload["submission"]["files"]
    )
    purged = Submission.objects.get(pk=waiting.pk)
    assert purged.ai_summary == "" and purged.extracted_data is None


def test_retention_blanks_the_results_in_a_sessions_webhook_payloads():
    from webhooks.services import deliveries_forget_results

    company = CompanyFactory()
    result = {"extractedData": {"totalAmount": 9.0}, "confidence": 0.9, "fraudStatus": "clean"}
    webhook = WebhookDelivery.objects.create(
        company=company,
        url="https://example.com/",
        session_id="ses_x",
        event_id="evt_1",
        event_type="session.completed",
        payload={"result": result},
    )
    deliveries_forget_results(session_id="ses_x", sync_event_id=sync_event_id("sub_x"))
    webhook.refresh_from_db()
    assert webhook.payload["result"] == {
        "extractedData": None,
        "confidence": 0.9,
        "fraudStatus": "clean",
    }


def test_a_late_2xx_of_an_attempt_whose_lease_ran_out_is_logged_under_its_own_number():
    """A worker that outlived its lease (another attempt began meanwhile) got the 2xx:
    the synced event named the newer attempt, which was still in flight."""
    from webhooks.delivery import Outcome, claim, record

    submission, delivery = approved_with_target("https://example.com/erp")
    _, first = claim(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    _, second = claim(delivery.pk)  # the lease ran out: another worker's attempt
    record(delivery.pk, first, Outcome(status_code=200, body="", error="", latency_ms=1))
    synced = SubmissionEvent.objects.get(submission=submission, type="synced")
    assert synced.details == {"statusCode": 200, "attempt": first.number}
    assert second.number == first.number + 1


@pytest.mark.parametrize("status_code", [200, 500])
def test_an_attempt_answering_after_the_retention_purge_dropped_its_sync_is_let_go(
    status_code,
):
    """The purge drops a sync still waiting, its attempt log too, while a worker's post
    may be in flight: recording that answer raised DoesNotExist, a failed task each time."""
    from jobs.services import _purge_one
    from webhooks.delivery import Outcome, claim, record

    submission, delivery = approved_with_target("https://example.com/erp")
    _, attempt = claim(delivery.pk)  # the post is in flight
    _purge_one(submission.pk, submission.company_id)
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    error = "" if status_code == 200 else "HTTP 500"
    record(delivery.pk, attempt, Outcome(status_code, "", error, 1))  # does not raise
    purged = Submission.objects.get(pk=submission.pk)
    assert purged.status == "approved" and purged.results_purged_at is not None
    assert event_types(purged) == ["approved", "sync_dropped", "results_purged"]


def test_a_2xx_arriving_after_the_sync_was_given_up_marks_it_synced():
    """The last attempt's worker outlived its lease: beat's next claim gave the sync up
    (sync_abandoned), then the 2xx came. It was dropped, so the submission stayed
    approved though the target had it, and a redelivery posted it a second time."""
    from webhooks.delivery import MAX_ATTEMPTS, Outcome, claim, record
    from webhooks.services import WebhookError, delivery_redeliver

    submission, delivery = approved_with_target("https://example.com/erp")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    _, last = claim(delivery.pk)  # the last attempt of the budget, in flight
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    assert claim(delivery.pk) is None  # its lease ran out: given up as interrupted
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"
    assert event_types(submission)[-1] == "sync_abandoned"

    record(delivery.pk, last, Outcome(status_code=200, body="", error="", latency_ms=1))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("delivered", 200)
    synced = Submission.objects.get(pk=submission.pk)
    assert synced.status == "synced"
    assert event_types(synced)[-2:] == ["sync_abandoned", "synced"]
    with pytest.raises(WebhookError) as refused:
        delivery_redeliver(delivery_id=delivery.pk)  # not posted a second time
    assert refused.value.code == "SYNC_DELIVERED"


def sync_failures(submission: Submission) -> list[dict]:
    events = SubmissionEvent.objects.filter(submission=submission, type="sync_failed")
    return list(events.order_by("id").values_list("details", flat=True))


@pytest.mark.parametrize("late_answer", [500, 200])
def test_beat_records_a_sync_attempt_whose_lease_lapsed_once_and_schedules_its_retry(
    monkeypatch, late_answer
):
    """The worker of the fourth attempt died mid-post: nothing said so until the next
    claim, two hours on, while the submission showed a next attempt in the past."""
    from webhooks.delivery import INTERRUPTED, Outcome, claim, record
    from webhooks.tasks import deliver_webhook, dispatch_due_webhooks

    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    submission, delivery = approved_with_target("https://example.com/erp")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=3)
    _, fourth = claim(delivery.pk)  # then its worker dies: no answer is recorded
    lapsed = timezone.now() - timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=lapsed)

    assert dispatch_due_webhooks() == 0  # beat's next pass: not due again for hours
    assert queued == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.locked_until) == ("pending", 4, None)
    assert delivery.last_error == INTERRUPTED
    # The schedule's fourth retry (2 h ±10 %), as the claim scheduled it.
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(minutes=105) < wait < timedelta(minutes=135)
    logged = delivery.log.get(number=4)
    assert logged.finished_at is not None and logged.error == INTERRUPTED
    pending = Submission.objects.get(pk=submission.pk)
    assert pending.status == "approved" and pending.sync_attempts == 4
    assert pending.sync_next_attempt_at == delivery.next_attempt_at
    (failure,) = sync_failures(submission)
    assert (failure["attempt"], failure["statusCode"], failure["error"]) == (4, None, INTERRUPTED)

    dispatch_due_webhooks()  # another pass finds nothing more to record
    error = "" if late_answer == 200 else "HTTP 500"
    record(delivery.pk, fourth, Outcome(late_answer, "", error, 1))  # the worker's answer, late
    assert len(sync_failures(submission)) == 1  # never counted a second time
    delivery.refresh_from_db()
    after = Submission.objects.get(pk=submission.pk)
    if late_answer == 200:  # the target has it: synced, not posted again
        assert (delivery.status, after.status) == ("delivered", "synced")
        assert event_types(after) == ["approved", "sync_failed", "synced"]
    else:  # nothing changes: the retry stays as scheduled
        assert (delivery.status, delivery.attempts) == ("pending", 4)
        assert after.sync_next_attempt_at == pending.sync_next_attempt_at
        assert event_types(after) == ["approved", "sync_failed"]


def test_a_claim_that_finds_a_lapsed_lease_first_logs_that_attempt_once():
    """Beat's claim got to the lapsed lease before its sweep: the claim closed the log
    entry, but the submission never heard of the attempt."""
    from webhooks.delivery import INTERRUPTED, Outcome, claim, record

    submission, delivery = approved_with_target("https://example.com/erp")
    _, first = claim(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1),
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    _, second = claim(delivery.pk)  # the retry, made now
    assert second.number == 2
    (failure,) = sync_failures(submission)
    assert (failure["attempt"], failure["error"]) == (1, INTERRUPTED)
    record(delivery.pk, first, Outcome(503, "", "HTTP 503", 1))  # the first one's answer, late
    assert len(sync_failures(submission)) == 1
    record(delivery.pk, second, Outcome(500, "", "HTTP 500", 1))
    assert [f["attempt"] for f in sync_failures(submission)] == [1, 2]
    assert Submission.objects.get(pk=submission.pk).sync_attempts == 2


@pytest.mark.parametrize("given_up", [False, True])
def test_retention_dropping_an_unsent_sync_says_so_and_shows_no_next_attempt(given_up):
    """The purge dropped the sync still retrying, and the submission went on showing the
    next attempt (sync_next_attempt_at) that would never come, with nothing saying why."""
    from jobs.services import _purge_one
    from webhooks.delivery import MAX_ATTEMPTS, Outcome, claim, record

    submission, delivery = approved_with_target("https://example.com/erp")
    if given_up:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    _, attempt = claim(delivery.pk)
    record(delivery.pk, attempt, Outcome(503, "", "HTTP 503", 1))
    failing = Submission.objects.get(pk=submission.pk)
    assert (failing.sync_next_attempt_at is None) == given_up

    _purge_one(submission.pk, submission.company_id)
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    purged = Submission.objects.get(pk=submission.pk)
    assert purged.status == "approved" and purged.sync_next_attempt_at is None
    assert purged.sync_attempts == failing.sync_attempts
    failure = "sync_abandoned" if given_up else "sync_failed"
    assert event_types(purged) == ["approved", failure, "sync_dropped", "results_purged"]
    dropped = SubmissionEvent.objects.get(submission=submission, type="sync_dropped")
    assert dropped.details == {
        "reason": "retention",
        "deliveryId": delivery.pk,
        "deliveryStatus": "failed" if given_up else "pending",
        "attempts": failing.sync_attempts,
    }


def test_retention_of_a_synced_submission_drops_no_sync():
    from jobs.services import _purge_one

    submission, delivery = approved_with_target("https://example.com/erp")
    with http_receiver() as receiver:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(url=f"{receiver.url}/erp")
        deliver(delivery.pk)
    _purge_one(submission.pk, submission.company_id)
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    assert event_types(submission) == ["approved", "synced", "results_purged"]


def test_a_given_up_sync_outlives_the_webhook_log_purge_until_its_submissions_retention():
    """The hourly purge of old deliveries (WEBHOOKS_RETENTION_DAYS) deleted a sync given
    up, first when its sweep ran before the submission's: the operator could no longer
    resend it, and the retention purge then found nothing to drop, so the submission
    stayed `approved` for good with no `sync_dropped` event saying why."""
    from jobs.services import _purge_one
    from webhooks.delivery import MAX_ATTEMPTS, Outcome, claim, deliveries_purge, record

    submission, delivery = approved_with_target("https://example.com/erp")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    _, last = claim(delivery.pk)
    record(delivery.pk, last, Outcome(503, "", "HTTP 503", 1))
    assert event_types(submission)[-1] == "sync_abandoned"
    old = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=old)

    assert deliveries_purge(older_than=timedelta(days=30)) == 0
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"  # still resendable
    _purge_one(submission.pk, submission.company_id)
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    assert event_types(submission)[-2:] == ["sync_dropped", "results_purged"]


def test_the_webhook_log_purge_still_forgets_old_delivered_syncs():
    from webhooks.delivery import deliveries_purge

    _, delivery = approved_with_target("https://example.com/erp")
    old = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="delivered", created_at=old)
    assert deliveries_purge(older_than=timedelta(days=30)) == 1


def sync_of(submission: Submission) -> WebhookDelivery:
    return WebhookDelivery.objects.get(event_id=sync_event_id(submission.pk))


def failing_sync_in_flight(url: str) -> Submission:
    """An approved submission whose sync failed once and whose retry is in flight now."""
    from webhooks.delivery import Outcome, claim, record

    submission = with_sync_target(SubmissionFactory(), url)
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    delivery = sync_of(submission)
    _, first = claim(delivery.pk)
    record(delivery.pk, first, Outcome(503, "", "HTTP 503", 1))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert claim(delivery.pk) is not None  # the retry, in flight
    return submission


@pytest.mark.parametrize("retrying", [False, True])
def test_a_failing_sync_target_has_one_attempt_in_flight_and_the_others_wait(retrying):
    """A sync target that times out held a worker of the shared deliveries queue for 15 s
    per approval and per retry (only webhook endpoints had the failing-receiver limit), so
    a burst of approvals to a dead target queued every company's webhooks behind it."""
    from webhooks.delivery import claim

    url = "https://example.com/erp"
    first = failing_sync_in_flight(url)
    other = SubmissionFactory(company=first.company)
    other = with_sync_target(other, url)
    submission_approve(submission_id=other.pk, actor=Actor.system())
    waiting = sync_of(other)
    if retrying:  # its own first attempt failed too (the other's was in flight)
        WebhookDelivery.objects.filter(pk=waiting.pk).update(
            attempts=1, last_status_code=503, last_error="HTTP 503"
        )
        waiting.refresh_from_db()

    assert claim(waiting.pk) is None
    held = WebhookDelivery.objects.get(pk=waiting.pk)
    assert held.attempts == waiting.attempts and held.queued_until is None  # none counted
    wait = held.next_attempt_at - timezone.now()
    assert timedelta(seconds=5) < wait <= timedelta(seconds=10)
    # Once nothing is in flight to that target, it is sent.
    WebhookDelivery.objects.filter(pk=sync_of(first).pk).update(locked_until=None)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    assert claim(waiting.pk) is not None


def test_beat_queues_a_failing_sync_targets_waiting_posts_one_at_a_time():
    """Each sync post waiting on a dead target was queued, refused and pushed back 10 s
    again and again: a burst of approvals made a no-op message per post every ~10 s."""
    from webhooks.delivery import claim_due

    url = "https://example.com/erp"
    first = failing_sync_in_flight(url)
    waiting = []
    for seconds in (3, 2, 1):
        other = with_sync_target(SubmissionFactory(company=first.company), url)
        submission_approve(submission_id=other.pk, actor=Actor.system())
        WebhookDelivery.objects.filter(pk=sync_of(other).pk).update(
            attempts=1,
            last_error="HTTP 503",
            next_attempt_at=timezone.now() - timedelta(seconds=seconds),
            queued_until=None,
        )
        waiting.append(sync_of(other).pk)
    assert claim_due() == []  # the retry in flight holds them all
    WebhookDelivery.objects.filter(pk=sync_of(first).pk).update(locked_until=None)
    assert claim_due() == [waiting[0]]  # then one, the one due first
    assert claim_due() == []


def test_a_healthy_sync_target_and_another_companys_are_sent_to_in_parallel():
    from webhooks.delivery import claim

    url = "https://example.com/erp"
    first = with_sync_target(SubmissionFactory(), url)
    submission_approve(submission_id=first.pk, actor=Actor.system())
    assert claim(sync_of(first).pk) is not None  # in flight, nothing failed
    same = with_sync_target(SubmissionFactory(company=first.company), url)
    submission_approve(submission_id=same.pk, actor=Actor.system())
    assert claim(sync_of(same).pk) is not None

    failing_sync_in_flight("https://example.org/erp")
    elsewhere = with_sync_target(SubmissionFactory(), "https://example.org/erp")
    submission_approve(submission_id=elsewhere.pk, actor=Actor.system())
    assert claim(sync_of(elsewhere).pk) is not None  # another company's target


@pytest.mark.django_db(transaction=True)
def test_two_workers_retrying_syncs_to_one_failing_target_send_one_at_a_time():
    from webhooks.delivery import claim

    url = "https://example.com/erp"
    company = CompanyFactory()
    deliveries = []
    for _ in range(2):
        submission = with_sync_target(SubmissionFactory(company=company), url)
        submission_approve(submission_id=submission.pk, actor=Actor.system())
        deliveries.append(sync_of(submission))
    WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        attempts=1, last_status_code=503, last_error="HTTP 503"
    )
    start = threading.Barrier(2)
    claimed: list[bool] = []

    def worker(delivery_id: str) -> None:
        try:
            start.wait()
            claimed.append(claim(delivery_id) is not None)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(d.pk,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == [False, True]


def test_a_sync_targets_retry_after_holds_its_other_posts_till_then(monkeypatch):
    """An ERP in maintenance answers 503 with Retry-After: 600. Only the post that got
    the answer waited: every other approval's post went at once, and each retry of
    theirs at its own schedule, so the target was hammered for the whole ten minutes."""
    from webhooks.delivery import claim_due

    start = timezone.now()
    clock = {"now": start}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    with http_receiver() as receiver:
        receiver.statuses = [503]
        receiver.headers = {"Retry-After": "600"}
        url = f"{receiver.url}/erp"
        asked, delivery = approved_with_target(url)
        deliver(delivery.pk)
        other = with_sync_target(SubmissionFactory(company=asked.company), url)
        submission_approve(submission_id=other.pk, actor=Actor.system())
        waiting = sync_of(other)
        for seconds in (5, 60, 599):
            clock["now"] = start + timedelta(seconds=seconds)
            assert claim_due() == []
            assert deliver(waiting.pk) is None  # its message, queued at the approval
        assert len(receiver.requests) == 1
        clock["now"] = start + timedelta(seconds=601)
        # One at a time till the target answers 2xx (not the whole backlog at once to a
        # target just back), the one due first (its approval) first.
        assert claim_due() == [waiting.pk]
        deliver(waiting.pk)  # 200: the target takes posts again
        assert claim_due() == [delivery.pk]
    assert Submission.objects.get(pk=other.pk).status == "synced"
    assert len(receiver.requests) == 2


def held_sync_target(receiver, monkeypatch) -> tuple[Submission, Submission, dict]:
    """A submission whose post the target answered 503 + Retry-After: 600, and another
    approved since, held; the clock stands still till the test moves it."""
    clock = {"now": timezone.now()}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    receiver.statuses = [503]
    receiver.headers = {"Retry-After": "600"}
    asked, delivery = approved_with_target(f"{receiver.url}/erp")
    deliver(delivery.pk)
    other = with_sync_target(SubmissionFactory(company=asked.company), f"{receiver.url}/erp")
    submission_approve(submission_id=other.pk, actor=Actor.system())
    receiver.headers = {}
    return asked, other, clock


def test_a_post_approved_while_its_target_holds_shows_its_next_attempt(monkeypatch):
    """Approved while the target's Retry-After held it, a submission showed no sync
    attempt and no next one (`sync_next_attempt_at` null, as a sync given up or dropped
    shows) for as long as the hold lasted, up to 24 h: an operator read "nothing
    pending" where a post was waiting. It shows its post's next attempt from the
    approval on, as it does after every attempt: the hold's end, not the approval's
    time (the post is left due, in its place, but goes no sooner than the hold ends)."""
    from webhooks.models import SyncTarget

    with http_receiver() as receiver:
        asked, other, _ = held_sync_target(receiver, monkeypatch)
        waiting = Submission.objects.get(pk=other.pk)
        delivery = sync_of(other)
        assert delivery.attempts == 0 and len(receiver.requests) == 1
    assert waiting.status == "approved"
    held_until = SyncTarget.objects.get(company=asked.company).held_until
    assert delivery.next_attempt_at < held_until
    assert waiting.sync_next_attempt_at == held_until


def test_sync_again_ends_its_targets_hold_and_the_held_posts_follow_its_2xx(monkeypatch):
    """The admin's "sync again" (Redeliver now on the sync delivery) is their word that
    the target takes posts again, as for an endpoint: it goes at once."""
    from webhooks.delivery import claim_due
    from webhooks.models import SyncTarget
    from webhooks.services import delivery_redeliver

    with http_receiver() as receiver:
        asked, other, clock = held_sync_target(receiver, monkeypatch)
        clock["now"] += timedelta(seconds=10)
        assert deliver(sync_of(other).pk) is None  # held
        delivery_redeliver(delivery_id=sync_of(asked).pk)
        target = SyncTarget.objects.get(company=asked.company)
        assert target.held_until == clock["now"]  # ended now: not held, still failing
        assert deliver(sync_of(asked).pk).status_code == 200  # its message, at commit
        target.refresh_from_db()
        assert target.held_until is None  # the 2xx: the target is well again
        assert claim_due() == [sync_of(other).pk]
        deliver(sync_of(other).pk)
    assert [s.status for s in Submission.objects.filter(pk__in=[asked.pk, other.pk])] == [
        "synced",
        "synced",
    ]
    assert len(receiver.requests) == 3


def test_a_workflow_moved_to_another_sync_url_posts_there_unheld(monkeypatch):
    """The hold is the old target's: a version published with another sync_url moves
    the posts waiting on the old one there (test_sync_retarget), and they go at once,
    the approvals made under it too. (Before, the old one's posts kept their URL and
    its hold: a mistyped sync_url, once corrected, still had them fail at the typo.)"""
    from webhooks.delivery import claim_due

    with http_receiver() as receiver, http_receiver() as moved:
        asked, other, clock = held_sync_target(receiver, monkeypatch)
        elsewhere = with_sync_target(SubmissionFactory(company=asked.company), f"{moved.url}/erp")
        submission_approve(submission_id=elsewhere.pk, actor=Actor.system())
        clock["now"] += timedelta(seconds=10)
        assert deliver(sync_of(elsewhere).pk).status_code == 200
        assert deliver(sync_of(other).pk).status_code == 200  # moved: not held there
        assert deliver(sync_of(asked).pk).status_code == 200  # a fresh budget, at once
        assert claim_due() == []
    synced = Submission.objects.filter(pk__in=[asked.pk, other.pk, elsewhere.pk])
    assert {submission.status for submission in synced} == {"synced"}
    assert len(moved.requests) == 3 and len(receiver.requests) == 1


def test_a_sync_post_names_itself_in_its_signed_body_the_same_on_every_attempt():
    """A sync post's only id was the X-Webhook-Id header, which Steve's own signature
    (timestamp.body) does not cover, and its body, `{"submission": …}`, had none: the
    docs' receiver, de-duplicating by the body's eventId, raised KeyError on every sync
    post and Steve retried it for three days. It carries its id and type, as a
    webhook's envelope does: signed, and the same for every attempt and redelivery."""
    from webhooks.services import delivery_redeliver

    with http_receiver() as receiver:
        receiver.statuses = [503]
        submission = with_sync_target(SubmissionFactory(), f"{receiver.url}/erp")
        _, secret, _ = sync_secret_rotate(company_id=submission.company_id, grace=timedelta(0))
        submission_approve(submission_id=submission.pk, actor=Actor.system())
        delivery = WebhookDelivery.objects.get(purpose=WebhookDelivery.Purpose.SYNC)
        deliver(delivery.pk)  # 503
        delivery_redeliver(delivery_id=delivery.pk)  # "sync again", at once
        deliver(delivery.pk)  # 200
    assert Submission.objects.get(pk=submission.pk).status == "synced"
    first, second = receiver.requests
    assert first.body == second.body
    for request in (first, second):
        body = verify_webhook(secret, request.headers, request.body)
        assert body["eventId"] == sync_event_id(submission.pk)
        assert body["eventId"] == request.headers["X-Webhook-Id"] == request.headers["webhook-id"]
        assert body["eventType"] == "submission.sync" == request.headers["X-Webhook-Event"]
        assert body["submission"]["id"] == submission.pk
    other = with_sync_target(SubmissionFactory(company=submission.company), f"{receiver.url}/erp")
    submission_approve(submission_id=other.pk, actor=Actor.system())
    assert sync_of(other).payload["eventId"] != sync_of(submission).payload["eventId"]


def test_sync_posts_queued_before_they_carried_their_id_get_it_on_upgrade():
    """A sync still retrying when Steve is upgraded posts its stored body again: without
    the migration, that old body had no eventId for the receiver to de-duplicate by."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("webhooks.migrations.0014_sync_posts_carry_their_event_id")
    _, delivery = approved_with_target("https://example.com/erp")
    old = {"submission": delivery.payload["submission"]}
    WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=old)
    webhook = WebhookDelivery.objects.create(
        company=delivery.company,
        url="https://example.com/hook",
        event_id="evt_1",
        event_type="submission.approved",
        payload={"submissionId": "sub_1"},
    )
    migration.name_each_sync_post(apps, None)
    delivery.refresh_from_db()
    assert delivery.payload == {
        "eventId": delivery.event_id,
        "eventType": "submission.sync",
        "submission": old["submission"],
    }
    webhook.refresh_from_db()
    assert webhook.payload == {"submissionId": "sub_1"}  # a webhook's envelope is its own
