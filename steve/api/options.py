"""OPTIONS under /api/v1/: 204 with `Allow`, before authentication and the rate limits.

DRF answered OPTIONS with its metadata (the view's name and docstring, its parsers and
renderers), a 200 body the schema does not describe, and counted it like a GET: probing
a job's route spent that job's `poll` allowance. Which methods a route takes is public
(the schema lists them) and depends on no object, so the answer needs no key, reads
nothing and spends no bucket. Steve sends no CORS headers: the API is called by servers
holding a secret key, never cross-origin from a browser (docs/security.md), so this is
not a preflight answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from steve.middleware import API_PREFIX


def allowed_methods(path: str) -> list[str] | None:
    """The methods the route of `path` takes, OPTIONS last; None when no route matches,
    or its view does not say (it then answers OPTIONS itself)."""
    try:
        func: Any = resolve(path).func
    except Resolver404:
        return None
    view = getattr(func, "view_class", None) or getattr(func, "cls", None)
    if view is not None:
        names = [m for m in view.http_method_names if m != "options" and hasattr(view, m)]
    else:  # a function view lists the methods it takes, as `upload` does
        names = list(getattr(func, "http_method_names", None) or [])
        if not names:
            return None
    if "get" in names and "head" not in names:
        names.append("head")  # Django answers HEAD wherever GET is answered
    return [m.upper() for m in names] + ["OPTIONS"]


class ApiOptionsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "OPTIONS" and request.path.startswith(API_PREFIX):
            allowed = allowed_methods(request.path_info)
            if allowed is not None:
                response = HttpResponse(status=204)
                response["Allow"] = ", ".join(allowed)
                return response
        return self.get_response(request)
