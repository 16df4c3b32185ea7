"""Every change of a submission's status happens here: one transaction, one row lock,
one event, webhooks through the outbox."""

import copy
import json
import math
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from steve.accounts import deciding_companies
from steve.errors import ServiceError, field_error, invalid
from steve.ids import new_id
from steve.jsonnumbers import InexactFloat, as_float
from steve.models import Company, Environment
from steve.text import hides_text, shown, without_padding
from steve.timefmt import iso
from steve.workflow_rules import Steps, field_type, schema_refusal_at
from submissions.events import announce
from submissions.memory import REMEMBERED_FIELDS, recall_keys, same_value, shop_keys
from submissions.models import (
    EventType,
    FraudStatus,
    MerchantMemory,
    Submission,
    SubmissionEvent,
    SubmissionFile,
    SubmissionStatus,
)
from submissions.selectors import ELSEWHERE, changes_since, field_label, is_reviewers
from submissions.signals import submission_changed, submission_locking, submissions_overdue
from webhooks.catalogue import WebhookEventType

S = SubmissionStatus
# A refused correction lists at most this many invalid fields.
MAX_FIELD_ERRORS = 50

TRANSITIONS: dict[str, set[str]] = {
    S.CREATED: {S.PROCESSING, S.CANCELLED},
    S.PROCESSING: {S.REVIEW, S.APPROVED, S.FAILED, S.CANCELLED},
    S.REVIEW: {S.APPROVED, S.REJECTED, S.CANCELLED},
    S.APPROVED: {S.SYNCED},
}

EVENT_TYPES: dict[str, EventType] = {
    S.PROCESSING: EventType.PROCESSING_STARTED,
    S.REVIEW: EventType.READY_FOR_REVIEW,
    S.APPROVED: EventType.APPROVED,
    S.SYNCED: EventType.SYNCED,
    S.REJECTED: EventType.REJECTED,
    S.CANCELLED: EventType.CANCELLED,
    S.FAILED: EventType.FAILED,
}

# Status changes integrators hear about as submission.* webhooks; the session.* ones
# are announced by the pipeline, which knows the session's outcome.
WEBHOOK_EVENTS: dict[str, WebhookEventType] = {
    S.APPROVED: WebhookEventType.SUBMISSION_APPROVED,
    S.SYNCED: WebhookEventType.SUBMISSION_SYNCED,
    S.REJECTED: WebhookEventType.SUBMISSION_REJECTED,
    S.CANCELLED: WebhookEventType.SUBMISSION_CANCELLED,
}
# The problem type of a refusal because of the submission's status (docs/api.md).
TRANSITION_SLUG = "invalid-status-transition"


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def system(cls) -> "Actor":
        return cls(SubmissionEvent.ActorType.SYSTEM, "", "Steve")

    @classmethod
    def for_api_key(cls, api_key: Any) -> "Actor":
        # A name from before names were checked (checked_api_key_name) may hide text.
        label = f"API key {shown(api_key.name)}"
        return cls(SubmissionEvent.ActorType.API_KEY, api_key.pk, label)

    @classmethod
    def for_user(cls, user: Any) -> "Actor":
        return cls(SubmissionEvent.ActorType.USER, str(user.pk), user.get_username())


class SubmissionActionError(ServiceError):
    """A refused action on a submission (steve.errors.ServiceError): a 409 whose problem
    says the submission's status now."""

    def __init__(
        self, code: str, message: str, *, current_status: str, slug: str | None = None
    ) -> None:
        super().__init__(code, message, 409, slug=slug, extra={"currentStatus": current_status})
        self.current_status = current_status


class FieldChangedError(SubmissionActionError):
    """A desk correction refused because `changed` (the field itself, or an amount or the
    currency read with it) was corrected since by someone else (refuse_stale_correction):
    what the page held of that field is stale, where another stale refusal (a claim that
    moved) leaves what was typed current."""

    def __init__(self, message: str, *, current_status: str, changed: str) -> None:
        super().__init__("SUBMISSION_CHANGED", message, current_status=current_status)
        self.changed = changed


# A submission in each status, as a refusal names it: "review" or "processing" is no
# adjective, so "A review submission cannot be changed" would not read.
STATUS_NOUNS: dict[str, str] = {
    S.CREATED: "a submission still waiting for its files",
    S.PROCESSING: "a submission still being processed",
    S.REVIEW: "a submission in review",
    S.APPROVED: "an approved submission",
    S.SYNCED: "a synced submission",
    S.REJECTED: "a rejected submission",
    S.CANCELLED: "a cancelled submission",
    S.FAILED: "a failed submission",
}
# What "The submission is already …" says of a status the action would move it to.
ALREADY: dict[str, str] = {
    S.PROCESSING: "being processed",
    S.REVIEW: "in review",
    S.APPROVED: "approved",
    S.SYNCED: "synced",
    S.REJECTED: "rejected",
    S.CANCELLED: "cancelled",
    S.FAILED: "failed",
}
# Refused actions that keep the status: a correction or claim, and fraud resolutions.
CHANGE = "change"
RESOLVE_FRAUD = "resolve_fraud"
UNDO_RESOLUTION = "undo_resolution"
# Each refused action (a status it would move to, or one of the above), said of the
# submission's status ({submission}, a STATUS_NOUNS entry).
REFUSED_ACTIONS: dict[str, str] = {
    S.PROCESSING: "{submission} cannot start processing.",
    S.REVIEW: "{submission} cannot go to review.",
    S.APPROVED: "{submission} cannot be approved.",
    S.SYNCED: "{submission} cannot be synced.",
    S.REJECTED: "{submission} cannot be rejected.",
    S.CANCELLED: "{submission} cannot be cancelled.",
    S.FAILED: "{submission} cannot be marked failed.",
    CHANGE: "{submission} cannot be changed.",
    RESOLVE_FRAUD: "The fraud matches of {submission} cannot be resolved.",
    UNDO_RESOLUTION: "The fraud match resolutions of {submission} cannot be undone.",
}


def status_refusal(status: str, action: str) -> str:
    """Why a submission in `status` refuses `action` (a REFUSED_ACTIONS key), as a
    sentence: "The submission is already approved." when the action would leave it where
    it is (a synced one was approved too), else "An approved submission cannot be
    rejected."; an unknown action is a KeyError, not a vaguer message."""
    template = REFUSED_ACTIONS[action]
    if action == status or (status == S.SYNCED and action == S.APPROVED):
        already = ALREADY[action] + (" and synced" if status != action else "")
        return f"The submission is already {already}."
    sentence = template.format(submission=STATUS_NOUNS[status])
    return sentence[0].upper() + sentence[1:]


def wrong_status(submission: Submission, action: str) -> SubmissionActionError:
    """The refusal of an `action` (a REFUSED_ACTIONS key) the submission's status does
    not allow: a 409 SUBMISSION_IS_<STATUS> saying so (status_refusal)."""
    return SubmissionActionError(
        f"SUBMISSION_IS_{submission.status.upper()}",
        status_refusal(submission.status, action),
        current_status=submission.status,
        slug=TRANSITION_SLUG,
    )


# occurredAt's precision on the wire (steve.timefmt.iso): what "later" means to a consumer.
WIRE_TICK = timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_wire_tick(at: datetime) -> datetime:
    """`at` as the API renders it: cut to the millisecond."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _next_event_time(submission: Submission, *, first: bool) -> datetime:
    """When an event of `submission` recorded now happens: the clock's time, unless that
    is no later, to the millisecond the API renders, than the submission's last event's,
    then a millisecond after that one. Webhooks may arrive out of order and consumers
    order them by occurredAt (docs/webhooks.md): a fraud confirmation's
    `fraud_match_resolved` (its snapshot still `review`) and the `rejected` it causes,
    written in one transaction, shared one, and a consumer could take the retried
    resolution as the newer. A host whose clock is behind the last writer's is caught up
    the same way.

    The last event is read under the submission's row lock, taken here (a no-op for the
    callers holding it through locked_submission; the pipeline's session changes hold
    only the session's, which comes first in the lock order): two writers cannot both
    read the same last event. A `first` event (its submission made in this transaction,
    seen by no one else yet) has none before it."""
    now = timezone.now()
    if first:
        return now
    # Its own statement: one that waited for the lock reads with a snapshot taken before
    # the wait, and a subquery in it missed the event the holder had just committed.
    list(
        Submission.objects.select_for_update().filter(pk=submission.pk).values_list("pk", flat=True)
    )
    last = SubmissionEvent.objects.filter(submission_id=submission.pk).aggregate(
        last=Max("occurred_at")
    )["last"]
    return _time_after(last, now)


def _time_after(last: datetime | None, now: datetime) -> datetime:
    """`now`, or a millisecond after `last` when now is no later to the millisecond."""
    if last is None or _to_wire_tick(now) > _to_wire_tick(last):
        return now
    return _to_wire_tick(last) + WIRE_TICK


def record_event(
    *,
    submission: Submission,
    type: EventType,
    actor: Actor,
    details: dict[str, Any] | None = None,
    from_status: str = "",
    to_status: str = "",
    form_token: str = "",
    first: bool = False,
) -> SubmissionEvent:
    """Append an event to the submission's history; its time is later than every earlier
    event's as rendered (_next_event_time). `first`: the submission was created in the
    caller's transaction, so no event precedes this one and no lock is needed."""
    occurred_at = _next_event_time(submission, first=first)
    return SubmissionEvent.objects.create(
        # The id's time is the event's: the newest by id (the API's and the timeline's
        # order) is the newest by occurredAt, never the other of two events of one
        # millisecond by their ids' random parts.
        id=new_id("evt", at_ms=(occurred_at - EPOCH) // WIRE_TICK),
        occurred_at=occurred_at,
        submission=submission,
        type=EventType(type),  # an unknown type fails here, before the database refuses it
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        from_status=from_status,
        to_status=to_status,
        details=details or {},
        # Recorded after the change it describes saved its version (save_new_version).
        version=submission.version,
        form_token=form_token,
    )


def record_events(
    *, type: EventType, actor: Actor, details: dict[str, dict[str, Any]]
) -> list[SubmissionEvent]:
    """record_event's event of `type` for each submission id in `details` (with its
    details), for an action on many at once (the admin's re-queue of a selection): the
    submissions locked in one statement (in id order), their last events read in one and
    the events inserted in one, as record_event each took three round trips per row.
    Each event is later than its submission's last, as record_event's (_next_event_time);
    its version is the submission's as locked."""
    if not details:
        return []
    ids = sorted(details)
    # Its own statement, as _next_event_time's: the lock before the read of the last events.
    versions = dict(
        Submission.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "version")
    )
    last = dict(
        SubmissionEvent.objects.filter(submission_id__in=ids)
        .values("submission_id")
        .annotate(last=Max("occurred_at"))
        .values_list("submission_id", "last")
    )
    now = timezone.now()
    events = []
    for pk in ids:
        occurred_at = _time_after(last.get(pk), now)
        events.append(
            SubmissionEvent(
                id=new_id("evt", at_ms=(occurred_at - EPOCH) // WIRE_TICK),
                occurred_at=occurred_at,
                submission_id=pk,
                type=EventType(type),
                actor_type=actor.type,
                actor_id=actor.id,
                actor_label=actor.label,
                details=details[pk],
                version=versions[pk],
            )
        )
    return SubmissionEvent.objects.bulk_create(events)


@dataclass
class Change:
    to_status: str
    actor: Actor
    fields: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    expected_version: int | None = None
    guard: Callable[[Submission], None] | None = None
    then: Callable[[Submission], None] | None = None  # more writes in the same transaction


def _refuse_illegal(submission: Submission, to_status: str) -> None:
    if to_status not in TRANSITIONS.get(submission.status, set()):
        raise wrong_status(submission, to_status)


def locked_submission(
    *, submission_id: str, expected_version: int | None = None, actor: Actor | None = None
) -> Submission:
    """The submission, row-locked until the caller's transaction ends; with an
    `expected_version` (the one the caller's page or request read), a submission that
    changed since is refused (409 SUBMISSION_CHANGED): the optimistic lock of every change.
    The refusal says the `actor`'s own changes were theirs (stale_page_refusal).

    The version moves when a change is saved (save_new_version), not here: a claim
    renewal or a correction to the same value changes nothing anyone's page shows.
    """
    # Whatever the caller goes on to do (a transition ends the workflow session), the
    # rows it may change are locked first, in the one order every path takes.
    submission_locking.send(sender=Submission, submission_id=submission_id)
    submission = Submission.objects.select_for_update().get(pk=submission_id)
    if expected_version is not None and expected_version != submission.version:
        raise stale_page_refusal(submission, since=expected_version, actor=actor)
    return submission


def save_new_version(
    submission: Submission,
    fields: list[str] | None = None,
    *,
    corrected: str | None = None,
    by: Actor | None = None,
    claim: bool = False,
    fraud_resolved: bool = False,
) -> None:
    """Save a locked submission's change under its next version, so every page and
    request that read the one before is refused as stale; `fields` limits the update.

    The version also says what it changed, for the review desk's corrections
    (refuse_stale_correction): the field `corrected` (and `by` whom), a change of the
    claim's holder (`claim`), a fraud resolution or its undo `by` someone
    (`fraud_resolved`), or else the submission's state."""
    submission.version += 1
    if corrected is not None:
        last = {"version": submission.version, "by": actor_key(by) if by else ""}
        submission.field_versions = {**(submission.field_versions or {}), corrected: last}
        marks = ["field_versions"]
    elif fraud_resolved and by is not None:
        who = {actor_key(by): submission.version}
        submission.fraud_versions = {**(submission.fraud_versions or {}), **who}
        marks = ["fraud_versions"]
    elif claim:
        submission.claim_version = submission.version
        marks = ["claim_version"]
    else:
        submission.state_version = submission.version
        marks = ["state_version"]
    if fields is not None:
        fields = [*fields, *marks, "version", "updated_at"]
    submission.save(update_fields=fields)


def actor_key(actor: Actor) -> str:
    """Who made a change, as field_versions keeps it ("user:3", "api_key:…", "system:")."""
    return f"{actor.type}:{actor.id}"


def refuse_stale_correction(
    submission: Submission,
    *,
    field_name: str,
    page_version: int,
    actor: Actor,
    typed_version: int | None = None,
) -> None:
    """The review desk's optimistic lock for a correction of `field_name` from a page
    drawn at `page_version`: refused (409 SUBMISSION_CHANGED) only when what it would
    overwrite or depends on changed since: that field, corrected by anyone else; the
    submission's state (status, decision, a recomputed fraud status, purge); a fraud
    resolution or undo by anyone else (it may change what the reviewer sees); or its
    claim, unless the actor holds it now (their own first save claimed it). Another
    field's correction, or the reviewer's own resolution, such as their own save or
    False positive a moment earlier, does not make it stale.

    A version the submission never had yet is refused too. Call it with the row locked
    (locked_submission). The API's `expectedVersion` stays strict: any change since is
    refused there.

    An amount and the currency are read together (read_with_currency): a correction of
    one is refused too when the other was corrected since by anyone else, naming both.

    `typed_version`: an earlier version the value was typed on, carried to a page drawn
    later (the desk without JavaScript: Take over, Release or a sign-in brought the text
    back over the field): the field is checked since then, as its stored value was not
    on that page; the rest since `page_version`, which showed it (the reviewer's own
    take-over among it)."""
    me = actor_key(actor)
    versions = submission.field_versions or {}
    properties = (submission.workflow_version.output_schema or {}).get("properties", {})
    typed_since = min(typed_version or page_version, page_version)
    for name in [field_name, *read_with_currency(properties, field_name)]:
        last = versions.get(name) or {}
        if last.get("version", 0) > typed_since and last.get("by") != me:
            raise _field_changed(submission, properties, field_name, changed=name)
    fraud_moved = any(
        version > page_version
        for who, version in (submission.fraud_versions or {}).items()
        if who != me
    )
    if fraud_moved:
        raise stale_page_refusal(submission, since=page_version, actor=actor)
    refuse_stale_page(submission, page_version=page_version, actor=actor)


def refuse_stale_page(submission: Submission, *, page_version: int, actor: Actor) -> None:
    """What every desk action from a page drawn at `page_version` depends on, a
    correction (refuse_stale_correction) as much as a fraud resolution
    (fraud.services.refuse_stale_resolution): refused (409 SUBMISSION_CHANGED) when the
    submission's state changed since (status, decision, a recomputed fraud status, purge),
    its claim changed hands and the actor does not hold it now (their own first action
    claimed it), or the page carries a version the submission never had. Call it with
    the row locked (locked_submission)."""
    own_claim = claim_is_live(submission) and _holds(submission, actor)
    claim_moved = submission.claim_version > page_version and not own_claim
    state_moved = submission.state_version > page_version
    if page_version > submission.version or state_moved:
        raise stale_page_refusal(submission, since=page_version, actor=actor)
    if claim_moved:
        message = _claim_moved_message(submission, since=page_version, actor=actor)
        raise stale_page_refusal(submission, message, since=page_version, actor=actor)


def _claim_moved_message(submission: Submission, *, since: int, actor: Actor) -> str | None:
    """What a stale page's refusal says when someone else took the claim since: the
    changes made since the page, as any stale refusal names them, the claim among them
    ("bob corrected Shop at 05:44 UTC": a Save that claimed it is named as the Save; it
    said only "bob started reviewing it", hiding what bob changed), else the holder, as
    the page will show them; None (the plain refusal) when it was released or has lapsed."""
    if not claim_is_live(submission):
        return None
    said = _changes_said(submission, since, desk_reviewer_id(actor))
    said = said or f"{submission.claimed_by.get_username()} started reviewing it"
    return (
        f"The submission changed since you opened it: {said}; "
        "review its new state before acting, or take it over."
    )


def stale_page_refusal(
    submission: Submission,
    message: str | None = None,
    *,
    since: int | None = None,
    actor: Actor | None = None,
) -> SubmissionActionError:
    """The refusal of an action from a page drawn before a change it depends on; by
    default it names the decision that ended the review, and who made it, if one did
    (two reviewers, or a reviewer and the integrator, deciding at once), else the
    changes made after the page was drawn at version `since`, when their events say so
    ("demo corrected Shop at 05:44 UTC"). When `actor` (the refused one) is a desk
    reviewer, their own changes are theirs: "you corrected Shop in another tab or
    window", not their username, as if someone else had."""
    if message is None:
        reviewer_id = desk_reviewer_id(actor)
        said = last_decision(submission, reviewer_id=reviewer_id) or _changes_said(
            submission, since, reviewer_id
        )
        said = f": {said}" if said else ""
        message = f"The submission changed since you opened it{said}; review its new state."
    return SubmissionActionError("SUBMISSION_CHANGED", message, current_status=submission.status)


def changed_since_said(submission: Submission, *, since: int, actor: Actor) -> str | None:
    """What a page drawn at version `since` no longer shows, in a stale refusal's words
    ("The submission changed since you opened it: bob started reviewing it at 05:44
    UTC"), for an action that is never refused as stale (a comment) but redraws the page;
    None when the page is current (or carries a version the submission never had)."""
    if not 0 < since < submission.version:
        return None
    reviewer_id = desk_reviewer_id(actor)
    # A decision made before the page was drawn is what the page showed, not a change.
    decided = last_decision(submission, reviewer_id=reviewer_id)
    decided = decided if submission.state_version > since else None
    said = decided or _changes_said(submission, since, reviewer_id)
    if said is None and max(submission.state_version, submission.claim_version) <= since:
        return None  # only what the page's actions do not depend on (a sync attempt)
    return f"The submission changed since you opened it{f': {said}' if said else ''}"


# A stale page's refusal names this many of the changes since, then counts the rest.
CHANGES_NAMED = 2


def desk_reviewer_id(actor: Actor | None) -> str | None:
    """The user id of a desk reviewer's actor, whose own changes a refusal says are
    theirs; None for the API and the system (a key's request is no tab)."""
    if actor is None or actor.type != SubmissionEvent.ActorType.USER:
        return None
    return actor.id


def _changes_said(submission: Submission, since: int | None, reviewer_id: str | None) -> str | None:
    """ "demo corrected Total amount at 05:44 UTC, demo corrected Shop at 05:43 UTC and
    2 more"; None when no event says it came after the page (or no page version)."""
    if since is None:
        return None
    named, more = changes_since(
        submission, version=since, shown=CHANGES_NAMED, reviewer_id=reviewer_id
    )
    if not named:
        return None
    if more:
        return f"{', '.join(named)} and {more} more"
    return " and ".join(named)


# A decision that ends a review, as a refusal names it ({who}: the event's actor).
DECISIONS_SAID: dict[str, str] = {
    S.APPROVED: "{who} approved it",
    S.REJECTED: "{who} rejected it",
    S.CANCELLED: "{who} cancelled it",
}


def last_decision(submission: Submission, *, reviewer_id: str | None = None) -> str | None:
    """Who decided the submission and when ("bob rejected it at 2026-03-05 10:30 UTC"),
    if it was approved (synced since, too), rejected or cancelled; else None. Only a
    submission in review is decided, so on a page that offered an action it came after
    the page was drawn. The desk reviewer `reviewer_id`'s own decision is theirs ("you
    rejected it in another tab or window at …")."""
    status = S.APPROVED if submission.status == S.SYNCED else submission.status
    if status not in DECISIONS_SAID:
        return None
    event = submission.events.filter(to_status=status).order_by("-occurred_at", "-id").first()
    if event is None:
        return None
    yours = is_reviewers({"actor_type": event.actor_type, "actor_id": event.actor_id}, reviewer_id)
    who = DECISIONS_SAID[status].format(who="you" if yours else event.actor_label or "someone")
    where = f" {ELSEWHERE}" if yours else ""
    return f"{who}{where} at {event.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def read_with_currency(properties: dict[str, Any], field_name: str) -> list[str]:
    """The fields a correction of `field_name` is read together with, by currency: for an
    amount, the schema's `currency`; for `currency`, every amount. An amount is a number
    field (totalAmount, taxAmount) or a list of rows holding one (the line items'
    amounts), in a schema that has a `currency` field; the schema keeps no other mark of
    money, and a number refused once too often costs a second look, not a wrong total."""
    if "currency" not in properties:
        return []
    amounts = [name for name, spec in properties.items() if _holds_a_number(spec)]
    if field_name == "currency":
        return amounts
    return ["currency"] if field_name in amounts else []


def _holds_a_number(spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    kinds = spec.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "number" in kinds:
        return True
    rows = spec.get("items") if "array" in kinds else None
    columns = rows.get("properties") if isinstance(rows, dict) else None
    return isinstance(columns, dict) and any(_holds_a_number(c) for c in columns.values())


def _field_changed(
    submission: Submission, properties: dict[str, Any], field_name: str, *, changed: str
) -> FieldChangedError:
    """The refusal of a correction of `field_name` because `changed` (that field, or the
    amount or currency read with it) was corrected since by someone else: named as the
    desk's page labels them, with who corrected it."""
    corrected = (
        submission.events.filter(type=EventType.FIELD_CORRECTED, details__field=changed)
        .order_by("-occurred_at", "-id")
        .values_list("actor_label", flat=True)
        .first()
    )
    what = f"{field_label(changed, properties.get(changed) or {})} changed since you opened it"
    who = f"({corrected or 'someone'} corrected it)"
    label = field_label(field_name, properties.get(field_name) or {})
    if changed == field_name:
        message = f"{what} {who}; review its new value before saving yours."
    elif changed == "currency":
        message = (
            f"{what} {who}, and {label} is an amount in that currency; "
            "review both before saving yours."
        )
    else:
        message = (
            f"{what} {who}, and it is an amount in the {label} you are changing; "
            "review both before saving yours."
        )
    return FieldChangedError(message, current_status=submission.status, changed=changed)


def submission_transition(*, submission_id: str, change: Change) -> Submission:
    """Move a submission to a new status under a row lock; the one place status changes."""
    with transaction.atomic():
        submission = locked_submission(
            submission_id=submission_id,
            expected_version=change.expected_version,
            actor=change.actor,
        )
        _refuse_illegal(submission, change.to_status)
        refuse_others_claim(submission, change.actor)
        if change.guard:
            change.guard(submission)
        from_status = submission.status
        submission.status = change.to_status
        for name, value in change.fields.items():
            setattr(submission, name, value)
        save_new_version(submission)
        if change.then:
            change.then(submission)
        event = record_event(
            submission=submission,
            type=EVENT_TYPES[change.to_status],
            actor=change.actor,
            details=change.details,
            from_status=from_status,
            to_status=change.to_status,
        )
        if change.to_status == S.REVIEW:
            # The queue's age counts from this move (selectors.in_review_since), kept on
            # the row so a poll does not read it from each waiting row's events: the
            # event's own time, known once it is recorded.
            submission.review_entered_at = event.occurred_at
            submission.save(update_fields=["review_entered_at"])
        if change.to_status in WEBHOOK_EVENTS:
            announce(
                submission=submission, event_type=WEBHOOK_EVENTS[change.to_status], event=event
            )
        if change.to_status == S.APPROVED:
            _queue_sync(submission)
        submission_changed.send(
            sender=Submission,
            submission=submission,
            from_status=from_status,
            to_status=change.to_status,
        )
    return submission


def _queue_sync(submission: Submission) -> None:
    from submissions.sync import sync_queue  # sync builds on these services

    sync_queue(submission=submission)


def _refuse_unresolved_matches(submission: Submission) -> None:
    unresolved = submission.fraud_matches.filter(resolution__isnull=True).count()
    if unresolved:
        raise SubmissionActionError(
            "UNRESOLVED_FRAUD_MATCHES",
            f"{unresolved} fraud match(es) must be resolved before approval.",
            current_status=submission.status,
            slug="unresolved-fraud-matches",
        )


def _refuse_unless_reviewable(submission: Submission) -> None:
    """A person approves only a submission in review (DESIGN, seed 001). One still
    processing has no extraction or fraud result yet, so no match to block it; only the
    pipeline approves it (submission_finish_processing), when nothing needs review."""
    if submission.status != S.REVIEW:
        raise wrong_status(submission, S.APPROVED)
    _refuse_unresolved_matches(submission)


def submission_approve(
    *, submission_id: str, actor: Actor, expected_version: int | None = None
) -> Submission:
    return submission_transition(
        submission_id=submission_id,
        change=Change(
            S.APPROVED,
            actor,
            fields={"decided_at": timezone.now(), "claimed_by": None, "claimed_until": None},
            expected_version=expected_version,
            guard=_refuse_unless_reviewable,
            then=_confirm_memories,
        ),
    )


def is_clean_and_confident(submission: Submission) -> bool:
    """Safe to approve in bulk: in review only because nobody approved it yet."""
    threshold = submission.workflow_version.review_threshold / 100
    return (
        submission.status == S.REVIEW
        and submission.fraud_status == "clean"
        and not submission.review_flagged_fields
        and submission.confidence is not None
        and submission.confidence >= threshold
    )


def _refuse_unless_clean_and_confident(submission: Submission) -> None:
    _refuse_unresolved_matches(submission)
    if not is_clean_and_confident(submission):
        raise SubmissionActionError(
            "NOT_CLEAN_AND_CONFIDENT",
            "Only clean, high-confidence submissions are approved in bulk; open it to review.",
            current_status=submission.status,
        )


@dataclass(frozen=True)
class BulkOutcome:
    approved: list[str]
    refused: list[tuple[str, SubmissionActionError]]  # each with the API's code


def submission_bulk_approve(*, picks: list[tuple[str, int]], actor: Actor) -> BulkOutcome:
    """Approve each picked (id, version) on its own: one transaction and one event each;
    one that changed, or is not clean and confident, is refused and the rest go on."""
    approved: list[str] = []
    refused: list[tuple[str, SubmissionActionError]] = []
    for submission_id, version in picks:
        try:
            submission_transition(
                submission_id=submission_id,
                change=Change(
                    S.APPROVED,
                    actor,
                    fields={
                        "decided_at": timezone.now(),
                        "claimed_by": None,
                        "claimed_until": None,
                    },
                    details={"bulk": True},
                    expected_version=version,
                    guard=_refuse_unless_clean_and_confident,
                ),
            )
        except SubmissionActionError as error:
            refused.append((submission_id, error))
        else:
            approved.append(submission_id)
    return BulkOutcome(approved=approved, refused=refused)


COMMENT_MAX = 2000


def submission_comment(
    *, submission_id: str, actor: Actor, text: str, form_token: str = ""
) -> SubmissionEvent:
    """A reviewer's note on a submission: an event in its timeline and in the API.

    Notes change no state, so they bump no version (nobody's open page goes stale), and
    a retry is not refused as stale: the page form's one-time token makes the same form
    sent again (its answer was lost) that comment, not a second one. With its text
    changed meanwhile it is a new note, kept without the token.
    """
    token = _form_token(form_token)
    text = (text or "").strip()
    if not text:
        raise invalid("text", "Write something to comment.", field_code="required")
    if len(text) > COMMENT_MAX:
        raise invalid("text", f"A comment has at most {COMMENT_MAX} characters.")
    if hides_text(text, allowed="\t\n\r"):  # NUL: PostgreSQL cannot store it in JSON
        raise invalid("text", "The comment has a control, bidi formatting or invisible character.")
    with transaction.atomic():
        # The lock makes two sends of one form at once wait for each other: the second
        # finds the first's comment.
        submission = locked_submission(submission_id=submission_id)
        if token:
            sent = submission.events.filter(type=EventType.COMMENT, form_token=token).first()
            if sent is not None:
                if sent.details.get("text") == text:
                    return sent
                token = ""  # the text was changed before it was sent again: a new note
        return record_event(
            submission=submission,
            type=EventType.COMMENT,
            actor=actor,
            details={"text": text},
            form_token=token,
        )


def _form_token(token: str) -> str:
    """A page form's one-time token as stored (a uuid), or "" for a client that sends none."""
    if not token:
        return ""
    try:
        return str(uuid.UUID(token))
    except (ValueError, AttributeError):
        raise invalid("form_token", "This form is damaged: reload the page.") from None


REASON_MAX = 2000


def checked_reason(reason: str | None) -> str | None:
    """A reject or cancel reason as stored (None when blank). It is shown in the review
    page, the API and webhooks, so it keeps a comment's limits: at most REASON_MAX
    characters, and line breaks but no other control or bidi formatting character."""
    reason = (reason or "").strip()
    if not reason:
        return None
    if len(reason) > REASON_MAX:
        raise invalid("reason", f"At most {REASON_MAX} characters.", field_code="long")
    if hides_text(reason, allowed="\t\n\r"):
        raise invalid("reason", "The reason has a control, bidi formatting or invisible character.")
    return reason


def submission_reject(
    *, submission_id: str, actor: Actor, reason: str, expected_version: int | None = None
) -> Submission:
    reason = checked_reason(reason)
    if reason is None:
        raise invalid(
            "reason",
            "A reason is required to reject a submission.",
            code="REASON_REQUIRED",
            field_code="required",
        )
    return submission_transition(
        submission_id=submission_id,
        change=Change(
            S.REJECTED,
            actor,
            fields={
                "reject_reason": reason,
                "decided_at": timezone.now(),
                "claimed_by": None,
                "claimed_until": None,
            },
            details={"reason": reason},
            expected_version=expected_version,
            then=_withdraw_corrections,
        ),
    )


# A list read (the API's, the review queue and its poll, the admin's) catches up at most
# this many submissions, newest first, so it stays fast: each is a transaction with its
# events and webhooks (~25-70 ms), and a company with hundreds lapsed (beat down for hours)
# held one GET for 40 s. The next read (the queue polls every 5 s) or the sweep does the rest.
CATCH_UP_PER_PAGE = 20


def submissions_catch_up(
    *,
    submission_id: str | None = None,
    company_id: str | None = None,
    environment: str | None = None,
    limit: int = CATCH_UP_PER_PAGE,
) -> None:
    """Make the changes a sweep owes these submissions (one, a company environment's, or
    with neither every company's) before they are read or cancelled: with beat down or
    behind, a session past its TTL was read as pending, its submission as created, and a
    cancel ended it failed instead of expired. `limit` bounds how many."""
    submissions_overdue.send(
        sender=Submission,
        submission_id=submission_id,
        company_id=company_id,
        environment=environment,
        limit=limit,
    )


def submission_caught_up(*, submission: Submission) -> Submission:
    """`submission` as a read should show it: a created one's session may have lapsed
    with the sweep behind (submissions_catch_up), and it is read again."""
    if submission.status == S.CREATED:
        submissions_catch_up(submission_id=submission.pk)
        submission.refresh_from_db()
    return submission


def submission_cancel(
    *,
    submission_id: str,
    actor: Actor,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Submission:
    reason = checked_reason(reason)
    # Before the cancel's transaction: a session the sweep should have expired is
    # expired first, and the cancel then answers as after the sweep (409, cancelled).
    submissions_catch_up(submission_id=submission_id)
    return submission_transition(
        submission_id=submission_id,
        change=Change(
            S.CANCELLED,
            actor,
            fields={"cancel_reason": reason, "claimed_by": None, "claimed_until": None},
            details={"reason": reason} if reason else {},
            expected_version=expected_version,
            then=_withdraw_corrections,
        ),
    )


def submission_start_processing(*, submission_id: str) -> Submission:
    return submission_transition(
        submission_id=submission_id, change=Change(S.PROCESSING, Actor.system())
    )


def submission_finish_processing(
    *, submission_id: str, to_status: str, results: dict[str, Any], details: dict[str, Any]
) -> Submission:
    """Store extraction and fraud results and move to review or approved.

    The fraud status is read again under the row lock: a twin checked after this
    submission's own check may have matched it since (fraud.services._carrier), and an
    approval decided on the earlier status goes to review instead.
    """
    with transaction.atomic():
        fraud_status = locked_submission(submission_id=submission_id).fraud_status
        if to_status == S.APPROVED and fraud_status != FraudStatus.CLEAN:
            to_status = S.REVIEW
        details = {**details, "fraudStatus": fraud_status}
        return submission_transition(
            submission_id=submission_id,
            change=Change(to_status, Actor.system(), fields=results, details=details),
        )


def submission_fail(*, submission_id: str, code: str, reason: str) -> Submission:
    return submission_transition(
        submission_id=submission_id,
        change=Change(
            S.FAILED,
            Actor.system(),
            fields={"failed_reason": reason, "error_code": code},
            details={"code": code, "reason": reason},
        ),
    )


def submission_mark_synced(
    *, submission_id: str, attempts: int, details: dict[str, Any]
) -> Submission:
    """The downstream target took the sync post, at the `attempts`-th attempt made."""
    fields = {"sync_next_attempt_at": None, "sync_attempts": attempts}
    return submission_transition(
        submission_id=submission_id,
        change=Change(S.SYNCED, Actor.system(), fields=fields, details=details),
    )


def submission_drop_sync(
    *, submission_id: str, delivery_id: str, delivery_status: str, reason: str = "retention"
) -> None:
    """The submission's sync post was dropped before it got through (`reason`: its
    retention, or `sync_url_removed` from its workflow): no attempt follows (nor a
    redelivery), so none is shown as next, and the timeline says why."""
    with transaction.atomic():
        submission = locked_submission(submission_id=submission_id)
        submission.sync_next_attempt_at = None
        submission.save(update_fields=["sync_next_attempt_at", "updated_at"])
        record_event(
            submission=submission,
            type=EventType.SYNC_DROPPED,
            actor=Actor.system(),
            details={
                "reason": reason,
                "deliveryId": delivery_id,
                "deliveryStatus": delivery_status,
                "attempts": submission.sync_attempts,
            },
        )


def submission_retarget_sync(
    *,
    submission_id: str,
    delivery_id: str,
    delivery_status: str,
    from_host: str,
    to_host: str,
    next_attempt_at: datetime | None,
) -> None:
    """The submission's sync post not delivered yet was moved to its workflow's new
    sync_url: it shows the post's next attempt there (none for one given up, which
    waits for "Redeliver now"), and the timeline says where it went. Hosts only: a
    sync_url's path and query often carry the target's credential, and the timeline is
    read by every reviewer of the company."""
    with transaction.atomic():
        submission = locked_submission(submission_id=submission_id)
        submission.sync_next_attempt_at = next_attempt_at
        submission.save(update_fields=["sync_next_attempt_at", "updated_at"])
        record_event(
            submission=submission,
            type=EventType.SYNC_RETARGETED,
            actor=Actor.system(),
            details={
                "fromHost": from_host,
                "toHost": to_host,
                "deliveryId": delivery_id,
                "deliveryStatus": delivery_status,
                "nextAttemptAt": iso(next_attempt_at),
            },
        )


# --- Review UI: claims and corrections -------------------------------------------------

CLAIM_TTL = timedelta(minutes=10)


def _locked_in_review(
    submission_id: str,
    expected_version: int | None,
    actor: Actor,
    *,
    page_version: int | None = None,
    field_name: str = "",
    typed_version: int | None = None,
) -> Submission:
    """The submission, row-locked, refusing a stale version (`expected_version`: any
    change since; `page_version`, the review desk's: a change to what a correction of
    `field_name` overwrites or depends on), a decided submission or another reviewer's
    claim; the acting reviewer then holds it."""
    submission = locked_submission(
        submission_id=submission_id, expected_version=expected_version, actor=actor
    )
    if page_version is not None:
        refuse_stale_correction(
            submission,
            field_name=field_name,
            page_version=page_version,
            actor=actor,
            typed_version=typed_version,
        )
    if submission.status != S.REVIEW:
        raise wrong_status(submission, CHANGE)
    refuse_others_claim(submission, actor)
    return submission


def claim_is_live(submission: Submission, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(
        submission.claimed_by_id and submission.claimed_until and submission.claimed_until > now
    )


def _holds(submission: Submission, actor: Actor) -> bool:
    return (
        actor.type == SubmissionEvent.ActorType.USER and str(submission.claimed_by_id) == actor.id
    )


def refuse_others_claim(submission: Submission, actor: Actor) -> None:
    """A reviewer may not act on a submission another reviewer holds; they take it over first.

    Claims bind reviewers in the UI only: the API and the system act as before.
    """
    if actor.type != SubmissionEvent.ActorType.USER or not claim_is_live(submission):
        return
    if _holds(submission, actor):
        return
    holder = submission.claimed_by.get_username()
    raise SubmissionActionError(
        "SUBMISSION_CLAIMED",
        f"{holder} is reviewing this submission; take it over to act on it.",
        current_status=submission.status,
    )


def may_release_claim(user: Any, submission: Submission, *, others: bool = False) -> bool:
    """Who may release a claim: its holder, or anyone allowed to release others' (a lead)."""
    return submission.claimed_by_id == user.pk or others


def hold_for_actor(submission: Submission, actor: Actor, *, ttl: timedelta = CLAIM_TTL) -> None:
    """A reviewer's first action claims the submission for them; call it with the row
    locked, inside the action's transaction.

    A change of hands writes an event and bumps the version; renewing only moves the deadline.
    A holder whose claim lapsed renews it too: nobody held it since (a take-over or a
    release changes the holder), so it is theirs to go on with, not an expired claim taken.
    """
    if actor.type != SubmissionEvent.ActorType.USER:
        return
    now = timezone.now()
    if _holds(submission, actor):
        submission.claimed_until = now + ttl
        submission.save(update_fields=["claimed_until", "updated_at"])
        return
    previous = submission.claimed_by.get_username() if submission.claimed_by_id else None
    taken = previous is not None and claim_is_live(submission, now=now)
    submission.claimed_by_id = int(actor.id)
    submission.claimed_until = now + ttl
    save_new_version(submission, ["claimed_by", "claimed_until"], claim=True)
    details: dict[str, Any] = {"claimedUntil": iso(submission.claimed_until)}
    if taken:
        details["takenFrom"] = previous
    elif previous:
        details["expiredClaimOf"] = previous
    record_event(
        submission=submission,
        type=EventType.CLAIM_TAKEN_OVER if taken else EventType.CLAIMED,
        actor=actor,
        details=details,
    )


def submission_claim(
    *,
    submission_id: str,
    user: Any,
    take_over_from: str | None = None,
    ttl: timedelta = CLAIM_TTL,
) -> Submission:
    """Claim a submission in review for `user` ("Start review"), or renew their own claim.

    Another reviewer's live claim is refused unless it is taken over from the holder the
    page showed (`take_over_from`, a username), which is recorded as a `claim_taken_over`
    event naming the previous holder. A change of hands bumps the version, so the
    reviewer who lost the claim is told before acting. A submission no longer in review
    is refused as a stale page's action (stale_page_refusal, naming who decided it).
    """
    with transaction.atomic():
        submission = locked_submission(submission_id=submission_id)
        if submission.status != S.REVIEW:
            # Pressed on a page drawn while it was in review (another reviewer or the
            # integrator decided it meanwhile): say so, or the page changes without a word.
            raise stale_page_refusal(submission, actor=Actor.for_user(user))
        actor = Actor.for_user(user)
        if take_over_from is None:
            refuse_others_claim(submission, actor)
        else:
            _refuse_changed_holder(submission, actor, expected=take_over_from)
        hold_for_actor(submission, actor, ttl=ttl)
    return submission


def _refuse_changed_holder(submission: Submission, actor: Actor, *, expected: str) -> None:
    """A take-over names the holder the reviewer saw, like an expected version: when two
    reviewers press it at once, the second must not take the claim from someone they
    never saw. A claim that lapsed or came back to the actor meanwhile takes nobody's."""
    if not claim_is_live(submission) or _holds(submission, actor):
        return
    holder = submission.claimed_by.get_username()
    if holder != expected:
        raise SubmissionActionError(
            "SUBMISSION_CLAIMED",
            f"{holder} took this submission over meanwhile and is reviewing it now; "
            "take it over from them only if you still mean to.",
            current_status=submission.status,
        )


def submission_release_claim(*, submission_id: str, user: Any, others: bool = False) -> Submission:
    """Give up a claim so the next reviewer can take the submission: its holder, or with
    `others` (a lead's right, decided by the caller) whoever holds it."""
    with transaction.atomic():
        submission = locked_submission(submission_id=submission_id)
        if not submission.claimed_by_id:
            return submission
        if not may_release_claim(user, submission, others=others):
            raise SubmissionActionError(
                "CLAIM_NOT_YOURS",
                "Only the reviewer holding this submission or a lead can release it.",
                current_status=submission.status,
            )
        holder = submission.claimed_by.get_username()
        details = {} if holder == user.get_username() else {"releasedClaimOf": holder}
        _release_claim(submission, actor=Actor.for_user(user), details=details)
    return submission


def _release_claim(submission: Submission, *, actor: Actor, details: dict[str, Any]) -> None:
    """Free a locked submission's claim: a change of holder (its version moves, so a page
    drawn while it was held is stale) and its one `claim_released` event."""
    submission.claimed_by = None
    submission.claimed_until = None
    save_new_version(submission, ["claimed_by", "claimed_until"], claim=True)
    record_event(submission=submission, type=EventType.CLAIM_RELEASED, actor=actor, details=details)


# Why the system released a claim (claim_released's `reason`): its holder lost access.
ACCESS_REMOVED = "access_removed"


def submission_claims_release_lost_access(*, user: Any, everywhere: bool = False) -> int:
    """Release the claims `user` holds where they may no longer decide (their membership
    deleted or moved, their role one that only looks, their account deactivated), or
    `everywhere` (the account is being deleted); returns how many.

    Call it inside the transaction of the change that removed the access, after it: the
    claims go with it or stay with its rollback. Left alone, each stayed until it lapsed,
    the desk showing the submission held by someone who could no longer act, and another
    reviewer having to take it over from them. Each release is a change of holder with
    its own event, by the system, naming the holder (`releasedClaimOf`) and why."""
    held = Submission.objects.filter(claimed_by_id=user.pk)
    if not everywhere:
        if user.is_active and user.is_superuser:
            return 0  # a superuser decides in every company, member or not
        held = held.exclude(company__in=deciding_companies(user))
    holder = user.get_username()
    released = 0
    with transaction.atomic():
        # One order, the submissions' own: two such changes at once never deadlock.
        for submission_id in list(held.order_by("pk").values_list("pk", flat=True)):
            try:
                submission = locked_submission(submission_id=submission_id)
            except Submission.DoesNotExist:
                continue  # deleted meanwhile: nothing held any more
            if submission.claimed_by_id != user.pk:
                continue  # released or taken over meanwhile: no longer theirs to lose
            details = {"releasedClaimOf": holder, "reason": ACCESS_REMOVED}
            _release_claim(submission, actor=Actor.system(), details=details)
            released += 1
    return released


def submissions_lock_claimed_by(*, user_ids: Iterable[int]) -> None:
    """Lock the submissions these users hold (each after its session: locked_submission),
    in primary-key order, until the caller's transaction ends: the deletion of their
    accounts does so before it locks their rows, since every path holding a submission
    may go on to write a row naming its user. Changes nothing."""
    held = Submission.objects.filter(claimed_by_id__in=list(user_ids)).order_by("pk")
    for submission_id in list(held.values_list("pk", flat=True)):
        try:
            locked_submission(submission_id=submission_id)
        except Submission.DoesNotExist:
            continue  # deleted meanwhile


def _coerce_field_value(field_name: str, schema: dict[str, Any], raw: str, *, label: str) -> Any:
    """Turn the reviewer's text into the JSON type the workflow's schema expects; a
    refusal names the field by `label`, as the page shows it."""
    kind = field_type(schema)
    if kind == "number":
        number = _decimal(raw)
        if number is None:
            raise invalid(field_name, f"Enter a number, e.g. 12.50{_number_hint(raw)}.")
        # Never rounded (a multipleOf once rounded to 2 places here): a value the schema
        # refuses is refused with the API's reason, as with too many decimal places.
        return _exact_float(number, field_name, what=f"Invalid value for {label}")
    if kind == "integer":
        try:
            return int(raw.strip())
        except ValueError:
            raise invalid(field_name, "Enter a whole number.") from None
    return trimmed(raw)


# The longest text a correction may carry, from the review page or the API.
CORRECTION_MAX = 2000


def submission_correct_field(
    *,
    submission_id: str,
    field_name: str,
    raw_value: str,
    actor: Actor,
    expected_version: int | None = None,
    page_version: int | None = None,
    typed_version: int | None = None,
) -> Submission:
    """Replace (or clear, with an empty value) one extracted field of a submission in review.

    The value is validated against the workflow version's output schema; the event
    keeps the old and new value and who changed it. A human-entered value is certain,
    so its field confidence becomes 1.0. Line items have their own service.

    `expected_version` refuses any change since; `page_version` (the review desk's) only
    one to this field, the state or the claim (refuse_stale_correction), the field's since
    `typed_version` when the value was typed on an earlier page.
    """
    if len(raw_value) > CORRECTION_MAX:
        raise invalid(field_name, f"At most {CORRECTION_MAX} characters.", field_code="long")
    with transaction.atomic():
        submission = _locked_in_review(
            submission_id,
            expected_version,
            actor,
            page_version=page_version,
            field_name=field_name,
            typed_version=typed_version,
        )
        schema = _field_schema(submission, field_name)
        # The desk's refusals name the field as its page labels it (the API's corrections,
        # submission_correct_fields, keep the key their callers send).
        label = field_label(field_name, schema or {})
        if schema is None or field_type(schema) in {"array", "object"}:
            raise invalid(field_name, f"{label} is not a field that can be corrected here.")
        new = (
            None
            if raw_value.strip() == ""
            else _coerce_field_value(field_name, schema, raw_value, label=label)
        )
        if new is not None:
            _validate(new, submission, field_name, f"Invalid value for {label}")
        _store_correction(submission, field_name, new, actor)
    return submission


@dataclass(frozen=True)
class LineItemRow:
    """One row of line items as a reviewer typed it."""

    description: str = ""
    quantity: str = ""
    amount: str = ""

    def is_blank(self) -> bool:
        return not (self.description.strip() or self.quantity.strip() or self.amount.strip())


def submission_correct_line_items(
    *,
    submission_id: str,
    rows: list[LineItemRow],
    actor: Actor,
    expected_version: int | None = None,
    page_version: int | None = None,
    typed_version: int | None = None,
) -> Submission:
    """Replace the line items of a submission in review with the reviewer's rows.

    A blank row is dropped (that is how a reviewer removes one); every other row needs a
    description, a quantity above zero and an amount. Stored and recorded like any other
    correction (old and new list in the event, confidence 1.0); no rows clears the field.
    Versions are checked as for submission_correct_field.
    """
    with transaction.atomic():
        submission = _locked_in_review(
            submission_id,
            expected_version,
            actor,
            page_version=page_version,
            field_name="lineItems",
            typed_version=typed_version,
        )
        schema = _field_schema(submission, "lineItems")
        if schema is None or field_type(schema) != "array":
            raise invalid("lineItems", "This workflow has no line items.")
        kept = [n for n, row in enumerate(rows) if not row.is_blank()]
        items = [_line_item(n + 1, rows[n]) for n in kept]
        try:
            _check_line_items(items)
            if items:
                _validate(items, submission, "lineItems", "Invalid line items")
        except ServiceError as refusal:
            raise _at_form_rows(refusal, kept) from None
        _store_correction(submission, "lineItems", items or None, actor)
    return submission


_ITEM_AT = re.compile(r"^lineItems\[(\d+)\]")


def _at_form_rows(refusal: ServiceError, kept: list[int]) -> ServiceError:
    """The refusal of the list of items with each item named by its row on the form
    (`kept`: the form's row of each item): the blank rows the list drops are counted
    there, and the page marks the input of that row."""

    def form_row(match: re.Match[str]) -> str:
        return f"lineItems[{kept[int(match.group(1))]}]"

    for error in refusal.errors:
        error["field"] = _ITEM_AT.sub(form_row, error["field"])
    return refusal


_QUANTITY_ABOVE_ZERO = "Row {number}: the quantity must be a number above zero."
# A reviewer's list is bounded (every correction event keeps the old and the new list).
MAX_LINE_ITEMS = 300


def _check_line_items(items: list[dict[str, Any]]) -> None:
    """The rules of line items however they come (page or JSON): at most MAX_LINE_ITEMS,
    each with a description of at most CORRECTION_MAX characters (no schema limits it)
    and a quantity above zero (older workflow versions' schemas allow any number)."""
    if len(items) > MAX_LINE_ITEMS:
        raise invalid("lineItems", f"At most {MAX_LINE_ITEMS} line items.")
    for number, item in enumerate(items, start=1):
        # A schema whose items are free (items: true) lets through rows of any shape.
        if not isinstance(item, dict):
            continue
        _check_description(number, item.get("description"))
        quantity = item.get("quantity")
        if (
            isinstance(quantity, int | float)
            and not isinstance(quantity, bool)
            and round(quantity, 4) <= 0
        ):
            raise invalid(
                f"lineItems[{number - 1}].quantity", _QUANTITY_ABOVE_ZERO.format(number=number)
            )


def _check_description(number: int, description: Any) -> None:
    """Row `number` (from 1; the API names its item, from 0)."""
    if isinstance(description, str) and len(description) > CORRECTION_MAX:
        raise invalid(
            f"lineItems[{number - 1}].description",
            f"Row {number}: the description is at most {CORRECTION_MAX} characters.",
            field_code="long",
        )


def _line_item(number: int, row: LineItemRow) -> dict[str, Any]:
    """Row `number` (from 1) of the form; a refusal names its input as the API names an
    item's member (lineItems[0].quantity), so the page marks that input."""
    at = f"lineItems[{number - 1}]"
    description = trimmed(row.description)
    if not description:
        raise invalid(f"{at}.description", f"Row {number}: a description is needed.")
    if "\x00" in description:  # PostgreSQL cannot store it in JSON
        raise invalid(f"{at}.description", f"Row {number}: the description has a NUL character.")
    _check_description(number, description)
    quantity = _decimal(row.quantity or "1")
    if quantity is None or round(quantity, 4) <= 0:
        raise invalid(f"{at}.quantity", _QUANTITY_ABOVE_ZERO.format(number=number))
    amount = _decimal(row.amount)
    if amount is None:
        raise invalid(
            f"{at}.amount",
            f"Row {number}: enter the amount as a number, e.g. 12.50{_number_hint(row.amount)}.",
        )
    # Not rounded: more than MAX_DECIMALS places is refused (_unstorable), as over the API.
    return {
        "description": description,
        "quantity": _exact_float(quantity, f"{at}.quantity", what=f"Row {number}"),
        "amount": _exact_float(amount, f"{at}.amount", what=f"Row {number}"),
    }


# No amount or quantity on a receipt or invoice comes near this; larger numbers are typos
# (and a 30-digit one overflows rounding to 4 places in Decimal's default context).
TOO_LARGE = Decimal(10) ** 15


# A comma groups thousands, three digits each, before any decimal point: "12,50" typed
# with a decimal comma was read as 1250 (every comma was dropped), a hundred times the
# total, and "1_250" (Decimal takes underscores) the same way.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
SEPARATOR_HINT = " (a comma only separates thousands, as in 1,250.50)"


def _decimal(raw: str) -> Decimal | None:
    """A number typed by a reviewer ("1,250.50"); None when it is none, not finite, too
    large to be an amount, or has a comma that is no thousands separator."""
    text = raw.strip()
    if "_" in text or ("," in text and not _THOUSANDS.fullmatch(text)):
        return None
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number) < TOO_LARGE else None


def _number_hint(raw: str) -> str:
    """What a refused number's message adds when a separator was the trouble."""
    return SEPARATOR_HINT if "," in raw or "_" in raw else ""


# One refusal for a number a stored float would change, typed on the desk or sent as JSON.
INEXACT = "the number has more digits than can be kept exactly"
INEXACT_CODE = "inexact_number"


def _exact_float(number: Decimal, field_name: str, *, what: str) -> float:
    """The number as stored (a JSON float), refused when that would change it: a float
    keeps about 15 significant digits, and 99999999999999.9999 became 100000000000000."""
    value = as_float(number)
    if value is None:
        raise invalid(field_name, f"{what}: {INEXACT}.", field_code=INEXACT_CODE)
    return value


def _field_schema(submission: Submission, field_name: str) -> dict[str, Any] | None:
    properties = (submission.workflow_version.output_schema or {}).get("properties", {})
    spec = properties.get(field_name)
    if isinstance(spec, bool):  # a version stored before they were refused at publish
        return {} if spec else {"not": {}}
    return spec


def _validate(value: Any, submission: Submission, field_name: str, what: str) -> None:
    """Refuse a value the field cannot hold, naming where in it the refusal lies (a line
    item's member: lineItems[2].amount) so the API's caller knows which to fix."""
    if unstorable := _unstorable(value):
        steps, problem = unstorable
        code = INEXACT_CODE if problem == INEXACT else "invalid"
        raise invalid(_at(field_name, steps), f"{what}: {problem}.", field_code=code)
    schema = submission.workflow_version.output_schema or {}
    if (refusal := schema_refusal_at(schema, field_name, value)) is not None:
        steps, problem = refusal
        raise invalid(_at(field_name, steps), f"{what}: {problem}.")


def _at(field_name: str, steps: Steps) -> str:
    """A place in a field's value as the API names it: lineItems[2].amount."""
    return field_name + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def _unstorable(value: Any) -> tuple[Steps, str] | None:
    """What JSON Schema lets through but no reviewer means, and where in the value: text
    with nothing visible in it, a line break or other control character (a trailing
    newline passes a ``^…$`` pattern in Python), a bidi override (it hides what a name
    says), and a number too large to be an amount (JSON's 1e400 reads as infinity, which
    no JSON column stores)."""
    if isinstance(value, dict | list):
        members = value.items() if isinstance(value, dict) else enumerate(value)
        for step, member in members:
            if found := _unstorable(member):
                return [step, *found[0]], found[1]
        return None
    problem = _unstorable_scalar(value)
    return ([], problem) if problem else None


def _unstorable_scalar(value: Any) -> str | None:
    if isinstance(value, str):
        if all(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in value):
            return "a value cannot be blank (send null to clear a field)"
        if hides_text(value, allowed="\t"):
            return "the text has a line break or a control, bidi formatting or invisible character"
    elif isinstance(value, int | float) and not _storable_number(value):
        return "the number is too large"
    elif isinstance(value, InexactFloat):
        # Read by the API's ExactNumbersJSONParser: the float is not the number sent
        # (12345678901234.56789 read as ...234.568, which even passed the decimals rule).
        return INEXACT
    elif isinstance(value, float) and _decimal_places(value) > MAX_DECIMALS:
        return f"the number has more than {MAX_DECIMALS} decimal places"
    return None


# A correction event keeps the values it replaced and set, but not a large one (300 line
# items of 2,000 characters are 600 KB): the submission's detail lists 100 events, and
# 100 such corrections would make it 120 MB.
EVENT_VALUE_MAX_BYTES = 8192


def _correction_details(field_name: str, old: Any, new: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"field": field_name}
    for key, value in (("old", old), ("new", new)):
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        if size > EVENT_VALUE_MAX_BYTES:  # a text field's 2,000 characters always fit
            details.setdefault("omitted", []).append(key)
        else:
            details[key] = value
    return details


# Where the summary names a field, as jobs.extraction.summarise writes it ("Receipt from
# <name> dated <date> for MYR <total>; total read under 2 cues; missing date."): what
# follows the phrase, so that a value is replaced only in its own place.
_PHRASE_END = {
    "merchantName": r"(?= number | dated | with no readable date)",
    "vendorName": r"(?= number | dated | with no readable date)",
    "date": r"(?= for | with no readable total)",
    "invoiceDate": r"(?= for | with no readable total)",
    "totalAmount": r"(?=[;.])",
}
_FIRST_SENTENCE = re.compile(r"(?:^|\. )\w+ from ")


def summary_with(summary: str, field_name: str, old: Any, new: Any, currency: str) -> str | None:
    """The summary with a corrected value in its place, and a field given a value off its
    "missing" list; None to leave it: the value does not read there as the reader wrote
    it (one the memory recalled), or the summary covers several files."""
    if len(_FIRST_SENTENCE.findall(summary)) != 1:
        return None
    if field_name not in _PHRASE_END:
        changed = summary if new is None else _no_longer_missing(summary, field_name)
        return changed if changed != summary else None
    shown, wanted = _phrase(field_name, old, currency), _phrase(field_name, new, currency)
    if shown is None or wanted is None:
        return None
    found = list(re.finditer(re.escape(shown) + _PHRASE_END[field_name], summary))
    if len(found) != 1:
        return None
    at = found[0]
    changed = summary[: at.start()] + wanted + summary[at.end() :]
    return changed if new is None else _no_longer_missing(changed, field_name)


def _phrase(field_name: str, value: Any, currency: str) -> str | None:
    if field_name in ("merchantName", "vendorName"):
        return f" from {value}" if value is not None else " from an unknown issuer"
    if field_name in ("date", "invoiceDate"):
        return f" dated {value}" if value is not None else " with no readable date"
    if value is None:
        return " with no readable total"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return f" for {currency} {value:.2f}".replace("  ", " ")


def _no_longer_missing(summary: str, field_name: str) -> str:
    """Take a field that now has a value off the summary's "; missing a, b" list."""
    match = re.search(r"; missing ([\w, ]+)(?=\.)", summary)
    if match is None:
        return summary
    rest = [name for name in match.group(1).split(", ") if name != field_name]
    listed = f"; missing {', '.join(rest)}" if rest else ""
    return summary[: match.start()] + listed + summary[match.end() :]


# Decimal places a corrected number may have: enough for every currency's minor unit (3
# for KWD, BHD, OMR) and unit prices (fuel per litre), and what the page shows back. More
# is a typo or a binary float's tail (0.30000000000000004, 1e-321), stored as if read.
MAX_DECIMALS = 4


def _decimal_places(value: float) -> int:
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _without_negative_zero(value: Any) -> Any:
    """-0.0 as 0.0, however deep: a correction of -0 is nothing paid back, and it showed
    as "-0.00" on the page and in webhooks."""
    if isinstance(value, float) and value == 0:
        return 0.0
    if isinstance(value, dict):
        return {key: _without_negative_zero(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_negative_zero(item) for item in value]
    return value


def _storable_number(value: int | float) -> bool:
    # A JSON integer of 400 digits is a Python int that float() cannot hold: compare
    # it exactly rather than through math.isfinite.
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return abs(value) < TOO_LARGE


def _store_correction(submission: Submission, field_name: str, new: Any, actor: Actor) -> None:
    """Write a reviewer's value (None: clear the field) with its event; no change, no event."""
    new = _without_negative_zero(new)
    data = dict(submission.extracted_data or {})
    old = data.get(field_name)
    if new == old:
        return
    confidences = dict(submission.field_confidences or {})
    if new is None:
        data.pop(field_name, None)
        confidences.pop(field_name, None)
    else:
        data[field_name] = new
        confidences[field_name] = 1.0
    submission.extracted_data = data
    submission.field_confidences = confidences
    fields = ["extracted_data", "field_confidences"]
    currency = str(data.get("currency") or "")
    summary = summary_with(submission.ai_summary, field_name, old, new, currency)
    if summary is not None:
        submission.ai_summary = summary
        fields.append("ai_summary")
    if field_name == "lineItems" and "lineItems" in (submission.evidence or {}):
        # Rows were added, removed or reordered: their boxes no longer say which is which.
        submission.evidence = {k: v for k, v in submission.evidence.items() if k != "lineItems"}
        fields.append("evidence")
    # Correcting is working on it: the reviewer now holds the submission, claimed before
    # the correction is recorded (the timeline showed the claim after what it caused).
    hold_for_actor(submission, actor)
    save_new_version(submission, fields, corrected=field_name, by=actor)
    record_event(
        submission=submission,
        type=EventType.FIELD_CORRECTED,
        actor=actor,
        details=_correction_details(field_name, old, new),
    )
    # Correction memory is production's (DESIGN.md): sandbox corrections teach nothing,
    # nor do those of a receipt confirmed as fraud (_teaches).
    if field_name in REMEMBERED_FIELDS and _teaches(submission):
        shown = _shown(submission, field_name)
        keys = _shop_keys(submission)
        recalled = _recalled_ids(submission, field_name)
        if _taught(old, shown):
            _withdraw(submission, field_name, keys, old, recalled)  # the reviewer took it back
        if _taught(new, shown):
            _remember(submission, field_name, keys, new, recalled)


def _check_correction(value: Any, submission: Submission, field_name: str) -> None:
    """The review page's rules for one typed JSON value: its text at most CORRECTION_MAX
    characters (a line item's description names its row, as the page does), valid for
    the schema."""
    rows = field_name == "lineItems"
    if not rows:
        _refuse_long_text(value, field_name)
    _validate(value, submission, field_name, "Invalid value")
    if rows:
        _check_line_items(value)
        _refuse_long_text(value, field_name)  # a row's other text (a workflow's own members)


def _refuse_long_text(value: Any, field_name: str) -> None:
    if (steps := _long_text(value)) is not None:
        message = f"At most {CORRECTION_MAX} characters."
        raise invalid(_at(field_name, steps), message, field_code="long")


def _long_text(value: Any) -> Steps | None:
    """Where the first text over CORRECTION_MAX characters is in a value (an object's or
    a list's nest them), or None."""
    if isinstance(value, str):
        return [] if len(value) > CORRECTION_MAX else None
    if isinstance(value, dict | list):
        members = value.items() if isinstance(value, dict) else enumerate(value)
        for step, member in members:
            if (steps := _long_text(member)) is not None:
                return [step, *steps]
    return None


def trimmed(value: Any) -> Any:
    """A correction's text without its surrounding padding, however deep it is (a line
    item's description, a workflow's own members of an object): the one rule of the desk
    and the API. Stored with it, a value differed from the same value typed elsewhere, and
    a padded name taught the memory a value unlike the one OCR reads."""
    if isinstance(value, str):
        return without_padding(value)
    if isinstance(value, list):
        return [trimmed(item) for item in value]
    if isinstance(value, dict):
        return {key: trimmed(item) for key, item in value.items()}
    return value


def submission_correct_fields(
    *,
    submission_id: str,
    values: dict[str, Any],
    actor: Actor,
    expected_version: int | None = None,
) -> Submission:
    """Correct several fields at once (the API's corrections): typed JSON values, each
    validated against the workflow's output schema, all stored or none. Each changed
    field writes the review page's own ``field_corrected`` event; null clears a field.

    Every invalid field is refused at once (a 422 naming each as fields.<name>) before
    anything is stored.
    """
    # Padding goes, as on the review desk (trimmed); blank text and line breaks are still
    # refused (null clears a field).
    values = {name: trimmed(value) for name, value in values.items()}
    with transaction.atomic():
        submission = _locked_in_review(submission_id, expected_version, actor)
        if errors := correction_errors(submission=submission, values=values):
            first = errors[0]
            raise ServiceError(
                "VALIDATION_ERROR", f"{first['field']}: {first['message']}", 422, errors
            )
        for name, value in values.items():
            _store_correction(submission, name, value if value != [] else None, actor)
    return submission


def correction_errors(*, submission: Submission, values: dict[str, Any]) -> list[dict[str, str]]:
    """Each refused field of a corrections body as fields.<name>, in the body's order:
    too long, not a field of the workflow, or not a value its output schema takes."""
    errors: list[dict[str, str]] = []
    for name, raw in values.items():
        where, value = f"fields.{name}", trimmed(raw)
        try:
            # Too long is said first, of any name; line items name the row (_check_correction).
            if name != "lineItems":
                _refuse_long_text(value, name)
            if _field_schema(submission, name) is None:
                errors.append(
                    field_error(where, f"{name} is not a field of this workflow.", "unknown_field")
                )
            elif value is not None:
                _check_correction(value, submission, name)
        except ServiceError as error:
            first = error.errors[0] if error.errors else {}
            # The checks name the item and member they refused (lineItems[2].amount).
            at = first.get("field", name)
            if at.startswith((f"{name}[", f"{name}.")):
                where = f"fields.{at}"
            errors.append(field_error(where, error.message, first.get("code", "invalid")))
    return errors[:MAX_FIELD_ERRORS]  # a body of 20,000 unknown names gets 50 back


def _shown(submission: Submission, field_name: str) -> Any:
    """The field as Steve gave it, before any correction: the first correction's old."""
    first = (
        submission.events.filter(type=EventType.FIELD_CORRECTED, details__field=field_name)
        .order_by("id")
        .first()
    )
    if first is not None:
        return first.details.get("old")
    return (submission.extracted_data or {}).get(field_name)


def _taught(value: Any, shown: Any) -> bool:
    """Whether this submission's ``value`` is in the memory through a correction: a value
    a reviewer set that differs from what Steve gave (one put back teaches nothing)."""
    return isinstance(value, str) and bool(value.strip()) and value != shown


def _ocr_read(submission: Submission, field_name: str) -> Any:
    """The field as the reader read it: what the memory replaced, when it gave the value
    (the keys it recalled by come from that reading, and so must a correction's)."""
    for evidence in (submission.evidence or {}).get(field_name, []):
        if isinstance(evidence, dict) and "memory" in evidence and "read" in evidence:
            return evidence["read"]
    return _shown(submission, field_name)


def _shop_keys(submission: Submission) -> list[str]:
    """The keys the receipt is known by, from the name and address as read, so that every
    correction of a receipt lands on the memories its recall used."""
    text = "\n".join(submission.pages_text or [])
    read = {name: _ocr_read(submission, name) for name in REMEMBERED_FIELDS}
    return shop_keys(text, read["merchantAddress"], read["merchantName"])


def _lock_memories(company_id: Any) -> None:
    """Take the company's memory lock: corrections of two receipts of one shop touch the
    same rows under several keys, in orders no sort can make one, and deadlocked."""
    # NO KEY UPDATE, so inserting rows that point at the company is not held up.
    list(
        Company.objects.select_for_update(no_key=True)
        .filter(pk=company_id)
        .values_list("pk", flat=True)
    )


def merchant_memory_hold(*, submission_id: str) -> None:
    """Hold the correction memory of this submission's company as it is until the
    caller's transaction ends: the worker storing a receipt the memory gave a value
    checks, under it, that the value is still remembered. A forget (or a correction)
    under way is waited for, and one that starts waits for the receipt to be stored, so
    the receipt never goes out citing a value that was forgotten as it was stored.

    The submission's row first (its session's before it: locked_submission), then the
    company's, as corrections take them. FOR SHARE: workers storing receipts of one
    company do not wait for each other, only for the memory's writers (_lock_memories,
    FOR NO KEY UPDATE, which FOR SHARE conflicts with)."""
    # A caller's bug, not a refusal a user can meet (which services raise as ServiceError):
    # outside a transaction the hold would end as soon as it was taken.
    assert transaction.get_connection().in_atomic_block, "call within the storing transaction"
    company_id = locked_submission(submission_id=submission_id).company_id
    hold_company_rows(transaction.get_connection(), company_id)


def hold_company_rows(connection: Any, company_id: Any) -> None:
    """The company's row share-locked on `connection` until its transaction ends, where
    the database locks rows: SQLite (./scripts/dev's database) has no `FOR SHARE` (it
    was a syntax error there, and the worker retried every receipt a memory gave a value
    until it gave up) and lets one writer in at a time, which holds the memory as well."""
    if not connection.features.has_select_for_update:
        return
    table, pk = Company._meta.db_table, Company._meta.pk.column
    with connection.cursor() as cursor:
        # Django's select_for_update has no FOR SHARE.
        cursor.execute(f'SELECT 1 FROM "{table}" WHERE "{pk}" = %s FOR SHARE', [company_id])


# Values a memory row keeps aside, newest last: what corrections overwrote, to come back
# when they are withdrawn.
MAX_PREVIOUS = 5
_MEMORY_FIELDS = ["value", "times_right", "times_wrong", "previous", "updated_at"]


def _recalled_ids(submission: Submission, field_name: str) -> list[str]:
    """The memory rows that gave this field its value (none when it was read)."""
    return [
        memory_id
        for e in (submission.evidence or {}).get(field_name, [])
        if isinstance(e, dict)
        for memory_id in e.get("memory", [])
    ]


def _shop_rows(
    submission: Submission, field_name: str, keys: list[str], ids: list[str]
) -> list[MerchantMemory]:
    """The company's memory rows of this receipt's shop, locked: under its keys (and its
    company numbers' older keys, which the recall reads: a row taught under one is the
    same shop's, to be overruled and given back as the key's own), and the rows its
    recall came from (a receipt read another way has other keys)."""
    _lock_memories(submission.company_id)
    return list(
        MerchantMemory.objects.select_for_update()
        .filter(company_id=submission.company_id, field=field_name)
        .filter(Q(key__in=recall_keys(keys)) | Q(pk__in=ids))
    )


def _withdraw(
    submission: Submission, field_name: str, keys: list[str], value: str, ids: list[str]
) -> None:
    """Take back what this submission taught: its reviewer replaced or cleared ``value``, or
    it was rejected or cancelled. The value counts once less, also where a later correction
    set it aside; where it was the last count, what it had overwritten comes back."""
    for memory in _shop_rows(submission, field_name, keys, ids):
        if same_value(memory.value, value):
            if memory.times_right > 1:
                memory.times_right -= 1
            elif not _restore_previous(memory):
                memory.delete()
                continue
        elif not _count_aside_once_less(memory, value):
            continue
        memory.save(update_fields=_MEMORY_FIELDS)


def _restore_previous(memory: MerchantMemory) -> bool:
    if not memory.previous:
        return False
    last = memory.previous[-1]
    memory.value, memory.times_right = last["value"], last["times_right"]
    memory.times_wrong = last["times_wrong"]
    memory.previous = memory.previous[:-1] or None
    return True


def _history(memory: MerchantMemory) -> list[dict[str, Any]]:
    """The values a row held, oldest first, ending with the one it holds."""
    return [
        *(memory.previous or []),
        {
            "value": memory.value,
            "times_right": memory.times_right,
            "times_wrong": memory.times_wrong,
        },
    ]


def _drop(memory: MerchantMemory, gone: Callable[[int, dict[str, Any]], bool]) -> bool:
    """Take the values that went (forgotten, or withdrawn to no count) out of a row's
    history, with their overrulings: a row's wrongs add up along it (a correction takes
    the count of the value it overrules, plus one), so every value after one that went
    was overruled once less, as if it had never been taught. A correction saved just
    before the forget of the value it overruled stayed doubted (0.5, not 0.67), which a
    correction saved just after was not. The wrongs of the values that stay are kept.
    Then _rejoin. False when nothing is left (the caller deletes the row)."""
    kept: list[dict[str, Any]] = []
    went = 0
    for index, entry in enumerate(_history(memory)):
        if gone(index, entry):
            went += 1
            continue
        # max: rows an earlier rule left, or written by hand, may not add up.
        kept.append({**entry, "times_wrong": max(0, entry["times_wrong"] - went)})
    if not kept:
        return False
    *aside, last = kept
    memory.value, memory.times_right = last["value"], last["times_right"]
    memory.times_wrong = last["times_wrong"]
    memory.previous = aside or None
    _rejoin(memory)
    return True


def _rejoin(memory: MerchantMemory) -> None:
    """Join a value with itself where what had come between went (withdrawn, forgotten):
    its counts add up, and the overrulings of what went are no more. A typo that another
    reviewer corrected before its own reviewer took it back left the shop's name of three
    corrections at one right and two wrong (0.4), its three kept aside under itself. The
    values after the joined one lose the overruling the join undid (_drop's rule)."""
    joined: list[dict[str, Any]] = []
    undone = 0
    for entry in _history(memory):
        entry = {**entry, "times_wrong": max(0, entry["times_wrong"] - undone)}
        if joined and same_value(joined[-1]["value"], entry["value"]):
            before = joined.pop()
            undone += max(0, entry["times_wrong"] - before["times_wrong"])
            # The later spelling, as often wrong as before what came between.
            entry = {
                **entry,
                "times_right": before["times_right"] + entry["times_right"],
                "times_wrong": before["times_wrong"],
            }
        joined.append(entry)
    *aside, last = joined
    memory.value, memory.times_right = last["value"], last["times_right"]
    memory.times_wrong = last["times_wrong"]
    memory.previous = aside or None


def _count_aside_once_less(memory: MerchantMemory, value: str) -> bool:
    """``value`` set aside by a later correction counts once less (and goes at none)."""
    aside = list(memory.previous or [])
    for index in range(len(aside) - 1, -1, -1):
        if same_value(aside[index]["value"], value):
            if aside[index]["times_right"] > 1:
                aside[index] = {**aside[index], "times_right": aside[index]["times_right"] - 1}
                memory.previous = aside
                _rejoin(memory)
            else:  # the row still holds a value: some of its history stays
                _drop(memory, lambda at, _entry, index=index: at == index)
            return True
    return False


def _remember(
    submission: Submission, field_name: str, keys: list[str], new: str, ids: list[str] | None = None
) -> None:
    """A reviewer's merchant name or address becomes the company's memory of the shop,
    under every key its receipt carries and on the rows its recall came from; a memory
    that said otherwise was wrong once, and is set aside so that withdrawing ``new``
    brings it back. The same value but for case and spaces (same_value) was right, and
    takes the reviewer's spelling."""
    rows = _shop_rows(submission, field_name, keys, ids or [])
    for key in set(keys) - {memory.key for memory in rows}:
        MerchantMemory.objects.create(
            company_id=submission.company_id, key=key, field=field_name, value=new
        )
    for memory in rows:
        if same_value(memory.value, new):
            memory.value = new
            memory.times_right += 1
        else:
            aside = {
                "value": memory.value,
                "times_right": memory.times_right,
                "times_wrong": memory.times_wrong,
            }
            memory.previous = [*(memory.previous or []), aside][-MAX_PREVIOUS:]
            memory.value, memory.times_right = new, 1
            memory.times_wrong += 1
        memory.save(update_fields=_MEMORY_FIELDS)


def _teaches(submission: Submission) -> bool:
    """Whether this submission's corrections and approval teach the correction memory:
    production's only (docs/environments.md), and not once a fraud match of it is
    confirmed. A forged receipt can print a real shop's numbers under another name, and
    where the workflow's policy leaves it in review on confirmation, its corrections
    stayed taught and its approval taught its name to that shop's next receipts."""
    return (
        submission.environment == Environment.PRODUCTION
        and not submission.fraud_matches.filter(resolution="confirmed_fraud").exists()
    )


def merchant_memory_withdraw_submission(*, submission: Submission) -> None:
    """Take back what a submission's corrections taught, as its fraud is confirmed (the
    caller holds its row, in the confirmation's transaction). Its later corrections,
    approval, reject or cancel teach and take back nothing (_teaches): this was taken."""
    if submission.environment == Environment.PRODUCTION:
        _withdraw_corrections(submission, confirmed=True)


def merchant_memory_reteach_submission(*, submission: Submission) -> None:
    """Teach again what a submission's corrections teach, as the last confirmation of
    its fraud is undone (the caller holds its row): as if they had just been made."""
    if submission.environment != Environment.PRODUCTION:
        return
    if taught := _taught_values(submission):
        keys = _shop_keys(submission)
        for field_name, value in taught:
            _remember(submission, field_name, keys, value, _recalled_ids(submission, field_name))


def _taught_values(submission: Submission) -> list[tuple[str, str]]:
    """The merchant fields this submission's corrections set, with their values."""
    data = submission.extracted_data or {}
    return [
        (name, data[name])
        for name in REMEMBERED_FIELDS
        if _taught(data.get(name), _shown(submission, name))
    ]


def _withdraw_corrections(submission: Submission, *, confirmed: bool = False) -> None:
    """A rejected or cancelled receipt teaches nothing: what its corrections taught the
    memory is taken back (a throwaway submission cannot plant a shop's name). One
    confirmed as fraud had it taken back then (``confirmed``), and not again now."""
    if submission.environment != Environment.PRODUCTION:
        return
    taught = _taught_values(submission)
    if not taught or not (confirmed or _teaches(submission)):
        return
    keys = _shop_keys(submission)
    for field_name, value in taught:
        _withdraw(submission, field_name, keys, value, _recalled_ids(submission, field_name))


def _confirm_memories(submission: Submission) -> None:
    """An approval is a reviewer's word on the merchant fields too: a value the memory gave
    was right once more, and a value read right (not given, not corrected) is remembered
    as a correction would be, so the next misread receipt of the shop gets it. (Bulk
    approval does not come here: nobody looked at those fields.) Neither does a receipt
    confirmed as fraud (_teaches)."""
    if not _teaches(submission):
        return
    data = submission.extracted_data or {}
    keys: list[str] | None = None  # read only when a value is to be remembered
    # The company's memory lock before any memory row, as every other path takes them:
    # counting a recalled row first and then remembering the other field (which takes
    # the lock) deadlocked with a correction of the same shop holding the lock.
    _lock_memories(submission.company_id)
    for field_name in REMEMBERED_FIELDS:
        value = data.get(field_name)
        if (
            not isinstance(value, str)
            or not value
            or _taught(value, _shown(submission, field_name))
        ):
            continue  # a correction was remembered when it was made
        if ids := _recalled_ids(submission, field_name):
            _count_recalled_once_more(submission, ids, value)
        else:
            keys = keys if keys is not None else _shop_keys(submission)
            _remember(submission, field_name, keys, value)


def _count_recalled_once_more(submission: Submission, ids: list[str], value: str) -> None:
    """The approved value counts once more on the rows that gave it: where a row holds it
    in any spelling (another reviewer may have respelled it since: an exact match lost
    the approval), or else where a later correction of the shop set it aside, so that
    it comes back with this count when that correction is taken back. A value an admin
    forgot since is neither: the approval teaches nothing (docs/review.md)."""
    rows = MerchantMemory.objects.select_for_update().filter(
        pk__in=ids, company_id=submission.company_id
    )
    for memory in rows:
        if same_value(memory.value, value):
            memory.times_right += 1
        elif not _count_aside_once_more(memory, value):
            continue
        memory.save(update_fields=_MEMORY_FIELDS)


def _count_aside_once_more(memory: MerchantMemory, value: str) -> bool:
    """``value`` set aside by a later correction counts once more (_count_aside_once_less
    undone)."""
    aside = list(memory.previous or [])
    for index in range(len(aside) - 1, -1, -1):
        if same_value(aside[index]["value"], value):
            aside[index] = {**aside[index], "times_right": aside[index]["times_right"] + 1}
            memory.previous = aside
            return True
    return False


def merchant_memory_forget(
    *, memory_ids: Iterable[str], values: Mapping[str, str] | None = None
) -> int:
    """An admin forgets remembered values (a wrong correction, a shop that changed): each
    value the selected rows hold, under every key of the company that holds it, as a
    receipt is recalled by any of its keys, and where corrections set it aside (a
    withdrawal would bring it back). A row that held it goes back to what it held before,
    if anything. Returns how many rows forgot a value.

    ``values`` (by row id) are the values the admin chose to forget, as the admin read
    them: a correction of the shop that lands in between sets one aside, and reading the
    rows again forgot the correction's value instead and brought back the very value
    chosen to go. Without them, the values the rows hold under the company's memory lock.

    The values are taken as selected, before any is forgotten: forgetting one brings back
    what its rows held before, which must not be forgotten in turn because another of the
    selected rows held the same value."""
    memory_ids = list(memory_ids)
    with transaction.atomic():
        rows = MerchantMemory.objects.filter(pk__in=memory_ids)
        for company_id in sorted(set(rows.values_list("company_id", flat=True))):
            _lock_memories(company_id)
        return sum(
            _forget_values(company_id=company_id, field=field, values=values_of)
            for (company_id, field), values_of in _selected_values(rows, values)
        )


def merchant_memory_forgetting(
    *, memory_ids: Iterable[str], values: Mapping[str, str] | None = None
) -> list[tuple[MerchantMemory, str | None]]:
    """What merchant_memory_forget(memory_ids, values) would do, as things are now, done
    nothing: each row that would forget a value (as it is), with the value it would go
    back to, None where it would be deleted. The admin's Delete pages list them, as a
    row's deletion forgets its value under every key that holds it (they listed the one
    row, and the delete changed several)."""
    rows = MerchantMemory.objects.filter(pk__in=list(memory_ids))
    forgetting: list[tuple[MerchantMemory, str | None]] = []
    for (company_id, name), values_of in _selected_values(rows, values):
        for row in _holding(company_id=company_id, field=name, values=values_of):
            as_read = copy.copy(row)
            kept = _forget_in(row, values_of)
            if kept is not None:
                forgetting.append((as_read, row.value if kept else None))
    return forgetting


def _selected_values(
    rows: QuerySet, values: Mapping[str, str] | None
) -> list[tuple[tuple[Any, str], set[str]]]:
    """The values to forget, by company and field, in that order: those the admin read
    (`values`, by row id) or else those the rows hold."""
    selected: dict[tuple[Any, str], set[str]] = defaultdict(set)
    for pk, company_id, name, value in rows.values_list("pk", "company_id", "field", "value"):
        selected[company_id, name].add(values.get(pk, value) if values else value)
    return sorted(selected.items())


def _holding(*, company_id: Any, field: str, values: set[str]) -> QuerySet:
    """The rows of a field that may hold one of `values`, now or set aside."""
    return MerchantMemory.objects.filter(
        Q(value__in=values) | Q(previous__isnull=False), company_id=company_id, field=field
    )


def _forget_in(row: MerchantMemory, values: set[str]) -> bool | None:
    """Forget `values` in `row` (not saved): None when it held none of them, else whether
    a value is left (which it then holds); False, it goes."""
    if not any(entry["value"] in values for entry in _history(row)):
        return None
    # What comes back was set aside before, never one of the values forgotten.
    return _drop(row, lambda _at, entry: entry["value"] in values)


def _forget_values(*, company_id: Any, field: str, values: set[str]) -> int:
    """Forget `values` of one field in one read and a few writes: one read and one write
    per value and row took minutes for thousands of selected rows."""
    rows = _holding(company_id=company_id, field=field, values=values).select_for_update()
    changed: list[MerchantMemory] = []
    gone: list[str] = []
    now = timezone.now()
    for row in rows:
        kept = _forget_in(row, values)
        if kept is None:
            continue
        if not kept:
            gone.append(row.pk)
            continue
        row.updated_at = now  # bulk_update does not set auto_now fields
        changed.append(row)
    MerchantMemory.objects.filter(pk__in=gone).delete()
    MerchantMemory.objects.bulk_update(changed, _MEMORY_FIELDS, batch_size=500)
    return len(gone) + len(changed)


def submission_files_withdraw(*, submission_id: str) -> int:
    """Retention: a submission's files no longer offered (no downloadUrl, no page on the
    desk, no compare), committed before their bytes are deleted; returns how many.

    Deleted first, the bytes of a purge cut short (the storage stopping between two
    files, the worker killed) were gone while the submission, not purged yet, still
    gave a download link for them until a later run finished the purge."""
    with transaction.atomic():
        files = SubmissionFile.objects.filter(submission_id=submission_id, purged_at__isnull=True)
        return files.update(purged_at=timezone.now())


def submission_purge_results(*, submission_id: str) -> Submission:
    """Retention: forget extracted results; the caller deletes the file bytes first."""
    with transaction.atomic():
        submission = locked_submission(submission_id=submission_id)
        if submission.results_purged_at:
            return submission
        now = timezone.now()
        submission.extracted_data = None
        submission.field_confidences = {}
        submission.evidence = {}
        submission.pages_text = []
        submission.ai_summary = ""  # it names the merchant, the date and the total
        submission.results_purged_at = now
        save_new_version(submission)
        submission.files.update(purged_at=now)
        # A correction's event holds the values it replaced and set: keep only the field.
        for event in submission.events.filter(type=EventType.FIELD_CORRECTED):
            event.details = {"field": event.details.get("field")}
            event.save(update_fields=["details"])
        record_event(submission=submission, type=EventType.RESULTS_PURGED, actor=Actor.system())
    return submission
