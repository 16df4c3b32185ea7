"""The database stops answering under a running server (PostgreSQL restarting, every
connection it allows taken, a connection dropped mid-request): an API call is refused
with a 503 problem that says when to try again, not a 500 that reads as Steve's bug."""

import threading
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db import DatabaseError, OperationalError, connection
from django.db.utils import ConnectionHandler
from django.urls import reverse

from steve.models import ApiKey
from steve.settings import database_from_url
from submissions.models import Submission, SubmissionStatus
from tests import factories
from tests.jobs.test_database_blip import drop_our_connection, quiet_mid_transaction
from tests.jobs.test_sessions_api import create, jpeg_bytes, put
from tests.redis_down import silent_redis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _reconnect_after():
    yield
    connection.close()  # the dropped connection is not left to the next test


def _calls(api) -> dict:
    """One call of each kind a burst is made of, prepared while the database answers."""
    _, body, _ = create(api)
    upload = body["uploadUrls"][0]["uploadUrl"]
    return {
        "poll": lambda: api.get(f"/api/v1/jobs/{body['sessionId']}"),
        "list": lambda: api.get("/api/v1/submissions"),
        "create": lambda: create(api, clientSubmissionId="order-2")[2],
        "create with a key": lambda: api.post(
            "/api/v1/workflows/receipt-ocr/sessions",
            {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "order-3"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="create-3",
        ),
        "upload": lambda: put(api, upload, jpeg_bytes()),
    }


@pytest.mark.parametrize("call", ["poll", "list", "create", "upload"])
def test_an_api_call_is_a_503_problem_while_the_database_does_not_answer(api, workflows, call):
    run = _calls(api)[call]
    api.raise_request_exception = False  # the plain views' errors reach handler500
    drop_our_connection()

    response = run()

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    problem = response.json()
    assert problem["code"] == "DATABASE_UNAVAILABLE"
    assert problem["type"].endswith("/service-unavailable")


@pytest.mark.parametrize("call", ["create", "create with a key", "upload"])
def test_an_api_write_whose_transaction_postgresql_ended_is_a_503_that_wrote_nothing(
    api, workflows, call
):
    # A transaction idle past DATABASE_IDLE_IN_TRANSACTION_SECONDS is ended with SQLSTATE
    # 25P03, an InternalError: the caller got a 500 INTERNAL_ERROR, which says "our bug",
    # not "try again".
    run = _calls(api)[call]
    submissions = Submission.objects.count()
    api.raise_request_exception = False

    with quiet_mid_transaction() as quiet:
        response = run()

    assert quiet.after, "no transaction was ended"
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "DATABASE_UNAVAILABLE"
    assert Submission.objects.count() == submissions  # PostgreSQL rolled it all back
    # The retry the 503 asks for, on a new connection, is carried out once.
    again = run()
    assert again.status_code in (200, 201), again.content
    assert Submission.objects.count() == submissions + call.startswith("create")


def test_a_review_action_whose_transaction_postgresql_ended_is_the_503_page(ui, company):
    waiting = factories.SubmissionFactory(company=company)
    ui.raise_request_exception = False
    action = reverse("review:approve", args=[waiting.pk])

    with quiet_mid_transaction() as quiet:
        response = ui.post(action, {"version": waiting.version})

    assert quiet.after, "no transaction was ended"
    assert response.status_code == 503
    assert "try again" in response.content.decode().lower()
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.REVIEW


def test_an_admin_save_whose_transaction_postgresql_ended_is_the_503_page(operator, company):
    key = factories.api_key(company).api_key
    operator.raise_request_exception = False
    page = reverse("admin:steve_apikey_change", args=[key.pk])

    with quiet_mid_transaction() as quiet:
        response = operator.post(page, {"name": "renamed"})

    assert quiet.after, "no transaction was ended"
    assert response.status_code == 503
    assert "try again" in response.content.decode().lower()
    assert ApiKey.objects.get(pk=key.pk).name == key.name


def test_a_database_that_takes_connections_but_never_answers_is_given_up_on_in_seconds(
    django_db_blocker: Any,
) -> None:
    # PostgreSQL frozen or its host cut off: the connect waited for good, gunicorn killed
    # the worker after its 30-s timeout and the caller got gunicorn's HTML 500, while
    # every web worker in turn hung the same way (/healthz too).
    errors: list[Exception] = []
    with silent_redis() as url, django_db_blocker.unblock():
        port = urlparse(url).port  # a listener that never answers, whatever the protocol
        config = database_from_url("DATABASE_URL", f"postgres://postgres@127.0.0.1:{port}/steve")

        def connect() -> None:
            try:
                ConnectionHandler({"default": config})["default"].ensure_connection()
            except OperationalError as error:
                errors.append(error)

        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        thread.join(15)
        assert not thread.is_alive(), "the connect is still waiting"
    assert errors


def test_a_review_page_is_a_503_asking_to_reload_while_the_database_does_not_answer(ui):
    # It was Django's bare "Server Error (500)": a reviewer could not tell a restart
    # from a fault to report.
    ui.raise_request_exception = False
    drop_our_connection()

    response = ui.get("/review/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "try again" in response.content.decode().lower()


def _server_setting(cursor: Any, name: str) -> str:
    # pg_settings in its base unit (seconds, milliseconds), not SHOW's "1min".
    cursor.execute("SELECT setting FROM pg_settings WHERE name = %s", [name])
    return cursor.fetchone()[0]


def test_postgresql_drops_a_connection_whose_client_vanished_within_minutes() -> None:
    # A worker machine lost (power, network) inside the fraud checks' transaction kept the
    # company's advisory lock for the kernel's two hours: every other fraud check of that
    # company waited behind it and failed at the task's 600-s limit.
    with connection.cursor() as cursor:
        assert _server_setting(cursor, "tcp_keepalives_idle") == "60"
        assert _server_setting(cursor, "tcp_keepalives_interval") == "10"
        assert _server_setting(cursor, "tcp_keepalives_count") == "6"
        assert _server_setting(cursor, "tcp_user_timeout") == "120000"
        assert _server_setting(cursor, "idle_in_transaction_session_timeout") == "900000"


def test_a_transaction_left_idle_past_the_limit_is_ended_and_its_lock_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_IDLE_IN_TRANSACTION_SECONDS", "1")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}"
    config = database_from_url("DATABASE_URL", f"{url}:{db['PORT'] or 5432}/{db['NAME']}")
    stuck = ConnectionHandler({"default": config})["default"]
    stuck.set_autocommit(False)
    with stuck.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(27)")
    time.sleep(2.5)  # the client stops talking, its transaction open

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(27)")
        assert cursor.fetchone() == (True,), "the idle transaction still holds its lock"
        cursor.execute("SELECT pg_advisory_unlock(27)")
    with (
        pytest.raises(DatabaseError, match="idle-in-transaction timeout"),
        stuck.cursor() as cursor,
    ):
        cursor.execute("SELECT 1")
    # The next request starts on a new connection (CONN_HEALTH_CHECKS).
    stuck.close_if_unusable_or_obsolete()
    with stuck.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    stuck.close()


def test_database_urls_options_win_and_zero_sends_no_server_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}"
    url += f":{db['PORT'] or 5432}/{db['NAME']}"
    own = database_from_url("DATABASE_URL", f"{url}?options=-c%20tcp_keepalives_idle%3D30")
    other = ConnectionHandler({"default": own})["default"]
    with other.cursor() as cursor:
        assert _server_setting(cursor, "tcp_keepalives_idle") == "30"
        assert _server_setting(cursor, "idle_in_transaction_session_timeout") == "900000"
    other.close()
    # A pooler that refuses libpq's `options` (PgBouncer) is reached with none.
    monkeypatch.setenv("DATABASE_KEEPALIVE_SECONDS", "0")
    monkeypatch.setenv("DATABASE_IDLE_IN_TRANSACTION_SECONDS", "0")
    assert "options" not in database_from_url("DATABASE_URL", url)["OPTIONS"]
