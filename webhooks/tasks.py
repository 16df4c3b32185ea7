from celery import shared_task
from django.db import transaction
from django.utils import timezone

from webhooks.delivery import deliver
from webhooks.models import WebhookDelivery

CLAIM_BATCH = 200


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: str) -> None:
    deliver(delivery_id)


@shared_task
def dispatch_due_webhooks() -> int:
    """Beat: queue an attempt for every due delivery; long delays live in the database."""
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:CLAIM_BATCH]
        )
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
