"""Failed sign-ins per client address, across usernames: the limit on password spraying.

django-axes locks a username after LOGIN_FAILURE_LIMIT failures. One or two common
passwords tried against many usernames stay under that for every one of them; this
counts every failed sign-in of an address (steve.clientip, the trusted-proxy rule the
API's limits use), whatever the username, known or not. After
LOGIN_ADDRESS_FAILURE_LIMIT failures within LOGIN_ADDRESS_WINDOW_MINUTES (a fixed window
from the first failure), the address's sign-in attempts get a 429 page with Retry-After
until the window ends, before any username is looked at: the answer is the same for a
username that exists and one that does not.

Failures are what user_login_failed reports with a request: the review and admin login
forms and a wrong old password on the password form (steve.accounts). A success resets
nothing: another address's count is not its business, and an attacker holding one
valid account would otherwise wipe its own count between rounds.

The counters are the API rate limits' (steve.api.ratelimit: Redis, or the local-memory
cache without REDIS_URL). Like those limits it fails open while Redis cannot be reached:
the username lock-out, kept in the database, still holds, and an outage of the cache
does not lock every reviewer out. Two attempts racing past the check before either
failure is counted can go over the limit by the number of requests in flight, no more.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steve import redis_pause
from steve.api import ratelimit
from steve.clientip import client_address

logger = logging.getLogger(__name__)

BUCKET = "login_failures"


def _key(request: HttpRequest) -> str:
    return ratelimit.counter_key("addr:" + client_address(request), BUCKET, "")


def _limit() -> int:
    return int(settings.LOGIN_ADDRESS_FAILURE_LIMIT)


def seconds_refused(request: HttpRequest) -> int | None:
    """Seconds until this address may try signing in again; None when it may now."""
    try:
        count, ttl_ms = ratelimit.counter().peek(_key(request))
    except Exception:
        redis_pause.log_failure(logger, "login failure counter unavailable; address not limited")
        return None
    if count < _limit() or ttl_ms < 0:
        return None
    return max(1, math.ceil(ttl_ms / 1000))


@receiver(user_login_failed, dispatch_uid="steve.loginlimit.count_failure")
def count_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is None:  # authenticate() called outside a request (a shell, a command)
        return
    window_ms = int(settings.LOGIN_ADDRESS_WINDOW_MINUTES) * 60 * 1000
    try:
        ratelimit.counter().incr([_key(request)], window_ms, [_limit()])
    except Exception:
        redis_pause.log_failure(logger, "login failure counter unavailable; failure not counted")


def refusal(request: HttpRequest, seconds: int) -> HttpResponse:
    """The 429 page: how long to wait, nothing about the username tried."""
    minutes = math.ceil(seconds / 60)
    response = render(
        request,
        "registration/address_locked.html",
        {"minutes": minutes, "login_url": request.path},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def refused_if_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wraps a view taking a password: its POSTs from a limited address get the 429 page
    without the form being read (a GET still shows the form)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and (seconds := seconds_refused(request)) is not None:
            return refusal(request, seconds)
        return view(request, *args, **kwargs)

    return wrapped
