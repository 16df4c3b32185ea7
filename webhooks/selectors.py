"""Read queries of the webhooks app: always of one company and one environment."""

from steve.models import Company
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
