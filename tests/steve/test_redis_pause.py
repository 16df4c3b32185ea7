"""A Redis that takes connections and never answers costs a process one wait, not one
per call (steve.redis_pause)."""

import socket
import time

import pytest
from django.core.cache.backends.redis import RedisCache

from steve import redis_pause


@pytest.fixture
def silent_redis():
    """A listener that accepts connections (the kernel's backlog) and never answers: a
    Redis stopped with SIGSTOP, or cut off."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def _cache(url: str) -> RedisCache:
    options = {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 0.5,
        "connection_class": redis_pause.connection_class(url),
    }
    return RedisCache(url, {"OPTIONS": options})


def _timed_failure(call) -> float:
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - redis-py's timeout or our refusal
        call()
    return time.monotonic() - started


def test_after_one_timeout_calls_fail_at_once_for_a_while(silent_redis):
    cache = _cache(silent_redis)
    assert _timed_failure(lambda: cache.get("key")) >= 0.4  # the one wait
    for call in (lambda: cache.get("key"), lambda: cache.add("key", 1), lambda: cache.incr("n")):
        assert _timed_failure(call) < 0.05
    assert redis_pause.redis_pause.active()


def test_the_pause_ends_and_redis_is_tried_again(silent_redis, monkeypatch):
    cache = _cache(silent_redis)
    _timed_failure(lambda: cache.get("key"))
    redis_pause.redis_pause.end()  # the 15 s have passed
    assert _timed_failure(lambda: cache.get("key")) >= 0.4


def test_each_url_scheme_keeps_its_own_transport():
    from redis.connection import SSLConnection, UnixDomainSocketConnection

    assert issubclass(redis_pause.connection_class("rediss://h:6380/0"), SSLConnection)
    unix = redis_pause.connection_class("unix:///run/redis.sock")
    assert issubclass(unix, UnixDomainSocketConnection)


def test_the_cache_and_the_rate_limits_use_pausing_connections(settings):
    from django.core.cache import cache

    from steve.api import ratelimit

    if not settings.REDIS_URL:
        pytest.skip("the embedded setup has no Redis")
    pool_class = cache._cache._pool_options["connection_class"]
    assert issubclass(pool_class, redis_pause._Pausing)
    counter = ratelimit._RedisCounter(settings.REDIS_URL)
    pool = counter.client.connection_pool
    assert issubclass(pool.connection_class, redis_pause._Pausing)
