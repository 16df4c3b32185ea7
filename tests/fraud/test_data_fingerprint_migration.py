"""fraud 0012 lets a submission hold two data fingerprints (as read, and as its page
shows) without blocking the table's writes on PostgreSQL while its index is built."""

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

BEFORE = [("fraud", "0011_merchant_names_in_any_script")]
AFTER = [("fraud", "0012_data_fingerprint_shown")]


def migrate(targets: list[tuple[str, str]]) -> list[str]:
    executor = MigrationExecutor(connection)
    with CaptureQueriesContext(connection) as done:
        executor.migrate(targets)
    return [query["sql"] for query in done]


def unique_constraints() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conname, array_agg(a.attname ORDER BY a.attname) FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
            " WHERE c.conrelid = 'fraud_datafingerprint'::regclass AND c.contype = 'u'"
            " GROUP BY c.conname"
        )
        return dict(cursor.fetchall())


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_one_row_per_reading_index_is_built_concurrently_and_rows_are_kept(back_to_latest):
    migrate(BEFORE)
    assert list(unique_constraints().values()) == [["submission_id"]]

    forward = migrate(AFTER)
    built = [sql for sql in forward if "CREATE" in sql and "INDEX" in sql]
    assert built and all("CONCURRENTLY" in sql for sql in built), built
    assert not [sql for sql in forward if "ADD CONSTRAINT" in sql and "USING INDEX" not in sql]
    assert unique_constraints() == {"fraud_data_one_per_reading": ["shown", "submission_id"]}

    migrate(BEFORE)  # and back: one row a submission again
    assert list(unique_constraints().values()) == [["submission_id"]]


def test_a_submission_holds_one_fingerprint_per_reading(back_to_latest):
    from fraud.models import DataFingerprint
    from tests import factories

    submission = factories.SubmissionFactory()
    row = {
        "company": submission.company,
        "submission": submission,
        "merchant": "KEDAI",
        "total": 1,
        "date": "2024-01-01",
    }
    DataFingerprint.objects.create(**row)
    DataFingerprint.objects.create(**row, shown=True)
    with pytest.raises(IntegrityError):
        DataFingerprint.objects.create(**row, shown=True)


def submission_indexes() -> dict[str, str]:
    """The table's indexes on submission_id, by name: their definitions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename = 'fraud_datafingerprint' AND indexdef LIKE '%%submission_id%%'"
        )
        return dict(cursor.fetchall())


def test_the_one_to_ones_own_index_goes_with_it_and_comes_back(back_to_latest):
    # The one-to-one's varchar_pattern_ops index (Django's "_like", for LIKE on the
    # column) is what the plain AlterField to db_index=False drops too: left behind, every
    # fraud check wrote an index nothing reads, and a later index of the column by
    # Django's name would stop at "relation already exists".
    migrate(BEFORE)
    before = submission_indexes()
    assert [name for name in before if name.endswith("_like")], before

    migrate(AFTER)
    assert list(submission_indexes()) == ["fraud_data_one_per_reading"]

    migrate(BEFORE)
    assert submission_indexes() == before


def test_a_migration_stopped_after_the_index_was_built_runs_again(back_to_latest, monkeypatch):
    # atomic = False: the column and the concurrent build are committed as they are made,
    # so a deploy stopped midway (killed, a lock timeout) must be able to run it again.
    from django.db.backends.postgresql.schema import DatabaseSchemaEditor

    migrate(BEFORE)
    execute = DatabaseSchemaEditor.execute

    def stopped(self, sql, params=()):
        if "USING INDEX" in str(sql):
            raise RuntimeError("deploy stopped")
        return execute(self, sql, params)

    monkeypatch.setattr(DatabaseSchemaEditor, "execute", stopped)
    with pytest.raises(RuntimeError):
        migrate(AFTER)
    monkeypatch.setattr(DatabaseSchemaEditor, "execute", execute)

    migrate(AFTER)
    assert unique_constraints() == {"fraud_data_one_per_reading": ["shown", "submission_id"]}
