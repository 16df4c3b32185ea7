"""Every beat sweep handles its rows one by one: a row that raises is logged, counted
and skipped, and the rest are still handled."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import SessionState, WorkflowSession
from jobs.services import retention_purge, sessions_recover_stuck
from steve.sweeps import sweep_rows
from submissions.models import Submission
from tests import factories
from tests.jobs.test_lifecycle import open_session
from webhooks import tasks as webhook_tasks

pytestmark = pytest.mark.django_db


def raising_for(bad: str, real=None):
    seen: list[str] = []

    def handle(row_id: str, **kwargs) -> object:
        if row_id == bad:
            raise RuntimeError("a row that raises")
        seen.append(row_id)
        return real(row_id, **kwargs) if real else None

    return handle, seen


def test_sweep_rows_counts_a_failing_row_and_goes_on(caplog):
    def handle(row: int) -> str:
        if row == 2:
            raise ValueError("bad row")
        return "ok"

    counts = sweep_rows("demo", [1, 2, 3], handle)
    assert counts == {"ok": 2, "errors": 1}
    assert "demo: row 2 failed" in caplog.text


def test_stuck_recovery_goes_on_after_a_row_that_raises(api_key, receipt_workflow, monkeypatch):
    sessions = [open_session(api_key, receipt_workflow, f"stuck-{i}") for i in range(3)]
    WorkflowSession.objects.update(
        state=SessionState.SUBMITTED, updated_at=timezone.now() - timedelta(hours=1)
    )
    from jobs import services

    real = services.session_recover_stuck

    def recover(*, session_id: str) -> str | None:
        if session_id == sessions[1].pk:
            raise RuntimeError("a row that raises")
        return real(session_id=session_id)

    monkeypatch.setattr(services, "session_recover_stuck", recover)
    assert sessions_recover_stuck() == {"requeued": 2, "failed": 0, "errors": 1}


def test_retention_purge_goes_on_after_a_row_that_raises(company, settings, monkeypatch):
    settings.RETENTION_DAYS = 1
    old = timezone.now() - timedelta(days=3)
    rows = [factories.SubmissionFactory(company=company, status="approved") for _ in range(3)]
    Submission.objects.update(created_at=old, updated_at=old)
    from jobs import services

    real = services.submission_purge_results

    def purge(*, submission_id: str) -> Submission:
        if submission_id == rows[0].pk:
            raise RuntimeError("storage said no")
        return real(submission_id=submission_id)

    monkeypatch.setattr(services, "submission_purge_results", purge)
    assert retention_purge() == 2
    purged = Submission.objects.filter(results_purged_at__isnull=False)
    assert set(purged.values_list("pk", flat=True)) == {rows[1].pk, rows[2].pk}


def test_webhook_dispatch_goes_on_after_a_delivery_it_cannot_queue(monkeypatch):
    monkeypatch.setattr(webhook_tasks, "claim_due", lambda: ["whd_1", "whd_2", "whd_3"])
    handle, seen = raising_for("whd_2")
    monkeypatch.setattr(webhook_tasks.deliver_webhook, "delay", handle)
    assert webhook_tasks.dispatch_due_webhooks() == 2
    assert seen == ["whd_1", "whd_3"]
