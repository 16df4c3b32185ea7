"""Is a worker still taking messages? For a health check that restarts one that is not.

A Celery worker can lose its broker connection (Redis frozen, then back: celery#8030,
#9054) and come back answering pings and sending heartbeats while it never polls its
queues again: Steve's outbox and sweeps then wait for a consumer that never comes. Each
worker records, in Redis (the cache), when it last received or finished a task
(steve.celery). The check sends a no-op task to the worker's own queue (Celery's
`worker_direct`: no other worker takes it, so a stuck worker among healthy ones of its
queue is found too) and waits a few seconds for it to be received. A worker that took it
is alive; one that did not is busy if it took or ended a task within
WORKER_STALE_MINUTES (its every slot runs a long job), and stuck otherwise.
"""

import logging
import time
from dataclasses import dataclass

from celery.utils.nodenames import worker_direct
from django.core.cache import cache

from steve.celery import app

logger = logging.getLogger(__name__)

# Records outlive any quiet spell (every check's probe refreshes a live worker's) and
# then go: every container started under a new host name leaves its own behind.
RECORD_SECONDS = 7 * 24 * 3600


def _key(node: str) -> str:
    return f"worker-liveness:{node}:consumed"


def liveness_record(*, node: str, at: float | None = None) -> None:
    """`node` received or finished a task (or just started) at `at` (epoch seconds)."""
    try:
        cache.set(_key(node), time.time() if at is None else at, timeout=RECORD_SECONDS)
    except Exception:  # noqa: BLE001 - a Redis blip must never fail a task's receipt
        logger.warning("Could not record that worker %s consumed", node, exc_info=True)


def liveness_restore(*, node: str, at: float) -> None:
    """`node` runs a task it took by `at` (epoch seconds): its record, if Redis lost it.

    Redis keeps nothing on disk, and a restart or a failover brings it back empty: a
    worker whose every slot runs a long job takes no probe and records nothing until a
    job ends (up to process_session's 660 s), so with its record gone the check found it
    STUCK at once and a liveness probe restarted it mid-job. Only a missing record is
    written (`add`): one that exists keeps its time. `at` is when a running task started,
    not now: a check waiting meanwhile must not take it for its probe's receipt."""
    try:
        cache.add(_key(node), at, timeout=RECORD_SECONDS)
    except Exception:  # noqa: BLE001 - Redis away: the next tick tries again
        logger.warning("Could not restore worker %s's liveness record", node, exc_info=True)


def liveness_consumed_at(*, node: str) -> float | None:
    return cache.get(_key(node))


@dataclass(frozen=True)
class Liveness:
    node: str
    consumed_seconds_ago: float | None  # None: the node never recorded anything
    probe_taken: bool
    probes_waiting: int  # probes (or other messages) in the node's own queue

    def stuck(self, *, stale_seconds: float) -> bool:
        if self.probe_taken:
            return False
        return self.consumed_seconds_ago is None or self.consumed_seconds_ago > stale_seconds


def _waiting(node: str) -> int:
    with app.connection_for_read() as connection:
        # Not a passive declare: Redis keeps no key for an empty queue, which a passive
        # declare refuses as not found; declaring stores nothing in Redis either.
        queue = worker_direct(node).name
        return connection.default_channel.queue_declare(queue=queue).message_count


def worker_liveness(*, node: str, wait_seconds: float) -> Liveness:
    """Probe `node`: send it a no-op task unless one already waits for it (a stuck
    worker's queue then holds one probe, not one per check), and wait for its receipt."""
    from steve.tasks import ping_worker

    sent_at = time.time()
    if _waiting(node) == 0:
        # No expiry: a worker skips an expired task without a receipt to record.
        ping_worker.apply_async(queue=worker_direct(node))
    deadline = time.monotonic() + wait_seconds
    while True:
        consumed = liveness_consumed_at(node=node)
        taken = consumed is not None and consumed >= sent_at
        if taken or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return Liveness(
        node=node,
        consumed_seconds_ago=None if consumed is None else max(0.0, time.time() - consumed),
        probe_taken=taken,
        probes_waiting=_waiting(node),
    )
