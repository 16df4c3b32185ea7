"""The review desk's rendered page images: named by an ETag, so a browser asking again is
answered 304 without a render, and kept a while in the cache when it is Redis, so another
reviewer of the same page is answered without one.

A render costs ~0.1 s of CPU for a 1.5-MP JPEG receipt, ~0.2 s for a PDF page (its
capped child) and ~1.3 s for a 35-MP scan; a 304 or a kept copy a few milliseconds.
"""

import hashlib
import json
import logging
from collections.abc import Iterable

from django.conf import settings

from steve import redis_pause
from submissions.models import SubmissionFile
from submissions.pages import PDF_MAX_PAGES, PDF_MAX_PIXELS, PDF_SCALE, stored_transform

logger = logging.getLogger(__name__)

ROTATIONS = (0, 90, 180, 270)
# How long a browser shows its copy of an address without a version (?v=) before it asks
# again with the ETag. The desk links versioned addresses (file_version, page_version),
# whose bytes never change: those are kept a day (IMMUTABLE) and not asked again. Not a
# year: the browser's copy is a customer's document on a reviewer's disk, which the
# retention purge cannot reach; a day covers a review session and bounds what outlives it.
BROWSER_SECONDS = 300
IMMUTABLE_SECONDS = 24 * 60 * 60
IMMUTABLE = f"private, max-age={IMMUTABLE_SECONDS}, immutable"
# A render larger than this is not kept: a detailed 16-MP page can be tens of MB of PNG,
# one per rotation, in a Redis shared with the broker and the API key cache.
MAX_ITEM_BYTES = 8 * 1024 * 1024
# How long a page that could not be drawn (pages.PageNotDrawn) is answered "not drawn"
# without trying again: each try of a page that times out cost a web worker
# RENDER_SECONDS, at every view and turn of it. Not for ever: a timeout may have been a
# busy machine's. A few bytes per page, so kept without Redis too (in the process's memory).
FAILED_SECONDS = 30 * 60
# A page that timed out, for less: on a busy machine a page that draws in seconds can time
# out, and every reviewer would be shown it "not drawn" for FAILED_SECONDS.
TIMED_OUT_SECONDS = 5 * 60
# Part of every ETag: raise it when render_png draws the same page differently, so no
# browser keeps showing the old drawing (the scale and pixel budget are in it already).
DRAWING_REVISION = 1


def _drawing(file: SubmissionFile, page: int) -> list[object]:
    """What one page's drawing depends on, but the viewer's rotation: the file's bytes (a
    stored file never changes), the page, its stored transform and how it is drawn."""
    return [
        DRAWING_REVISION,
        file.pk,
        file.sha256 or file.size,
        page,
        PDF_SCALE,
        PDF_MAX_PIXELS,
        stored_transform(file.page_transforms, page),
    ]


def _digest(parts: list[object], length: int) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:length]


def page_etag(file: SubmissionFile, page: int, rotate: int) -> str:
    """A strong ETag of one page as drawn (_drawing) and turned by the viewer."""
    drawn = _drawing(file, page)
    drawn.insert(4, rotate)
    return '"' + _digest(drawn, 32) + '"'


def page_version(file: SubmissionFile, page: int) -> str:
    """The version in a page's address: changes whenever its drawing would (the rotation
    is a parameter of its own), so a day-long browser copy is never of another drawing."""
    return _digest(_drawing(file, page), 16)


def file_version(file: SubmissionFile) -> str | None:
    """The version in a file's address: of its bytes' sha256 (None: stored without one,
    so its address is unversioned and revalidated)."""
    return file.sha256[:16] if file.sha256 else None


def cache_key(file_id: int, page: int, rotate: int) -> str:
    """Named without what the ETag holds, so forget_pages can name every copy of a file."""
    return f"review:page:{file_id}:{page}:{rotate}"


def kept_page(file: SubmissionFile, page: int, rotate: int, etag: str) -> bytes | None:
    """The kept render, if it is of the page as drawn now (same ETag)."""
    kept = _cache_call("get", cache_key(file.pk, page, rotate))
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == etag:
        return kept[1]
    return None


def keep_page(file: SubmissionFile, page: int, rotate: int, etag: str, png: bytes) -> None:
    """Kept for settings.PAGE_RENDER_CACHE_SECONDS: not at all without Redis."""
    seconds = settings.PAGE_RENDER_CACHE_SECONDS
    if seconds and len(png) <= MAX_ITEM_BYTES:
        _cache_call("set", cache_key(file.pk, page, rotate), (etag, png), seconds)


def failed_key(file_id: int, page: int, rotate: int) -> str:
    return f"review:page-failed:{file_id}:{page}:{rotate}"


def failed_drawing(file: SubmissionFile, page: int, rotate: int, etag: str) -> str | None:
    """Why this page, as drawn now (same ETag: the same bytes, transform and turn), could
    not be drawn a while ago; None when that is not known (never tried, forgotten, or the
    cache unreachable: then it is tried again, as before this was kept)."""
    return _failed_reason(_cache_call("get", failed_key(file.pk, page, rotate)), etag)


def _failed_reason(kept: object, etag: str) -> str | None:
    """The reason a kept failure gives, when it is of the drawing `etag` names."""
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == etag:
        return str(kept[1])
    return None


def failed_pages(file: SubmissionFile, pages: range) -> dict[int, str]:
    """Which of these pages, unturned, could not be drawn a while ago, and why (one cache
    call)."""
    keys = {failed_key(file.pk, page, 0): page for page in pages}
    kept = _cache_call("get_many", list(keys)) if keys else None
    if not isinstance(kept, dict):
        return {}
    reasons = {
        keys[key]: _failed_reason(value, page_etag(file, keys[key], 0))
        for key, value in kept.items()
        if key in keys
    }
    return {page: reason for page, reason in reasons.items() if reason is not None}


def remember_failed(
    file: SubmissionFile, page: int, rotate: int, etag: str, reason: str, *, lasting: bool = True
) -> None:
    """``lasting`` False for a timeout (TIMED_OUT_SECONDS), else FAILED_SECONDS."""
    seconds = FAILED_SECONDS if lasting else TIMED_OUT_SECONDS
    _cache_call("set", failed_key(file.pk, page, rotate), (etag, reason[:200]), seconds)


def forget_pages(file_ids: Iterable[int]) -> None:
    """Retention: delete every kept render of these files, and what is known of their
    drawings. With Redis down they expire within PAGE_RENDER_CACHE_SECONDS (FAILED_SECONDS);
    the desk no longer serves them once the files are withdrawn."""
    keys = [
        key(file_id, page, rotate)
        for file_id in file_ids
        for page in range(PDF_MAX_PAGES)
        for rotate in ROTATIONS
        for key in (cache_key, failed_key)
    ]
    if keys:
        _cache_call("delete_many", keys)


def _cache_call(method: str, *args: object) -> object:
    """The cache only saves a render: a page image that was a 500 while Redis was down
    is rendered each time instead."""
    return redis_pause.cache_call(method, *args, log=logger, what="Page render")
