"""A Redis the process under test cannot use, for the cache and the rate-limit counters:
nothing listening (connection refused), or a listener that takes connections and never
answers (a Redis stopped with SIGSTOP, or cut off by a partition)."""

import contextlib
import socket
from collections.abc import Iterator

import pytest

from steve import redis_pause

REFUSED = "redis://127.0.0.1:1/0"  # nothing listens there


@contextlib.contextmanager
def silent_redis() -> Iterator[str]:
    """The URL of a listener that is never accepted from: the kernel completes connects
    (its backlog) and nobody answers, as a Redis stopped with SIGSTOP or cut off."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        server.close()


@pytest.fixture(params=["refused", "frozen"])
def redis_down(request, settings) -> Iterator[str]:
    """Point the cache and the rate limits at a dead Redis, as settings.py would."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(silent_redis()) if request.param == "frozen" else REFUSED
        yield from _cache_at(url, request.param, settings)


def _cache_at(url: str, param: str, settings) -> Iterator[str]:
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "steve",
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
                "connection_class": redis_pause.connection_class(url),
            },
        }
    }
    redis_pause.redis_pause.end()
    try:
        yield param
    finally:
        redis_pause.redis_pause.end()
