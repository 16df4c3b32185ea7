"""Checks that a new secret is shown once, in the page body only."""

import re

from django.contrib.messages import get_messages
from django.http import HttpResponse

SHOWN = re.compile(r'<code class="secret-once">([^<]+)</code>')


def shown_secrets(response: HttpResponse) -> list[str]:
    return SHOWN.findall(response.content.decode())


def assert_only_in_the_body(response: HttpResponse, secret: str) -> None:
    """The secret is on this page, never in a cookie, a message or a cached copy."""
    assert response.status_code == 200
    assert secret in shown_secrets(response)
    for cookie in response.cookies.values():
        assert secret not in cookie.OutputString()
    assert secret not in str(response.headers)
    assert not [m for m in get_messages(response.wsgi_request) if secret in str(m)]
    assert "no-store" in response["Cache-Control"]
