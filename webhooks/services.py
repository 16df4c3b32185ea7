"""State changes of the webhooks app: the outbox, endpoints, secrets and redelivery.

Deliveries are written in the caller's transaction and sent after commit, so a
rolled-back change sends nothing and nothing is sent before the change is visible.
"""

import base64
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from steve.broker import BROKER_UNREACHABLE, broker_pause
from steve.errors import ServiceError, all_checked, field_error
from steve.jsonkeys import without_keys
from steve.models import Company
from steve.text import hides_text, shown, without_padding
from steve.timefmt import iso
from webhooks.catalogue import EVENT_TYPES, SYNC_EVENT, WebhookEventType
from webhooks.models import (
    CompanySecret,
    SessionWebhookSecret,
    SessionWebhookTarget,
    SessionWebhookTargetNotice,
    SyncSigningSecret,
    SyncTarget,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointNotice,
)
from webhooks.signals import sync_schedule_changed
from webhooks.signing import SECRET_PREFIX
from webhooks.targets import dns_name, target_error

if TYPE_CHECKING:  # submissions.services imports this module (through submissions.events)
    from submissions.services import Actor

logger = logging.getLogger(__name__)

# A message for the delivery is on the queue until then; beat will not queue another.
QUEUE_LEASE = timedelta(minutes=2)
MAX_GRACE_HOURS = 7 * 24
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 200
# What a redelivery resets; saving only these never rewrites the payload.
REDELIVERY_FIELDS = [
    "status",
    "attempts_before_redelivery",
    "budget_started_at",
    "next_attempt_at",
    "queued_until",
    "delivered_at",
    "failed_at",
]


class WebhookError(ServiceError):
    """A refused webhook request (steve.errors.ServiceError); with `field`, the input
    that was refused is named in the problem's errors."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        *,
        field: str | None = None,
        field_code: str | None = None,
    ) -> None:
        errors = [field_error(field, message, field_code or code.lower())] if field else None
        super().__init__(code, message, status, errors)


@dataclass(frozen=True)
class EndpointChanges:
    """Fields to change on an endpoint, as sent (endpoint_update validates them); None
    leaves a field as it is."""

    url: Any = None
    events: Any = None
    description: Any = None
    enabled: Any = None


def new_secret() -> str:
    # Standard base64, as Standard Webhooks libraries decode the part after `whsec_`.
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def default_grace() -> timedelta:
    return timedelta(hours=settings.WEBHOOKS_SECRET_GRACE_HOURS)


def session_secret_get_or_create(*, company_id: str, environment: str) -> SessionWebhookSecret:
    secret, _ = SessionWebhookSecret.objects.get_or_create(
        company_id=company_id, environment=environment, defaults={"secret": new_secret()}
    )
    return secret


def sync_secret_get_or_create(*, company_id: str) -> SyncSigningSecret:
    secret, _ = SyncSigningSecret.objects.get_or_create(
        company_id=company_id, defaults={"secret": new_secret()}
    )
    return secret


def active_secrets(owner: WebhookEndpoint | CompanySecret) -> list[str]:
    """The secrets that sign right now: the current one, plus the previous during grace."""
    active = [owner.secret]
    expires = owner.previous_secret_expires_at
    if owner.previous_secret and expires and expires > timezone.now():
        active.append(owner.previous_secret)
    return active


def _is_absolute_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is no number or out of range
    except ValueError:  # "https://[::1": an unclosed IPv6 host; ":99999", ":abc"
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.netloc)
        and " " not in url
        and port != 0  # no receiver's port (urlsplit allows it)
    )


def validated_url(url: Any) -> str:
    if url is None or (isinstance(url, str) and not url.strip()):
        raise WebhookError("INVALID_URL", "url is required.", 422, field="url")
    if not isinstance(url, str):
        raise WebhookError("INVALID_URL", "url must be a string.", 422, field="url")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError("INVALID_URL", "url is longer than 2000 characters.", 422, field="url")
    if not _is_absolute_web_url(url):
        # Not a URL at all: not a refused target (which names what a URL may not be).
        raise WebhookError("INVALID_URL", "url must be an absolute https URL.", 422, field="url")
    if why := target_error(url):
        raise WebhookError("WEBHOOK_TARGET_REFUSED", why, 422, field="url")
    return url


def validated_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
        raise WebhookError(
            "INVALID_EVENTS", "events must be a list of event types.", 422, field="events"
        )
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        # The sync post's eventType is one letter from the event announcing it: say which
        # one an endpoint can have, as "unknown" alone leaves the integrator guessing.
        hint = (
            f" {SYNC_EVENT} is the post to a workflow's sync_url, not an event; an endpoint"
            f" hears of a sync with {WebhookEventType.SUBMISSION_SYNCED.value}."
            if SYNC_EVENT in unknown
            else ""
        )
        raise WebhookError(
            "UNKNOWN_EVENT_TYPE",
            f"Unknown event type(s): {', '.join(unknown)}.{hint}",
            422,
            field="events",
        )
    return sorted(set(events), key=EVENT_TYPES.index)


def validated_description(description: Any) -> str:
    """Shown in the admin and the API: a string of at most 200 characters, without a
    control, bidi formatting or invisible character (as every text people read), stored
    without surrounding spaces and tabs, as a correction's text: `" "` was kept as one
    space, and the admin's form (which trims) saved the same value another way."""
    if isinstance(description, str):
        description = without_padding(description)
    if (
        not isinstance(description, str)
        or len(description) > MAX_DESCRIPTION_LENGTH
        or hides_text(description, allowed="")
    ):
        raise WebhookError(
            "INVALID_DESCRIPTION",
            "description must be a string of at most 200 characters, without a control, "
            "bidi formatting or invisible character.",
            422,
            field="description",
        )
    return description


def endpoint_create(
    *,
    company: Company,
    url: Any,
    events: Any = (),
    description: Any = "",
    environment: str = WebhookEndpoint.Environment.PRODUCTION,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret; the secret is shown to the caller only now.

    It receives the events of its environment's API keys' sessions (webhook_emit). A
    refusal names every refused input (null included: events and description are not
    nullable), with the first one's code.
    """
    fields = all_checked(
        {
            "url": lambda: validated_url(url),
            "events": lambda: validated_events(events),
            "description": lambda: validated_description(description),
        }
    )
    secret = new_secret()
    with transaction.atomic():
        _lock_company_endpoints(Company.objects.filter(pk=company.pk).values("pk"))
        _refuse_taken_url(company_id=company.pk, environment=environment, url=fields["url"])
        endpoint = WebhookEndpoint.objects.create(
            company=company, environment=environment, secret=secret, **fields
        )
    return endpoint, secret


def _lock_company_endpoints(company: QuerySet) -> None:
    """Take the company's row lock (its memory lock too: rare, short), so that two
    creates or updates of one URL cannot both find it free. NO KEY UPDATE: rows that
    point at the company are still inserted meanwhile."""
    list(Company.objects.select_for_update(no_key=True).filter(pk__in=company).values("pk"))


DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_url_key(url: str) -> str:
    """ "HTTPS://Hooks.Example.com.:443?a" → "https://hooks.example.com/?a": the URL as
    the receiver is reached. Scheme and host are case-insensitive, the host's trailing
    dot (the DNS root's) names the same host, a default port is the one used when none
    is written, an empty path is requested as "/"; the path and query stay as written
    (the receiver's to interpret, case-sensitive)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = dns_name(parts.hostname or "")
    if ":" in host:  # an IPv6 address, which hostname gives unbracketed
        host = f"[{host}]"
    if parts.port not in (None, DEFAULT_PORTS.get(scheme)):
        host = f"{host}:{parts.port}"
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{scheme}://{host}{parts.path or '/'}{query}{fragment}"


def _refuse_taken_url(
    *, company_id: Any, environment: str, url: str, endpoint_id: str | None = None
) -> None:
    """One endpoint per URL in a company's environment: two received every event twice,
    each signed with its own secret under its own delivery id, which a receiver cannot
    tell are the same. Not a database constraint: endpoints made twice before this rule
    keep their secrets and logs (the integrator deletes the one not wanted).

    Compared by endpoint_url_key: a URL written another way reaches the same receiver.
    In Python, as the key is no column: an environment has a handful of endpoints."""
    key = endpoint_url_key(url)
    others = (
        WebhookEndpoint.objects.filter(company_id=company_id, environment=environment)
        .exclude(pk=endpoint_id)
        .order_by("pk")
        .values_list("pk", "url")
    )
    taken = next((pk for pk, other in others if endpoint_url_key(other) == key), None)
    if taken is not None:
        raise WebhookError(
            "WEBHOOK_ENDPOINT_URL_TAKEN",
            f"This environment already has an endpoint with this URL ({taken}): it would "
            "receive every event twice. Change that one instead.",
            409,
            field="url",
        )


# What a change of an endpoint deleted since the caller read it says.
ENDPOINT_GONE = "This endpoint no longer exists (deleted)."


def _locked_endpoint(endpoint_id: str) -> WebhookEndpoint:
    """The endpoint, locked for the change. Deleted since the caller read it (another
    operator, the API), it is a refusal the caller reports, not a 500.

    A no-key lock: a change of its columns need not wait for the events being emitted
    to it (webhook_emit holds its rows FOR KEY SHARE), only a deletion does."""
    endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise WebhookError("WEBHOOK_ENDPOINT_NOT_FOUND", ENDPOINT_GONE, 404)
    return endpoint


def endpoint_update(
    *,
    endpoint_id: str,
    changes: EndpointChanges,
    reason: str = "Disabled by the integrator.",
    actor: "Actor | None" = None,
) -> WebhookEndpoint:
    """Apply `changes`; `reason` is what a disabled endpoint says disabled it, and the
    notices name `actor` (a staff user, from the admin) when given."""
    with transaction.atomic():
        if changes.url is not None:  # the company first, as a create locks it
            _lock_company_endpoints(
                WebhookEndpoint.objects.filter(pk=endpoint_id).values("company_id")
            )
        endpoint = _locked_endpoint(endpoint_id)
        fields = validated_changes(changes)
        enabled = fields.pop("enabled", None)
        # Another receiver, not the same one written another way (endpoint_url_key).
        if endpoint_url_key(fields.get("url", endpoint.url)) != endpoint_url_key(endpoint.url):
            _refuse_taken_url(
                company_id=endpoint.company_id,
                environment=endpoint.environment,
                url=fields["url"],
                endpoint_id=endpoint.pk,
            )
            # A Retry-After was the old receiver's (webhooks.delivery._hold_owner), and so
            # was its run of failures: kept, the new receiver's first failure disabled the
            # endpoint for days it was never tried, and its deliveries went one at a time.
            endpoint.held_until = None
            endpoint.failing_since = None
            endpoint.last_failure_at = None
        for name, value in fields.items():
            setattr(endpoint, name, value)
        if enabled is True and not endpoint.enabled:
            _enable(endpoint, actor)
        elif enabled is False and endpoint.enabled:
            _disable(endpoint, f"{reason.rstrip('.')}{_by(actor)}." if actor else reason)
        endpoint.save()
    return endpoint


def validated_changes(changes: EndpointChanges) -> dict[str, Any]:
    """The changes given (not None), validated; one refusal names every refused one.
    enabled is checked first: its code (VALIDATION_ERROR) led before the others'."""
    checks: dict[str, Callable[[], Any]] = {
        "enabled": lambda: validated_enabled(changes.enabled),
        "url": lambda: validated_url(changes.url),
        "events": lambda: validated_events(changes.events),
        "description": lambda: validated_description(changes.description),
    }
    return all_checked({k: v for k, v in checks.items() if getattr(changes, k) is not None})


def validated_enabled(enabled: Any) -> bool:
    if not isinstance(enabled, bool):
        raise WebhookError(
            "VALIDATION_ERROR",
            "enabled must be true or false.",
            422,
            field="enabled",
            field_code="invalid",
        )
    return enabled


def endpoint_delete(*, endpoint_id: str) -> None:
    """Delete the endpoint and its deliveries, those of events being emitted to it too.

    Locked first, then deleted: an event emitted meanwhile (webhook_emit holds its
    endpoints FOR KEY SHARE) is either committed before, and its delivery goes with the
    endpoint, or waits and finds the endpoint gone. Deleted unlocked, the deliveries were
    collected before the emitting change committed its own, and one of the two failed
    on the foreign key: the deletion a 500, or the change that emitted (a decision, a
    pipeline step) rolled back."""
    with transaction.atomic():
        # Its deliveries locked first, in primary-key order, as every path that locks
        # deliveries and then their endpoint does (the worker recording an outcome, a
        # redelivery): the endpoint locked first, the deletion's cascade waited for a
        # delivery one of them held, which waited for the endpoint.
        list(
            WebhookDelivery.objects.select_for_update()
            .filter(endpoint_id=endpoint_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is not None:  # None: deleted meanwhile, as asked
            endpoint.delete()


def _rotate(owner: WebhookEndpoint | CompanySecret, grace: timedelta) -> str:
    secret = new_secret()
    # Receivers switch secrets at their own pace: the old one keeps signing for `grace`.
    if grace > timedelta(0):
        owner.previous_secret = owner.secret
        owner.previous_secret_expires_at = timezone.now() + grace
    else:
        owner.previous_secret = ""
        owner.previous_secret_expires_at = None
    owner.secret = secret
    owner.save()
    return secret


def validated_grace(hours: Any) -> timedelta:
    """Whole hours; null is refused (it could mean no grace as well as the default):
    a caller who wants the default leaves gracePeriodHours out (default_grace)."""
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= MAX_GRACE_HOURS:
        raise WebhookError(
            "INVALID_GRACE_PERIOD",
            f"gracePeriodHours must be a whole number from 0 to {MAX_GRACE_HOURS}.",
            422,
            field="gracePeriodHours",
        )
    return timedelta(hours=hours)


class EndpointRotation(NamedTuple):
    """A rotation's outcome: the new secret, shown once, and what it did to a secret
    another rotation had given moments before (``superseded``; None if nothing)."""

    endpoint: WebhookEndpoint
    secret: str
    superseded: "SupersededRotation | None"


class SupersededRotation(NamedTuple):
    rotated_at: datetime
    message: str


def endpoint_rotate_secret(
    *, endpoint_id: str, grace: timedelta, actor: "Actor | None" = None
) -> EndpointRotation:
    """Rotate an endpoint's secret. One previous secret is kept: a rotation that replaces
    a secret still in its own rotation's grace (two operators rotating at once, or one
    soon after another) says so in its answer and in the endpoint's notice, as whoever
    was given that secret now has it only for this rotation's grace, and not at all
    with none (both rotations had read as a plain success)."""
    with transaction.atomic():
        return _rotate_endpoint(_locked_endpoint(endpoint_id), grace, actor)


def _rotate_endpoint(
    endpoint: WebhookEndpoint, grace: timedelta, actor: "Actor | None"
) -> EndpointRotation:
    """Rotate `endpoint` (locked by the caller) and write its notice."""
    was_rotated_at = _rotated_in_grace_at(endpoint)
    secret = _rotate(endpoint, grace)
    superseded = _superseded(endpoint, was_rotated_at)
    rotated = f"The secret was rotated{_by(actor)}."
    if superseded is not None:
        rotated = f"{rotated} {superseded.message}"
    _notice(endpoint, WebhookEndpointNotice.Kind.SECRET_ROTATED, rotated)
    return EndpointRotation(endpoint, secret, superseded)


class EndpointsRotated(NamedTuple):
    """What endpoints_rotate_secret did: each endpoint's rotation, and the ids of those
    that no longer exist (deleted meanwhile)."""

    rotations: list[EndpointRotation]
    gone: list[str]


def endpoints_rotate_secret(
    *, endpoint_ids: list[str], grace: timedelta, actor: "Actor | None" = None
) -> EndpointsRotated:
    """endpoint_rotate_secret for many endpoints at once (the admin's action), all or
    none: each new secret is shown once, on the page answering the request, so a request
    that died part way with each rotation committed on its own (the web server's timeout,
    an error on one row) left rotated secrets nobody saw, and rotating those again ended
    the grace of the old secret their receivers still used. Locked in primary-key order,
    as endpoints_switch locks them (no key: events being emitted to them need not wait)."""
    with transaction.atomic():
        locked = list(
            WebhookEndpoint.objects.select_for_update(no_key=True)
            .filter(pk__in=endpoint_ids)
            .order_by("pk")
        )
        rotations = [_rotate_endpoint(endpoint, grace, actor) for endpoint in locked]
    found = {endpoint.pk for endpoint in locked}
    return EndpointsRotated(
        rotations=rotations,
        gone=[pk for pk in dict.fromkeys(endpoint_ids) if pk not in found],
    )


def _rotated_in_grace_at(endpoint: WebhookEndpoint) -> datetime | None:
    """When the endpoint's secret was rotated in, if that rotation's grace still runs
    (its previous secret still signs): its notice's time, else the grace's start as
    best known (the end, for a rotation made before notices were written)."""
    expires = endpoint.previous_secret_expires_at
    if not endpoint.previous_secret or expires is None or expires <= timezone.now():
        return None
    notice = (
        endpoint.notices.filter(kind=WebhookEndpointNotice.Kind.SECRET_ROTATED)
        .order_by("-created_at", "-pk")
        .first()
    )
    return notice.created_at if notice is not None else expires


def _superseded(
    owner: WebhookEndpoint | CompanySecret, rotated_at: datetime | None
) -> SupersededRotation | None:
    """What the rotation just made (`owner` as rotated) did to the secret a rotation at
    `rotated_at` gave, its grace still running; None when there was no such rotation."""
    if rotated_at is None:
        return None
    until = owner.previous_secret_expires_at if owner.previous_secret else None
    now_signs = f"now signs only until {iso(until)}" if until else "no longer signs"
    message = (
        f"This rotation replaced the secret a rotation at {iso(rotated_at)} gave, whose grace "
        f"was still running: that secret {now_signs}, and the one before it no longer signs. "
        "Whoever was given it must switch to this one."
    )
    return SupersededRotation(rotated_at, message)


class CompanySecretRotation(NamedTuple):
    """A company secret's rotation: the secret (made the first time), the new secret,
    shown once, and what it did to a secret another rotation had given moments before
    (``superseded``; None if nothing), as an endpoint's rotation says."""

    owner: CompanySecret
    secret: str
    superseded: SupersededRotation | None


def _company_secret_rotate(
    model: type[CompanySecret], grace: timedelta, **scope: str
) -> CompanySecretRotation:
    """Rotate (or create, the first time) the secret of one owner (company, environment).

    A delivery makes the secret lazily (get_or_create), in its own transaction: one made
    after the read here, not yet committed, fails the create here on the unique
    constraint once it commits (it had been a 500): that one is rotated instead."""
    with transaction.atomic():
        owner = model.objects.select_for_update().filter(**scope).first()
        if owner is None:
            secret = new_secret()
            try:
                with transaction.atomic():  # a savepoint: the transaction goes on after it
                    return CompanySecretRotation(
                        model.objects.create(**scope, secret=secret), secret, None
                    )
            except IntegrityError:
                owner = model.objects.select_for_update().get(**scope)
        return _rotate_company_secret(owner, grace)


def _rotate_company_secret(owner: CompanySecret, grace: timedelta) -> CompanySecretRotation:
    """Rotate `owner` (locked by the caller)."""
    was_rotated_at = _company_secret_rotated_in_grace_at(owner)
    owner.rotated_at = timezone.now()
    secret = _rotate(owner, grace)
    return CompanySecretRotation(owner, secret, _superseded(owner, was_rotated_at))


class CompanySecretsRotated(NamedTuple):
    """What a rotation of many company secrets did: each one's rotation, and the ids of
    those that no longer exist (their company deleted meanwhile)."""

    rotations: list[CompanySecretRotation]
    gone: list[int]


def _company_secrets_rotate(
    model: type[CompanySecret], secret_ids: list[int], grace: timedelta
) -> CompanySecretsRotated:
    """Rotate the secrets `secret_ids` (rows of `model`), all or none, as
    endpoints_rotate_secret rotates endpoints: each new secret is shown once, on the page
    answering the request. Locked in primary-key order; their companies are read, not
    locked (the admin names them)."""
    with transaction.atomic():
        locked = list(
            model.objects.select_for_update(of=("self",))
            .select_related("company")
            .filter(pk__in=secret_ids)
            .order_by("pk")
        )
        rotations = [_rotate_company_secret(owner, grace) for owner in locked]
    found = {owner.pk for owner in locked}
    return CompanySecretsRotated(
        rotations=rotations, gone=[pk for pk in dict.fromkeys(secret_ids) if pk not in found]
    )


def _company_secret_rotated_in_grace_at(owner: CompanySecret) -> datetime | None:
    """When the current secret was rotated in, if that rotation's grace still runs (its
    previous secret still signs); for one rotated before rotated_at was kept, the grace's
    end, as an endpoint's rotation from before its notices says."""
    expires = owner.previous_secret_expires_at
    if not owner.previous_secret or expires is None or expires <= timezone.now():
        return None
    return owner.rotated_at or expires


def session_secret_rotate(
    *, company_id: str, environment: str, grace: timedelta
) -> CompanySecretRotation:
    """Rotate (or create, the first time) the session-webhook secret of one environment."""
    return _company_secret_rotate(
        SessionWebhookSecret, grace, company_id=company_id, environment=environment
    )


def sync_secret_rotate(*, company_id: str, grace: timedelta) -> CompanySecretRotation:
    """Rotate (or create, the first time) the company's downstream-sync signing secret."""
    return _company_secret_rotate(SyncSigningSecret, grace, company_id=company_id)


def session_secrets_rotate(*, secret_ids: list[int], grace: timedelta) -> CompanySecretsRotated:
    """Rotate the session-webhook secrets `secret_ids`, all or none (the admin's action)."""
    return _company_secrets_rotate(SessionWebhookSecret, secret_ids, grace)


def sync_secrets_rotate(*, secret_ids: list[int], grace: timedelta) -> CompanySecretsRotated:
    """Rotate the downstream-sync signing secrets `secret_ids`, all or none (the admin's
    action)."""
    return _company_secrets_rotate(SyncSigningSecret, secret_ids, grace)


def _by(actor: "Actor | None") -> str:
    """Who did it, for a notice: an operator reading one asks which of the staff."""
    return f" by {shown(actor.label)}" if actor else ""


def _notice(endpoint: WebhookEndpoint, kind: str, message: str) -> None:
    _unsaved_notice(endpoint, kind, message).save()


def _unsaved_notice(endpoint: WebhookEndpoint, kind: str, message: str) -> WebhookEndpointNotice:
    return WebhookEndpointNotice(endpoint=endpoint, kind=kind, message=message[:500])


def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    _disabled(endpoint, reason).save()


def _disabled(endpoint: WebhookEndpoint, reason: str) -> WebhookEndpointNotice:
    """Disables `endpoint` (its row unsaved) and returns its notice, unsaved."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:200]
    endpoint.disabled_at = timezone.now()
    # Its origin, not its URL: a receiver's URL is often its credential (a ?token=, a
    # Slack or Teams hook), and the log is read by more people than the admin is. On
    # commit: a switch rolled back disabled nothing, and its next try logs it again.
    transaction.on_commit(
        partial(
            logger.warning,
            "Company %s: webhook endpoint %s (%s) disabled: %s",
            endpoint.company_id,
            endpoint.pk,
            session_target_origin(endpoint.url),
            reason,
        )
    )
    return _unsaved_notice(endpoint, WebhookEndpointNotice.Kind.DISABLED, reason)


def _enable(endpoint: WebhookEndpoint, actor: "Actor | None" = None) -> None:
    _enabled(endpoint, actor).save()


def _enabled(endpoint: WebhookEndpoint, actor: "Actor | None" = None) -> WebhookEndpointNotice:
    """Enables `endpoint` (its row unsaved) and returns its notice, unsaved."""
    endpoint.enabled = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    # Enabling is the operator's word that the receiver was fixed and takes events again,
    # as a redelivery is (_receivers_take_events_again): the answer that disabled it was
    # often a maintenance page's 503 with a Retry-After, whose hold, kept, held back
    # every event after the enabling (up to a day). Still busy, it answers one again.
    endpoint.held_until = None
    message = f"The endpoint was enabled{_by(actor)}."
    return _unsaved_notice(endpoint, WebhookEndpointNotice.Kind.ENABLED, message)


# The fields an enable or a disable writes (_enabled, _disabled); a disable writes
# held_until back as read under its lock.
SWITCHED_FIELDS = [
    "enabled",
    "disabled_reason",
    "disabled_at",
    "failing_since",
    "held_until",
    "updated_at",
]
# Rows per UPDATE of a switch or a resume of many (bulk_update writes a CASE per row).
SWITCH_WRITE_BATCH = 500


class Switched(NamedTuple):
    """What endpoints_switch did: the endpoints it switched and those already so, as they
    are now, and the ids of those that no longer exist (deleted meanwhile)."""

    switched: list[WebhookEndpoint]
    already: list[WebhookEndpoint]
    gone: list[str]


def endpoints_switch(
    *,
    endpoint_ids: list[str],
    enabled: bool,
    reason: str = "Disabled by the integrator.",
    actor: "Actor | None" = None,
) -> Switched:
    """endpoint_update's enable or disable for many endpoints at once (the admin's
    actions): one lock, a few writes and one insert of their notices for all of them,
    where one transaction each (six queries) made a switch of thousands outlive the
    request, stopped part way. Locked in primary-key order, as _locked_endpoint locks
    one (no key: the events being emitted to them need not wait)."""
    said = f"{reason.rstrip('.')}{_by(actor)}." if actor else reason
    with transaction.atomic():
        locked = list(
            WebhookEndpoint.objects.select_for_update(no_key=True)
            .filter(pk__in=endpoint_ids)
            .order_by("pk")
        )
        already = [endpoint for endpoint in locked if endpoint.enabled == enabled]
        switching = [endpoint for endpoint in locked if endpoint.enabled != enabled]
        now = timezone.now()
        notices = []
        for endpoint in switching:
            notices.append(_enabled(endpoint, actor) if enabled else _disabled(endpoint, said))
            endpoint.updated_at = now  # bulk_update leaves auto_now fields as they are
        WebhookEndpoint.objects.bulk_update(
            switching, SWITCHED_FIELDS, batch_size=SWITCH_WRITE_BATCH
        )
        WebhookEndpointNotice.objects.bulk_create(notices, batch_size=SWITCH_WRITE_BATCH)
    found = {endpoint.pk for endpoint in locked}
    return Switched(
        switched=switching,
        already=already,
        gone=[pk for pk in dict.fromkeys(endpoint_ids) if pk not in found],
    )


def endpoint_disable(*, endpoint_id: str, reason: str) -> None:
    """A no-key lock (as _locked_endpoint's): the delivery worker recording a 410 or days
    of failures need not wait for the events being emitted to the endpoint."""
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update(no_key=True).filter(pk=endpoint_id).first()
        )
        if endpoint is not None and endpoint.enabled:  # None: deleted meanwhile
            _disable(endpoint, reason)
            endpoint.save()


# Longer than the longest gap between two retries (24 h, +10 % jitter).
FAILURE_RUN_GAP = timedelta(hours=27)


def _failing_run_continues(owners: QuerySet, now: datetime) -> None:
    """Count a failure in the run of an endpoint or session target (`owners`, its row).

    A run starts at a failure with no run going, or after a silence longer than any
    retry gap (an outage days ago, then no traffic): one failure then must not count as
    days of them.
    """
    quiet = Q(last_failure_at__isnull=True) | Q(last_failure_at__lt=now - FAILURE_RUN_GAP)
    owners.filter(Q(failing_since__isnull=True) | quiet).update(failing_since=now)
    owners.update(last_failure_at=now)


def _failing_window() -> timedelta:
    return timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_FAILING_HOURS)


def _failed_for_long() -> str:
    return (
        f"Every attempt failed for more than {settings.WEBHOOKS_DISABLE_AFTER_FAILING_HOURS} hours."
    )


# How stale an endpoint's last_succeeded_at may be: a write per 2xx would lock the
# endpoint's row for every event of a busy one; a minute early only redelivers more.
SUCCESS_RECORDED_EVERY = timedelta(minutes=1)


def endpoint_record_outcome(
    *, endpoint_id: str, succeeded: bool, at: datetime | None = None
) -> None:
    """Track an endpoint's run of failures and disable it after days of nothing but; a
    success ends the run and is the endpoint's last success, `at` the time its attempt
    began (now when not given)."""
    now = timezone.now()
    if succeeded:
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(
            failing_since=None, last_succeeded_at=at or now
        )
        return
    _failing_run_continues(WebhookEndpoint.objects.filter(pk=endpoint_id), now)
    failing_for_long = WebhookEndpoint.objects.filter(
        pk=endpoint_id, enabled=True, failing_since__lte=now - _failing_window()
    ).exists()
    if failing_for_long:
        endpoint_disable(endpoint_id=endpoint_id, reason=_failed_for_long())


def _interrupted_keeps_run_going(owners: QuerySet, now: datetime) -> None:
    owners.filter(failing_since__isnull=False, last_failure_at__gte=now - FAILURE_RUN_GAP).update(
        last_failure_at=now
    )


def endpoint_record_interrupted(*, endpoint_id: str) -> None:
    """An attempt whose worker died (delivery.INTERRUPTED) tells nothing of the receiver:
    a dying worker is Steve's fault. So it neither starts a run of failures nor ends one,
    and never disables the endpoint. It is no silence either: left out, the failures
    either side of it could be further apart than FAILURE_RUN_GAP, and the second began
    a new run, as if the receiver had worked meanwhile. So a run going on is kept going.
    """
    _interrupted_keeps_run_going(WebhookEndpoint.objects.filter(pk=endpoint_id), timezone.now())


# The last_error of a delivery to a session's webhookUrl not sent because its host is
# suspended (session_target_suspend).
TARGET_SUSPENDED = (
    "Not sent: deliveries to this host are suspended after every attempt failed for days."
    " Redeliver it once the receiver works again."
)


def session_target_origin(url: str) -> str:
    """ "https://Hooks.Example.com./a?b" → "https://hooks.example.com:443": the receiver
    a session URL reaches, whatever its path (one per session, often)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = dns_name(parts.hostname or "")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{scheme}://{host}:{parts.port or (443 if scheme == 'https' else 80)}"


def session_target_get_or_create(
    *, company_id: str, environment: str, url: str
) -> SessionWebhookTarget:
    """The target of the environment's sessions on `url`'s host: environments are a
    tenancy boundary, so each has its own failing run, suspension and hold."""
    target, _ = SessionWebhookTarget.objects.get_or_create(
        company_id=company_id, environment=environment, origin=session_target_origin(url)
    )
    return target


def _target_notice(target: SessionWebhookTarget, kind: str, message: str) -> None:
    SessionWebhookTargetNotice.objects.create(target=target, kind=kind, message=message[:500])


def session_target_suspend(*, target_id: str, reason: str) -> None:
    """Stop sending to a session target: its pending deliveries and new events fail
    unsent (TARGET_SUSPENDED) until a delivery to it is redelivered, a late 2xx comes
    in, or an admin resumes it."""
    with transaction.atomic():
        target = SessionWebhookTarget.objects.select_for_update().filter(pk=target_id).first()
        if target is None or target.suspended_at is not None:
            return
        target.suspended_at = timezone.now()
        target.suspended_reason = reason[:200]
        target.save(update_fields=["suspended_at", "suspended_reason", "updated_at"])
        _target_notice(
            target,
            SessionWebhookTargetNotice.Kind.SUSPENDED,
            f"{reason} Deliveries to sessions' webhookUrl on {target.origin} are not sent"
            " until it is resumed.",
        )
    logger.warning(
        "Company %s: session webhook target %s (%s) suspended: %s",
        target.company_id,
        target.pk,
        target.origin,
        reason,
    )


def session_target_resume(*, target_id: str, why: str) -> bool:
    """Send to a suspended session target again, with a fresh failing run; False when it
    was not suspended (or is gone). `why` ends the notice: "by Ann (staff)"."""
    return bool(session_targets_resume(target_ids=[target_id], why=why))


# The fields a resume writes (session_targets_resume).
RESUMED_FIELDS = [
    "suspended_at",
    "suspended_reason",
    "failing_since",
    "last_failure_at",
    "held_until",
    "updated_at",
]


def session_targets_resume(*, target_ids: list[str], why: str) -> list[SessionWebhookTarget]:
    """session_target_resume for many targets at once (the admin's action): the ones
    resumed, as they are now; those not suspended (or gone) are left alone. One lock, a
    few writes and one insert of their notices for all of them, locked in primary-key
    order: one transaction each (six queries) made a resume of the thousands of hosts an
    outage suspended outlive the request, stopped part way."""
    with transaction.atomic():
        resumed = list(
            SessionWebhookTarget.objects.select_for_update()
            .filter(pk__in=target_ids, suspended_at__isnull=False)
            .order_by("pk")
        )
        now = timezone.now()
        for target in resumed:
            target.suspended_at = None
            target.suspended_reason = ""
            target.failing_since = None
            target.last_failure_at = None
            # The operator's word that the host takes events again, as enabling an
            # endpoint is (_enabled): the Retry-After that came with the suspension
            # held back every event after the resume.
            target.held_until = None
            target.updated_at = now  # bulk_update leaves auto_now fields as they are
        SessionWebhookTarget.objects.bulk_update(
            resumed, RESUMED_FIELDS, batch_size=SWITCH_WRITE_BATCH
        )
        notices = [
            SessionWebhookTargetNotice(
                target=target,
                kind=SessionWebhookTargetNotice.Kind.RESUMED,
                message=f"Deliveries resumed {why}."[:500],
            )
            for target in resumed
        ]
        SessionWebhookTargetNotice.objects.bulk_create(notices, batch_size=SWITCH_WRITE_BATCH)
        # On commit: a redelivery resumes them in its own transaction, which may roll back.
        for target in resumed:
            transaction.on_commit(
                partial(
                    logger.info,
                    "Session webhook target %s (%s) resumed %s",
                    target.pk,
                    target.origin,
                    why,
                )
            )
    return resumed


def session_target_record_outcome(*, target_id: str, succeeded: bool) -> None:
    """A session target's run of failures, as an endpoint's; days of nothing but
    suspend it, and a 2xx (an answer that came late) resumes it."""
    now = timezone.now()
    targets = SessionWebhookTarget.objects.filter(pk=target_id)
    if succeeded:
        targets.filter(failing_since__isnull=False).update(failing_since=None)
        if targets.filter(suspended_at__isnull=False).exists():
            session_target_resume(target_id=target_id, why="because a delivery to it succeeded")
        return
    _failing_run_continues(targets, now)
    failing_for_long = targets.filter(
        suspended_at__isnull=True, failing_since__lte=now - _failing_window()
    ).exists()
    if failing_for_long:
        session_target_suspend(target_id=target_id, reason=_failed_for_long())


def session_target_record_interrupted(*, target_id: str) -> None:
    """endpoint_record_interrupted for a session target."""
    _interrupted_keeps_run_going(SessionWebhookTarget.objects.filter(pk=target_id), timezone.now())


def webhook_emit(
    *,
    company_id: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    session_id: str | None = None,
    session_url: str = "",
    environment: str | None = None,
) -> list[WebhookDelivery]:
    """Queue one delivery per subscribed endpoint (and the session's own URL).

    With an `environment` (that of the API key behind the change), only the endpoints of
    that environment receive it: sandbox traffic never reaches a production receiver.
    Must run inside the transaction of the change it announces: a rolled-back change
    leaves no delivery behind, and nothing is sent before the change is committed.
    """
    common = {
        "company_id": company_id,
        "environment": environment or WebhookEndpoint.Environment.PRODUCTION,
        "session_id": session_id or "",
        "event_id": event_id,
        "event_type": event_type,
        "payload": payload,
        **_due_now(),
    }
    endpoints = WebhookEndpoint.objects.filter(company_id=company_id)
    if environment is not None:
        endpoints = endpoints.filter(environment=environment)
    rows = [
        WebhookDelivery(endpoint=endpoint, url=endpoint.url, **common)
        if endpoint.enabled
        # Kept, failed unsent: "enable, then redeliver what failed since it last
        # worked" brings a disabled endpoint's events back, those of the time it was
        # off included.
        else WebhookDelivery(endpoint=endpoint, url=endpoint.url, **_unsent(common))
        for endpoint in _kept_while_emitting(endpoints)
        if endpoint.wants(event_type)
    ]
    if session_url:
        target = session_target_get_or_create(
            company_id=company_id, environment=common["environment"], url=session_url
        )
        fields = _unsent(common, TARGET_SUSPENDED) if target.suspended_at else common
        rows.append(WebhookDelivery(url=session_url, session_target=target, **fields))
    deliveries = WebhookDelivery.objects.bulk_create(rows)
    dispatch_on_commit([d.pk for d in deliveries if d.status == WebhookDelivery.Status.PENDING])
    return deliveries


def _kept_while_emitting(endpoints: QuerySet) -> list[WebhookEndpoint]:
    """The endpoints, each held FOR KEY SHARE until the emitting change commits: a
    deletion (endpoint_delete, the admin's) waits for it, and one already under way is
    waited for and its endpoint skipped. Read plainly, an endpoint deleted before the
    change committed failed the change's commit on its delivery's foreign key.

    KEY SHARE waits for no change of an endpoint's columns (enabling, rotating), and
    emits do not wait for one another."""
    if connection.vendor != "postgresql":  # SQLite (dev) writes one transaction at a time
        return list(endpoints)
    sql, params = endpoints.query.sql_with_params()
    return list(WebhookEndpoint.objects.raw(f"{sql} FOR KEY SHARE", params))


ENDPOINT_DISABLED = "The endpoint is disabled."


def _unsent(common: dict[str, Any], error: str = ENDPOINT_DISABLED) -> dict[str, Any]:
    return {
        **common,
        "status": WebhookDelivery.Status.FAILED,
        "next_attempt_at": None,
        "queued_until": None,
        "last_error": error,
        "failed_at": timezone.now(),
    }


def _due_now() -> dict[str, datetime]:
    now = timezone.now()
    # The on-commit dispatch queues the first attempt; beat only steps in if that
    # message is lost (e.g. the broker was down at commit).
    return {"next_attempt_at": now, "queued_until": now + QUEUE_LEASE}


def sync_delivery_queue(
    *, company_id: str, environment: str, event_id: str, url: str, payload: dict[str, Any]
) -> WebhookDelivery:
    """Queue one downstream-sync post, in the caller's transaction; once per event and URL.

    It is sent, leased, retried and logged like any webhook delivery, signed with the
    company's SyncSigningSecret; the outcome is announced by signals.delivery_attempted.
    """
    delivery, created = WebhookDelivery.objects.get_or_create(
        event_id=event_id,
        url=url,
        endpoint=None,
        defaults={
            "company_id": company_id,
            "environment": environment,
            "purpose": WebhookDelivery.Purpose.SYNC,
            "event_type": SYNC_EVENT,
            "payload": payload,
            **_due_now(),
        },
    )
    if created:
        dispatch_on_commit([delivery.pk])
    return delivery


def dispatch_on_commit(delivery_ids: list[str]) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: _dispatch(delivery_ids))


def _dispatch(delivery_ids: list[str]) -> None:
    from webhooks.tasks import deliver_webhook

    unqueued = []
    for delivery_id in delivery_ids:
        if broker_pause.active():  # a publish failed a moment ago: don't wait on it again
            unqueued.append(delivery_id)
            continue
        try:
            deliver_webhook.delay(delivery_id)
        except Exception:  # the broker is down: beat queues it again
            logger.exception("Could not queue webhook delivery %s", delivery_id)
            broker_pause.start()
            unqueued.append(delivery_id)
        else:
            broker_pause.end()
    if unqueued:
        # No message is on the queue: beat's next pass may queue it, not the lease's end
        # two minutes away.
        deliveries_unqueue(delivery_ids=unqueued)


def delivery_queue(*, delivery_id: str) -> bool:
    """Beat: queue a message for a delivery claim_due leased; False when the broker did
    not take it, and then the lease is dropped, so beat's next pass claims it again (not
    the lease's end, which can be an hour away for a delivery long overdue). A broker
    that cannot be reached starts the broker pause, which ends beat's pass."""
    from webhooks.tasks import deliver_webhook

    try:
        deliver_webhook.delay(delivery_id)
    except Exception as error:
        logger.exception("Could not queue webhook delivery %s", delivery_id)
        deliveries_unqueue(delivery_ids=[delivery_id])
        if isinstance(error, BROKER_UNREACHABLE):
            broker_pause.start()
        return False
    broker_pause.end()
    return True


def deliveries_unqueue(*, delivery_ids: list[str]) -> None:
    """Drop the leases of deliveries no message was sent for (beat's claims, those a
    commit dispatches), so beat's next pass claims them again.

    Locked first, in primary-key order, as every bulk lock on deliveries is: the UPDATE
    alone locked them in the order its scan met them (the table's, where a row rewritten
    since comes last), and deadlocked with a redelivery of the same rows."""
    with transaction.atomic():
        locked = list(
            WebhookDelivery.objects.select_for_update()
            .filter(pk__in=delivery_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=locked).update(queued_until=None)


def deliveries_requeue_lost_in_redis(
    *, lost_at: datetime, after: str, limit: int
) -> tuple[int, str]:
    """Redis came back empty at `lost_at` (jobs.services.redis_lost_work_requeue): the
    pending deliveries whose message was on a queue then (their queue lease runs past it)
    and that no attempt holds now lose their lease, so beat's next pass (5 s) queues them
    again, not the lease's end (2 minutes to an hour). A message a worker took before the
    loss still runs: claim()'s lease lets one attempt through, the copy finds nothing to
    claim.

    `limit` a call, in the caller's transaction, in primary-key order from past `after`
    (as every bulk lock on deliveries is ordered); returns how many and the last one's
    key, where the next call goes on ("" when none is left). The key, not the lease,
    tells the next batch where to go on: beat leases the ones dropped before again, and
    those must keep it. One created since the loss was never in the lost Redis. Rows
    locked now (skip_locked: an attempt, a redelivery, a lease dropped) are left to
    their lease, as the sessions' batch leaves its to the stuck sweep."""
    now = timezone.now()
    with transaction.atomic():
        lost = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                Q(locked_until__isnull=True) | Q(locked_until__lte=now),
                status=WebhookDelivery.Status.PENDING,
                queued_until__gt=lost_at,
                created_at__lt=lost_at,
                pk__gt=after,
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        # Rows this transaction holds: the UPDATE waits for no other.
        WebhookDelivery.objects.filter(pk__in=lost).update(queued_until=None)
    return len(lost), lost[-1] if len(lost) == limit else ""


# A delivery retention purged after the caller read it (its redelivery is refused).
PURGED = "This delivery no longer exists (purged)."


def delivery_redeliver(*, delivery_id: str) -> WebhookDelivery:
    """Send a delivery again now, with a fresh retry budget (its log is kept)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:  # purged by retention since the caller read it
            raise WebhookError("WEBHOOK_DELIVERY_NOT_FOUND", PURGED, 404)
        _check_redelivery(delivery)
        _reset_for_redelivery(delivery)
        delivery.save(update_fields=REDELIVERY_FIELDS)
        _receivers_take_events_again([delivery])
        dispatch_on_commit([delivery.pk])
    return delivery


def _receivers_take_events_again(deliveries: list[WebhookDelivery]) -> None:
    """A redelivery is someone's word, by hand, that its receiver takes events again (an
    integrator has no other switch): a suspended session target is resumed, so the
    redelivery is sent (a new run of failures would suspend it again), and the Retry-After
    hold of its endpoint, session host or sync target (webhooks.delivery._hold_owner) is
    lifted, so it goes now (should the receiver still be busy, its answer holds it
    again). For a sync post this is the admin's "sync again": its target's hold ends now
    (`held_until` set to now, not cleared: till a 2xx its posts go one at a time, as a
    failing endpoint's do, webhooks.delivery._sync_target_failing_and_busy)."""
    targets = sorted({d.session_target_id for d in deliveries if d.session_target_id})
    session_targets_resume(target_ids=targets, why="by a redelivery")
    endpoints = sorted({d.endpoint_id for d in deliveries if d.endpoint_id})
    _lift_holds(WebhookEndpoint.objects.select_for_update(no_key=True).filter(pk__in=endpoints))
    _lift_holds(SessionWebhookTarget.objects.select_for_update().filter(pk__in=targets))
    posts: dict[tuple[str, str], list[str]] = {}
    for delivery in deliveries:
        if delivery.purpose == WebhookDelivery.Purpose.SYNC:
            posts.setdefault((delivery.company_id, delivery.url), []).append(delivery.pk)
    now = timezone.now()
    for (company_id, url), delivery_ids in sorted(posts.items()):
        held = SyncTarget.objects.filter(company_id=company_id, url=url, held_until__gt=now)
        lifted = held.update(held_until=now)
        # The redelivered posts go now, and with the hold lifted the others it held are
        # due at their own time: their submissions show it (submissions.sync).
        sync_schedule_changed.send(
            sender=WebhookDelivery,
            company_id=company_id,
            url=url,
            delivery_ids=None if lifted else delivery_ids,
        )


def _lift_holds(owners: QuerySet) -> None:
    """End the Retry-After holds of `owners` (a locking queryset of endpoints or session
    targets). Locked first, in primary-key order, as the admin's Enable, Disable and
    Resume lock many of them (endpoints_switch, session_targets_resume): the UPDATE alone
    locked them in the order its scan met them (the table's, where a row rewritten since
    comes last), and a redelivery to several held receivers deadlocked with a switch of
    the same ones."""
    held = list(owners.filter(held_until__isnull=False).order_by("pk").values_list("pk", flat=True))
    owners.model.objects.filter(pk__in=held).update(held_until=None)


def _check_redelivery(delivery: WebhookDelivery) -> None:
    """Refuse (WebhookError) a delivery that may not be sent again."""
    if delivery.endpoint is not None and not delivery.endpoint.enabled:
        raise WebhookError(
            "WEBHOOK_ENDPOINT_DISABLED", "Enable the endpoint before redelivering.", 409
        )
    synced = delivery.status == WebhookDelivery.Status.DELIVERED
    if delivery.purpose == WebhookDelivery.Purpose.SYNC and synced:
        # An approved submission is posted downstream once.
        raise WebhookError("SYNC_DELIVERED", "This submission was synced already.", 409)


@dataclass(frozen=True)
class Redelivered:
    """What deliveries_redeliver queued, and the others by the reason each was refused."""

    queued: list[str]
    refused: dict[str, list[str]]


def deliveries_redeliver(*, delivery_ids: list[str]) -> Redelivered:
    """delivery_redeliver for many deliveries at once (the admin's action): one read and
    a few writes for all of them, where one transaction each took about 10 ms a delivery
    (a request for 5,000 outlived the web server's timeout, stopped part way)."""
    with transaction.atomic():
        found = list(
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .defer("payload")
            .filter(pk__in=delivery_ids)
            .order_by("pk")  # every caller locks them in one order
        )
        refused: dict[str, list[str]] = {}
        queued: list[WebhookDelivery] = []
        for delivery in found:
            try:
                _check_redelivery(delivery)
            except WebhookError as refusal:
                refused.setdefault(refusal.message, []).append(delivery.pk)
                continue
            queued.append(delivery)
        _redeliver_all(queued)
    if gone := sorted(set(delivery_ids) - {delivery.pk for delivery in found}):
        refused[PURGED] = gone
    return Redelivered(queued=[delivery.pk for delivery in queued], refused=refused)


# The most deliveries a redelivery publishes a message for after its commit; beat's
# sweep queues a larger one (_redeliver_all). 100 take ~70 ms: a page of the admin's list.
REDELIVERY_PUBLISH_LIMIT = 100


def _redeliver_all(deliveries: list[WebhookDelivery]) -> None:
    """Reset and write the deliveries of a redelivery of many, in the caller's
    transaction, and have them sent.

    A few are published after the commit, each under a queue lease (sent now, as a
    single redelivery is). More are left unleased for beat's sweep (dispatch_due_webhooks,
    every 5 s, up to 2,000 a pass), publishing nothing in the request: one message each
    after the commit made a redelivery of 10,000 publish 10,000 before it answered
    (8.7 s, bench/webhook_redelivery.py), and a broker that failed part way left the
    rest to that sweep anyway. Beat claims each under a lease, so none is queued twice,
    and queues a failing receiver's one at a time (claim_due): a message each had 10,000
    claims put their deliveries back (claim's _failing_and_busy).
    """
    now = timezone.now()
    publish = len(deliveries) <= REDELIVERY_PUBLISH_LIMIT
    for delivery in deliveries:
        _reset_for_redelivery(delivery, now, leased=publish)
    _mark_redelivered(deliveries)
    _receivers_take_events_again(deliveries)
    if publish:
        dispatch_on_commit([delivery.pk for delivery in deliveries])


# Ids per UPDATE of _mark_redelivered: one statement's parameters stay well under
# PostgreSQL's 65,535 whatever an admin selects.
REDELIVERY_WRITE_BATCH = 10_000


def _mark_redelivered(deliveries: list[WebhookDelivery]) -> None:
    """Write what _reset_for_redelivery set (REDELIVERY_FIELDS, reset with one `now`, so
    the same for every row but the attempts counted, read from each row) in one UPDATE
    per batch: bulk_update wrote a CASE of every delivery per column, whose compiling and
    running grew with the square of the rows (10.5 s for 2,901 deliveries, 103 s for
    9,901, past the web server's timeout)."""
    if not deliveries:
        return
    values = {name: getattr(deliveries[0], name) for name in REDELIVERY_FIELDS}
    values["attempts_before_redelivery"] = F("attempts")  # each row's own
    _write_in_batches(deliveries, **values)


def _reset_for_redelivery(
    delivery: WebhookDelivery, now: datetime | None = None, *, leased: bool = True
) -> None:
    """`leased`: a message is published for it at commit, and beat leaves it meanwhile;
    without, beat's next pass claims it."""
    now = now or timezone.now()
    delivery.status = WebhookDelivery.Status.PENDING
    # A fresh budget; the count goes on, so it stays the attempt log's length (an attempt
    # in flight included).
    delivery.attempts_before_redelivery = delivery.attempts
    delivery.budget_started_at = now
    delivery.next_attempt_at = now
    delivery.queued_until = now + QUEUE_LEASE if leased else None
    delivery.delivered_at = None
    delivery.failed_at = None


# What a purged submission's stored deliveries must no longer carry.
RESULT_KEYS = frozenset(
    {"extractedData", "fieldConfidences", "evidence", "aiSummary", "files", "lineItems"}
)


def deliveries_forget_results(
    *, session_id: str | None, sync_event_id: str
) -> list[WebhookDelivery]:
    """Retention: a purged submission's deliveries (its session's webhooks, its sync post)
    keep their envelope and attempt log but not its results nor the receivers' replies'
    text, and a sync not delivered (still waiting, or given up) is dropped (it would post
    purged data, or nothing, downstream). Returns the sync deliveries dropped, as they
    were."""
    sync = Q(purpose=WebhookDelivery.Purpose.SYNC, event_id=sync_event_id)
    with transaction.atomic():
        # All locked at once, in primary-key order, as a redelivery locks them: the sync
        # post first, then the session's newest first, it deadlocked with one.
        deliveries = list(
            WebhookDelivery.objects.select_for_update()
            .filter(sync | Q(session_id=session_id) if session_id else sync)
            .order_by("pk")
        )
        dropped = [delivery for delivery in deliveries if _sync_unsent(delivery, sync_event_id)]
        WebhookDelivery.objects.filter(pk__in=[d.pk for d in dropped]).delete()
        kept = [delivery for delivery in deliveries if delivery not in dropped]
        now = timezone.now()
        for delivery in kept:
            delivery.payload = without_keys(delivery.payload, RESULT_KEYS, blank=True)
            delivery.results_forgotten_at = delivery.results_forgotten_at or now
            delivery.save(update_fields=["payload", "results_forgotten_at"])
        # A receiver's reply can echo what it was posted (an ERP answering with the
        # record it made): its text goes too; its status code and timing stay in the log.
        WebhookAttempt.objects.filter(delivery__in=kept).exclude(response_body="").update(
            response_body=""
        )
    return dropped


def _sync_unsent(delivery: WebhookDelivery, sync_event_id: str) -> bool:
    return (
        delivery.purpose == WebhookDelivery.Purpose.SYNC
        and delivery.event_id == sync_event_id
        and delivery.status != WebhookDelivery.Status.DELIVERED
    )


def sync_deliveries_drop(*, company_id: str, delivery_ids: list[str]) -> list[WebhookDelivery]:
    """The company's sync posts of `delivery_ids` (a batch: its ids are one statement's
    parameters) not delivered yet (waiting, or given up) are dropped with their attempt
    logs: their target was taken off the workflow (retired, or not to be trusted), so
    none may be sent there again, by a retry or a redelivery. Returns them, as they were.
    Locked in primary-key order, as a redelivery locks them; an attempt in flight finds
    its delivery gone (record())."""
    with transaction.atomic():
        unsent = list(_locked_unsent_sync_posts(company_id, delivery_ids))
        WebhookDelivery.objects.filter(pk__in=[d.pk for d in unsent]).delete()
    return unsent


def _locked_unsent_sync_posts(company_id: str, delivery_ids: list[str]) -> QuerySet:
    """The company's sync posts of `delivery_ids` not delivered yet, locked in
    primary-key order (as a redelivery locks them), their payloads left unread."""
    return (
        WebhookDelivery.objects.select_for_update()
        .defer("payload")
        .filter(company_id=company_id, purpose=WebhookDelivery.Purpose.SYNC, pk__in=delivery_ids)
        .exclude(status=WebhookDelivery.Status.DELIVERED)
        .order_by("pk")
    )


@dataclass(frozen=True)
class Retargeted:
    """A sync post sync_deliveries_retarget moved: its URL before, and the post now."""

    old_url: str
    delivery: WebhookDelivery


def sync_deliveries_retarget(
    *, company_id: str, delivery_ids: list[str], url: str
) -> list[Retargeted]:
    """The company's sync posts of `delivery_ids` (a batch: its ids are one statement's
    parameters) not delivered yet are moved to `url`, the workflow's new sync_url (a
    mistyped one corrected, the target moved), as an endpoint's retries follow its
    edited URL. A waiting one is resent now with a fresh retry budget
    (the old target's failures, its budget spent on them, say nothing of this one); one
    given up stays given up, so that "Redeliver now" posts it to `url`. Locked in
    primary-key order, as a redelivery locks them."""
    with transaction.atomic():
        unsent = list(_locked_unsent_sync_posts(company_id, delivery_ids).exclude(url=url))
        moved = [Retargeted(old_url=delivery.url, delivery=delivery) for delivery in unsent]
        waiting = [d for d in unsent if d.status == WebhookDelivery.Status.PENDING]
        now = timezone.now()
        for delivery in waiting:
            _reset_for_redelivery(delivery, now)
            # The old target's answer: kept, the moved posts counted as failing at the
            # new one and went one at a time (delivery._sync_target_failing_and_busy).
            delivery.last_status_code = None
            delivery.last_error = ""
        _mark_redelivered(waiting)
        _write_in_batches(waiting, last_status_code=None, last_error="")
        for delivery in unsent:
            delivery.url = url
        _write_in_batches(unsent, url=url)
        dispatch_on_commit([delivery.pk for delivery in waiting])
    return moved


def _write_in_batches(deliveries: list[WebhookDelivery], **values: Any) -> None:
    """The same `values` written to every delivery, one UPDATE per REDELIVERY_WRITE_BATCH."""
    ids = [delivery.pk for delivery in deliveries]
    for start in range(0, len(ids), REDELIVERY_WRITE_BATCH):
        batch = ids[start : start + REDELIVERY_WRITE_BATCH]
        WebhookDelivery.objects.filter(pk__in=batch).update(**values)


def sync_delivery_replace_payload(*, sync_event_id: str, payload: dict[str, Any]) -> None:
    """Retention: a delivered sync post keeps the purged submission as it reads now, in
    the shape the receiver was sent (a redelivery then posts that, not nulls)."""
    with transaction.atomic():
        WebhookDelivery.objects.select_for_update().filter(
            purpose=WebhookDelivery.Purpose.SYNC, event_id=sync_event_id
        ).update(payload=payload)


def endpoint_redeliver_failed(*, endpoint_id: str, since: datetime | None = None) -> int:
    """Redeliver every failed delivery of the endpoint created at or after `since`; with
    no `since`, every one that failed after the endpoint last succeeded (all of them
    when it never did): what an outage cost, and nothing the receiver had worked after.

    The recovery of a disabled endpoint, with no time to choose: enabling clears
    failingSince and disabledAt, and a `since` compares with the events' times, while
    what an outage cost is decided by when each delivery failed. The delivery whose
    failure began the run was created before it; an event older than the last success
    can fail in the outage (its retries hours apart). Both were left out.
    """
    with transaction.atomic():
        endpoint = _redeliverable(WebhookEndpoint.objects.filter(pk=endpoint_id).first())
        failed_ones = (
            WebhookDelivery.objects.select_for_update()
            .defer("payload")  # a redelivery writes no payload: ~1 kB a row not read
            .filter(endpoint=endpoint, status=WebhookDelivery.Status.FAILED)
            .order_by("pk")  # as deliveries_redeliver: newest first, they deadlocked
        )
        if since is not None:
            failed_ones = failed_ones.filter(created_at__gte=since)
        elif endpoint.last_succeeded_at is not None:
            # The success is its attempt's start: a failure recorded while that attempt
            # was out is after it. A failure not timed (before failed_at was) is kept.
            failed_ones = failed_ones.filter(
                Q(failed_at__gte=endpoint.last_succeeded_at) | Q(failed_at__isnull=True)
            )
        failed = list(failed_ones)
        # Locked after its deliveries, as the worker, the admin's redelivery (lifting its
        # hold) and a deletion lock them: locked first, it deadlocked with the admin's
        # redelivery of the same deliveries. Disabled or deleted meanwhile, the redelivery
        # is refused (rolled back). A success recorded meanwhile only redelivers more.
        _redeliverable(_locked_endpoint(endpoint_id))
        _redeliver_all(failed)
    return len(failed)


def _redeliverable(endpoint: WebhookEndpoint | None) -> WebhookEndpoint:
    if endpoint is None:
        raise WebhookError("WEBHOOK_ENDPOINT_NOT_FOUND", ENDPOINT_GONE, 404)
    if not endpoint.enabled:
        raise WebhookError(
            "WEBHOOK_ENDPOINT_DISABLED", "Enable the endpoint before redelivering.", 409
        )
    return endpoint
