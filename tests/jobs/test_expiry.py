"""The expiry sweep of pending sessions past their TTL."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import SessionState, WorkflowSession
from jobs.services import SessionRequest, session_create, sessions_expire_stale
from submissions.models import SubmissionEvent, SubmissionStatus


def make_sessions(api_key, version, count: int) -> list[WorkflowSession]:
    sessions = []
    for index in range(count):
        session, _ = session_create(
            api_key=api_key.api_key,
            version=version,
            request=SessionRequest(1, ["image/jpeg"], f"exp-{index}", {}, None, ""),
        )
        sessions.append(session)
    return sessions


@pytest.mark.django_db
def test_sweep_expires_only_pending_sessions_past_their_ttl(api_key, receipt_workflow):
    stale, fresh = make_sessions(api_key, receipt_workflow, 2)
    WorkflowSession.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(1))
    assert sessions_expire_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.state == SessionState.EXPIRED
    assert stale.submission.status == SubmissionStatus.CANCELLED
    assert fresh.state == SessionState.PENDING
    types = list(
        SubmissionEvent.objects.filter(submission=stale.submission)
        .order_by("id")
        .values_list("type", flat=True)
    )
    assert types == ["created", "session_expired", "cancelled"]
    assert sessions_expire_stale() == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_expire_each_session_once(api_key, receipt_workflow):
    make_sessions(api_key, receipt_workflow, 20)
    WorkflowSession.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    counts: list[int] = []

    def sweep() -> None:
        try:
            counts.append(sessions_expire_stale())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 20
    assert WorkflowSession.objects.filter(state=SessionState.EXPIRED).count() == 20
    assert SubmissionEvent.objects.filter(type="session_expired").count() == 20
