"""A Redis that takes connections and never answers costs a process one wait, not one
per call (steve.redis_pause)."""

import time

import pytest
from django.core.cache.backends.redis import RedisCache

from steve import redis_pause
from tests import redis_down


@pytest.fixture
def silent_redis():
    with redis_down.silent_redis() as url:
        yield url


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


@pytest.mark.django_db
def test_an_outage_logs_one_traceback_per_pause_not_several_per_request(settings, caplog):
    """With Redis down every API request made ~5 cache and counter calls, each logged
    as a warning with its traceback: an outage flooded the logs. The call that finds
    Redis down is logged; the ones refused during the pause that follows only at DEBUG."""
    from rest_framework.test import APIClient

    from tests import factories

    refused = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.REDIS_URL = refused
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": refused,
            "OPTIONS": {"connection_class": redis_pause.connection_class(refused)},
        }
    }
    company = factories.CompanyFactory()
    factories.default_workflows(company)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key(company).secret}")
    redis_pause.redis_pause.end()  # creating the key found Redis down already
    caplog.clear()
    try:
        with caplog.at_level("WARNING"):
            for _ in range(3):
                assert client.get("/api/v1/workflows").status_code == 200
    finally:
        redis_pause.redis_pause.end()
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert len(with_traceback) == 1, [r.getMessage() for r in with_traceback]
