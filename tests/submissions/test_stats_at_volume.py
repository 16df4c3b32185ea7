"""The overview (review:stats) after a year of use: what it reads grows with its 30 days,
not with every submission and event the company ever had."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from steve.models import Company, Membership
from submissions.models import EventType, Submission, SubmissionEvent, SubmissionStatus
from tests import factories
from tests.webhooks.test_beat_selection import rows_read

pytestmark = pytest.mark.postgres_only


def decided(company: Company, reviewer: Any, count: int, days_ago: int) -> None:
    """`count` approved submissions made `days_ago` days ago, each with the events of a
    processing that sent it to review, a claim and an approval."""
    version = factories.default_workflows(company)[0]
    submissions = Submission.objects.bulk_create(
        factories.SubmissionFactory.build(
            company=company,
            workflow_version=version,
            workflow=version.workflow,
            status=SubmissionStatus.APPROVED,
        )
        for _ in range(count)
    )
    actor = {"actor_type": SubmissionEvent.ActorType.USER, "actor_id": str(reviewer.pk)}
    SubmissionEvent.objects.bulk_create(
        event
        for submission in submissions
        for event in (
            SubmissionEvent(
                submission=submission,
                type=EventType.READY_FOR_REVIEW,
                from_status=SubmissionStatus.PROCESSING,
                to_status=SubmissionStatus.REVIEW,
            ),
            SubmissionEvent(submission=submission, type=EventType.CLAIMED, **actor),
            SubmissionEvent(submission=submission, type=EventType.APPROVED, **actor),
        )
    )
    then = timezone.now() - timedelta(days=days_ago)
    ids = [submission.pk for submission in submissions]
    Submission.objects.filter(pk__in=ids).update(created_at=then)
    SubmissionEvent.objects.filter(submission_id__in=ids).update(occurred_at=then)


def test_the_overview_reads_its_30_days_not_the_companys_whole_history(
    ui, reviewer, company, analyse
):
    # The decisions per day were filtered on each event's date (not the indexed time), and
    # the rates' submissions by creation time (not indexed): every event and every
    # submission of a year of use was read on each visit.
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    old, recent = 1000, 10
    decided(company, reviewer, old, days_ago=200)
    decided(company, reviewer, recent, days_ago=2)
    analyse("submissions_submission")
    analyse("submissions_submissionevent")
    with CaptureQueriesContext(connection) as queries:
        page = ui.get(reverse("review:stats"))
    assert page.status_code == 200
    assert page.context["rates"]["processed"] == recent
    assert sum(day["approved"] for day in page.context["decisions"]) == recent
    read = {}
    with connection.cursor() as cursor:
        # Planned as at a year of data, where reading a whole table is never the cheaper
        # plan (here, a few thousand rows, it would be).
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries:
            if "submissions_submission" in query["sql"]:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
                [root] = cursor.fetchone()[0]
                read[query["sql"][:240]] = rows_read(root["Plan"])
    assert read
    assert {sql: n for sql, n in read.items() if n > 20 * recent} == {}


def waiting(company: Company, count: int, later_events: int) -> None:
    """`count` submissions in review, made two days ago and sent to review a day later,
    each with `later_events` comments since."""
    version = factories.default_workflows(company)[0]
    submissions = Submission.objects.bulk_create(
        factories.SubmissionFactory.build(
            company=company, workflow_version=version, workflow=version.workflow
        )
        for _ in range(count)
    )
    into_review = {"from_status": SubmissionStatus.PROCESSING, "to_status": SubmissionStatus.REVIEW}
    SubmissionEvent.objects.bulk_create(
        event
        for submission in submissions
        for event in (
            SubmissionEvent(submission=submission, type=EventType.READY_FOR_REVIEW, **into_review),
            *(
                SubmissionEvent(submission=submission, type=EventType.COMMENT)
                for _ in range(later_events)
            ),
        )
    )
    ids = [submission.pk for submission in submissions]
    Submission.objects.filter(pk__in=ids).update(
        created_at=timezone.now() - timedelta(days=2),
        # Kept on the row by the move into review, as its event's time.
        review_entered_at=timezone.now() - timedelta(days=1),
    )
    SubmissionEvent.objects.filter(submission_id__in=ids).update(
        occurred_at=timezone.now() - timedelta(days=1)
    )


def test_time_in_review_is_read_per_waiting_submission_not_from_all_events(
    ui, reviewer, company, settings, analyse
):
    # Waiting and the SLA count from each submission's move into review, kept on its row
    # (review_entered_at) with its event: what the overview and the queue read of the
    # events is never every event the company had.
    settings.REVIEW_SLA = timedelta(hours=20)
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    queue = 40
    decided(company, reviewer, 1000, days_ago=200)
    waiting(company, queue, later_events=5)
    analyse("submissions_submission")
    analyse("submissions_submissionevent")
    with CaptureQueriesContext(connection) as queries:
        overview = ui.get(reverse("review:stats"))
        page = ui.get(reverse("review:queue"))
    assert overview.context["oldest_age"] >= timedelta(days=1)
    assert overview.context["oldest_age"] < timedelta(days=2)
    assert page.context["breaches"] == queue
    timed = [q["sql"] for q in queries if "submissions_submissionevent" in q["sql"]]
    read = {}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in timed:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            [root] = cursor.fetchone()[0]
            read[sql[:240]] = rows_read(root["Plan"])
    assert read
    # Each waiting submission's few events, not the 3000 of the decided ones.
    assert {sql: n for sql, n in read.items() if n > 20 * queue} == {}
