"""Every catalogued event is written to the outbox by the real code path that announces it,
in Steve's envelope, for the company's endpoints and the session's own webhookUrl."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fraud.models import FraudMatch
from fraud.services import fraud_match_resolve, fraud_matches_resolve, fraud_resolution_undo
from jobs.models import SessionState, WorkflowSession
from jobs.services import (
    SessionRequest,
    session_complete,
    session_create,
    session_expire,
    session_fail,
)
from steve.ids import new_id
from submissions.models import EventType, Submission, SubmissionStatus
from submissions.services import (
    Actor,
    submission_approve,
    submission_cancel,
    submission_finish_processing,
    submission_mark_synced,
    submission_reject,
    submission_start_processing,
)
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

ENVELOPE = {
    "eventId",
    "eventType",
    "occurredAt",
    "sessionId",
    "submissionId",
    "workflow",
    "state",
    "submissionStatus",
    "companyId",
    "result",
    "failedReason",
    "clientSubmissionId",
    "metadata",
}
SESSION_URL = "https://93.184.215.14/session-hook"
RESULTS = {
    "extracted_data": {"merchantName": "Kedai", "totalAmount": 12.5},
    "confidence": 0.7,
    "field_confidences": {"merchantName": 0.7},
}


def open_session(api_key, version) -> WorkflowSession:
    created, _ = session_create(
        api_key=api_key,
        version=version,
        request=SessionRequest(
            file_count=1,
            content_types=["image/jpeg"],
            client_submission_id=new_id("client"),
            metadata={"orderId": "12345"},
            external_user=None,
            webhook_url=SESSION_URL,
        ),
    )
    return created


@pytest.fixture
def session(api_key, receipt_workflow, endpoint) -> WorkflowSession:
    return open_session(api_key.api_key, receipt_workflow)


def submitted(session: WorkflowSession) -> WorkflowSession:
    WorkflowSession.objects.filter(pk=session.pk).update(state=SessionState.SUBMITTED)
    submission_start_processing(submission_id=session.submission_id)
    return session


def reviewed(session: WorkflowSession) -> WorkflowSession:
    submitted(session)
    submission_finish_processing(
        submission_id=session.submission_id,
        to_status=SubmissionStatus.REVIEW,
        results=RESULTS,
        details={},
    )
    session_complete(session_id=session.pk)
    return session


def events(session: WorkflowSession) -> dict[str, list[WebhookDelivery]]:
    found: dict[str, list[WebhookDelivery]] = {}
    for delivery in WebhookDelivery.objects.filter(session_id=session.pk).order_by("created_at"):
        found.setdefault(delivery.event_type, []).append(delivery)
    return found


def check_envelope(delivery: WebhookDelivery, session: WorkflowSession) -> None:
    payload = delivery.payload
    assert set(payload) == ENVELOPE
    assert payload["eventId"] == delivery.event_id
    assert payload["eventType"] == delivery.event_type
    assert payload["sessionId"] == session.pk
    assert payload["submissionId"] == session.submission_id
    assert payload["companyId"] == session.company_id
    assert payload["metadata"] == {"orderId": "12345"}
    assert payload["occurredAt"].endswith("Z")


def test_completed_with_review_then_approved_and_synced(session, endpoint):
    reviewed(session)
    submission_approve(submission_id=session.submission_id, actor=Actor.system())
    submission_mark_synced(submission_id=session.submission_id, attempts=1, details={})
    found = events(session)
    assert set(found) == {
        "session.completed",
        "session.review_required",
        "submission.approved",
        "submission.synced",
    }
    for deliveries in found.values():
        # one for the endpoint, one for the session's own URL, one event id for both
        assert {d.endpoint_id for d in deliveries} == {endpoint.pk, None}
        assert len({d.event_id for d in deliveries}) == 1
        check_envelope(deliveries[0], session)
    completed = found["session.completed"][0].payload
    assert completed["state"] == "completed" and completed["submissionStatus"] == "review"
    assert completed["result"]["extractedData"]["merchantName"] == "Kedai"
    assert completed["workflow"]["slug"] == "receipt-ocr"


def duplicate_match(session: WorkflowSession) -> FraudMatch:
    return FraudMatch.objects.create(
        company_id=session.company_id,
        submission_id=session.submission_id,
        check_type=FraudMatch.CheckType.DUPLICATE,
        score=0.9,
        similarity=0.9,
    )


def test_rejected_and_fraud_match_resolved(session):
    reviewed(session)
    match = duplicate_match(session)
    fraud_match_resolve(
        submission_id=session.submission_id,
        match_id=match.pk,
        resolution=FraudMatch.Resolution.FALSE_POSITIVE,
        actor=Actor.system(),
    )
    submission_reject(submission_id=session.submission_id, actor=Actor.system(), reason="blurry")
    found = events(session)
    assert {"submission.fraud_match_resolved", "submission.rejected"} <= set(found)
    check_envelope(found["submission.rejected"][0], session)
    assert found["submission.rejected"][0].payload["submissionStatus"] == "rejected"


def resolved_then_undone(session: WorkflowSession) -> None:
    reviewed(session)
    match = duplicate_match(session)
    ids = [match.pk]
    actor = Actor.system()
    fraud_matches_resolve(
        submission_id=session.submission_id, match_ids=ids, resolution="false_positive", actor=actor
    )
    fraud_resolution_undo(submission_id=session.submission_id, match_ids=ids, actor=actor)


def test_undoing_a_fraud_resolution_is_announced_like_the_resolution(session, endpoint):
    resolved_then_undone(session)
    undone = events(session)["submission.fraud_resolution_undone"]
    assert {d.endpoint_id for d in undone} == {endpoint.pk, None}
    event = Submission.objects.get(pk=session.submission_id).events.get(
        type=EventType.FRAUD_RESOLUTION_UNDONE
    )
    assert {d.event_id for d in undone} == {event.pk}
    check_envelope(undone[0], session)
    submission = Submission.objects.get(pk=session.submission_id)
    assert undone[0].payload["result"]["fraudStatus"] == submission.fraud_status
    assert undone[0].payload["submissionStatus"] == "review"


def test_an_endpoint_gets_the_undo_only_if_it_takes_every_event_or_named_it(session, endpoint):
    def subscribed(*names: str):
        url = f"{endpoint.url}?events={len(names)}"  # one URL is one endpoint
        return endpoint_create(company=endpoint.company, url=url, events=list(names))[0]

    resolved_only = subscribed("submission.fraud_match_resolved")
    undo_named = subscribed("submission.fraud_match_resolved", "submission.fraud_resolution_undone")
    resolved_then_undone(session)
    found = events(session)
    # A list of types is what the integrator asked for: a new type is never pushed on it.
    assert {d.endpoint_id for d in found["submission.fraud_resolution_undone"]} == {
        endpoint.pk,
        undo_named.pk,
        None,
    }
    assert resolved_only.pk in {d.endpoint_id for d in found["submission.fraud_match_resolved"]}


def test_a_withdrawn_match_is_announced_on_the_submission_that_carried_it(
    session, endpoint, api_key, receipt_workflow, django_capture_on_commit_callbacks
):
    reviewed(session)
    other = submitted(open_session(api_key.api_key, receipt_workflow))
    match = FraudMatch.objects.create(
        company_id=session.company_id,
        submission_id=session.submission_id,
        target_submission_id=other.submission_id,
        check_type=FraudMatch.CheckType.DUPLICATE,
        score=100.0,
        similarity=1.0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_cancel(submission_id=other.submission_id, actor=Actor.system())

    withdrawn = events(session)["submission.fraud_match_withdrawn"]
    assert {d.endpoint_id for d in withdrawn} == {endpoint.pk, None}
    event = Submission.objects.get(pk=session.submission_id).events.get(
        type=EventType.FRAUD_MATCH_WITHDRAWN
    )
    assert {d.event_id for d in withdrawn} == {event.pk}
    assert event.details["fraudMatchIds"] == [match.pk]
    check_envelope(withdrawn[0], session)
    assert withdrawn[0].payload["submissionStatus"] == "review"
    assert withdrawn[0].payload["result"]["fraudStatus"] == "clean"


def test_failed(session):
    submitted(session)
    session_fail(
        session_id=session.pk, code="OCR_FAILED", reason="unreadable", step="ocr", retryable=False
    )
    (delivery, _) = events(session)["session.failed"]
    check_envelope(delivery, session)
    assert delivery.payload["state"] == "failed"
    assert delivery.payload["failedReason"] == "unreadable"


def test_expired_and_cancelled(session):
    WorkflowSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert session_expire(session_id=session.pk)
    found = events(session)
    assert {"session.expired", "submission.cancelled"} <= set(found)
    check_envelope(found["session.expired"][0], session)


def test_an_endpoint_receives_only_its_subscribed_events(session, endpoint):
    endpoint.events = ["session.failed"]
    endpoint.save()
    reviewed(session)
    assert all(d.endpoint_id is None for d in WebhookDelivery.objects.filter(session_id=session.pk))


def test_sandbox_and_production_endpoints_receive_only_their_environments_events(
    company, receipt_workflow, receiver
):
    from steve.services import api_key_create
    from webhooks.services import endpoint_create

    production, _ = endpoint_create(company=company, url=receiver.url)
    sandbox, _ = endpoint_create(company=company, url=receiver.url, environment="sandbox")
    for key_environment, expected in (("sandbox", sandbox), ("production", production)):
        key = api_key_create(company=company, name=key_environment, environment=key_environment)
        created = reviewed(open_session(key.api_key, receipt_workflow))
        deliveries = WebhookDelivery.objects.filter(session_id=created.pk)
        assert {d.endpoint_id for d in deliveries} == {expected.pk, None}  # None: webhookUrl
