"""Wire shapes of submissions (seed 001)."""

from typing import Any

from steve.storage import download_url
from steve.timefmt import iso
from submissions.models import Submission, SubmissionEvent, SubmissionFile

EVENT_LIMIT = 100
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
