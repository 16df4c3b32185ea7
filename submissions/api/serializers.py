"""Wire shapes of submissions (seed 001)."""

import math
from typing import Any

from steve.storage import download_url
from steve.timefmt import iso
from steve.workflow_rules import MAX_FIELDS
from submissions.models import Submission, SubmissionEvent, SubmissionFile
from submissions.services import CORRECTION_MAX, MAX_LINE_ITEMS

EVENT_LIMIT = 100

# The most bytes of JSON a character of text takes: a \uXXXX escape, as Python's
# json.dumps (and others) write every non-ASCII character. An emoji is 4 bytes sent as
# UTF-8, 12 escaped as a surrogate pair; text of the desk's languages 1-3 bytes.
JSON_CHARACTER_BYTES = 6
# A field's or a line item's name, numbers and punctuation beside its text.
MEMBER_SLACK_BYTES = 100
_MIB = 1024 * 1024
# The largest corrections body Steve's rules let through: every field a workflow may
# have (MAX_FIELDS) a text of CORRECTION_MAX characters, and MAX_LINE_ITEMS rows each with
# a description as long, every character escaped: ~9.7 MB, to a whole MiB: 10 MiB. Over
# the API's default (steve.api.bodysize); the other review actions' largest (a reason of
# 2,000 characters, ~12 KB) are well under it. Counting every character at its longest
# escape is the margin: the same text sent as UTF-8 is 2-6 times smaller.
CORRECTIONS_MAX_BODY_BYTES = _MIB * math.ceil(
    (MAX_FIELDS + MAX_LINE_ITEMS)
    * (CORRECTION_MAX * JSON_CHARACTER_BYTES + MEMBER_SLACK_BYTES)
    / _MIB
)
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


def list_item(submission: Submission) -> dict[str, Any]:
    return {
        "id": submission.pk,
        "submissionStatus": submission.status,
        "fraudStatus": submission.fraud_status,
        "fraudScore": submission.fraud_score,
        "workflow": {
            "slug": submission.workflow.slug,
            "name": submission.workflow.name,
            "version": submission.workflow_version.version,
        },
        "extractedData": submission.extracted_data,
        "confidence": submission.confidence,
        "createdAt": iso(submission.created_at),
        "clientSubmissionId": submission.client_submission_id,
    }


def file_data(file: SubmissionFile) -> dict[str, Any]:
    name = f"{file.label or 'file'}-{file.file_index}.{EXTENSIONS.get(file.mime_type, 'bin')}"
    available = file.uploaded_at is not None and file.purged_at is None
    return {
        "id": file.pk,
        "fileIndex": file.file_index,
        "label": file.label,
        "mimeType": file.mime_type or file.declared_content_type,
        "fileSize": file.size,
        "pageCount": file.page_count,
        "downloadUrl": (
            download_url(file.storage_key, filename=name, content_type=file.mime_type)
            if available
            else None
        ),
    }


def event_data(event: SubmissionEvent) -> dict[str, Any]:
    return {
        "type": event.type,
        "occurredAt": iso(event.occurred_at),
        "details": event.details,
        "actor": {"type": event.actor_type, "label": event.actor_label},
    }


def fraud_match_data(match: Any) -> dict[str, Any]:
    return {
        "id": match.pk,
        "checkType": match.check_type,
        "score": match.score,
        "similarity": match.similarity,
        "status": match.status,
        "resolution": match.resolution,
        "resolvedBy": match.resolved_by or None,
        "resolvedAt": iso(match.resolved_at),
    }


def detail(submission: Submission) -> dict[str, Any]:
    events = submission.events.order_by("-id")[:EVENT_LIMIT]
    return {
        "id": submission.pk,
        "submissionStatus": submission.status,
        "fraudStatus": submission.fraud_status,
        "fraudScore": submission.fraud_score,
        "extractedData": submission.extracted_data,
        "confidence": submission.confidence,
        "fieldConfidences": submission.field_confidences,
        "certainty": submission.certainty,
        "aiSummary": submission.ai_summary or None,
        "failedReason": submission.failed_reason,
        "rejectReason": submission.reject_reason,
        "cancelReason": submission.cancel_reason,
        "workflow": {
            "id": submission.workflow_id,
            "slug": submission.workflow.slug,
            "name": submission.workflow.name,
            "version": submission.workflow_version.version,
        },
        "files": [file_data(f) for f in submission.files.order_by("file_index")],
        "fraudMatches": [fraud_match_data(m) for m in submission.fraud_matches.order_by("id")],
        "events": [event_data(e) for e in events],
        "evidence": submission.evidence,
        "clientSubmissionId": submission.client_submission_id,
        "metadata": submission.metadata,
        "version": submission.version,
        "createdAt": iso(submission.created_at),
        "updatedAt": iso(submission.updated_at),
        # Retention: when the results and file bytes were deleted (null while kept), so a
        # client can tell a purged submission's empty fields from ones never read.
        "resultsPurgedAt": iso(submission.results_purged_at),
    }


def action_result(submission: Submission) -> dict[str, Any]:
    return {
        "submissionId": submission.pk,
        "workflow": {
            "slug": submission.workflow.slug,
            "version": submission.workflow_version.version,
        },
        "submissionStatus": submission.status,
    }
