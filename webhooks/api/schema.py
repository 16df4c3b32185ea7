"""Webhooks' API contract (STEVE-API.md, "Webhooks"): wire schemas, problem codes, docs.

Endpoints, deliveries, the company's signing secrets and the test event. Registered
with the core's schema registry on import (WebhooksConfig.ready imports this module).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter

from steve.api.schema import (
    DATETIME,
    FREE_OBJECT,
    PAGE_PARAMS,
    STRING,
    additive,
    choices,
    closed,
    docs,
    listing,
    nullable,
    obj,
    ref,
    register_components,
    register_problems,
    with_unread_body,
)
from steve.models import Environment
from webhooks.catalogue import EVENT_TYPES
from webhooks.models import WebhookDelivery
from webhooks.services import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH

DELIVERY_STATUSES = choices(WebhookDelivery.Status)
EVENTS = {
    "type": "array",
    "items": {"type": "string", "enum": list(EVENT_TYPES)},
    "description": "empty: every event type, those Steve adds later included; otherwise"
    " only these (a type added later is not sent until it is listed)",
}
# The limits the service holds (webhooks.services), so a generated client knows them.
URL = {"type": "string", "format": "uri", "maxLength": MAX_URL_LENGTH}
DESCRIPTION = {**STRING, "maxLength": MAX_DESCRIPTION_LENGTH}
SHOWN_ONCE = {
    "type": "string",
    "nullable": True,
    "description": "whsec_…: only on create and rotation; null in an Idempotency-Key"
    " replay, which never shows a secret again",
}
SECRET_REDACTED = {
    "type": "boolean",
    "description": "true in an Idempotency-Key replay whose secret was withheld",
}
SUPERSEDED_ROTATION = {
    **nullable(obj({"rotatedAt": DATETIME, "message": STRING}, required=["rotatedAt", "message"])),
    "description": "a rotation's answer only: null, or the rotation (another operator's,"
    " perhaps) whose secret this one replaced while that rotation's grace still ran: its"
    " secret now signs only until previousSecretExpiresAt (with no grace, not at all) and"
    " the one before it no longer signs",
}
WEBHOOK_ENDPOINT = obj(
    {
        "id": STRING,
        "url": {"type": "string", "format": "uri"},
        "description": STRING,
        "events": EVENTS,
        "enabled": {"type": "boolean"},
        "environment": {
            "type": "string",
            "enum": choices(Environment),
            "description": "receives the events of sessions opened with keys of this"
            " environment: that of the key that created the endpoint",
        },
        "disabledReason": nullable(STRING),
        "disabledAt": nullable(DATETIME),
        "failingSince": nullable(DATETIME),
        "lastSucceededAt": {
            **nullable(DATETIME),
            "description": "when the latest attempt answered 2xx began (recorded once a"
            " minute: up to a minute early); kept through disabling and enabling. A"
            " redelivery with no `since` sends what failed after it",
        },
        "previousSecretExpiresAt": nullable(DATETIME),
        "createdAt": DATETIME,
        "updatedAt": DATETIME,
        "secret": SHOWN_ONCE,
        "secretRedacted": SECRET_REDACTED,
        "supersededRotation": SUPERSEDED_ROTATION,
    },
    required=["id", "url", "events", "enabled", "createdAt"],
)
WEBHOOK_ATTEMPT = obj(
    {
        "number": {"type": "integer"},
        "attemptedAt": nullable(DATETIME),
        "finishedAt": nullable(DATETIME),
        "statusCode": nullable({"type": "integer"}),
        "latencyMs": nullable({"type": "integer"}),
        "responseBody": nullable(STRING),
        "error": nullable(STRING),
        "address": nullable(STRING),
    },
    required=["number"],
)
WEBHOOK_DELIVERY = obj(
    {
        "id": STRING,
        "endpointId": nullable(STRING),
        "url": STRING,
        "sessionId": nullable(STRING),
        "eventId": STRING,
        "eventType": STRING,
        "status": {"type": "string", "enum": DELIVERY_STATUSES},
        "attempts": {"type": "integer"},
        "nextAttemptAt": nullable(DATETIME),
        "lastAttemptAt": nullable(DATETIME),
        "lastStatusCode": nullable({"type": "integer"}),
        "lastError": nullable(STRING),
        "deliveredAt": nullable(DATETIME),
        "failedAt": {
            **nullable(DATETIME),
            "description": "when it failed (given up, a 410, or kept unsent while its"
            " endpoint was disabled); null unless failed",
        },
        "createdAt": DATETIME,
        "payload": FREE_OBJECT,
        "attemptLog": {"type": "array", "items": ref("WebhookAttempt")},
    },
    required=["id", "eventId", "eventType", "status", "attempts"],
)
register_components(
    {
        "WebhookDeliveryStatus": {"type": "string", "enum": DELIVERY_STATUSES},
        "WebhookEndpoint": WEBHOOK_ENDPOINT,
        "WebhookEndpointList": listing("WebhookEndpoint"),
        "WebhookAttempt": WEBHOOK_ATTEMPT,
        "WebhookDelivery": WEBHOOK_DELIVERY,
        "WebhookDeliveryList": listing("WebhookDelivery"),
        "SessionWebhookSecret": obj(
            {
                "exists": {"type": "boolean"},
                "createdAt": nullable(DATETIME),
                "previousSecretExpiresAt": nullable(DATETIME),
                "secret": SHOWN_ONCE,
                "secretRedacted": SECRET_REDACTED,
                "supersededRotation": SUPERSEDED_ROTATION,
            },
            required=["exists", "createdAt", "previousSecretExpiresAt"],
        ),
        "Redelivered": obj({"endpointId": STRING, "redelivered": {"type": "integer"}}),
        # STEVE-API.md names no member of the test's answer: all of them are Steve's.
        "WebhookTestResult": obj(
            {
                "eventId": additive(STRING),
                "url": additive(STRING),
                "delivered": additive({"type": "boolean"}),
                "statusCode": additive(nullable({"type": "integer"})),
                "latencyMs": additive(nullable({"type": "integer"})),
                "responseBody": additive(nullable(STRING)),
                "error": additive(nullable(STRING)),
                "address": additive(nullable(STRING)),
            },
            required=["eventId", "url", "delivered"],
        ),
    }
)
PROBLEMS: dict[str, tuple[int, str]] = {
    "WEBHOOK_ENDPOINT_NOT_FOUND": (404, "No such webhook endpoint in your company."),
    "WEBHOOK_DELIVERY_NOT_FOUND": (404, "No such webhook delivery in your company."),
    "WEBHOOK_ENDPOINT_DISABLED": (409, "The endpoint is disabled; enable it first."),
    "WEBHOOK_ENDPOINT_URL_TAKEN": (
        409,
        "Another endpoint of the company's environment has this URL, or one reaching the "
        "same receiver (host case, a trailing dot, default port, empty path; its id in the "
        "detail).",
    ),
    "SYNC_DELIVERED": (409, "A downstream sync that succeeded is not posted again."),
    "INVALID_URL": (422, "The URL is not an absolute https URL."),
    "WEBHOOK_TARGET_REFUSED": (422, "The URL resolves to a private or loopback address."),
    "INVALID_EVENTS": (422, "events must be a list of event type names."),
    "UNKNOWN_EVENT_TYPE": (422, "An event type is not in the catalogue."),
    "INVALID_DESCRIPTION": (
        422,
        "description is not a string, is too long or holds a control or bidi character.",
    ),
    "INVALID_GRACE_PERIOD": (422, "gracePeriodHours is out of range."),
    "WEBHOOK_TEST_IN_PROGRESS": (409, "A test event of the company's environment is being sent."),
    "WEBHOOK_TEST_UNAVAILABLE": (
        503,
        "Redis, which holds the one-at-a-time lock and the rate limit, is unreachable.",
    ),
    "PRODUCTION_KEY_REQUIRED": (
        403,
        "The downstream-sync secret signs production's posts: use a production key.",
    ),
}
# The finer `type` slugs the views answer these codes with, so the schema's examples give
# them too (they showed the status's generic conflict and forbidden).
register_problems(
    PROBLEMS,
    slugs={
        "WEBHOOK_TEST_UNAVAILABLE": "webhook-test-unavailable",
        "WEBHOOK_TEST_IN_PROGRESS": "webhook-test-in-progress",
        "PRODUCTION_KEY_REQUIRED": "production-key-required",
    },
)

ENDPOINT_NOT_FOUND = {404: ["WEBHOOK_ENDPOINT_NOT_FOUND"]}
URL_PROBLEMS = ["VALIDATION_ERROR", "INVALID_URL", "WEBHOOK_TARGET_REFUSED"]
IDEMPOTENCY_PROBLEMS = {
    400: ["INVALID_IDEMPOTENCY_KEY"],
    409: ["IDEMPOTENCY_KEY_IN_FLIGHT"],
    422: ["IDEMPOTENCY_KEY_REUSED"],
}


def rotation_problems(problems: dict[int, list[str]]) -> dict[int, list[str]]:
    """A rotation's own codes and the Idempotency-Key's: every rotate honours the key,
    so that a retry whose answer was lost does not rotate twice (docs/webhooks.md)."""
    merged = {status: list(codes) for status, codes in problems.items()}
    for status, codes in IDEMPOTENCY_PROBLEMS.items():
        merged[status] = merged.get(status, []) + codes
    return merged


# Whole hours, as validated_grace takes them: 1.5 and 2.0 are refused INVALID_GRACE_PERIOD.
GRACE_REQUEST = closed(
    obj(
        {
            "gracePeriodHours": {
                "type": "integer",
                "minimum": 0,
                "maximum": 168,
                "default": 24,
                "description": "How long the previous secret keeps signing; 0 ends it at once",
            }
        },
        required=[],
    )
)
ENDPOINT_LIST = docs(
    "listWebhookEndpoints",
    tag="webhooks",
    summary="The company's webhook endpoints",
    response="WebhookEndpointList",
    parameters=PAGE_PARAMS,
    problems={400: ["INVALID_CURSOR", "INVALID_LIMIT"]},
)
ENDPOINT_CREATE = docs(
    "createWebhookEndpoint",
    tag="webhooks",
    summary="Add an endpoint; its whsec_ secret is shown once (bucket: write)",
    response="WebhookEndpoint",
    status=201,
    request=closed(  # another field is refused (unknown_field), as an update's is
        obj(
            {
                "url": URL,
                "events": EVENTS,
                "description": DESCRIPTION,
            },
            required=["url"],
        )
    ),
    problems={
        400: ["INVALID_IDEMPOTENCY_KEY"],
        409: ["WEBHOOK_ENDPOINT_URL_TAKEN", "IDEMPOTENCY_KEY_IN_FLIGHT"],
        422: [*URL_PROBLEMS, "INVALID_EVENTS", "UNKNOWN_EVENT_TYPE", "INVALID_DESCRIPTION"]
        + ["VALIDATION_ERROR", "IDEMPOTENCY_KEY_REUSED"],
    },
)
SESSION_SECRET = docs(
    "getSessionWebhookSecret",
    tag="webhooks",
    summary="Whether the secret signing deliveries to sessions' webhookUrl exists",
    response="SessionWebhookSecret",
)
SESSION_SECRET_ROTATE = docs(
    "rotateSessionWebhookSecret",
    tag="webhooks",
    summary="Create or rotate the session-webhook secret (bucket: write)",
    response="SessionWebhookSecret",
    request=GRACE_REQUEST,
    problems=rotation_problems({422: ["VALIDATION_ERROR", "INVALID_GRACE_PERIOD"]}),
)
SYNC_SECRET = docs(
    "getSyncSigningSecret",
    tag="webhooks",
    summary="Whether the secret signing downstream-sync posts exists (production keys)",
    response="SessionWebhookSecret",
    problems={403: ["PRODUCTION_KEY_REQUIRED"]},
)
SYNC_SECRET_ROTATE = docs(
    "rotateSyncSigningSecret",
    tag="webhooks",
    summary="Create or rotate the downstream-sync signing secret (production keys; bucket: write)",
    response="SessionWebhookSecret",
    request=GRACE_REQUEST,
    problems=rotation_problems(
        {403: ["PRODUCTION_KEY_REQUIRED"], 422: ["VALIDATION_ERROR", "INVALID_GRACE_PERIOD"]}
    ),
)
ENDPOINT_DETAIL = docs(
    "getWebhookEndpoint",
    tag="webhooks",
    summary="One webhook endpoint",
    response="WebhookEndpoint",
    problems=ENDPOINT_NOT_FOUND,
)
ENDPOINT_UPDATE = docs(
    "updateWebhookEndpoint",
    tag="webhooks",
    summary="Change url, events, description or enabled (bucket: write)",
    response="WebhookEndpoint",
    request=closed(
        obj(
            {
                "url": URL,
                "events": EVENTS,
                "description": DESCRIPTION,
                "enabled": {"type": "boolean"},
            },
            required=[],
        )
    ),
    problems={
        **ENDPOINT_NOT_FOUND,
        409: ["WEBHOOK_ENDPOINT_URL_TAKEN"],
        422: [*URL_PROBLEMS, "INVALID_EVENTS", "UNKNOWN_EVENT_TYPE", "INVALID_DESCRIPTION"]
        + ["VALIDATION_ERROR"],
    },
)
ENDPOINT_DELETE = docs(
    "deleteWebhookEndpoint",
    tag="webhooks",
    summary="Delete a webhook endpoint (bucket: write)",
    response=None,
    status=204,
    problems=ENDPOINT_NOT_FOUND,
)
ENDPOINT_ROTATE_SECRET = docs(
    "rotateWebhookEndpointSecret",
    tag="webhooks",
    summary="New whsec_ secret; the old one verifies during the grace period",
    response="WebhookEndpoint",
    request=GRACE_REQUEST,
    problems=rotation_problems(
        {**ENDPOINT_NOT_FOUND, 422: ["VALIDATION_ERROR", "INVALID_GRACE_PERIOD"]}
    ),
)
ENDPOINT_REDELIVER = docs(
    "redeliverFailedWebhooks",
    tag="webhooks",
    summary="Queue the endpoint's failed deliveries again: since a time, or since it"
    " last succeeded",
    description=(
        "Up to 100 are sent at once; more are queued by the delivery sweep, every 5 s"
        " and 2,000 at a time (10,000 within about 30 s), each once."
    ),
    response="Redelivered",
    status=202,
    request=closed(
        obj(
            {
                "since": {
                    **DATETIME,
                    "description": "the failed deliveries created (their event) at or"
                    " after this time, an RFC 3339 time with its offset and no white space"
                    " around it. Left out (or no body): every delivery that failed"
                    " after the endpoint last succeeded (`lastSucceededAt`; all failed"
                    " ones when it never did), the recovery of a disabled endpoint",
                }
            },
            required=[],
        )
    ),
    problems={
        **ENDPOINT_NOT_FOUND,
        409: ["WEBHOOK_ENDPOINT_DISABLED"],
        422: ["VALIDATION_ERROR"],
    },
)
ENDPOINT_DELIVERIES = docs(
    "listWebhookDeliveries",
    tag="webhooks",
    summary="An endpoint's deliveries, newest first",
    response="WebhookDeliveryList",
    parameters=[
        OpenApiParameter("status", str, enum=DELIVERY_STATUSES),
        *PAGE_PARAMS,
    ],
    problems={
        **ENDPOINT_NOT_FOUND,
        400: ["INVALID_FILTER", "INVALID_CURSOR", "INVALID_LIMIT"],
    },
)
DELIVERY_DETAIL = docs(
    "getWebhookDelivery",
    tag="webhooks",
    summary="One delivery with its payload and attempt log",
    response="WebhookDelivery",
    problems={404: ["WEBHOOK_DELIVERY_NOT_FOUND"]},
)
DELIVERY_REDELIVER = docs(
    "redeliverWebhook",
    tag="webhooks",
    summary="Queue one delivery again",
    description=(
        "Sent again now with a fresh retry budget. Asked for while an attempt is in "
        "flight, one more attempt goes as soon as that one answers, even with a 2xx "
        "(once, however often it was asked for meanwhile); a sync post's 2xx ends it."
    ),
    response="WebhookDelivery",
    status=202,
    request=None,
    problems=with_unread_body(
        {
            404: ["WEBHOOK_DELIVERY_NOT_FOUND"],
            409: ["WEBHOOK_ENDPOINT_DISABLED", "SYNC_DELIVERED"],
        }
    ),
)
WEBHOOK_TEST = docs(
    "sendTestWebhook",
    tag="webhooks",
    summary="Send a test event now, 5 s timeout, one at a time (bucket: webhook_test, 10/min)",
    response="WebhookTestResult",
    # Exactly one of the two; the other left out or null.
    request=closed(
        obj(
            {"endpointId": nullable(STRING), "url": nullable(URL)},
            [],
        )
    ),
    problems={
        **ENDPOINT_NOT_FOUND,
        409: ["WEBHOOK_TEST_IN_PROGRESS"],
        422: URL_PROBLEMS,
        503: ["WEBHOOK_TEST_UNAVAILABLE"],
    },
)
