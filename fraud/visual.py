"""Per-process visual index: PostgreSQL is the source of truth, numpy does the search.

Each worker process keeps one HammingIndex per (company, environment, variant) and, before every query,
loads the rows with an id above the last one it has seen. Callers hold the company's
advisory lock (fraud.services), so no other transaction of that company is between
allocating an id and committing it: every row with a smaller id is already visible, and
"id > last seen" never skips one. A new hash is therefore found by the very next query in
any process, and a company's index never holds another company's rows, nor a sandbox
index production rows (or the other way round).

Memory is bounded per process by FRAUD_INDEX_MEMORY_MB: after a search, the indexes used
least recently (other companies') are dropped until the rest fit; a dropped index is
loaded again from PostgreSQL the next time its company is searched (bench/fraud_index.py
--db gives the cold-load time of a large company).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from contextlib import ExitStack
from dataclasses import dataclass, field

from django.conf import settings

from fraud.index import HammingIndex, hashes_to_words
from fraud.models import PageFingerprint

logger = logging.getLogger(__name__)

_LOAD_CHUNK = 50_000
MIB = 2**20


@dataclass
class _Entry:
    index: HammingIndex = field(default_factory=HammingIndex)
    last_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


# Least recently searched first.
_entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
_entries_lock = threading.Lock()


def _entry(company_id: str, environment: str, variant: str) -> _Entry:
    key = (company_id, environment, variant)
    with _entries_lock:
        entry = _entries.get(key)
        if entry is None:
            entry = _entries[key] = _Entry()
        _entries.move_to_end(key)
        return entry


def _evict(*, keep_company: str) -> list[tuple[str, str, str]]:
    """Drop least-recently-used indexes of other companies until within the budget.

    The company being searched is kept even when it alone is over the budget: its next
    page would only load it again.
    """
    budget = settings.FRAUD_INDEX_MEMORY_MB * MIB
    evicted: list[tuple[str, str, str]] = []
    with _entries_lock:
        total = sum(e.index.memory_bytes for e in _entries.values())
        for key in list(_entries):
            if total <= budget:
                break
            if key[0] != keep_company:
                total -= _entries.pop(key).index.memory_bytes
                evicted.append(key)
    if evicted:
        logger.info(
            "Fraud index: evicted %d index(es) to stay within %d MiB; %.1f MiB kept",
            len(evicted),
            settings.FRAUD_INDEX_MEMORY_MB,
            total / MIB,
        )
    return evicted


def _catch_up(entries: dict[str, _Entry], company_id: str, environment: str) -> None:
    """Load the rows of every variant in `entries` above what each has seen: one query for
    all of a page's views, not one per view."""
    while True:
        since = min(entry.last_id for entry in entries.values())
        rows = list(
            PageFingerprint.objects.filter(
                company_id=company_id,
                environment=environment,
                variant__in=list(entries),
                id__gt=since,
            )
            .order_by("id")
            .values_list("id", "variant", "pdq")[:_LOAD_CHUNK]
        )
        by_variant: dict[str, list[tuple[int, bytes]]] = {}
        for row_id, variant, pdq in rows:
            if row_id > entries[variant].last_id:
                by_variant.setdefault(variant, []).append((row_id, bytes(pdq)))
        for variant, new in by_variant.items():
            entry = entries[variant]
            entry.index.add([r[0] for r in new], hashes_to_words([r[1] for r in new]))
            entry.last_id = new[-1][0]
        if len(rows) < _LOAD_CHUNK:
            return
        for entry in entries.values():  # a full chunk: every variant has seen up to its end
            entry.last_id = max(entry.last_id, rows[-1][0])


def search(
    company_id: str, environment: str, variant: str, digest: bytes, max_distance: int
) -> list[tuple[int, int]]:
    """(fingerprint id, distance) of the stored pages of the company's environment within
    max_distance."""
    return search_views(company_id, environment, {variant: digest}, max_distance)[variant]


def search_views(
    company_id: str, environment: str, digests: dict[str, bytes], max_distance: int
) -> dict[str, list[tuple[int, int]]]:
    """search() for several variants (a page's views) at once, caught up in one query."""
    queries = {variant: [digest] for variant, digest in digests.items()}
    found = search_many(company_id, environment, queries, max_distance)
    return {variant: hits[0] for variant, hits in found.items()}


def search_many(
    company_id: str, environment: str, queries: dict[str, list[bytes]], max_distance: int
) -> dict[str, list[list[tuple[int, int]]]]:
    """search_views() for several hashes per variant (a page's views, and the same views
    mirrored), caught up in one query: per variant, the hits of each of its hashes."""
    entries = {variant: _entry(company_id, environment, variant) for variant in sorted(queries)}
    with ExitStack() as stack:
        for entry in entries.values():  # sorted by variant: every process locks in one order
            stack.enter_context(entry.lock)
        _catch_up(entries, company_id, environment)
        hits = {
            v: [entries[v].index.search(digest, max_distance) for digest in queries[v]]
            for v in entries
        }
    _evict(keep_company=company_id)
    return hits


def cached_companies() -> set[str]:
    """Companies with at least one index in this process's memory."""
    with _entries_lock:
        return {company_id for company_id, _, _ in _entries}


def memory_bytes() -> int:
    with _entries_lock:
        return sum(e.index.memory_bytes for e in _entries.values())


def reset() -> None:
    """Forget every cached index (tests; a process that must re-read from scratch)."""
    with _entries_lock:
        _entries.clear()
