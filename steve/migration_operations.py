"""Migration operations that work on both of Steve's databases: PostgreSQL (production,
the tests) and SQLite (`./scripts/dev`'s embedded default)."""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently as PostgresAddIndex
from django.db.migrations.operations import AddIndex
from django.db.migrations.state import ProjectState


class AddIndexConcurrently(PostgresAddIndex):
    """An index built (and dropped) CONCURRENTLY on PostgreSQL: a plain CREATE INDEX
    blocks every write to the table while it reads all of it, minutes on a table holding
    a year of submissions, events or deliveries. SQLite has no such build: a plain one,
    as AddIndex makes. Its migration sets `atomic = False` (PostgreSQL refuses a
    concurrent build inside a transaction).

    A concurrent build that fails (a statement timeout, a duplicate under a unique index,
    the deploy killed mid-build) leaves its index behind, marked invalid: never used, but
    written on every insert, and its name taken, so every later `migrate` stopped at
    "relation already exists" until someone dropped it by hand. Such a leftover is
    dropped (concurrently too) before the build; a valid index of the name is kept, and
    the migration stops on it as before."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self._ensure_not_in_transaction(schema_editor)
            drop_index_if_invalid(schema_editor, self.index.name)
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


def drop_index_if_invalid(schema_editor: Any, name: str) -> None:
    """Drops the index `name` a failed concurrent build left (invalid), if any (PostgreSQL):
    looked up among the relations the search path shows, as CREATE INDEX names it."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s AND pg_catalog.pg_table_is_visible(c.oid)",
            [name],
        )
        row = cursor.fetchone()
    if row and row[0]:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")
