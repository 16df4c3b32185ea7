"""Stuck sessions are re-queued from the admin when beat's sweep is not running: only
beat's sweep called session_recover_stuck, and with beat down an operator had no tool."""

import logging
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.db import connections
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from jobs.models import SessionState, WorkflowSession
from jobs.services import STUCK_ERROR_CODE, session_start_run
from jobs.tasks import process_session
from steve.models import OutboxMessage
from submissions.models import Submission, SubmissionEvent, SubmissionStatus
from tests.factories import SubmissionFactory
from tests.jobs.test_beat import age, beat_age
from tests.jobs.test_lifecycle import open_session
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:jobs_workflowsession_changelist")


def submitted_session(api, client_id: str = "order-1") -> WorkflowSession:
    """Submitted, its processing message sent at commit (as tests.jobs.test_beat's)."""
    _, body, _ = create(api, clientSubmissionId=client_id)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    with TestCase.captureOnCommitCallbacks(execute=True):
        api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    return WorkflowSession.objects.get(pk=body["sessionId"])


def requeue(operator, sessions: list[WorkflowSession]):
    return operator.post(
        CHANGELIST,
        {"action": "requeue_stuck", "_selected_action": [s.pk for s in sessions], "index": "0"},
        follow=True,
    )


def said(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def queued(session: WorkflowSession) -> int:
    return OutboxMessage.objects.filter(task=process_session.name, args=[session.pk]).count()


def requeued_events(session: WorkflowSession) -> list[SubmissionEvent]:
    return list(
        SubmissionEvent.objects.filter(
            submission_id=session.submission_id, type="processing_requeued"
        )
    )


def test_an_operator_requeues_a_stuck_session_and_its_event_and_log_name_them(
    api, workflows, operator, settings, caplog
):
    settings.STUCK_SESSION_MINUTES = 15
    session = submitted_session(api)
    age(session, 20)  # no worker took it: beat is down, and so is its sweep
    caplog.set_level(logging.WARNING, "jobs.services")
    response = requeue(operator, [session])
    assert ("success", "Re-queued 1 stuck session(s).") in said(response)
    (event,) = requeued_events(session)
    assert (event.actor_type, event.actor_label) == ("user", "ops")
    assert event.details == {"sessionId": session.pk, "requeue": 0, "why": "not_started"}
    assert queued(session) == 1  # through the outbox, as the sweep's
    (entry,) = LogEntry.objects.filter(object_id=session.pk)
    assert entry.user.username == "ops" and "Re-queued" in entry.change_message
    (line,) = [r.getMessage() for r in caplog.records if session.pk in r.getMessage()]
    assert "queued again by ops" in line
    session.refresh_from_db()
    assert session.state == SessionState.SUBMITTED and session.requeue_count == 0


def test_sessions_that_are_not_stuck_are_refused_named_and_left_as_they_were(
    api, api_key, receipt_workflow, operator, settings
):
    settings.STUCK_SESSION_MINUTES = 15
    fresh = submitted_session(api)  # queued a moment ago: a worker takes it
    pending = open_session(api_key, receipt_workflow, "not-submitted")
    # Its message is still in the outbox (the broker was down at its submit): the relay
    # sends it when the broker is back, and a second message was one more run of it.
    waiting = submitted_session(api, "in-the-outbox")
    age(waiting, 20)
    OutboxMessage.objects.create(task=process_session.name, args=[waiting.pk])
    response = requeue(operator, [fresh, pending, waiting])
    messages = said(response)
    assert not [text for level, text in messages if level == "success"]
    (refused,) = [text for level, text in messages if level == "warning"]
    assert refused.startswith("Not stuck, left as they were (3):")
    assert all(s.pk in refused for s in (fresh, pending, waiting))
    assert "nothing was re-queued" in refused
    for session in (fresh, pending, waiting):
        assert requeued_events(session) == []
    assert queued(waiting) == 1 and queued(fresh) == 0
    assert not LogEntry.objects.exists()


def test_a_stuck_session_whose_requeues_are_spent_is_given_up_as_the_sweep_does(
    api, workflows, operator, settings
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    settings.STUCK_SESSION_MAX_REQUEUES = 0
    session = submitted_session(api)
    assert session_start_run(session_id=session.pk)
    beat_age(session, 100)  # its worker died or stopped answering, every time
    response = requeue(operator, [session])
    session.refresh_from_db()
    assert session.state == SessionState.FAILED and session.error_code == STUCK_ERROR_CODE
    (level, text) = [m for m in said(response) if session.pk in m[1]][0]
    assert level == "warning" and "re-queues were spent" in text
    assert requeued_events(session) == [] and queued(session) == 0
    (entry,) = LogEntry.objects.filter(object_id=session.pk)
    assert "Given up" in entry.change_message


def stuck_sessions(api_key, receipt_workflow, count: int) -> list[WorkflowSession]:
    """`count` submitted sessions no worker took for an hour, inserted in bulk (through
    the API, a thousand took minutes)."""
    company = receipt_workflow.workflow.company
    submissions = Submission.objects.bulk_create(
        SubmissionFactory.build(
            company=company,
            workflow_version=receipt_workflow,
            workflow=receipt_workflow.workflow,
            status=SubmissionStatus.PROCESSING,
            extracted_data=None,
        )
        for _ in range(count)
    )
    sessions = WorkflowSession.objects.bulk_create(
        WorkflowSession(
            company=company,
            api_key=api_key.api_key,
            workflow_version=receipt_workflow,
            submission=submission,
            state=SessionState.SUBMITTED,
            client_submission_id=submission.client_submission_id,
            file_count=1,
            expires_at=timezone.now() + timedelta(hours=1),
            submitted_at=timezone.now() - timedelta(hours=2),
        )
        for submission in submissions
    )
    WorkflowSession.objects.update(updated_at=timezone.now() - timedelta(hours=2))
    return sessions


def test_a_thousand_stuck_sessions_are_requeued_in_bounded_queries_one_event_each(
    api_key, receipt_workflow, operator, django_assert_max_num_queries
):
    # One transaction, and as many queries, per session took ~10,000 for a thousand:
    # past the web server's timeout, as the webhooks' actions were.
    sessions = stuck_sessions(api_key, receipt_workflow, 1000)
    selection = {"action": "requeue_stuck", "select_across": "1", "index": "0"}
    with django_assert_max_num_queries(25):
        done = operator.post(CHANGELIST, {**selection, "_selected_action": [sessions[0].pk]})
    assert done.status_code == 302
    requeued = SubmissionEvent.objects.filter(type="processing_requeued")
    assert requeued.count() == 1000
    assert requeued.values("submission_id").distinct().count() == 1000
    assert set(requeued.values_list("actor_label", flat=True)) == {"ops"}
    messages = OutboxMessage.objects.filter(task=process_session.name)
    assert sorted(m.args[0] for m in messages) == sorted(s.pk for s in sessions)
    assert LogEntry.objects.count() == 1000
    # Queued again: none is stuck any more, and a second run re-queues none of them.
    with django_assert_max_num_queries(25):
        again = operator.post(
            CHANGELIST, {**selection, "_selected_action": [sessions[0].pk]}, follow=True
        )
    (refused,) = [text for level, text in said(again) if level == "warning"]
    assert refused.startswith("Not stuck, left as they were (1000):")
    assert " and others; nothing was re-queued." in refused
    assert sum(s.pk in refused for s in sessions) == 10  # ten named, no more
    assert requeued.count() == 1000


@pytest.mark.django_db(transaction=True)
def test_a_stuck_session_another_transaction_holds_is_said_busy_not_not_stuck(
    api, workflows, operator, settings
):
    """Skipped because locked (beat's sweep or a worker on it that moment), it was named
    "Not stuck", and the operator took it for fine: it is stuck, and a try again may
    re-queue it."""
    settings.STUCK_SESSION_MINUTES = 15
    held, free = submitted_session(api), submitted_session(api, "order-2")
    age(held, 20)
    age(free, 20)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT 1 FROM jobs_workflowsession WHERE id = %s FOR UPDATE", [held.pk])
            messages = said(requeue(operator, [held, free]))
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    assert ("success", "Re-queued 1 stuck session(s).") in messages
    (busy,) = [text for level, text in messages if level == "warning"]
    assert held.pk in busy and not busy.startswith("Not stuck")
    assert "try again" in busy
    assert requeued_events(held) == [] and len(requeued_events(free)) == 1
    # Free again: the next try re-queues it.
    assert ("success", "Re-queued 1 stuck session(s).") in said(requeue(operator, [held]))
