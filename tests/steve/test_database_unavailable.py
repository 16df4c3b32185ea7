"""The database stops answering under a running server (PostgreSQL restarting, every
connection it allows taken, a connection dropped mid-request): an API call is refused
with a 503 problem that says when to try again, not a 500 that reads as Steve's bug."""

import pytest
from django.db import connection

from tests.jobs.test_database_blip import drop_our_connection
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

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
