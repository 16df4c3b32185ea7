"""tests/flush.py: a transactional test's teardown empties the tables it wrote, and only
those, without a TRUNCATE (~1 s per test however few tables it names)."""

import re

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.management.sql import sql_flush
from django.db import connection

from tests import factories, flush

# What the flush's post_migrate signal makes again at once.
REMADE = {"django_content_type", "auth_permission"}


def tables_holding_rows() -> set[str]:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with connection.cursor() as cursor:
        return {table for table in tables if holds_rows(cursor, table)}


def holds_rows(cursor, table: str) -> bool:
    cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")
    return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_a_flush_deletes_from_the_tables_holding_rows_and_leaves_every_table_empty():
    # An earlier test's thousands of rows, analysed before its teardown deleted them,
    # leave an estimate that turns this flush into a TRUNCATE (see the last test): start
    # from Django's own flush, which truncates and so forgets every estimate.
    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
    assert not flush.estimated_large(connection, connection.introspection.django_table_names())
    company = factories.CompanyFactory()
    factories.default_workflows(company)  # rows referencing the company's
    factories.api_key(company)
    written = tables_holding_rows()
    assert {"steve_company", "steve_workflow"} <= written
    statements = sql_flush(no_style(), connection, reset_sequences=False)
    named = {name for sql in statements for name in re.findall(r'"([^"]+)"', sql)}
    assert named == written
    assert not any("TRUNCATE" in sql for sql in statements), statements
    call_command("flush", verbosity=0, interactive=False)
    assert tables_holding_rows() <= REMADE


@pytest.mark.django_db(transaction=True)
def test_a_flush_with_no_table_holding_rows_runs_no_statement():
    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
    assert sql_flush(no_style(), connection, reset_sequences=False) == []


@pytest.mark.django_db(transaction=True)
def test_a_flush_after_a_table_was_analysed_full_truncates_so_no_estimate_outlives_its_rows():
    # A DELETE keeps the statistics: the next test's admin list read "2,000 deliveries"
    # off an empty table (steve.admin_site.EstimatedCountPaginator).
    company = factories.CompanyFactory()
    factories.CompanyFactory.create_batch(2_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE steve_company")
    assert company.pk
    statements = sql_flush(no_style(), connection, reset_sequences=False)
    assert any("TRUNCATE" in sql for sql in statements), statements
    call_command("flush", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'steve_company'")
        assert cursor.fetchone()[0] < 1_000
