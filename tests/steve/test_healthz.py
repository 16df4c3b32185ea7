"""/healthz reports the database, the cache, the broker and the file storage separately:
503 only when the web process cannot serve (the database), 200 "degraded" while Redis or
the storage is down, which the API is built to ride out (the outbox, rate limits failing
open, STORAGE_UNAVAILABLE with Retry-After)."""

from pathlib import Path

import boto3
import pytest
from django.db import OperationalError, connection
from moto import mock_aws

from steve.views import STORAGE_CONNECT_TIMEOUT_SECONDS, STORAGE_READ_TIMEOUT_SECONDS, s3_probe

pytestmark = pytest.mark.django_db

REFUSING_REDIS = "redis://127.0.0.1:1/0"


def local_storage(settings, location: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }


def test_healthz_is_200_when_database_cache_and_broker_are_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "storage": "ok",
    }


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
        "storage": "ok",
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
        "storage": "ok",
    }
    # What failed is in the log, never in the public answer.
    assert "Connection refused" not in response.content.decode()
    (line,) = [r for r in caplog.records if r.name == "steve.views"]
    assert line.levelname == "WARNING" and "broker" in line.getMessage()


def test_healthz_creates_a_missing_media_folder_as_the_first_upload_would(client, settings):
    # A fresh install has no media folder until its first upload: not an outage.
    local_storage(settings, settings.MEDIA_ROOT / "new")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["storage"] == "ok"


def test_healthz_is_200_degraded_naming_the_storage_when_the_media_folder_cannot_be_written(
    client, settings
):
    # A file where the folder should be: nothing can be stored under it, even by root.
    blocker = settings.MEDIA_ROOT / "a-file"
    blocker.write_bytes(b"")
    local_storage(settings, blocker / "media")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "storage": "down",
    }
    assert str(blocker) not in response.content.decode()


S3_SECRET = "s3-secret-that-must-not-leak"


@pytest.fixture
def s3_storage(settings):
    with mock_aws():
        settings.STORAGE_BACKEND = "s3"
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "steve-health",
                    "access_key": "health-key",
                    "secret_key": S3_SECRET,
                    "region_name": "us-east-1",
                    # As in production: the uploads' client, slower to give up.
                    "client_config": settings.S3_CLIENT_CONFIG,
                },
            },
        }
        yield boto3.client("s3", region_name="us-east-1")


def test_healthz_is_ok_when_the_s3_bucket_answers(client, s3_storage):
    s3_storage.create_bucket(Bucket="steve-health")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["storage"] == "ok"


def test_healthz_is_200_degraded_naming_the_storage_when_the_s3_bucket_is_missing(
    client, s3_storage, caplog
):
    # Wrong credentials or a missing bucket reported "ok" while every upload failed.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "storage": "down",
    }
    body = response.content.decode()
    for secret in (S3_SECRET, "health-key", "steve-health", "404", "Not Found"):
        assert secret not in body
    (line,) = [r for r in caplog.records if r.name == "steve.views"]
    assert line.levelname == "WARNING" and "storage" in line.getMessage()


def test_the_s3_probe_gives_up_well_within_the_health_checks_timeout(s3_storage):
    # The storage's own client waits up to 3 s to connect and 8 s to read, twice: a
    # hanging S3 would hold /healthz past the container's 5 s wait and its 10 s timeout.
    config = s3_probe().meta.config
    assert config.connect_timeout == STORAGE_CONNECT_TIMEOUT_SECONDS
    assert config.read_timeout == STORAGE_READ_TIMEOUT_SECONDS
    assert config.retries["total_max_attempts"] == 1
    assert STORAGE_CONNECT_TIMEOUT_SECONDS + STORAGE_READ_TIMEOUT_SECONDS <= 3
