"""The admin's webhook actions with Redis (the cache and the broker) unreachable: each
does its whole work in the database, says so, and leaves the sending to beat."""

import time

import pytest
from django.contrib.messages import get_messages

from tests.jobs.test_broker_down import broker_down  # noqa: F401 - a fixture
from tests.redis_down import redis_down  # noqa: F401 - a fixture
from tests.webhooks.helpers import emit
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEndpointNotice
from webhooks.services import EndpointChanges, endpoint_update

pytestmark = pytest.mark.django_db
ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/webhookdelivery/"


def _said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_redeliver_now_with_redis_down_queues_in_the_database_and_says_so(
    operator,
    company,
    endpoint,
    redis_down,  # noqa: F811
    broker_down,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    delivery = emit(company)[0]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, queued_until=None
    )
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        done = operator.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]})
    assert time.monotonic() - started < 10
    assert done.status_code == 302, done.content[:2000]
    assert _said(done) == ["1 redelivery(ies) queued."]
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    # No message reached the broker: beat's next pass may queue it at once.
    assert delivery.queued_until is None


def test_endpoint_actions_with_redis_down_are_done_whole(
    operator,
    company,
    endpoint,
    redis_down,  # noqa: F811
    broker_down,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    delivery = emit(company)[0]
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, queued_until=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        enabled = operator.post(ENDPOINTS, {"action": "enable", "_selected_action": [endpoint.pk]})
        again = operator.post(
            ENDPOINTS,
            {"action": "redeliver_failed_since_last_success", "_selected_action": [endpoint.pk]},
        )
        rotated = operator.post(
            ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}
        )
    assert enabled.status_code == 302 and again.status_code == 302
    assert rotated.status_code == 200
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == WebhookDelivery.Status.PENDING
    assert WebhookEndpointNotice.objects.filter(endpoint=endpoint).count() == 3
