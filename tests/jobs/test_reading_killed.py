"""The process reading a file killed from outside (the kernel's OOM killer, an operator):
the job is re-queued as after a worker killed mid-job, not failed for good."""

import os
import signal
import threading
import time

import pytest
from django.test import TestCase

from jobs import pipeline
from jobs.extraction import isolated
from jobs.models import SessionState, WorkflowSession
from jobs.services import session_start_run, sessions_recover_stuck
from submissions.models import SubmissionEvent
from tests.jobs.test_beat import beat_age
from tests.jobs.test_extraction import SlowEngine, scanned_pdf
from tests.jobs.test_pipeline_time import _submit_pdf

pytestmark = pytest.mark.django_db

IDLE_SWEEP = {"requeued": 0, "failed": 0, "errors": 0}


def _run_killed(session_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the pipeline; its reading child is sent SIGKILL from here while it reads."""
    forked: list[int] = []
    fork = os.fork
    monkeypatch.setattr(isolated.os, "fork", lambda: forked.append(pid := fork()) or pid)
    monkeypatch.setattr(isolated, "get_engine", lambda name: SlowEngine(30))

    def killer() -> None:
        deadline = time.monotonic() + 20
        while not forked and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # reading its page by now
        os.kill(forked[0], signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    started = time.monotonic()
    pipeline.run(session_id)
    thread.join()
    assert time.monotonic() - started < 15  # not the page's 30 s


def _submitted(api, data: bytes) -> str:
    """Submitted, its processing message sent at commit as in production: a test's
    transaction never commits, and a message left in the outbox holds the sweep off."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return _submit_pdf(api, data)


def _recovered() -> dict[str, int]:
    """Beat's stuck sweep, its re-queue sent at commit likewise."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sessions_recover_stuck()


def _events(session: WorkflowSession) -> list[str]:
    return list(
        SubmissionEvent.objects.filter(submission_id=session.submission_id)
        .order_by("id")
        .values_list("type", flat=True)
    )


def test_a_reading_process_killed_from_outside_requeues_the_job_instead_of_failing_it(
    api, workflows, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session_id = _submitted(api, scanned_pdf(1))
    _run_killed(session_id, monkeypatch)

    session = WorkflowSession.objects.get(pk=session_id)
    # Not `failed PROCESSING_ERROR, retryable: false`: the file said nothing wrong.
    assert session.state == SessionState.SUBMITTED, session.failed_reason
    assert "session_failed" not in _events(session)
    assert session.interrupted_by == "SIGKILL"
    assert sessions_recover_stuck() == IDLE_SWEEP  # it was alive moments ago
    beat_age(session, 91)  # as long as after a worker killed mid-job
    with django_capture_on_commit_callbacks() as callbacks:
        assert sessions_recover_stuck() == {"requeued": 1, "failed": 0, "errors": 0}
    assert len(callbacks) == 1  # the job is queued again
    session.refresh_from_db()
    assert (session.requeue_count, session.interrupted_by) == (1, "")
    requeued = session.submission.events.get(type="processing_requeued")
    assert requeued.details == {"sessionId": session_id, "requeue": 1, "why": "reading_killed"}

    # The re-queued try reads the file to its end.
    monkeypatch.setattr(isolated, "get_engine", lambda name: SlowEngine(0))
    pipeline.run(session_id)
    session.refresh_from_db()
    assert session.state == SessionState.COMPLETED, session.failed_reason


def test_a_file_whose_reading_is_killed_on_every_try_ends_failed_saying_so(
    api, workflows, settings, monkeypatch
):
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    settings.STUCK_SESSION_MAX_REQUEUES = 1
    session_id = _submitted(api, scanned_pdf(1))
    session = WorkflowSession.objects.get(pk=session_id)
    _run_killed(session_id, monkeypatch)
    beat_age(session, 91)
    assert _recovered()["requeued"] == 1
    _run_killed(session_id, monkeypatch)  # killed again on the re-queued try
    beat_age(session, 91)
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 1, "errors": 0}

    session.refresh_from_db()
    assert session.state == SessionState.FAILED
    assert (session.error_code, session.error_step, session.error_retryable) == (
        "PROCESSING_ERROR",
        "text_extraction",
        True,
    )
    assert "killed from outside (SIGKILL" in session.failed_reason
    assert "on 2 of 2 tries" in session.failed_reason
    assert _events(session).count("session_failed") == 1
    body = api.get(f"/api/v1/jobs/{session_id}").json()
    assert body["error"]["code"] == "PROCESSING_ERROR"
    assert body["error"]["details"] == {"step": "text_extraction", "retryable": True}
    assert "killed from outside" in body["error"]["message"]


def test_a_worker_that_died_after_a_killed_try_is_still_given_up_as_a_timeout(
    api, workflows, settings, monkeypatch
):
    """Only the try that ended last says how the job was given up."""
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    settings.STUCK_SESSION_MAX_REQUEUES = 1
    session_id = _submitted(api, scanned_pdf(1))
    session = WorkflowSession.objects.get(pk=session_id)
    _run_killed(session_id, monkeypatch)
    beat_age(session, 91)
    assert _recovered()["requeued"] == 1
    assert session_start_run(session_id=session_id)  # a worker took it, and died
    beat_age(session, 91)
    assert sessions_recover_stuck()["failed"] == 1
    session.refresh_from_db()
    assert (session.error_code, session.error_retryable) == ("PROCESSING_TIMEOUT", True)
