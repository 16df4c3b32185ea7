"""Read queries of the webhooks app: always of one company and one environment."""

from steve.models import Company
from webhooks.models import SessionWebhookSecret, WebhookDelivery, WebhookEndpoint


def endpoint_of(*, company: Company, environment: str, endpoint_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(
        pk=endpoint_id, company=company, environment=environment
    ).first()


def delivery_of(*, company: Company, environment: str, delivery_id: str) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(
        pk=delivery_id, company=company, environment=environment
    ).first()


def session_secret_of(*, company: Company, environment: str) -> SessionWebhookSecret | None:
    return SessionWebhookSecret.objects.filter(company=company, environment=environment).first()
