"""Per-key rate limits: buckets, headers, 429 problems, per-session polling, sharing."""

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.db import connection
from django.urls import ResolverMatch, get_resolver, resolve
from rest_framework.test import APIClient

from steve.api import ratelimit
from steve.services import api_key_revoke
from tests import factories
from tests.jobs.test_sessions_api import jpeg_bytes

pytestmark = pytest.mark.django_db

SESSION_BODY = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "rl-1"}


def limit_company(company, **limits: int) -> None:
    company.rate_limits = limits
    company.save(update_fields=["rate_limits"])


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def new_session(api) -> str:
    body = {**SESSION_BODY, "clientSubmissionId": f"rl-{uuid.uuid4().hex}"}
    response = api.post("/api/v1/workflows/receipt-ocr/sessions", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["sessionId"]


def test_every_counted_response_carries_the_bucket_headers(api, workflows):
    before = time.time()
    response = api.get("/api/v1/workflows")
    assert response.status_code == 200
    assert response["X-RateLimit-Limit"] == "300"
    assert response["X-RateLimit-Remaining"] == "299"
    assert before + 58 <= int(response["X-RateLimit-Reset"]) <= time.time() + 61
    assert api.get("/api/v1/workflows")["X-RateLimit-Remaining"] == "298"


def test_error_responses_of_a_known_key_are_counted_and_carry_headers(api, workflows):
    response = api.get("/api/v1/submissions/sub_missing")
    assert response.status_code == 404
    assert response["X-RateLimit-Remaining"] == "299"


def test_exhausted_bucket_is_a_429_problem_with_retry_after(api, company, workflows):
    limit_company(company, read=3)
    for remaining in ("2", "1", "0"):
        assert api.get("/api/v1/workflows")["X-RateLimit-Remaining"] == remaining
    response = api.get("/api/v1/workflows")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/rate-limit-exceeded")
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["status"] == 429 and body["bucket"] == "read"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Limit"] == "3"
    assert response["X-RateLimit-Remaining"] == "0"


def test_settings_set_the_defaults_and_a_company_overrides_them(api, company, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "read": 7}
    assert api.get("/api/v1/workflows")["X-RateLimit-Limit"] == "7"
    limit_company(company, read=600)
    assert api.get("/api/v1/workflows")["X-RateLimit-Limit"] == "600"


def test_invalid_company_override_falls_back_to_the_setting(api, company):
    limit_company(company, read="lots")
    assert api.get("/api/v1/workflows")["X-RateLimit-Limit"] == "300"


def test_buckets_are_counted_separately(api, company, workflows):
    limit_company(company, read=1)
    assert api.get("/api/v1/workflows").status_code == 200
    assert api.get("/api/v1/workflows").status_code == 429
    response = api.post("/api/v1/workflows/receipt-ocr/sessions", SESSION_BODY, format="json")
    assert response.status_code == 201
    assert response["X-RateLimit-Limit"] == "60"


def test_submit_has_its_own_bucket(api, company, workflows):
    limit_company(company, submit=1)
    session_id = new_session(api)
    url = f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit"
    first = api.post(url)
    assert first.status_code == 422 and first["X-RateLimit-Limit"] == "1"
    assert api.post(url).status_code == 429


def test_limits_are_per_api_key(api, company, workflows):
    limit_company(company, read=1)
    assert api.get("/api/v1/workflows").status_code == 200
    assert api.get("/api/v1/workflows").status_code == 429
    other = client_for(factories.api_key(company, "other").secret)
    assert other.get("/api/v1/workflows").status_code == 200


def test_requests_without_a_valid_key_spend_the_anonymous_bucket_not_a_keys(
    api, anon_api, workflows
):
    missing = anon_api.get("/api/v1/workflows")
    assert missing.status_code == 401
    assert missing["X-RateLimit-Bucket"] == "anonymous" and missing["X-RateLimit-Limit"] == "120"
    wrong = client_for("aok_" + "0" * 64).get("/api/v1/workflows")
    assert wrong.status_code == 401 and wrong["X-RateLimit-Bucket"] == "anonymous"
    assert int(wrong["X-RateLimit-Remaining"]) == int(missing["X-RateLimit-Remaining"]) - 1
    assert api.get("/api/v1/workflows")["X-RateLimit-Remaining"] == "299"


def test_behind_a_trusted_proxy_each_client_has_its_own_anonymous_bucket(anon_api, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    first = anon_api.get("/api/v1/workflows", HTTP_X_FORWARDED_FOR="203.0.113.1")
    again = anon_api.get("/api/v1/workflows", HTTP_X_FORWARDED_FOR="203.0.113.1")
    other = anon_api.get("/api/v1/workflows", HTTP_X_FORWARDED_FOR="203.0.113.2")
    assert int(again["X-RateLimit-Remaining"]) == int(first["X-RateLimit-Remaining"]) - 1
    assert other["X-RateLimit-Remaining"] == first["X-RateLimit-Remaining"]


def test_a_revoked_key_and_an_unknown_route_carry_the_headers(api, api_key, anon_api):
    unknown = api.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown["X-RateLimit-Bucket"] == "anonymous"
    api_key_revoke(api_key=api_key.api_key)
    revoked = api.get("/api/v1/workflows")
    # Its own bucket: in the address's `anonymous` one a stale revoked key got the
    # uncached live keys from the same address refused (test_throttling).
    assert revoked.status_code == 403 and revoked["X-RateLimit-Bucket"] == "revoked"


def test_past_the_anonymous_limit_a_refusal_becomes_a_429(anon_api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anonymous": 2}
    assert [anon_api.get("/api/v1/workflows").status_code for _ in range(3)] == [401, 401, 429]
    refused = anon_api.get("/api/v1/workflows")
    assert refused.json()["bucket"] == "anonymous" and int(refused["Retry-After"]) >= 1


def test_uploads_spend_the_session_keys_upload_bucket(api, company, workflows):
    limit_company(company, upload=1)
    body = {**SESSION_BODY, "fileCount": 2, "contentTypes": ["image/jpeg"] * 2}
    created = api.post("/api/v1/workflows/receipt-ocr/sessions", body, format="json").json()
    paths = [u["uploadUrl"].removeprefix("http://testserver") for u in created["uploadUrls"]]
    first = api.generic("PUT", paths[0], jpeg_bytes(), content_type="image/jpeg")
    assert first.status_code == 200
    assert first["X-RateLimit-Bucket"] == "upload" and first["X-RateLimit-Remaining"] == "0"
    second = api.generic("PUT", paths[1], jpeg_bytes(), content_type="image/jpeg")
    assert second.status_code == 429 and second.json()["bucket"] == "upload"
    forged = api.generic("PUT", "/api/v1/uploads/forged", b"x", content_type="image/jpeg")
    assert forged.status_code == 403 and forged["X-RateLimit-Bucket"] == "anonymous"


def test_review_actions_share_the_write_bucket(api, company):
    limit_company(company, write=3)
    submission = factories.SubmissionFactory(company=company)
    base = f"/api/v1/submissions/{submission.pk}"
    assert api.post(f"{base}/reject", {"reason": "blurry"}, format="json").status_code == 200
    assert api.post(f"{base}/cancel", {}, format="json").status_code == 409
    assert api.post(f"{base}/approve").status_code == 409
    response = api.post(f"{base}/fraud-matches/fm_x/resolve", {"resolution": "false_positive"})
    assert response.status_code == 429
    assert response.json()["bucket"] == "write"


def test_polling_one_session_has_its_own_limit(api, company, workflows):
    limit_company(company, poll=2)
    polled, other = new_session(api), new_session(api)
    for remaining in ("1", "0"):
        response = api.get(f"/api/v1/jobs/{polled}")
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "2"
        assert response["X-RateLimit-Remaining"] == remaining
        assert response["X-RateLimit-Bucket"] == "poll"
    refused = api.get(f"/api/v1/jobs/{polled}")
    assert refused.status_code == 429
    assert refused.json()["bucket"] == "poll"
    assert api.get(f"/api/v1/jobs/{other}").status_code == 200
    assert api.get("/api/v1/workflows").status_code == 200


def test_options_answers_allow_without_a_body_and_spends_no_allowance(api, company, workflows):
    # OPTIONS answered 200 with DRF's metadata (the view's name, description, parsers and
    # renderers), which the schema does not describe, and spent the key's `read` and the
    # job's own `poll` allowance: a client probing a route used up its polls.
    limit_company(company, poll=2, read=5, session=1)
    polled = new_session(api)
    for path, allowed in [
        (f"/api/v1/jobs/{polled}", "GET, HEAD, OPTIONS"),
        ("/api/v1/workflows/receipt-ocr/sessions", "POST, OPTIONS"),
        ("/api/v1/webhook-endpoints/we_x", "GET, PATCH, DELETE, HEAD, OPTIONS"),
    ]:
        for _ in range(3):
            response = api.options(path)
            assert response.status_code == 204, (path, response.content)
            assert response.content == b""
            assert response["Allow"] == allowed
            assert "X-RateLimit-Bucket" not in response  # nothing was counted
    for remaining in ("1", "0"):  # the job's two polls are both left
        assert api.get(f"/api/v1/jobs/{polled}")["X-RateLimit-Remaining"] == remaining
    assert api.get("/api/v1/workflows")["X-RateLimit-Remaining"] == "2"  # 5 - 3 GETs
    assert APIClient().options("/api/v1/workflows").status_code == 204  # no key to spend


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_refused_polls_spend_nothing_of_the_keys_read_allowance(
    api, company, workflows, settings, backend
):
    settings.REDIS_URL = requires_redis() if backend == "redis" else ""
    limit_company(company, poll=2, read=10)
    runaway, other = new_session(api), new_session(api)
    served = [api.get(f"/api/v1/jobs/{runaway}").status_code for _ in range(40)]
    assert served.count(200) == 2 and served.count(429) == 38
    # The two served polls spent two reads; the 38 refused ones nothing.
    reads = [api.get("/api/v1/workflows") for _ in range(8)]
    assert [r.status_code for r in reads] == [200] * 8
    assert reads[-1]["X-RateLimit-Remaining"] == "0"
    assert api.get(f"/api/v1/jobs/{other}").json()["bucket"] == "read"  # now full


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/v1/workflows", [("read", "")]),
        ("POST", "/api/v1/workflows/r/sessions", [("session", "")]),
        ("POST", "/api/v1/extraction-jobs", [("session", "")]),
        ("POST", "/api/v1/workflows/r/sessions/s/submit", [("submit", "")]),
        ("POST", "/api/v1/submissions/s/approve", [("write", "")]),
        ("POST", "/api/v1/submissions/s/fraud-matches/m/resolve", [("write", "")]),
        ("POST", "/api/v1/webhook-endpoints", [("write", "")]),
        ("POST", "/api/v1/webhooks/test", [("webhook_test", "")]),
        ("PUT", "/api/v1/uploads/t", [("upload", "")]),
        ("GET", "/api/v1/jobs/ses_1", [("read", ""), ("poll", "ses_1")]),
        ("GET", "/api/v1/extraction-jobs/j1", [("read", ""), ("poll", "j1")]),
        ("OPTIONS", "/api/v1/jobs/ses_1", []),
        ("OPTIONS", "/api/v1/workflows/r/sessions", []),
    ],
)
def test_each_route_spends_the_buckets_its_view_declares(rf, method, path, expected):
    request = rf.generic(method, path)
    request.resolver_match = resolve(path)
    assert ratelimit.buckets_for(request) == expected


def test_a_renamed_route_keeps_its_views_bucket(rf):
    match = resolve("/api/v1/workflows/r/sessions/s/submit")
    request = rf.generic("POST", "/api/v1/elsewhere")
    request.resolver_match = ResolverMatch(match.func, (), match.kwargs, url_name="renamed")
    assert ratelimit.buckets_for(request) == [("submit", "")]


def test_every_declared_bucket_has_a_limit():
    declared = set()
    for pattern in get_resolver("steve.urls").url_patterns:
        declared |= _scopes(pattern)
    assert declared and declared <= set(ratelimit.DEFAULT_LIMITS)


def _scopes(pattern) -> set[str]:
    if hasattr(pattern, "url_patterns"):
        return set().union(*(_scopes(p) for p in pattern.url_patterns))
    view = getattr(pattern.callback, "view_class", None) or pattern.callback
    scope = getattr(view, ratelimit.SCOPE_ATTR, None)
    return {scope} if isinstance(scope, str) else set()


def test_the_window_restarts_after_it_ends(api, company, monkeypatch):
    monkeypatch.setattr(ratelimit, "WINDOW_SECONDS", 1)
    limit_company(company, read=1)
    assert api.get("/api/v1/workflows").status_code == 200
    assert api.get("/api/v1/workflows").status_code == 429
    time.sleep(1.1)
    assert api.get("/api/v1/workflows").status_code == 200


def test_without_redis_the_local_cache_counts(api, company, settings):
    settings.REDIS_URL = ""
    limit_company(company, read=2)
    assert [api.get("/api/v1/workflows").status_code for _ in range(3)] == [200, 200, 429]
    assert isinstance(ratelimit.counter(), ratelimit._CacheCounter)


def test_an_unreachable_redis_fails_open(api, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api.get("/api/v1/workflows")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response


def requires_redis() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs REDIS_URL: counters are only shared across processes in Redis")
    return url


@pytest.mark.django_db(transaction=True)
def test_concurrent_clients_never_exceed_the_limit(api_key, company):
    requires_redis()
    limit_company(company, read=20)
    statuses: list[int] = []

    def poll() -> None:
        client = client_for(api_key.secret)
        try:
            for _ in range(10):
                statuses.append(client.get("/api/v1/workflows").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) == 20
    assert statuses.count(429) == 20


CHILD = """
import django, os
django.setup()
from steve.api.ratelimit import counter
for _ in range(50):
    print(counter().incr([os.environ["RL_KEY"]], 60000, [1000])[0][0])
"""


def test_web_processes_share_one_counter(settings):
    settings.REDIS_URL = requires_redis()
    key = f"{ratelimit.KEY_PREFIX}test:{uuid.uuid4().hex}"
    env = {**os.environ, "RL_KEY": key, "DJANGO_SETTINGS_MODULE": "steve.settings"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True
    )
    mine = [ratelimit.counter().incr([key], 60000, [1000])[0][0] for _ in range(50)]
    out, _ = child.communicate(timeout=60)
    theirs = [int(line) for line in out.split()]
    assert child.returncode == 0
    assert sorted(mine + theirs) == list(range(1, 101))
