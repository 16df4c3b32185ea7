"""The sessions' and extraction jobs' API contract: wire schemas, problem codes, docs.

Sessions and polling (jobs.api.views) follow the seeds' "Polling & Jobs" page; extraction
jobs (jobs.api.extraction_jobs) the peers' envelope of seed 003. Registered with the
core's schema registry on import (JobsConfig.ready imports this module).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from jobs.api.serializers import MAX_EXTERNAL_USER_CHARS
from jobs.extraction.document import MAX_PDF_PAGES
from jobs.extraction.errors import ERROR_CODES
from jobs.models import SessionState
from jobs.services import ENDED_CODES, STUCK_ERROR_CODE
from steve.api.schema import (
    DATETIME,
    FREE_OBJECT,
    POLL_HINT_HEADER,
    STRING,
    additive,
    choices,
    closed,
    docs,
    nullable,
    obj,
    ref,
    register_components,
    register_problems,
    seed_example,
    with_unread_body,
)
from steve.api.workflow_schema import SLUG_PARAM
from submissions.models import SubmissionStatus
from submissions.services import REASON_MAX

# A failed job's error.code: the extraction's codes, a job given up, and a session its
# submission ended (docs/api.md).
FAILED_JOB_CODES = sorted({*ERROR_CODES, STUCK_ERROR_CODE, *ENDED_CODES})

SESSION_STATES = choices(SessionState)
SUBMISSION_STATUSES = choices(SubmissionStatus)
USER_TEXT = {**STRING, "maxLength": MAX_EXTERNAL_USER_CHARS}
EXTERNAL_USER = {
    "type": "object",
    "properties": {
        "id": nullable(USER_TEXT),
        "name": nullable(USER_TEXT),
        "email": nullable({**USER_TEXT, "description": "An email address when not empty."}),
    },
    "additionalProperties": False,
}
SESSION_CREATE_REQUEST = closed(  # another field is refused (unknown_field)
    obj(
        {
            "fileCount": {
                "type": "integer",
                "description": "Within the workflow's minFiles..maxFiles",
            },
            "contentTypes": {
                "type": "array",
                "items": STRING,
                "description": (
                    "One MIME type per file, each in acceptedFormats; any case (answered in "
                    "lower case), without parameters (`image/jpeg; charset=binary`: 422 "
                    "`parameters`)"
                ),
            },
            "clientSubmissionId": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": (
                    "Your id, kept exactly as sent (not only spaces); a pending session "
                    "already made for it is returned"
                ),
            },
            # Optional members: null is the same as leaving them out.
            "webhookUrl": nullable(
                {
                    "type": "string",
                    "format": "uri",
                    "maxLength": 2000,
                    "description": "HTTPS, public host",
                }
            ),
            "metadata": nullable(
                {
                    **FREE_OBJECT,
                    "description": (
                        "At most 4096 bytes as stored (compact UTF-8 JSON, numbers written "
                        "out in full), 2 levels; leaves string/number/boolean; no key "
                        "empty or only spaces"
                    ),
                }
            ),
            "externalUser": nullable(EXTERNAL_USER),
        },
        required=["fileCount", "contentTypes", "clientSubmissionId"],
    )
)
UPLOAD_URL = obj(
    {
        "fileIndex": {"type": "integer"},
        "uploadUrl": {
            "type": "string",
            "description": (
                "Pre-signed URL: PUT the file's bytes. Success is 200, as S3 answers; with "
                "local storage the body is JSON `{fileIndex, size, contentType}` (the "
                "sniffed type) and the `upload` bucket's rate-limit headers come with it."
            ),
        },
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
        "progress": additive({"type": "integer", "minimum": 0, "maximum": 100}),
        "createdAt": additive(DATETIME),
        "updatedAt": additive(DATETIME),
        "expiresAt": additive(DATETIME),
        "retryAfterMs": additive(
            {"type": "integer", "description": "Polling hint while not terminal"}
        ),
        "error": additive(
            obj(
                {
                    "code": {"type": "string", "enum": FAILED_JOB_CODES},
                    "message": nullable(STRING),
                    "details": obj({"step": STRING, "retryable": {"type": "boolean"}}, []),
                },
                required=["code"],
            )
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
register_components(
    {
        "SessionCreateRequest": SESSION_CREATE_REQUEST,
        "UploadUrl": UPLOAD_URL,
        "SessionCreated": SESSION_CREATED,
        "JobResult": RESULT,
        "Job": JOB,
    }
)
PROBLEMS: dict[str, tuple[int, str]] = {
    "SESSION_SUBMITTED": (400, "The session was already submitted."),
    "SESSION_COMPLETED": (400, "The session has completed; it cannot be submitted."),
    "SESSION_FAILED": (400, "The session failed; it cannot be submitted."),
    "JOB_NOT_FOUND": (404, "No such session for this API key."),
    "CLIENT_SUBMISSION_ID_IN_USE": (409, "clientSubmissionId belongs to a non-pending session."),
    "CLIENT_SUBMISSION_ID_CONFLICT": (
        409,
        "clientSubmissionId belongs to a pending session made with another request: "
        "`errors[]` names each member that differs.",
    ),
    "SUBMISSION_CANCELLED": (400, "The session ended because its submission was cancelled."),
    "SUBMISSION_REJECTED": (400, "The session ended because its submission was rejected."),
    "SUBMISSION_FAILED": (400, "The session ended because its submission failed."),
    "SESSION_EXPIRED": (410, "The session expired before it was submitted."),
    "SESSION_NOT_PENDING": (410, "The session has ended; its upload URLs no longer work."),
    "FILES_MISSING": (422, "Fewer files uploaded than the workflow's minFiles."),
    "INVALID_FILES": (
        422,
        "An uploaded file is empty, too large, of a refused type, or one the upload's check "
        "refuses: `errors[]` names each (`files[0]`) with the local upload's code and words "
        "(EMPTY_FILE, FILE_TOO_LARGE, UNSUPPORTED_FILE, PASSWORD_REQUIRED, "
        "PAGE_LIMIT_EXCEEDED); the session stays pending and its uploads are kept.",
    ),
    # Extraction jobs (seed 003)
    "INVALID_REQUEST": (400, "A field has the wrong type."),
    "FILE_REQUIRED": (400, "file is missing."),
    "INVALID_FILE": (400, "file is not valid base64."),
    "TEMPLATE_REQUIRED": (400, "templateName is missing."),
    "INVALID_DELIVERY_MODE": (400, "deliveryMode is not poll or webhook."),
    "NESTED_OPTIONS_REJECTED": (400, "Nested options.* (or options[...]) are not accepted."),
    "INVALID_DOCUMENT_REVIEW": (400, "documentReview is not a whole number 1-99."),
    "WEBHOOK_NOT_CONFIGURED": (
        400,
        "deliveryMode webhook needs an enabled endpoint taking session.completed and "
        "session.failed.",
    ),
    "TEMPLATE_NOT_FOUND": (404, "No such template (workflow) or filter."),
    "RESULT_NOT_READY": (409, "The job has not finished yet."),
    "REVIEW_REQUIRED": (409, "The job is awaiting manual review."),
    "JOB_FAILED": (409, "The job failed."),
    "JOB_CANCELED": (409, "The job was canceled."),
    "JOB_COMPLETED": (409, "The job has completed; it cannot be canceled."),
    "JOB_EXPIRED": (409, "The job has expired (its result was purged); it cannot be canceled."),
    "RESULT_EXPIRED": (410, "The job's stored result is no longer available."),
    "FILE_TOO_LARGE": (
        413,
        "The file is larger than the workflow allows, or an image of more pixels than "
        "processing decodes.",
    ),
    # Seed 003 answers every refusal of a create's content with 400.
    "UNSUPPORTED_FILE": (400, "The file's bytes are not an accepted type."),
    "EMPTY_FILE": (400, "The file is empty."),
    # What opening the file shows processing would refuse, in processing's code: an
    # extraction job's create (and a session's local upload) refuses it at once.
    "PASSWORD_REQUIRED": (400, "The PDF needs a password, and none was sent with it."),
    "PAGE_LIMIT_EXCEEDED": (
        400,
        f"The PDF has more pages than processing reads ({MAX_PDF_PAGES}).",
    ),
    # Not HTTP errors: the code of a failed job, in its `error.code` (seeds 003, 004).
    "PROCESSING_ERROR": (200, "Processing failed: a failed job's error.code."),
    "OCR_FAILED": (200, "Text could not be read: a failed job's error.code."),
}
register_problems(
    PROBLEMS, slugs={"FILES_MISSING": "files-missing", "INVALID_FILES": "validation-error"}
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
SESSION_CREATE = docs(
    "createSession",
    tag="sessions",
    summary="Open a workflow session with pre-signed upload URLs",
    description=(
        "201 with a new pending session. A pending session already made for the same "
        "`clientSubmissionId` with the same request is returned as it was, 201 with "
        "`X-Idempotent-Replay: true`; with another workflow, `fileCount`, `contentTypes`, "
        "`metadata`, `externalUser` or `webhookUrl` it is 409 "
        "`CLIENT_SUBMISSION_ID_CONFLICT` (a member left out, null or empty is its default; "
        "key order does not matter). "
        "Rate-limit bucket: `session`."
    ),
    response="SessionCreated",
    status=201,
    request="SessionCreateRequest",
    parameters=[SLUG_PARAM],
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
    parameters=[SLUG_PARAM, POLL_HINT_HEADER],
    problems=with_unread_body(
        {
            400: [
                "SESSION_SUBMITTED",
                "SESSION_COMPLETED",
                "SESSION_FAILED",
                "SUBMISSION_CANCELLED",
                "SUBMISSION_REJECTED",
                "SUBMISSION_FAILED",
            ],
            404: ["JOB_NOT_FOUND"],
            409: ["CONFLICT"],
            410: ["SESSION_EXPIRED"],
            422: ["FILES_MISSING", "INVALID_FILES"],
            503: ["STORAGE_UNAVAILABLE"],
        }
    ),
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
    parameters=[POLL_HINT_HEADER],
    examples=[seed_example("Completed, review required", SEED_JOB)],
    problems={404: ["JOB_NOT_FOUND"]},
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
# How a job's outcome reaches the caller: it polls, or a webhook endpoint is told.
DELIVERY_MODES = ("poll", "webhook")
SCHEMA_CHUNKING = ("auto", "combined")
# A multipart file's name is cut to this by Django (UploadedFile); a JSON one is held to it.
MAX_FILENAME = 255
# A PDF reads no more of a password than 127 bytes (AES-256; RC4 reads 32): a longer one
# opens nothing a shorter could not, and was kept whole in the job's options.
MAX_PASSWORD = 127
EXTRACTION_FIELDS: dict[str, Any] = {
    "filename": {
        "type": "string",
        "maxLength": MAX_FILENAME,
        "description": (
            "For JSON base64 uploads. Kept as the job's originalName: its last part after"
            " any / or \\, without control, bidi formatting or invisible characters."
        ),
    },
    "templateName": {"type": "string", "description": "The workflow slug"},
    "filterName": {
        "type": "string",
        "description": "Steve has no filters: any value is a 404 TEMPLATE_NOT_FOUND",
    },
    "documentSplitting": {"type": "boolean"},
    "returnDocuments": {"type": "boolean"},
    "returnText": {"type": "boolean"},
    "documentReview": {"type": "integer", "minimum": 1, "maximum": 99},
    "schemaChunking": {"type": "string", "enum": list(SCHEMA_CHUNKING)},
    "password": {
        "type": "string",
        "maxLength": MAX_PASSWORD,
        "description": (
            "The PDF's password, as UTF-8 text (a form's part too); dropped once the job ends"
        ),
    },
    "deliveryMode": {"type": "string", "enum": list(DELIVERY_MODES), "default": "poll"},
}
# Seed 003's compatibility members: taken, so documented, but not for new clients.
DELIVERY_MODE_ALIAS = {
    "type": "string",
    "enum": list(DELIVERY_MODES),
    "deprecated": True,
    "description": "Compatibility alias for deliveryMode, which wins when both are sent",
}
RETURN_BOUNDING_BOXES = {
    "type": "boolean",
    "deprecated": True,
    "description": "Deprecated and ignored; new clients should omit it",
}
BASE64_FILE = "Base64 file bytes; line breaks (as `base64 FILE` wraps them) are ignored"
EXTRACTION_REQUEST = {
    "multipart/form-data": obj(
        {
            "file": {"type": "string", "format": "binary"},
            **EXTRACTION_FIELDS,
            "delivery.mode": DELIVERY_MODE_ALIAS,
            "returnBoundingBoxes": RETURN_BOUNDING_BOXES,
        },
        required=["file"],
    ),
    "application/json": obj(
        {
            "file": {"type": "string", "description": BASE64_FILE},
            **EXTRACTION_FIELDS,
            "delivery": {**obj({"mode": DELIVERY_MODE_ALIAS}, required=[]), "deprecated": True},
            "returnBoundingBoxes": RETURN_BOUNDING_BOXES,
        },
        required=["file"],
    ),
}
JOB_ERROR = obj(
    {
        "message": STRING,
        "code": {"type": "string", "enum": FAILED_JOB_CODES},
        "details": obj({"step": STRING, "retryable": {"type": "boolean"}}, ["step", "retryable"]),
    },
    # details is Steve's (docs/api.md, "A failed job's error"), always sent; seed 003's
    # example of a failed job has none, and must validate.
    required=["message", "code"],
)
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
register_components(
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
            "EMPTY_FILE",
            "PASSWORD_REQUIRED",
            "PAGE_LIMIT_EXCEEDED",
            "INVALID_MULTIPART",
        ],
        404: ["TEMPLATE_NOT_FOUND"],
        409: ["IDEMPOTENCY_KEY_IN_FLIGHT"],
        413: ["FILE_TOO_LARGE"],
        422: ["IDEMPOTENCY_KEY_REUSED", "VALIDATION_ERROR"],
        503: ["STORAGE_UNAVAILABLE"],
    },
)
EXTRACTION_JOB_DETAIL = docs(
    "getExtractionJob",
    tag="extraction-jobs",
    summary="Poll an extraction job",
    description="Also limited per job (`poll`, 60/min) besides the key's `read` bucket.",
    response="ExtractionJobEnvelope",
    parameters=[JOB_ID_PARAM, POLL_HINT_HEADER],
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
        503: ["STORAGE_UNAVAILABLE"],
    },
)
EXTRACTION_JOB_CANCEL = docs(
    "cancelExtractionJob",
    tag="extraction-jobs",
    summary="Cancel a queued, processing or review_required extraction job (bucket: write)",
    description=(
        "Steve's extension: the seeds name no cancel call. It cancels the job's "
        "submission as `POST /api/v1/submissions/{submissionId}/cancel` does, with the "
        "same events and webhooks (`submission.cancelled`, and `session.failed` for a job "
        "still queued or processing, whose reading then stops), and answers the job as "
        "its poll now does: `canceled`, with `canceledAt`. A job that has ended is 409 "
        "with the code of its status. The body is optional. A retry with the first call's "
        "`Idempotency-Key` replays its answer; without one, a repeated cancel is 409 "
        "`JOB_CANCELED`."
    ),
    response="ExtractionJobEnvelope",
    request=closed(
        obj(
            {
                "reason": {
                    "type": "string",
                    "maxLength": REASON_MAX,
                    "nullable": True,
                    "description": (
                        "Optional, kept as the submission's cancelReason; null is the same "
                        "as leaving it out (no reason)"
                    ),
                }
            },
            required=[],
        )
    ),
    parameters=[JOB_ID_PARAM],
    examples=[
        seed_example("Cancel", {"reason": "Sent the wrong file."}, request=True),
        seed_example(
            "Canceled",
            {
                "success": True,
                "job": {
                    **JOB_TIMES,
                    "status": "canceled",
                    "updatedAt": "2026-03-12T10:00:12.000Z",
                    "canceledAt": "2026-03-12T10:00:12.000Z",
                },
            },
        ),
    ],
    problems={
        400: ["INVALID_REQUEST", "INVALID_BODY", "INVALID_JSON", "INVALID_UNICODE"],
        404: ["JOB_NOT_FOUND"],
        409: ["JOB_CANCELED", "JOB_FAILED", "JOB_COMPLETED", "JOB_EXPIRED"],
    },
)
