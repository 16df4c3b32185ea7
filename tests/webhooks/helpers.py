"""Small helpers shared by the webhook tests."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from steve.ids import new_id
from steve.models import Company
from webhooks.models import SessionWebhookTarget, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_emit


def emit(
    company: Company, event_type: str = "submission.approved", *, session_url: str = ""
) -> list[WebhookDelivery]:
    event_id = new_id("evt")
    payload = {"eventId": event_id, "eventType": event_type, "companyId": company.pk}
    with transaction.atomic():
        return webhook_emit(
            company_id=company.pk,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            session_id="ses_test" if session_url else None,
            session_url=session_url,
        )


def make_due(delivery: WebhookDelivery) -> None:
    """Move the delivery's next attempt (and any lease) into the past: time passes."""
    past = timezone.now() - timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk, next_attempt_at__isnull=False).update(
        next_attempt_at=past
    )
    WebhookDelivery.objects.filter(pk=delivery.pk, locked_until__isnull=False).update(
        locked_until=past  # a lease held runs out, as it does (not cleared)
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(queued_until=None)
    # Its receiver's Retry-After ends no later than its own next attempt.
    owner = Q(deliveries=delivery.pk, held_until__isnull=False)
    WebhookEndpoint.objects.filter(owner).update(held_until=past)
    SessionWebhookTarget.objects.filter(owner).update(held_until=past)


def failed_deliveries(company, count: int) -> list[str]:
    """`count` failed deliveries of the company's endpoint, each of its own event."""
    (first,) = emit(company)
    columns = {f.attname: getattr(first, f.attname) for f in WebhookDelivery._meta.concrete_fields}
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(**{**columns, "id": f"whd_many{i:04d}", "event_id": f"evt_many{i}"})
        for i in range(count - 1)
    )
    WebhookDelivery.objects.update(
        status=WebhookDelivery.Status.FAILED,
        attempts=10,
        next_attempt_at=None,
        queued_until=None,
        failed_at=timezone.now(),
    )
    return sorted(WebhookDelivery.objects.values_list("pk", flat=True))
