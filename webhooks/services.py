"""The outbox: deliveries are written in the caller's transaction and sent after commit."""

import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from webhooks.models import SessionWebhookSecret, WebhookDelivery, WebhookEndpoint

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def session_secret_get_or_create(*, company_id: str) -> SessionWebhookSecret:
    secret, _ = SessionWebhookSecret.objects.get_or_create(
        company_id=company_id, defaults={"secret": new_secret()}
    )
    return secret


def webhook_emit(
    *,
    company_id: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    session_id: str | None = None,
    session_url: str = "",
) -> list[WebhookDelivery]:
    """Queue one delivery per subscribed endpoint (and the session's own URL).

    Must run inside the transaction of the change it announces: a rolled-back change
    leaves no delivery behind, and nothing is sent before the change is committed.
    """
    now = timezone.now()
    rows = [
        WebhookDelivery(
            company_id=company_id,
            endpoint=endpoint,
            url=endpoint.url,
            session_id=session_id or "",
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
        )
        for endpoint in WebhookEndpoint.objects.filter(company_id=company_id, enabled=True)
        if endpoint.wants(event_type)
    ]
    if session_url:
        rows.append(
            WebhookDelivery(
                company_id=company_id,
                url=session_url,
                session_id=session_id or "",
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=now,
            )
        )
    deliveries = WebhookDelivery.objects.bulk_create(rows)
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: _dispatch(ids))
    return deliveries


def _dispatch(delivery_ids: list[str]) -> None:
    from webhooks.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


def session_delivery_status(*, session_id: str, session_url: str) -> str | None:
    """The seed's webhookDeliveryStatus: null without a URL, else the worst open state."""
    if not session_url:
        return None
    statuses = set(
        WebhookDelivery.objects.filter(
            session_id=session_id, endpoint__isnull=True, url=session_url
        ).values_list("status", flat=True)
    )
    if not statuses or WebhookDelivery.Status.PENDING in statuses:
        return WebhookDelivery.Status.PENDING
    if WebhookDelivery.Status.FAILED in statuses:
        return WebhookDelivery.Status.FAILED
    return WebhookDelivery.Status.DELIVERED
