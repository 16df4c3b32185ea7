"""Response shapes (camelCase on the wire) and request parsing of the webhook API."""

from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from steve.api.errors import (
    ApiProblem,
    field_error,
    not_an_object_problem,
    problem_of_all,
    refuse_unknown_members,
    unknown_member_errors,
    validation_problem,
)
from steve.errors import ServiceError
from steve.timefmt import iso
from webhooks.delivery import Outcome
from webhooks.models import CompanySecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import EndpointChanges, validated_changes, validated_url

UPDATABLE = ("url", "events", "description", "enabled")
CREATABLE = ("url", "events", "description")


def endpoint_data(endpoint: WebhookEndpoint, *, secret: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "environment": endpoint.environment,
        "disabledReason": endpoint.disabled_reason or None,
        "disabledAt": iso(endpoint.disabled_at),
        "failingSince": iso(endpoint.failing_since),
        "lastSucceededAt": iso(endpoint.last_succeeded_at),
        "previousSecretExpiresAt": _grace_end(endpoint),
        "createdAt": iso(endpoint.created_at),
        "updatedAt": iso(endpoint.updated_at),
    }
    if secret is not None:
        data["secret"] = secret
    return data


def _grace_end(owner: WebhookEndpoint | CompanySecret) -> str | None:
    return iso(owner.previous_secret_expires_at) if owner.previous_secret else None


def company_secret_data(owner: CompanySecret | None, *, secret: str | None = None) -> dict:
    data: dict[str, Any] = {
        "exists": owner is not None,
        "createdAt": iso(owner.created_at) if owner else None,
        "previousSecretExpiresAt": _grace_end(owner) if owner else None,
    }
    if secret is not None:
        data["secret"] = secret
    return data


def attempt_data(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "attemptedAt": iso(attempt.attempted_at),
        "finishedAt": iso(attempt.finished_at),
        "statusCode": attempt.status_code,
        "latencyMs": attempt.latency_ms,
        "responseBody": attempt.response_body,
        "error": attempt.error or None,
        "address": attempt.address or None,
    }


def delivery_data(delivery: WebhookDelivery, *, with_attempts: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": delivery.pk,
        "endpointId": delivery.endpoint_id,
        "url": delivery.url,
        "sessionId": delivery.session_id or None,
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": iso(delivery.next_attempt_at),
        "lastAttemptAt": iso(delivery.last_attempt_at),
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error or None,
        "deliveredAt": iso(delivery.delivered_at),
        "failedAt": iso(delivery.failed_at),
        "createdAt": iso(delivery.created_at),
    }
    if with_attempts:
        data["payload"] = delivery.payload
        data["attemptLog"] = [attempt_data(a) for a in delivery.log.order_by("-id")]
    return data


def outcome_data(outcome: Outcome, *, url: str, event_id: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "url": url,
        "delivered": outcome.ok,
        "statusCode": outcome.status_code,
        "latencyMs": outcome.latency_ms,
        "responseBody": outcome.body,
        "error": outcome.error or None,
        "address": outcome.address or None,
    }


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise not_an_object_problem()
    return body


def parse_create(body: Any) -> dict[str, Any]:
    """A create's fields. One it does not know is refused, as an update's is: a misspelt
    `event` was dropped, and an endpoint with no events takes every event."""
    body = body_object(body)
    refuse_unknown_members(body, CREATABLE, message="Not a field of a webhook endpoint.")
    return body


def parse_changes(body: Any) -> EndpointChanges:
    """The PATCH's changes, as sent; endpoint_update validates their values. Unknown
    members and null (leave as is, or clear? neither: the schema's members are not
    nullable) are refused here, with every refused value in the same answer."""
    body = body_object(body)
    errors = unknown_member_errors(body, UPDATABLE, "This field cannot be changed.") + [
        field_error(name, f"{name} may not be null; leave it out to keep it.", "null")
        for name in UPDATABLE
        if name in body and body[name] is None
    ]
    changes = EndpointChanges(**{name: body.get(name) for name in UPDATABLE})
    if errors:
        refusals: list[ApiProblem | ServiceError] = [validation_problem(errors)]
        try:
            validated_changes(changes)
        except ServiceError as refused:
            refusals.append(refused)
        raise problem_of_all(refusals)
    return changes


def parse_test_target(body: Any) -> tuple[str | None, str | None]:
    """A test event's endpointId and url, each a string or left out (null or blank is
    left out). Of another type a member was read by its truth: `"endpointId": 5` was
    looked up as the id "5" (404) and `"endpointId": 0` taken as left out, so a test
    went to the url beside it. Both are refused, named together, before exactly one of
    the two is required."""
    body = body_object(body)
    refuse_unknown_members(body, ("endpointId", "url"))
    endpoint_id, url = body.get("endpointId"), body.get("url")
    refusals: list[ApiProblem | ServiceError] = []
    if endpoint_id is not None and not isinstance(endpoint_id, str):
        message = "endpointId must be a string, the id of one of your webhook endpoints."
        refusals.append(validation_problem([field_error("endpointId", message)]))
    if url is not None and not isinstance(url, str):
        try:
            validated_url(url)  # refuses it as every url of another type is (INVALID_URL)
        except ServiceError as refused:
            refusals.append(refused)
    if refusals:
        raise problem_of_all(refusals)
    return endpoint_id or None, url or None


def parse_since(body: Any) -> datetime | None:
    """A redelivery's `since`; None when left out (no body too): what failed since the
    endpoint last succeeded. null is refused: "since ever" or "left out"?"""
    body = body_object(body)
    refuse_unknown_members(body, ("since",))
    if "since" not in body:
        return None
    raw = body["since"]
    # RFC 3339 has no white space: parse_datetime refused a leading space but read a
    # trailing newline (its pattern's `$` matches before one); both are refused.
    timestamp = raw if isinstance(raw, str) and raw == raw.strip() else None
    try:
        # RFC 3339 (5.6) allows a lower-case "t" and "z"; parse_datetime reads neither.
        when = parse_datetime(timestamp.upper()) if timestamp else None
    except ValueError:  # well formed but no such date, e.g. month 13
        when = None
    if when is None or when.tzinfo is None:
        raise validation_problem(
            [field_error("since", "since must be an ISO 8601 timestamp with a timezone.")]
        )
    return _in_utc(when)


def _in_utc(when: datetime) -> datetime:
    """The instant in UTC: PostgreSQL refuses an offset past 15:59 (a 500), Python reads
    any under a day. One that leaves the calendar in UTC (year 1 at +01:00) is before
    or after every row, so the calendar's end on that side compares the same."""
    try:
        return when.astimezone(UTC)
    except OverflowError:
        return (datetime.min if when.year == 1 else datetime.max).replace(tzinfo=UTC)
