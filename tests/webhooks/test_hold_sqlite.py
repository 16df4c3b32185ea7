"""A receiver's Retry-After hold on `./scripts/dev`'s embedded SQLite database."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db.models.sql import UpdateQuery
from django.db.utils import ConnectionHandler
from django.utils import timezone

from steve.settings import database_from_url
from webhooks.delivery import held_until_at_least, lock_sync_target
from webhooks.models import WebhookEndpoint


def test_a_retry_after_holds_an_endpoint_not_yet_held_on_the_dev_database(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    """SQLite's MAX is NULL when an argument is: the hold of an endpoint whose
    held_until was NULL stayed NULL, so `./scripts/dev` sent the endpoint's other
    deliveries before the time its Retry-After asked for."""
    until = timezone.now() + timedelta(seconds=30)
    with django_db_blocker.unblock():
        held = _held_until_after(tmp_path, until, before=[None, until - timedelta(hours=1)])
        kept = _held_until_after(tmp_path, until, before=[until + timedelta(hours=1)])
    assert held == [until, until]
    assert kept == [until + timedelta(hours=1)]  # never shortened


def _held_until_after(tmp_path: Path, until: Any, *, before: list[Any]) -> list[Any]:
    """The held_until of endpoints holding `before`, once extended to `until` on SQLite."""
    config = database_from_url("DATABASE_URL", f"sqlite:///{tmp_path / 'hold.sqlite3'}")
    connection = ConnectionHandler({"default": config})["default"]
    field = WebhookEndpoint._meta.get_field("held_until")
    table = WebhookEndpoint._meta.db_table
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{table}"')
            cursor.execute(f'CREATE TABLE "{table}" ("held_until" {field.db_type(connection)})')
            for value in before:
                prepared = field.get_db_prep_value(value, connection)
                cursor.execute(f'INSERT INTO "{table}" VALUES (%s)', [prepared])
        # The UPDATE _hold_owner makes, compiled for SQLite.
        query = WebhookEndpoint.objects.all().query.chain(UpdateQuery)
        query.add_update_values({"held_until": held_until_at_least(until)})
        sql, params = query.get_compiler(connection=connection).as_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.execute(f'SELECT "held_until" FROM "{table}" ORDER BY rowid')
            rows = [row[0] for row in cursor.fetchall()]
        convert = connection.ops.convert_datetimefield_value
        return [convert(value, None, connection) for value in rows]
    finally:
        connection.close()


def test_a_failing_sync_targets_lock_takes_no_postgresql_function_on_the_dev_database(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    """A sync post's retry locks its target (one attempt at a time while it fails) with
    PostgreSQL's advisory lock: on `./scripts/dev`'s SQLite every claim of a retry raised
    "no such function: hashtextextended", so a sync that failed once was never tried
    again. SQLite lets one writer in at a time, which serialises the claims already."""
    with django_db_blocker.unblock():
        config = database_from_url("DATABASE_URL", f"sqlite:///{tmp_path / 'sync.sqlite3'}")
        connection = ConnectionHandler({"default": config})["default"]
        try:
            with connection.cursor():
                pass
            assert lock_sync_target(connection, "cmp_1", "https://erp.example.com/sync")
        finally:
            connection.close()
