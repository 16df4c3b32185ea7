"""OpenAPI 3 for Steve's API (drf-spectacular): wire schemas, seed examples, problems.

The views build plain dicts, so their shapes are written here once as JSON Schemas (the
`components` below, named after the seeds' objects) and each view carries one
`extend_schema` from this module naming its request, success response, seed examples
and the problem codes it can answer with (`x-steve-problems`). `finish_schema`, the
post-processing hook, turns those codes into `application/problem+json` responses with
one example per code, adds the responses every authenticated operation can give (401,
403, 429) and the headers every response carries (`Request-Id`, `X-RateLimit-*`).
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from steve.api.errors import DEFAULTS, PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from steve.api.ratelimit import DEFAULT_LIMITS as RATE_LIMIT_BUCKETS

PROBLEMS_KEY = "x-steve-problems"
API_PREFIX = "/api/v1/"
SECURITY = [{"bearerAuth": []}, {"apiKeyHeader": []}, {"apiKeyAuthorization": []}]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null, spelled so that OpenAPI 3.0 tools honour it.

    3.0 ignores `nullable` beside a `$ref`, so a reference is wrapped in `allOf`; and a
    nullable enum must list null among its values, or validators and generated clients
    refuse the null they were promised.
    """
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    if "enum" in schema and None not in schema["enum"]:
        return {**schema, "enum": [*schema["enum"], None], "nullable": True}
    return {**schema, "nullable": True}


STRING = {"type": "string"}
DATETIME = {"type": "string", "format": "date-time", "example": "2026-03-25T10:00:00.000Z"}
FREE_OBJECT = {"type": "object", "additionalProperties": True}
SESSION_STATES = ["pending", "submitted", "completed", "failed", "expired"]
SUBMISSION_STATUSES = [
    "created",
    "processing",
    "review",
    "approved",
    "synced",
    "rejected",
    "cancelled",
    "failed",
]
FRAUD_STATUSES = ["clean", "flagged", "blocked"]


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    names = list(properties) if required is None else required
    if names:  # OpenAPI 3.0 forbids an empty `required`
        schema["required"] = names
    return schema


PAGINATION = obj({"hasMore": {"type": "boolean"}, "nextCursor": nullable(STRING)})
WORKFLOW_REF = obj({"slug": STRING, "version": {"type": "integer"}})
UPLOAD_RULES = obj(
    {
        "minFiles": {"type": "integer"},
        "maxFiles": {"type": "integer"},
        "acceptedFormats": {"type": "array", "items": STRING},
        "fileLabels": {"type": "array", "items": STRING},
        "maxFileSizeMb": {"type": "number"},
    },
    required=[],
)
WORKFLOW = obj(
    {
        "id": STRING,
        "slug": STRING,
        "name": STRING,
        "version": {"type": "integer"},
        "kind": {"type": "string", "enum": ["receipt", "invoice"]},
        "upload": UPLOAD_RULES,
        "reviewThreshold": {"type": "integer", "minimum": 1, "maximum": 99},
        "autoApprove": {"type": "boolean"},
        "createdAt": DATETIME,
    }
)
WORKFLOW_DETAIL = {
    "allOf": [
        ref("Workflow"),
        obj(
            {
                "outputJsonSchema": {**FREE_OBJECT, "description": "JSON Schema of extractedData"},
                "outputSchema": {
                    "type": "object",
                    "additionalProperties": nullable(STRING),
                    "description": "Field name to JSON type",
                },
            }
        ),
    ]
}
EXTERNAL_USER = {
    "type": "object",
    "properties": {"id": nullable(STRING), "name": nullable(STRING), "email": nullable(STRING)},
    "additionalProperties": False,
}
SESSION_CREATE_REQUEST = obj(
    {
        "fileCount": {"type": "integer", "description": "Within the workflow's minFiles..maxFiles"},
        "contentTypes": {
            "type": "array",
            "items": STRING,
            "description": "One MIME type per file, each in acceptedFormats",
        },
        "clientSubmissionId": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "description": "Your id; a pending session already made for it is returned",
        },
        "webhookUrl": {"type": "string", "format": "uri", "description": "HTTPS, public host"},
        "metadata": {
            **FREE_OBJECT,
            "description": "At most 4096 bytes, 2 levels; leaves string/number/boolean",
        },
        "externalUser": EXTERNAL_USER,
    },
    required=["fileCount", "contentTypes", "clientSubmissionId"],
)
UPLOAD_URL = obj(
    {
        "fileIndex": {"type": "integer"},
        "uploadUrl": {"type": "string", "description": "Pre-signed URL: PUT the file's bytes"},
        "r2Url": STRING,
        "contentType": STRING,
        "label": STRING,
    }
)
SESSION_CREATED = obj(
    {
        "sessionId": STRING,
        "submissionId": STRING,
        "state": {"type": "string", "enum": SESSION_STATES},
        "submissionStatus": {"type": "string", "enum": SUBMISSION_STATUSES},
        "workflow": ref("WorkflowRef"),
        "uploadUrls": {"type": "array", "items": ref("UploadUrl")},
        "expiresAt": DATETIME,
        "uploadUrlsExpireAt": DATETIME,
    }
)
RESULT = obj(
    {
        "extractedData": FREE_OBJECT,
        "confidence": nullable({"type": "number"}),
        "fraudStatus": nullable(ref("FraudStatus")),
    }
)
JOB = obj(
    {
        "sessionId": STRING,
        "submissionId": STRING,
        "workflow": ref("WorkflowRef"),
        "companyId": STRING,
        "state": {"type": "string", "enum": SESSION_STATES},
        "submissionStatus": nullable(ref("SubmissionStatus")),
        "result": nullable(ref("JobResult")),
        "failedReason": nullable(STRING),
        "clientSubmissionId": STRING,
        "metadata": FREE_OBJECT,
        "processedAt": nullable(DATETIME),
        "webhookDeliveryStatus": nullable(ref("WebhookDeliveryStatus")),
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "createdAt": DATETIME,
        "updatedAt": DATETIME,
        "expiresAt": DATETIME,
        "retryAfterMs": {"type": "integer", "description": "Polling hint while not terminal"},
        "error": obj(
            {
                "code": STRING,
                "message": nullable(STRING),
                "details": obj({"step": STRING, "retryable": {"type": "boolean"}}, []),
            },
            required=["code"],
        ),
    },
    required=[
        "sessionId",
        "submissionId",
        "workflow",
        "companyId",
        "state",
        "submissionStatus",
        "result",
        "failedReason",
        "clientSubmissionId",
        "metadata",
        "processedAt",
        "webhookDeliveryStatus",
    ],
)
SUBMISSION_WORKFLOW = obj(
    {"id": STRING, "slug": STRING, "name": STRING, "version": {"type": "integer"}},
    required=["slug", "name", "version"],
)
SUBMISSION_SUMMARY = obj(
    {
        "id": STRING,
        "submissionStatus": {"type": "string", "enum": SUBMISSION_STATUSES},
        "fraudStatus": nullable(ref("FraudStatus")),
        "fraudScore": nullable({"type": "number"}),
        "workflow": ref("SubmissionWorkflow"),
        "extractedData": nullable(FREE_OBJECT),
        "confidence": nullable({"type": "number"}),
        "createdAt": DATETIME,
        "clientSubmissionId": nullable(STRING),
    }
)
SUBMISSION_FILE = obj(
    {
        "id": STRING,
        "fileIndex": {"type": "integer"},
        "label": STRING,
        "mimeType": nullable(STRING),
        "fileSize": nullable({"type": "integer"}),
        "pageCount": nullable({"type": "integer"}),
        "downloadUrl": nullable({"type": "string", "description": "Pre-signed, valid 1 hour"}),
    },
    required=["id", "fileIndex", "label", "mimeType", "fileSize", "downloadUrl"],
)
FRAUD_MATCH_SUMMARY = obj(
    {
        "id": STRING,
        "checkType": STRING,
        "score": nullable({"type": "number"}),
        "similarity": nullable({"type": "number"}),
        "status": {"type": "string", "enum": ["flag", "block"]},
        "resolution": nullable(ref("FraudResolution")),
        "resolvedBy": nullable(STRING),
        "resolvedAt": nullable(DATETIME),
    }
)
FRAUD_MATCH = {
    "allOf": [
        ref("FraudMatchSummary"),
        obj(
            {
                "targetSubmission": nullable(obj({"id": STRING, "createdAt": DATETIME})),
                "details": nullable(FREE_OBJECT),
            },
            required=["targetSubmission"],
        ),
    ]
}
EVENT = obj(
    {
        "type": STRING,
        "occurredAt": DATETIME,
        "details": FREE_OBJECT,
        "actor": obj({"type": STRING, "label": STRING}),
    },
    required=["type", "occurredAt", "details"],
)
SUBMISSION_DETAIL = obj(
    {
        "id": STRING,
        "submissionStatus": {"type": "string", "enum": SUBMISSION_STATUSES},
        "fraudStatus": nullable(ref("FraudStatus")),
        "fraudScore": nullable({"type": "number"}),
        "extractedData": nullable(FREE_OBJECT),
        "confidence": nullable({"type": "number"}),
        "fieldConfidences": nullable(
            {"type": "object", "additionalProperties": nullable({"type": "number"})}
        ),
        "certainty": nullable({"type": "number"}),
        "aiSummary": nullable(STRING),
        "failedReason": nullable(STRING),
        "rejectReason": nullable(STRING),
        "cancelReason": nullable(STRING),
        "workflow": ref("SubmissionWorkflow"),
        "files": {"type": "array", "items": ref("SubmissionFile")},
        "fraudMatches": {"type": "array", "items": ref("FraudMatchSummary")},
        "events": {"type": "array", "items": ref("SubmissionEvent"), "maxItems": 100},
        "evidence": nullable(FREE_OBJECT),
        "clientSubmissionId": nullable(STRING),
        "metadata": nullable(FREE_OBJECT),
        "version": {"type": "integer"},
        "createdAt": DATETIME,
        "updatedAt": DATETIME,
    },
    required=[
        "id",
        "submissionStatus",
        "fraudStatus",
        "fraudScore",
        "extractedData",
        "confidence",
        "fieldConfidences",
        "certainty",
        "aiSummary",
        "failedReason",
        "rejectReason",
        "cancelReason",
        "workflow",
        "files",
        "fraudMatches",
        "events",
        "clientSubmissionId",
        "metadata",
        "createdAt",
    ],
)
ACTION_RESULT = obj(
    {
        "submissionId": STRING,
        "workflow": ref("WorkflowRef"),
        "submissionStatus": {"type": "string", "enum": SUBMISSION_STATUSES},
    }
)
PROBLEM = obj(
    {
        "type": {"type": "string", "format": "uri", "example": PROBLEM_BASE + "not-found"},
        "title": STRING,
        "status": {"type": "integer"},
        "detail": STRING,
        "instance": nullable(STRING),
        "code": {"type": "string", "description": "Stable upper-case error code"},
        "requestId": nullable(STRING),
        "errors": {
            "type": "array",
            "items": obj({"field": STRING, "message": STRING, "code": STRING}),
        },
        "currentStatus": {"type": "string", "description": "On a refused review action"},
        "bucket": {"type": "string", "description": "On a 429: the exhausted bucket"},
        "limit": {"type": "integer", "description": "On a 429: the bucket's limit per minute"},
        "retryAfter": {"type": "integer", "description": "On a 429: seconds to wait"},
        "success": {"type": "boolean", "description": "Extraction jobs (seed 003): false"},
        "error": {
            "type": "object",
            "properties": {"code": STRING, "message": STRING},
            "description": "Extraction jobs (seed 003): the peers' error member",
        },
    },
    required=["type", "title", "status", "detail", "instance", "code", "requestId"],
)


def listing(item: str) -> dict[str, Any]:
    return obj({"data": {"type": "array", "items": ref(item)}, "pagination": ref("Pagination")})


COMPONENTS: dict[str, dict[str, Any]] = {
    # Nullable enums are named: a generated client then types them `FraudStatus | None`.
    "FraudStatus": {"type": "string", "enum": FRAUD_STATUSES},
    "SubmissionStatus": {"type": "string", "enum": SUBMISSION_STATUSES},
    "WebhookDeliveryStatus": {"type": "string", "enum": ["pending", "delivered", "failed"]},
    "FraudResolution": {"type": "string", "enum": ["false_positive", "confirmed_fraud"]},
    "Problem": PROBLEM,
    "Pagination": PAGINATION,
    "WorkflowRef": WORKFLOW_REF,
    "Workflow": WORKFLOW,
    "WorkflowDetail": WORKFLOW_DETAIL,
    "WorkflowList": obj({"data": {"type": "array", "items": ref("Workflow")}}),
    "SessionCreateRequest": SESSION_CREATE_REQUEST,
    "UploadUrl": UPLOAD_URL,
    "SessionCreated": SESSION_CREATED,
    "JobResult": RESULT,
    "Job": JOB,
    "SubmissionWorkflow": SUBMISSION_WORKFLOW,
    "SubmissionSummary": SUBMISSION_SUMMARY,
    "SubmissionList": listing("SubmissionSummary"),
    "SubmissionFile": SUBMISSION_FILE,
    "SubmissionEvent": EVENT,
    "SubmissionDetail": SUBMISSION_DETAIL,
    "FraudMatchSummary": FRAUD_MATCH_SUMMARY,
    "FraudMatch": FRAUD_MATCH,
    "FraudMatchList": listing("FraudMatch"),
    "ActionResult": ACTION_RESULT,
}

# Every problem code, with the status it comes with and when: the error catalogue.
PROBLEM_CODES: dict[str, tuple[int, str]] = {
    "BAD_REQUEST": (400, "The request is malformed."),
    "INVALID_JSON": (400, "The body is not valid JSON."),
    "INVALID_CHARACTERS": (400, "Text in the path, query or body contains a NUL character."),
    "INVALID_UNICODE": (400, "Text in the JSON body has a lone surrogate (\\ud800-\\udfff)."),
    "JSON_TOO_DEEP": (400, "The JSON body nests deeper than 32 levels."),
    "TOO_MANY_FIELDS": (400, "The form has too many fields or files."),
    "INVALID_BODY": (400, "The body must be a JSON object."),
    "INVALID_LIMIT": (400, "limit is not a whole number."),
    "INVALID_CURSOR": (400, "The cursor was not issued for this listing."),
    "INVALID_FILTER": (400, "A filter has an unknown value."),
    "INVALID_IDEMPOTENCY_KEY": (400, "Idempotency-Key is empty, too long or not ASCII."),
    "SESSION_SUBMITTED": (400, "The session was already submitted."),
    "SESSION_COMPLETED": (400, "The session has completed; it cannot be submitted."),
    "SESSION_FAILED": (400, "The session failed; it cannot be submitted."),
    "UNAUTHORIZED": (401, "No API key was sent."),
    "INVALID_API_KEY": (401, "The API key is not valid."),
    "API_KEY_REVOKED": (403, "The API key has been revoked."),
    "FORBIDDEN": (403, "The key may not do this."),
    "NOT_FOUND": (404, "The resource does not exist."),
    "WORKFLOW_NOT_FOUND": (404, "No such workflow (or version) in your company."),
    "JOB_NOT_FOUND": (404, "No such session for this API key."),
    "SUBMISSION_NOT_FOUND": (404, "No such submission in your company."),
    "FRAUD_MATCH_NOT_FOUND": (404, "No such fraud match on this submission."),
    "CONFLICT": (409, "The request conflicts with the resource's state; retry."),
    "CLIENT_SUBMISSION_ID_IN_USE": (409, "clientSubmissionId belongs to a non-pending session."),
    "CLIENT_SUBMISSION_ID_CONFLICT": (
        409,
        "clientSubmissionId belongs to a session made with another workflow or other files.",
    ),
    "IDEMPOTENCY_KEY_IN_FLIGHT": (409, "A request with this Idempotency-Key is still running."),
    "UNRESOLVED_FRAUD_MATCHES": (409, "Resolve every fraud match before approving."),
    "SUBMISSION_CHANGED": (409, "The submission changed since it was read."),
    "FRAUD_MATCH_ALREADY_RESOLVED": (409, "The fraud match was already resolved."),
    "SUBMISSION_IS_CREATED": (409, "Illegal transition from created."),
    "SUBMISSION_IS_PROCESSING": (409, "Illegal transition from processing."),
    "SUBMISSION_IS_REVIEW": (409, "Illegal transition from review."),
    "SUBMISSION_IS_APPROVED": (409, "Illegal transition from approved."),
    "SUBMISSION_IS_SYNCED": (409, "Illegal transition from synced."),
    "SUBMISSION_IS_REJECTED": (409, "Illegal transition from rejected."),
    "SUBMISSION_IS_CANCELLED": (409, "Illegal transition from cancelled."),
    "SUBMISSION_IS_FAILED": (409, "Illegal transition from failed."),
    "SUBMISSION_CANCELLED": (409, "The session ended because its submission was cancelled."),
    "SUBMISSION_REJECTED": (409, "The session ended because its submission was rejected."),
    "SUBMISSION_FAILED": (409, "The session ended because its submission failed."),
    "SESSION_EXPIRED": (410, "The session expired before it was submitted."),
    "SESSION_NOT_PENDING": (410, "The session has ended; its upload URLs no longer work."),
    "LENGTH_REQUIRED": (411, "An upload needs a Content-Length header (no chunked bodies)."),
    "BODY_TOO_LARGE": (413, "The request body is larger than Steve accepts."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Send application/json."),
    "VALIDATION_ERROR": (422, "A field is invalid; see errors[]."),
    "IDEMPOTENCY_KEY_REUSED": (422, "This Idempotency-Key was used for a different request."),
    "FILES_MISSING": (422, "Fewer files uploaded than the workflow's minFiles."),
    "INVALID_FILES": (422, "An uploaded file is empty, too large or of a refused type."),
    "REASON_REQUIRED": (422, "Rejecting needs a reason."),
    "INVALID_RESOLUTION": (422, "resolution is not false_positive or confirmed_fraud."),
    "RATE_LIMIT_EXCEEDED": (429, "A rate-limit bucket is exhausted; see Retry-After."),
    "TOO_MANY_INVALID_API_KEYS": (
        429,
        "Too many unknown or malformed API keys from this address this minute.",
    ),
    "INTERNAL_ERROR": (500, "Steve failed; the request can be retried."),
    # Webhooks
    "WEBHOOK_ENDPOINT_NOT_FOUND": (404, "No such webhook endpoint in your company."),
    "WEBHOOK_DELIVERY_NOT_FOUND": (404, "No such webhook delivery in your company."),
    "WEBHOOK_ENDPOINT_DISABLED": (409, "The endpoint is disabled; enable it first."),
    "INVALID_URL": (422, "The URL is not an absolute https URL."),
    "WEBHOOK_TARGET_REFUSED": (422, "The URL resolves to a private or loopback address."),
    "INVALID_EVENTS": (422, "events must be a list of event type names."),
    "UNKNOWN_EVENT_TYPE": (422, "An event type is not in the catalogue."),
    "INVALID_DESCRIPTION": (422, "description is too long or not a string."),
    "INVALID_GRACE_PERIOD": (422, "gracePeriodHours is out of range."),
    # Extraction jobs (seed 003)
    "INVALID_REQUEST": (400, "A field has the wrong type."),
    "FILE_REQUIRED": (400, "file is missing."),
    "INVALID_FILE": (400, "file is not valid base64."),
    "TEMPLATE_REQUIRED": (400, "templateName is missing."),
    "INVALID_DELIVERY_MODE": (400, "deliveryMode is not poll or webhook."),
    "NESTED_OPTIONS_REJECTED": (400, "Nested options.* are not accepted."),
    "INVALID_DOCUMENT_REVIEW": (400, "documentReview is not a whole number 1-99."),
    "WEBHOOK_NOT_CONFIGURED": (400, "deliveryMode webhook needs an enabled webhook endpoint."),
    "TEMPLATE_NOT_FOUND": (404, "No such template (workflow) or filter."),
    "RESULT_NOT_READY": (409, "The job has not finished yet."),
    "REVIEW_REQUIRED": (409, "The job is awaiting manual review."),
    "JOB_FAILED": (409, "The job failed."),
    "JOB_CANCELED": (409, "The job was canceled."),
    "RESULT_EXPIRED": (410, "The job's stored result is no longer available."),
    "FILE_TOO_LARGE": (413, "The file is larger than the workflow allows."),
    # Seed 003 answers every refusal of a create's content with 400.
    "UNSUPPORTED_FILE": (400, "The file's bytes are not an accepted type."),
    # Not HTTP errors: the code of a failed job, in its `error.code` (seeds 003, 004).
    "PROCESSING_ERROR": (200, "Processing failed: a failed job's error.code."),
    "OCR_FAILED": (200, "Text could not be read: a failed job's error.code."),
}
SLUGS = {
    "IDEMPOTENCY_KEY_IN_FLIGHT": "idempotency-key-in-flight",
    "IDEMPOTENCY_KEY_REUSED": "idempotency-key-reused",
    "UNRESOLVED_FRAUD_MATCHES": "unresolved-fraud-matches",
    "FILES_MISSING": "files-missing",
    "INVALID_FILES": "validation-error",
}
TRANSITION_CODES = [c for c in PROBLEM_CODES if c.startswith("SUBMISSION_IS_")]
# Answers any authenticated operation can give, whatever it does.
COMMON_PROBLEMS = {
    400: ["INVALID_CHARACTERS"],
    401: ["UNAUTHORIZED", "INVALID_API_KEY"],
    403: ["API_KEY_REVOKED"],
    429: ["RATE_LIMIT_EXCEEDED", "TOO_MANY_INVALID_API_KEYS"],
}
BODY_PROBLEMS = {
    400: ["INVALID_JSON", "INVALID_BODY", "INVALID_UNICODE", "JSON_TOO_DEEP"],
    413: ["BODY_TOO_LARGE"],
    415: ["UNSUPPORTED_MEDIA_TYPE"],
}


def problem_slug(code: str, status: int) -> str:
    return SLUGS.get(code) or (
        "invalid-status-transition" if code in TRANSITION_CODES else DEFAULTS[status][0]
    )


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
    if code == "VALIDATION_ERROR":
        example["errors"] = [
            {"field": "contentTypes[0]", "message": "'text/plain' is not accepted.", "code": "x"}
        ]
    if status == 409 and code in TRANSITION_CODES + ["UNRESOLVED_FRAUD_MATCHES"]:
        example["currentStatus"] = "review"
    if code == "RATE_LIMIT_EXCEEDED":
        example.update(bucket="read", limit=300, retryAfter=17)
    return example


def problem_content(codes: list[str], path: str) -> dict[str, Any]:
    return {
        PROBLEM_CONTENT_TYPE: {
            "schema": ref("Problem"),
            "examples": {code: {"value": problem_example(code, path)} for code in codes},
        }
    }


# ---- documentation of each operation (applied to the views with extend_schema) ----

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


SEED_JOB = {
    "sessionId": "jx7ses789session",
    "submissionId": "jx7sub456submissions",
    "workflow": {"slug": "receipt-ocr", "version": 3},
    "companyId": "jx7abc123company",
    "state": "completed",
    "submissionStatus": "review",
    "result": {
        "extractedData": {"merchantName": "Biedronka", "totalAmount": 123.45, "currency": "PLN"},
        "confidence": 0.96,
        "fraudStatus": "flagged",
    },
    "failedReason": None,
    "clientSubmissionId": "order-1711353600000",
    "metadata": {"orderId": "12345"},
    "processedAt": "2026-03-25T10:05:30.000Z",
    "webhookDeliveryStatus": "delivered",
}
SEED_SUBMISSION_LIST = {
    "data": [
        {
            "id": "jx7sub456submissions",
            "submissionStatus": "review",
            "fraudStatus": "flagged",
            "fraudScore": 72.5,
            "workflow": {"slug": "receipt-ocr", "name": "Receipt OCR", "version": 3},
            "extractedData": {"merchantName": "Biedronka", "totalAmount": 123.45},
            "confidence": 0.96,
            "createdAt": "2026-03-25T10:00:00.000Z",
            "clientSubmissionId": "order-1711353600000",
        }
    ],
    "pagination": {"hasMore": False, "nextCursor": None},
}
SEED_SUBMISSION_DETAIL = {
    "id": "jx7sub456submissions",
    "submissionStatus": "review",
    "fraudStatus": "flagged",
    "fraudScore": 72.5,
    "extractedData": {"merchantName": "Biedronka", "totalAmount": 123.45, "currency": "PLN"},
    "confidence": 0.96,
    "fieldConfidences": {"merchantName": 0.99, "totalAmount": 0.95},
    "certainty": 0.94,
    "aiSummary": "Receipt from Biedronka with one flagged fraud match.",
    "failedReason": None,
    "rejectReason": None,
    "cancelReason": None,
    "workflow": {
        "id": "jx7wf001workflows",
        "slug": "receipt-ocr",
        "name": "Receipt OCR",
        "version": 3,
    },
    "files": [
        {
            "id": "jx7file001submissionFiles",
            "fileIndex": 0,
            "label": "receipt",
            "mimeType": "image/jpeg",
            "fileSize": 245120,
            "downloadUrl": "https://r2.example.com/files/receipt.jpg?X-Amz-Signature=abc123",
        }
    ],
    "fraudMatches": [
        {
            "id": "jx7fm001submissionFraudMatches",
            "checkType": "visual",
            "score": 72.5,
            "similarity": 0.88,
            "status": "flag",
            "resolution": None,
            "resolvedBy": None,
            "resolvedAt": None,
        }
    ],
    "events": [
        {
            "type": "ready_for_review",
            "occurredAt": "2026-03-25T10:01:40.000Z",
            "details": {"compliance": 0.96, "fraudStatus": "flagged"},
        }
    ],
    "clientSubmissionId": "order-1711353600000",
    "metadata": {"orderId": "12345"},
    "createdAt": "2026-03-25T10:00:00.000Z",
}
SEED_FRAUD_MATCHES = {
    "data": [
        {
            "id": "jx7fm001submissionFraudMatches",
            "checkType": "visual",
            "score": 72.5,
            "similarity": 0.88,
            "status": "flag",
            "resolution": None,
            "resolvedAt": None,
            "targetSubmission": {
                "id": "jx7sub200submissions",
                "createdAt": "2026-03-25T09:43:20.000Z",
            },
        }
    ],
    "pagination": {"hasMore": False, "nextCursor": None},
}
SEED_ACTION_RESULT = {
    "submissionId": "jx7sub456submissions",
    "workflow": {"slug": "receipt-ocr", "version": 3},
    "submissionStatus": "approved",
}
SESSION_CREATE_EXAMPLE = {
    "fileCount": 1,
    "contentTypes": ["image/jpeg"],
    "clientSubmissionId": "order-1711353600000",
    "metadata": {"orderId": "12345"},
    "externalUser": {"id": "u-42", "name": "Ada Lovelace", "email": "ada@example.com"},
}
SESSION_CREATED_EXAMPLE = {
    "sessionId": "ses_01jq3v6x7k2m9n4p5r6s7t8v9w",
    "submissionId": "sub_01jq3v6x7k2m9n4p5r6s7t8v9x",
    "state": "pending",
    "submissionStatus": "created",
    "workflow": {"slug": "receipt-ocr", "version": 3},
    "uploadUrls": [
        {
            "fileIndex": 0,
            "uploadUrl": "https://steve.example.com/api/v1/uploads/eyJmIjoiZmlsZV8wMSJ9:sig",
            "r2Url": "submissions/cmp_01/sub_01/0",
            "contentType": "image/jpeg",
            "label": "receipt",
        }
    ],
    "expiresAt": "2026-03-25T10:30:00.000Z",
    "uploadUrlsExpireAt": "2026-03-25T10:30:00.000Z",
}
SLUG_PARAM = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Workflow slug")
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes the create safe to retry: a replay returns the first response with "
        "`X-Idempotent-Replay: true`. Same key in flight: 409; with a different request: "
        "422. Failed creates release the key. Keys are per API key, kept 7 days."
    ),
)
REVIEW_PROBLEMS = {404: ["SUBMISSION_NOT_FOUND"], 409: ["SUBMISSION_CHANGED", *TRANSITION_CODES]}

WORKFLOW_LIST = docs(
    "listWorkflows",
    tag="workflows",
    summary="List the company's workflows",
    response="WorkflowList",
)
WORKFLOW_DETAIL_DOCS = docs(
    "getWorkflow",
    tag="workflows",
    summary="One workflow, latest version",
    response="WorkflowDetail",
    problems={404: ["WORKFLOW_NOT_FOUND"]},
)
WORKFLOW_VERSION_DOCS = docs(
    "getWorkflowVersion",
    tag="workflows",
    summary="An immutable workflow version contract",
    response="WorkflowDetail",
    problems={404: ["WORKFLOW_NOT_FOUND"]},
)
SESSION_CREATE = docs(
    "createSession",
    tag="sessions",
    summary="Open a workflow session with pre-signed upload URLs",
    description=(
        "201 with a new pending session. A pending session already made for the same "
        "`clientSubmissionId` is returned as it was, 201 with `X-Idempotent-Replay: true`. "
        "Rate-limit bucket: `session`."
    ),
    response="SessionCreated",
    status=201,
    request="SessionCreateRequest",
    parameters=[SLUG_PARAM, IDEMPOTENCY_PARAM],
    examples=[
        seed_example("Receipt session", SESSION_CREATE_EXAMPLE, request=True),
        seed_example("Created", SESSION_CREATED_EXAMPLE, status=201),
    ],
    problems={
        400: ["INVALID_IDEMPOTENCY_KEY", "INVALID_JSON", "INVALID_UNICODE", "JSON_TOO_DEEP"],
        404: ["WORKFLOW_NOT_FOUND"],
        409: [
            "CLIENT_SUBMISSION_ID_IN_USE",
            "CLIENT_SUBMISSION_ID_CONFLICT",
            "IDEMPOTENCY_KEY_IN_FLIGHT",
            "CONFLICT",
        ],
        415: ["UNSUPPORTED_MEDIA_TYPE"],
        422: ["VALIDATION_ERROR", "IDEMPOTENCY_KEY_REUSED"],
    },
)
SESSION_SUBMIT = docs(
    "submitSession",
    tag="sessions",
    summary="Submit the uploaded files for processing",
    description="Rate-limit bucket: `submit`.",
    response="Job",
    request=None,
    parameters=[SLUG_PARAM],
    problems={
        400: ["SESSION_SUBMITTED", "SESSION_COMPLETED", "SESSION_FAILED"],
        404: ["JOB_NOT_FOUND"],
        409: ["CONFLICT", "SUBMISSION_CANCELLED", "SUBMISSION_REJECTED", "SUBMISSION_FAILED"],
        410: ["SESSION_EXPIRED"],
        422: ["FILES_MISSING", "INVALID_FILES"],
    },
)
JOB_DETAIL = docs(
    "getJob",
    tag="jobs",
    summary="Poll a workflow session (seed: Polling & Jobs)",
    description=(
        "Poll every 5 to 10 seconds; stop at `completed`, `failed` or `expired`. Besides "
        "the key's `read` bucket each session has its own polling limit (`poll`, 60/min)."
    ),
    response="Job",
    examples=[seed_example("Completed, review required", SEED_JOB)],
    problems={404: ["JOB_NOT_FOUND"]},
)
SUBMISSION_LIST = docs(
    "listSubmissions",
    tag="submissions",
    summary="List the company's submissions, newest first",
    response="SubmissionList",
    parameters=[
        OpenApiParameter("workflow", str, description="Filter to one workflow slug"),
        OpenApiParameter("status", str, enum=SUBMISSION_STATUSES),
        OpenApiParameter("fraudStatus", str, enum=FRAUD_STATUSES),
        OpenApiParameter("cursor", str, description="nextCursor of the previous page"),
        OpenApiParameter("limit", int, description="Page size, clamped to 1..100"),
    ],
    examples=[seed_example("Review queue", SEED_SUBMISSION_LIST)],
    problems={400: ["INVALID_FILTER", "INVALID_CURSOR", "INVALID_LIMIT"]},
)
SUBMISSION_DETAIL_DOCS = docs(
    "getSubmission",
    tag="submissions",
    summary="Submission detail: files, fraud matches, events",
    response="SubmissionDetail",
    examples=[seed_example("Flagged submission", SEED_SUBMISSION_DETAIL)],
    problems={404: ["SUBMISSION_NOT_FOUND"]},
)
SUBMISSION_APPROVE = docs(
    "approveSubmission",
    tag="review",
    summary="Approve a submission in review (bucket: write)",
    response="ActionResult",
    request=None,
    examples=[seed_example("Approved", SEED_ACTION_RESULT)],
    problems={**REVIEW_PROBLEMS, 409: ["UNRESOLVED_FRAUD_MATCHES", *REVIEW_PROBLEMS[409]]},
)
SUBMISSION_REJECT = docs(
    "rejectSubmission",
    tag="review",
    summary="Reject a submission; a reason is required (bucket: write)",
    response="ActionResult",
    request=obj({"reason": {"type": "string", "maxLength": 2000}}, required=["reason"]),
    examples=[
        seed_example(
            "Reject", {"reason": "Document is illegible and cannot be verified."}, request=True
        ),
        seed_example("Rejected", {**SEED_ACTION_RESULT, "submissionStatus": "rejected"}),
    ],
    problems={
        **REVIEW_PROBLEMS,
        400: ["INVALID_BODY", "INVALID_JSON", "INVALID_UNICODE", "JSON_TOO_DEEP"],
        422: ["REASON_REQUIRED", "VALIDATION_ERROR"],
    },
)
SUBMISSION_CANCEL = docs(
    "cancelSubmission",
    tag="review",
    summary="Cancel a submission until it is approved (bucket: write)",
    response="ActionResult",
    request=obj({"reason": {"type": "string"}}, required=[]),
    examples=[
        seed_example(
            "Cancel", {"reason": "Duplicate submission from the same customer."}, request=True
        ),
        seed_example("Cancelled", {**SEED_ACTION_RESULT, "submissionStatus": "cancelled"}),
    ],
    problems={
        **REVIEW_PROBLEMS,
        400: ["INVALID_BODY", "INVALID_JSON", "INVALID_UNICODE", "JSON_TOO_DEEP"],
        422: ["VALIDATION_ERROR"],
    },
)
SUBMISSION_CORRECT = docs(
    "correctSubmission",
    tag="review",
    summary="Correct extracted fields of a submission in review (bucket: write)",
    description=(
        "Each value replaces the field (null clears it) and is validated against the "
        "workflow version's output schema; a 422 names every invalid field as "
        "`fields.<name>`, and nothing is stored unless all are valid. Each change is "
        "recorded as a `field_corrected` event, like a correction on the review page, and "
        "its confidence becomes 1.0. With `expectedVersion`, a submission that changed "
        "since (its `version`) is refused with 409 SUBMISSION_CHANGED. A corrected "
        "`merchantName` or `merchantAddress` is remembered for the shop: the company's "
        "next receipt from it gets the corrected value."
    ),
    response="SubmissionDetail",
    request=obj(
        {
            "fields": {"type": "object", "additionalProperties": True, "minProperties": 1},
            "expectedVersion": {"type": "integer"},
        },
        required=["fields"],
    ),
    examples=[
        seed_example(
            "Correct the merchant",
            {"fields": {"merchantName": "ABC Trading Sdn Bhd"}, "expectedVersion": 3},
            request=True,
        ),
        seed_example("Corrected", SEED_SUBMISSION_DETAIL),
    ],
    problems={**REVIEW_PROBLEMS, 400: ["INVALID_BODY", "INVALID_JSON"], 422: ["VALIDATION_ERROR"]},
)
FRAUD_MATCH_LIST = docs(
    "listFraudMatches",
    tag="fraud",
    summary="A submission's fraud matches",
    response="FraudMatchList",
    parameters=[
        OpenApiParameter("cursor", str, description="nextCursor of the previous page"),
        OpenApiParameter("limit", int, description="Page size, clamped to 1..100"),
    ],
    examples=[seed_example("One visual match", SEED_FRAUD_MATCHES)],
    problems={404: ["SUBMISSION_NOT_FOUND"], 400: ["INVALID_CURSOR", "INVALID_LIMIT"]},
)
FRAUD_MATCH_RESOLVE = docs(
    "resolveFraudMatch",
    tag="fraud",
    summary="Resolve one fraud match (bucket: write)",
    response="FraudMatch",
    request=obj({"resolution": {"type": "string", "enum": ["false_positive", "confirmed_fraud"]}}),
    examples=[seed_example("False positive", {"resolution": "false_positive"}, request=True)],
    problems={
        400: ["INVALID_BODY", "INVALID_JSON", "INVALID_UNICODE", "JSON_TOO_DEEP"],
        422: ["INVALID_RESOLUTION"],
        404: ["SUBMISSION_NOT_FOUND", "FRAUD_MATCH_NOT_FOUND"],
        409: ["FRAUD_MATCH_ALREADY_RESOLVED", "SUBMISSION_CHANGED", *TRANSITION_CODES],
    },
)


# ---- extraction jobs (seed 003): the peers' envelope ----

JOB_STATUSES = [
    "queued",
    "processing",
    "review_required",
    "completed",
    "failed",
    "canceled",
    "expired",
]
EXTRACTION_FIELDS: dict[str, Any] = {
    "filename": {"type": "string", "description": "For JSON base64 uploads"},
    "templateName": {"type": "string", "description": "The workflow slug"},
    "filterName": STRING,
    "documentSplitting": {"type": "boolean"},
    "returnDocuments": {"type": "boolean"},
    "returnText": {"type": "boolean"},
    "documentReview": {"type": "integer", "minimum": 1, "maximum": 99},
    "schemaChunking": {"type": "string", "enum": ["auto", "combined"]},
    "password": STRING,
    "deliveryMode": {"type": "string", "enum": ["poll", "webhook"], "default": "poll"},
}
EXTRACTION_REQUEST = {
    "multipart/form-data": obj(
        {"file": {"type": "string", "format": "binary"}, **EXTRACTION_FIELDS}, required=["file"]
    ),
    "application/json": obj(
        {"file": {"type": "string", "description": "Base64 file bytes"}, **EXTRACTION_FIELDS},
        required=["file"],
    ),
}
JOB_ERROR = obj({"message": STRING, "code": STRING})
EXTRACTION_JOB = obj(
    {
        "id": STRING,
        "status": {"type": "string", "enum": JOB_STATUSES},
        "statusUrl": STRING,
        "createdAt": DATETIME,
        "updatedAt": DATETIME,
        "retryAfterMs": {"type": "integer"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "resultAvailable": {"type": "boolean"},
        "resultUrl": STRING,
        "reviewRequiredAt": nullable(DATETIME),
        "reviewThreshold": {"type": "integer"},
        "reviewFlaggedFieldCount": {"type": "integer"},
        "submissionId": {
            "type": "string",
            "description": "On review_required: the submission to review (/api/v1/submissions)",
        },
        "completedAt": nullable(DATETIME),
        "failedAt": nullable(DATETIME),
        "canceledAt": nullable(DATETIME),
        "error": JOB_ERROR,
        "result": ref("ExtractionJobRetentionStub"),
    },
    required=["id", "status"],
)
EXTRACTION_RESULT_DATA = {
    "oneOf": [
        obj(
            {
                "completionTime": {"type": "number"},
                "originalName": nullable(STRING),
                "processedPages": {"type": "integer"},
                "documents": {"type": "array", "items": FREE_OBJECT},
            }
        ),
        obj({"is_url": {"type": "boolean", "enum": [True]}, "url": STRING}),
    ]
}
COMPONENTS.update(
    {
        # Named, so a generator does not name it ExtractionJob + Result: that is taken.
        "ExtractionJobRetentionStub": obj(
            {"expired": {"type": "boolean", "enum": [True]}, "purgedAt": nullable(DATETIME)}
        ),
        "ExtractionJob": EXTRACTION_JOB,
        "ExtractionJobEnvelope": obj({"success": {"type": "boolean"}, "job": ref("ExtractionJob")}),
        "ExtractionJobResult": obj(
            {
                "success": {"type": "boolean"},
                "job": ref("ExtractionJob"),
                "data": EXTRACTION_RESULT_DATA,
            }
        ),
    }
)
JOB_TIMES = {"id": "uuid", "createdAt": "2026-03-12T10:00:00.000Z"}
SEED_EXTRACTION_STATUS = {
    "Queued": {
        **JOB_TIMES,
        "status": "queued",
        "updatedAt": "2026-03-12T10:00:00.000Z",
        "retryAfterMs": 5000,
    },
    "Processing": {
        **JOB_TIMES,
        "status": "processing",
        "updatedAt": "2026-03-12T10:00:20.000Z",
        "progress": 45,
        "retryAfterMs": 5000,
    },
    "Review required": {
        **JOB_TIMES,
        "status": "review_required",
        "updatedAt": "2026-03-12T10:01:00.000Z",
        "retryAfterMs": 5000,
        "resultAvailable": False,
        "reviewRequiredAt": "2026-03-12T10:01:00.000Z",
        "reviewThreshold": 92,
        "reviewFlaggedFieldCount": 3,
    },
    "Completed": {
        **JOB_TIMES,
        "status": "completed",
        "updatedAt": "2026-03-12T10:01:03.000Z",
        "completedAt": "2026-03-12T10:01:03.000Z",
        "resultAvailable": True,
        "resultUrl": "/api/v1/extraction-jobs/uuid/result",
    },
    "Failed": {
        **JOB_TIMES,
        "status": "failed",
        "updatedAt": "2026-03-12T10:00:45.000Z",
        "failedAt": "2026-03-12T10:00:45.000Z",
        "error": {"message": "Document processing failed.", "code": "PROCESSING_ERROR"},
    },
}
SEED_EXTRACTION_CREATED = {
    "success": True,
    "job": {
        "id": "2c0d2f0e-1f4e-4c11-a0d6-64cc7b71697d",
        "status": "queued",
        "statusUrl": "/api/v1/extraction-jobs/2c0d2f0e-1f4e-4c11-a0d6-64cc7b71697d",
        "retryAfterMs": 5000,
    },
}
JOB_ID_PARAM = OpenApiParameter("job_id", str, OpenApiParameter.PATH, description="The job id")
EXTRACTION_JOB_CREATE = docs(
    "createExtractionJob",
    tag="extraction-jobs",
    summary="Create an asynchronous extraction job (seed: Asynchronous Extraction)",
    description=(
        "202 with a queued job. An `Idempotency-Key` replay returns the existing job with "
        "200 and `X-Idempotent-Replay: true`. Rate-limit bucket: `session`."
    ),
    response="ExtractionJobEnvelope",
    status=202,
    request=EXTRACTION_REQUEST,
    parameters=[IDEMPOTENCY_PARAM],
    examples=[
        seed_example("Queued", SEED_EXTRACTION_CREATED, status=202),
        seed_example("Idempotent replay", SEED_EXTRACTION_CREATED, status=200),
    ],
    extra_responses={
        200: OpenApiResponse(ref("ExtractionJobEnvelope"), description="Idempotent replay")
    },
    problems={
        400: [
            "INVALID_IDEMPOTENCY_KEY",
            "FILE_REQUIRED",
            "INVALID_FILE",
            "TEMPLATE_REQUIRED",
            "INVALID_DELIVERY_MODE",
            "NESTED_OPTIONS_REJECTED",
            "INVALID_DOCUMENT_REVIEW",
            "INVALID_REQUEST",
            "WEBHOOK_NOT_CONFIGURED",
            "UNSUPPORTED_FILE",
        ],
        404: ["TEMPLATE_NOT_FOUND"],
        409: ["IDEMPOTENCY_KEY_IN_FLIGHT"],
        413: ["FILE_TOO_LARGE"],
        422: ["IDEMPOTENCY_KEY_REUSED", "VALIDATION_ERROR"],
    },
)
EXTRACTION_JOB_DETAIL = docs(
    "getExtractionJob",
    tag="extraction-jobs",
    summary="Poll an extraction job",
    description="Also limited per job (`poll`, 60/min) besides the key's `read` bucket.",
    response="ExtractionJobEnvelope",
    parameters=[JOB_ID_PARAM],
    examples=[
        seed_example(name, {"success": True, "job": job})
        for name, job in SEED_EXTRACTION_STATUS.items()
    ],
    problems={404: ["JOB_NOT_FOUND"]},
)
EXTRACTION_JOB_RESULT = docs(
    "getExtractionJobResult",
    tag="extraction-jobs",
    summary="An extraction job's result",
    response="ExtractionJobResult",
    parameters=[JOB_ID_PARAM],
    examples=[
        seed_example(
            "Completed",
            {
                "success": True,
                "job": {
                    "id": "uuid",
                    "status": "completed",
                    "completedAt": "2026-03-12T10:01:03.000Z",
                },
                "data": {
                    "completionTime": 63.2,
                    "originalName": "invoice.pdf",
                    "processedPages": 3,
                    "documents": [],
                },
            },
        )
    ],
    problems={
        404: ["JOB_NOT_FOUND"],
        409: ["RESULT_NOT_READY", "REVIEW_REQUIRED", "JOB_FAILED", "JOB_CANCELED"],
        410: ["RESULT_EXPIRED"],
    },
)
# ---- webhook endpoints, deliveries and the test event (STEVE-API.md, "Webhooks") ----

WEBHOOK_ENDPOINT = obj(
    {
        "id": STRING,
        "url": {"type": "string", "format": "uri"},
        "description": STRING,
        "events": {"type": "array", "items": STRING},
        "enabled": {"type": "boolean"},
        "environment": {
            "type": "string",
            "enum": ["production", "sandbox"],
            "description": "receives the events of sessions opened with keys of this"
            " environment: that of the key that created the endpoint",
        },
        "disabledReason": nullable(STRING),
        "disabledAt": nullable(DATETIME),
        "failingSince": nullable(DATETIME),
        "previousSecretExpiresAt": nullable(DATETIME),
        "createdAt": DATETIME,
        "updatedAt": DATETIME,
        "secret": {
            "type": "string",
            "nullable": True,
            "description": "whsec_…: only on create and rotation; null in an Idempotency-Key"
            " replay, which never shows a secret again",
        },
        "secretRedacted": {
            "type": "boolean",
            "description": "true in an Idempotency-Key replay whose secret was withheld",
        },
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
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": {"type": "integer"},
        "nextAttemptAt": nullable(DATETIME),
        "lastAttemptAt": nullable(DATETIME),
        "lastStatusCode": nullable({"type": "integer"}),
        "lastError": nullable(STRING),
        "deliveredAt": nullable(DATETIME),
        "createdAt": DATETIME,
        "payload": FREE_OBJECT,
        "attemptLog": {"type": "array", "items": ref("WebhookAttempt")},
    },
    required=["id", "eventId", "eventType", "status", "attempts"],
)
COMPONENTS.update(
    {
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
                "secret": {"type": "string", "description": "Only when just rotated"},
            },
            required=["exists", "createdAt", "previousSecretExpiresAt"],
        ),
        "Redelivered": obj({"endpointId": STRING, "redelivered": {"type": "integer"}}),
        "WebhookTestResult": obj(
            {
                "eventId": STRING,
                "url": STRING,
                "delivered": {"type": "boolean"},
                "statusCode": nullable({"type": "integer"}),
                "latencyMs": nullable({"type": "integer"}),
                "responseBody": nullable(STRING),
                "error": nullable(STRING),
            },
            required=["eventId", "url", "delivered"],
        ),
    }
)
ENDPOINT_NOT_FOUND = {404: ["WEBHOOK_ENDPOINT_NOT_FOUND"]}
URL_PROBLEMS = ["VALIDATION_ERROR", "INVALID_URL", "WEBHOOK_TARGET_REFUSED"]
GRACE_REQUEST = obj({"gracePeriodHours": {"type": "number"}}, required=[])
PAGE_PARAMS = [
    OpenApiParameter("cursor", str, description="nextCursor of the previous page"),
    OpenApiParameter("limit", int, description="Page size, clamped to 1..100"),
]
WEBHOOK_DOCS: dict[tuple[str, str], Any] = {
    ("/api/v1/webhook-endpoints", "GET"): docs(
        "listWebhookEndpoints",
        tag="webhooks",
        summary="The company's webhook endpoints",
        response="WebhookEndpointList",
        parameters=PAGE_PARAMS,
        problems={400: ["INVALID_CURSOR", "INVALID_LIMIT"]},
    ),
    ("/api/v1/webhook-endpoints", "POST"): docs(
        "createWebhookEndpoint",
        tag="webhooks",
        summary="Add an endpoint; its whsec_ secret is shown once (bucket: write)",
        response="WebhookEndpoint",
        status=201,
        request=obj(
            {
                "url": {"type": "string", "format": "uri"},
                "events": {"type": "array", "items": STRING},
                "description": STRING,
            },
            required=["url"],
        ),
        parameters=[IDEMPOTENCY_PARAM],
        problems={
            400: ["INVALID_IDEMPOTENCY_KEY"],
            409: ["IDEMPOTENCY_KEY_IN_FLIGHT"],
            422: [*URL_PROBLEMS, "INVALID_EVENTS", "UNKNOWN_EVENT_TYPE", "INVALID_DESCRIPTION"]
            + ["IDEMPOTENCY_KEY_REUSED"],
        },
    ),
    ("/api/v1/webhook-endpoints/session-secret", "GET"): docs(
        "getSessionWebhookSecret",
        tag="webhooks",
        summary="Whether the secret signing deliveries to sessions' webhookUrl exists",
        response="SessionWebhookSecret",
    ),
    ("/api/v1/webhook-endpoints/session-secret/rotate", "POST"): docs(
        "rotateSessionWebhookSecret",
        tag="webhooks",
        summary="Create or rotate the session-webhook secret (bucket: write)",
        response="SessionWebhookSecret",
        request=GRACE_REQUEST,
        problems={422: ["VALIDATION_ERROR", "INVALID_GRACE_PERIOD"]},
    ),
    ("/api/v1/webhook-endpoints/sync-secret", "GET"): docs(
        "getSyncSigningSecret",
        tag="webhooks",
        summary="Whether the secret signing downstream-sync posts exists",
        response="SessionWebhookSecret",
    ),
    ("/api/v1/webhook-endpoints/sync-secret/rotate", "POST"): docs(
        "rotateSyncSigningSecret",
        tag="webhooks",
        summary="Create or rotate the downstream-sync signing secret (bucket: write)",
        response="SessionWebhookSecret",
        request=GRACE_REQUEST,
        problems={422: ["VALIDATION_ERROR", "INVALID_GRACE_PERIOD"]},
    ),
    ("/api/v1/webhook-endpoints/{endpoint_id}", "GET"): docs(
        "getWebhookEndpoint",
        tag="webhooks",
        summary="One webhook endpoint",
        response="WebhookEndpoint",
        problems=ENDPOINT_NOT_FOUND,
    ),
    ("/api/v1/webhook-endpoints/{endpoint_id}", "PATCH"): docs(
        "updateWebhookEndpoint",
        tag="webhooks",
        summary="Change url, events, description or enabled (bucket: write)",
        response="WebhookEndpoint",
        request=obj(
            {
                "url": {"type": "string", "format": "uri"},
                "events": {"type": "array", "items": STRING},
                "description": STRING,
                "enabled": {"type": "boolean"},
            },
            required=[],
        ),
        problems={
            **ENDPOINT_NOT_FOUND,
            422: [*URL_PROBLEMS, "INVALID_EVENTS", "UNKNOWN_EVENT_TYPE", "INVALID_DESCRIPTION"],
        },
    ),
    ("/api/v1/webhook-endpoints/{endpoint_id}", "DELETE"): docs(
        "deleteWebhookEndpoint",
        tag="webhooks",
        summary="Delete a webhook endpoint (bucket: write)",
        response=None,
        status=204,
        problems=ENDPOINT_NOT_FOUND,
    ),
    ("/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret", "POST"): docs(
        "rotateWebhookEndpointSecret",
        tag="webhooks",
        summary="New whsec_ secret; the old one verifies during the grace period",
        response="WebhookEndpoint",
        request=GRACE_REQUEST,
        problems={**ENDPOINT_NOT_FOUND, 422: ["VALIDATION_ERROR", "INVALID_GRACE_PERIOD"]},
    ),
    ("/api/v1/webhook-endpoints/{endpoint_id}/redeliver", "POST"): docs(
        "redeliverFailedWebhooks",
        tag="webhooks",
        summary="Queue the endpoint's failed deliveries since a time again",
        response="Redelivered",
        status=202,
        request=obj({"since": DATETIME}),
        problems={
            **ENDPOINT_NOT_FOUND,
            409: ["WEBHOOK_ENDPOINT_DISABLED"],
            422: ["VALIDATION_ERROR"],
        },
    ),
    ("/api/v1/webhook-endpoints/{endpoint_id}/deliveries", "GET"): docs(
        "listWebhookDeliveries",
        tag="webhooks",
        summary="An endpoint's deliveries, newest first",
        response="WebhookDeliveryList",
        parameters=[
            OpenApiParameter("status", str, enum=["pending", "delivered", "failed"]),
            *PAGE_PARAMS,
        ],
        problems={
            **ENDPOINT_NOT_FOUND,
            400: ["INVALID_CURSOR", "INVALID_LIMIT"],
            422: ["VALIDATION_ERROR"],
        },
    ),
    ("/api/v1/webhook-deliveries/{delivery_id}", "GET"): docs(
        "getWebhookDelivery",
        tag="webhooks",
        summary="One delivery with its payload and attempt log",
        response="WebhookDelivery",
        problems={404: ["WEBHOOK_DELIVERY_NOT_FOUND"]},
    ),
    ("/api/v1/webhook-deliveries/{delivery_id}/redeliver", "POST"): docs(
        "redeliverWebhook",
        tag="webhooks",
        summary="Queue one delivery again",
        response="WebhookDelivery",
        status=202,
        request=None,
        problems={404: ["WEBHOOK_DELIVERY_NOT_FOUND"], 409: ["WEBHOOK_ENDPOINT_DISABLED"]},
    ),
    ("/api/v1/webhooks/test", "POST"): docs(
        "sendTestWebhook",
        tag="webhooks",
        summary="Send a test event now, 5 s timeout (bucket: webhook_test, 10/min)",
        response="WebhookTestResult",
        request=obj({"endpointId": STRING, "url": {"type": "string", "format": "uri"}}, []),
        problems={**ENDPOINT_NOT_FOUND, 422: URL_PROBLEMS},
    ),
}

# Operations documented by route, for views this module must not import (the core
# imports no app): applied to the view class by the pre-processing hook.
ROUTE_DOCS: dict[tuple[str, str], Any] = {
    ("/api/v1/extraction-jobs", "POST"): EXTRACTION_JOB_CREATE,
    ("/api/v1/extraction-jobs/{job_id}", "GET"): EXTRACTION_JOB_DETAIL,
    ("/api/v1/extraction-jobs/{job_id}/result", "GET"): EXTRACTION_JOB_RESULT,
    **WEBHOOK_DOCS,
}


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
    """Document /api/v1/ only (not the admin, nor the review UI); apply ROUTE_DOCS."""
    public = [e for e in endpoints if e[0].startswith(API_PREFIX)]
    for path, _, method, callback in public:
        route_docs = ROUTE_DOCS.get((path, method))
        view_class = getattr(callback, "cls", None)
        if route_docs is not None and view_class is not None:
            extend_schema_view(**{method.lower(): route_docs})(view_class)
    return public


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


def _operation_problems(operation: dict[str, Any]) -> dict[int, list[str]]:
    declared = operation.pop(PROBLEMS_KEY, {}) or {}
    problems: dict[int, list[str]] = {int(k): list(v) for k, v in declared.items()}
    extras = [COMMON_PROBLEMS] if operation.get("security") else []
    if "requestBody" in operation:
        extras.append(BODY_PROBLEMS)  # added to the common codes, not in their place
    for extra in extras:
        for status, codes in extra.items():
            problems.setdefault(status, [])
            problems[status] += [c for c in codes if c not in problems[status]]
    problems.setdefault(500, ["INTERNAL_ERROR"])
    return problems


def _add_problems(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status, codes in sorted(_operation_problems(operation).items()):
        described = "; ".join(f"`{c}`: {PROBLEM_CODES[c][1]}" for c in codes)
        responses[str(status)] = {
            "description": described,
            "content": problem_content(codes, path),
        }
        if status in (409, 429):
            responses[str(status)]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}
            }


def _add_headers(operation: dict[str, Any], idempotent: bool) -> None:
    for status, response in operation.get("responses", {}).items():
        headers = response.setdefault("headers", {})
        for name, spec in HEADER_DOCS.items():  # on every response, errors included
            headers.setdefault(name, spec)
        if idempotent and status in ("200", "201", "202"):
            headers["X-Idempotent-Replay"] = {
                "description": "`true` when this is the stored response of an earlier create",
                "schema": {"type": "string", "enum": ["true"]},
            }


def _fix_security(operation: dict[str, Any]) -> None:
    if operation.get("security"):
        operation["security"] = copy.deepcopy(SECURITY)


def finish_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """Add components, problem responses and headers; see the module docstring."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(copy.deepcopy(COMPONENTS))
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            _fix_security(operation)
            params = operation.get("parameters", [])
            idempotent = any(p.get("name") == "Idempotency-Key" for p in params)
            _add_problems(path, operation)
            _add_headers(operation, idempotent)
    result["info"]["description"] = api_description()
    return result


def api_description() -> str:
    rows = "\n".join(
        f"| `{code}` | {status} | {text} |" for code, (status, text) in PROBLEM_CODES.items()
    )
    return (
        "Steve's public REST API: workflows, sessions with pre-signed uploads, polling, "
        "and submission review.\n\n"
        "**Authentication**: `Authorization: Bearer aok_…`, `X-API-Key: aok_…` or "
        "`Authorization: api-key aok_…`. Missing or unknown key: 401; revoked: 403. "
        "An address sending many unknown keys gets 429 `TOO_MANY_INVALID_API_KEYS` for a "
        "minute.\n\n"
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
        "120/min (review actions, fraud resolution, webhook endpoint writes), "
        "`webhook_test` 10/min, `upload` 300/min (PUTs to upload URLs, paid by the "
        "session's key), and `poll` 60/min per polled session or job (besides `read`). "
        "Requests without a valid key spend `anonymous`, 120/min per client address. "
        "`X-RateLimit-Bucket` names the bucket the figures are of: on a poll, the tighter "
        "of `read` and `poll`. "
        + AUTH_HEADERS_NOTE
        + " A 429 adds `Retry-After`. Limits can be raised per company.\n\n"
        "**Idempotency**: send `Idempotency-Key` on creates; see the create operations."
    )
