"""Beat work of the core: thin tasks that call one service."""

import logging

from celery import shared_task

from steve.services import idempotency_keys_purge, outbox_relay
from steve.storage import partial_writes_sweep

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    """Beat: send the outbox messages the on-commit relay could not (broker down then)."""
    sent = outbox_relay()
    if sent:
        logger.info("Outbox relay sent %d task(s)", sent)
    return sent


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> int:
    """Beat: Idempotency-Key records (and the responses they replay) past their TTL."""
    purged = idempotency_keys_purge()
    if purged:
        logger.info("Idempotency-Key purge removed %d key(s)", purged)
    return purged


@shared_task(ignore_result=True)
def sweep_partial_writes() -> int:
    """Beat: the partial files of local-disk writes whose process was killed mid-write."""
    removed = partial_writes_sweep()
    if removed:
        logger.info("Partial-write sweep removed %d abandoned file(s)", removed)
    return removed


@shared_task(ignore_result=True)
def ping_worker() -> None:
    """`manage.py worker_liveness`'s probe, sent to one worker's own queue: its receipt
    alone (steve.celery's task_received handler) shows the worker still consumes."""
