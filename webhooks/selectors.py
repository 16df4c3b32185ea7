"""Read queries of the webhooks app, always scoped to one company."""

from steve.models import Company
from webhooks.models import SessionWebhookSecret, WebhookDelivery, WebhookEndpoint


def endpoint_of(*, company: Company, endpoint_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id, company=company).first()


def delivery_of(*, company: Company, delivery_id: str) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(pk=delivery_id, company=company).first()


def session_secret_of(*, company: Company) -> SessionWebhookSecret | None:
    return SessionWebhookSecret.objects.filter(company=company).first()
