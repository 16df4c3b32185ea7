"""The webhook envelope Steve documents, built from a submission and the event it announces."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from steve.timefmt import iso
from submissions.models import Submission, SubmissionEvent
from webhooks.catalogue import WebhookEventType
from webhooks.services import webhook_emit


def linked_session(submission: Submission) -> Any | None:
    """The workflow session that produced the submission (jobs' model, reached by relation)."""
    try:
        return submission.session
    except ObjectDoesNotExist:
        return None


def result_block(submission: Submission) -> dict[str, Any] | None:
    if submission.extracted_data is None:
        return None
    return {
        "extractedData": submission.extracted_data,
        "confidence": submission.confidence,
        "fraudStatus": submission.fraud_status,
    }


def envelope(*, submission: Submission, event_type: str, event_id: str, occurred_at: Any) -> dict:
    session = linked_session(submission)
    version = submission.workflow_version
    return {
        "eventId": event_id,
        "eventType": event_type,
        "occurredAt": iso(occurred_at),
        "sessionId": session.pk if session else None,
        "submissionId": submission.pk,
        "workflow": {"slug": submission.workflow.slug, "version": version.version},
        "state": session.state if session else None,
        "submissionStatus": submission.status,
        "companyId": submission.company_id,
        "result": result_block(submission),
        # A session ended by its submission (e.g. cancelled) says why in its own reason.
        "failedReason": (session.failed_reason if session else None) or submission.failed_reason,
        "clientSubmissionId": submission.client_submission_id,
        "metadata": submission.metadata,
    }


def announce(
    *, submission: Submission, event_type: WebhookEventType, event: SubmissionEvent
) -> None:
    """Write the webhook deliveries for this event into the outbox, in the caller's transaction.

    Only catalogued events are announced: another name raises ValueError here.
    """
    event_type = WebhookEventType(event_type)
    session = linked_session(submission)
    webhook_emit(
        company_id=submission.company_id,
        event_id=event.pk,
        event_type=event_type.value,
        payload=envelope(
            submission=submission,
            event_type=event_type.value,
            event_id=event.pk,
            occurred_at=event.occurred_at,
        ),
        session_id=session.pk if session else None,
        session_url=session.webhook_url if session else "",
        # Only the endpoints of the submission's environment (sandbox or production).
        environment=submission.environment,
    )
