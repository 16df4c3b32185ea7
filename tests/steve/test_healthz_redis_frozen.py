"""/healthz with Redis frozen (SIGSTOP, a partition: connects taken, nothing answered) for
the cache and the broker, and S3 hanging too: it still answers, 200 degraded, within the
container check's 5 s wait (compose.yaml), not as if the web process were dead."""

import time

import pytest

from steve import redis_pause
from tests.redis_down import silent_redis

pytestmark = pytest.mark.django_db

# compose.yaml's check: urllib.request.urlopen(..., timeout=5).
CONTAINER_CHECK_SECONDS = 5


def frozen_cache(url: str) -> dict:
    """The cache as settings.py makes it, at `url`."""
    options = {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 0.5,
        "connection_class": redis_pause.connection_class(url),
    }
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": options,
        }
    }


def test_healthz_answers_in_time_with_redis_frozen_and_s3_hanging(client, settings):
    """Checked one after the other, the cache's 0.5 s, the broker's ping (its socket
    timeout, 3 s, not its check's 2 s) and S3's 3 s made 6.5 s, past the container's
    wait."""
    with silent_redis() as frozen, silent_redis() as hanging:
        settings.CELERY_BROKER_URL = frozen
        settings.CACHES = frozen_cache(frozen)
        settings.STORAGE_BACKEND = "s3"
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "steve-health",
                    "access_key": "health-key",
                    "secret_key": "health-secret",
                    "region_name": "us-east-1",
                    "endpoint_url": hanging.replace("redis://", "http://").removesuffix("/0"),
                    "client_config": settings.S3_CLIENT_CONFIG,
                },
            },
        }
        redis_pause.redis_pause.end()
        started = time.monotonic()
        response = client.get("/healthz")
        took = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "down",
        "broker": "down",
        "storage": "down",
    }
    assert took < CONTAINER_CHECK_SECONDS, took
