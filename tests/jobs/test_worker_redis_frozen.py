"""Redis stops answering (SIGSTOP, a partition) for a real Celery worker in the middle of
a job: the job ends from the database alone, its webhooks wait in the database instead of
being lost on a broker nobody reaches, and beat queues each once when Redis is back."""

from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings

from jobs.models import SessionState
from steve.celery import app
from tests.jobs.test_broker_down import FreezableProxy, queued
from tests.jobs.test_sessions_api import create, put
from tests.jobs.test_worker_killed import session_of, wait_for
from tests.worker import celery_worker
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create
from webhooks.tasks import dispatch_due_webhooks

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def submit(api, receipt: bytes, client_id: str) -> str:
    _, body, _ = create(api, clientSubmissionId=client_id)
    assert put(api, body["uploadUrls"][0]["uploadUrl"], receipt).status_code == 200
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200, submitted.content
    return body["sessionId"]


def test_a_job_whose_worker_loses_redis_midway_ends_and_its_webhooks_go_out_once_it_is_back(
    api, workflows, company, monkeypatch, sroie_dir, _isolated_storage
):
    endpoint_create(company=company, url="https://93.184.215.10/hook")
    url = urlparse(django_settings.CELERY_BROKER_URL)
    proxy = FreezableProxy((url.hostname or "localhost", url.port or 6379))
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{proxy.port}{url.path}")
    receipt = (sroie_dir / "img" / "000.jpg").read_bytes()
    try:
        with celery_worker(_isolated_storage, name="cut-off") as worker:
            session_id = submit(api, receipt, "cut-off-1")
            wait_for(lambda: session_of(session_id).heartbeat_at is not None, 60, "the job")
            proxy.frozen.set()  # Redis stops answering the worker
            wait_for(lambda: session_of(session_id).is_terminal, 120, "the job to end")
            session = session_of(session_id)
            assert session.state == SessionState.COMPLETED, session.failed_reason
            deliveries = WebhookDelivery.objects.filter(company=company)
            assert deliveries.exists()
            # No message reached the broker: none is leased, beat may queue them at once.
            wait_for(
                lambda: not deliveries.filter(queued_until__isnull=False).exists(),
                30,
                "the deliveries to be left to beat",
            )
            assert worker.poll() is None  # the worker lives on
            proxy.frozen.clear()  # Redis answers again
            before = queued("deliveries")
            assert dispatch_due_webhooks() == deliveries.count()
            assert dispatch_due_webhooks() == 0
            assert queued("deliveries") == before + deliveries.count()
    finally:
        proxy.close()
        app.control.purge()
