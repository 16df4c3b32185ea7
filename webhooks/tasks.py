"""Celery entry points, thin: each parses nothing and calls the app's functions.

Both run on the `deliveries` queue (CELERY_TASK_ROUTES), apart from OCR work.
"""

from collections.abc import Iterator
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from steve.broker import broker_pause
from steve.sweeps import sweep_rows
from webhooks.delivery import CLAIM_BATCH as CLAIM_BATCH_SIZE
from webhooks.delivery import (
    MAX_CLAIM_BATCHES,
    claim_due,
    deliver,
    deliveries_purge,
    delivery_record_interrupted,
    lapse_failed,
    lapsed_leases,
)
from webhooks.services import deliveries_unqueue, delivery_queue


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt of one delivery; a duplicate message finds nothing to claim."""
    deliver(delivery_id)


@shared_task(ignore_result=True)
def dispatch_due_webhooks() -> int:
    """Beat: queue an attempt for every due delivery. Long delays live in the database
    (next_attempt_at), never in Celery countdowns, so a restart loses no retry.

    First, an attempt whose lease ran out unanswered (its worker died) is recorded as
    interrupted and its retry scheduled, so the delivery (and a sync's submission) shows
    it within seconds, not at the retry, which can be hours away."""
    sweep_rows(
        "interrupted-webhooks",
        lapsed_leases(),
        lambda pk: delivery_record_interrupted(delivery_id=pk),
        failed=lapse_failed,
    )
    queued = 0
    for _ in range(MAX_CLAIM_BATCHES):
        if broker_pause.active():
            break  # a publish failed a moment ago: nothing is claimed until the pause ends
        due = claim_due()
        counts = sweep_rows(
            "dispatch-webhooks",
            _while_broker_answers(due),
            lambda pk: delivery_queue(delivery_id=pk),
        )
        queued += counts[str(True)]
        # Rows left when the broker stopped answering are claimable again at once.
        deliveries_unqueue(delivery_ids=due[counts.total() :])
        # What the broker did not take is claimable again: the next pass retries it, not
        # the next batch of this one.
        if len(due) < CLAIM_BATCH_SIZE or counts[str(False)]:
            break
    return queued


def _while_broker_answers(delivery_ids: list[str]) -> Iterator[str]:
    """The ids up to the first the broker could not be reached for (it starts the
    pause): with the broker hung, each of the batch's 200 waited out the socket timeout,
    holding a maintenance worker ~10 minutes. A delivery that fails for a reason of its
    own does not stop the rest."""
    for delivery_id in delivery_ids:
        if broker_pause.active():
            return
        yield delivery_id


@shared_task(ignore_result=True)
def purge_old_webhook_deliveries() -> int:
    """Beat: delivered and failed deliveries are kept WEBHOOKS_RETENTION_DAYS."""
    return deliveries_purge(older_than=timedelta(days=settings.WEBHOOKS_RETENTION_DAYS))
