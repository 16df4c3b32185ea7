"""The event types Steve announces (see docs/webhooks.md for an example of each)."""

from typing import Any

from django.db import models


class WebhookEventType(models.TextChoices):
    """The events endpoints subscribe to, by their public names (seeds, docs/webhooks.md):
    the apps announce these members, never a string of their own."""

    SESSION_COMPLETED = "session.completed"
    SESSION_FAILED = "session.failed"
    SESSION_REVIEW_REQUIRED = "session.review_required"
    SESSION_EXPIRED = "session.expired"
    SUBMISSION_APPROVED = "submission.approved"
    SUBMISSION_SYNCED = "submission.synced"
    SUBMISSION_REJECTED = "submission.rejected"
    SUBMISSION_CANCELLED = "submission.cancelled"
    SUBMISSION_FRAUD_MATCH_RESOLVED = "submission.fraud_match_resolved"
    # Steve's own: takes back a fraud_match_resolved an integrator may have acted on.
    SUBMISSION_FRAUD_RESOLUTION_UNDONE = "submission.fraud_resolution_undone"
    # Steve's own: a match closed by Steve because the submission it matched failed or
    # was cancelled (never a claim); the submission's fraud status is recomputed.
    SUBMISSION_FRAUD_MATCH_WITHDRAWN = "submission.fraud_match_withdrawn"


EVENT_TYPES: tuple[str, ...] = tuple(WebhookEventType.values)
# Not subscribable: a test send, and the downstream-sync post (its own signing secret).
TEST_EVENT = "webhook.test"
SYNC_EVENT = "submission.sync"


def test_payload(*, event_id: str, company_id: str, occurred_at: str) -> dict[str, Any]:
    """A test event in Steve's envelope; ids are null because no session stands behind it."""
    return {
        "eventId": event_id,
        "eventType": TEST_EVENT,
        "occurredAt": occurred_at,
        "sessionId": None,
        "submissionId": None,
        "workflow": None,
        "state": None,
        "submissionStatus": None,
        "companyId": company_id,
        "result": None,
        "failedReason": None,
        "clientSubmissionId": None,
        "metadata": {"test": True},
    }
