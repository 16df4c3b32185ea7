"""The web process's database connections: each statement limited below gunicorn's
timeout (steve.gunicorn_conf).

A runaway query on a web request (a pathological filter, a wait for a row lock that a
worker's fraud checks hold for minutes) ran until gunicorn killed the worker at 30 s, and
the caller got gunicorn's HTML "Internal Server Error", under /api/ too. With
statement_timeout PostgreSQL cancels it first: a QueryCanceled, which the API answers as
a 503 DATABASE_UNAVAILABLE problem and the desk and the admin as their 503 page, from a
worker that lives on. Only the web process (steve.wsgi) sets it: a Celery worker's fraud
checks wait minutes for their company's lock by design, and a migration may build an
index for longer still.
"""

from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper


def limit_web_statements(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created: statement_timeout on a new PostgreSQL connection, one round
    trip per connection (they live DATABASE_CONN_MAX_AGE). Session-wide: behind a pooler
    in transaction mode it would reach other clients' sessions, so set
    WEB_STATEMENT_TIMEOUT_SECONDS to 0 there, as for its other server settings."""
    seconds = settings.WEB_STATEMENT_TIMEOUT_SECONDS
    if connection.vendor != "postgresql" or not seconds:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{seconds}s"])
