"""A runaway query on a web request (a pathological filter, a wait for a row lock a
worker holds for minutes): gunicorn killed the worker at its 30-s timeout and the caller
got gunicorn's HTML "Internal Server Error", even under /api/ (measured: 500 after 31 s,
the worker aborted, then SIGKILLed). PostgreSQL now cancels the statement first, and the
caller gets Steve's 503 problem, asking to try again."""

import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

import submissions.api.views as submission_views
from steve import gunicorn_conf
from steve.webdb import limit_web_statements
from tests.worker import database_url

pytestmark = pytest.mark.django_db(transaction=True)

SHOW = (
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('SHOW statement_timeout')\n"
    "    print(cursor.fetchone()[0])\n"
)


def _statement_timeout_in(preamble: str, **env: str) -> str:
    """statement_timeout on the database connection of a new process that first runs
    `preamble`, as gunicorn's worker imports steve.wsgi and Celery's worker does not."""
    run = subprocess.run(
        [sys.executable, "-c", preamble + SHOW],
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "steve.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return run.stdout.strip().splitlines()[-1]


def test_only_the_web_process_limits_its_statements_and_below_gunicorns_timeout():
    assert _statement_timeout_in("import steve.wsgi\n") == "25s"
    assert _statement_timeout_in("import steve.wsgi\n", WEB_STATEMENT_TIMEOUT_SECONDS="0") == "0"
    # A worker's fraud checks wait minutes for their company's lock, by design; a
    # migration may build an index for longer still.
    assert _statement_timeout_in("import django\ndjango.setup()\n") == "0"
    assert gunicorn_conf.timeout > 25


@pytest.fixture
def web_process(settings):
    """This process's new connections limited as the web process's are."""
    settings.WEB_STATEMENT_TIMEOUT_SECONDS = 1
    connection.close()
    connection_created.connect(limit_web_statements)
    yield
    connection_created.disconnect(limit_web_statements)
    connection.close()


def test_a_runaway_query_on_an_api_call_is_a_503_problem_before_gunicorns_timeout(
    api, workflows, web_process, monkeypatch
):
    listed = submission_views.company_submissions

    def runaway(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(20)")
        return listed(*args, **kwargs)

    monkeypatch.setattr(submission_views, "company_submissions", runaway)
    api.raise_request_exception = False
    started = time.monotonic()

    response = api.get("/api/v1/submissions")

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "DATABASE_UNAVAILABLE"
    # The connection is still good: the next call answers.
    monkeypatch.setattr(submission_views, "company_submissions", listed)
    assert api.get("/api/v1/submissions").status_code == 200
