"""Redis gone for the web process as production has it: one REDIS_URL for the cache, the
rate limits and the broker, refused or taking connections and never answering. An
integrator's submit and a reviewer's approval are accepted in seconds; what they queue
waits in the database and goes out once, when Redis is back."""

import contextlib
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings

from jobs.models import SessionState, WorkflowSession
from steve.broker import broker_pause
from steve.celery import app
from steve.models import OutboxMessage
from steve.tasks import relay_outbox
from submissions.models import SubmissionStatus
from tests import redis_down
from tests.jobs.test_broker_down import _use_broker, uploaded_session
from tests.submissions.test_review_support import submission_with_file
from tests.submissions.test_review_views import action_url
from tests.submissions.test_sync import with_sync_target
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create
from webhooks.tasks import dispatch_due_webhooks

pytestmark = pytest.mark.django_db

# The broker's socket timeout (3 s) once, the cache's (0.5 s) once, and slack.
BUDGET_SECONDS = 6


@pytest.fixture(params=["refused", "frozen"])
def redis_gone(request, settings) -> Iterator[None]:
    app.control.purge()
    with contextlib.ExitStack() as stack:
        url = redis_down.REFUSED
        if request.param == "frozen":
            url = stack.enter_context(redis_down.silent_redis())
        _use_broker(url)
        try:
            yield from redis_down._cache_at(url, request.param, settings)
        finally:
            _use_broker(None)
            broker_pause.end()


def queued(queue: str) -> int:
    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL).llen(queue)


def redis_back() -> None:
    """Redis answers again and the pauses it started have run out."""
    _use_broker(None)
    broker_pause.end()


def test_a_submit_and_its_retry_with_redis_gone_queue_processing_once_when_it_is_back(
    api, workflows, redis_gone, django_capture_on_commit_callbacks
):
    session_id = uploaded_session(api)
    path = f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit"
    answers = []
    for _ in range(2):  # the integrator's client retries, with the same key
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(api.post(path, HTTP_IDEMPOTENCY_KEY="submit-1"))
        assert time.monotonic() - started < BUDGET_SECONDS
    assert [a.status_code for a in answers] == [200, 200], answers[0].content
    assert answers[1]["X-Idempotent-Replay"] == "true"
    assert answers[0].json() == answers[1].json()
    polled = api.get(f"/api/v1/jobs/{session_id}")
    assert polled.status_code == 200 and polled.json()["state"] == "submitted"
    assert WorkflowSession.objects.get(pk=session_id).state == SessionState.SUBMITTED
    (message,) = OutboxMessage.objects.all()
    assert relay_outbox() == 0  # beat's relay, Redis still gone: the message waits

    redis_back()
    assert relay_outbox() == 1
    assert relay_outbox() == 0
    assert queued("processing") == 1  # one job, for two submits
    app.control.purge()


def test_an_approval_with_redis_gone_announces_and_syncs_once_when_it_is_back(
    ui, company, redis_gone, django_capture_on_commit_callbacks
):
    endpoint_create(company=company, url="https://93.184.215.10/hook")
    waiting = with_sync_target(submission_with_file(company), "https://93.184.215.11/sync")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = ui.post(action_url("approve", waiting), {"version": waiting.version})
    assert time.monotonic() - started < BUDGET_SECONDS
    assert response.status_code == 303, response.content
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.APPROVED
    assert waiting.events.filter(type="approved").count() == 1
    deliveries = WebhookDelivery.objects.filter(company=company)
    purposes = sorted(deliveries.values_list("purpose", flat=True))
    assert purposes == ["sync", "webhook"]
    # Nothing is on a queue, nothing is leased: beat may queue them as soon as it can.
    assert not deliveries.filter(queued_until__isnull=False).exists()
    assert dispatch_due_webhooks() == 0  # beat, Redis still gone
    assert set(deliveries.values_list("status", flat=True)) == {"pending"}

    redis_back()
    before = queued("deliveries")
    assert dispatch_due_webhooks() == 2
    assert dispatch_due_webhooks() == 0  # each is queued once
    assert queued("deliveries") == before + 2
    app.control.purge()
