"""The event types Steve announces (see docs/webhooks.md for an example of each)."""

from typing import Any

EVENT_TYPES: tuple[str, ...] = (
    "session.completed",
    "session.failed",
    "session.review_required",
    "session.expired",
    "submission.approved",
    "submission.synced",
    "submission.rejected",
    "submission.cancelled",
    "submission.fraud_match_resolved",
)
TEST_EVENT = "webhook.test"


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
