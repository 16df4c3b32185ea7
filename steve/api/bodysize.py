"""Every API write call refuses a body larger than its operation reads, 413 BODY_TOO_LARGE,
from its Content-Length, before a byte of it is read or parsed.

The request cap (DATA_UPLOAD_MAX_MEMORY_SIZE, 25 MB) is the extraction-job create's: its
base64 file. Every other operation took a JSON body up to that cap too, and a 24-MB body
of eight million `{}` cost a web worker 2-10 s of CPU and ~580 MB to parse before the
view refused it. Each operation's limit is its app's, beside its view (the largest body a
valid request can have, with room to spare):

    max_body_bytes = 10 * 1024 * 1024

A view that names none gets DEFAULT_MAX_BODY_BYTES; None leaves the body to the view,
which holds it to a limit of its own before reading it, with its own code (the
extraction-job create's depends on the company's workflows).

A body sent chunked has no Content-Length to check: every write call refuses it first,
411 (steve.api.chunked), and the WSGI server hands Django such a body as empty, so none
is ever read, however long.

Like steve.api.chunked, one of DRF's DEFAULT_THROTTLE_CLASSES: after the key, the
permissions and the rate limit (a large body without a key is still a 401, past its
bucket a 429), and before the view or an error's answer reads the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from steve.api.ratelimit import READ_METHODS

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

# What an operation's body may be unless its view says otherwise: four times the largest
# valid body of every write but two (its apps name theirs), a session create of ~50 KB
# (50 files, every text at its longest, each character escaped as \uXXXX).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def max_body_bytes(view: Any) -> int | None:
    """The most `view`'s operations read of a body, in bytes (None: the view's own check)."""
    return getattr(view, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)


def declared_length(request: Request) -> int:
    """The body's length as Django reads it (WSGIRequest): the Content-Length, 0 when none
    or not a number (Django then reads no body at all)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return 0


class RefuseLargeBody(BaseThrottle):
    """Not a throttle: it never counts and never answers 429; it refuses with 413."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in READ_METHODS:
            return True
        limit = max_body_bytes(view)
        if limit is not None and declared_length(request) > limit:
            # Imported late: errors imports rest_framework.views, which imports this module.
            from steve.api.errors import ApiProblem

            raise ApiProblem(
                413,
                f"The request body is larger than this operation reads: at most {limit:,} bytes.",
                code="BODY_TOO_LARGE",
            )
        return True
