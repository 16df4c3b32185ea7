"""Keyset pagination with opaque, signed cursors.

A cursor names the last id of a page. It is signed with a salt bound to the
company and the listing, so a forged cursor, or one taken from another company's
listing, is refused instead of reading rows it should not.
"""

import re
from collections.abc import Sequence
from typing import Any

from django.core import signing
from django.db.models import QuerySet
from django.http import QueryDict

from steve.api.errors import ApiProblem, field_error, problem_of_all, unknown_param_problems

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# The query parameters every listing takes (its view's accepted_query_params names them).
PAGE_QUERY = ("cursor", "limit")
# A limit as written: ASCII digits, a minus allowed (out of range is clamped, seed 001).
WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _given_once(params: QueryDict, param: str, code: str) -> None:
    """A page parameter sent more than once is refused, as a repeated filter is: the
    QueryDict's get() took the last one, so "limit=2&limit=50" read 50 rows and a second,
    empty cursor the first page again, neither what the caller built."""
    if len(params.getlist(param)) > 1:
        message = f"{param} may be given once."
        raise ApiProblem(400, message, code=code, errors=[field_error(param, message, "repeated")])


def parse_limit(params: QueryDict, default: int = DEFAULT_LIMIT) -> int:
    _given_once(params, "limit", "INVALID_LIMIT")
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    try:
        # Digits only: int() also reads "٣", "３", " 3" and "1_0" as numbers.
        if not WHOLE_NUMBER.fullmatch(raw):
            raise ValueError(raw)
        value = int(raw)
    except ValueError:
        message = "limit must be a whole number."
        raise ApiProblem(
            400, message, code="INVALID_LIMIT", errors=[field_error("limit", message, "invalid")]
        ) from None
    return max(1, min(MAX_LIMIT, value))


def _signer(scope: str) -> signing.Signer:
    return signing.Signer(salt=f"steve.cursor:{scope}")


def encode_cursor(scope: str, last_id: str) -> str:
    return _signer(scope).sign_object({"after": last_id}, compress=False)


def _cursor_problem() -> ApiProblem:
    message = "The cursor is not valid for this listing."
    return ApiProblem(
        400, message, code="INVALID_CURSOR", errors=[field_error("cursor", message, "invalid")]
    )


def decode_cursor(scope: str, cursor: str) -> str:
    try:
        payload = _signer(scope).unsign_object(cursor)
    except (signing.BadSignature, ValueError, TypeError):
        raise _cursor_problem() from None
    after = payload.get("after") if isinstance(payload, dict) else None
    if not isinstance(after, str):
        raise _cursor_problem()
    return after


def page_param_problems(
    params: QueryDict, *, scope: str, accepted: Sequence[str]
) -> list[ApiProblem]:
    """The refusals of a listing's limit and cursor, both checked, and of any parameter
    not in `accepted` (all the listing takes, its filters too: steve.api.query), so that
    a listing refuses them in one answer with its own parameters' (problem_of_all). The
    unknown ones come last: a bad filter or limit keeps the top-level code it had."""
    problems = []
    for check in (lambda: parse_limit(params), lambda: _cursor_after(params, scope)):
        try:
            check()
        except ApiProblem as problem:
            problems.append(problem)
    return problems + unknown_param_problems(params, accepted)


def _cursor_after(params: QueryDict, scope: str) -> str | None:
    _given_once(params, "cursor", "INVALID_CURSOR")
    cursor = params.get("cursor")
    return decode_cursor(scope, cursor) if cursor else None


def keyset_page(
    queryset: QuerySet,
    *,
    scope: str,
    params: QueryDict,
    accepted: Sequence[str],
    newest_first: bool = True,
) -> tuple[list[Any], dict[str, Any]]:
    """One page ordered by id (ids sort by creation time) and its pagination block;
    `accepted` as for page_param_problems."""
    if problems := page_param_problems(params, scope=scope, accepted=accepted):
        raise problem_of_all(problems)
    limit = parse_limit(params)
    if after := _cursor_after(params, scope):
        queryset = queryset.filter(id__lt=after) if newest_first else queryset.filter(id__gt=after)
    queryset = queryset.order_by("-id" if newest_first else "id")
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(scope, rows[-1].id) if has_more else None
    return rows, {"hasMore": has_more, "nextCursor": next_cursor}
