"""The submissions' API contract (seed 001): wire schemas, problem codes, docs.

Registered with the core's schema registry on import (SubmissionsConfig.ready imports
this module). A submission's fraud matches are fraud's components (fraud.api.schema).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter

from steve.api.schema import (
    DATETIME,
    FREE_OBJECT,
    PAGE_PARAMS,
    STRING,
    choices,
    closed,
    docs,
    listing,
    nullable,
    obj,
    ref,
    register_components,
    register_problems,
    seed_example,
)
from steve.workflow_rules import MAX_FIELDS
from submissions.api.serializers import CORRECTIONS_MAX_BODY_BYTES
from submissions.models import FraudStatus, Submission, SubmissionStatus
from submissions.services import CORRECTION_MAX, MAX_LINE_ITEMS

SUBMISSION_STATUSES = choices(SubmissionStatus)
FRAUD_STATUSES = choices(FraudStatus)
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
# Where each value was read (docs/api.md, "A submission's evidence"); written by
# extraction (jobs.extraction.fields.evidence_for, api._number_lines, receipt's line
# items, shown.check_text_layer) and the pipeline (jobs.pipeline: file, memory recalls, schema refusals, the
# files' readings where they disagree). Open:
# the members listed are the ones known, and an entry may carry more later.
INDEX = {"type": "integer", "minimum": 0}
EVIDENCE_ENTRY = {
    "type": "object",
    "description": "A box where the value was read (file, page, bbox, line; item for a line "
    "item; shown where the page shows otherwise, faint where its text is drawn faint, small "
    "where it is drawn too small to read, "
    "unchecked where it could not be read again to tell, faintPage where its page's text "
    "is too faint to see), a remembered value (memory, corrections, read), a value the output schema "
    "refused (read, schema), or one file's reading where the submission's files read "
    "different values (file, read, confidence).",
    "properties": {
        "file": {**INDEX, "description": "The fileIndex of the file it was read in."},
        "page": {**INDEX, "description": "The page of that file, from 0."},
        "bbox": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
            "description": "[x0, y0, x1, y1]: fractions of the page as read, from its "
            "top-left corner.",
        },
        "line": {
            **INDEX,
            "description": "The line of that page's text the box lies on, from 0; absent "
            "where none was found or the reading predates it.",
        },
        "item": {**INDEX, "description": "lineItems only: the index of the row's item."},
        "memory": {
            "type": "array",
            "items": STRING,
            "description": "The correction memories that gave the value.",
        },
        "corrections": {
            **INDEX,
            "description": "How many reviewers' corrections back the remembered value.",
        },
        "read": {
            "nullable": True,
            "description": "The value read from the document, where a memory replaced it "
            "(null when none was read) or the output schema refused it; with file and "
            "confidence, what that file read where the files disagree.",
        },
        "confidence": {
            "type": "number",
            "description": "How sure the reading of that file was (0-1), where the files "
            "disagree; the field's own confidence is then 0.",
        },
        "schema": {
            "type": "string",
            "description": "Why the workflow version's output schema refused the value read.",
        },
        "shown": {
            "type": "string",
            "description": "On a box read from a PDF's text layer: what OCR reads on the "
            "rendered page there, where it is not what the text layer says (the field "
            "then goes to review).",
        },
        "faint": {
            "type": "string",
            "description": "On a box read from a PDF's text layer: that its text is drawn "
            "markedly fainter than the page's other text (the field then goes to review "
            "too: what the eye reads there may be an image beside it).",
        },
        "small": {
            "type": "string",
            "description": "On a box read from a PDF's text layer: that its digits are drawn "
            "too small to read on the page (under about 2.6 points high, or half the page's "
            "other numbers; the field then goes to review too: what the eye reads there may "
            "be an image beside them).",
        },
        "faintPage": {
            "type": "string",
            "description": "On a box on a PDF page most of whose text is painted too light "
            "to see (lighter than about #E0E0E0 on white): that what was read there, by OCR "
            "or from its text layer, is not what a reviewer sees on the page (the field then "
            "goes to review too).",
        },
        "unchecked": {
            "type": "string",
            "description": "On a box read from a PDF's text layer: why the page could not "
            "be read again there to check it (the field then goes to review too).",
        },
    },
    "additionalProperties": True,
}
EVIDENCE = {
    "type": "object",
    "description": "By field name (as in extractedData; lineItems for the items), where "
    "its value came from; {} once the results are purged.",
    "additionalProperties": {"type": "array", "items": ref("EvidenceEntry")},
}
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
EVENT = obj(
    {
        "type": STRING,
        "occurredAt": {
            **DATETIME,
            "description": "Strictly increasing over the submission's events, to the "
            "millisecond; the same as the event's webhook's occurredAt.",
        },
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
        "evidence": nullable(ref("Evidence")),
        "clientSubmissionId": nullable(STRING),
        "metadata": nullable(FREE_OBJECT),
        "version": {"type": "integer"},
        "createdAt": DATETIME,
        "updatedAt": DATETIME,
        "resultsPurgedAt": nullable(DATETIME),
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
        # Not resultsPurgedAt: Steve's addition (always sent, null while kept), like
        # version and updatedAt, absent from seed 001's example, which must validate.
    ],
)
ACTION_RESULT = obj(
    {
        "submissionId": STRING,
        "workflow": ref("WorkflowRef"),
        "submissionStatus": {"type": "string", "enum": SUBMISSION_STATUSES},
    }
)
register_components(
    {
        # Nullable enums are named: a generated client then types them `FraudStatus | None`.
        "FraudStatus": {"type": "string", "enum": FRAUD_STATUSES},
        "SubmissionStatus": {"type": "string", "enum": SUBMISSION_STATUSES},
        "SubmissionWorkflow": SUBMISSION_WORKFLOW,
        "SubmissionSummary": SUBMISSION_SUMMARY,
        "SubmissionList": listing("SubmissionSummary"),
        "SubmissionFile": SUBMISSION_FILE,
        "Evidence": EVIDENCE,
        "EvidenceEntry": EVIDENCE_ENTRY,
        "SubmissionEvent": EVENT,
        "SubmissionDetail": SUBMISSION_DETAIL,
        "ActionResult": ACTION_RESULT,
    }
)
# A review action refused in each status: the services answer SUBMISSION_IS_<STATUS>.
TRANSITION_PROBLEMS = {
    f"SUBMISSION_IS_{status.name}": (409, f"Illegal transition from {status.value}.")
    for status in SubmissionStatus
}
TRANSITION_CODES = list(TRANSITION_PROBLEMS)
PROBLEMS: dict[str, tuple[int, str]] = {
    "SUBMISSION_NOT_FOUND": (404, "No such submission in your company."),
    "UNRESOLVED_FRAUD_MATCHES": (409, "Resolve every fraud match before approving."),
    "SUBMISSION_CHANGED": (409, "The submission changed since it was read."),
    "REASON_REQUIRED": (
        422,
        "Rejecting needs a reason: none, null or a blank one was sent (a reason of another "
        "type is VALIDATION_ERROR).",
    ),
    **TRANSITION_PROBLEMS,
}
# The status the refused submission is in, as the refusal's `currentStatus` says.
IN_REVIEW = {"currentStatus": SubmissionStatus.REVIEW.value}
register_problems(
    PROBLEMS,
    slugs={
        "UNRESOLVED_FRAUD_MATCHES": "unresolved-fraud-matches",
        **dict.fromkeys(TRANSITION_CODES, "invalid-status-transition"),
    },
    examples=dict.fromkeys([*TRANSITION_CODES, "UNRESOLVED_FRAUD_MATCHES"], IN_REVIEW),
)

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
SEED_ACTION_RESULT = {
    "submissionId": "jx7sub456submissions",
    "workflow": {"slug": "receipt-ocr", "version": 3},
    "submissionStatus": "approved",
}
REVIEW_PROBLEMS = {404: ["SUBMISSION_NOT_FOUND"], 409: ["SUBMISSION_CHANGED", *TRANSITION_CODES]}
BODY_PROBLEMS = {400: ["INVALID_BODY", "INVALID_JSON", "INVALID_UNICODE", "JSON_TOO_DEEP"]}
EXPECTED_VERSION = {
    "type": "integer",
    "minimum": Submission.VERSION_MIN,
    "maximum": Submission.VERSION_MAX,
    "nullable": True,
    "description": (
        "The submission's `version` as the caller last read it: if it changed since, "
        "nothing is done and the answer is 409 `SUBMISSION_CHANGED`. null is the same "
        "as leaving it out; a number no version can be (below 1, above the maximum, not "
        "whole) is 422 `VALIDATION_ERROR` naming it"
    ),
}

SUBMISSION_LIST = docs(
    "listSubmissions",
    tag="submissions",
    summary="List the company's submissions, newest first",
    response="SubmissionList",
    parameters=[
        OpenApiParameter("workflow", str, description="Filter to one workflow slug"),
        OpenApiParameter("status", str, enum=SUBMISSION_STATUSES),
        OpenApiParameter("fraudStatus", str, enum=FRAUD_STATUSES),
        *PAGE_PARAMS,
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
    description="The body is optional: `{}` or none approves whatever version is current.",
    response="ActionResult",
    request=closed(obj({"expectedVersion": EXPECTED_VERSION}, required=[])),
    examples=[
        seed_example("Approve the version read", {"expectedVersion": 3}, request=True),
        seed_example("Approved", SEED_ACTION_RESULT),
    ],
    problems={
        **REVIEW_PROBLEMS,
        **BODY_PROBLEMS,
        409: ["UNRESOLVED_FRAUD_MATCHES", *REVIEW_PROBLEMS[409]],
        422: ["VALIDATION_ERROR"],
    },
)
SUBMISSION_REJECT = docs(
    "rejectSubmission",
    tag="review",
    summary="Reject a submission; a reason is required (bucket: write)",
    response="ActionResult",
    request=closed(
        obj(
            {"reason": {"type": "string", "maxLength": 2000}, "expectedVersion": EXPECTED_VERSION},
            required=["reason"],
        )
    ),
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
    request=closed(
        obj(
            {
                "reason": {
                    "type": "string",
                    "maxLength": 2000,
                    "nullable": True,
                    "description": "Optional; null is the same as leaving it out (no reason)",
                },
                "expectedVersion": EXPECTED_VERSION,
            },
            required=[],
        )
    ),
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
# The service's rules (submissions.services) for the one nested field a client sends.
LINE_ITEMS_CORRECTION = {
    "type": "array",
    "maxItems": MAX_LINE_ITEMS,
    "items": {
        "type": "object",
        "properties": {
            "description": {"type": "string", "minLength": 1, "maxLength": CORRECTION_MAX},
            "quantity": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            "amount": {"type": "number"},
        },
        "required": ["description", "quantity", "amount"],
    },
}
SUBMISSION_CORRECT = docs(
    "correctSubmission",
    tag="review",
    summary="Correct extracted fields of a submission in review (bucket: write)",
    description=(
        "Each value replaces the field (null, or an empty `lineItems` list, clears it) "
        "and is validated against the workflow version's output schema (text at most 2000 "
        "characters, as on the review page, a line item's description too, the 422 naming "
        "its row; no blank text, line breaks, control or bidi formatting characters; "
        "numbers finite, at most 4 decimal places, no more digits than a stored number "
        "keeps exactly (code `inexact_number`, never rounded), -0 stored as 0); a 422 "
        "names every "
        "invalid field as "
        "`fields.<name>` (the first 50; a line item by its item and member, "
        "`fields.lineItems[2].amount`), and nothing is stored unless all are valid. "
        "Correcting a merchant field again takes back what the earlier correction taught "
        "the shop's memory. Each change is "
        "recorded as a `field_corrected` event, like a correction on the review page, and "
        "its confidence becomes 1.0. With `expectedVersion`, a submission that changed "
        "since (its `version`) is refused with 409 SUBMISSION_CHANGED. A corrected "
        "`merchantName` or `merchantAddress` is remembered for the shop: the company's "
        "next receipt from it gets the corrected value. The body may be up to "
        f"{CORRECTIONS_MAX_BODY_BYTES:,} bytes (413 `BODY_TOO_LARGE` over it): the most "
        f"fields a workflow has ({MAX_FIELDS}) and {MAX_LINE_ITEMS} line items, every text "
        "at its longest."
    ),
    response="SubmissionDetail",
    request=closed(
        obj(
            {
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "minProperties": 1,
                    "properties": {"lineItems": nullable(LINE_ITEMS_CORRECTION)},
                },
                "expectedVersion": EXPECTED_VERSION,
            },
            required=["fields"],
        )
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
