"""Read queries of the webhooks app: always of one company and one environment."""

from datetime import datetime

from django.db.models import CharField, Q, Subquery, Value
from django.utils import timezone

from steve.models import ApiKey, Company
from webhooks.models import CompanySecret, SyncTarget, WebhookDelivery, WebhookEndpoint


def endpoint_of(*, company: Company, environment: str, endpoint_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(
        pk=endpoint_id, company=company, environment=environment
    ).first()


def delivery_of(*, company: Company, environment: str, delivery_id: str) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(
        pk=delivery_id, company=company, environment=environment
    ).first()


def company_secret_of(
    *, model: type[CompanySecret], company: Company, **scope: str
) -> CompanySecret | None:
    """The session-webhook secret of an environment, or the company's sync secret."""
    return model.objects.filter(company=company, **scope).first()


CONFIGURED = "configured"  # not a delivery status: an endpoint would receive the events


def session_delivery_status(
    *, session_id: str, session_url: str, company_id: str, api_key_id: str, ended: bool
) -> str | None:
    """Seed 000's webhookDeliveryStatus, across every target of the session's events.

    The targets are the company's enabled endpoints of the environment of the session's
    key (the "configured production webhook") and the session's own webhookUrl. The poll
    reads the same inputs within its own query (poll_delivery_columns); this is the ORM
    read for every other caller.
    """
    deliveries = (
        WebhookDelivery.objects.filter(session_id=session_id)
        # A disabled endpoint is no target: its copy still retrying when it was disabled
        # said `pending` till its next attempt, hours away, then `failed` once that
        # attempt gave it up unsent, though every target had the event.
        .filter(Q(endpoint__enabled=True) | Q(endpoint__isnull=True, url=session_url))
        # A disabled endpoint's copy is kept failed but never sent (webhook_emit): it spent
        # no retry budget, which is what `failed` says (seed 000), and a disabled endpoint
        # is no target. The webhookUrl stays one while its host is suspended, so its unsent
        # copy says failed (redeliver it).
        .exclude(status=WebhookDelivery.Status.FAILED, attempts=0, endpoint__isnull=False)
        .order_by()  # no Meta ordering column in the DISTINCT and the UNION
        .values_list("status")
        .distinct()
    )
    environment = ApiKey.objects.filter(pk=api_key_id).values("environment")
    endpoints = (
        WebhookEndpoint.objects.filter(
            company_id=company_id, enabled=True, environment=Subquery(environment)
        )
        .order_by()
        .values_list(Value(CONFIGURED, output_field=CharField()))
        .distinct()
    )
    # One query for both.
    statuses = {status for (status,) in (deliveries if ended else deliveries.union(endpoints))}
    configured = CONFIGURED in statuses
    statuses.discard(CONFIGURED)
    return delivery_status_of(
        statuses=statuses, endpoint_configured=configured, session_url=session_url, ended=ended
    )


def poll_delivery_columns(*, session: str, key: str) -> str:
    """session_delivery_status's inputs as two columns of a query that has the session's
    row as `session` and its API key's as `key`: the distinct statuses of its deliveries
    (an array) and whether an endpoint would receive its events.

    The job poll is the hottest read: Django compiling the ORM query above cost 1.5 ms of
    a poll's 3.2 ms of CPU, running it 0.04 ms (bench/api_polling.py). Kept beside the ORM
    query so the two change together; tests compare them case by case.
    """
    deliveries = WebhookDelivery._meta.db_table
    endpoints = WebhookEndpoint._meta.db_table
    failed = WebhookDelivery.Status.FAILED.value
    return (
        f"ARRAY(SELECT DISTINCT d.status FROM {deliveries} d"
        f" WHERE d.session_id = {session}.id"
        f" AND (EXISTS(SELECT 1 FROM {endpoints} de WHERE de.id = d.endpoint_id AND de.enabled)"
        f" OR (d.endpoint_id IS NULL AND d.url = {session}.webhook_url))"
        f" AND NOT (d.status = '{failed}' AND d.attempts = 0 AND d.endpoint_id IS NOT NULL)),"
        f" EXISTS(SELECT 1 FROM {endpoints} e WHERE e.company_id = {session}.company_id"
        f" AND e.enabled AND e.environment = {key}.environment)"
    )


def delivery_status_of(
    *, statuses: set[str], endpoint_configured: bool, session_url: str, ended: bool
) -> str | None:
    """webhookDeliveryStatus from the statuses of the session's deliveries.

    null when there is no target; pending while anything is queued or retrying (or
    before the first event); failed when a delivery exhausted its budget (a disabled
    endpoint's, never tried, does not count) or the webhookUrl's host is suspended; else
    delivered.

    "Before the first event" ends with the session (`ended`): its ending is announced in
    the transaction that ends it, so a target with no delivery by then (an endpoint that
    wants other events, or was added later) is told nothing of it, and `pending` would
    promise a delivery that never comes. Only the deliveries made speak then.
    """
    configured = not ended and (bool(session_url) or endpoint_configured)
    if not configured and not statuses:
        return None
    if not statuses:  # before the first event
        return WebhookDelivery.Status.PENDING
    if WebhookDelivery.Status.PENDING in statuses:
        return WebhookDelivery.Status.PENDING
    if WebhookDelivery.Status.FAILED in statuses:
        return WebhookDelivery.Status.FAILED
    return WebhookDelivery.Status.DELIVERED


def sync_target_held_until(*, company_id: str, url: str) -> datetime | None:
    """The end of a downstream-sync target's Retry-After hold, if one holds it now: none
    of its posts is attempted before then (webhooks.delivery._held)."""
    now = timezone.now()
    held = SyncTarget.objects.filter(company_id=company_id, url=url, held_until__gt=now)
    return held.values_list("held_until", flat=True).first()
