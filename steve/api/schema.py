"""OpenAPI 3 for Steve's API (drf-spectacular): the shared helpers and the hooks.

Each app owns its contract beside its views (`<app>/api/schema.py`): its wire schemas
(the `components`, named after the seeds' objects), enums derived from its models'
choices, seed examples, the problem codes it answers with, and one `docs(...)` per
operation that its views carry with `extend_schema_view`. The apps register their
components and problem codes here (`register_components`, `register_problems`) when
their schema module is imported, which their `AppConfig.ready` does. This module names
no app: it keeps the helpers (`obj`, `ref`, `nullable`, `docs`), the problem shape, the
codes of the API's own plumbing (auth, parsing, idempotency, rate limits), and the hooks.

`finish_schema`, the post-processing hook, adds the registered components, turns each
operation's codes (`x-steve-problems`) into `application/problem+json` responses with
one example per code, adds the responses every authenticated operation can give (401,
403, 429; 411 to every write) and the headers every response carries (`Request-Id`, `X-RateLimit-*`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.db.models import TextChoices
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from steve.api.bodysize import DEFAULT_MAX_BODY_BYTES
from steve.api.errors import DEFAULTS, PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from steve.api.idempotency import MAX_KEY_LENGTH
from steve.api.ratelimit import DEFAULT_LIMITS as RATE_LIMIT_BUCKETS
from steve.middleware import API_PREFIX

PROBLEMS_KEY = "x-steve-problems"
SECURITY = [{"bearerAuth": []}, {"apiKeyHeader": []}, {"apiKeyAuthorization": []}]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# null and nothing else, under OpenAPI 3.0.3 (a typed nullable schema whose one value is
# null): the other branch of a nullable reference.
NULL_ONLY: dict[str, Any] = {"type": "string", "nullable": True, "enum": [None]}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null, spelled so that OpenAPI 3.0 tools honour it.

    3.0 ignores `nullable` beside a `$ref`, and 3.0.3 gives `nullable` effect only beside
    a `type` in the same schema object: `{allOf: [$ref], nullable: true}` still held null
    to the referenced schema, so openapi-core refused every null the API answers there
    (a seed's `"resolution": null`). So a reference is one branch of an `anyOf` whose
    other branch is null alone (`nullable` kept beside it for the tools that read only
    that). A nullable enum must list null among its values, or validators and generated
    clients refuse the null they were promised.
    """
    if "$ref" in schema:
        return {"anyOf": [schema, NULL_ONLY], "nullable": True}
    if "enum" in schema and None not in schema["enum"]:
        return {**schema, "enum": [*schema["enum"], None], "nullable": True}
    return {**schema, "nullable": True}


STRING = {"type": "string"}
DATETIME = {"type": "string", "format": "date-time", "example": "2026-03-25T10:00:00.000Z"}
FREE_OBJECT = {"type": "object", "additionalProperties": True}


def choices(text_choices: type[TextChoices]) -> list[str]:
    """A model's TextChoices as an enum's values, in their declared order."""
    return [c.value for c in text_choices]


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    names = list(properties) if required is None else required
    if names:  # OpenAPI 3.0 forbids an empty `required`
        schema["required"] = names
    return schema


# Marks a response member Steve answers beyond its published contract (STEVE-API.md, and
# seed 000 for the poll): additive and compatible, listed in docs/api.md ("Members beyond
# STEVE-API.md"); tests/steve/test_contract_members.py holds the two together.
ADDITIVE_KEY = "x-steve-additive"


def additive(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, marked as a member beyond the published contract (ADDITIVE_KEY)."""
    return {**schema, ADDITIVE_KEY: True}


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """A request body that refuses a member it does not list (422 `unknown_field`)."""
    return {**schema, "additionalProperties": False}


PAGINATION = obj({"hasMore": {"type": "boolean"}, "nextCursor": nullable(STRING)})
PROBLEM = obj(
    {
        "type": {"type": "string", "format": "uri", "example": PROBLEM_BASE + "not-found"},
        "title": STRING,
        "status": {"type": "integer"},
        "detail": STRING,
        "instance": nullable(STRING),
        "code": additive({"type": "string", "description": "Stable upper-case error code"}),
        "requestId": nullable(STRING),
        "errors": {
            "type": "array",
            "items": obj({"field": STRING, "message": STRING, "code": STRING}),
        },
        "currentStatus": additive({"type": "string", "description": "On a refused review action"}),
        "bucket": additive({"type": "string", "description": "On a 429: the exhausted bucket"}),
        "limit": additive(
            {"type": "integer", "description": "On a 429: the bucket's limit per minute"}
        ),
        "retryAfter": additive({"type": "integer", "description": "On a 429: seconds to wait"}),
        "success": additive(
            {"type": "boolean", "description": "Extraction jobs (seed 003): false"}
        ),
        "error": additive(
            {
                "type": "object",
                "properties": {"code": STRING, "message": STRING},
                "description": "Extraction jobs (seed 003): the peers' error member",
            }
        ),
    },
    required=["type", "title", "status", "detail", "instance", "code", "requestId"],
)


def listing(item: str) -> dict[str, Any]:
    return obj({"data": {"type": "array", "items": ref(item)}, "pagination": ref("Pagination")})


# ---- the registry the apps fill (see the module docstring) ----

COMPONENTS: dict[str, dict[str, Any]] = {"Problem": PROBLEM, "Pagination": PAGINATION}
# Every problem code, with the status it comes with and when: the error catalogue.
PROBLEM_CODES: dict[str, tuple[int, str]] = {}
# A code's problem `type` slug, where it is not its status's default.
SLUGS: dict[str, str] = {}
# Members a code's example adds to the problem shape (its extension members).
EXAMPLE_MEMBERS: dict[str, dict[str, Any]] = {}


def _claim(table: dict[str, Any], name: str, value: Any, what: str) -> None:
    """Add `name`; registering it again with another value is two owners of one name."""
    if name in table and table[name] != value:
        raise ValueError(f"{what} {name!r} is registered twice with different values")
    table[name] = value


def register_components(components: Mapping[str, dict[str, Any]]) -> None:
    """An app's named wire schemas, added to the published components."""
    for name, schema in components.items():
        _claim(COMPONENTS, name, schema, "Component")


def register_problems(
    codes: Mapping[str, tuple[int, str]],
    *,
    slugs: Mapping[str, str] | None = None,
    examples: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """An app's problem codes (status, when), their slugs and their examples' extras."""
    for code, entry in codes.items():
        _claim(PROBLEM_CODES, code, entry, "Problem code")
    for code, slug in (slugs or {}).items():
        _claim(SLUGS, code, slug, "Problem slug of")
    for code, members in (examples or {}).items():
        _claim(EXAMPLE_MEMBERS, code, members, "Problem example of")


# The codes of the API's own plumbing: parsing, auth, idempotency, pages, rate limits.
CORE_PROBLEMS: dict[str, tuple[int, str]] = {
    "BAD_REQUEST": (400, "The request is malformed."),
    "INVALID_JSON": (400, "The body is not valid JSON."),
    "INVALID_MULTIPART": (400, "The multipart body could not be parsed."),
    "INVALID_CHARACTERS": (400, "Text in the path, query or body contains a NUL character."),
    "INVALID_HOST": (400, "The Host header names no host Steve serves (ALLOWED_HOSTS)."),
    "INVALID_UNICODE": (400, "Text in the JSON body has a lone surrogate (\\ud800-\\udfff)."),
    "JSON_TOO_DEEP": (400, "The JSON body nests deeper than 32 levels."),
    "TOO_MANY_FIELDS": (400, "The form has too many fields or files."),
    "INVALID_BODY": (400, "The body must be a JSON object."),
    "INVALID_LIMIT": (400, "limit is not a whole number."),
    "INVALID_FILTER": (400, "A filter has an unknown or repeated value."),
    "INVALID_PARAMETER": (
        400,
        "A query parameter the operation does not take; errors[] names each (unknown_field) "
        "and the ones it takes.",
    ),
    "INVALID_CURSOR": (400, "The cursor was not issued for this listing."),
    "INVALID_IDEMPOTENCY_KEY": (400, "Idempotency-Key is empty, too long or not ASCII."),
    "UNAUTHORIZED": (401, "No API key was sent."),
    "INVALID_API_KEY": (401, "The API key is not valid."),
    "API_KEY_REVOKED": (403, "The API key has been revoked."),
    "FORBIDDEN": (403, "The key may not do this."),
    "NOT_FOUND": (404, "The resource does not exist."),
    "CONFLICT": (409, "The request conflicts with the resource's state; retry."),
    "IDEMPOTENCY_KEY_IN_FLIGHT": (409, "A request with this Idempotency-Key is still running."),
    "LENGTH_REQUIRED": (
        411,
        "A write call or an upload needs a Content-Length header (no chunked bodies).",
    ),
    "BODY_TOO_LARGE": (
        413,
        f"The body is larger than the operation reads: {DEFAULT_MAX_BODY_BYTES:,} bytes, "
        "unless its description names another limit (refused before it is read).",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Send application/json."),
    "VALIDATION_ERROR": (422, "A field is invalid; see errors[]."),
    "IDEMPOTENCY_KEY_REUSED": (422, "This Idempotency-Key was used for a different request."),
    "RATE_LIMIT_EXCEEDED": (429, "A rate-limit bucket is exhausted; see Retry-After."),
    "INTERNAL_ERROR": (500, "Steve failed; the request can be retried."),
    "DATABASE_UNAVAILABLE": (
        503,
        "The database did not answer (restarting, or out of connections); see Retry-After.",
    ),
    "STORAGE_UNAVAILABLE": (
        503,
        "The disk or S3 refused or did not answer a write Steve made for the request "
        "(nothing was stored); see Retry-After.",
    ),
    # The proxy's own answers (deploy/nginx.conf), to any operation: no operation lists them.
    "SERVICE_UNAVAILABLE": (
        503,
        "From the proxy: no web process answered (Steve restarting); see Retry-After.",
    ),
    "UPSTREAM_TIMEOUT": (
        504,
        "From the proxy: Steve did not answer in time and may have carried the request out; "
        "see Retry-After, and send a create again with the same Idempotency-Key.",
    ),
}
register_problems(
    CORE_PROBLEMS,
    slugs={
        "IDEMPOTENCY_KEY_IN_FLIGHT": "idempotency-key-in-flight",
        "IDEMPOTENCY_KEY_REUSED": "idempotency-key-reused",
        "STORAGE_UNAVAILABLE": "storage-unavailable",
    },
    examples={
        "VALIDATION_ERROR": {
            "errors": [
                {
                    "field": "contentTypes[0]",
                    "message": "'text/plain' is not accepted.",
                    "code": "x",
                }
            ]
        },
        "RATE_LIMIT_EXCEEDED": {"bucket": "read", "limit": 300, "retryAfter": 17},
    },
)
# Answers any authenticated operation can give, whatever it does.
COMMON_PROBLEMS = {
    400: ["INVALID_CHARACTERS", "INVALID_HOST", "INVALID_PARAMETER"],  # steve.api.query
    401: ["UNAUTHORIZED", "INVALID_API_KEY"],
    403: ["API_KEY_REVOKED"],
    429: ["RATE_LIMIT_EXCEEDED"],
}
# Every write call refuses a body sent chunked, whether or not it reads one (steve.api.chunked),
# and one larger than it reads (steve.api.bodysize), and honours an Idempotency-Key
# (steve.api.idempotency; the header: IDEMPOTENCY_HEADER).
WRITE_PROBLEMS = {
    400: ["INVALID_IDEMPOTENCY_KEY"],
    409: ["IDEMPOTENCY_KEY_IN_FLIGHT"],
    411: ["LENGTH_REQUIRED"],
    413: ["BODY_TOO_LARGE"],
    422: ["IDEMPOTENCY_KEY_REUSED"],
}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
BODY_PROBLEMS = {
    400: ["INVALID_JSON", "INVALID_BODY", "INVALID_UNICODE", "JSON_TOO_DEEP"],
    413: ["BODY_TOO_LARGE"],
    415: ["UNSUPPORTED_MEDIA_TYPE"],
}

# A write call that reads no body still reads one sent to it, to refuse it
# (steve.api.errors.refuse_any_body); its schema has no request body, so it lists these.
UNREAD_BODY_PROBLEMS = {**BODY_PROBLEMS, 422: ["VALIDATION_ERROR"]}


def with_unread_body(problems: dict[int, list[str]]) -> dict[int, list[str]]:
    """An operation's own codes and those of a body it refuses (UNREAD_BODY_PROBLEMS)."""
    merged = {status: list(codes) for status, codes in problems.items()}
    for status, codes in UNREAD_BODY_PROBLEMS.items():
        merged[status] = merged.get(status, []) + codes
    return merged


def problem_slug(code: str, status: int) -> str:
    return SLUGS.get(code) or DEFAULTS[status][0]


def problem_example(code: str, path: str) -> dict[str, Any]:
    status, detail = PROBLEM_CODES[code]
    example: dict[str, Any] = {
        "type": PROBLEM_BASE + problem_slug(code, status),
        "title": DEFAULTS.get(status, DEFAULTS[400])[1],
        "status": status,
        "detail": detail,
        "instance": path,
        "code": code,
        "requestId": "req_3f9c2a7d1e8b4c05a6d7e8f9a0b1c2d3",
    }
    example.update(copy.deepcopy(EXAMPLE_MEMBERS.get(code, {})))
    return example


def problem_content(codes: list[str], path: str) -> dict[str, Any]:
    return {
        PROBLEM_CONTENT_TYPE: {
            "schema": ref("Problem"),
            "examples": {code: {"value": problem_example(code, path)} for code in codes},
        }
    }


# ---- documentation of an operation (the views carry it with extend_schema_view) ----

AUTH_HEADERS_NOTE = "Every response carries `Request-Id` and the `X-RateLimit-*` headers."


def seed_example(name: str, value: Any, *, status: int = 200, request: bool = False) -> Any:
    if request:
        return OpenApiExample(name, value=value, request_only=True)
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


def _request_body(request: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """A media-type mapping: drf-spectacular reads a bare dict as one."""
    if request is None:
        return None
    if isinstance(request, str):
        return {"application/json": ref(request)}
    if all("/" in key for key in request):
        return request
    return {"application/json": request}


def docs(
    operation_id: str,
    *,
    tag: str,
    summary: str,
    response: str | None,
    status: int = 200,
    description: str = "",
    problems: dict[int, list[str]] | None = None,
    request: str | dict[str, Any] | None = None,
    examples: list[Any] | None = None,
    parameters: list[OpenApiParameter] | None = None,
    extra_responses: dict[int, Any] | None = None,
) -> Any:
    """One operation's extend_schema: success response, examples and problem codes."""
    responses: dict[Any, Any] = {
        status: OpenApiResponse(ref(response), description="OK")
        if response
        else OpenApiResponse(description="No content")
    }
    responses.update(extra_responses or {})
    return extend_schema(
        operation_id=operation_id,
        tags=[tag],
        summary=summary,
        description=description,
        request=_request_body(request),
        responses=responses,
        examples=examples or [],
        parameters=parameters or [],
        extensions={PROBLEMS_KEY: {str(k): v for k, v in (problems or {}).items()}},
    )


# Every write call takes it (finish_schema adds it to each; docs/api.md, "Replays").
IDEMPOTENCY_HEADER: dict[str, Any] = {
    "in": "header",
    "name": "Idempotency-Key",
    # What steve.api.idempotency.valid_key takes (else 400 INVALID_IDEMPOTENCY_KEY).
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[ -~]+$",
    },
    "description": (
        f"1-{MAX_KEY_LENGTH} printable ASCII characters. "
        "Makes the call safe to retry: a replay returns the first 2xx response with "
        "`X-Idempotent-Replay: true` and does nothing again. Same key in flight: 409; "
        "with a different request (method, path or body): 422. A refused call (4xx, 5xx) "
        "releases the key. Keys are per company and environment (shared by its API "
        "keys), kept 7 days."
    ),
}
# Sent on the 200 of a job still running (docs/api.md, "Rate limits"): when to poll
# again, the body's retryAfterMs in seconds. Declared so that clients generated from the
# schema can read it; it is a hint, not a refusal.
POLL_HINT_HEADER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[200],
    description=(
        "Seconds until the next poll is worth making (the body's `retryAfterMs` / 1000); "
        "sent only while the job is not terminal"
    ),
)
PAGE_PARAMS = [
    OpenApiParameter("cursor", str, description="nextCursor of the previous page"),
    OpenApiParameter("limit", int, description="Page size, clamped to 1..100"),
]


# ---- security scheme ----


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The three accepted ways to send an `aok_` key; any one of them suffices."""

    target_class = "steve.api.auth.ApiKeyAuthentication"
    name = ["bearerAuth", "apiKeyHeader", "apiKeyAuthorization"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list]]:
        return copy.deepcopy(SECURITY)  # alternatives, not all three at once

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "aok_<64 lowercase hex>",
                "description": "`Authorization: Bearer aok_…`",
            },
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Authorization: api-key aok_…` (peer-compatible form)",
            },
        ]


# ---- hooks ----


def only_public_api(endpoints: list[tuple]) -> list[tuple]:
    """Document /api/v1/ only (not the admin, nor the review UI)."""
    return [e for e in endpoints if e[0].startswith(API_PREFIX)]


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in this window in the bucket named by X-RateLimit-Bucket",
    "X-RateLimit-Remaining": "Requests left in this window",
    "X-RateLimit-Reset": "Unix time (seconds) when the window ends",
}
HEADER_DOCS: dict[str, dict[str, Any]] = {
    "Request-Id": {
        "description": "Your X-Request-Id (<= 128 chars) echoed, or one Steve made",
        "schema": {"type": "string"},
    },
    **{
        name: {"description": text, "schema": {"type": "integer"}}
        for name, text in RATE_LIMIT_HEADERS.items()
    },
    "X-RateLimit-Bucket": {
        "description": "The bucket the X-RateLimit-* figures are of (the tighter of two on a poll)",
        "schema": {"type": "string", "enum": list(RATE_LIMIT_BUCKETS)},
    },
}


def _operation_problems(method: str, operation: dict[str, Any]) -> dict[int, list[str]]:
    declared = operation.pop(PROBLEMS_KEY, {}) or {}
    problems: dict[int, list[str]] = {int(k): list(v) for k, v in declared.items()}
    extras = [COMMON_PROBLEMS] if operation.get("security") else []
    if operation.get("security") and method in WRITE_METHODS:
        extras.append(WRITE_PROBLEMS)
    if "requestBody" in operation:
        extras.append(BODY_PROBLEMS)  # added to the common codes, not in their place
    for extra in extras:
        for status, codes in extra.items():
            problems.setdefault(status, [])
            problems[status] += [c for c in codes if c not in problems[status]]
    problems.setdefault(500, ["INTERNAL_ERROR"])
    problems.setdefault(503, [])
    problems[503] += [c for c in ["DATABASE_UNAVAILABLE"] if c not in problems[503]]
    return problems


def _add_problems(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status, codes in sorted(_operation_problems(method, operation).items()):
        described = "; ".join(f"`{c}`: {PROBLEM_CODES[c][1]}" for c in codes)
        responses[str(status)] = {
            "description": described,
            "content": problem_content(codes, path),
        }
        if status in (409, 429, 503):
            responses[str(status)]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}
            }


def _add_headers(operation: dict[str, Any], idempotent: bool) -> None:
    for status, response in operation.get("responses", {}).items():
        headers = response.setdefault("headers", {})
        for name, spec in HEADER_DOCS.items():  # on every response, errors included
            headers.setdefault(name, spec)
        if status == "201":  # RFC 9110 10.2.2: a create names the resource it made
            headers["Location"] = {
                "description": (
                    "The path of the resource made (its GET), also on a replay of the create"
                ),
                "schema": {"type": "string", "format": "uri-reference"},
            }
        if idempotent and status in ("200", "201", "202", "204"):
            headers["X-Idempotent-Replay"] = {
                "description": "`true` when this is the stored response of an earlier "
                "request with the same Idempotency-Key",
                "schema": {"type": "string", "enum": ["true"]},
            }


def _fix_security(operation: dict[str, Any]) -> None:
    if operation.get("security"):
        operation["security"] = copy.deepcopy(SECURITY)


def finish_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """Add components, problem responses and headers; see the module docstring."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(copy.deepcopy(COMPONENTS))
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            _fix_security(operation)
            if operation.get("security") and method in WRITE_METHODS:
                operation.setdefault("parameters", []).append(copy.deepcopy(IDEMPOTENCY_HEADER))
            params = operation.get("parameters", [])
            idempotent = any(p.get("name") == "Idempotency-Key" for p in params)
            _add_problems(path, method, operation)
            _add_headers(operation, idempotent)
    result["info"]["description"] = api_description()
    return result


def api_description() -> str:
    # By status, each app's codes in the order it registered them; last the codes that
    # are no HTTP answer but a failed job's `error.code` (status 200).
    catalogue = sorted(PROBLEM_CODES.items(), key=lambda item: (item[1][0] < 400, item[1][0]))
    rows = "\n".join(f"| `{code}` | {status} | {text} |" for code, (status, text) in catalogue)
    return (
        "Steve's public REST API: workflows, sessions with pre-signed uploads, polling, "
        "and submission review.\n\n"
        "**Authentication**: `Authorization: Bearer aok_…`, `X-API-Key: aok_…` or "
        "`Authorization: api-key aok_…`. Missing or unknown key: 401; revoked: 403. "
        "Requests without a valid key, unknown keys included, spend their address's "
        "`anonymous` bucket; a revoked key's refusals spend that key's own `revoked` "
        "bucket. Past either, they get 429 `RATE_LIMIT_EXCEEDED` until the "
        "window ends.\n\n"
        "**Environments**: a key is `production` or `sandbox`. Everything it makes belongs "
        "to its environment (sessions, submissions, their files, events and fraud matches, "
        "extraction jobs, webhook endpoints and deliveries, the session-webhook secret, "
        "idempotency keys), and it reads and changes only its own environment's objects: "
        "another environment's id is a 404, exactly like another company's. Sandbox "
        "submissions are never compared with production ones by the fraud checks.\n\n"
        "**Errors** are RFC 9457 `application/problem+json` with a stable `code`:\n\n"
        "| code | status | meaning |\n| --- | --- | --- |\n" + rows + "\n\n"
        "**Rate limits** per API key, fixed one-minute windows: `read` 300/min (GETs), "
        "`session` 60/min (session and extraction-job creates), `submit` 20/min, `write` "
        "120/min (review actions, extraction-job cancels, fraud resolution, webhook endpoint "
        "writes), "
        "`webhook_test` 10/min, `upload` 300/min (PUTs to upload URLs, paid by the "
        "session's key), and `poll` 60/min per polled session or job (besides `read`). "
        "Requests without a valid key spend `anonymous`, 120/min per client address; a "
        "revoked key's refusals spend `revoked`, 120/min per revoked key. "
        "`X-RateLimit-Bucket` names the bucket the figures are of: on a poll, the tighter "
        "of `read` and `poll`. "
        + AUTH_HEADERS_NOTE
        + " A 429 adds `Retry-After`. Limits can be raised per company.\n\n"
        "**OPTIONS** on any path answers 204 with no body and an `Allow` header (the "
        "methods documented here for the path, `HEAD` beside `GET`); it needs no key and "
        "spends no bucket, so it carries no `X-RateLimit-*` headers. No CORS headers are "
        "sent: the API is for servers, not browsers of another origin.\n\n"
        "**Idempotency**: every write call (`POST`, `PATCH`, `DELETE`) takes an "
        "`Idempotency-Key`: send one to make a retry after a lost answer safe; the retry "
        "gets the first 2xx answer again with `X-Idempotent-Replay: true`."
    )
