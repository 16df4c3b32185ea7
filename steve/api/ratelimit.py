"""Per-API-key rate limits in fixed one-minute windows (STEVE-API.md, "Rate limits").

Each view declares its bucket, so a renamed or moved route keeps it: reads (GET, HEAD)
spend `read`; writes spend the view's `throttle_scope` (`session`, `submit`,
`webhook_test`, `upload`), else the shared `write` bucket (review actions, fraud
resolution, webhook endpoint writes). A view with `poll_scope_kwarg` also spends that
polled session's or job's own `poll` bucket, so one runaway poller cannot eat the
key's whole `read` budget.

OPTIONS spends nothing (steve.api.options answers it: which methods a route takes is
no work and no secret). Requests without a valid key (401, unknown routes, refused
upload URLs, the schema) are counted per client address in the `anonymous` bucket. It is the API's only per-address limit (failed sign-ins have theirs: steve.loginlimit):
once an address has spent it, authentication refuses that address's unknown keys without
looking them up (steve.api.auth), so guessing keys costs no database query. A revoked
key is a key Steve knows: its 403s spend that key's own `revoked` bucket, so a stale
revoked key cannot spend its address's `anonymous` bucket and lock out the live keys
sent from the same address.

Counters live in Redis when REDIS_URL is set (one Lua call per request: INCR and, for a
new window, PEXPIRE, atomically), so every web process shares them; without Redis they
fall back to the local-memory cache, which is right for the one-process embedded setup.
The window starts with a bucket's first request and its end comes from Redis' own
clock (PTTL), so web processes with skewed clocks still agree on it.

The throttle runs after authentication (DRF order). The middleware copies the applied
bucket's state to `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
(Unix seconds) and `X-RateLimit-Bucket` on every /api/v1/ response, errors included;
where a request spends two buckets (a poll) it reports the tighter one.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from steve import redis_pause
from steve.clientip import client_address
from steve.middleware import API_PREFIX

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

    from steve.api.errors import ApiProblem

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
BUCKETS = (
    "read",
    "session",
    "submit",
    "write",
    "webhook_test",
    "poll",
    "upload",
    "anonymous",
    "revoked",
)
# Used when settings.RATE_LIMITS leaves a bucket out.
DEFAULT_LIMITS = {
    "read": 300,
    "session": 60,
    "submit": 20,
    "write": 120,
    "webhook_test": 10,
    "poll": 60,
    "upload": 300,
    "anonymous": 120,
    "revoked": 120,
}
READ_METHODS = frozenset({"GET", "HEAD"})
FREE_METHODS = frozenset({"OPTIONS"})  # counted in no bucket (steve.api.options)

# Names of the view attributes the buckets are read from (a class or function view).
SCOPE_ATTR = "throttle_scope"
POLL_ATTR = "poll_scope_kwarg"

REQUEST_ATTR = "steve_rate_limit"
KEY_PREFIX = "steve:rl:"

# INCR the counters and start the window of any that is new; returns count, ms left.
# Counts the request in every bucket it touches, or, when one of them is full, in none:
# a poll refused by its job's `poll` bucket spent the key's `read` allowance too, and one
# runaway poller then refused every GET of the key. A full bucket reports count = limit +
# 1 (exceeded); the others report their count unchanged.
INCR_SCRIPT = """
local counts = {}
local full = false
for i, key in ipairs(KEYS) do
  counts[i] = tonumber(redis.call('GET', key) or '0')
  if counts[i] >= tonumber(ARGV[i + 1]) then full = true end
end
local out = {}
for i, key in ipairs(KEYS) do
  local count
  local ttl
  if full then
    count = counts[i]
    if count >= tonumber(ARGV[i + 1]) then count = count + 1 end
    ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = tonumber(ARGV[1]) end
  else
    count = redis.call('INCR', key)
    ttl = redis.call('PTTL', key)
    if count == 1 or ttl < 0 then
      redis.call('PEXPIRE', key, ARGV[1])
      ttl = tonumber(ARGV[1])
    end
  end
  out[#out + 1] = count
  out[#out + 1] = ttl
end
return out
"""


@dataclass(frozen=True)
class BucketState:
    bucket: str
    limit: int
    count: int
    reset_at: float  # Unix seconds when the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.reset_at - now))


def routed_view(request: HttpRequest) -> Any:
    """The view the request was routed to: a class for class-based views, else the function."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    return getattr(match.func, "view_class", None) or getattr(match.func, "cls", None) or match.func


def buckets_for(request: HttpRequest) -> list[tuple[str, str]]:
    """(bucket, scope) pairs the request spends; the scope is what the counter is per."""
    view = routed_view(request)
    if view is None:
        return []
    method = request.method or "GET"
    if method in FREE_METHODS:
        return []
    if method in READ_METHODS:
        pairs = [("read", "")]
    else:
        pairs = [(getattr(view, SCOPE_ATTR, None) or "write", "")]
    poll_kwarg = getattr(view, POLL_ATTR, None)
    kwargs = request.resolver_match.kwargs
    if poll_kwarg and method in READ_METHODS and poll_kwarg in kwargs:
        pairs.append(("poll", str(kwargs[poll_kwarg])))
    return pairs


def rate_limit_errors(limits: Any) -> list[str]:
    """What is wrong with a company's overrides (Company.rate_limits), which limit_for
    would otherwise ignore without a word: an object of bucket -> requests a minute."""
    if not isinstance(limits, dict):
        return ['An object of bucket name to requests per minute, e.g. {"read": 600}.']
    errors = []
    for bucket, value in limits.items():
        if bucket not in DEFAULT_LIMITS:
            errors.append(f"{bucket!r} is no bucket (buckets: {', '.join(DEFAULT_LIMITS)}).")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(f"{bucket}: a whole number of requests per minute, at least 1.")
    return errors


def limit_for(bucket: str, company_limits: Any) -> int:
    """The company's override when it is a positive whole number, else the setting."""
    if isinstance(company_limits, dict):
        value = company_limits.get(bucket)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    configured = getattr(settings, "RATE_LIMITS", {}) or {}
    return int(configured.get(bucket, DEFAULT_LIMITS[bucket]))


def counter_key(api_key_id: str, bucket: str, scope: str) -> str:
    return f"{KEY_PREFIX}{bucket}:{api_key_id}" + (f":{scope}" if scope else "")


class _RedisCounter:
    """One Lua round trip per request, over a client made once per process."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        # Short timeouts: a slow Redis must not stall every API request behind it.
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            connection_class=redis_pause.connection_class(url),
        )
        self.script = self.client.register_script(INCR_SCRIPT)

    def incr(self, keys: list[str], window_ms: int, limits: list[int]) -> list[tuple[int, int]]:
        raw = self.script(keys=keys, args=[window_ms, *limits])
        return [(int(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]

    def peek(self, key: str) -> tuple[int, int]:
        """The counter and its ms left, without counting; (0, -1) when there is none."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        count, ttl = pipe.execute()
        return int(count or 0), int(ttl)


class _CacheCounter:
    """The local-memory fallback: add-then-incr with the window end stored beside it."""

    def incr(self, keys: list[str], window_ms: int, limits: list[int]) -> list[tuple[int, int]]:
        """As INCR_SCRIPT: every bucket counts the request, or, when one is full, none.
        Not atomic across buckets (one process's memory; the dev server)."""
        now = time.time()
        timeout = window_ms / 1000
        for key in keys:
            cache.add(key, 0, timeout=timeout)
            cache.add(key + ":end", now + timeout, timeout=timeout)
        counts = [int(cache.get(key, 0)) for key in keys]
        full = any(count >= limit for count, limit in zip(counts, limits, strict=True))
        out = []
        for key, count, limit in zip(keys, counts, limits, strict=True):
            end_at = cache.get(key + ":end", now + timeout)
            if full:
                count = count + 1 if count >= limit else count
            else:
                try:
                    count = cache.incr(key)
                except ValueError:  # expired between the calls: a new window
                    cache.set(key, 1, timeout=timeout)
                    count = 1
            out.append((count, max(0, int((end_at - now) * 1000))))
        return out

    def peek(self, key: str) -> tuple[int, int]:
        count = cache.get(key, 0)
        end_at = cache.get(key + ":end")
        ttl = -1 if end_at is None else max(0, int((end_at - time.time()) * 1000))
        return int(count), ttl


_counter_lock = threading.Lock()
_counter: _RedisCounter | _CacheCounter | None = None


def counter() -> _RedisCounter | _CacheCounter:
    """The process's counter backend, rebuilt if REDIS_URL changed (tests switch it)."""
    global _counter
    url = getattr(settings, "REDIS_URL", "")
    with _counter_lock:
        current = _counter
        wanted_redis = bool(url)
        if (
            current is None
            or isinstance(current, _RedisCounter) != wanted_redis
            or (isinstance(current, _RedisCounter) and current.url != url)
        ):
            current = _RedisCounter(url) if wanted_redis else _CacheCounter()
            _counter = current
    return current


def hit(request: HttpRequest, api_key: Any) -> list[BucketState]:
    """Count the request in each of its buckets; [] when there is nothing to count."""
    pairs = buckets_for(request)
    if not pairs:
        return []
    return _spend(str(api_key.pk), pairs, api_key.company.rate_limits)


def _spend(owner: str, pairs: list[tuple[str, str]], company_limits: Any) -> list[BucketState]:
    keys = [counter_key(owner, bucket, scope) for bucket, scope in pairs]
    limits = [limit_for(bucket, company_limits) for bucket, _ in pairs]
    window_ms = WINDOW_SECONDS * 1000
    try:
        results = counter().incr(keys, window_ms, limits)
    except Exception:
        # Fail open: losing rate limiting for a moment beats failing every API call.
        redis_pause.log_failure(logger, "rate limit counter unavailable; request not limited")
        return []
    now = time.time()
    return [
        BucketState(bucket, limit, count, now + ttl_ms / 1000)
        for (bucket, _), limit, (count, ttl_ms) in zip(pairs, limits, results, strict=True)
    ]


def tightest(states: list[BucketState]) -> BucketState:
    """The state to report: an exceeded bucket first, then the one with least left."""
    return min(states, key=lambda s: (not s.exceeded, s.remaining, -s.reset_at))


def rate_limit_headers(state: BucketState) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(state.limit),
        "X-RateLimit-Remaining": str(state.remaining),
        "X-RateLimit-Reset": str(math.ceil(state.reset_at)),
        "X-RateLimit-Bucket": state.bucket,
    }


def exceeded_problem(state: BucketState) -> ApiProblem:
    # Imported late: errors imports rest_framework.views, which imports this module.
    from steve.api.errors import ApiProblem

    now = time.time()
    wait = state.retry_after(now)
    what = "this job's polling" if state.bucket == "poll" else f"the {state.bucket!r}"
    return ApiProblem(
        429,
        f"Rate limit exceeded for {what} bucket ({state.limit} requests per minute); "
        f"retry in {wait} s.",
        headers={"Retry-After": str(wait), **rate_limit_headers(state)},
        extra={"bucket": state.bucket, "limit": state.limit, "retryAfter": wait},
    )


class BucketRateThrottle(BaseThrottle):
    """DRF throttle: counts authenticated API requests, refuses with a 429 problem."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.auth is None:
            return True
        problem = count(request._request, request.auth)
        if problem is not None:
            raise problem
        return True


def count(request: HttpRequest, api_key: Any) -> ApiProblem | None:
    """Count an authenticated request; the 429 problem when a bucket is exceeded.

    The bucket state is left on the request for RateLimitHeadersMiddleware.
    """
    if not getattr(settings, "RATE_LIMIT_ENABLED", True):
        return None
    states = hit(request, api_key)
    if not states:
        return None
    state = tightest(states)
    setattr(request, REQUEST_ATTR, state)
    return exceeded_problem(state) if state.exceeded else None


def count_revoked(request: HttpRequest, api_key: Any) -> BucketState | None:
    """Count a revoked key's refusal in that key's own `revoked` bucket.

    The bucket state is left on the request for RateLimitHeadersMiddleware, which then
    does not count the request against the address's `anonymous` bucket.
    """
    if not getattr(settings, "RATE_LIMIT_ENABLED", True):
        return None
    states = _spend(str(api_key.pk), [("revoked", "")], api_key.company.rate_limits)
    if not states:
        return None
    setattr(request, REQUEST_ATTR, states[0])
    return states[0]


def _address_owner(request: HttpRequest) -> str:
    return "addr:" + client_address(request)


def count_anonymous(request: HttpRequest) -> BucketState | None:
    """Count a request that no API key answers for, per client address."""
    states = _spend(_address_owner(request), [("anonymous", "")], None)
    return states[0] if states else None


def anonymous_spent(request: HttpRequest) -> BucketState | None:
    """This address's `anonymous` bucket when it has no request left, else None.

    Read without counting: RateLimitHeadersMiddleware counts the request afterwards.
    """
    if not getattr(settings, "RATE_LIMIT_ENABLED", True):
        return None
    key = counter_key(_address_owner(request), "anonymous", "")
    try:
        count, ttl_ms = counter().peek(key)
    except Exception:
        redis_pause.log_failure(logger, "rate limit counter unavailable; address not limited")
        return None
    limit = limit_for("anonymous", None)
    if count < limit or ttl_ms < 0:
        return None
    return BucketState("anonymous", limit, count, time.time() + ttl_ms / 1000)


class RateLimitHeadersMiddleware:
    """Put the applied bucket's state on every /api/v1/ response, errors included.

    A request no key was counted for spends the `anonymous` bucket here, after the
    fact; past its limit an error answer (which changed nothing) becomes the 429.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        state: BucketState | None = getattr(request, REQUEST_ATTR, None)
        if state is None and self._counts(request):
            state = count_anonymous(request)
            if state is not None and state.exceeded and response.status_code >= 400:
                from steve.api.errors import problem_json_response

                response = problem_json_response(request, exceeded_problem(state))
        if state is not None:
            for name, value in rate_limit_headers(state).items():
                response[name] = value
        return response

    @staticmethod
    def _counts(request: HttpRequest) -> bool:
        enabled = getattr(settings, "RATE_LIMIT_ENABLED", True)
        return (
            enabled and request.path.startswith(API_PREFIX) and request.method not in FREE_METHODS
        )
