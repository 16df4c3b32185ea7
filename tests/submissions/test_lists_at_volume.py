"""The review queue and the API's list after a year of use: what a page reads grows with
what it shows, not with every submission the company ever decided."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from steve.models import Company, Membership
from submissions.models import EventType, FraudStatus, Submission, SubmissionEvent, SubmissionStatus
from submissions.selectors import QUEUE_PAGE
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


def test_the_queues_tabs_count_the_open_submissions_not_every_decided_one(ui, company, analyse):
    # The tabs counted every status, polled every 5 s by each reviewer: a GROUP BY over
    # every submission the company ever had, most of them approved long ago.
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    submissions(company, OPEN, status=SubmissionStatus.REVIEW)
    analyse("submissions_submission")
    with CaptureQueriesContext(connection) as queries:
        page = ui.get(reverse("review:queue"))
    assert page.status_code == 200
    counts = {tab["value"]: tab["count"] for tab in page.context["counts"]}
    assert counts["review"] == OPEN and counts["created"] == 0
    # The decided ones' tabs are there, uncounted.
    assert counts["approved"] is None and counts["all"] is None
    read = read_by(queries.captured_queries)
    assert {sql: n for sql, n in read.items() if n > 20 * OPEN} == {}


def test_the_apis_list_by_a_rare_fraud_status_reads_that_status_only(api, company, analyse):
    # No index had the fraud status: a page of the few blocked submissions read back
    # through every clean one, newest first, until it filled (or the table ended).
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    blocked = submissions(company, OPEN, fraud_status=FraudStatus.BLOCKED)
    analyse("submissions_submission")
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
def test_the_all_tab_by_age_reads_a_page_not_every_decided_submissions_events(
    ui, company, sort, analyse
):
    # A row in review ages from its move there (an event read per row): sorting every
    # row by that had each decided submission the company ever had read its events, on
    # each poll. Only the ones in review read theirs; the others sort by creation time.
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    submissions(company, OPEN, status=SubmissionStatus.REVIEW)
    analyse("submissions_submission")
    with CaptureQueriesContext(connection) as queries:
        page = ui.get(reverse("review:queue"), {"status": "all", "sort": sort})
    assert page.status_code == 200 and len(page.context["rows"]) >= 50
    read = read_by(queries.captured_queries)
    # A window (up to 201 rows) through the joins: under 2000 rows read. Sorting every
    # decided row by its events read them all through the same nodes: over 9,000.
    assert {sql: n for sql, n in read.items() if n > 3 * DECIDED} == {}


BACKLOG = 1500
_MINUTE = timedelta(minutes=1)


def in_review(company: Company, count: int, analyse: Callable[[str], None]) -> dict[str, datetime]:
    """`count` submissions in review, each with the events processing leaves (its move
    into review among them, its time on the row), made in bulk: when each moved into review, by id. Half of
    them are past the SLA; each was made 5 minutes before its move, so none is past it
    by its creation time alone where its move is not."""
    now = timezone.now()
    waiting = submissions(company, count, status=SubmissionStatus.REVIEW)
    entered, events = {}, []
    for n, submission in enumerate(waiting):
        at = entered[submission.pk] = now - timedelta(hours=30 if n % 2 else 1, minutes=n % 97)
        submission.created_at = at - 5 * _MINUTE
        submission.review_entered_at = at  # as the move (or the migration's backfill) sets it
        for kind, to_status, when in (
            (EventType.PROCESSING_STARTED, SubmissionStatus.PROCESSING, at - _MINUTE),
            (EventType.READY_FOR_REVIEW, SubmissionStatus.REVIEW, at),
            (EventType.CLAIMED, "", at + _MINUTE),
        ):
            events.append(
                SubmissionEvent(
                    submission=submission, type=kind, to_status=to_status, occurred_at=when
                )
            )
    Submission.objects.bulk_update(waiting, ["created_at", "review_entered_at"])
    SubmissionEvent.objects.bulk_create(events)
    analyse("submissions_submission")
    analyse("submissions_submissionevent")
    return entered


def by_age(queries: list[dict[str, str]]) -> list[dict[str, str]]:
    """The captured queries that order or count the submissions in review by their age."""
    return [q for q in queries if "COALESCE" in q["sql"] and "submissions_submission" in q["sql"]]


def test_the_review_tabs_poll_by_age_reads_a_page_not_every_waiting_submissions_events(
    ui, company, analyse
):
    # A row's age counts from its move into review: read from its events by a subquery
    # per row, each 5-s poll of each reviewer sorted every submission in review by it,
    # and counted the SLA's breaches through the events of each older one (at 20,000
    # waiting, over half a second of database time a poll: bench/queue_age.py).
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    entered = in_review(company, BACKLOG, analyse)
    first = ui.get(reverse("review:queue")).context["rows"]
    oldest_first = sorted(entered, key=lambda pk: (entered[pk], pk))
    assert [row.pk for row in first] == oldest_first[: len(first)]
    last = first[-1]
    with CaptureQueriesContext(connection) as queries:
        poll = ui.get(reverse("review:queue"), {"upto": last.pk, "at": last.age_at})
    assert [row.pk for row in poll.context["rows"]] == [row.pk for row in first]
    assert poll.context["breaches"] == BACKLOG // 2
    aged = by_age(queries.captured_queries)
    assert len(aged) >= 3  # the window, the rows up to the last one loaded, the SLA's count
    # The page and the rows up to its last (their index entries and rows), each breach
    # of the SLA (its entry and its row). Sorting every waiting row by its events read
    # each one's several, over 10,000 rows; counting through every submission of the
    # company, 3,000.
    breaches = poll.context["breaches"]
    bound = 2 * breaches + 4 * (QUEUE_PAGE + 1)
    read = read_by(aged)
    assert {sql: n for sql, n in read.items() if n > bound} == {}
    assert not [q["sql"] for q in aged if "submissions_submissionevent" in q["sql"]]


def test_the_overviews_oldest_waiting_reads_one_row_not_every_waiting_submissions_events(
    ui, reviewer, company, analyse
):
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    submissions(company, DECIDED, status=SubmissionStatus.APPROVED)
    entered = in_review(company, BACKLOG, analyse)
    with CaptureQueriesContext(connection) as queries:
        page = ui.get(reverse("review:stats"))
    assert page.context["oldest"].pk == min(entered, key=lambda pk: (entered[pk], pk))
    read = read_by(by_age(queries.captured_queries))
    assert {sql: n for sql, n in read.items() if n > 10} == {}
