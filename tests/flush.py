"""A transactional test's teardown empties the tables holding rows with DELETE.

Django's TransactionTestCase (pytest-django's `transactional_db`, `live_server`) empties
the database after each test with one TRUNCATE of every table. On PostgreSQL a TRUNCATE
makes new files for each table and index and syncs them at commit: ~0.7 s however few
tables it names (1-2 s on a loaded machine), and a few hundred of the suite's tests are
transactional. A test leaves rows in a few small tables: one query finds them, and
deleting their rows in one transaction takes milliseconds. Foreign keys are deferred
(Django makes them DEFERRABLE), so the order of the deletes does not matter. Flushes
that reset sequences are left as Django makes them.

A DELETE leaves a table's statistics as they were, a TRUNCATE resets them: a test that
wrote thousands of rows, analysed by autovacuum before its teardown, left PostgreSQL
estimating thousands in an empty table, and the next test's admin list showed the
estimate instead of counting (steve.admin_site.EstimatedCountPaginator). While any table
is estimated at STALE_ROWS or more, the flush is Django's TRUNCATE of every table.
"""

from typing import Any

from django.db.backends.postgresql.operations import DatabaseOperations

_django_sql_flush = DatabaseOperations.sql_flush
# Well under the estimate the admin starts trusting (EstimatedCountPaginator.exact_below).
STALE_ROWS = 1_000


def tables_holding_rows(connection: Any, tables: list[str]) -> list[str]:
    if not tables:
        return []
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT %s::text WHERE EXISTS (SELECT 1 FROM {quote(table)})" for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(tables))
        return [table for (table,) in cursor.fetchall()]


def estimated_large(connection: Any, tables: list[str]) -> bool:
    """Whether PostgreSQL's statistics estimate any of ``tables`` at STALE_ROWS rows or more."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'"
            " AND pg_catalog.pg_table_is_visible(oid) AND reltuples >= %s)",
            [list(tables), STALE_ROWS],
        )
        return bool(cursor.fetchone()[0])


def sql_flush(
    self: DatabaseOperations,
    style: Any,
    tables: list[str],
    *,
    reset_sequences: bool = False,
    allow_cascade: bool = False,
) -> list[str]:
    if reset_sequences or estimated_large(self.connection, tables):
        return _django_sql_flush(
            self, style, tables, reset_sequences=True, allow_cascade=allow_cascade
        )
    written = tables_holding_rows(self.connection, tables)
    if not written:
        return []
    # Django's flush runs these in one transaction, where the constraints wait for its end.
    deletes = [f"{style.SQL_KEYWORD('DELETE FROM')} {self.quote_name(t)};" for t in written]
    return [f"{style.SQL_KEYWORD('SET CONSTRAINTS ALL DEFERRED')};", *deletes]


def install() -> None:
    DatabaseOperations.sql_flush = sql_flush
