"""Beat work of the core: thin tasks that call one service."""

import logging

from celery import shared_task

from steve.services import outbox_relay

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    """Beat: send the outbox messages the on-commit relay could not (broker down then)."""
    sent = outbox_relay()
    if sent:
        logger.info("Outbox relay sent %d task(s)", sent)
    return sent
