"""Per-process visual index: PostgreSQL is the source of truth, numpy does the search.

Each worker process keeps one HammingIndex per (company, environment, variant) and, before every query,
loads the rows with an id above the last one it has seen. Callers hold the company's
advisory lock (fraud.services), so no other transaction of that company is between
allocating an id and committing it: every row with a smaller id is already visible, and
"id > last seen" never skips one. A new hash is therefore found by the very next query in
any process, and a company's index never holds another company's rows, nor a sandbox
index production rows (or the other way round).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fraud.index import HammingIndex, hashes_to_words
from fraud.models import PageFingerprint

_LOAD_CHUNK = 50_000


@dataclass
class _Entry:
    index: HammingIndex = field(default_factory=HammingIndex)
    last_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_entries: dict[tuple[str, str, str], _Entry] = {}
_entries_lock = threading.Lock()


def _entry(company_id: str, environment: str, variant: str) -> _Entry:
    with _entries_lock:
        return _entries.setdefault((company_id, environment, variant), _Entry())


def _catch_up(entry: _Entry, company_id: str, environment: str, variant: str) -> None:
    while True:
        rows = list(
            PageFingerprint.objects.filter(
                company_id=company_id,
                environment=environment,
                variant=variant,
                id__gt=entry.last_id,
            )
            .order_by("id")
            .values_list("id", "pdq")[:_LOAD_CHUNK]
        )
        if not rows:
            return
        entry.index.add([r[0] for r in rows], hashes_to_words([bytes(r[1]) for r in rows]))
        entry.last_id = rows[-1][0]
        if len(rows) < _LOAD_CHUNK:
            return


def search(
    company_id: str, environment: str, variant: str, digest: bytes, max_distance: int
) -> list[tuple[int, int]]:
    """(fingerprint id, distance) of the stored pages of the company's environment within
    max_distance."""
    entry = _entry(company_id, environment, variant)
    with entry.lock:
        _catch_up(entry, company_id, environment, variant)
        return entry.index.search(digest, max_distance)


def memory_bytes() -> int:
    with _entries_lock:
        return sum(e.index.memory_bytes for e in _entries.values())


def reset() -> None:
    """Forget every cached index (tests; a process that must re-read from scratch)."""
    with _entries_lock:
        _entries.clear()
