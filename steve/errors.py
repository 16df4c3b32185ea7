"""The one error a service raises when it refuses a user's request.

Plain Python, so services never depend on the API layer: steve.api.errors maps it to a
problem (RFC 9457) in one place, and the review desk shows the same code and message.
Anything else a service raises is a bug, and is answered as one (500).
"""

from collections.abc import Callable, Sequence
from typing import Any


def field_error(field: str, message: str, code: str = "invalid") -> dict[str, str]:
    """One entry of a problem's `errors`: which input was refused, and why."""
    return {"field": field, "message": message, "code": code}


def one_per_field(errors: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """`errors` with each field named once (the first refusal of it): a member two
    checks refused is still one thing for the caller to fix."""
    seen: set[str] = set()
    kept = []
    for error in errors:
        if error["field"] not in seen:
            seen.add(error["field"])
            kept.append(error)
    return kept


class ServiceError(Exception):
    """A refused service call: a stable `code`, a `message` for people, the HTTP `status`
    the API answers with, and the refused inputs (`errors`, field_error entries).

    `slug` names the problem type when it is not the status's own (problem+json `type`);
    `extra` holds the problem's further members (e.g. a submission's currentStatus);
    `retry_after` (seconds) is the API's `Retry-After`, for a refusal that passes.
    """

    default_status = 409

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        errors: list[dict[str, str]] | None = None,
        *,
        slug: str | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or self.default_status
        self.errors = list(errors or [])
        self.slug = slug
        self.extra = dict(extra or {})
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.status})"


def invalid(
    field: str, message: str, *, code: str = "VALIDATION_ERROR", field_code: str = "invalid"
) -> ServiceError:
    """A 422 refusal of one input: the API's validation problem, the page's field error."""
    return ServiceError(code, message, 422, [field_error(field, message, field_code)])


def refusal_of_all(refusals: Sequence[ServiceError]) -> ServiceError:
    """One refusal naming every refused input of a request, so a caller fixes them in
    one round trip: the first refusal (its type, code, status and message, what a client
    keyed on when only the first was reported), with the errors of all of them."""
    first = refusals[0]
    first.errors = one_per_field([error for refusal in refusals for error in refusal.errors])
    return first


def all_checked(checks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each check's value by name, every check run: a refusal of one does not hide
    another's (one refusal_of_all names every refused input, the first check's code)."""
    values: dict[str, Any] = {}
    refusals: list[ServiceError] = []
    for name, check in checks.items():
        try:
            values[name] = check()
        except ServiceError as refusal:
            refusals.append(refusal)
    if refusals:
        raise refusal_of_all(refusals)
    return values
