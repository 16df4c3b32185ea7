"""Redis that does not answer: one wait per process, not one per call.

With Redis hung (it takes connections but never answers: stopped, or cut off by a
partition), each cache call waited out its 0.5-s socket timeout, and one API request
makes about five (its key, the address limit, the request limits): every request took
~2.5 s. After one call times out or cannot connect, this process fails its Redis calls
at once for REDIS_PAUSE_SECONDS; callers already treat a failed call as Redis being
down (authentication reads the database, rate limits let the request through). The
broker has its own pause (steve.broker).
"""

import logging
import sys
from typing import Any

import redis
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection

from steve.pause import Pause

REDIS_PAUSE_SECONDS = 15.0

redis_pause = Pause(REDIS_PAUSE_SECONDS)


class RedisPaused(redis.ConnectionError):
    """Refused without trying: a call failed a moment ago, and was logged then."""


def log_failure(log: logging.Logger, message: str, *args: Any) -> None:
    """Log the Redis failure being handled: with its traceback when Redis was tried, at
    DEBUG when the pause refused the call. An outage logged ~5 tracebacks per API
    request (the key cache, the address limit, the request limits); now one per pause."""
    error = sys.exc_info()[1]
    if isinstance(error, RedisPaused):
        log.debug(message + " (%s)", *args, error)
    else:
        log.warning(message, *args, exc_info=True)


class _Pausing:
    """A redis-py connection that fails at once while this process pauses Redis."""

    def connect(self) -> None:
        self._refuse_if_paused()
        with _noting_failure():
            super().connect()  # type: ignore[misc]

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._refuse_if_paused()
        with _noting_failure():
            super().send_packed_command(command, check_health)  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        with _noting_failure():
            return super().read_response(*args, **kwargs)  # type: ignore[misc]

    @staticmethod
    def _refuse_if_paused() -> None:
        if redis_pause.active():
            raise RedisPaused("Redis did not answer a moment ago; not waiting again.")


def cache_call(method: str, *args: Any, log: logging.Logger, what: str) -> Any:
    """A Django cache operation, or None when Redis cannot be reached: for a cache that
    only saves work (the API key lookup, a rendered page), an outage costs that work
    again, not a 500. ``what`` names the cache in ``log``."""
    from django.core.cache import cache

    try:
        return getattr(cache, method)(*args)
    except Exception:  # redis-py and the backends raise a variety of errors
        log_failure(log, "%s cache unavailable for %s", what, method)
        return None


class _noting_failure:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, tb: Any) -> bool:
        if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
            redis_pause.start()
        return False


class PausingConnection(_Pausing, Connection):
    pass


class PausingSSLConnection(_Pausing, SSLConnection):
    pass


class PausingUnixConnection(_Pausing, UnixDomainSocketConnection):
    pass


def connection_class(url: str) -> type[Connection]:
    """The pausing connection class for a redis://, rediss:// or unix:// URL."""
    if url.startswith("rediss://"):
        return PausingSSLConnection
    if url.startswith("unix://"):
        return PausingUnixConnection  # type: ignore[return-value]
    return PausingConnection
