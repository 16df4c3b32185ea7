"""Celery entry points, thin: each parses nothing and calls one function of delivery.py.

Both run on the `deliveries` queue (CELERY_TASK_ROUTES), apart from OCR work.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from steve.sweeps import ERRORS, sweep_rows
from webhooks.delivery import CLAIM_BATCH as CLAIM_BATCH_SIZE
from webhooks.delivery import MAX_CLAIM_BATCHES, claim_due, deliver, deliveries_purge


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt of one delivery; a duplicate message finds nothing to claim."""
    deliver(delivery_id)


@shared_task(ignore_result=True)
def dispatch_due_webhooks() -> int:
    """Beat: queue an attempt for every due delivery. Long delays live in the database
    (next_attempt_at), never in Celery countdowns, so a restart loses no retry."""
    queued = 0
    for _ in range(MAX_CLAIM_BATCHES):
        due = claim_due()
        # A delivery whose message could not be queued is retried once its lease lapses.
        counts = sweep_rows("dispatch-webhooks", due, deliver_webhook.delay)
        queued += len(due) - counts[ERRORS]
        if len(due) < CLAIM_BATCH_SIZE:
            break
    return queued


@shared_task(ignore_result=True)
def purge_old_webhook_deliveries() -> int:
    """Beat: delivered and failed deliveries are kept WEBHOOKS_RETENTION_DAYS."""
    return deliveries_purge(older_than=timedelta(days=settings.WEBHOOKS_RETENTION_DAYS))
