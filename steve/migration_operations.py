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
    concurrent build inside a transaction)."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
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
