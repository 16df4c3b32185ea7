"""Views of the core: health check, local-storage downloads, the OpenAPI schema, API error
handlers."""

import functools
import logging
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.core.files.storage import default_storage, storages
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from storages.backends.s3 import S3Storage

from steve.api.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    database_unavailable_problem,
    problem_for_status,
    problem_json_response,
    unknown_param_problems,
)
from steve.api.query import accepted_params
from steve.blips import is_database_blip
from steve.celery import app
from steve.middleware import API_PREFIX
from steve.storage import download_disposition, unsign_token, using_s3

logger = logging.getLogger(__name__)
# A health check answers in seconds even when a dependency hangs: the broker's connect
# and its first answer (the transport's ping) each within this. Without its own socket
# timeouts the ping waited the broker's (3 s, settings), not this.
BROKER_TIMEOUT_SECONDS = 2


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("healthz", "ok", timeout=10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("the cache did not keep a value")


def _broker() -> None:
    timeouts = {
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    }
    with app.connection_for_write(settings.CELERY_BROKER_URL, transport_options=timeouts) as broker:
        broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)


# The storage's own client (settings.S3_CLIENT_CONFIG) waits up to 3 s to connect and 8 s
# to read, twice: a hanging S3 would have held /healthz past the container check's 5 s
# wait (compose.yaml), and taken the process out as if it were dead. The storage is
# checked beside the cache and the broker (healthz), so a check where all three hang
# answers in about 3 s: one after the other (0.5 + 2 + 3 s) it was past that wait.
STORAGE_CONNECT_TIMEOUT_SECONDS = 1
STORAGE_READ_TIMEOUT_SECONDS = 2
S3_PROBE_CONFIG = BotoConfig(
    connect_timeout=STORAGE_CONNECT_TIMEOUT_SECONDS,
    read_timeout=STORAGE_READ_TIMEOUT_SECONDS,
    retries={"total_max_attempts": 1},
)


@functools.lru_cache(maxsize=1)
def _s3_probe_for(storage: S3Storage) -> Any:
    # Made once per storage (a client costs tens of milliseconds to build), with the
    # storage's own credentials, endpoint and addressing: what the uploads use.
    session = boto3.Session(
        aws_access_key_id=storage.access_key,
        aws_secret_access_key=storage.secret_key,
        aws_session_token=storage.security_token,
    )
    return session.client(
        "s3",
        region_name=storage.region_name,
        use_ssl=storage.use_ssl,
        endpoint_url=storage.endpoint_url,
        verify=storage.verify,
        config=storage.client_config.merge(S3_PROBE_CONFIG),
    )


def s3_probe() -> Any:
    """An S3 client to the storage's bucket that gives up within the health check's time."""
    return _s3_probe_for(storages["default"])


def _storage() -> None:
    if using_s3():
        # Wrong credentials, a missing bucket or an S3 out of reach: each upload would
        # fail the same way. HeadBucket needs s3:ListBucket on the bucket.
        s3_probe().head_bucket(Bucket=default_storage.bucket_name)
        return
    # Created as the first upload would create it; written to, as an upload would be.
    folder = Path(default_storage.location)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-"):
        pass


HEALTH_CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "cache": _cache,
    "broker": _broker,
}
# Checked in a thread of its own while the others run: S3 shares none of their sockets,
# and its wait is the longest. Not the cache nor the database, whose connections are
# the thread's own (a thread per request would open new ones each time).
SIDE_CHECKS: dict[str, Callable[[], None]] = {"storage": _storage}


# Without these the web process answers nothing useful: a 503 takes it out of the load
# balancer. Redis (cache and broker) is ridden out: a submit's task waits in the outbox,
# keys are read from the database and rate limits fail open. Had its outage been a 503,
# every web process would have left the load balancer at once, and the API with them.
# The storage likewise: S3 is shared by every process, so a 503 would take them all out,
# though what needs no file (sessions' status, results, the review desk's lists) still
# answers, and what does answers 503 STORAGE_UNAVAILABLE with a Retry-After itself.
REQUIRED = frozenset({"database"})


def _state(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception:  # any failure of a dependency is "down", never a 500
        logger.warning("Health check: the %s is down", name, exc_info=True)
        return "down"
    return "ok"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Each dependency on its own, `ok` or `down` (what failed is logged, never shown):
    200 `ok`; 200 `degraded` while only Redis or the file storage is down; 503
    `unavailable` without the database."""
    with ThreadPoolExecutor(max_workers=len(SIDE_CHECKS)) as pool:
        beside = {name: pool.submit(_state, name, check) for name, check in SIDE_CHECKS.items()}
        report = {name: _state(name, check) for name, check in HEALTH_CHECKS.items()}
        report.update({name: state.result() for name, state in beside.items()})
    down = {name for name, state in report.items() if state != "ok"}
    status = "unavailable" if down & REQUIRED else "degraded" if down else "ok"
    return JsonResponse({"status": status, **report}, status=503 if down & REQUIRED else 200)


@require_GET
def download(request: HttpRequest, token: str) -> HttpResponse:
    """Serve a stored file for a signed, expiring link (local storage only)."""
    try:
        payload = unsign_token("download", token, settings.DOWNLOAD_URL_TTL)
    except signing.SignatureExpired:
        return problem_for_status(request, 410, "This download link has expired.")
    except signing.BadSignature:
        return problem_for_status(request, 403, "This download link is not valid.")
    key = payload.get("k", "")
    if not default_storage.exists(key):
        return problem_for_status(request, 404, "The file is no longer stored.")
    content_type = payload.get("t") or "application/octet-stream"
    response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
    response["Content-Disposition"] = download_disposition(payload.get("n") or "")
    response["Cache-Control"] = "private, max-age=0, no-store"
    return response


# drf-spectacular imports each extension's target class on first use, unguarded: two
# threads building a schema at once (the development server's gthread worker, a test's
# concurrent clients) saw an extension for an app not installed half loaded, and one
# answered 500 ('NoneType' object has no attribute 'startswith'). One build at a time.
SCHEMA_BUILD_LOCK = threading.Lock()


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema (/api/v1/schema), refusing a query parameter it does not take
    as every /api/v1/ operation does (steve.api.query), but for drf-spectacular's `lang`:
    its docs page (/api/docs) passes its own ?lang on to the schema's URL, which was
    refused, and the page loaded no schema. With USE_I18N off the schema has one
    language, so `lang` changes nothing, as `format` and Accept pick no other content.
    Not spectacular's `version`: Steve does no DRF versioning (the API's version is its
    path), so it only relabelled the one schema ("1.0.0 (2)"), and a client asking for
    another version's schema was given this one as if it were that."""

    # `format` is taken everywhere (steve.api.errors.unknown_param_problems), but here it
    # picks json or yaml, so a refusal names it: "it takes lang." hid ?format=yaml.
    accepted_query_params = {"get": ("format", "lang")}

    # Not in its own paths (SERVE_INCLUDE_SCHEMA is off): the override lost the parent's
    # exclusion, and the schema documented itself.
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        # accepted_query_params tells steve.api.query to leave the refusal to the view.
        accepted = accepted_params(self, request.method or "GET")
        if problems := unknown_param_problems(request.query_params, accepted):
            raise problems[0]
        with SCHEMA_BUILD_LOCK:
            return super().get(request, *args, **kwargs)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # What Django refuses before any view (a Host it does not serve, a malformed header):
    # its HTML page reached API clients, past ApiProblemMiddleware.
    if f"{request.path}/".startswith(API_PREFIX):
        if isinstance(exception, DisallowedHost):
            return problem_for_status(
                request, 400, "Steve does not serve this Host.", code="INVALID_HOST"
            )
        return problem_for_status(request, 400, "The request is malformed.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # "/api/v1" without its slash is the API's root too: an API client gets a problem.
    if f"{request.path}/".startswith(API_PREFIX):
        return problem_for_status(request, 404, "The requested resource does not exist.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


# Plain HTML with nothing to look up: the database is what failed.
DATABASE_UNAVAILABLE_PAGE = (
    "<!doctype html><title>Steve is unavailable</title><h1>Steve is unavailable</h1>"
    "<p>The database did not answer. Try again in a few seconds.</p>"
)


def handler500(request: HttpRequest) -> HttpResponse:
    # Django calls this while it handles the view's exception.
    error = sys.exception()
    if request.path.startswith(API_PREFIX):
        if error is not None and is_database_blip(error):
            return problem_json_response(request, database_unavailable_problem(error))
        return problem_for_status(request, 500, "Steve could not complete the request.")
    if error is not None and is_database_blip(error):
        retry_after = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
        return HttpResponse(DATABASE_UNAVAILABLE_PAGE, status=503, headers=retry_after)
    from django.views.defaults import server_error

    return server_error(request)
