"""Keyset listing at depth: GET /api/v1/submissions with 1,000,000 submissions in one company.

Usage: .venv/bin/python bench/listing.py [--rows 1000000] [--iterations 200]

Fills a dedicated PostgreSQL database (DATABASE_URL, default
postgres://postgres@localhost:5432/steve_bench_listing; created and migrated if missing)
with `--rows` submissions of one company by INSERT … SELECT over generate_series, copying
a template row made by the real services (kept between runs: only missing rows are
added). Then times the whole API request in-process (Django test client: auth, rate
limit, query, serialisation) for the first page and for the page at depth 500,000
(cursor of the row at that depth), and the same for `status=review` (a quarter of the
rows) at half its depth, interleaved. Prints p50/p95/max and the deep/first p95 ratio
against the targets (deep <= 1.5x first, p95 < 50 ms), then the deep page's plan.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@localhost:5432/steve_bench_listing")
os.environ.setdefault("REDIS_URL", "redis://localhost:6379/8")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")

TARGET_RATIO = 1.5
TARGET_P95_MS = 50.0
STATUS_SQL = (
    "CASE mod(g, 4) WHEN 0 THEN 'review' WHEN 1 THEN 'approved' "
    "WHEN 2 THEN 'rejected' ELSE 'processing' END"
)


def ensure_database() -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_company():
    """The bench company, its workflows and an API key (a new key each run)."""
    from django.core.management import call_command

    from jobs.defaults import publish_default_workflows
    from steve.services import api_key_create, company_get_or_create

    call_command("migrate", verbosity=0)
    company = company_get_or_create(slug="bench-listing")
    company.rate_limits = {"read": 10**9}
    company.save(update_fields=["rate_limits"])
    version = publish_default_workflows(company=company)[0]
    return company, version, api_key_create(company=company, name=f"bench {time.time():.0f}")


def template_submission(company, version, api_key) -> str:
    """One submission made by the real session service, to copy every column from."""
    from jobs.services import SessionRequest, session_create
    from submissions.models import Submission

    existing = Submission.objects.filter(company=company, client_submission_id="template")
    if existing.exists():
        return existing.get().pk
    session, _ = session_create(
        api_key=api_key,
        version=version,
        request=SessionRequest(
            file_count=1,
            content_types=["image/jpeg"],
            client_submission_id="template",
            metadata={"orderId": "12345"},
            external_user=None,
            webhook_url="",
        ),
    )
    Submission.objects.filter(pk=session.submission_id).update(
        status="review",
        fraud_status="clean",
        fraud_score=0.0,
        confidence=0.93,
        extracted_data={"merchantName": "Biedronka", "totalAmount": 123.45, "currency": "PLN"},
    )
    return session.submission_id


def fill(company, template_id: str, rows: int) -> None:
    from django.db import connection

    from submissions.models import Submission

    have = Submission.objects.filter(company=company).count()
    if have >= rows:
        print(f"{have:,} submissions already in place")
        return
    table = Submission._meta.db_table
    columns = [f.column for f in Submission._meta.concrete_fields]
    overrides = {
        "id": "'sub_0' || lpad(g::text, 25, '0')",
        "client_submission_id": "'bench-' || g",
        "status": STATUS_SQL,
        "created_at": f"now() - make_interval(secs => {rows} - g)",
        "updated_at": "now()",
    }
    select = ", ".join(overrides.get(c, f't."{c}"') for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({names}) '
            f'SELECT {select} FROM "{table}" t, generate_series(%s, %s) g WHERE t.id = %s',
            [have, rows - 1, template_id],
        )
        cursor.execute(f'VACUUM ANALYZE "{table}"')
    print(f"inserted {rows - have:,} submissions in {time.monotonic() - started:.0f} s")


# The bench's key is a production one; a cursor is signed for its company and environment.
ENVIRONMENT = "production"


def cursor_scope(company) -> str:
    return f"submissions:{company.pk}:{ENVIRONMENT}"


def cursor_at(company, depth: int, **filters: str) -> str:
    from steve.api.pagination import encode_cursor
    from submissions.models import Submission

    queryset = Submission.objects.filter(company=company, **filters).order_by("-id")
    after = queryset.values_list("id", flat=True)[depth - 1]
    return encode_cursor(cursor_scope(company), after)


def time_requests(cases: dict[str, str], secret: str, iterations: int) -> dict[str, list[float]]:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(iterations + 10):
        for name, url in cases.items():
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (url, response.status_code)
            assert len(response.json()["data"]) == 20, url
            if round_ >= 10:  # the first rounds warm caches and connections
                timings[name].append(elapsed)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(timings: dict[str, list[float]], pairs: list[tuple[str, str]]) -> None:
    print(f"\n{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in timings.items():
        print(
            f"{name:34} {statistics.median(values):8.2f} {percentile(values, 0.95):8.2f} "
            f"{max(values):8.2f}"
        )
    print()
    for first, deep in pairs:
        ratio = percentile(timings[deep], 0.95) / percentile(timings[first], 0.95)
        p95 = percentile(timings[deep], 0.95)
        ok = ratio <= TARGET_RATIO and p95 < TARGET_P95_MS
        print(
            f"{deep}: p95 {ratio:.2f}x the first page's, {p95:.1f} ms "
            f"({'meets' if ok else 'misses'} <= {TARGET_RATIO}x and < {TARGET_P95_MS:.0f} ms)"
        )


def explain_deep(company, cursor: str) -> None:
    from steve.api.pagination import decode_cursor
    from submissions.selectors import company_submissions

    after = decode_cursor(cursor_scope(company), cursor)
    queryset = company_submissions(company, ENVIRONMENT).filter(id__lt=after).order_by("-id")[:21]
    print("\nplan of the deep page's query:")
    print(queryset.explain(analyze=True, buffers=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=200)
    opts = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    company, version, key = setup_company()
    fill(company, template_submission(company, version, key.api_key), opts.rows)
    depth = opts.rows // 2
    deep = cursor_at(company, depth)
    deep_review = cursor_at(company, depth // 4, status="review")
    cases = {
        "first page": "/api/v1/submissions?limit=20",
        f"page at depth {depth:,}": f"/api/v1/submissions?limit=20&cursor={deep}",
        "status=review, first page": "/api/v1/submissions?limit=20&status=review",
        f"status=review, depth {depth // 4:,}": (
            f"/api/v1/submissions?limit=20&status=review&cursor={deep_review}"
        ),
    }
    timings = time_requests(cases, key.secret, opts.iterations)
    names = list(cases)
    report(timings, [(names[0], names[1]), (names[2], names[3])])
    explain_deep(company, deep)


if __name__ == "__main__":
    main()
