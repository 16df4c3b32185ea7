"""Celery tasks: thin wrappers that take ids and call one service."""

import logging

from celery import shared_task

from jobs import pipeline
from jobs.services import (
    redis_lost_work_requeue,
    retention_purge,
    sessions_expire_stale,
    sessions_recover_stuck,
)
from steve.services import redis_epoch_check

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
    # First, whether Redis came back empty: what it lost is queued again now, not when
    # the sweep below finds it stuck (STUCK_SESSION_MINUTES).
    try:
        redis_epoch_check(requeue=redis_lost_work_requeue)
    except Exception:  # the stuck sweep still runs; the next check tries again
        logger.exception("Redis epoch check failed; the stuck sweep goes on")
    outcome = sessions_recover_stuck()
    if any(outcome.values()):  # every 15 s: a line only when it did something
        logger.info("Stuck-session recovery: %s", outcome)
    return outcome
