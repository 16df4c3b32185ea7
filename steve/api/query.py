"""Every /api/v1/ operation refuses a query parameter it does not take (400
INVALID_PARAMETER, docs/api.md "Query parameters"), never ignores it.

A listing given `?since=…` answered 200 with every row, so a client guessing a filter
believed it was filtering; `?expectedVersion=3` on a review action was carried out
without the guard its caller meant. Each view says which parameters it reads, beside itself (its
app owns that contract):

    accepted_query_params = {"get": ("status", "cursor", "limit")}

keyed by method (HEAD reads GET's); a method it does not name takes none. The schema
documents exactly those (tests/steve/test_query_parameters.py).

An operation that takes none is refused here: like steve.api.chunked, one of DRF's
DEFAULT_THROTTLE_CLASSES, so after the key and the rate limit (a call without a key is
still a 401, past its bucket a 429) and before the view reads anything (an unknown id's
404 included). One that takes some (a listing) refuses an unknown one itself, beside its
own parameters' refusals in one answer (steve.api.pagination.page_param_problems), as
every refused query names every member (docs/api.md "Validation errors").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from steve.middleware import API_PREFIX

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView


def accepted_params(view: Any, method: str) -> tuple[str, ...]:
    """The query parameters `view` takes for `method` (its accepted_query_params)."""
    contract: Mapping[str, tuple[str, ...]] = getattr(view, "accepted_query_params", {})
    method = method.lower()
    return tuple(contract.get("get" if method == "head" else method, ()))


class RefuseUnknownQueryParams(BaseThrottle):
    """Not a throttle: it never counts and never answers 429; it refuses with 400."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        # Only the API's operations: the docs page (/api/docs) reads its own ?script.
        if not request.path.startswith(API_PREFIX) or not request.query_params:
            return True
        if accepted_params(view, request.method or "GET"):
            return True  # the view refuses unknown ones with its own (docstring)
        # Imported late: errors imports rest_framework.views, which imports this module.
        from steve.api.errors import unknown_param_problems

        if problems := unknown_param_problems(request.query_params, ()):
            raise problems[0]
        return True
