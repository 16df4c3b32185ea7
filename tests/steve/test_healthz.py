"""/healthz reports the database, the cache and the broker separately."""

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db

REFUSING_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_is_200_when_database_cache_and_broker_are_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}


def test_healthz_is_503_naming_the_database_when_it_is_down(client, monkeypatch):
    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refused)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "down",
        "cache": "ok",
        "broker": "ok",
    }


def test_healthz_is_503_naming_the_cache_when_redis_is_down(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REFUSING_REDIS,
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == "down"
    assert response.json()["database"] == "ok"


def test_healthz_is_503_naming_the_broker_when_it_refuses_connections(client, settings):
    settings.CELERY_BROKER_URL = REFUSING_REDIS
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "cache": "ok",
        "broker": "down",
    }
