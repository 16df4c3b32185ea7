"""API key authentication: Bearer, X-API-Key or `Authorization: api-key`."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from steve.models import ApiKey
from steve.services import API_KEY_PREFIX, api_key_cache_key, api_key_digest

# Writing last_used_at on every request would add a write to every read; a minute's
# precision is what an operator needs to see which keys are alive.
LAST_USED_PRECISION = timedelta(minutes=1)
API_KEY_CACHE_SECONDS = 60


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
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        api_key = cached_api_key(api_key_digest(raw))
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        if api_key.is_revoked:
            raise RevokedKey()
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
        if not ApiKeyAuthentication.needs_touch(api_key):
            return
        now = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        cache.set(api_key_cache_key(api_key.digest), api_key, API_KEY_CACHE_SECONDS)


def cached_api_key(digest: str) -> ApiKey | None:
    """The key with its company, from the shared cache when possible.

    Every API request authenticates, and the lookup was a third of a poll's database
    time. The cache is shared (Redis) and every change to a key or its company deletes
    the entry (steve.signals), so a revocation still takes effect on the next request.
    """
    key = api_key_cache_key(digest)
    api_key = cache.get(key)
    if api_key is None:
        api_key = ApiKey.objects.select_related("company").filter(digest=digest).first()
        if api_key is not None:
            cache.set(key, api_key, API_KEY_CACHE_SECONDS)
    return api_key
