"""/healthz reports the database, the cache and the broker separately: 503 only when the
web process cannot serve (the database), 200 "degraded" while Redis is down, which the
API is built to ride out (the outbox, rate limits failing open)."""

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


def test_healthz_is_200_degraded_naming_the_cache_when_redis_is_down(client, settings):
    # A 503 took every web process out of the load balancer at once: the API answered
    # nothing while Redis was down, though its submits wait in the outbox and its rate
    # limits fail open so that it keeps answering.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REFUSING_REDIS,
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["cache"] == "down"
    assert response.json()["database"] == "ok"


def test_healthz_is_200_degraded_naming_the_broker_when_it_refuses_connections(
    client, settings, caplog
):
    settings.CELERY_BROKER_URL = REFUSING_REDIS
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "ok",
        "broker": "down",
    }
    # What failed is in the log, never in the public answer.
    assert "Connection refused" not in response.content.decode()
    (line,) = [r for r in caplog.records if r.name == "steve.views"]
    assert line.levelname == "WARNING" and "broker" in line.getMessage()
