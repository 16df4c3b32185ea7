"""Celery tasks: thin wrappers that take ids and call one service."""

import logging

from celery import shared_task

from fraud.services import fraud_matches_withdraw_missed

logger = logging.getLogger(__name__)


@shared_task
def withdraw_missed_fraud_matches() -> int:
    withdrawn = fraud_matches_withdraw_missed()
    if withdrawn:  # every minute: a line only when it did something
        logger.info(
            "Withdrawal sweep withdrew the fraud matches of %d pair(s) their commit left open",
            withdrawn,
        )
    return withdrawn
