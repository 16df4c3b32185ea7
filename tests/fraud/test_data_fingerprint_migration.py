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
