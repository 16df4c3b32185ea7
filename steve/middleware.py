"""Request ids on every request and log line; RFC 9457 bodies for Django's own API errors."""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.cache import add_never_cache_headers

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# The company whose API key (or upload URL) made the request: what a support engineer
# asked about "ACME's 429s" searches the log for.
company_var: contextvars.ContextVar[str] = contextvars.ContextVar("company", default="-")
_VALID_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
API_PREFIX = "/api/v1/"


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-Id", "")
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else f"req_{uuid.uuid4().hex}"
        request.request_id = request_id
        request.log_company = "-"
        token = request_id_var.set(request_id)
        company_token = company_var.set("-")
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            company_var.reset(company_token)
        response["Request-Id"] = request_id
        return response


def log_company(request: HttpRequest, company_id: str) -> None:
    """Name `company_id` on the request's log lines from now on (those Django writes
    once the response is made included)."""
    request.log_company = company_id
    company_var.set(company_id)


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` and `company` to every record. Django logs a 4xx or 5xx answer
    (django.request's "Gone: /api/v1/…") after the middleware has returned: that record
    carries its request, whose ids are read from it, else the line showed "-" and the
    support engineer holding a problem's requestId could not find it."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        record.company = getattr(request, "log_company", None) or company_var.get()
        return True


class NulCharacterMiddleware:
    """A NUL in a page's path or query string is a 400: PostgreSQL cannot compare text
    holding one, so the lookup it reaches would fail with a 500. (The API answers its own
    INVALID_CHARACTERS problem for the same input.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if not request.path.startswith(API_PREFIX) and (
            "\x00" in request.path or "%00" in query or "\x00" in query
        ):
            return HttpResponseBadRequest("Text must not contain NUL characters.")
        return self.get_response(request)


class ApiProblemMiddleware:
    """Turn Django's HTML error pages under /api/v1/ (404, 405, …) into problem+json."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        content_type = response.get("Content-Type", "")
        if "json" in content_type:
            return response
        from steve.api.errors import problem_for_status

        problem = problem_for_status(request, response.status_code)
        for header in ("Allow", "Retry-After"):
            if header in response:
                problem[header] = response[header]
        return problem


# Scripts and styles only from our own static files: no inline code, no CDN. Images may
# be data: URIs (SVG charts use none, but browsers' own UI may).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
REVIEW_UI_PREFIXES = ("/review/", "/accounts/")
# The admin too: it shows superusers what outsiders wrote (OCR'd values, metadata, a
# receiver's error body), and Django's admin runs no inline script or style. The API docs
# (Swagger UI) load their start-up script and styles from URLs of ours, and fetch the
# schema and try-it-out calls from this origin.
CSP_PATH_PREFIXES = (*REVIEW_UI_PREFIXES, "/admin/", "/api/docs")


class ContentSecurityPolicyMiddleware:
    """A strict CSP on the review UI's, the admin's and the API docs' pages; a response
    that already carries a policy is left alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(CSP_PATH_PREFIXES) and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response


class PrivatePagesMiddleware:
    """The review UI's pages show receipts, amounts and names: no cache may keep them. A
    page without a Cache-Control of its own (a view that chose one, such as a file's,
    keeps it) is marked no-store and private, so neither a shared proxy nor the browser's
    cache (or its back button, after a sign-out on a shared computer) shows it again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(REVIEW_UI_PREFIXES) and "Cache-Control" not in response:
            add_never_cache_headers(response)
        return response
