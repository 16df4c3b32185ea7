"""The database stops answering under a running server (PostgreSQL restarting, every
connection it allows taken, a connection dropped mid-request): an API call is refused
with a 503 problem that says when to try again, not a 500 that reads as Steve's bug."""

import threading
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db import OperationalError, connection
from django.db.utils import ConnectionHandler

from steve.settings import database_from_url
from tests.jobs.test_database_blip import drop_our_connection
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
