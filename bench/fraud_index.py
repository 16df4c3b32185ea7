"""Visual index speed and exactness at 10k / 100k / 1M hashes of one company, on one core.

    .venv/bin/python bench/fraud_index.py [--sizes 10000,100000,1000000] [--queries 300]
        [--db 1000000 [--views 6]]

Random 256-bit hashes plus, for every query, planted neighbours at known distances (0 to
the radius and just beyond it); a query must return exactly the planted ones within the
radius (random hashes are ~128 bits away, never within it). Also: time to add one hash and
the index's memory. Pin to one core with `taskset -c 0` to be strict about "one core".

A page has up to six views (fraud.hashing.VIEWS), each searched in its own index of the
company's hashes of that view; "page p99" sums six consecutive queries, i.e. the visual
search of one page when every view index holds the table's number of hashes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fraud.hashing import VIEWS as PAGE_VIEWS  # noqa: E402
from fraud.index import HammingIndex, hash_to_words, hashes_to_words  # noqa: E402

RADIUS = 48  # the default policy's visual_max_distance
VIEWS = len(PAGE_VIEWS)  # one index search per view of a page


def flip(digest: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    unpacked = np.unpackbits(digest)
    unpacked[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked)


def run(size: int, queries: int, rng: np.random.Generator) -> dict[str, float]:
    stored = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    query_rows = rng.integers(0, 256, size=(queries, 32), dtype=np.uint8)
    planted: dict[int, dict[int, int]] = {}
    distances = [0, 1, RADIUS // 2, RADIUS, RADIUS + 1, RADIUS + 8]
    slots = rng.choice(size, size=(queries, len(distances)), replace=False)
    for q in range(queries):
        planted[q] = {}
        for slot, bits in zip(slots[q], distances, strict=True):
            stored[slot] = flip(query_rows[q], bits, rng)
            planted[q][int(slot)] = bits
    index = HammingIndex()
    started = time.perf_counter()
    index.add(np.arange(size), stored.view(">u8").astype(np.uint64).reshape(-1, 4))
    bulk_s = time.perf_counter() - started

    latencies, exact = [], 0
    for q in range(queries):
        digest = query_rows[q].tobytes()
        t0 = time.perf_counter()
        hits = index.search(digest, RADIUS)
        latencies.append(time.perf_counter() - t0)
        expected = {k: v for k, v in planted[q].items() if v <= RADIUS}
        exact += dict(hits) == expected
    add_times = []
    for _ in range(200):
        one = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
        t0 = time.perf_counter()
        index.add([index.size], hash_to_words(one)[None, :])
        add_times.append(time.perf_counter() - t0)
    # New hashes are visible to the very next query.
    newest = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    index.add([10**12], hashes_to_words([newest]))
    visible = index.search(newest, 0) == [(10**12, 0)]
    lat = np.array(latencies) * 1000
    return {
        "size": size,
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "page_p99": float(
            np.percentile(lat[: len(lat) // VIEWS * VIEWS].reshape(-1, VIEWS).sum(axis=1), 99)
        ),
        "max": float(lat.max()),
        "exact": exact / queries,
        "add_us": float(np.median(add_times) * 1e6),
        "bulk_s": bulk_s,
        "memory_mb": index.memory_bytes / 2**20,
        "visible": visible,
    }


def run_db(size: int, queries: int, rng: np.random.Generator, views: int = 1) -> None:
    """The same through PostgreSQL: rows in fraud_pagefingerprint, fraud.visual on top.

    `size` pages in `views` views (up to six, as fraud.hashing.VIEWS stores); the cold load
    is what a worker pays for the company's first page after a start or an eviction under
    FRAUD_INDEX_MEMORY_MB: every view index loaded from PostgreSQL.
    Needs DATABASE_URL of a migrated database; creates one throw-away company and deletes it.
    """
    import os
    import uuid

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")
    django.setup()
    from django.db import connection, transaction

    from fraud import visual
    from fraud.models import PageFingerprint
    from tests.factories import CompanyFactory, SubmissionFactory

    company = CompanyFactory(slug=f"bench-{uuid.uuid4().hex[:8]}")
    submission = SubmissionFactory(company=company)
    stored = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY fraud_pagefingerprint (company_id, submission_id, file_id, page, variant, pdq,"
            " quality, created_at) FROM STDIN"
        ) as copy,
    ):
        for n, row in enumerate(stored):
            copy.write_row(
                (company.pk, submission.pk, "f", n, "v2-print", row.tobytes(), 100, "now()")
            )
    # The other views: the same hashes under the other variants, copied by the server.
    variants = ["v2-print", *[v for v in PageFingerprint.Variant.values if v != "v2-print"]]
    variants = [v for v in variants if v.startswith("v2-")][:views]
    with connection.cursor() as cursor:
        for variant in variants[1:]:
            cursor.execute(
                "INSERT INTO fraud_pagefingerprint (company_id, submission_id, file_id, page,"
                " variant, pdq, quality, created_at) SELECT company_id, submission_id, file_id,"
                " page, %s, pdq, quality, created_at FROM fraud_pagefingerprint"
                " WHERE company_id = %s AND variant = 'v2-print'",
                [variant, company.pk],
            )
    insert_s = time.perf_counter() - started
    try:
        visual.reset()
        started = time.perf_counter()
        for variant in variants:
            visual.search(company.pk, "production", variant, stored[0].tobytes(), RADIUS)
        cold_s = time.perf_counter() - started
        company_mb = visual.memory_bytes() / 2**20
        latencies, exact = [], 0
        for _ in range(queries):
            target = stored[rng.integers(size)]
            probe = flip(target, int(rng.integers(0, RADIUS + 1)), rng).tobytes()
            t0 = time.perf_counter()
            hits = visual.search(company.pk, "production", "v2-print", probe, RADIUS)
            latencies.append(time.perf_counter() - t0)
            exact += any(d <= RADIUS for _, d in hits)
        fresh = flip(stored[1], 3, rng).tobytes()
        with transaction.atomic():
            row = PageFingerprint.objects.create(
                company=company, submission=submission, file_id="g", page=0,
                variant="v2-print", pdq=fresh,
            )  # fmt: skip
        t0 = time.perf_counter()
        seen = (row.pk, 0) in visual.search(company.pk, "production", "v2-print", fresh, 0)
        fresh_ms = (time.perf_counter() - t0) * 1000
        lat = np.array(latencies) * 1000
        print(
            f"\nPostgreSQL-backed (fraud.visual: catch-up by id + search), {size:,} pages"
            f" x {len(variants)} view(s):"
        )
        print(
            "| pages | views | rows in | cold load (all views) | index memory | p50 ms | p99 ms"
            " | planted found | new row seen by next query |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {size:,} | {len(variants)} | {insert_s:.1f} s | {cold_s:.1f} s "
            f"| {company_mb:.1f} MiB | {np.percentile(lat, 50):.2f} "
            f"| {np.percentile(lat, 99):.2f} | {exact / queries:.0%} | {seen} ({fresh_ms:.2f} ms) |"
        )
    finally:
        from steve.models import Workflow

        PageFingerprint.objects.filter(company=company)._raw_delete(connection.alias)
        submission.delete()
        Workflow.objects.filter(company=company).delete()
        company.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--db", type=int, default=0, help="also N pages through PostgreSQL")
    parser.add_argument("--views", type=int, default=6, help="views per page with --db (1-6)")
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    print(f"radius {RADIUS} bits of 256; planted neighbours at 0, 1, {RADIUS // 2}, {RADIUS}")
    print(f"(inside) and {RADIUS + 1}, {RADIUS + 8} (outside) for every query")
    print(
        f"| hashes | p50 ms | p99 ms | max ms | page p99 ({VIEWS} views) | exact results | add one hash"
        " | bulk load | memory |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = run(size, args.queries, rng)
        print(
            f"| {r['size']:,} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f} "
            f"| {r['page_p99']:.2f} "
            f"| {r['exact']:.0%} | {r['add_us']:.1f} µs | {r['bulk_s']:.2f} s "
            f"| {r['memory_mb']:.1f} MiB | "
        )
        assert r["visible"], "a new hash must be found by the next query"
    if args.db:
        run_db(args.db, args.queries, rng, views=args.views)


if __name__ == "__main__":
    main()
