"""The indexes added to the tables that grow with use (submissions, sessions, events,
deliveries, idempotency keys) are built CONCURRENTLY on PostgreSQL: a plain CREATE INDEX
blocks every write to the table while it reads all of it, minutes of refused sessions and
decisions at a year of data. On SQLite (the dev default) the same migrations build them
plainly."""

import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

# Each app's last migration before its concurrently built indexes, and the indexes.
BEFORE = [
    ("submissions", "0016_file_password_protected"),
    ("webhooks", "0016_session_targets_per_environment"),
    ("jobs", "0007_session_run_claimed_at"),
    ("steve", "0006_idempotency_keys_per_company_environment"),
]
INDEXES = {
    "submission_company_created",
    "submission_company_fraud",
    "event_decided_at",
    "delivery_endpoint_id",
    "delivery_submission_id",
    "delivery_client_submission_id",
    "submission_client_id",
    "session_client_id",
    "idempotency_key",
}


def migrate(targets: list[tuple[str, str]]) -> list[str]:
    """The statements migrating to `targets` ran."""
    executor = MigrationExecutor(connection)
    with CaptureQueriesContext(connection) as done:
        executor.migrate(targets)
    return [query["sql"] for query in done]


def latest() -> list[tuple[str, str]]:
    graph = MigrationExecutor(connection).loader.graph
    return [graph.leaf_nodes(app)[0] for app in ("submissions", "webhooks", "jobs", "steve")]


def existing(names: set[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(names)])
        return {name for (name,) in cursor.fetchall()}


def touching(statements: list[str], verb: str) -> dict[str, str]:
    """Each of INDEXES' statements of `verb` (CREATE, DROP), by index name."""
    found = {}
    for sql in statements:
        for name in INDEXES:
            if re.match(rf"{verb} INDEX", sql) and f'"{name}"' in sql:
                found[name] = sql
    return found


@pytest.fixture
def back_to_latest():
    yield
    # Every app's newest: going back also unapplied other apps' migrations that depend
    # on these, which later tests in this process need.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_indexes_of_tables_that_grow_are_built_and_dropped_concurrently(back_to_latest):
    newest = latest()
    backward = migrate(BEFORE)
    assert existing(INDEXES) == set()
    dropped = touching(backward, "DROP")
    assert set(dropped) == INDEXES
    assert all("CONCURRENTLY" in sql for sql in dropped.values()), dropped

    forward = migrate(newest)
    assert existing(INDEXES) == INDEXES
    built = touching(forward, "CREATE")
    assert set(built) == INDEXES
    assert all("CONCURRENTLY" in sql for sql in built.values()), built
