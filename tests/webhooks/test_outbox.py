"""The outbox: rows in the caller's transaction, dispatch only after commit, and the
session's webhookDeliveryStatus as seed 000 defines it."""

from datetime import timedelta

import pytest
from django.db import connection, transaction

from jobs import pipeline
from steve.ids import new_id
from steve.models import ApiKey
from tests.jobs.fakes import fake_extract_file
from tests.jobs.test_sessions_api import create, jpeg_bytes, put
from tests.webhooks.helpers import emit, make_due
from webhooks.delivery import deliver
from webhooks.models import WebhookDelivery
from webhooks.selectors import (
    delivery_status_of,
    poll_delivery_columns,
    session_delivery_status,
)
from webhooks.services import (
    endpoint_create,
    endpoint_disable,
    session_secret_rotate,
    webhook_emit,
)
from webhooks.tasks import deliver_webhook
from webhooks.verify import verify_webhook

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_a_rolled_back_change_sends_nothing(company, endpoint, receiver, monkeypatch):
    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    with pytest.raises(Boom), transaction.atomic():
        webhook_emit(
            company_id=company.pk,
            event_id=new_id("evt"),
            event_type="submission.approved",
            payload={"eventType": "submission.approved"},
            session_url=receiver.url,
        )
        raise Boom
    assert not WebhookDelivery.objects.exists()
    assert queued == []
    assert receiver.requests == []


def test_a_committed_change_dispatches_after_commit(
    company, endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries = emit(company, session_url=receiver.url)
    assert queued == []  # nothing is sent before the change is committed
    for callback in callbacks:
        callback()
    assert sorted(queued) == sorted(d.pk for d in deliveries)
    assert len(deliveries) == 2


def test_a_delivery_the_broker_refused_is_queued_again_on_beats_next_pass(
    company, endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    from webhooks.delivery import claim_due

    def refused(delivery_id: str) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(deliver_webhook, "delay", refused)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = emit(company, session_url=receiver.url)
    assert all(d.queued_until is None for d in WebhookDelivery.objects.all())
    # Not after the two-minute queue lease: beat's next pass takes them.
    assert sorted(claim_due()) == sorted(d.pk for d in deliveries)


def delivery_status(company, api_key, session_url: str = "") -> str | None:
    """The ORM read, checked against the job poll's hand-written SQL for the same inputs."""
    orm = session_delivery_status(
        session_id="ses_test",
        session_url=session_url,
        company_id=company.pk,
        api_key_id=api_key.api_key.pk,
        ended=False,
    )
    assert polled_delivery_status(company, api_key, session_url) == orm
    return orm


def polled_delivery_status(company, api_key, session_url: str) -> str | None:
    sql = (
        f"SELECT {poll_delivery_columns(session='s', key='k')}"
        " FROM (SELECT %s AS id, %s AS webhook_url, %s AS company_id) s,"
        f" (SELECT environment FROM {ApiKey._meta.db_table} WHERE id = %s) k"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ["ses_test", session_url, company.pk, api_key.api_key.pk])
        statuses, endpoint = cursor.fetchone()
    return delivery_status_of(
        statuses=set(statuses), endpoint_configured=endpoint, session_url=session_url, ended=False
    )


def test_session_delivery_status_follows_the_seed(company, api_key, receiver):
    assert delivery_status(company, api_key) is None
    assert delivery_status(company, api_key, receiver.url) == "pending"
    (delivery,) = emit(company, session_url=receiver.url)
    assert delivery_status(company, api_key, receiver.url) == "pending"
    receiver.script = [500]
    deliver(delivery.pk)  # failed once, retrying
    assert delivery_status(company, api_key, receiver.url) == "pending"
    make_due(delivery)
    deliver(delivery.pk)
    assert delivery_status(company, api_key, receiver.url) == "delivered"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    assert delivery_status(company, api_key, receiver.url) == "failed"


def emit_for_session(company) -> list[WebhookDelivery]:
    with transaction.atomic():
        return webhook_emit(
            company_id=company.pk,
            event_id=new_id("evt"),
            event_type="session.completed",
            payload={"eventType": "session.completed"},
            session_id="ses_test",
            environment="production",
        )


def test_a_configured_endpoint_sets_the_status_without_a_session_url(company, api_key, receiver):
    endpoint_create(company=company, url=receiver.url, environment="sandbox")
    assert delivery_status(company, api_key) is None  # a sandbox endpoint is not production's
    endpoint_create(company=company, url=receiver.url)
    assert delivery_status(company, api_key) == "pending"  # configured, nothing sent yet
    (delivery,) = emit_for_session(company)
    deliver(delivery.pk)
    assert delivery_status(company, api_key) == "delivered"


def test_any_failed_target_makes_the_status_failed(company, api_key, receiver):
    endpoint_create(company=company, url=receiver.url)
    (to_endpoint,) = emit_for_session(company)
    deliver(to_endpoint.pk)
    for delivery in emit(company, session_url=receiver.url):  # the endpoint and the URL
        deliver(delivery.pk)
    assert delivery_status(company, api_key, receiver.url) == "delivered"
    WebhookDelivery.objects.filter(pk=to_endpoint.pk).update(status="failed")
    assert delivery_status(company, api_key, receiver.url) == "failed"


def test_a_disabled_endpoints_unsent_copy_is_not_a_failed_delivery(company, api_key, receiver):
    """Seed 000: webhookDeliveryStatus `failed` is "Delivery exhausted its retry budget",
    null "No webhook URL was configured". A disabled endpoint's copy of each event is kept
    failed unsent (for a later redelivery): nothing was tried, and the endpoint is no
    target, yet a poll said `failed` beside a delivered one, or alone."""
    off, _ = endpoint_create(company=company, url=receiver.url)
    endpoint_disable(endpoint_id=off.pk, reason="Paused by the integrator.")
    (unsent,) = emit_for_session(company)
    assert unsent.status == "failed" and unsent.attempts == 0
    assert delivery_status(company, api_key) is None
    endpoint_create(company=company, url=f"{receiver.url}?on")
    to_enabled = [d for d in emit_for_session(company) if d.status == "pending"]
    deliver(to_enabled[0].pk)
    assert delivery_status(company, api_key) == "delivered"


def test_an_endpoint_disabled_while_its_delivery_retried_is_no_target(company, api_key, receiver):
    """docs/webhooks.md: the targets are the company's *enabled* endpoints. An endpoint
    disabled while a delivery to it was retrying (by hand, or after days of failures)
    kept the poll `pending` till that delivery's next attempt, hours away, and then, as
    that attempt failed it unsent ("The endpoint is disabled."), `failed` for good,
    though every target had the event and no retry budget was spent."""
    working, _ = endpoint_create(company=company, url=receiver.url)
    broken, _ = endpoint_create(company=company, url=receiver.url + "broken")
    deliveries = {d.endpoint_id: d for d in emit_for_session(company)}
    receiver.script = [500]
    deliver(deliveries[broken.pk].pk)  # failed once, retrying
    deliver(deliveries[working.pk].pk)
    assert delivery_status(company, api_key) == "pending"
    endpoint_disable(endpoint_id=broken.pk, reason="Paused by the integrator.")
    assert delivery_status(company, api_key) == "delivered"
    make_due(deliveries[broken.pk])
    deliver(deliveries[broken.pk].pk)  # given up unsent: the endpoint is disabled
    assert WebhookDelivery.objects.get(pk=deliveries[broken.pk].pk).status == "failed"
    assert delivery_status(company, api_key) == "delivered"


def poll_completed_session(api, monkeypatch) -> str:
    monkeypatch.setattr(pipeline, "_extract_file", fake_extract_file)
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    pipeline.run(body["sessionId"])
    return f"/api/v1/jobs/{body['sessionId']}"


def test_an_ended_session_no_delivery_will_come_for_is_not_pending(
    api, workflows, company, receiver, monkeypatch
):
    """Seed 000: `pending` is "Delivery is queued or retrying". An endpoint subscribed only
    to failures, or created after the session ended, never gets this session's ending, yet
    the poll said `pending` forever, and a client waiting for it waited for nothing."""
    endpoint_create(company=company, url=receiver.url, events=["session.failed"])
    url = poll_completed_session(api, monkeypatch)
    assert not WebhookDelivery.objects.exists()
    assert api.get(url).json()["webhookDeliveryStatus"] is None
    endpoint_create(company=company, url=f"{receiver.url}?later")
    assert api.get(url).json()["webhookDeliveryStatus"] is None


def test_session_deliveries_are_signed_with_the_company_session_secret(company, receiver):
    _, secret, _ = session_secret_rotate(
        company_id=company.pk, environment="production", grace=timedelta(0)
    )
    (delivery,) = emit(company, session_url=receiver.url)
    deliver(delivery.pk)
    request = receiver.requests[0]
    assert verify_webhook(secret, request.headers, request.body)["eventId"] == delivery.event_id
