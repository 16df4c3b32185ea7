"""RFC 9457 problem details: the one error shape under /api/v1/."""

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DataError
from django.http import Http404, HttpRequest, JsonResponse, QueryDict
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from steve.blips import is_database_blip
from steve.errors import ServiceError, field_error, one_per_field
from steve.logredact import redact
from steve.text import hides_text

logger = logging.getLogger(__name__)

PROBLEM_BASE = "https://steve.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
# Plain Django views answer with JsonResponse, whose json.dumps puts spaces after ","
# and ":"; DRF's renderer does not. One compact form for every problem (docs/api.md).
COMPACT_JSON = {"separators": (",", ":")}

# status -> (slug, title, code)
DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("bad-request", "Bad request", "BAD_REQUEST"),
    401: ("unauthorized", "Unauthorized", "UNAUTHORIZED"),
    403: ("forbidden", "Forbidden", "FORBIDDEN"),
    404: ("not-found", "Not found", "NOT_FOUND"),
    405: ("method-not-allowed", "Method not allowed", "METHOD_NOT_ALLOWED"),
    406: ("not-acceptable", "Not acceptable", "NOT_ACCEPTABLE"),
    409: ("conflict", "Conflict", "CONFLICT"),
    410: ("gone", "Gone", "GONE"),
    411: ("length-required", "Length required", "LENGTH_REQUIRED"),
    413: ("payload-too-large", "Payload too large", "PAYLOAD_TOO_LARGE"),
    415: ("unsupported-media-type", "Unsupported media type", "UNSUPPORTED_MEDIA_TYPE"),
    422: ("validation-error", "Validation error", "VALIDATION_ERROR"),
    429: ("rate-limit-exceeded", "Too many requests", "RATE_LIMIT_EXCEEDED"),
    500: ("internal-error", "Internal server error", "INTERNAL_ERROR"),
    503: ("service-unavailable", "Service unavailable", "SERVICE_UNAVAILABLE"),
    # Only the proxy answers it (deploy/nginx.conf): web did not answer in time.
    504: ("upstream-timeout", "Gateway timeout", "UPSTREAM_TIMEOUT"),
}


class ApiProblem(exceptions.APIException):
    """Raise from any API view: becomes a problem+json response with a stable code."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        slug: str | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        default_slug, default_title, default_code = DEFAULTS.get(status, DEFAULTS[400])
        self.status_code = status
        self.detail = detail
        self.code = code or default_code
        self.slug = slug or default_slug
        self.title = title or default_title
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


# The database did not answer: PostgreSQL restarting, all the connections it allows
# taken ("too many clients"), this process's connection dropped or its session ended
# (a transaction left idle too long), a deadlock or a statement timeout
# (steve.blips.is_database_blip). Neither the caller's fault nor a bug: a 503 the caller
# retries, not a 500. The next request reconnects (CONN_HEALTH_CHECKS).
DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable_problem(exc: BaseException) -> ApiProblem:
    logger.warning("The database did not answer: %s", exc)
    return ApiProblem(
        503,
        "The database did not answer; try again shortly.",
        code="DATABASE_UNAVAILABLE",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def validation_problem(errors: list[dict[str, str]], detail: str | None = None) -> ApiProblem:
    first = errors[0]
    return ApiProblem(
        422,
        detail or f"{first['field']}: {first['message']}",
        errors=errors,
    )


def problem_of_all(refusals: Sequence[ApiProblem | ServiceError]) -> ApiProblem:
    """One problem naming every refused input of a request (steve.errors.refusal_of_all
    for the API's own checks): the first refusal's status, code, type and detail, with
    the errors of all of them."""
    problems = [r if isinstance(r, ApiProblem) else service_problem(r) for r in refusals]
    first = problems[0]
    first.errors = one_per_field([error for problem in problems for error in problem.errors])
    return first


# A body of thousands of members it does not know gets this many errors back, not one each.
MAX_UNKNOWN_MEMBER_ERRORS = 50


def unknown_member_errors(
    body: dict[str, Any], known: Iterable[str], message: str = "Not a field of this request."
) -> list[dict[str, str]]:
    """An `unknown_field` error for each member of `body` not in `known` (at most
    MAX_UNKNOWN_MEMBER_ERRORS)."""
    unknown = sorted(set(body) - set(known))
    return [
        field_error(name, message, "unknown_field") for name in unknown[:MAX_UNKNOWN_MEMBER_ERRORS]
    ]


def refuse_unknown_members(
    body: dict[str, Any], known: Iterable[str], *, message: str = "Not a field of this request."
) -> None:
    """Refuse a member the operation does not read (422, `unknown_field`) rather than
    drop it: `{"fields": {...}}` sent to approve was approved without the corrections
    the integrator believed they had made, and a misspelt `event` made an endpoint
    that takes every event."""
    if errors := unknown_member_errors(body, known, message):
        raise validation_problem(errors)


def refuse_any_body(body: Any) -> None:
    """For a write call that reads no body: none (or `{}`) is fine; a member sent with
    it is refused (422, `unknown_field`) and a body that is no JSON object is a 400, as
    any other write call answers them. A submit with `{"metadata": ...}`, or with a body
    that was not even JSON, was carried out without a word about what it dropped."""
    if body in (None, ""):
        return
    if not isinstance(body, dict):
        raise not_an_object_problem()
    refuse_unknown_members(body, ())


# Names quoted in an unknown-parameter problem's detail; errors[] names them all (up to
# MAX_UNKNOWN_MEMBER_ERRORS).
DETAIL_PARAM_NAMES = 5


def unknown_param_problems(params: QueryDict, accepted: Sequence[str]) -> list[ApiProblem]:
    """A 400 INVALID_PARAMETER naming each query parameter of `params` not in `accepted`
    (an `unknown_field` error each, in the order sent), or none: `?since=` on a listing
    answered 200 with every row, and the client believed it was filtering. `format` is
    taken everywhere, disregarded as Accept is (steve.api.negotiation)."""
    known = {*accepted, api_settings.URL_FORMAT_OVERRIDE}
    unknown = [name for name in params if name not in known]
    if not unknown:
        return []
    takes = f"it takes {', '.join(accepted)}." if accepted else "it takes no query parameters."
    message = f"Not a query parameter of this operation; {takes}"
    names = ", ".join(shown(n, otherwise="…") for n in unknown[:DETAIL_PARAM_NAMES])
    if len(unknown) > DETAIL_PARAM_NAMES:
        names += f" and {len(unknown) - DETAIL_PARAM_NAMES} more"
    verb = "is not a query parameter" if len(unknown) == 1 else "are not query parameters"
    return [
        ApiProblem(
            400,
            f"{names} {verb} of this operation; {takes}",
            code="INVALID_PARAMETER",
            errors=[
                field_error(name, message, "unknown_field")
                for name in unknown[:MAX_UNKNOWN_MEMBER_ERRORS]
            ],
        )
    ]


def not_an_object_problem() -> ApiProblem:
    """A JSON body that is not an object: no operation can read it (docs/api.md: 400)."""
    return ApiProblem(
        400,
        "The body must be a JSON object.",
        code="INVALID_BODY",
        errors=[field_error("body", "The body must be a JSON object.", "invalid_type")],
    )


def refuse_chunked_body(request: HttpRequest) -> None:
    """A body sent chunked, with no Content-Length, is handed to Django as empty by the
    WSGI server: refused (411) rather than answered as a body with no members ("fileCount,
    contentTypes, clientSubmissionId are required" to a caller who sent all three)."""
    if not request.META.get("CONTENT_LENGTH") and request.headers.get("Transfer-Encoding"):
        raise ApiProblem(
            411,
            "Send the request with a Content-Length header, not chunked.",
            code="LENGTH_REQUIRED",
        )


# Every id Steve makes fits its column (`max_length=40`, steve.ids); a slug fits 100.
ID_MAX_LENGTH = 40
SEGMENT_MAX_LENGTH = 100


def shown(
    value: object, *, otherwise: str = "with that id", max_length: int = ID_MAX_LENGTH
) -> str:
    """An id or a name the caller sent, quoted, fit to repeat in a problem; `otherwise`
    ("with that id") when it is longer than any Steve has or would show wrongly (a bidi
    override, a zero-width space): a 3-KB id came back three times in one 404."""
    text = str(value)
    return repr(text) if _showable(text, max_length) else otherwise


def _showable(text: str, max_length: int) -> bool:
    return len(text) <= max_length and not hides_text(text, allowed="")


def shown_path(path: str) -> str:
    """The request's path for `instance`: its upload token redacted, and a segment no id
    or slug could be (as `shown` judges) replaced by "…"."""
    segments = redact(path).split("/")
    return "/".join(s if _showable(s, SEGMENT_MAX_LENGTH) else "…" for s in segments)


def problem_body(
    request: HttpRequest | None,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        # An upload URL is a capability: a problem body may be logged by the caller.
        "instance": shown_path(request.path) if request is not None else None,
        "code": code,
        "requestId": getattr(request, "request_id", None),
    }
    if errors:
        body["errors"] = in_request_order(request, one_per_field(errors))
    if extra:
        body.update(extra)
    return body


MEMBER = re.compile(r"[^.\[]*")  # "contentTypes" of "contentTypes[1]", "fields" of "fields.total"


def in_request_order(request: HttpRequest | None, errors: list[dict[str, str]]) -> list:
    """`errors` in the order their members came in the request (the body's keys, then
    the query's), so a caller reads them beside what it sent; a member it did not send
    (a missing required one) comes after, in the order Steve checked. Errors of one
    member keep the order they were found in (contentTypes[0] before contentTypes[1])."""
    if request is None or len(errors) < 2:
        return errors
    try:
        # DRF's parsed body; a plain view has none. A read's body is never read: parsed
        # here, a GET's 24-MB body (no write's size limit holds it) cost seconds of CPU.
        body = None if request.method in ("GET", "HEAD") else getattr(request, "data", None)
    except Exception:  # a body that could not be parsed has no member order to follow
        body = None
    sent = [*(body if isinstance(body, dict) else ()), *request.GET]
    rank = {member: index for index, member in reversed(list(enumerate(sent)))}

    def position(error: dict[str, str]) -> int:
        if error["field"] in rank:  # a form's dotted name (`delivery.mode`) is one member
            return rank[error["field"]]
        member = MEMBER.match(error["field"]).group()  # type: ignore[union-attr]
        return rank.get(member, len(rank))

    return sorted(errors, key=position)


def body_of(request: HttpRequest | None, problem: ApiProblem) -> dict[str, Any]:
    return problem_body(
        request,
        status=problem.status_code,
        slug=problem.slug,
        title=problem.title,
        detail=str(problem.detail),
        code=problem.code,
        errors=problem.errors,
        extra=problem.extra,
    )


def problem_response(request: HttpRequest | None, problem: ApiProblem) -> Response:
    body = body_of(request, problem)
    response = Response(body, status=problem.status_code, headers=problem.headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_json_response(request: HttpRequest, problem: ApiProblem) -> JsonResponse:
    """problem_response for plain Django views, which have no DRF renderer."""
    body = body_of(request, problem)
    response = JsonResponse(
        body,
        status=problem.status_code,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params=COMPACT_JSON,
    )
    for name, value in problem.headers.items():
        response[name] = value
    return response


def problem_for_status(
    request: HttpRequest, status: int, detail: str | None = None, *, code: str | None = None
) -> JsonResponse:
    slug, title, default_code = DEFAULTS.get(status, ("error", "Error", "ERROR"))
    code = code or default_code
    body = problem_body(
        request, status=status, slug=slug, title=title, detail=detail or title, code=code
    )
    return JsonResponse(
        body, status=status, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params=COMPACT_JSON
    )


def _flatten_validation(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list field's item: contentTypes[0]
                out += _flatten_validation(value, f"{prefix}[{key}]")
                continue
            name = "" if key == "non_field_errors" else str(key)
            out += _flatten_validation(
                value, f"{prefix}.{name}" if prefix and name else prefix or name
            )
        return out
    if isinstance(detail, list):
        out = []
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list)):
                out += _flatten_validation(item, f"{prefix}[{index}]")
            else:
                out += _flatten_validation(item, prefix)
        return out
    code = getattr(detail, "code", "invalid") or "invalid"
    return [field_error(prefix or "body", str(detail), str(code))]


def service_problem(error: ServiceError) -> ApiProblem:
    """The one mapping of a service's refusal to a problem; plain Django views that
    catch a ServiceError themselves (uploads) answer with it too."""
    return ApiProblem(
        error.status,
        error.message,
        code=error.code,
        slug=error.slug,
        errors=error.errors,
        extra=error.extra,
        headers={"Retry-After": str(error.retry_after)} if error.retry_after else None,
    )


def _as_problem(exc: Exception) -> ApiProblem | None:
    if isinstance(exc, ApiProblem):
        return exc
    if isinstance(exc, ServiceError):
        return service_problem(exc)
    if isinstance(exc, RequestDataTooBig):
        return ApiProblem(413, "The request body is too large.", code="BODY_TOO_LARGE")
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return ApiProblem(400, "The request has too many fields.", code="TOO_MANY_FIELDS")
    if isinstance(exc, Http404):
        return ApiProblem(404, "The requested resource does not exist.")
    if isinstance(exc, DataError) and ("NUL" in str(exc) or "\\u0000" in str(exc)):
        # PostgreSQL cannot store a NUL character: the client's text, not Steve's failure.
        return ApiProblem(
            400, "Text must not contain NUL (\\u0000) characters.", code="INVALID_CHARACTERS"
        )
    if is_database_blip(exc):
        return database_unavailable_problem(exc)
    if isinstance(exc, DjangoPermissionDenied):
        return ApiProblem(403, "You do not have access to this resource.")
    if isinstance(exc, exceptions.ValidationError):
        return validation_problem(_flatten_validation(exc.detail), "The request is not valid.")
    if isinstance(exc, exceptions.ParseError):
        # steve.api.parsers.BodyRefused says which rule the body broke; the JSON
        # decoder's own words (Python internals, e.g. sys.set_int_max_str_digits) are not
        # the client's business.
        code = getattr(exc, "problem_code", None)
        if code is None and str(exc.detail).startswith("Multipart form parse error"):
            # DRF's words for a multipart body with no or the wrong boundary; the body
            # itself is not repeated back.
            return ApiProblem(
                400,
                "The multipart body could not be parsed: check its boundary and parts.",
                code="INVALID_MULTIPART",
            )
        if code is None:
            return ApiProblem(400, "The body is not valid JSON.", code="INVALID_JSON")
        return ApiProblem(400, str(exc.detail), code=code, errors=getattr(exc, "errors", None))
    if isinstance(exc, exceptions.NotAuthenticated):
        return ApiProblem(401, "An API key is required.", code="UNAUTHORIZED")
    if isinstance(exc, exceptions.AuthenticationFailed):
        return ApiProblem(401, str(exc.detail), code="INVALID_API_KEY")
    if isinstance(exc, exceptions.PermissionDenied):
        return ApiProblem(403, str(exc.detail), code=getattr(exc, "problem_code", "FORBIDDEN"))
    if isinstance(exc, exceptions.MethodNotAllowed):
        return ApiProblem(405, str(exc.detail))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return ApiProblem(415, str(exc.detail))  # the handler names what the call reads
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        return ApiProblem(429, "Rate limit exceeded.", headers={"Retry-After": str(wait)})
    if isinstance(exc, exceptions.APIException):
        return ApiProblem(exc.status_code, str(exc.detail))
    return None


def _unsupported_media_type(request: Any, view: Any) -> ApiProblem:
    """DRF's "Unsupported media type ... in request." told a caller what was wrong, not
    what to send: the detail names the types this call reads."""
    accepted = ", ".join(parser.media_type for parser in view.get_parsers())
    sent = (getattr(request, "content_type", "") or "none").split(";")[0].strip()[:100]
    return ApiProblem(
        415, f"The body's Content-Type ({sent}) is not one this call reads: send {accepted}."
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    problem = _as_problem(exc)
    if isinstance(exc, exceptions.UnsupportedMediaType) and context.get("view") is not None:
        problem = _unsupported_media_type(request, context["view"])
    if problem is None:
        logger.exception("Unhandled API error", exc_info=exc)
        problem = ApiProblem(500, "Steve could not complete the request.")
    set_rollback()
    if request is not None:
        # A problem is JSON whatever the view renders: the schema view's YAML renderer
        # wrote its 405 as YAML under application/problem+json.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    response = problem_response(request, problem)
    if problem.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="steve"'
    return response
