"""The review queue and the API's list after a year of use: what a page reads grows with
what it shows, not with every submission the company ever decided."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from steve.models import Company
from submissions.models import FraudStatus, Submission, SubmissionStatus
from tests import factories
from tests.webhooks.test_beat_selection import rows_read

pytestmark = pytest.mark.postgres_only

DECIDED, OPEN = 1500, 10


def submissions(company: Company, count: int, **fields: Any) -> list[Submission]:
    version = factories.default_workflows(company)[0]
    return Submission.objects.bulk_create(
        factories.SubmissionFactory.build(
            company=company, workflow_version=version, workflow=version.workflow, **fields
        )
        for _ in range(count)
    )


def read_by(queries: list[dict[str, str]], table: str = "submissions_submission") -> dict[str, int]:
    """The rows each captured query of `table` reads, planned as at a year of data,
    where reading a whole table is never the cheaper plan (here it would be)."""
    read = {}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries:
            if table in query["sql"]:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
                [root] = cursor.fetchone()[0]
                read[query["sql"][:300]] = rows_read(root["Plan"])
    assert read
    return read


def test_the_queues_tabs_count_the_open_submissions_not_every_decided_one(ui, company):
    # The tabs counted every status, polled every 5 s by each reviewer: a GROUP BY over
    # every submission the company ever had, most of them approved long ago.
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    submissions(company, OPEN, status=SubmissionStatus.REVIEW)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE submissions_submission")
    with CaptureQueriesContext(connection) as queries:
        page = ui.get(reverse("review:queue"))
    assert page.status_code == 200
    counts = {tab["value"]: tab["count"] for tab in page.context["counts"]}
    assert counts["review"] == OPEN and counts["created"] == 0
    # The decided ones' tabs are there, uncounted.
    assert counts["approved"] is None and counts["all"] is None
    read = read_by(queries.captured_queries)
    assert {sql: n for sql, n in read.items() if n > 20 * OPEN} == {}


def test_the_apis_list_by_a_rare_fraud_status_reads_that_status_only(api, company):
    # No index had the fraud status: a page of the few blocked submissions read back
    # through every clean one, newest first, until it filled (or the table ended).
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    blocked = submissions(company, OPEN, fraud_status=FraudStatus.BLOCKED)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE submissions_submission")
    with CaptureQueriesContext(connection) as queries:
        first = api.get("/api/v1/submissions", {"fraudStatus": "blocked", "limit": 5}).json()
        cursor = first["pagination"]["nextCursor"]
        second = api.get(
            "/api/v1/submissions", {"fraudStatus": "blocked", "limit": 5, "cursor": cursor}
        ).json()
    listed = [s["id"] for s in first["data"] + second["data"]]
    assert listed == sorted((s.pk for s in blocked), reverse=True)
    listing = [q for q in queries.captured_queries if "fraud_status" in q["sql"]]
    read = read_by(listing)
    assert {sql: n for sql, n in read.items() if n > 4 * OPEN} == {}


@pytest.mark.parametrize("sort", ["age", "-age"])
def test_the_all_tab_by_age_reads_a_page_not_every_decided_submissions_events(ui, company, sort):
    # A row in review ages from its move there (an event read per row): sorting every
    # row by that had each decided submission the company ever had read its events, on
    # each poll. Only the ones in review read theirs; the others sort by creation time.
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    submissions(company, OPEN, status=SubmissionStatus.REVIEW)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE submissions_submission")
    with CaptureQueriesContext(connection) as queries:
        page = ui.get(reverse("review:queue"), {"status": "all", "sort": sort})
    assert page.status_code == 200 and len(page.context["rows"]) >= 50
    read = read_by(queries.captured_queries)
    # A window (up to 201 rows) through the joins: under 2000 rows read. Sorting every
    # decided row by its events read them all through the same nodes: over 9,000.
    assert {sql: n for sql, n in read.items() if n > 3 * DECIDED} == {}
