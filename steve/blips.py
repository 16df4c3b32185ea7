"""A database that did not answer for a moment (PostgreSQL restarting, a dropped
connection, a deadlock, a session it ended), and work tried again through it on a new
connection."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

DATABASE_BLIPS = (OperationalError, InterfaceError)
# Sessions PostgreSQL ends that psycopg raises as no OperationalError: 25P03, a
# transaction idle past idle_in_transaction_session_timeout (DATABASE_IDLE_IN_TRANSACTION_
# SECONDS), is an InternalError. Taken for Steve's own failure, it was a 500 for the API,
# the desk and the admin, and a job failed PROCESSING_ERROR instead of being tried again.
# The server rolled the transaction back: a new try on a new connection is as safe as
# after any other blip.
SESSION_ENDED_SQLSTATES = frozenset({"25P03"})
T = TypeVar("T")


def is_database_blip(error: BaseException) -> bool:
    """`error` is the database not answering or ending the session, not a fault of the
    work: what a new try on a new connection, or a 503 asking for one, is for."""
    if isinstance(error, DATABASE_BLIPS):
        return True
    # Django's error wraps psycopg's, which carries the SQLSTATE.
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    return isinstance(error, DatabaseError) and sqlstate in SESSION_ENDED_SQLSTATES


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
        except DatabaseError as error:
            if not is_database_blip(error):
                raise
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
