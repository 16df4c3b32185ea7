"""Sending deliveries: claim an attempt, post it, record the outcome, schedule the next.

An attempt is claimed in a short transaction that takes a lease (locked_until), counts
the attempt, writes its log row and already schedules the retry. The HTTP request runs
outside any transaction, and its outcome is recorded in a second short one. So no
database transaction stays open across a slow receiver, no two workers send one
delivery at once (the lease outlives the request's deadline), and a worker killed
mid-request leaves an attempt that beat records as interrupted once the lease has
passed (lapsed_leases), and the retry the claim scheduled.
"""

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    DateTimeField,
    DurationField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from steve.blips import through_blips
from steve.timefmt import iso
from webhooks.catalogue import TEST_EVENT, test_payload
from webhooks.models import (
    SessionWebhookTarget,
    SyncTarget,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.services import (
    ENDPOINT_DISABLED,
    QUEUE_LEASE,
    SUCCESS_RECORDED_EVERY,
    TARGET_SUSPENDED,
    active_secrets,
    dispatch_on_commit,
    endpoint_disable,
    endpoint_record_interrupted,
    endpoint_record_outcome,
    session_secret_get_or_create,
    session_target_get_or_create,
    session_target_record_interrupted,
    session_target_record_outcome,
    sync_secret_get_or_create,
)
from webhooks.signals import delivery_attempted, sync_schedule_changed
from webhooks.signing import signed_headers
from webhooks.targets import PinnedAdapter, TargetRefused, pinned_session, resolve_checked

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15
TEST_TIMEOUT_SECONDS = 5
# Longer than any request can take (connect + TIMEOUT + reading a capped body).
LEASE = timedelta(minutes=2)
# The longest beat waits before it queues another copy of a delivery's message.
MAX_QUEUE_LEASE = timedelta(hours=1)
RESPONSE_LOG_LIMIT = 2000
CLAIM_BATCH = 200
MAX_CLAIM_BATCHES = 10
# A failing endpoint has one attempt in flight at a time; a message for one of its other
# due deliveries that reaches a worker meanwhile puts it back this long, without taking
# a worker for the attempt's timeout (beat queues none of them while it is busy:
# _waiting_on_failing_owner).
FAILING_ENDPOINT_WAIT = timedelta(seconds=10)
# The database did not answer when an attempt's answer was to be recorded (PostgreSQL
# restarting, a dropped connection): recorded again on a new connection after each
# delay, well within the lease. Lost, the answer (a 2xx too) was taken for an interrupted
# attempt once the lease passed, and the event sent again: a webhook twice, or a sync
# posted downstream twice. A database away for longer is no blip: the error goes on.
DATABASE_RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 16)
# About three days in all; jitter keeps a recovering receiver from a thundering herd.
RETRY_SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
# A sync post's budget in time, from its queueing or latest redelivery (budget_started_at):
# the schedule's span, and its jitter. Its target's Retry-After holds its posts with no
# attempt counted, so one answering 503 + Retry-After every time kept them for good.
BUDGET_WINDOW = sum(RETRY_SCHEDULE, timedelta()) * 1.1
MAX_RETRY_AFTER = RETRY_SCHEDULE[-1]
# What an attempt changes; saving only these never rewrites the (large) payload.
STATE_FIELDS = [
    "url",
    "session_target",
    "status",
    "attempts",
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "last_attempt_at",
    "locked_until",
    "queued_until",
    "delivered_at",
    "failed_at",
]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    body: str
    error: str
    latency_ms: int
    retry_after: timedelta | None = None
    # The resolved address that took the connection ("" when none did).
    address: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def next_attempt_delay(attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
    """Delay before attempt number attempts+1, or None when the budget is spent."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE[attempts - 1]
    delay = base * random.uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110); None for anything else.

    Never raises on what a receiver sends: "²" is a digit to str.isdigit() but no number
    to int(), and 10**20 seconds is more than a timedelta holds (either one failed the
    attempt unrecorded, a 2xx included, so the event was sent again and again).
    """
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        # Capped in integers first: next_attempt_delay caps it anyway.
        return timedelta(seconds=min(int(value), int(MAX_RETRY_AFTER.total_seconds())))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # An HTTP-date is always GMT; asctime's form (RFC 9110 asks recipients to take
        # all three) names no zone, and email.utils leaves it naive: it was ignored, and
        # a receiver asking for an hour's rest got the retry in 5 s.
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - (now or timezone.now()))


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def loggable(text: str) -> str:
    """Text a receiver sent, as the attempt log can hold it: PostgreSQL text holds no
    NUL, and one (a binary or gzipped body, a header) failed the attempt unrecorded."""
    return text.replace("\x00", "\ufffd")


def _read_capped(response: requests.Response, deadline: float) -> str:
    """The first RESPONSE_LOG_LIMIT characters of the body (the docs' "first 2,000
    characters of your answer"), never past the deadline. Read as up to four bytes a
    character, UTF-8's most: cut at 2,000 bytes, an answer in Polish or Thai kept half
    as many characters or fewer, its last one often a broken half."""
    chunks: list[bytes] = []
    size = 0
    cap = RESPONSE_LOG_LIMIT * 4
    for chunk in response.iter_content(chunk_size=512):
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap or time.monotonic() > deadline:
            break
    text = b"".join(chunks)[:cap].decode("utf-8", errors="replace")
    return loggable(text[:RESPONSE_LOG_LIMIT])


def post_signed(
    *,
    url: str,
    secrets: list[str] | Callable[[], list[str]],
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    timeout: float = TIMEOUT_SECONDS,
) -> Outcome:
    """One signed POST to a checked, pinned target; never raises for the receiver's faults.

    `secrets` as a callable is read when the attempt is signed, after the host resolved
    (up to RESOLVE_TIMEOUT_SECONDS): read before, a rotation with no grace meanwhile left
    the attempt signed with the dropped secret only, which the docs promise never
    happens ("every attempt is signed when it is sent, with the secrets active then")."""
    started = time.monotonic()
    try:
        target = resolve_checked(url)
    except TargetRefused as exc:
        return Outcome(None, "", f"Target refused: {exc}", 0)
    body = encode_body(payload)
    headers = signed_headers(
        secrets=secrets() if callable(secrets) else secrets,
        event_id=event_id,
        event_type=event_type,
        timestamp=int(time.time()),
        body=body,
    )
    deadline = started + timeout
    timed_out = f"Timeout: no complete answer within {timeout:g} s"
    with pinned_session(target, deadline) as session:
        adapter = cast(PinnedAdapter, session.get_adapter(url))  # mounted for http(s)
        try:
            response = session.post(
                url,
                data=body,
                headers=headers,
                # What the lookup left: the connect, not bounded by the cut-off (armed
                # once connected), took a whole timeout after a slow lookup.
                timeout=max(deadline - time.monotonic(), 0.01),
                allow_redirects=False,
                stream=True,
                verify=settings.WEBHOOKS_CA_BUNDLE or True,
            )
        except requests.RequestException as exc:
            latency = int((time.monotonic() - started) * 1000)
            error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:  # cut off (webhooks.targets), whatever it says
                error = f"{timed_out} ({error})"
            return Outcome(None, "", loggable(error[:1000]), latency, address=adapter.address)
        # Whole headers with a 2xx status before the deadline: the receiver took the
        # event, however slowly its body follows (sending it again is a duplicate).
        accepted = 200 <= response.status_code < 300 and time.monotonic() < deadline
        with response:
            try:
                text = _read_capped(response, deadline)
            except requests.RequestException:
                text = ""
    latency = int((time.monotonic() - started) * 1000)
    if time.monotonic() >= deadline and not accepted:
        # The connection was cut off at the deadline (webhooks.targets), which http.client
        # can take for the end of the headers: no answer within the time is no delivery.
        return Outcome(None, "", timed_out, latency, address=adapter.address)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    # requests' ``ok`` is true for a 3xx, which is no delivery here (redirects are not
    # followed), so the log said nothing about why it failed.
    error = "" if accepted else f"HTTP {response.status_code}"
    return Outcome(response.status_code, text, error, latency, retry_after, adapter.address)


def signing_secrets(delivery: WebhookDelivery) -> list[str]:
    """The secrets that sign the delivery's attempt now. An endpoint's are read afresh:
    the one its claim loaded can be a rotation behind by the time the attempt is sent."""
    if delivery.endpoint is not None:
        # Deleted meanwhile: its answer is recorded nowhere (record()), signed as claimed.
        return _endpoint_secrets_now(delivery.endpoint)
    if delivery.purpose == WebhookDelivery.Purpose.SYNC:
        return active_secrets(sync_secret_get_or_create(company_id=delivery.company_id))
    return active_secrets(
        session_secret_get_or_create(
            company_id=delivery.company_id, environment=delivery.environment
        )
    )


def _endpoint_secrets_now(endpoint: WebhookEndpoint) -> list[str]:
    """The endpoint's active secrets as they are now, read afresh; as `endpoint` was
    loaded when it was deleted meanwhile."""
    fresh = (
        WebhookEndpoint.objects.filter(pk=endpoint.pk)
        .only("secret", "previous_secret", "previous_secret_expires_at")
        .first()
    )
    return active_secrets(fresh or endpoint)


def budget_used(delivery: WebhookDelivery) -> int:
    """Attempts made since the latest redelivery, which gave a fresh retry budget."""
    return delivery.attempts - delivery.attempts_before_redelivery


def _claimable(now: datetime) -> Q:
    return Q(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now) & (
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )


def _give_up(delivery: WebhookDelivery, error: str) -> None:
    delivery.status = WebhookDelivery.Status.FAILED
    delivery.failed_at = timezone.now()
    delivery.next_attempt_at = None
    delivery.locked_until = None
    delivery.last_error = error
    delivery.save(update_fields=STATE_FIELDS)
    _announce(delivery, None, None)


BUDGET_SPENT = "The retry budget is spent."
BUDGET_EXPIRED = (
    "Retry budget expired: its target's Retry-After held it past the retry schedule's"
    " span since it was queued or redelivered."
)
INTERRUPTED = "Interrupted: the worker stopped before the answer was recorded."


def error_kind(status_code: int | None, error: str) -> str:
    """What went wrong, for a log line: the status, or the error's kind ("ConnectionError",
    "Timeout", "Target refused", "Interrupted"). Never its text: requests names the URL's
    path and query there, often the receiver's credential (a ?token=, a Slack hook)."""
    if status_code is not None:
        return f"HTTP {status_code}"
    return error.split(":", 1)[0] or "no answer"


def _to_whom(delivery: WebhookDelivery) -> str:
    if delivery.endpoint_id:
        return f"endpoint {delivery.endpoint_id}"
    if delivery.purpose == WebhookDelivery.Purpose.SYNC:
        return "the downstream sync target"
    return f"session target {delivery.session_target_id}"


def _announce(delivery: WebhookDelivery, outcome: Outcome | None, attempt: int | None) -> None:
    """delivery_attempted, and the attempt's log line: a failed attempt at INFO (a retry
    follows), a delivery given up after its last attempt as a WARNING. One given up unsent
    (its endpoint disabled, its host suspended) is not logged: that was, once; nor a
    downstream sync given up, which submissions.sync logs naming its submission."""
    delivery_attempted.send(
        sender=WebhookDelivery, delivery=delivery, outcome=outcome, attempt=attempt
    )
    if outcome is not None and outcome.ok:
        return
    spent = outcome is not None or delivery.last_error == BUDGET_SPENT
    sync = delivery.purpose == WebhookDelivery.Purpose.SYNC
    if delivery.status == WebhookDelivery.Status.FAILED and spent and not sync:
        logger.warning(
            "Company %s: %s delivery %s (%s %s) to %s failed for good after %d attempt(s)%s;"
            " redeliver it once the receiver is fixed",
            delivery.company_id,
            delivery.purpose,
            delivery.pk,
            delivery.event_type,
            delivery.event_id,
            _to_whom(delivery),
            budget_used(delivery),
            f", the last one {error_kind(outcome.status_code, outcome.error)}"
            if outcome is not None
            else "",
        )
    elif outcome is not None and delivery.status == WebhookDelivery.Status.PENDING:
        logger.info(
            "Company %s: %s delivery %s (%s %s) to %s: attempt %s failed (%s); next at %s",
            delivery.company_id,
            delivery.purpose,
            delivery.pk,
            delivery.event_type,
            delivery.event_id,
            _to_whom(delivery),
            attempt,
            error_kind(outcome.status_code, outcome.error),
            delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else "once free",
        )


def _failing_and_busy(delivery: WebhookDelivery, now: datetime) -> bool:
    """Whether the delivery's endpoint (or session target) is failing and already has an
    attempt in flight.

    The deliveries queue is shared by every company: a receiver that never answers held
    a worker for each of its events' timeouts, and another company's events waited
    minutes behind them. Checked with the endpoint's row locked, so two workers do not
    both find it idle; when another holds that lock, it is busy (and nobody waits).
    A no-key lock: webhook_emit holds its endpoints FOR KEY SHARE until the emitting
    change commits, and FOR UPDATE found a busy company's failing endpoint "locked"
    whenever an event for it was being emitted, so its retry was pushed back unsent.
    """
    owner: WebhookEndpoint | SessionWebhookTarget | None = (
        delivery.endpoint or delivery.session_target
    )
    if owner is None:
        return delivery.purpose == WebhookDelivery.Purpose.SYNC and _sync_target_failing_and_busy(
            delivery, now
        )
    if owner.failing_since is None:
        return False
    locked = type(owner).objects.select_for_update(skip_locked=True, no_key=True)
    if not locked.filter(pk=owner.pk):
        return True
    of_owner = {"endpoint": owner} if delivery.endpoint else {"session_target": owner}
    in_flight = WebhookDelivery.objects.filter(**of_owner, locked_until__gt=now)
    return in_flight.exclude(pk=delivery.pk).exists()


def _held(delivery: WebhookDelivery, now: datetime) -> bool:
    """Whether the delivery's endpoint (or session host, or sync target) asked, with a
    Retry-After, that nothing be sent to it before a time still to come (_hold_owner)."""
    if delivery.purpose == WebhookDelivery.Purpose.SYNC:
        return _sync_target_of(delivery).filter(held_until__gt=now).exists()
    owner = delivery.endpoint or delivery.session_target
    return owner is not None and owner.held_until is not None and owner.held_until > now


def _sync_target_of(delivery: WebhookDelivery) -> QuerySet[SyncTarget]:
    """The row of a sync post's target, if it has one (written at its first Retry-After):
    the company's posts to that URL, as _sync_target_failing_and_busy counts them."""
    return SyncTarget.objects.filter(company_id=delivery.company_id, url=delivery.url)


def _hold_owner(delivery: WebhookDelivery, outcome: Outcome, *, to_current_url: bool) -> None:
    """A receiver's answer about itself, recorded with the answer: a Retry-After holds
    every delivery of its endpoint (or session host, or sync target) till then, not only
    the one that got it (the others went at the next beat pass, however long it asked
    for); a 2xx ends the hold, and so does a redelivery
    (webhooks.services._receivers_take_events_again). Not an endpoint's old URL, which
    says nothing of the new one. A sync target's row is written at its first
    Retry-After (a 2xx of one with none has no hold to end)."""
    if outcome.status_code == 410:  # one URL saying "stop" (an endpoint's is disabled)
        return
    if delivery.endpoint_id is not None and to_current_url:
        owners: QuerySet = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    elif delivery.session_target_id is not None:
        owners = SessionWebhookTarget.objects.filter(pk=delivery.session_target_id)
    elif delivery.purpose == WebhookDelivery.Purpose.SYNC:
        owners = _sync_target_of(delivery)
        if outcome.retry_after and not outcome.ok:
            # Inserted or left as it is, also when another answer inserts it meanwhile.
            row = SyncTarget(company_id=delivery.company_id, url=delivery.url)
            SyncTarget.objects.bulk_create([row], ignore_conflicts=True)
    else:
        return
    if outcome.ok:
        changed = owners.filter(held_until__isnull=False).update(held_until=None)
    elif outcome.retry_after:
        until = timezone.now() + min(outcome.retry_after, MAX_RETRY_AFTER)
        changed = owners.update(held_until=held_until_at_least(until))
        if delivery.purpose == WebhookDelivery.Purpose.SYNC:
            _give_up_held_past_window(delivery)
    else:
        return
    if changed and delivery.purpose == WebhookDelivery.Purpose.SYNC:
        # Every post to the target is now next attempted at the hold's end (or, the hold
        # over, at its own time): their submissions show it (submissions.sync).
        sync_schedule_changed.send(
            sender=WebhookDelivery,
            company_id=delivery.company_id,
            url=delivery.url,
            delivery_ids=None,
        )


def _budget_expired(delivery: WebhookDelivery, now: datetime) -> bool:
    """Whether a sync post's budget is spent in time (BUDGET_WINDOW), whatever attempts
    it has left. Not a webhook's: its endpoint or session host is disabled after days
    of failures (a Retry-After answer is one), and its deliveries are given up then."""
    return (
        delivery.purpose == WebhookDelivery.Purpose.SYNC
        and delivery.budget_started_at < now - BUDGET_WINDOW
    )


def _give_up_held_past_window(delivery: WebhookDelivery) -> None:
    """A sync target's Retry-After was recorded: its other posts whose BUDGET_WINDOW has
    passed are given up (`sync_abandoned`), as after their last attempt. Held, no
    attempt is counted for them, and beat's selection (claim_due) skips them, so a
    target answering Retry-After every time kept them, unsent, till their retention.
    Not one locked by another transaction, nor one in flight or whose lease lapsed:
    its answer (or beat's record of the lapse) applies the window (_apply_outcome)."""
    now = timezone.now()
    expired = (
        WebhookDelivery.objects.select_for_update(skip_locked=True)
        .defer("payload")
        .filter(
            purpose=WebhookDelivery.Purpose.SYNC,
            status=WebhookDelivery.Status.PENDING,
            company_id=delivery.company_id,
            url=delivery.url,
            budget_started_at__lt=now - BUDGET_WINDOW,
            locked_until__isnull=True,
        )
        .exclude(pk=delivery.pk)
        .order_by("pk")
    )
    for post in expired:
        _give_up(post, BUDGET_EXPIRED)


def held_until_at_least(until: datetime) -> Expression:
    """An owner's held_until extended to `until`, never shortened by another answer of
    the same moment (attempts in parallel). Coalesced: SQLite's MAX (GREATEST), unlike
    PostgreSQL's, is NULL when an argument is, so on `./scripts/dev`'s database an
    owner not yet held stayed unheld, and a Retry-After held back nothing."""
    when = Value(until, output_field=DateTimeField())
    return Greatest(Coalesce(F("held_until"), when), when)


def _session_target(delivery: WebhookDelivery) -> SessionWebhookTarget | None:
    """The target of a delivery to a session's webhookUrl (set on one queued before
    session targets were)."""
    session_url = (
        delivery.endpoint_id is None and delivery.purpose == WebhookDelivery.Purpose.WEBHOOK
    )
    if session_url and delivery.session_target is None:
        delivery.session_target = session_target_get_or_create(
            company_id=delivery.company_id, environment=delivery.environment, url=delivery.url
        )
    return delivery.session_target


def _sync_target_failing_and_busy(delivery: WebhookDelivery, now: datetime) -> bool:
    """_failing_and_busy for a sync post: its target (a workflow's sync_url) takes every
    approval of the company, with no endpoint row to say it is failing. It is failing
    when this post's last attempt failed, or an attempt in flight to it follows a failed
    one (`last_error` is that of the latest answer), or its Retry-After hold has had no
    2xx since (`held_until` stays set when it passes, as an endpoint's failing run stays
    after its Retry-After: the posts held meanwhile go one at a time, not all at once to
    a target just back from maintenance). A retry checks with a lock on the target held,
    so two workers do not both find it idle; a first attempt to a target with no failure
    in flight goes at once (the first wave, as for an endpoint).
    """
    in_flight = WebhookDelivery.objects.filter(
        purpose=WebhookDelivery.Purpose.SYNC,
        company_id=delivery.company_id,
        url=delivery.url,
        locked_until__gt=now,
    ).exclude(pk=delivery.pk)
    asked_to_wait = _sync_target_of(delivery).filter(held_until__isnull=False).exists()
    if not delivery.last_error and not asked_to_wait:
        return in_flight.exclude(last_error="").exists()
    locked = lock_sync_target(connection, delivery.company_id, delivery.url)
    return not locked or in_flight.exists()


def lock_sync_target(db: Any, company_id: str, url: str) -> bool:
    """Whether this transaction now holds the sync target's lock (False: another does),
    released when the transaction ends. PostgreSQL's advisory lock; SQLite (the dev
    database) has none, and needs none: its IMMEDIATE transactions let one writer in at
    a time, so two claims never both find the target idle. Asked there, every retry of a
    failed sync raised, and the sync was never tried again."""
    if db.vendor != "postgresql":
        return True
    with db.cursor() as cursor:
        key = f"sync-target:{company_id}:{url}"
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [key])
        (locked,) = cursor.fetchone()
    return bool(locked)


def _record_interrupted(delivery: WebhookDelivery, now: datetime) -> None:
    """The lease ran out with no outcome recorded: the attempt's worker died (or outlived
    its lease). Recorded once as the failure it is: its log entry closed, the retry kept
    as the claim scheduled it (due at once when that time has passed; given up after the
    last of the budget), and announced (delivery_attempted), so a sync's submission logs
    it and shows the next attempt. Should the answer come after all, record() takes it
    as a late one.
    """
    closed = delivery.log.filter(finished_at__isnull=True).update(
        finished_at=now, error=INTERRUPTED
    )
    outcome = Outcome(status_code=None, body="", error=INTERRUPTED, latency_ms=0)
    if delivery.attempts <= delivery.attempts_before_redelivery:
        # Redelivered while this attempt was in flight: the redelivery's attempt is due
        # already, with its fresh budget (as record() does for an answer in that case).
        delivery.locked_until = None
        delivery.last_status_code = None
        delivery.last_error = INTERRUPTED
    else:
        scheduled = delivery.next_attempt_at
        _apply_outcome(delivery, outcome)
        if delivery.status == WebhookDelivery.Status.PENDING:
            delivery.next_attempt_at = scheduled  # by the claim, before sending
    delivery.save(update_fields=STATE_FIELDS)
    if closed:
        _announce(delivery, outcome, delivery.attempts)
        if delivery.endpoint_id is not None:
            endpoint_record_interrupted(endpoint_id=delivery.endpoint_id)
        elif delivery.session_target_id is not None:
            session_target_record_interrupted(target_id=delivery.session_target_id)


def lapsed_leases() -> list[str]:
    """Beat: pending deliveries whose attempt's lease ran out with no outcome recorded,
    the longest lapsed first (lapse_failed moves one that raised behind the others)."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, locked_until__lte=timezone.now()
        )
        .order_by("locked_until")
        .values_list("pk", flat=True)[:CLAIM_BATCH]
    )


def lapse_failed(delivery_id: str) -> None:
    """Recording the lapsed lease raised: the lease is taken to have lapsed now, so it
    stays lapsed and is listed after those that lapsed before. Left in place, a full
    batch of them (the longest lapsed) was all that every beat pass tried to record."""
    WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, locked_until__lte=timezone.now()
    ).update(locked_until=timezone.now())


def delivery_record_interrupted(*, delivery_id: str) -> bool:
    """Beat: record the attempt whose lease lapsed as interrupted, within seconds of the
    lapse, not at the retry's claim (hours away later in the schedule). False when it
    is not lapsed (any more), or another holds the row."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .defer("payload")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, locked_until__lte=now)
            .first()
        )
        if delivery is None:
            return False
        _record_interrupted(delivery, now)
    return True


def claim(delivery_id: str) -> tuple[WebhookDelivery, WebhookAttempt] | None:
    """Take the lease for one attempt, or None when the delivery is not ours to send now."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "session_target")
            .filter(_claimable(now), pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None
        if delivery.locked_until is not None:
            # The lease ran out before beat's sweep noticed (lapsed_leases).
            _record_interrupted(delivery, now)
            if delivery.status != WebhookDelivery.Status.PENDING:
                return None  # it was the last attempt of the budget: given up
        if delivery.endpoint is not None and not delivery.endpoint.enabled:
            _give_up(delivery, ENDPOINT_DISABLED)
            return None
        target = _session_target(delivery)
        if target is not None and target.suspended_at is not None:
            _give_up(delivery, TARGET_SUSPENDED)
            return None
        if _held(delivery, now):
            # Left due, as it was: when the hold ends, the one due first goes first.
            delivery.queued_until = None  # beat queues it again once the hold ends
            delivery.save(update_fields=STATE_FIELDS)
            return None
        if _failing_and_busy(delivery, now):
            delivery.next_attempt_at = now + FAILING_ENDPOINT_WAIT
            delivery.queued_until = None  # beat queues it again when it is due
            delivery.save(update_fields=STATE_FIELDS)
            if delivery.purpose == WebhookDelivery.Purpose.SYNC:
                # Its submission showed the time it was claimed at, now passed, while
                # the post waited behind its target's attempt in flight.
                sync_schedule_changed.send(
                    sender=WebhookDelivery,
                    company_id=delivery.company_id,
                    url=delivery.url,
                    delivery_ids=[delivery.pk],
                )
            return None
        if budget_used(delivery) >= MAX_ATTEMPTS:  # never claim past the budget
            _give_up(delivery, BUDGET_SPENT)
            return None
        if delivery.endpoint is not None:
            # An integrator who fixes the endpoint's URL expects the retries to follow it.
            delivery.url = delivery.endpoint.url
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.locked_until = now + LEASE
        # The message that covered this attempt is consumed: beat may queue the retry as
        # soon as it is due (the first one ~5 s after a failure), not when the queue lease
        # taken at emit runs out.
        delivery.queued_until = None
        # Scheduled before sending: should this worker die, the retry is already due then.
        delay = next_attempt_delay(budget_used(delivery))
        delivery.next_attempt_at = now + delay if delay else delivery.locked_until
        delivery.save(update_fields=STATE_FIELDS)
        attempt = WebhookAttempt.objects.create(delivery=delivery, number=delivery.attempts)
    return delivery, attempt


def _apply_outcome(delivery: WebhookDelivery, outcome: Outcome, *, gone_stops: bool = True) -> None:
    """`gone_stops`: whether a 410 ends the delivery (not from a URL left meanwhile)."""
    now = timezone.now()
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.locked_until = None
    if outcome.ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.failed_at = None  # a late 2xx of one given up
        delivery.next_attempt_at = None
        return
    delay = next_attempt_delay(budget_used(delivery), outcome.retry_after)
    gone = outcome.status_code == 410 and gone_stops
    if gone or delay is None or _budget_expired(delivery, now):
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.failed_at = now
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + delay


def _went_to_current_url(delivery: WebhookDelivery) -> bool:
    """Whether the attempt went to its endpoint's URL as it is now. The integrator may
    move the endpoint while an attempt to the old URL is in flight, often because that
    receiver is retired: its answer (a 410 above all) says nothing of the new one, so it
    neither fails the event for good nor disables or marks the endpoint failing."""
    if delivery.endpoint_id is None:
        return True
    return WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, url=delivery.url).exists()


def _ends_redelivery(delivery: WebhookDelivery, before_redelivery: bool) -> bool:
    """Whether a 2xx of an attempt ends the delivery: not when the attempt began before
    the latest redelivery was asked for, which wants an attempt after it; except for a
    sync post, which is posted downstream once (a redelivery of it is a retry now)."""
    return not before_redelivery or delivery.purpose == WebhookDelivery.Purpose.SYNC


def record(
    delivery_id: str,
    attempt: WebhookAttempt,
    outcome: Outcome,
    endpoint: WebhookEndpoint | None = None,
) -> None:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update().defer("payload").filter(pk=delivery_id)
        ).first()
        if delivery is None:
            # A sync still waiting is dropped with its log by a retention purge (its
            # submission's results are gone), also while its post is in flight.
            logger.info(
                "Delivery %s was dropped during its attempt %s", delivery_id, attempt.number
            )
            return
        # Closed already as interrupted (its lease ran out, beat's sweep or a claim
        # recorded it and scheduled the retry): this answer is a late one, never counted
        # a second time; only a 2xx is news.
        closed = WebhookAttempt.objects.filter(pk=attempt.pk, finished_at__isnull=False).exists()
        attempt.finished_at = timezone.now()
        attempt.status_code = outcome.status_code
        attempt.latency_ms = outcome.latency_ms
        # Not once the delivery's results are forgotten: the purge blanked the replies
        # of the attempts made, and this one, out meanwhile, can echo what it posted.
        attempt.response_body = outcome.body if delivery.results_forgotten_at is None else ""
        attempt.error = outcome.error
        attempt.address = outcome.address
        attempt.save(
            update_fields=[
                "finished_at",
                "status_code",
                "latency_ms",
                "response_body",
                "error",
                "address",
            ]
        )
        # A late answer after our lease passed must not undo a newer attempt's state,
        # but a 2xx is true news: the receiver has the event. Numbers never repeat, so
        # the count names the newest attempt; one made before the latest redelivery
        # belongs to the budget that redelivery replaced.
        latest = attempt.number == delivery.attempts
        before_redelivery = attempt.number <= delivery.attempts_before_redelivery
        current = latest and not before_redelivery and not closed
        to_current_url = _went_to_current_url(delivery)
        _hold_owner(delivery, outcome, to_current_url=to_current_url)
        # A delivery given up while this attempt was still out (its lease ran out, the
        # last of the budget) was delivered after all when it answers 2xx: so marked, a
        # sync is not posted downstream again by a redelivery.
        pending = delivery.status == WebhookDelivery.Status.PENDING
        given_up = delivery.status == WebhookDelivery.Status.FAILED
        if (pending or (given_up and outcome.ok)) and (
            current or (outcome.ok and _ends_redelivery(delivery, before_redelivery))
        ):
            _apply_outcome(delivery, outcome, gone_stops=to_current_url)
            delivery.save(update_fields=STATE_FIELDS)
            _announce(delivery, outcome, attempt.number)
        elif latest and delivery.locked_until is not None:
            # Redelivered while this attempt was in flight: the redelivery asked for an
            # attempt after this one, whatever this one answers (the receiver may have
            # lost what it got), and it goes now, not when this attempt's lease runs out.
            # The delivery shows this answer, the latest, and stays pending till then.
            delivery.locked_until = None
            fields = ["locked_until"]
            if delivery.status == WebhookDelivery.Status.PENDING:
                delivery.last_status_code = outcome.status_code
                delivery.last_error = outcome.error
                fields += ["last_status_code", "last_error"]
                dispatch_on_commit([delivery.pk])
            delivery.save(update_fields=fields)
            if delivery.status == WebhookDelivery.Status.PENDING:
                # Still an attempt made and answered: whoever follows the delivery's
                # attempts (a sync's submission counts them and logs each failure) learns
                # of it now, not at the redelivery's answer, which reports only its own.
                _announce(delivery, outcome, attempt.number)
    if endpoint is not None and to_current_url:
        _endpoint_feedback(endpoint, outcome, attempt.attempted_at)
    elif delivery.session_target_id is not None and outcome.status_code != 410:
        # A 410 is that one session's URL saying "stop", not the host failing.
        session_target_record_outcome(target_id=delivery.session_target_id, succeeded=outcome.ok)


def _endpoint_feedback(endpoint: WebhookEndpoint, outcome: Outcome, attempted_at: datetime) -> None:
    """`attempted_at`: when the attempt began (a success's time is that: the receiver
    worked then, whatever failed while it was out stays a failure since it worked)."""
    if outcome.status_code == 410:
        endpoint_disable(endpoint_id=endpoint.pk, reason="The receiver answered 410 Gone.")
        return
    # The common case, a success on a healthy endpoint, needs no write but the time of
    # its success once a minute (the endpoint as claimed: at worst one more write).
    recorded = endpoint.last_succeeded_at
    if (
        outcome.ok
        and endpoint.failing_since is None
        and recorded is not None
        and recorded > attempted_at - SUCCESS_RECORDED_EVERY
    ):
        return
    endpoint_record_outcome(endpoint_id=endpoint.pk, succeeded=outcome.ok, at=attempted_at)


def deliver(delivery_id: str) -> Outcome | None:
    """Make one attempt if the delivery is due and unclaimed; safe to run twice."""
    claimed = claim(delivery_id)
    if claimed is None:
        return None
    delivery, attempt = claimed
    outcome = post_signed(
        url=delivery.url,
        secrets=lambda: signing_secrets(delivery),
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
    )
    _record_through_blips(delivery, attempt, outcome)
    return outcome


def _record_through_blips(
    delivery: WebhookDelivery, attempt: WebhookAttempt, outcome: Outcome
) -> None:
    """record(), tried again while the database does not answer (DATABASE_RETRY_DELAYS).
    Recording again is safe: a blip rolls the transaction back, and an answer that was
    recorded after all (the commit went through, its reply was lost) is a late one."""
    through_blips(
        lambda: record(delivery.pk, attempt, outcome, delivery.endpoint),
        delays=DATABASE_RETRY_DELAYS,
        what=f"Delivery {delivery.pk}, recording attempt {attempt.number}'s outcome",
    )


def deliveries_purge(*, older_than: timedelta, limit: int = 5000) -> int:
    """Beat: forget finished deliveries (and their attempt logs) past the retention.

    Not a sync post given up: it stays redeliverable until its submission's retention
    purge drops it with a `sync_dropped` event (deliveries_forget_results). Forgotten
    here first, the submission stayed `approved` for good, with nothing saying why.
    """
    cutoff = timezone.now() - older_than
    # Counted from the last attempt too: a delivery redelivered late in its retention was
    # purged within the hour, its record and log gone just after the resend.
    quiet = Q(last_attempt_at__lt=cutoff) | Q(last_attempt_at__isnull=True)
    with transaction.atomic():
        # Locked from the listing to the delete: listed, then deleted by id, a delivery
        # redelivered in between was deleted pending, its accepted resend never made. Now
        # one redelivered first is skipped (or no longer finished), and one redelivered
        # after is refused as purged. A second purge at once skips what this one holds.
        finished = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                quiet,
                status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED],
                created_at__lt=cutoff,
            )
            .exclude(purpose=WebhookDelivery.Purpose.SYNC, status=WebhookDelivery.Status.FAILED)
            .values_list("pk", flat=True)[:limit]
        )
        _, per_model = WebhookDelivery.objects.filter(pk__in=list(finished)).delete()
    return per_model.get(WebhookDelivery._meta.label, 0)


def queue_lease_end(now: datetime) -> Expression:
    """When the lease ends of a copy beat queues now for a delivery (its row's
    next_attempt_at: the wait), in SQL: one UPDATE leases a batch (a CASE of each row's
    end, bulk_update's, was a fifth of beat's pass).

    Beat cannot tell a message still on the queue from a lost one. A delivery that has
    waited long is behind a backlog at least as old, which a copy queues behind too: so
    the lease grows with the wait, and a backlog hours long adds a few copies per
    delivery, not one every QUEUE_LEASE. A lost message is still queued again after
    QUEUE_LEASE, and after at most MAX_QUEUE_LEASE however long the wait.
    """
    waited = ExpressionWrapper(Value(now) - F("next_attempt_at"), output_field=DurationField())
    lease = Least(Greatest(waited, Value(QUEUE_LEASE)), Value(MAX_QUEUE_LEASE))
    return ExpressionWrapper(Value(now) + lease, output_field=DateTimeField())


def _ahead_or_in_flight(now: datetime, same_owner: Q) -> Q:
    """Whether another pending delivery of the same owner is in flight, or due before
    this one (the delivery due first goes first).

    Two EXISTS, not one over an OR: with the OR PostgreSQL ORed bitmaps of every
    pending row due earlier, for each due row, so a sync target's backlog of 30,000
    held posts cost beat's selection 40 s every 5 s. Apart, "due before" is an index
    scan in due order (delivery_sync_due for a sync target) that stops at its first row."""
    others = WebhookDelivery.objects.filter(
        same_owner, status=WebhookDelivery.Status.PENDING
    ).exclude(pk=OuterRef("pk"))
    in_flight = others.filter(locked_until__gt=now)
    ahead = others.filter(next_attempt_at__lte=OuterRef("next_attempt_at")).filter(
        Q(next_attempt_at__lt=OuterRef("next_attempt_at")) | Q(pk__lt=OuterRef("pk"))
    )
    return Q(Exists(in_flight)) | Q(Exists(ahead))


def _waiting_on_failing_owner(now: datetime) -> Q:
    """Due deliveries that claim() would refuse (_failing_and_busy), and all but the first
    due of a failing owner with nothing in flight: its one attempt at a time. Queued,
    each took a message and a claim and was pushed back FAILING_ENDPOINT_WAIT, so 2,000
    waiting behind one dead receiver were 2,000 no-op messages every ~10 s, ahead of
    every other company's deliveries on the shared queue."""
    # Not a disabled endpoint's nor a suspended host's: nothing is sent to them, their
    # claims give each delivery up unsent, and one at a time a backlog of thousands
    # (disabled after days of failures, failing_since still set) took hours to fail.
    endpoint = Q(endpoint__failing_since__isnull=False, endpoint__enabled=True) & (
        _ahead_or_in_flight(now, Q(endpoint=OuterRef("endpoint")))
    )
    host = Q(
        session_target__failing_since__isnull=False, session_target__suspended_at__isnull=True
    ) & _ahead_or_in_flight(now, Q(session_target=OuterRef("session_target")))
    # A sync target has no failing run of its own (_sync_target_failing_and_busy): a post
    # follows a failure when its last attempt failed, or when its target's Retry-After
    # has had no 2xx since (then all of its posts do, as an endpoint's).
    sync_target = Q(
        purpose=WebhookDelivery.Purpose.SYNC,
        company_id=OuterRef("company_id"),
        url=OuterRef("url"),
    )
    sync_in_flight = WebhookDelivery.objects.filter(
        sync_target, status=WebhookDelivery.Status.PENDING, locked_until__gt=now
    ).exclude(pk=OuterRef("pk"))
    failed = ~Q(last_error="")
    asked_to_wait = Exists(
        SyncTarget.objects.filter(
            company_id=OuterRef("company_id"), url=OuterRef("url"), held_until__isnull=False
        )
    )
    sync = Q(purpose=WebhookDelivery.Purpose.SYNC) & (
        Exists(sync_in_flight.filter(failed))
        | (failed & (Exists(sync_in_flight) | _ahead_or_in_flight(now, sync_target & failed)))
        | (asked_to_wait & (Exists(sync_in_flight) | _ahead_or_in_flight(now, sync_target)))
    )
    return endpoint | host | sync


def claim_due() -> list[str]:
    """Beat: due deliveries nobody is sending, no queued message covers, no receiver's
    Retry-After holds (_held) and no failing receiver holds back
    (_waiting_on_failing_owner).

    Without JIT: its dozen subqueries over a table of a few hundred thousand rows are
    estimated far above jit_above_cost, and compiling them took PostgreSQL 0.8-1.6 s of
    CPU on each pass, every 5 s (measured with 355,000 deliveries, 55,000 of them
    pending), for a selection that ran in 0.1-0.3 s."""
    now = timezone.now()
    held_sync_target = SyncTarget.objects.filter(
        company_id=OuterRef("company_id"), url=OuterRef("url"), held_until__gt=now
    )
    # Not a disabled endpoint's nor a suspended host's: claim() gives those up unsent
    # before it looks at a hold, and the answer that disabled one often held it too (a
    # Retry-After for days): its backlog stayed pending until the hold ran out, a day on.
    held = (
        Q(endpoint__held_until__gt=now, endpoint__enabled=True)
        | Q(session_target__held_until__gt=now, session_target__suspended_at__isnull=True)
        | (Q(purpose=WebhookDelivery.Purpose.SYNC) & Q(Exists(held_sync_target)))
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_claimable(now))
            .filter(Q(queued_until__isnull=True) | Q(queued_until__lte=now))
            .exclude(held)
            .exclude(_waiting_on_failing_owner(now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:CLAIM_BATCH]
        )
        # Rows this transaction holds: the UPDATE waits for no other.
        WebhookDelivery.objects.filter(pk__in=due).update(queued_until=queue_lease_end(now))
    return due


def send_test(
    *,
    company_id: str,
    environment: str,
    endpoint: WebhookEndpoint | None,
    url: str,
    event_id: str,
) -> Outcome:
    """A test event, sent now with a short timeout, signed as real deliveries would be:
    with the secrets active when it is sent, read after the host's lookup (post_signed),
    as an attempt's are (signing_secrets). Read before, a rotation with no grace during
    the lookup (up to 5 s) had it signed with the dropped secret only."""
    payload = test_payload(
        event_id=event_id,
        company_id=company_id,
        occurred_at=iso(timezone.now()) or "",
    )

    def secrets_now() -> list[str]:
        if endpoint is not None:
            return _endpoint_secrets_now(endpoint)
        return active_secrets(
            session_secret_get_or_create(company_id=company_id, environment=environment)
        )

    return post_signed(
        url=endpoint.url if endpoint else url,
        secrets=secrets_now,
        event_id=event_id,
        event_type=TEST_EVENT,
        payload=payload,
        timeout=TEST_TIMEOUT_SECONDS,
    )
