"""The client's address, for throttling failed logins and failed API keys.

Behind N trusted proxies (TRUSTED_PROXY_COUNT) the client is the Nth address from the
right of X-Forwarded-For: the entries left of it are whatever the client sent, so they
are never trusted. Without proxies it is the socket's address.
"""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    # The unspecified address when there is none (a test client, a Unix socket): callers
    # such as django-axes expect a valid IP literal.
    return request.META.get("REMOTE_ADDR", "") or "0.0.0.0"
