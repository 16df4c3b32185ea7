"""Every API write call refuses a body sent chunked (no Content-Length), 411, in one place.

The WSGI server hands Django such a body as empty: a write was answered as if the caller
had sent nothing ("reason is required"), or carried out without what it sent (a cancel,
a secret rotation with its `gracePeriodHours` dropped). Uploads to pre-signed local URLs
are plain Django views and answer 411 their own way (jobs.api.views).

It is one of DRF's DEFAULT_THROTTLE_CLASSES, after the rate limit: a step every APIView runs after
the key, the permissions and the rate limit (so a chunked call without a key is still a
401, past its bucket still a 429), and before the view reads a byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from steve.api.ratelimit import READ_METHODS

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView


class RefuseChunkedBody(BaseThrottle):
    """Not a throttle: it never counts and never answers 429; it refuses with 411."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method not in READ_METHODS:
            # Imported late: errors imports rest_framework.views, which imports this module.
            from steve.api.errors import refuse_chunked_body

            refuse_chunked_body(request)
        return True
