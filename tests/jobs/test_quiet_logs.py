"""What beat's frequent work logs on a bad day: one line an operator can act on, not
the same line every few seconds. A broker outage is logged when it starts (with how many
tasks wait in the outbox), reminded at OUTAGE_REMINDER_SECONDS, and its end; a sweep
that found nothing to do says nothing."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import tasks
from jobs.models import WorkflowSession
from jobs.tasks import process_session
from steve.broker import OUTAGE_REMINDER_SECONDS, broker_outage
from steve.celery import app
from steve.models import OutboxMessage
from steve.tasks import relay_outbox
from tests.jobs.test_broker_down import (
    _use_broker,
    broker_down,  # noqa: F401  (a fixture)
    queued,
)
from tests.jobs.test_expiry import make_sessions

pytestmark = pytest.mark.django_db


def lines(caplog, logger: str, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= level]


def test_a_broker_outage_is_logged_once_with_the_tasks_waiting_then_reminded_and_its_end(
    broker_down,  # noqa: F811
    caplog,
    monkeypatch,
):
    for index in range(3):
        OutboxMessage.objects.create(task=process_session.name, args=[f"ses_{index}"])
    now = [1000.0]
    monkeypatch.setattr(broker_outage, "clock", lambda: now[0])
    caplog.set_level(logging.INFO)

    for _ in range(12):  # a minute of beat's relay runs, every 5 s
        assert relay_outbox() == 0
        now[0] += 5

    [started] = lines(caplog, "steve.services", logging.WARNING)
    assert "Could not send jobs.tasks.process_session" in started
    assert "3 task(s) wait in the outbox" in started

    caplog.clear()
    now[0] += OUTAGE_REMINDER_SECONDS
    assert relay_outbox() == 0
    assert relay_outbox() == 0
    [reminder] = lines(caplog, "steve.services", logging.WARNING)
    assert "still" in reminder and "3 task(s) wait in the outbox" in reminder

    caplog.clear()
    _use_broker(None)  # the broker is back
    app.control.purge()
    assert relay_outbox() == 3
    assert queued() == 3
    [ended] = lines(caplog, "steve.services")
    assert "The broker answers again" in ended
    app.control.purge()


@pytest.mark.parametrize(
    "sweep", [tasks.recover_stuck_sessions, tasks.expire_sessions, tasks.purge_expired_data]
)
def test_a_sweep_that_did_nothing_logs_nothing(sweep, caplog):
    caplog.set_level(logging.DEBUG)
    sweep()
    assert lines(caplog, "jobs.tasks", logging.DEBUG) == []


def test_a_sweep_that_did_something_says_what(api_key, receipt_workflow, caplog):
    [stale] = make_sessions(api_key, receipt_workflow, 1)
    WorkflowSession.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(1))
    caplog.set_level(logging.INFO)
    tasks.expire_sessions()
    assert lines(caplog, "jobs.tasks") == ["Expiry sweep expired 1 session(s)"]
