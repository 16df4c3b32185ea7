"""The lists of the tables that grow with every day of use sort only by columns an index
of their own table leads with: a column header (or an ?o= typed by hand) sorted by any
column, and a sort no index serves reads and sorts the whole table for its one page, past
the web's statement timeout on the largest ones."""

import pytest
from django.contrib import admin
from django.db import connection
from django.urls import reverse

from steve.admin_site import EstimatedCountPaginator
from tests.steve.test_admin_searches import rows_at_scale

pytestmark = pytest.mark.django_db


def largest_lists() -> list[tuple[str, str]]:
    """The changelist of each table that grows with use (its rows estimated), its table."""
    return [
        (f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist", model._meta.db_table)
        for model, model_admin in admin.site._registry.items()
        if issubclass(model_admin.paginator, EstimatedCountPaginator)
    ]


@pytest.mark.postgres_only
def test_the_largest_lists_sort_by_no_column_that_reads_the_whole_table(admin_client, analyse):
    rows_at_scale(3000)
    filled = []
    with connection.cursor() as cursor:
        for changelist, table in largest_lists():
            analyse(table)
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            if cursor.fetchone()[0] >= 3000:
                filled.append((changelist, table))
    assert len(filled) >= 7
    for changelist, table in filled:
        columns = admin_client.get(reverse(changelist)).context["cl"].list_display
        for n in range(len(columns)):
            for order in (str(n), f"-{n}"):
                page = admin_client.get(reverse(changelist), {"o": order})
                assert page.status_code == 200, (changelist, order)
                cl = page.context["cl"]
                plan = cl.queryset[: cl.list_per_page].explain()
                assert f"Seq Scan on {table}" not in plan, (changelist, columns[n], plan)
