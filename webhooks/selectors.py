"""Read queries of the webhooks app: always of one company and one environment."""

from django.db.models import CharField, Q, Subquery, Value

from steve.models import ApiKey, Company
from webhooks.models import CompanySecret, WebhookDelivery, WebhookEndpoint


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
    key (the "configured production webhook") and the session's own webhookUrl. null
    when there is none; pending while anything is queued or retrying (or before the
    first event); failed when a delivery exhausted its budget (a disabled endpoint's,
    never tried, does not count) or the webhookUrl's host is suspended; else delivered.

    "Before the first event" ends with the session (`ended`): its ending is announced in
    the transaction that ends it, so a target with no delivery by then (an endpoint that
    wants other events, or was added later) is told nothing of it, and `pending` would
    promise a delivery that never comes. Only the deliveries made speak then.
    """
    deliveries = (
        WebhookDelivery.objects.filter(session_id=session_id)
        .filter(Q(endpoint__isnull=False) | Q(endpoint__isnull=True, url=session_url))
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
    # One query for both: the poll is the hottest read.
    statuses = {status for (status,) in (deliveries if ended else deliveries.union(endpoints))}
    configured = not ended and (bool(session_url) or CONFIGURED in statuses)
    statuses.discard(CONFIGURED)
    if not configured and not statuses:
        return None
    if not statuses:  # before the first event
        return WebhookDelivery.Status.PENDING
    if WebhookDelivery.Status.PENDING in statuses:
        return WebhookDelivery.Status.PENDING
    if WebhookDelivery.Status.FAILED in statuses:
        return WebhookDelivery.Status.FAILED
    return WebhookDelivery.Status.DELIVERED
