"""Steve's own migration operations, run as `migrate` runs them."""

from collections.abc import Iterator

import pytest
from django.apps import apps
from django.db import ProgrammingError, connection, models
from django.db.migrations.state import ProjectState

from steve.migration_operations import AddIndexConcurrently
from steve.models import Company

# Outside a transaction, as a migration with `atomic = False` builds it (PostgreSQL
# refuses a concurrent build inside one).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

INDEX = "test_company_name_concurrent"


@pytest.fixture
def operation() -> Iterator[AddIndexConcurrently]:
    yield AddIndexConcurrently(
        model_name="company", index=models.Index(fields=["name"], name=INDEX)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def run_forwards(operation: AddIndexConcurrently) -> None:
    before = ProjectState.from_apps(apps)
    after = before.clone()
    operation.state_forwards("steve", after)
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("steve", editor, before, after)


def index_validity() -> list[bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [INDEX],
        )
        return [valid for (valid,) in cursor.fetchall()]


def left_invalid_by_a_failed_build() -> None:
    """The index as a concurrent build that failed (a duplicate in a unique index, a
    statement timeout, the deploy killed) leaves it: in the catalog, marked invalid."""
    table = Company._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE INDEX {INDEX} ON "{table}" (name)')
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [INDEX]
        )


def test_a_migration_rerun_after_a_failed_concurrent_build_builds_the_index(operation):
    # The failed build's invalid index stopped every later `migrate` at "relation
    # already exists", until someone dropped it by hand.
    left_invalid_by_a_failed_build()
    assert index_validity() == [False]
    run_forwards(operation)
    assert index_validity() == [True]


def test_a_valid_index_of_the_same_name_is_kept_not_built_again(operation):
    # Only a failed build's leftover is dropped: a valid index by that name is someone's,
    # and the migration stops on it as before.
    table = Company._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE INDEX {INDEX} ON "{table}" (name)')
    with pytest.raises(ProgrammingError, match="already exists"):
        run_forwards(operation)
    assert index_validity() == [True]


def test_the_index_is_built_where_none_was(operation):
    run_forwards(operation)
    assert index_validity() == [True]
