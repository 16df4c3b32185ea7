"""A second data fingerprint of a submission: what its page shows where its PDF's text
layer says otherwise. Rows stored so far are all of what was read (shown=False), as they
were: no row is recomputed.

The table grows with every submission checked, so on PostgreSQL the new unique index is
built CONCURRENTLY (a plain build blocks every fraud check's write while it reads the
whole table) and then made the constraint, and the old one-per-submission constraint is
dropped, with the one-to-one's own index of the column (Django's "_like" one, for LIKE):
the submission column needs no index of its own, the new one leads with it. Outside a
transaction each step is kept as it is made, so a run stopped midway (killed, a lock
timeout) is run again from where it stopped. SQLite (./scripts/dev) takes Django's own
operations."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from steve.migration_operations import drop_index_if_invalid

TABLE = "fraud_datafingerprint"
NAME = "fraud_data_one_per_reading"
PLAIN = [
    migrations.AlterField(
        model_name="datafingerprint",
        name="submission",
        field=models.ForeignKey(
            db_index=False,
            on_delete=django.db.models.deletion.CASCADE,
            related_name="+",
            to="submissions.submission",
        ),
    ),
    migrations.AddConstraint(
        model_name="datafingerprint",
        constraint=models.UniqueConstraint(fields=("submission", "shown"), name=NAME),
    ),
]


class AddFieldOnce(migrations.AddField):
    """AddField, but on PostgreSQL not again where a run stopped midway (atomic = False:
    the column was committed) added the column already."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                columns = schema_editor.connection.introspection.get_table_description(
                    cursor, TABLE
                )
            if any(column.name == self.name for column in columns):
                return
        super().database_forwards(app_label, schema_editor, from_state, to_state)


class OneRowPerReading(Operation):
    """PLAIN's state; on PostgreSQL their schema change made without blocking writes."""

    reversible = True

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        for operation in PLAIN:
            operation.state_forwards(app_label, state)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            _plain(PLAIN, app_label, schema_editor, from_state, backwards=False)
            return
        old = _unique_on_submission(schema_editor)
        # A concurrent build that failed left its index behind, invalid, its name taken.
        drop_index_if_invalid(schema_editor, NAME)
        schema_editor.execute(
            f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{NAME}" '
            f'ON "{TABLE}" ("submission_id", "shown")'
        )
        if not _has_constraint(schema_editor, NAME):
            schema_editor.execute(
                f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{NAME}" UNIQUE USING INDEX "{NAME}"'
            )
        if old:
            schema_editor.execute(f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{old}"')
        # Dropped as AlterField to db_index=False drops it: written by every check, read
        # by none, and its name Django's should the column be indexed again.
        for like in _plain_indexes_on_submission(schema_editor):
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{like}"')

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        # Back to one row a submission: the rows of what pages show go.
        schema_editor.execute(f'DELETE FROM "{TABLE}" WHERE "shown"')
        if schema_editor.connection.vendor != "postgresql":
            _plain(PLAIN, app_label, schema_editor, to_state, backwards=True)
            return
        like = schema_editor._create_index_name(TABLE, ["submission_id"], suffix="_like")
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{like}" '
            f'ON "{TABLE}" ("submission_id" varchar_pattern_ops)'
        )
        schema_editor.execute(
            f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_submission_id_key" UNIQUE ("submission_id")'
        )
        schema_editor.execute(f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{NAME}"')

    def describe(self) -> str:
        return "One data fingerprint per submission and reading, its index built concurrently"


def _plain(
    operations: list[Operation],
    app_label: str,
    schema_editor: Any,
    state: ProjectState,
    *,
    backwards: bool,
) -> None:
    """Django's own schema changes for ``operations``, from ``state`` (the state before
    them): forwards in order, or backwards in reverse."""
    states = [state]
    for operation in operations:
        after = states[-1].clone()
        operation.state_forwards(app_label, after)
        states.append(after)
    steps = list(zip(operations, states, states[1:], strict=False))
    for operation, before, after in reversed(steps) if backwards else steps:
        if backwards:
            operation.database_backwards(app_label, schema_editor, after, before)
        else:
            operation.database_forwards(app_label, schema_editor, before, after)


def _unique_on_submission(schema_editor: Any) -> str | None:
    """The name of the one-to-one's unique constraint on submission_id alone, if any."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conname FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = ALL(c.conkey)"
            " WHERE c.conrelid = %s::regclass AND c.contype = 'u' AND a.attname = 'submission_id'",
            [TABLE],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _has_constraint(schema_editor: Any, name: str) -> bool:
    """Whether the table has constraint ``name`` (made by a run stopped after it)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s",
            [TABLE, name],
        )
        return cursor.fetchone() is not None


def _plain_indexes_on_submission(schema_editor: Any) -> list[str]:
    """The names of the table's indexes of submission_id alone that back no constraint:
    the one-to-one's varchar_pattern_ops one ("_like")."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
            " WHERE i.indrelid = %s::regclass AND i.indnatts = 1 AND NOT i.indisunique"
            " AND a.attname = 'submission_id'"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
            [TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


class Migration(migrations.Migration):
    # The index is built concurrently on PostgreSQL, outside a transaction.
    atomic = False

    dependencies = [
        ("fraud", "0011_merchant_names_in_any_script"),
    ]

    operations = [
        AddFieldOnce(
            model_name="datafingerprint",
            name="shown",
            field=models.BooleanField(default=False),
        ),
        OneRowPerReading(),
    ]
