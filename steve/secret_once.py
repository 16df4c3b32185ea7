"""Show a new secret once, on the page that made it.

The messages framework would carry it in the `messages` cookie (signed, not
encrypted) and through the browser's history; here it exists only in the body of the
response to the POST that created it, which is marked no-store.
"""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

REQUEST_ATTRIBUTE = "_steve_new_secrets"


def remember_secret(request: HttpRequest, owner: str, secret: str) -> None:
    """Keep a secret for this request's response only (never the session or a cookie)."""
    request.__dict__.setdefault(REQUEST_ATTRIBUTE, []).append((owner, secret))


def forget_secrets(request: HttpRequest) -> None:
    """Drop this request's new secrets: their save was refused and rolled back, so they
    open nothing, and no later page of the request may show them."""
    request.__dict__.pop(REQUEST_ATTRIBUTE, None)


def secrets_page(request: HttpRequest, *, next_url: str) -> HttpResponse | None:
    """The page showing this request's new secrets, or None when it made none."""
    secrets = request.__dict__.get(REQUEST_ATTRIBUTE)
    if not secrets:
        return None
    context = {
        **admin.site.each_context(request),
        "title": "Copy the new secret",
        "secrets": secrets,
        "next_url": next_url,
    }
    response = TemplateResponse(request, "admin/secret_once.html", context)
    add_never_cache_headers(response)
    return response


class ShowsSecretsOnce:
    """ModelAdmin mixin: after an add that made a secret, show it instead of redirecting.

    Actions that make secrets return `secrets_page(...)` themselves.
    """

    def response_add(
        self, request: HttpRequest, obj: object, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)  # type: ignore[misc]
        page = secrets_page(request, next_url=response.get("Location", "../"))
        return page or response
