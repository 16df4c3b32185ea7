"""A database that did not answer for a moment (PostgreSQL restarting, a dropped
connection, a deadlock), and work tried again through it on a new connection."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

DATABASE_BLIPS = (OperationalError, InterfaceError)
T = TypeVar("T")


def through_blips(
    work: Callable[[], T], *, delays: tuple[float, ...], what: str, ends: float | None = None
) -> T:
    """`work`, tried again after each of `delays` while the database does not answer; the
    last try's error goes on, as does one whose new try, taking as long as the failed
    one, would not end by `ends` (a time.monotonic() deadline). `what` names the work in
    the warning each blip logs."""
    for delay in delays:
        started = time.monotonic()
        try:
            return work()
        except DATABASE_BLIPS:
            now = time.monotonic()
            if ends is not None and now + delay + (now - started) > ends:
                raise
            logger.warning(
                "%s: the database did not answer; trying again in %s s",
                what,
                delay,
                exc_info=True,
            )
            connection.close()  # a lost connection is never reused: the next query reconnects
            time.sleep(delay)
    return work()
