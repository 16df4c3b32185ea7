"""Delivery against a real HTTP receiver: retries, budget, 410, disabling, redelivery."""

import threading
from datetime import UTC, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from steve.broker import broker_pause
from steve.ids import new_id
from tests.jobs.test_database_blip import blip_after_each_answer, quiet_mid_transaction
from tests.webhooks.helpers import emit, make_due
from webhooks import delivery as delivery_module
from webhooks.delivery import (
    MAX_ATTEMPTS,
    RETRY_SCHEDULE,
    Outcome,
    claim,
    claim_due,
    deliver,
    next_attempt_delay,
    parse_retry_after,
    record,
)
from webhooks.models import (
    SessionWebhookTarget,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointNotice,
)
from webhooks.services import (
    TARGET_SUSPENDED,
    EndpointChanges,
    WebhookError,
    deliveries_forget_results,
    delivery_redeliver,
    endpoint_create,
    endpoint_redeliver_failed,
    endpoint_update,
    endpoints_switch,
    session_target_origin,
    session_target_suspend,
)
from webhooks.tasks import deliver_webhook, dispatch_due_webhooks, purge_old_webhook_deliveries
from webhooks.verify import verify_webhook

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("failures", [1, 3])
def test_receiver_failing_n_times_gets_the_event_once_after_n_plus_one_attempts(
    company, endpoint_with_secret, receiver, failures
):
    endpoint, secret = endpoint_with_secret
    receiver.script = [500] * failures
    (delivery,) = emit(company)
    for _ in range(failures + 1):
        deliver_webhook(delivery.pk)  # the task function itself, as a worker would run it
        make_due(delivery)
    deliver_webhook(delivery.pk)  # once delivered, nothing more is sent

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == failures + 1
    assert len(receiver.requests) == failures + 1
    assert receiver.processed_ids == [delivery.event_id]
    ids = {r.headers["x-webhook-id"] for r in receiver.requests}
    assert ids == {delivery.event_id}  # stable across retries
    log = list(delivery.log.order_by("number"))
    assert [a.status_code for a in log] == [500] * failures + [200]
    assert all(a.finished_at and a.latency_ms is not None for a in log)
    assert log[0].response_body == "answer 500" and log[0].error == "HTTP 500"
    for request in receiver.requests:
        assert verify_webhook(secret, request.headers, request.body)["eventId"] == delivery.event_id


def test_headers_of_an_attempt(company, endpoint, receiver):
    (delivery,) = emit(company, "session.completed")
    deliver(delivery.pk)
    headers = receiver.requests[0].headers
    assert headers["user-agent"] == "steve-webhook/1.0"
    assert headers["x-webhook-event"] == "session.completed"
    assert headers["x-webhook-id"] == headers["webhook-id"] == delivery.event_id
    assert headers["x-webhook-timestamp"] == headers["webhook-timestamp"]
    assert headers["x-webhook-signature"].startswith("sha256=")
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"


def test_a_failed_attempt_schedules_the_next_one_in_the_database(company, endpoint, receiver):
    receiver.default = 503
    (delivery,) = emit(company)
    before = timezone.now()
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.locked_until is None
    wait = delivery.next_attempt_at - before
    assert RETRY_SCHEDULE[0] * 0.9 <= wait <= RETRY_SCHEDULE[0] * 1.1 + timedelta(seconds=2)
    deliver(delivery.pk)  # not due yet: nothing is sent
    assert len(receiver.requests) == 1


def test_retry_after_is_honoured(company, endpoint, receiver):
    receiver.default = 429
    receiver.extra_headers = {"Retry-After": "3600"}
    (delivery,) = emit(company)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - timezone.now() > timedelta(minutes=59)


def _held_by_a_retry_after(company, receiver, monkeypatch, session_url: str = "") -> None:
    """Three deliveries to one receiver; the first to go is answered 429 with
    Retry-After: 600. The other two, due already, went at the next beat pass (≤ 5 s)
    and every few seconds after, however long the receiver asked for."""
    start = timezone.now()
    clock = {"now": start}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    receiver.script = [429]
    receiver.extra_headers = {"Retry-After": "600"}
    urls = [f"{session_url}?session={n}" if session_url else "" for n in range(3)]
    asked, first, second = (emit(company, session_url=url)[0] for url in urls)
    for seconds, delivery in ((2, first), (1, second)):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=start - timedelta(seconds=seconds), queued_until=None
        )
    deliver(asked.pk)
    for seconds in (5, 60, 599):
        clock["now"] = start + timedelta(seconds=seconds)
        assert claim_due() == []
        assert deliver(second.pk) is None  # a message queued before the answer
    assert len(receiver.requests) == 1
    clock["now"] = start + timedelta(seconds=601)
    assert claim_due() == [first.pk]  # failing now: one at a time, the one due first
    deliver(first.pk)  # answered 200: the receiver takes events again
    assert claim_due() == [second.pk, asked.pk]
    assert len(receiver.requests) == 2


@pytest.mark.parametrize(
    "form",
    [
        "{0:%a, %d %b %Y %H:%M:%S} GMT",  # IMF-fixdate, the preferred form
        "{0:%A, %d-%b-%y %H:%M:%S} GMT",  # rfc850-date (obsolete)
        "{0:%a %b} {0.day:2d} {0:%H:%M:%S %Y}",  # asctime-date (obsolete): no zone, GMT
    ],
)
def test_a_retry_after_in_any_http_date_form_holds_the_endpoint(company, endpoint, receiver, form):
    """RFC 9110 (5.6.7): a recipient of an HTTP-date MUST accept all three formats, and
    asctime's, written without a zone, is GMT like the others. It was read as no
    Retry-After at all: the receiver got the next attempt in 5 s, and its other
    deliveries at once, though it asked for an hour's rest."""
    when = (timezone.now() + timedelta(hours=1)).astimezone(UTC)
    receiver.script = [429]
    receiver.extra_headers = {"Retry-After": form.format(when)}
    (delivery,) = emit(company)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.next_attempt_at - timezone.now() > timedelta(minutes=59)
    assert endpoint.held_until is not None
    assert endpoint.held_until - timezone.now() > timedelta(minutes=59)


def test_a_retry_after_holds_the_endpoints_other_deliveries_till_then(
    company, endpoint, receiver, monkeypatch
):
    _held_by_a_retry_after(company, receiver, monkeypatch)
    endpoint.refresh_from_db()
    assert endpoint.held_until is None  # cleared by the 2xx


def test_a_retry_after_holds_the_session_url_hosts_other_deliveries_till_then(
    company, receiver, monkeypatch
):
    _held_by_a_retry_after(company, receiver, monkeypatch, session_url=receiver.url)
    assert _session_target(company, receiver.url).held_until is None


def test_a_redelivery_goes_now_whatever_retry_after_its_receiver_gave(company, endpoint, receiver):
    """An operator's "Redeliver now" is their word that the receiver takes events again."""
    receiver.script = [429]
    receiver.extra_headers = {"Retry-After": "600"}
    (delivery,) = emit(company)
    deliver(delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.held_until > timezone.now() + timedelta(seconds=590)
    delivery_redeliver(delivery_id=delivery.pk)
    assert deliver(delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED


@pytest.mark.parametrize("retry_after", ["99999999999999999999", "\u00b2"])
def test_a_retry_after_that_is_no_number_of_seconds_does_not_lose_the_answer(
    company, endpoint, receiver, retry_after
):
    """Too many seconds for a timedelta, or a latin-1 "²" (a digit to str.isdigit()):
    the attempt raised, unrecorded, and a 200 with such a header was sent again and
    again until the delivery failed."""
    receiver.extra_headers = {"Retry-After": retry_after}
    receiver.script = [503]
    (delivery,) = emit(company)
    outcome = deliver(delivery.pk)
    assert outcome is not None and outcome.status_code == 503
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.log.get().finished_at is not None
    assert delivery.next_attempt_at - timezone.now() <= delivery_module.MAX_RETRY_AFTER * 1.1
    make_due(delivery)
    deliver(delivery.pk)  # answered 200, with the same header
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 2)
    make_due(delivery)
    assert deliver(delivery.pk) is None and len(receiver.requests) == 2


@pytest.mark.parametrize("status", [200, 503])
def test_an_answer_with_a_nul_character_is_logged_and_counts(company, endpoint, receiver, status):
    """PostgreSQL text holds no NUL: the log refused such an answer (a gzip of zeros, a
    binary body), the attempt was never recorded, and a 200 was sent again and again."""
    receiver.script = [status]
    receiver.body = b"ok\x00\x00 done"
    (delivery,) = emit(company)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    attempt = delivery.log.get()
    assert attempt.finished_at is not None and attempt.status_code == status
    assert attempt.response_body == "ok\ufffd\ufffd done"
    expected = WebhookDelivery.Status.DELIVERED if status == 200 else WebhookDelivery.Status.PENDING
    assert (delivery.status, delivery.attempts, delivery.locked_until) == (expected, 1, None)


def test_retry_after_as_http_date():
    now = timezone.now()
    when = (now + timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    parsed = parse_retry_after(when, now)
    assert timedelta(seconds=118) <= parsed <= timedelta(seconds=121)
    assert parse_retry_after("soon") is None


def test_schedule_spans_about_three_days_then_gives_up():
    total = sum(RETRY_SCHEDULE, timedelta())
    assert timedelta(days=3) <= total <= timedelta(days=3.5)
    delays = [next_attempt_delay(n) for n in range(1, MAX_ATTEMPTS)]
    assert all(d is not None for d in delays)
    assert next_attempt_delay(MAX_ATTEMPTS) is None
    spread = {next_attempt_delay(3) for _ in range(20)}
    assert len(spread) > 1  # jitter


def test_budget_exhausted_marks_the_delivery_failed(company, endpoint, receiver):
    receiver.default = 500
    (delivery,) = emit(company)
    for _ in range(MAX_ATTEMPTS):
        deliver(delivery.pk)
        make_due(delivery)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == MAX_ATTEMPTS == delivery.log.count()
    assert delivery.next_attempt_at is None
    deliver(delivery.pk)
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_a_410_from_the_url_an_endpoint_moved_away_from_mid_attempt_stops_nothing(
    company, endpoint, receiver, other_receiver
):
    """The integrator retired the old receiver (it answers 410) and moved the endpoint to
    a new one while an attempt to the old URL was in flight: that 410 failed the event
    for good and disabled the endpoint, so the new receiver never got it."""
    receiver.default = 410
    (delivery,) = emit(company)
    claimed = claim(delivery.pk)
    assert claimed is not None
    in_flight, attempt = claimed
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(url=other_receiver.url))
    outcome = delivery_module.post_signed(
        url=in_flight.url,
        secrets=delivery_module.signing_secrets(in_flight),
        event_id=in_flight.event_id,
        event_type=in_flight.event_type,
        payload=in_flight.payload,
    )
    assert outcome.status_code == 410  # the old receiver's answer
    record(delivery.pk, attempt, outcome, in_flight.endpoint)

    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    make_due(delivery)
    deliver(delivery.pk)  # the retry goes to the endpoint's current URL
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert len(other_receiver.requests) == 1


def test_410_disables_the_endpoint_with_a_visible_notice(company, endpoint, receiver):
    receiver.default = 410
    (first,) = emit(company)
    deliver(first.pk)
    first.refresh_from_db()
    endpoint.refresh_from_db()
    assert first.status == WebhookDelivery.Status.FAILED
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert endpoint.notices.filter(kind=WebhookEndpointNotice.Kind.DISABLED).exists()
    # A disabled endpoint's new events are kept, failed and unsent.
    (later,) = emit(company)
    assert (later.status, later.attempts, later.last_error) == (
        WebhookDelivery.Status.FAILED,
        0,
        "The endpoint is disabled.",
    )
    assert deliver(later.pk) is None and len(receiver.requests) == 1


def test_events_of_the_time_an_endpoint_was_disabled_come_with_the_redelivery(
    company, endpoint, receiver
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    (missed,) = emit(company)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=True)
    since = timezone.now() - timedelta(hours=1)
    assert endpoint_redeliver_failed(endpoint_id=endpoint.pk, since=since) == 1
    deliver(missed.pk)
    missed.refresh_from_db()
    assert missed.status == WebhookDelivery.Status.DELIVERED
    assert len(receiver.requests) == 1


def test_an_event_type_an_endpoint_stops_subscribing_to_keeps_its_retries_and_redeliveries(
    company, receiver, monkeypatch
):
    """docs/webhooks.md: the subscription decides which events get a delivery when they
    happen; a delivery made before the change is still retried, and "redeliver what
    failed since its last success" sends it again, though new events of that type no
    longer reach the endpoint."""
    endpoint, _ = endpoint_create(
        company=company, url=receiver.url, events=["submission.approved", "submission.rejected"]
    )
    receiver.script = [500]
    (retried,) = emit(company, "submission.approved")
    deliver(retried.pk)  # fails: a retry is scheduled
    monkeypatch.setattr(delivery_module, "MAX_ATTEMPTS", 1)
    receiver.script = [500]
    (given_up,) = emit(company, "submission.approved")
    deliver(given_up.pk)  # fails with no attempt left
    endpoint_update(
        endpoint_id=endpoint.pk, changes=EndpointChanges(events=["submission.rejected"])
    )

    assert emit(company, "submission.approved") == []  # new events of the type: none
    assert endpoint_redeliver_failed(endpoint_id=endpoint.pk) == 1  # the endpoint never worked
    deliver(given_up.pk)
    given_up.refresh_from_db()
    assert given_up.status == WebhookDelivery.Status.DELIVERED
    monkeypatch.setattr(delivery_module, "MAX_ATTEMPTS", MAX_ATTEMPTS)
    make_due(retried)
    deliver(retried.pk)
    retried.refresh_from_db()
    assert retried.status == WebhookDelivery.Status.DELIVERED
    sent = [r.json["eventType"] for r in receiver.requests]
    assert sent == ["submission.approved"] * 4  # two failures, then each delivered


def test_a_failing_endpoint_has_one_attempt_in_flight_and_its_others_wait(
    company, endpoint, receiver
):
    """One company's dead receiver must not take every worker of the shared queue."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
    sending, waiting = emit(company)[0], emit(company)[0]
    WebhookDelivery.objects.filter(pk=sending.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )
    assert deliver(waiting.pk) is None
    waiting.refresh_from_db()
    assert waiting.attempts == 0 and waiting.queued_until is None
    wait = waiting.next_attempt_at - timezone.now()
    assert timedelta(seconds=5) < wait <= timedelta(seconds=10)
    assert receiver.requests == []
    # Once nothing is in flight, it is sent.
    WebhookDelivery.objects.filter(pk=sending.pk).update(locked_until=None)
    make_due(waiting)
    assert deliver(waiting.pk) is not None and len(receiver.requests) == 1


def _waiting(company, endpoint: WebhookEndpoint, count: int, due) -> list[WebhookDelivery]:
    rows = []
    for _ in range(count):
        event_id = new_id("evt")
        rows.append(
            WebhookDelivery(
                company=company,
                endpoint=endpoint,
                url=endpoint.url,
                event_id=event_id,
                event_type="submission.approved",
                payload={"eventId": event_id},
                next_attempt_at=due,
            )
        )
    return WebhookDelivery.objects.bulk_create(rows)


def test_beat_queues_one_message_for_a_failing_endpoints_waiting_deliveries(
    company, endpoint, other_company, receiver
):
    """2,000 deliveries waiting behind a dead receiver were each queued, claimed, refused
    and pushed back 10 s: 2,000 no-op messages every ~10 s ahead of every other
    company's deliveries on the shared queue. Now none while its attempt is in flight,
    then the one due first; another company's due deliveries are queued as before."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
    minute_ago = timezone.now() - timedelta(minutes=1)
    first, *waiting = _waiting(company, endpoint, 2000, minute_ago)
    WebhookDelivery.objects.filter(pk=first.pk).update(
        next_attempt_at=minute_ago - timedelta(seconds=1)
    )
    sending = _waiting(company, endpoint, 1, minute_ago)[0]
    WebhookDelivery.objects.filter(pk=sending.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )
    other, _ = endpoint_create(company=other_company, url=f"{receiver.url}/other")
    others = {d.pk for d in _waiting(other_company, other, 10, timezone.now())}
    queued: list[str] = []
    with mock.patch("webhooks.tasks.deliver_webhook.delay", side_effect=queued.append):
        dispatch_due_webhooks()
        assert set(queued) == others
        WebhookDelivery.objects.filter(pk=sending.pk).update(locked_until=None)
        queued.clear()
        dispatch_due_webhooks()
        assert queued == [first.pk]  # its one attempt at a time, the one due first
        queued.clear()
        dispatch_due_webhooks()  # its message is on the queue: nothing more
        assert queued == []


def test_a_disabled_failing_endpoints_pending_deliveries_all_fail_at_beats_next_pass(
    company, endpoint, receiver
):
    """docs: "Pending deliveries of a disabled endpoint fail without being sent". Disabled
    after days of failures (failing_since still set), its backlog was held to one attempt
    at a time though none is sent: one delivery given up per beat pass (5 s), a backlog of
    thousands shown `pending` for hours. Likewise a suspended session host's."""
    for _ in range(3):
        emit(company)
        emit(company, session_url=f"{receiver.url}/session")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
    target = SessionWebhookTarget.objects.get()
    SessionWebhookTarget.objects.filter(pk=target.pk).update(failing_since=timezone.now())
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    session_target_suspend(target_id=target.pk, reason="Failing for days.")
    WebhookDelivery.objects.update(queued_until=None)  # their first messages were lost
    with mock.patch("webhooks.tasks.deliver_webhook.delay", side_effect=deliver_webhook):
        dispatch_due_webhooks()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    assert receiver.requests == []


def test_a_disabled_endpoints_deliveries_fail_at_once_though_its_retry_after_still_holds(
    company, endpoint, receiver
):
    """A receiver answering 503 with a Retry-After (a maintenance page) for days is disabled
    by the answer that also holds it (up to a day, MAX_RETRY_AFTER). Nothing is sent to a
    disabled endpoint or a suspended host, and claim() gives their deliveries up before it
    looks at a hold, yet beat left them out as held: the backlog stayed `pending` until
    the hold ran out, a day after the endpoint was disabled."""
    for _ in range(3):
        emit(company)
        emit(company, session_url=f"{receiver.url}/session")
    target = SessionWebhookTarget.objects.get()
    held = {"failing_since": timezone.now(), "held_until": timezone.now() + timedelta(hours=20)}
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**held)
    SessionWebhookTarget.objects.filter(pk=target.pk).update(**held)
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    session_target_suspend(target_id=target.pk, reason="Failing for days.")
    WebhookDelivery.objects.update(queued_until=None)  # their first messages were lost
    with mock.patch("webhooks.tasks.deliver_webhook.delay", side_effect=deliver_webhook):
        dispatch_due_webhooks()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    assert receiver.requests == []


def test_a_healthy_endpoint_is_sent_to_in_parallel(company, endpoint, receiver):
    sending, other = emit(company)[0], emit(company)[0]
    WebhookDelivery.objects.filter(pk=sending.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )
    assert deliver(other.pk) is not None and len(receiver.requests) == 1


def test_one_failure_after_a_quiet_spell_starts_a_new_run_and_disables_nothing(
    company, endpoint, receiver
):
    """An outage days ago left failing_since set; no traffic since. One failure now is
    the first of a new run, not the sixth day of the old one."""
    receiver.default = 503
    days_ago = timezone.now() - timedelta(days=6)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=days_ago, last_failure_at=days_ago
    )
    (delivery,) = emit(company)
    deliver(delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert endpoint.failing_since > timezone.now() - timedelta(minutes=1)


def test_an_endpoint_failing_for_days_is_disabled(company, endpoint, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER_FAILING_HOURS = 72
    receiver.default = 500
    (delivery,) = emit(company)
    deliver(delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is not None
    endpoint.failing_since = timezone.now() - timedelta(hours=73)
    endpoint.save()
    make_due(delivery)
    deliver(delivery.pk)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.notices.get(kind="disabled").message == (
        "Every attempt failed for more than 72 hours."
    )
    make_due(delivery)
    deliver(delivery.pk)  # pending deliveries of a disabled endpoint fail without sending
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert len(receiver.requests) == 2


def test_a_success_clears_the_failing_streak(company, endpoint, receiver):
    receiver.script = [500]
    (delivery,) = emit(company)
    deliver(delivery.pk)
    make_due(delivery)
    deliver(delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def _interrupt(delivery: WebhookDelivery) -> None:
    """An attempt whose worker dies mid-request, recorded by beat once its lease lapses."""
    assert claim(delivery.pk) is not None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    dispatch_due_webhooks()
    assert delivery.log.get(number=1).error.startswith("Interrupted")


def test_an_interrupted_attempt_neither_starts_nor_ends_a_failing_run(
    company, endpoint, monkeypatch, settings
):
    """A dying worker is Steve's fault, not the receiver's: it is no failure of the
    endpoint (no run starts, none long enough disables it) and no success either."""
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: None)
    (healthy,) = emit(company)
    _interrupt(healthy)
    endpoint.refresh_from_db()
    assert (endpoint.failing_since, endpoint.last_failure_at) == (None, None)

    settings.WEBHOOKS_DISABLE_AFTER_FAILING_HOURS = 24
    since = timezone.now() - timedelta(hours=48)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=since, last_failure_at=timezone.now() - timedelta(hours=1)
    )
    (failing,) = emit(company)
    _interrupt(failing)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == since


def test_an_interrupted_attempt_does_not_split_a_failing_run_in_two(
    company, endpoint, receiver, monkeypatch, settings
):
    """Retries 20 h and 24 h apart: with the attempt between two failures interrupted,
    they were 44 h apart, longer than FAILURE_RUN_GAP, so the second began a new run;
    an endpoint failing for days was never disabled as long as workers died now and then."""
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: None)
    settings.WEBHOOKS_DISABLE_AFTER_FAILING_HOURS = 72
    since = timezone.now() - timedelta(hours=56)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=since, last_failure_at=timezone.now() - timedelta(hours=20)
    )
    (delivery,) = emit(company)
    _interrupt(delivery)
    # The next retry fails, 24 h after the interrupted attempt.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=F("failing_since") - timedelta(hours=24),
        last_failure_at=F("last_failure_at") - timedelta(hours=24),
    )
    receiver.default = 503
    make_due(delivery)
    deliver(delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == since - timedelta(hours=24)
    assert not endpoint.enabled  # 80 h of nothing but failures (and an interruption)


def test_a_claimed_delivery_is_not_sent_by_a_second_worker(company, endpoint, receiver):
    (delivery,) = emit(company)
    assert claim(delivery.pk) is not None  # worker one holds the lease, mid-request
    assert deliver(delivery.pk) is None  # worker two (a duplicate message) sends nothing
    assert receiver.requests == []


def test_an_interrupted_attempt_is_logged_and_retried_after_the_lease(company, endpoint, receiver):
    (delivery,) = emit(company)
    claimed = claim(delivery.pk)  # then the worker dies: no outcome is ever recorded
    assert claimed is not None
    assert dispatch_due_webhooks() == 0  # lease still held
    make_due(delivery)  # the lease passes
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    first, second = delivery.log.order_by("number")
    # The log says what happened to the first attempt, not that it is still running.
    assert first.finished_at is not None and first.error.startswith("Interrupted")
    assert first.status_code is None and second.status_code == 200


@pytest.mark.django_db(transaction=True)  # the test drops its own connection
def test_an_answer_that_meets_a_database_blip_is_recorded_and_not_sent_again(
    company, endpoint, receiver, monkeypatch
):
    """PostgreSQL restarting while the receiver answers: the answer is recorded on a new
    connection. Lost, the 200 was taken for an interrupted attempt once the lease passed,
    and the event was sent a second time."""
    blip_after_each_answer(monkeypatch)
    (delivery,) = emit(company)
    try:
        deliver_webhook(delivery.pk)
    finally:
        connection.close()
    make_due(delivery)
    assert dispatch_due_webhooks() == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 1)
    assert [a.status_code for a in delivery.log.all()] == [200]
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)  # PostgreSQL ends the test's own session
def test_an_answer_whose_recording_postgresql_ended_is_recorded_on_a_new_try(
    company, endpoint, receiver, monkeypatch
):
    """The recording's transaction ended by PostgreSQL (idle in transaction, 25P03, an
    InternalError): the 200 was lost like a blip's, and the event sent a second time once
    the lease passed."""
    post = delivery_module.post_signed

    def post_then_fall_quiet(**kwargs):
        outcome = post(**kwargs)
        quiet.arm()  # the recording's transaction is ended midway
        return outcome

    monkeypatch.setattr(delivery_module, "post_signed", post_then_fall_quiet)
    monkeypatch.setattr(delivery_module, "DATABASE_RETRY_DELAYS", (0, 0, 0))
    (delivery,) = emit(company)
    try:
        with quiet_mid_transaction(times=0) as quiet:
            deliver_webhook(delivery.pk)
    finally:
        connection.close()
    assert len(quiet.after) == 1
    make_due(delivery)
    assert dispatch_due_webhooks() == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 1)
    assert [a.status_code for a in delivery.log.all()] == [200]
    assert len(receiver.requests) == 1


def test_beat_logs_an_attempt_whose_lease_lapsed_before_its_retry_is_due(
    company, endpoint, receiver, monkeypatch
):
    """The attempt's log entry said it was still running until the retry was claimed,
    hours later in the schedule."""
    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    (delivery,) = emit(company)
    _, attempt = claim(delivery.pk)  # then the worker dies
    retry_at = timezone.now() + timedelta(hours=2)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1), next_attempt_at=retry_at
    )
    queued.clear()
    assert dispatch_due_webhooks() == 0 and queued == []  # the retry is not due yet
    attempt.refresh_from_db()
    assert attempt.finished_at is not None and attempt.error.startswith("Interrupted")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "pending",
        1,
        retry_at,
    )
    assert (delivery.locked_until, delivery.last_error) == (None, attempt.error)


def test_beat_sends_a_redelivery_at_once_when_the_attempt_in_flight_lapses(
    company, endpoint, receiver, monkeypatch
):
    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    (delivery,) = emit(company)
    _, attempt = claim(delivery.pk)
    delivery_redeliver(delivery_id=delivery.pk)  # asked for while the attempt is in flight
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1), queued_until=None
    )  # then that attempt's worker died
    queued.clear()
    assert dispatch_due_webhooks() == 1 and queued == [delivery.pk]
    attempt.refresh_from_db()
    assert attempt.error.startswith("Interrupted")
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)  # with its fresh budget


def test_redeliver_now_during_an_attempt_goes_as_soon_as_that_attempt_answers(
    company, endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    (delivery,) = emit(company)
    claimed = claim(delivery.pk)  # an attempt is in flight
    assert claimed is not None
    _, attempt = claimed
    delivery_redeliver(delivery_id=delivery.pk)  # an admin clicks "Redeliver now"
    assert deliver(delivery.pk) is None  # the in-flight attempt holds the lease
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # The in-flight attempt times out; its answer is stale after the redelivery.
        record(
            delivery.pk, attempt, Outcome(status_code=None, body="", error="Timeout", latency_ms=1)
        )
    assert queued == [delivery.pk]  # sent again now, not once the 2-minute lease is over
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert [a.status_code for a in delivery.log.order_by("pk")] == [None, 200]


def test_a_redelivery_owed_after_an_in_flight_2xx_waits_for_beat_when_the_broker_is_down(
    company, endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    (delivery,) = emit(company)
    _, attempt = claim(delivery.pk)  # an attempt is in flight
    delivery_redeliver(delivery_id=delivery.pk)

    def refuse(delivery_id: str) -> None:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(deliver_webhook, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        record(delivery.pk, attempt, Outcome(status_code=200, body="", error="", latency_ms=1))
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert (delivery.locked_until, delivery.queued_until) == (None, None)

    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    broker_pause.end()  # the broker is back
    assert dispatch_due_webhooks() == 1 and queued == [delivery.pk]  # beat's next pass
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 2)
    assert len(receiver.requests) == 1  # the redelivery's (the first was never sent here)


def test_a_stale_answer_does_not_free_the_lease_of_a_later_attempt(company, endpoint, receiver):
    (delivery,) = emit(company)
    _, first = claim(delivery.pk)
    make_due(delivery)  # its worker died, the lease passed
    _, second = claim(delivery.pk)
    record(delivery.pk, first, Outcome(status_code=500, body="", error="late", latency_ms=1))
    delivery.refresh_from_db()
    assert delivery.locked_until is not None  # still the second attempt's
    assert deliver(delivery.pk) is None


def test_an_answer_from_before_a_redelivery_does_not_count_for_the_redelivery(
    company, endpoint, receiver
):
    (delivery,) = emit(company)
    _, first = claim(delivery.pk)
    make_due(delivery)  # the first attempt's worker stalls past its lease
    delivery_redeliver(delivery_id=delivery.pk)
    _, second = claim(delivery.pk)  # the redelivery's attempt, in flight
    assert (first.number, second.number) == (1, 2)  # numbers go on after a redelivery
    record(delivery.pk, first, Outcome(status_code=500, body="", error="late", latency_ms=1))
    delivery.refresh_from_db()
    assert delivery.locked_until is not None  # still the redelivery's lease
    past = timezone.now() - timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=past)
    assert claim(delivery.pk) is None  # no third attempt while the second is in flight


def test_beat_claims_due_deliveries_once(company, endpoint, receiver, monkeypatch):
    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    deliveries = emit(company) + emit(company)
    assert dispatch_due_webhooks() == 0  # the on-commit messages still cover them
    for delivery in deliveries:
        make_due(delivery)
    assert dispatch_due_webhooks() == 2
    assert dispatch_due_webhooks() == 0  # already queued: no pile of duplicates
    assert sorted(queued) == sorted(d.pk for d in deliveries)


def test_redeliver_one_and_all_failed_since(company, endpoint, receiver, monkeypatch):
    monkeypatch.setattr(delivery_module, "MAX_ATTEMPTS", 1)
    receiver.default = 500
    old, recent = emit(company), emit(company)
    WebhookDelivery.objects.filter(pk=old[0].pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    for (delivery,) in (old, recent):
        deliver(delivery.pk)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    receiver.default = 200
    assert (
        endpoint_redeliver_failed(endpoint_id=endpoint.pk, since=timezone.now() - timedelta(days=1))
        == 1
    )
    deliver(recent[0].pk)
    delivery_redeliver(delivery_id=old[0].pk)
    deliver(old[0].pk)
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {old[0].pk: "delivered", recent[0].pk: "delivered"}
    assert WebhookDelivery.objects.get(pk=old[0].pk).log.count() == 2  # the log is kept


def test_connection_errors_are_logged(company, endpoint):
    endpoint.url = "http://127.0.0.1:9/closed"
    endpoint.save()
    (delivery,) = emit(company)
    outcome = deliver(delivery.pk)
    assert outcome is not None and outcome.status_code is None
    attempt = delivery.log.get()
    assert "ConnectionError" in attempt.error


def test_retries_follow_a_corrected_endpoint_url(company, endpoint, receiver):
    endpoint.url = "http://127.0.0.1:9/typo"
    endpoint.save()
    (delivery,) = emit(company)
    deliver(delivery.pk)
    endpoint.url = receiver.url
    endpoint.save()
    make_due(delivery)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.url == receiver.url and len(receiver.requests) == 1


def test_moving_an_endpoint_ends_the_old_receivers_retry_after_hold(
    company, endpoint, receiver, other_receiver
):
    """The Retry-After was the old receiver's: it said nothing of the new one, whose
    deliveries waited for it (up to 24 h)."""
    receiver.script = [429]
    receiver.extra_headers = {"Retry-After": "600"}
    (asked,) = emit(company)
    deliver(asked.pk)
    (later,) = emit(company)
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(url=other_receiver.url))
    assert deliver(later.pk) is not None and len(other_receiver.requests) == 1


def _enabled_by_the_integrator(endpoint: WebhookEndpoint) -> None:
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=True))


def _enabled_in_the_admin(endpoint: WebhookEndpoint) -> None:
    endpoints_switch(endpoint_ids=[endpoint.pk], enabled=True)


@pytest.mark.parametrize("enable", [_enabled_by_the_integrator, _enabled_in_the_admin])
def test_enabling_an_endpoint_ends_its_receivers_retry_after_hold(
    company, endpoint, receiver, enable
):
    """Enabling is the operator's word that the receiver was fixed and takes events again,
    as a redelivery is: the answer that disables an endpoint is often a maintenance page's
    503 with a Retry-After, and kept, its hold held back every event after the endpoint
    was enabled (up to a day), though the docs say to enable it and redeliver."""
    receiver.script = [503]
    receiver.extra_headers = {"Retry-After": "3600"}
    (asked,) = emit(company)
    deliver(asked.pk)
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    enable(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.held_until is None
    (later,) = emit(company)
    assert deliver(later.pk) is not None and len(receiver.requests) == 2


def test_an_endpoint_already_enabled_keeps_its_receivers_retry_after_hold(
    company, endpoint, receiver
):
    """Only enabling a disabled endpoint ends the hold: an Enable of one already enabled
    changes nothing, and the receiver's Retry-After still stands."""
    receiver.script = [503]
    receiver.extra_headers = {"Retry-After": "3600"}
    (asked,) = emit(company)
    deliver(asked.pk)
    endpoints_switch(endpoint_ids=[endpoint.pk], enabled=True)
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=True))
    endpoint.refresh_from_db()
    assert endpoint.held_until > timezone.now() + timedelta(minutes=59)


def test_moving_an_endpoint_starts_a_new_run_of_failures_at_its_new_receiver(
    company, endpoint, receiver, other_receiver, settings
):
    """The old receiver's days of failures say nothing of the new one: the new one's
    first failure (a 503 while it is being deployed) disabled the endpoint for "every
    attempt failed for more than 120 hours", after one attempt to it."""
    settings.WEBHOOKS_DISABLE_AFTER_FAILING_HOURS = 120
    receiver.default = 500
    (delivery,) = emit(company)
    deliver(delivery.pk)
    # Its last failure came with 119 hours of them; the next retry is hours away.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=121),
        last_failure_at=timezone.now() - timedelta(hours=2),
    )
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(url=other_receiver.url))
    other_receiver.script = [503]
    make_due(delivery)
    deliver(delivery.pk)
    endpoint.refresh_from_db()
    assert len(other_receiver.requests) == 1
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert endpoint.failing_since is not None  # the new receiver's run, begun now


def test_an_attempt_in_flight_when_its_submission_is_purged_keeps_no_reply_text(company):
    # The purge blanked the replies of the attempts made; the one still out wrote its
    # reply after, and a receiver's reply can echo the purged results it was posted.
    (delivery,) = emit(company, "session.completed", session_url="https://hooks.example.com/s")
    _, in_flight = claim(delivery.pk)
    deliveries_forget_results(session_id=delivery.session_id, sync_event_id="sync_none")
    echo = '{"extractedData": {"totalAmount": 9.0}}'
    record(delivery.pk, in_flight, Outcome(status_code=200, body=echo, error="", latency_ms=5))
    in_flight.refresh_from_db()
    assert in_flight.response_body == ""
    assert in_flight.status_code == 200 and in_flight.latency_ms == 5  # the log stays
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED


def test_an_attempt_of_a_delivery_whose_results_are_kept_keeps_its_reply_text(company):
    (delivery,) = emit(company, "session.completed", session_url="https://hooks.example.com/s")
    _, attempt = claim(delivery.pk)
    deliveries_forget_results(session_id="ses_another", sync_event_id="sync_none")
    record(delivery.pk, attempt, Outcome(status_code=200, body="thanks", error="", latency_ms=5))
    attempt.refresh_from_db()
    assert attempt.response_body == "thanks"


def test_finished_deliveries_are_purged_after_the_retention(company, endpoint, receiver):
    old, recent, pending = emit(company), emit(company), emit(company)
    for (delivery,) in (old, recent):
        deliver(delivery.pk)
    long_ago = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk__in=[old[0].pk, pending[0].pk]).update(
        created_at=long_ago, last_attempt_at=long_ago
    )
    assert purge_old_webhook_deliveries() == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {
        recent[0].pk,
        pending[0].pk,  # still owed to the receiver: never purged
    }


def test_a_delivery_redelivered_late_in_its_retention_is_kept_from_its_last_attempt(
    company, endpoint, receiver, monkeypatch
):
    """Counted from the event, a delivery redelivered on day 29 was purged within the
    hour: its record and attempt log vanished from the listing just after the resend the
    operator made, and resending it again was refused as purged."""
    monkeypatch.setattr(delivery_module, "MAX_ATTEMPTS", 1)
    receiver.default = 500
    (delivery,) = emit(company)
    deliver(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(days=31),
        last_attempt_at=timezone.now() - timedelta(days=31),
    )
    receiver.default = 200
    delivery_redeliver(delivery_id=delivery.pk)
    deliver(delivery.pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered"

    assert purge_old_webhook_deliveries() == 0
    assert WebhookDelivery.objects.get(pk=delivery.pk).log.count() == 2


@pytest.mark.django_db(transaction=True)  # the redelivery runs on a connection of its own
def test_a_delivery_redelivered_while_the_purge_runs_is_either_kept_or_refused(
    company, endpoint, receiver, monkeypatch
):
    """The purge listed the finished deliveries, then deleted them by id: one an operator
    redelivered in between was deleted pending, after its redelivery had been accepted,
    and the resend never went."""
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: None)
    (delivery,) = emit(company)
    deliver(delivery.pk)
    long_ago = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=long_ago, last_attempt_at=long_ago
    )
    outcome: dict[str, object] = {}

    def redeliver() -> None:
        try:
            delivery_redeliver(delivery_id=delivery.pk)
            outcome["redelivered"] = True
        except WebhookError as error:
            outcome["refused"] = error.code
        finally:
            connection.close()

    operator = threading.Thread(target=redeliver)

    def redeliver_once_listed(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if operator.ident is None and "webhooks_webhookdelivery" in sql:  # listed: not yet started
            operator.start()
            operator.join(timeout=2)  # longer only while the purge holds the row
        return result

    with connection.execute_wrapper(redeliver_once_listed):
        purged = purge_old_webhook_deliveries()
    operator.join()
    kept = WebhookDelivery.objects.filter(pk=delivery.pk).first()
    if kept is None:
        assert (purged, outcome) == (1, {"refused": "WEBHOOK_DELIVERY_NOT_FOUND"})
    else:
        assert (purged, outcome, kept.status) == (0, {"redelivered": True}, "pending")


def test_first_retry_is_queued_about_five_seconds_after_the_first_failure(
    company, endpoint, receiver, monkeypatch
):
    """docs/webhooks.md promises ~5 s; the lease beat honours must not hold it 2 minutes."""
    start = timezone.now()
    clock = {"now": start}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    receiver.script = [500]
    (delivery,) = emit(company)
    deliver(delivery.pk)  # the on-commit attempt fails at `start`

    clock["now"] = start + timedelta(seconds=4)
    assert claim_due() == []  # not yet due: the jittered 5 s have not passed
    clock["now"] = start + timedelta(seconds=6)
    assert claim_due() == [delivery.pk]
    assert claim_due() == []  # queued once: the next beat run does not queue a copy
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 2


def test_a_redelivery_during_an_attempt_keeps_counting_the_attempt_in_flight(
    company, endpoint, receiver, api
):
    """The count is the attempt log's length: a redelivery mid-attempt read 0 attempts
    beside a log holding the attempt in flight, then numbered the next one 1 again."""
    receiver.default = 500
    (delivery,) = emit(company)
    deliver(delivery.pk)  # attempt 1 fails
    make_due(delivery)
    _, in_flight = claim(delivery.pk)  # attempt 2 is being sent
    delivery_redeliver(delivery_id=delivery.pk)  # "Redeliver now" meanwhile

    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    assert detail["attempts"] == len(detail["attemptLog"]) == 2
    record(
        delivery.pk, in_flight, Outcome(status_code=None, body="", error="Timeout", latency_ms=1)
    )
    receiver.default = 200
    deliver(delivery.pk)  # the redelivery's attempt

    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    assert detail["status"] == "delivered"
    assert detail["attempts"] == len(detail["attemptLog"]) == 3
    assert [a["number"] for a in detail["attemptLog"]] == [3, 2, 1]


def test_a_redelivery_gives_a_fresh_retry_budget_and_the_count_goes_on(
    company, endpoint, receiver, monkeypatch
):
    monkeypatch.setattr(delivery_module, "MAX_ATTEMPTS", 2)
    receiver.default = 500
    (delivery,) = emit(company)
    for _ in range(2):
        deliver(delivery.pk)
        make_due(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.FAILED, 2)

    delivery_redeliver(delivery_id=delivery.pk)
    deliver(delivery.pk)  # the new budget's first attempt fails: a retry is scheduled
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.PENDING, 3)
    make_due(delivery)
    deliver(delivery.pk)  # its second and last
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.FAILED, 4)
    assert list(delivery.log.order_by("pk").values_list("number", flat=True)) == [1, 2, 3, 4]
    assert len(receiver.requests) == 4


def test_beat_copies_a_waiting_delivery_less_often_the_longer_it_waits(
    company, endpoint, receiver, monkeypatch
):
    """A backlog longer than the queue lease: beat cannot tell a message still on the
    queue from a lost one, and queued a copy every 2 minutes, a backlog's worth of them
    for every delivery (each a task, about 1 KB of Redis, found claimed or done)."""
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: None)
    start = timezone.now()
    clock = {"now": start}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    (delivery,) = emit(company)  # its message waits behind a two-hour backlog

    copies = []
    for minute in range(1, 121):
        clock["now"] = start + timedelta(minutes=minute)
        if claim_due() == [delivery.pk]:
            copies.append(minute)
    # A lost message is still queued again after 2 minutes; then after as long as the
    # delivery has waited, at most an hour.
    assert copies == [2, 4, 8, 16, 32, 64]

    deliver(delivery.pk)  # a worker reaches one of its messages at last
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert len(receiver.requests) == 1


def test_beat_claims_again_on_its_next_pass_what_the_broker_refused(
    company, endpoint, receiver, monkeypatch
):
    """Beat's copy waits out its lease only when the broker took it (the lease may be
    an hour for a delivery that long overdue)."""
    (delivery,) = emit(company)
    make_due(delivery)

    def refuse(delivery_id: str) -> None:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(deliver_webhook, "delay", refuse)
    assert dispatch_due_webhooks() == 0
    delivery.refresh_from_db()
    assert delivery.queued_until is None

    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    broker_pause.end()  # the broker is back, the process's pause over
    assert dispatch_due_webhooks() == 1 and queued == [delivery.pk]


def test_a_delivery_redelivered_past_thirty_two_thousand_attempts_is_still_sent(
    company, endpoint, receiver
):
    # ~4,000 redeliveries of a failing receiver: beyond a smallint's 32,767.
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=32_767, attempts_before_redelivery=32_760, status="failed"
    )
    delivery_redeliver(delivery_id=delivery.pk)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 32_768 and delivery.attempts_before_redelivery == 32_767
    assert delivery.log.get().number == 32_768


def _session_target(company, url: str) -> SessionWebhookTarget:
    return SessionWebhookTarget.objects.get(company=company, origin=session_target_origin(url))


def test_a_session_url_host_failing_for_days_is_suspended_with_a_notice(
    company, receiver, settings
):
    """Thousands of sessions can point at one dead host, with no endpoint to disable:
    its deliveries were retried for every session, for days, and nobody was told."""
    settings.WEBHOOKS_DISABLE_AFTER_FAILING_HOURS = 72
    receiver.default = 500
    (delivery,) = emit(company, session_url=f"{receiver.url}/ses_1")
    deliver(delivery.pk)
    target = _session_target(company, receiver.url)
    assert target.failing_since is not None and target.suspended_at is None
    SessionWebhookTarget.objects.filter(pk=target.pk).update(
        failing_since=timezone.now() - timedelta(hours=73)
    )
    make_due(delivery)
    deliver(delivery.pk)
    target.refresh_from_db()
    assert target.suspended_at is not None
    assert target.suspended_reason == "Every attempt failed for more than 72 hours."
    assert target.notices.get(kind="suspended").message.startswith(target.suspended_reason)
    # Its pending deliveries end at their next claim, unsent; new events are kept unsent.
    make_due(delivery)
    assert deliver(delivery.pk) is None
    delivery.refresh_from_db()
    (later,) = emit(company, session_url=f"{receiver.url}/ses_2")
    for unsent in (delivery, later):
        assert (unsent.status, unsent.last_error) == (
            WebhookDelivery.Status.FAILED,
            TARGET_SUSPENDED,
        )
    assert later.attempts == 0 and deliver(later.pk) is None
    assert len(receiver.requests) == 2


def test_a_failing_session_url_host_has_one_attempt_in_flight_and_its_others_wait(
    company, receiver
):
    """A host that never answers took a worker for each session's delivery, 15 s each."""
    sending = emit(company, session_url=f"{receiver.url}?session=1")[0]
    waiting = emit(company, session_url=f"{receiver.url}?session=2")[0]
    SessionWebhookTarget.objects.filter(pk=sending.session_target_id).update(
        failing_since=timezone.now()
    )
    assert waiting.session_target_id == sending.session_target_id
    WebhookDelivery.objects.filter(pk=sending.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )
    assert deliver(waiting.pk) is None
    waiting.refresh_from_db()
    assert waiting.attempts == 0 and waiting.queued_until is None
    assert receiver.requests == []
    WebhookDelivery.objects.filter(pk=sending.pk).update(locked_until=None)
    make_due(waiting)
    assert deliver(waiting.pk) is not None and len(receiver.requests) == 1


def test_beat_queues_a_failing_session_url_hosts_waiting_deliveries_one_at_a_time(
    company, receiver
):
    sending = emit(company, session_url=f"{receiver.url}?session=0")[0]
    SessionWebhookTarget.objects.filter(pk=sending.session_target_id).update(
        failing_since=timezone.now()
    )
    WebhookDelivery.objects.filter(pk=sending.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )
    waiting = [emit(company, session_url=f"{receiver.url}?session={n}")[0] for n in (1, 2, 3)]
    for seconds, delivery in zip((3, 2, 1), waiting, strict=True):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=seconds), queued_until=None
        )
    assert claim_due() == []
    WebhookDelivery.objects.filter(pk=sending.pk).update(locked_until=None)
    assert claim_due() == [waiting[0].pk]
    assert claim_due() == []


def test_a_redelivery_resumes_a_suspended_session_url_host(company, receiver):
    (first,) = emit(company, session_url=receiver.url)
    session_target_suspend(target_id=first.session_target_id, reason="Down for days.")
    (missed,) = emit(company, session_url=receiver.url)
    assert missed.status == WebhookDelivery.Status.FAILED
    delivery_redeliver(delivery_id=missed.pk)
    target = _session_target(company, receiver.url)
    assert target.suspended_at is None and target.failing_since is None
    assert target.notices.get(kind="resumed").message == "Deliveries resumed by a redelivery."
    deliver(missed.pk)
    make_due(first)
    deliver(first.pk)  # pending when the host was suspended: sent, now it is resumed
    for delivery in (missed, first):
        delivery.refresh_from_db()
        assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert len(receiver.requests) == 2


def test_one_session_urls_410_says_nothing_of_its_host(company, receiver):
    receiver.default = 410
    (delivery,) = emit(company, session_url=receiver.url)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert _session_target(company, receiver.url).failing_since is None


def test_a_session_url_host_with_the_roots_trailing_dot_is_the_same_suspended_host(company):
    """ "hooks.example.com." is the DNS name "hooks.example.com": as another target, its
    sessions' events were sent to the host suspended for failing for days."""
    (first,) = emit(company, session_url="https://hooks.example.com/ses_1")
    session_target_suspend(target_id=first.session_target_id, reason="Down for days.")
    (dotted,) = emit(company, session_url="https://Hooks.Example.com./ses_2")
    assert dotted.session_target_id == first.session_target_id
    assert (dotted.status, dotted.last_error) == (WebhookDelivery.Status.FAILED, TARGET_SUSPENDED)


def test_a_session_url_with_the_longest_host_a_url_may_have_is_queued(company):
    """The target row keeps the host as long as the URL allows: a shorter column failed
    the emit, and with it the session's change."""
    url = f"https://{'a' * 1950}.example/hook"
    (delivery,) = emit(company, session_url=url)
    assert delivery.session_target.origin == f"https://{'a' * 1950}.example:443"


def test_a_2xx_from_an_attempt_out_when_its_host_was_suspended_resumes_the_host(company, receiver):
    (delivery,) = emit(company, session_url=receiver.url)
    _, attempt = claim(delivery.pk)
    session_target_suspend(target_id=delivery.session_target_id, reason="Down for days.")
    record(delivery.pk, attempt, Outcome(200, "ok", "", 5))
    target = _session_target(company, receiver.url)
    assert target.suspended_at is None
    assert target.notices.get(kind="resumed").message == (
        "Deliveries resumed because a delivery to it succeeded."
    )
    (later,) = emit(company, session_url=receiver.url)
    assert later.status == WebhookDelivery.Status.PENDING


def test_an_endpoints_url_written_another_way_keeps_its_receivers_hold_and_failures(
    company, endpoint, receiver
):
    """The same receiver, its URL's scheme written in capitals: no new receiver, so its
    Retry-After and its run of failures stand (they were cleared as for a move)."""
    failing = timezone.now() - timedelta(hours=3)
    held = timezone.now() + timedelta(minutes=10)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=failing, last_failure_at=failing, held_until=held
    )
    scheme, rest = receiver.url.split("://", 1)
    endpoint_update(
        endpoint_id=endpoint.pk, changes=EndpointChanges(url=f"{scheme.upper()}://{rest}")
    )
    endpoint.refresh_from_db()
    assert (endpoint.failing_since, endpoint.held_until) == (failing, held)
