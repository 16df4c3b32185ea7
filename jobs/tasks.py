"""Celery tasks: thin wrappers that take ids and call one service."""

import logging

from celery import shared_task

from jobs import pipeline
from jobs.services import retention_purge, sessions_expire_stale, sessions_recover_stuck

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    soft_time_limit=pipeline.TIME_LIMIT_SECONDS,
    time_limit=pipeline.TIME_LIMIT_SECONDS + 60,
)
def process_session(session_id: str) -> None:
    pipeline.run(session_id)


@shared_task
def expire_sessions() -> int:
    expired = sessions_expire_stale()
    if expired:  # every minute: a line only when it did something
        logger.info("Expiry sweep expired %d session(s)", expired)
    return expired


@shared_task
def purge_expired_data() -> int:
    purged = retention_purge()
    if purged:
        logger.info("Retention purge removed the data of %d submission(s)", purged)
    return purged


@shared_task
def recover_stuck_sessions() -> dict[str, int]:
    outcome = sessions_recover_stuck()
    if any(outcome.values()):  # every 15 s: a line only when it did something
        logger.info("Stuck-session recovery: %s", outcome)
    return outcome
