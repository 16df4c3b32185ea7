"""`Idempotency-Key` on creates: a retried create returns the first result, never a twin.

Apply `@idempotent(scope=...)` to a DRF view's create method. Without the header the
request runs as usual. With it:

- the first request claims the key (an `in_flight` IdempotencyKey row, committed at
  once so that concurrent requests see it: the unique (company, environment, key)
  constraint makes exactly one of two racing requests the owner);
- when the create succeeds (2xx) its status, JSON body (as text, so that the replay is
  the same bytes) and `Location` are stored (`done`) and any later request with the
  same key and the same request gets them back, with `X-Idempotent-Replay: true`; a `secret` in the body is stored (and replayed) as
  `null` with `secretRedacted: true`: secrets are shown once;
- the same key while the first request still runs is a 409 `IDEMPOTENCY_KEY_IN_FLIGHT`
  (with `Retry-After`); the same key with a different request (method, path, body) is a
  422 `IDEMPOTENCY_KEY_REUSED`;
- a create that fails (4xx, 5xx or an exception) releases the key: nothing was made,
  and the client must be able to retry, whether with the same request after a server
  error or with a corrected one after a validation error;
- keys are per company and environment, as what they protect is: every API key of the
  company in that environment shares them (a retry through the key rotated in replays
  what the old key made, never makes a twin), another company's or environment's never
  does; deleting the API key that made one keeps it;
- keys are kept `IDEMPOTENCY_KEY_TTL` (7 days; beat's hourly `purge_idempotency_keys`
  deletes older ones, and an older row still present counts as absent); an `in_flight`
  row older than `IDEMPOTENCY_IN_FLIGHT_TIMEOUT` is taken to be left by a crashed process
  and may be claimed again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import QueryDict
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder as DrfJSONEncoder

from steve.api.errors import ApiProblem
from steve.blips import is_database_blip
from steve.models import ApiKey, IdempotencyKey

HEADER = "Idempotency-Key"
REPLAY_HEADER = "X-Idempotent-Replay"
MAX_KEY_LENGTH = 255
CLAIM_ATTEMPTS = 3
HASH_CHUNK = 1024 * 1024

ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Response])


def idempotent(
    *, scope: str, replay_status: int | None = None
) -> Callable[[ViewMethod], ViewMethod]:
    """Make a DRF view method honour `Idempotency-Key`.

    `scope` names the kind of resource (it is part of the fingerprint, so one key used
    on two kinds of create is a reuse). `replay_status` replaces the stored status on a
    replay where an API documents one (seed 003: extraction jobs replay with 200).
    """

    def decorate(method: ViewMethod) -> ViewMethod:
        @functools.wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            raw = request.headers.get(HEADER)
            if raw is None:
                return method(view, request, *args, **kwargs)
            key = valid_key(raw)
            row = claim(request.auth, key, request_fingerprint(request, scope))
            if row.state == IdempotencyKey.State.DONE:
                return replay(row, replay_status)
            return run_claimed(row, lambda: method(view, request, *args, **kwargs))

        wrapper.idempotency_scope = scope  # type: ignore[attr-defined]  # read by the schema
        return wrapper  # type: ignore[return-value]

    return decorate


def valid_key(raw: str) -> str:
    key = raw.strip()
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiProblem(
            400,
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters.",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return key


def request_fingerprint(request: Request, scope: str) -> str:
    """SHA-256 of scope, method, path and the parsed body (not its raw bytes).

    The parsed body, because a retried multipart upload carries a new boundary: its
    bytes differ while the request is the same. Key order in JSON does not matter.
    """
    body = json.dumps(_canonical(request.data), sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256()
    for part in (scope, request.method or "", request.get_full_path(), body):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, QueryDict):
        return {key: [_canonical(v) for v in value.getlist(key)] for key in value}
    if isinstance(value, UploadedFile):
        return {"file": value.name, "size": value.size, "sha256": _file_digest(value)}
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    return value


def _file_digest(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks(HASH_CHUNK):
        digest.update(chunk)
    upload.seek(0)  # the view reads the file after us
    return digest.hexdigest()


def claim(api_key: ApiKey, key: str, fingerprint: str) -> IdempotencyKey:
    """The caller's own new in-flight row, or the finished row to replay; else a problem.

    The key is looked up in the API key's company and environment, not the API key's own.
    """
    scope = {"company_id": api_key.company_id, "environment": api_key.environment, "key": key}
    for _ in range(CLAIM_ATTEMPTS):
        try:
            # Its own transaction, committed now: racing requests must see the claim.
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    **scope, api_key=api_key, fingerprint=fingerprint
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(**scope).first()
        if existing is None:
            continue  # released by a failed first request since our insert: try again
        if _expired(existing):
            _delete(existing)
            continue
        if existing.fingerprint != fingerprint:
            raise reused_problem()
        if existing.state == IdempotencyKey.State.DONE or _take_over(existing):
            return existing
        raise in_flight_problem()
    raise in_flight_problem()


def _expired(row: IdempotencyKey) -> bool:
    return row.created_at <= timezone.now() - settings.IDEMPOTENCY_KEY_TTL


def _delete(row: IdempotencyKey) -> None:
    # Conditional on created_at: never delete a fresh claim made by someone else.
    IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()


def _release(row: IdempotencyKey) -> None:
    """The failed create's key, freed for the retry. When the create lost the database
    (PostgreSQL restarting), its connection is of no use: the key stayed in flight for
    IDEMPOTENCY_IN_FLIGHT_TIMEOUT and the retry the 503 asks for was a 409. A new
    connection frees it when the database already answers again (a restart's dropped
    connections); one still down leaves it to that timeout, as before."""
    try:
        _delete(row)
    except DatabaseError as error:
        # The caller's transaction is not ours to drop.
        if not is_database_blip(error) or connection.in_atomic_block:
            raise
        connection.close()
        _delete(row)


def _take_over(row: IdempotencyKey) -> bool:
    """Claim an in-flight row whose request died; one of several racing takers wins."""
    now = timezone.now()
    if row.created_at > now - settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT:
        return False
    taken = IdempotencyKey.objects.filter(
        pk=row.pk, state=IdempotencyKey.State.IN_FLIGHT, created_at=row.created_at
    ).update(created_at=now)
    row.created_at = now
    return taken == 1


def run_claimed(row: IdempotencyKey, create: Callable[[], Response]) -> Response:
    try:
        response = create()
    except BaseException:
        _release(row)
        raise
    if 200 <= response.status_code < 300 and hasattr(response, "data"):
        IdempotencyKey.objects.filter(pk=row.pk).update(
            state=IdempotencyKey.State.DONE,
            response_status=response.status_code,
            response_body=stored_body(response.data),
            response_location=response.get("Location", ""),
        )
    else:
        _delete(row)
    return response


SECRET_FIELDS = {"secret"}


def redacted(data: Any) -> Any:
    """The response as stored for replays: a secret is shown once, never kept or replayed.

    Each secret becomes null, and its object says `secretRedacted: true`.
    """
    if isinstance(data, list):
        return [redacted(item) for item in data]
    if not isinstance(data, dict):
        return data
    out = {key: redacted(value) for key, value in data.items()}
    for name in SECRET_FIELDS & out.keys():
        if out[name] is not None:
            out[name] = None
            out[f"{name}Redacted"] = True
    return out


def stored_body(data: Any) -> str:
    """The body kept for replays, as JSON text in the order the answer had it: stored as
    jsonb, an object's keys came back shortest first, and the replay reordered them."""
    return json.dumps(redacted(data), cls=DrfJSONEncoder, ensure_ascii=False)


def replay(row: IdempotencyKey, replay_status: int | None) -> Response:
    headers = {REPLAY_HEADER: "true"}
    if row.response_location:  # where the first answer said the resource is
        headers["Location"] = row.response_location
    # Parsed into dicts that keep the stored order, the body renders to the first
    # answer's bytes (a secret aside, redacted).
    body = None if row.response_body is None else json.loads(row.response_body)
    return Response(body, status=replay_status or row.response_status, headers=headers)


def in_flight_problem() -> ApiProblem:
    return ApiProblem(
        409,
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        code="IDEMPOTENCY_KEY_IN_FLIGHT",
        slug="idempotency-key-in-flight",
        headers={"Retry-After": "1"},
    )


def reused_problem() -> ApiProblem:
    return ApiProblem(
        422,
        "This Idempotency-Key was already used for a different request; "
        "use a new key for a new request.",
        code="IDEMPOTENCY_KEY_REUSED",
        slug="idempotency-key-reused",
    )
