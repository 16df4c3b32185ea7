"""API key authentication, scoping and the problem+json error shape."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from steve.api import auth
from steve.models import ApiKey, Company
from steve.services import api_key_cache_key, api_key_digest, api_key_revoke
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "header",
    [
        ("HTTP_AUTHORIZATION", "Bearer {key}"),
        ("HTTP_AUTHORIZATION", "api-key {key}"),
        ("HTTP_X_API_KEY", "{key}"),
    ],
)
def test_each_header_form_authenticates(api_key, workflows, header):
    client = APIClient()
    client.credentials(**{header[0]: header[1].format(key=api_key.secret)})
    response = client.get("/api/v1/workflows")
    assert response.status_code == 200
    assert [w["slug"] for w in response.json()["data"]] == ["invoice", "receipt-ocr"]


def test_missing_key_is_401_problem(anon_api):
    response = anon_api.get("/api/v1/workflows")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/unauthorized")
    assert body["code"] == "UNAUTHORIZED"
    assert body["status"] == 401
    assert body["instance"] == "/api/v1/workflows"
    assert body["requestId"] == response["Request-Id"]


@pytest.mark.parametrize("value", ["Bearer aok_" + "0" * 64, "Bearer nonsense", "Basic abc"])
def test_unknown_or_malformed_key_is_401(anon_api, company, value):
    anon_api.credentials(HTTP_AUTHORIZATION=value)
    response = anon_api.get("/api/v1/workflows")
    assert response.status_code == 401
    assert response.json()["code"] in {"INVALID_API_KEY", "UNAUTHORIZED"}


def test_revoked_key_is_403_at_once(api, api_key):
    assert api.get("/api/v1/workflows").status_code == 200
    api_key_revoke(api_key=api_key.api_key)
    response = api.get("/api/v1/workflows")
    assert response.status_code == 403
    assert response.json()["code"] == "API_KEY_REVOKED"


def test_a_key_revoked_by_another_process_is_refused_at_once_without_a_shared_cache(
    api, api_key, settings
):
    """Without Redis each process has its own cache, which another process's revocation
    (the admin's, a shell) never reaches: keys are read from the database every time."""
    settings.API_KEY_CACHE_SECONDS = 0
    cache.clear()
    assert api.get("/api/v1/workflows").status_code == 200
    ApiKey.objects.filter(pk=api_key.api_key.pk).update(revoked_at=timezone.now())
    response = api.get("/api/v1/workflows")
    assert response.status_code == 403
    assert response.json()["code"] == "API_KEY_REVOKED"


def test_key_is_stored_only_as_a_digest_with_a_visible_prefix(api_key):
    stored = ApiKey.objects.get(pk=api_key.api_key.pk)
    assert api_key.secret.startswith("aok_") and len(api_key.secret) == 68
    assert api_key.secret[4:] == api_key.secret[4:].lower()
    assert stored.digest == api_key_digest(api_key.secret)
    assert stored.prefix == api_key.secret[:12]
    assert api_key.secret not in str(ApiKey.objects.filter(pk=stored.pk).values().first())


def test_submission_of_another_company_is_404_like_a_missing_one(api, workflows):
    other = factories.SubmissionFactory()
    missing = api.get("/api/v1/submissions/sub_doesnotexist")
    foreign = api.get(f"/api/v1/submissions/{other.pk}")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"] == "SUBMISSION_NOT_FOUND"


def test_unknown_api_path_and_wrong_method_are_problems(api):
    not_found = api.get("/api/v1/nothing-here")
    assert not_found.status_code == 404
    assert not_found["Content-Type"] == "application/problem+json"
    assert not_found.json()["code"] == "NOT_FOUND"
    for root in ("/api/v1", "/api/v1/"):
        assert api.get(root)["Content-Type"] == "application/problem+json", root
    wrong_method = api.delete("/api/v1/workflows")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_request_id_is_echoed_or_generated(api):
    echoed = api.get("/api/v1/workflows", HTTP_X_REQUEST_ID="trace-123")
    assert echoed["Request-Id"] == "trace-123"
    generated = api.get("/api/v1/workflows")
    assert generated["Request-Id"].startswith("req_")


def test_malformed_json_is_a_400_problem(api, workflows):
    response = api.generic(
        "POST",
        "/api/v1/workflows/receipt-ocr/sessions",
        "{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_JSON"
    huge_number = '{"expectedVersion": ' + "9" * 5000 + "}"
    response = api.generic(
        "POST",
        "/api/v1/workflows/receipt-ocr/sessions",
        huge_number,
        content_type="application/json",
    )
    assert response.json()["code"] == "INVALID_JSON"
    assert "sys." not in response.json()["detail"]  # no Python internals


def test_create_api_key_command_creates_the_company_and_prints_the_key_once(capsys):
    call_command("create_api_key", "--company", "acme", "--name", "ci", "--create-company")
    secret = capsys.readouterr().out.strip()
    key = ApiKey.objects.get(digest=api_key_digest(secret))
    assert key.company.slug == "acme" and key.name == "ci"


def test_create_api_key_refuses_a_slug_no_company_has_unless_told_to_create_it(capsys):
    factories.CompanyFactory(slug="acme")
    with pytest.raises(CommandError, match="acme"):
        call_command("create_api_key", "--company", "acmee", "--name", "ci")
    assert not Company.objects.filter(slug="acmee").exists()
    assert not ApiKey.objects.exists()
    call_command("create_api_key", "--company", "acme", "--name", "ci")
    key = ApiKey.objects.get(digest=api_key_digest(capsys.readouterr().out.strip()))
    assert key.company.slug == "acme"


def test_workflow_version_contract_has_upload_rules_and_schema(api, workflows):
    body = api.get("/api/v1/workflows/receipt-ocr/versions/1").json()
    assert body["upload"]["acceptedFormats"] == ["jpeg", "png", "webp", "pdf"]
    assert body["outputJsonSchema"]["properties"]["totalAmount"]
    assert api.get("/api/v1/workflows/receipt-ocr/versions/7").status_code == 404
    assert api.get("/api/v1/workflows/nope").json()["code"] == "WORKFLOW_NOT_FOUND"


# --- Revocation under concurrency, and a cache that is down ---------------------------


def test_a_stale_touch_cannot_bring_a_revoked_key_back(api, api_key, monkeypatch):
    """A request that read the key before the revocation touches it after: the old code
    wrote that copy back over the cleared cache entry and the key worked for a minute."""
    monkeypatch.setattr(auth, "LAST_USED_PRECISION", timedelta(0))
    stale = auth.api_key_from_database(api_key.api_key.digest)
    api_key_revoke(api_key=api_key.api_key)
    auth.ApiKeyAuthentication._touch(stale)
    assert api.get("/api/v1/workflows").status_code == 403


def test_a_database_read_from_before_the_revocation_is_not_cached_after_it(api, api_key):
    stale = ApiKey.objects.select_related("company").get(pk=api_key.api_key.pk)
    api_key_revoke(api_key=api_key.api_key)
    cache.add(api_key_cache_key(stale.digest), stale, 60)  # what a slow reader does last
    assert api.get("/api/v1/workflows").status_code == 403


def test_a_deleted_key_is_refused_at_once_and_a_stale_copy_stays_out(api, api_key):
    stale = ApiKey.objects.select_related("company").get(pk=api_key.api_key.pk)
    assert api.get("/api/v1/workflows").status_code == 200  # cached
    ApiKey.objects.filter(pk=stale.pk).delete()
    cache.add(api_key_cache_key(stale.digest), stale, 60)
    assert api.get("/api/v1/workflows").status_code == 401


def race_revocation(created, threads: int = 4) -> tuple[list[int], list[int]]:
    """Statuses of the requests started before and after the revocation returned."""
    results: list[tuple[float, int]] = []
    stop = threading.Event()

    def hammer() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
        try:
            while not stop.is_set():
                started = time.monotonic()
                results.append((started, client.get("/api/v1/workflows").status_code))
        finally:
            connection.close()

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    # Revoke once the key has answered: under load the first requests took longer than
    # a fixed 0.3 s, and every one started before the revocation was refused after it.
    deadline = time.monotonic() + 15
    while not any(status == 200 for _, status in list(results)) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    api_key_revoke(api_key=created.api_key)
    revoked_at = time.monotonic()
    time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join()
    before = [status for started, status in results if started < revoked_at]
    after = [status for started, status in results if started > revoked_at]
    return before, after


@pytest.mark.django_db(transaction=True)
def test_revocation_takes_effect_on_the_next_request_while_requests_race(monkeypatch, settings):
    """Threads keep calling the API (each request touching the key) while the key is
    revoked: every request that starts after the revocation returned is refused."""
    monkeypatch.setattr(auth, "LAST_USED_PRECISION", timedelta(0))
    # A revoked key's refusals count against its `revoked` bucket; this test is about
    # revocation, not that limit.
    settings.RATE_LIMIT_ENABLED = False
    company = factories.CompanyFactory()
    factories.default_workflows(company)
    for _ in range(3):
        before, after = race_revocation(factories.api_key(company))
        assert 200 in before and after, "the threads must have raced the revocation"
        assert set(after) == {403}


def test_authentication_reads_the_database_when_the_cache_is_down(api, api_key, settings):
    refused = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused
    settings.REDIS_URL = refused
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": refused,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with pytest.raises(Exception):  # noqa: B017 - the cache really is unreachable
        cache.get("anything")
    ApiKey.objects.filter(pk=api_key.api_key.pk).update(last_used_at=None)
    assert api.get("/api/v1/workflows").status_code == 200
    assert ApiKey.objects.get(pk=api_key.api_key.pk).last_used_at is not None
    api_key_revoke(api_key=api_key.api_key)
    assert api.get("/api/v1/workflows").status_code == 403


def _unreachable(*args, **kwargs):
    raise ConnectionError("Redis is unreachable")


def test_a_key_revoked_while_redis_was_unreachable_is_refused_when_it_comes_back(
    api, api_key, monkeypatch
):
    """Redis missed the revocation (unreachable), then came back with its data: the old
    code served the cached, still-live key for API_KEY_CACHE_SECONDS after it."""
    assert api.get("/api/v1/workflows").status_code == 200  # the live key is now cached
    with monkeypatch.context() as down:
        for method in ("set", "delete", "delete_many"):
            down.setattr(cache, method, _unreachable)
        api_key_revoke(api_key=api_key.api_key)
    assert cache.get(api_key_cache_key(api_key.api_key.digest)).revoked_at is None  # stale
    response = api.get("/api/v1/workflows")
    assert response.status_code == 403
    assert response.json()["code"] == "API_KEY_REVOKED"


def test_a_key_deleted_while_redis_was_unreachable_is_refused_when_it_comes_back(
    api, api_key, monkeypatch
):
    assert api.get("/api/v1/workflows").status_code == 200
    with monkeypatch.context() as down:
        down.setattr(cache, "set", _unreachable)
        ApiKey.objects.filter(pk=api_key.api_key.pk).delete()
    assert api.get("/api/v1/workflows").status_code == 401
