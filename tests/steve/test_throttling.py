"""Login lock-out (django-axes) and the per-address limit on unknown API keys."""

import logging
from datetime import timedelta
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from steve.api import auth
from steve.logredact import RedactingGunicornLogger, RedactTokensFilter, redact
from steve.services import api_key_revoke
from tests import factories

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _clear_failure_counters():
    from django.core.cache import cache

    cache.clear()
    auth._limited_here.clear()


@pytest.mark.parametrize(
    ("login_url", "make_user"),
    [
        ("/accounts/login/", lambda: factories.UserFactory(username="rita")),
        ("/admin/login/", lambda: factories.UserFactory(username="rita", is_staff=True)),
    ],
)
def test_login_is_locked_after_n_failures_even_with_the_right_password(
    settings, login_url, make_user
):
    make_user()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        wrong = client.post(login_url, {"username": "rita", "password": "nope"})
        assert wrong.status_code in {200, 429}
    right = client.post(login_url, {"username": "rita", "password": PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_locked_out_user_gets_a_page_saying_how_long_the_lock_lasts(settings):
    factories.UserFactory(username="rita")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        locked = client.post("/accounts/login/", {"username": "rita", "password": "nope"})
    assert locked.status_code == 429
    assert locked["Content-Type"].startswith("text/html")
    page = locked.content.decode()
    assert "<title>Sign-in locked" in page
    assert f"Try again in {settings.AXES_COOLOFF_TIME.seconds // 60}m" in page
    assert 'href="/accounts/login/"' in page


def test_an_admin_unlocks_a_locked_username(settings, admin_client):
    factories.UserFactory(username="rita")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "rita", "password": "nope"})
    attempt = AccessAttempt.objects.get(username="rita")
    # The admin's "Access attempts" list: deleting the row lifts the lock.
    assert admin_client.get("/admin/axes/accessattempt/").status_code == 200
    admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert not AccessAttempt.objects.exists()
    again = client.post("/accounts/login/", {"username": "rita", "password": PASSWORD})
    assert again.status_code == 302 and client.session["_auth_user_id"]


def test_a_successful_login_before_the_limit_works(settings):
    factories.UserFactory(username="rita")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "rita", "password": "nope"})
    assert (
        client.post("/accounts/login/", {"username": "rita", "password": PASSWORD}).status_code
        == 302
    )


def unknown(client: APIClient, n: int = 1) -> list[int]:
    client.credentials(HTTP_AUTHORIZATION="Bearer aok_" + "0" * 64)
    return [client.get("/api/v1/workflows").status_code for _ in range(n)]


def anonymous_limit(settings, limit: int) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anonymous": limit}


def test_unknown_keys_from_one_address_are_limited_without_a_query(settings, api_key, workflows):
    anonymous_limit(settings, 3)
    guesser = APIClient(REMOTE_ADDR="203.0.113.9")
    assert unknown(guesser, 3) == [401, 401, 401]
    with CaptureQueriesContext(connection) as queries:
        response = guesser.get("/api/v1/workflows")
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert response["X-RateLimit-Bucket"] == "anonymous"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert not [q for q in queries.captured_queries if "steve_apikey" in q["sql"]]
    # Malformed keys count and are refused alike; other addresses are not affected.
    guesser.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    assert guesser.get("/api/v1/workflows").status_code == 429
    assert unknown(APIClient(REMOTE_ADDR="198.51.100.7")) == [401]


def test_unknown_keys_and_other_keyless_requests_share_one_per_address_limit(
    settings, api_key, workflows
):
    anonymous_limit(settings, 3)
    client = APIClient(REMOTE_ADDR="203.0.113.12")
    assert client.get("/api/v1/no-such-route").status_code == 404
    assert client.get("/api/v1/workflows").status_code == 401  # no key at all
    [refused] = unknown(client)
    assert refused == 401
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/workflows")
    # The fourth keyless request of the minute: the bucket the headers showed is the
    # limit, and the unknown key is not looked up.
    assert response.status_code == 429
    assert response["X-RateLimit-Bucket"] == "anonymous"
    assert response["X-RateLimit-Limit"] == "3" and response["X-RateLimit-Remaining"] == "0"
    assert not [q for q in queries.captured_queries if "steve_apikey" in q["sql"]]


def test_unknown_keys_within_the_anonymous_bucket_are_answered_401_with_its_headers(
    settings, workflows
):
    anonymous_limit(settings, 40)
    client = APIClient(REMOTE_ADDR="203.0.113.13")
    client.credentials(HTTP_AUTHORIZATION="Bearer aok_" + "2" * 64)
    answers = [client.get("/api/v1/workflows") for _ in range(30)]
    assert {answer.status_code for answer in answers} == {401}
    assert [int(a["X-RateLimit-Remaining"]) for a in answers] == list(range(39, 9, -1))
    assert {answer["X-RateLimit-Bucket"] for answer in answers} == {"anonymous"}


def test_a_limited_client_polling_jobs_costs_no_database_query(settings, api, workflows):
    session = api.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "o-1"},
        format="json",
    ).json()["sessionId"]
    anonymous_limit(settings, 2)
    guesser = APIClient(REMOTE_ADDR="203.0.113.11")
    guesser.credentials(HTTP_AUTHORIZATION="Bearer aok_" + "1" * 64)
    url = f"/api/v1/jobs/{session}"
    assert [guesser.get(url).status_code for _ in range(3)] == [401, 401, 429]
    with CaptureQueriesContext(connection) as queries:
        assert guesser.get(url).status_code == 429
    assert queries.captured_queries == []


def test_a_live_key_keeps_working_from_a_limited_address(settings, api_key, workflows):
    anonymous_limit(settings, 2)
    shared = APIClient(REMOTE_ADDR="203.0.113.10")
    honest = APIClient(REMOTE_ADDR="203.0.113.10")
    honest.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
    assert honest.get("/api/v1/workflows").status_code == 200  # now cached
    unknown(shared, 2)
    assert unknown(shared) == [429]
    assert honest.get("/api/v1/workflows").status_code == 200


def revoked_limit(settings, limit: int) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "revoked": limit}


def test_a_revoked_key_does_not_lock_out_live_keys_from_its_address(settings, company, workflows):
    """A stale revoked sandbox key left in a CI job spent the address's `anonymous`
    bucket, and every production key from the same egress address whose cache entry had
    lapsed got 429 without being looked up. A revoked key is a key Steve knows: its
    refusals spend its own `revoked` bucket."""
    anonymous_limit(settings, 3)
    revoked_limit(settings, 3)
    stale = factories.api_key(company, "ci sandbox", environment="sandbox")
    api_key_revoke(api_key=stale.api_key)
    ci = APIClient(REMOTE_ADDR="203.0.113.20")
    ci.credentials(HTTP_AUTHORIZATION=f"Bearer {stale.secret}")
    answers = [ci.get("/api/v1/workflows") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [403, 403, 403, 429]
    assert {answer["X-RateLimit-Bucket"] for answer in answers} == {"revoked"}
    assert answers[-1].json()["bucket"] == "revoked"
    # Known as revoked in the cache: hammering with it costs no key lookup.
    with CaptureQueriesContext(connection) as queries:
        assert ci.get("/api/v1/workflows").status_code == 429
    assert not [q for q in queries.captured_queries if "steve_apikey" in q["sql"]]
    # A production key never used before (not cached) from the same address works, and
    # the address's `anonymous` bucket is untouched.
    production = APIClient(REMOTE_ADDR="203.0.113.20")
    production.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key(company, 'prod').secret}")
    assert production.get("/api/v1/workflows").status_code == 200
    assert unknown(APIClient(REMOTE_ADDR="203.0.113.20")) == [401]


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(settings, workflows):
    anonymous_limit(settings, 1)
    settings.TRUSTED_PROXY_COUNT = 1
    one = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.5")
    other = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert unknown(one, 2) == [401, 429]
    assert unknown(other) == [401]


# --- Secrets stay out of logs -------------------------------------------------------------


def test_upload_and_download_tokens_are_redacted_from_log_lines():
    line = 'PUT /api/v1/uploads/eyJmIjoiZmlsZV8xIn0:1tX:abc HTTP/1.1" 200 /files/tok.en?x=1'
    assert redact(line) == 'PUT /api/v1/uploads/[redacted] HTTP/1.1" 200 /files/[redacted]?x=1'
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/files/secret",), None
    )
    RedactTokensFilter().filter(record)
    assert record.getMessage() == "Not Found: /files/[redacted]"


def test_the_review_desks_file_index_is_no_token_and_stays_in_log_lines():
    # The desk's /review/<id>/files/0/pages/1.png was logged as /files/[redacted]/…, which
    # hid the file asked for and redacted nothing secret (a token is never digits alone).
    line = '"GET /review/sub_1/files/0/pages/1.png HTTP/1.1" 200 "GET /review/sub_1/files/12"'
    assert redact(line) == line
    assert redact("/files/0tok:en") == "/files/[redacted]"


def test_gunicorn_access_log_lines_carry_no_token():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    logger = RedactingGunicornLogger(Config())
    environ = {
        "REQUEST_METHOD": "PUT",
        "RAW_URI": "/api/v1/uploads/sekret-token",
        "PATH_INFO": "/api/v1/uploads/sekret-token",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": "",
        "HTTP_REFERER": "https://x/files/other-sekret",
    }
    response = SimpleNamespace(status="200 OK", sent=0, headers=[])
    request = SimpleNamespace(headers=[("REFERER", "https://x/files/other-sekret")])
    atoms = logger.atoms(response, request, environ, timedelta(seconds=1))
    assert "sekret" not in str(atoms)
    assert atoms["r"] == "PUT /api/v1/uploads/[redacted] HTTP/1.1"


@pytest.mark.parametrize(
    ("form_url", "make_user"),
    [
        ("/accounts/password/", lambda: factories.UserFactory(username="rita")),
        # The admin's own form: a superuser's session, the one most worth stealing, tried
        # old passwords there without limit while the desk's form was locked.
        (
            "/admin/password_change/",
            lambda: factories.UserFactory(username="rita", is_staff=True, is_superuser=True),
        ),
    ],
)
def test_wrong_old_passwords_on_the_password_form_lock_the_username(settings, form_url, make_user):
    # Whoever holds a signed-in session must not try passwords there without limit.
    user = make_user()
    client = Client()
    client.force_login(user)
    new = {
        "new_password1": "a-much-longer-passphrase-9",
        "new_password2": "a-much-longer-passphrase-9",
    }
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(form_url, {"old_password": f"guess-{n}", **new})
    right = client.post(form_url, {"old_password": PASSWORD, **new})
    assert right.status_code == 200 and "Too many wrong passwords" in right.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # unchanged
    # The same lock as the sign-in forms': the username cannot sign in either.
    login = Client().post("/accounts/login/", {"username": "rita", "password": PASSWORD})
    assert login.status_code == 429


def test_a_sign_in_lasts_a_working_day_not_two_weeks(settings):
    factories.member(factories.CompanyFactory(), username="rita")
    client = Client()
    response = client.post("/accounts/login/", {"username": "rita", "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 12 * 3600
    assert client.get("/review/").status_code == 200
    # Thirteen hours later the same cookie no longer signs anyone in.
    later = timezone.now() + timedelta(hours=13)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.get("/review/").status_code == 302


def test_gunicorn_error_log_lines_carry_no_token(capsys):
    # A PUT whose body never came in full (a Content-Length larger than what was sent)
    # held the worker until its timeout, and gunicorn logged "Error handling request
    # /api/v1/uploads/<token>" with the token, a usable upload URL, in clear.
    from gunicorn.config import Config

    logger = RedactingGunicornLogger(Config())
    try:
        raise SystemExit(1)
    except SystemExit:
        logger.exception("Error handling request %s", "/api/v1/uploads/sekret-token")
    logger.error("Invalid request from ip=%s: %s", "127.0.0.1", "/files/other-sekret")
    written = capsys.readouterr().err
    assert "/api/v1/uploads/[redacted]" in written and "/files/[redacted]" in written
    assert "sekret" not in written
