"""A redelivery of many deliveries (the API's outage recovery, the admin's Redeliver now
on thousands): the request writes them and answers, beat's sweep queues them. One
message per delivery, published in the request after its commit, made a redelivery
of 10,000 publish 10,000 messages before it answered (7-9 s), and a broker that
failed part way left the rest to beat anyway."""

from collections import Counter

import pytest
from django.contrib.messages import get_messages

from steve.broker import broker_pause
from tests.webhooks.helpers import failed_deliveries
from webhooks import services
from webhooks.delivery import claim
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.tasks import deliver_webhook, dispatch_due_webhooks

pytestmark = pytest.mark.django_db
# More than a redelivery publishes itself: a page of the admin's list is 100.
MANY = 250


@pytest.fixture
def published(monkeypatch) -> list[str]:
    """The deliveries a deliver_webhook message was published for, in order."""
    messages: list[str] = []
    monkeypatch.setattr(deliver_webhook, "delay", messages.append)
    return messages


def beat_until_idle(published: list[str]) -> None:
    """Beat's passes, one after another, until one queues nothing."""
    for _ in range(10):
        before = len(published)
        dispatch_due_webhooks()
        if len(published) == before:
            return
    raise AssertionError("beat was still queueing after 10 passes")


def assert_each_sent_once(ids: list[str], published: list[str]) -> None:
    """One message per delivery, and each message's attempt claimed once: a copy of it
    (from the request and beat both) would find nothing to claim."""
    assert Counter(published) == Counter(ids), "a delivery queued twice, or never"
    for delivery_id in published:  # the worker takes each message
        assert claim(delivery_id) is not None, delivery_id
    assert [claim(delivery_id) for delivery_id in ids] == [None] * len(ids)
    claimed = WebhookDelivery.objects.filter(attempts=11, locked_until__isnull=False)
    assert claimed.count() == len(ids)


def test_redelivering_an_outage_of_many_publishes_nothing_in_the_request_and_sends_each_once(
    api, company, endpoint, published, django_capture_on_commit_callbacks
):
    ids = failed_deliveries(company, MANY)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver")
    assert response.status_code == 202 and response.json()["redelivered"] == MANY
    assert published == [], f"the request published {len(published)} message(s)"
    # Not covered by a message: beat's next pass may claim every one at once.
    assert set(WebhookDelivery.objects.values_list("status", "queued_until")) == {("pending", None)}
    beat_until_idle(published)
    assert_each_sent_once(ids, published)


def test_redelivering_many_in_the_admin_publishes_nothing_in_the_request_and_sends_each_once(
    admin_client, company, endpoint, published, django_capture_on_commit_callbacks
):
    ids = failed_deliveries(company, MANY)
    selection = {"select_across": "1", "index": "0", "_selected_action": [ids[0]]}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/webhooks/webhookdelivery/", {"action": "redeliver", **selection}
        )
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"{MANY} redelivery(ies) queued."
    ]
    assert published == [], f"the request published {len(published)} message(s)"
    beat_until_idle(published)
    assert_each_sent_once(ids, published)


def test_a_redelivery_of_a_few_is_published_at_once_and_beat_queues_no_second_copy(
    company, endpoint, published, django_capture_on_commit_callbacks
):
    ids = failed_deliveries(company, services.REDELIVERY_PUBLISH_LIMIT)
    with django_capture_on_commit_callbacks(execute=True):
        done = services.deliveries_redeliver(delivery_ids=ids)
    assert sorted(done.queued) == ids
    assert sorted(published) == ids  # sent now, not at beat's next pass
    beat_until_idle(published)  # each is covered by the message's lease
    assert_each_sent_once(ids, published)


def test_a_redelivery_of_many_loses_none_when_the_broker_is_down(
    api, company, endpoint, published, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(delivery_id: str) -> None:
        raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")

    ids = failed_deliveries(company, MANY)
    with monkeypatch.context() as down:
        down.setattr(deliver_webhook, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver")
    assert response.status_code == 202 and response.json()["redelivered"] == MANY
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled
    broker_pause.end()  # the broker is back, this process's pause over
    beat_until_idle(published)
    assert_each_sent_once(ids, published)
