"""The review queue by age at a backlog: 2,000 and 20,000 submissions in review in one company.

Usage: .venv/bin/python bench/queue_age.py [--sizes 2000,20000] [--iterations 30]

The queue's Age sort, its paging and poll, the SLA count and the overview's oldest waiting
count a row's age from its move into review (submissions.selectors.in_review_since). Fills
a dedicated PostgreSQL database (DATABASE_URL, default
postgres://postgres@localhost:5432/steve_bench_queue_age; created and migrated if missing)
with submissions in review, each with the events processing leaves (created, processing
started, ready for review, a claim), made by bulk_create (kept between runs: only missing
rows are added). Their creation times spread over three days, and each went into review
some minutes to hours after it was made, so the age order is not the creation order and
some are past the SLA.

For each size, times in process (the selectors a poll of the review tab calls, as the
queue view calls them): the first page by age, the poll of a reviewer who loaded one page
and of one who loaded ten (`upto`), the SLA count, the overview's oldest waiting, and, as
the baseline, the same first page ordered by creation time. Prints p50/p95 of the wall time,
the queries each makes and their database time (the sum of EXPLAIN ANALYZE's execution
times), then the plan of the review tab's poll at the largest size.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@localhost:5432/steve_bench_queue_age")
os.environ.setdefault("REDIS_URL", "redis://localhost:6379/8")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")

# The queue view's poll, as measured here, should cost the database no more than this.
TARGET_DB_MS = 50.0
BATCH = 2000
SPREAD = timedelta(days=3)


def ensure_database() -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_company() -> Any:
    from django.core.management import call_command

    from jobs.defaults import publish_default_workflows
    from steve.services import company_get_or_create

    call_command("migrate", verbosity=0)
    company = company_get_or_create(slug="bench-queue-age")
    publish_default_workflows(company=company)
    return company


def fill(company: Any, rows: int, rng: random.Random) -> None:
    """Submissions in review up to `rows`, each with its events, in batches."""
    from django.db import connection, transaction
    from django.utils import timezone

    from steve.ids import new_id
    from submissions.models import EventType, Submission, SubmissionEvent, SubmissionStatus

    S = SubmissionStatus
    have = Submission.objects.filter(company=company, status=S.REVIEW).count()
    if have >= rows:
        print(f"{have:,} submissions in review already in place")
        return
    version = company.workflows.order_by("slug").first().versions.order_by("-version").first()
    now = timezone.now()
    started = time.monotonic()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def ms(at: Any) -> int:
        return (at - epoch) // timedelta(milliseconds=1)

    for first in range(have, rows, BATCH):
        submissions, events, made = [], [], {}
        for n in range(first, min(rows, first + BATCH)):
            created = now - SPREAD * rng.random()
            in_review = min(now, created + timedelta(minutes=rng.uniform(1, 600)))
            submission = Submission(
                id=new_id("sub", at_ms=ms(created)),
                company=company,
                workflow=version.workflow,
                workflow_version=version,
                status=S.REVIEW,
                fraud_status="clean",
                fraud_score=0.0,
                confidence=round(rng.uniform(0.5, 0.99), 2),
                extracted_data={"merchantName": "Kedai Runcit", "totalAmount": n % 997 + 0.5},
                field_confidences={"merchantName": 0.9, "totalAmount": 0.95},
                client_submission_id=f"bench-{n}",
                review_entered_at=in_review,
            )
            submissions.append(submission)
            made[submission.id] = created
            steps = [
                (created, EventType.CREATED, "", S.CREATED),
                (
                    created + timedelta(seconds=30),
                    EventType.PROCESSING_STARTED,
                    S.CREATED,
                    S.PROCESSING,
                ),
                (in_review, EventType.READY_FOR_REVIEW, S.PROCESSING, S.REVIEW),
                (in_review + timedelta(minutes=5), EventType.CLAIMED, "", ""),
            ]
            for at, type_, from_status, to_status in steps:
                events.append(
                    SubmissionEvent(
                        id=new_id("evt", at_ms=ms(at)),
                        submission=submission,
                        type=type_,
                        occurred_at=at,
                        from_status=from_status,
                        to_status=to_status,
                    )
                )
        with transaction.atomic():
            Submission.objects.bulk_create(submissions)
            # created_at is auto_now_add: bulk_create sets it to now; put it back.
            for submission in submissions:
                submission.created_at = made[submission.id]
            Submission.objects.bulk_update(submissions, ["created_at"], batch_size=BATCH)
            SubmissionEvent.objects.bulk_create(events)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE submissions_submission")
        cursor.execute("VACUUM ANALYZE submissions_submissionevent")
    print(f"added {rows - have:,} submissions in review in {time.monotonic() - started:.0f} s")


def filters(**overrides: str) -> dict[str, str]:
    from submissions.forms import QueueFilterForm

    return {**QueueFilterForm(workflows=[]).values(), **overrides}


def cases(company: Any) -> dict[str, Any]:
    from submissions.selectors import (
        age_token,
        company_submissions,
        oldest_waiting,
        queue_age_since,
        queue_sla_breaches,
        queue_submissions,
        queue_window,
    )

    review = filters()
    first_page, _ = queue_window(company=company, user=None, filters=review)
    tenth_page = first_page
    while len(tenth_page) < 500:
        more, has_more = queue_window(
            company=company,
            user=None,
            filters=review,
            after=tenth_page[-1].pk,
            at=age_token(queue_age_since(tenth_page[-1])),
        )
        tenth_page = tenth_page + more
        if not has_more:
            break
    last, deep = first_page[-1], tenth_page[-1]
    by_created = queue_submissions(company=company, user=None, filters=review)
    return {
        "review tab by age, first page": lambda: queue_window(
            company=company, user=None, filters=review
        ),
        "poll, one page loaded (upto)": lambda: queue_window(
            company=company,
            user=None,
            filters=review,
            upto=last.pk,
            at=age_token(queue_age_since(last)),
        ),
        f"poll, {len(tenth_page)} rows loaded (upto)": lambda: queue_window(
            company=company,
            user=None,
            filters=review,
            upto=deep.pk,
            at=age_token(queue_age_since(deep)),
        ),
        "SLA breaches count": lambda: queue_sla_breaches(
            company=company, user=None, filters=review
        ),
        "overview oldest waiting": lambda: oldest_waiting(
            company_submissions(company, review["environment"])
        ),
        "baseline: first page by created_at": lambda: list(
            by_created.order_by("created_at", "id")[:51]
        ),
    }


def database_ms(run: Any) -> tuple[int, float]:
    """The queries `run` makes and the sum of their EXPLAIN ANALYZE execution times."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run()
    total = 0.0
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
            total += cursor.fetchone()[0][0]["Execution Time"]
    return len(captured.captured_queries), total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(company: Any, size: int, iterations: int) -> None:
    runs = cases(company)
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(iterations + 3):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            if round_ >= 3:  # the first rounds warm caches and connections
                timings[name].append((time.perf_counter() - started) * 1000)
    print(f"\n{size:,} in review")
    print(f"{'case':36} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'db ms':>8}")
    database: dict[str, float] = {}
    for name, run in runs.items():
        queries, database[name] = database_ms(run)
        values = timings[name]
        print(
            f"{name:36} {statistics.median(values):8.2f} {percentile(values, 0.95):8.2f} "
            f"{queries:8d} {database[name]:8.2f}"
        )
    poll = next(name for name in runs if name.startswith("poll, one page"))
    verdict = "meets" if database[poll] < TARGET_DB_MS else "misses"
    print(f"{poll}: {database[poll]:.1f} ms of database time ({verdict} < {TARGET_DB_MS:.0f} ms)")


def explain_poll(company: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from submissions.selectors import queue_window

    with CaptureQueriesContext(connection) as captured:
        queue_window(company=company, user=None, filters=filters())
    print("\nplan of the review tab's first page:")
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--iterations", type=int, default=30)
    opts = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    company = setup_company()
    rng = random.Random(15)
    for size in sorted(int(s) for s in opts.sizes.split(",")):
        fill(company, size, rng)
        measure(company, size, opts.iterations)
    explain_poll(company)


if __name__ == "__main__":
    main()
