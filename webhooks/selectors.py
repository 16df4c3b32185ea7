"""Read queries of the webhooks app, always scoped to one company."""

from steve.models import Company
from webhooks.models import CompanySecret, WebhookDelivery, WebhookEndpoint


def endpoint_of(*, company: Company, endpoint_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id, company=company).first()


def delivery_of(*, company: Company, delivery_id: str) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(pk=delivery_id, company=company).first()


def company_secret_of(*, model: type[CompanySecret], company: Company) -> CompanySecret | None:
    """The company's session-webhook or sync secret (SessionWebhookSecret, SyncSigningSecret)."""
    return model.objects.filter(company=company).first()
