"""API key authentication: Bearer, X-API-Key or `Authorization: api-key`."""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from steve import redis_pause
from steve.api import ratelimit
from steve.clientip import client_address
from steve.middleware import log_company
from steve.models import ApiKey
from steve.services import (
    API_KEY_GONE,
    API_KEY_PREFIX,
    api_key_cache_key,
    api_key_cache_overwrite,
    api_key_digest,
    touch_cache_key,
)

logger = logging.getLogger(__name__)

# Writing last_used_at on every request would add a write to every read; a minute's
# precision is what an operator needs to see which keys are alive.
LAST_USED_PRECISION = timedelta(minutes=1)
TOUCH_SECONDS = int(LAST_USED_PRECISION.total_seconds())


@dataclass
class ApiClient:
    """The authenticated caller: DRF's request.user for API requests."""

    api_key: ApiKey

    is_authenticated = True
    is_active = True

    @property
    def company(self):  # noqa: ANN201 - the Company model
        return self.api_key.company

    @property
    def pk(self) -> str:
        return self.api_key.pk


class RevokedKey(exceptions.PermissionDenied):
    default_detail = "This API key has been revoked."
    problem_code = "API_KEY_REVOKED"


def raw_key_from_headers(request: Request) -> str | None:
    header = request.headers.get("Authorization", "").strip()
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() in {"bearer", "api-key"} and value.strip():
            return value.strip()
        return ""
    x_api_key = request.headers.get("X-API-Key", "").strip()
    return x_api_key or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        raw = raw_key_from_headers(request)
        if raw is None:
            return None
        if not raw.startswith(API_KEY_PREFIX) or len(raw) != len(API_KEY_PREFIX) + 64:
            raise invalid_key()
        digest = api_key_digest(raw)
        cached = cache_call("get", api_key_cache_key(digest))
        api_key = None if cached == API_KEY_GONE else cached
        if isinstance(api_key, ApiKey) and not api_key.is_revoked:
            api_key = still_live(api_key)
        if cached is None:
            # An address that spent its `anonymous` bucket (where every unknown key is
            # counted) gets answers from the cache only: guessing keys costs no database
            # query, while live (cached) keys still work for it.
            spent = ratelimit.anonymous_spent(request)
            if spent is not None:
                raise address_limited(request, spent)
            api_key = api_key_from_database(digest)
        if api_key is None:  # unknown, or deleted
            raise invalid_key()
        log_company(request._request, api_key.company_id)
        if api_key.is_revoked:
            raise revoked(request._request, api_key)
        self._touch(api_key)
        return ApiClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="steve"'

    @staticmethod
    def needs_touch(api_key: ApiKey) -> bool:
        last = api_key.last_used_at
        return last is None or timezone.now() - last >= LAST_USED_PRECISION

    @staticmethod
    def _touch(api_key: ApiKey) -> None:
        """Record that the key is alive, at most once a minute per key.

        The cached key is never written back: a copy read before a revocation would
        replace the revoked entry and bring the key back (steve.services.api_key_revoke).
        The minute's throttle is its own cache entry, added only when absent.
        """
        if not ApiKeyAuthentication.needs_touch(api_key):
            return
        now = timezone.now()
        if cache_call("add", touch_cache_key(api_key.digest), 1, TOUCH_SECONDS) is not False:
            ApiKey.objects.filter(pk=api_key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
            ).update(last_used_at=now)
        api_key.last_used_at = now  # this request's copy only


def cache_call(method: str, *args: Any) -> Any:
    """The key cache only saves database queries: with Redis down, authentication reads
    the database rather than failing every request with a 500."""
    return redis_pause.cache_call(method, *args, log=logger, what="API key")


# Addresses this process answered 429 for their `anonymous` bucket, until when
# (monotonic): the job poll's fast path reads it without a cache round trip, and leaves
# such clients to the general path, which answers 429 without touching the database.
_limited_here: dict[str, float] = {}
_LIMITED_HERE_MAX = 10_000


def recently_limited(request: HttpRequest) -> bool:
    until = _limited_here.get(client_address(request))
    return until is not None and until > time.monotonic()


def _remember_limited(request: HttpRequest, seconds: float) -> None:
    if len(_limited_here) >= _LIMITED_HERE_MAX:  # many addresses: start over, stay small
        _limited_here.clear()
    _limited_here[client_address(request)] = time.monotonic() + seconds


def address_limited(request: HttpRequest, spent: ratelimit.BucketState) -> Exception:
    """The 429 for an address whose `anonymous` bucket is spent, as the bucket answers it."""
    _remember_limited(request, spent.reset_at - time.time())
    return ratelimit.exceeded_problem(spent)


def revoked(request: HttpRequest, api_key: ApiKey) -> Exception:
    """The 403 for a revoked key, or the 429 once that key's own `revoked` bucket is spent.

    Counted against the key, not its address: in the address's `anonymous` bucket, a
    stale revoked key left in a CI job spent it, and every live key from the same
    address that was not cached got 429 without being looked up.
    """
    state = ratelimit.count_revoked(request, api_key)
    if state is not None and state.exceeded:
        return ratelimit.exceeded_problem(state)
    return RevokedKey()


def invalid_key() -> exceptions.APIException:
    """A key that did not authenticate; RateLimitHeadersMiddleware counts it per address."""
    return exceptions.AuthenticationFailed("The API key is not valid.")


LIVE_KEY_SQL = f"SELECT revoked_at, last_used_at FROM {ApiKey._meta.db_table} WHERE id = %s"


def still_live(cached: ApiKey) -> ApiKey | None:
    """The cached key with its revocation as the database has it; None once deleted.

    A revocation or deletion overwrites the cache entry, but one made while Redis was
    unreachable cannot: when Redis came back with its data, the live copy was served for
    API_KEY_CACHE_SECONDS. One primary-key read per request (0.1-0.3 ms) makes the
    database the authority; the cache still saves the join with the company and answers
    known-revoked keys and guesses without a query. A copy found stale is overwritten.
    """
    row = _revocation_row(cached.pk)
    if row is None:
        api_key_cache_overwrite(cached, deleted=True)
        return None
    cached.revoked_at, cached.last_used_at = row
    if cached.is_revoked:
        api_key_cache_overwrite(cached)
    return cached


def _revocation_row(pk: str) -> tuple[Any, Any] | None:
    if connection.vendor != "postgresql":  # SQLite's cursor returns dates as text
        return ApiKey.objects.filter(pk=pk).values_list("revoked_at", "last_used_at").first()
    with connection.cursor() as cursor:  # building the ORM's query cost ~0.3 ms more
        cursor.execute(LIVE_KEY_SQL, [pk])
        return cursor.fetchone()


def api_key_from_database(digest: str) -> ApiKey | None:
    """The key with its company, read from the database and put in the shared cache.

    Every API request authenticates, and the lookup was a third of a poll's database
    time, so authenticate() reads the cache first. Entries are only ever added when
    absent (`add`), while a revocation or a deletion overwrites the entry (`set`,
    steve.services): a key read here before a revocation cannot replace the revoked
    entry afterwards, so a revocation takes effect on the next request in every process.
    """
    api_key = ApiKey.objects.select_related("company").filter(digest=digest).first()
    if api_key is not None and settings.API_KEY_CACHE_SECONDS:
        cache_call("add", api_key_cache_key(digest), api_key, settings.API_KEY_CACHE_SECONDS)
    return api_key
