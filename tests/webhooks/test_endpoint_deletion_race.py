"""An endpoint deleted (the admin, the API) while an event for it is being emitted: the
emitting change (a decision, a pipeline step) and the deletion both end cleanly."""

import pytest

from tests.commit_order import in_thread, open_transaction
from tests.webhooks.helpers import emit, make_due
from webhooks.delivery import deliver
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_create, endpoint_delete, endpoint_disable

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/webhooks/webhookendpoint/"


@pytest.fixture
def fresh(company, receiver) -> WebhookEndpoint:
    """An endpoint added a moment ago: nothing delivered to it yet, so deletable."""
    return endpoint_create(company=company, url=f"{receiver.url}fresh", events=[])[0]


def test_deleting_an_endpoint_in_the_admin_while_its_first_event_is_emitted_fails_neither(
    admin_client, company, fresh
):
    with open_transaction(lambda: emit(company)) as emitted:
        thread, deleted = in_thread(
            lambda: admin_client.post(f"{CHANGELIST}{fresh.pk}/delete/", {"post": "yes"})
        )
        thread.join(1)  # the deletion waits for the change that emits
    thread.join(10)
    assert "error" not in emitted and "error" not in deleted, (emitted, deleted)
    page = " ".join(deleted["answer"].content.decode().split())
    assert "This webhook endpoint has 1 webhook delivery; it cannot be deleted." in page
    assert WebhookDelivery.objects.filter(endpoint=fresh).count() == 1


def test_delete_selected_while_an_endpoints_first_event_is_emitted_fails_neither(
    admin_client, company, endpoint, fresh
):
    picked = {"action": "delete_selected", "_selected_action": [fresh.pk], "post": "yes"}
    with open_transaction(lambda: emit(company)) as emitted:
        thread, deleted = in_thread(lambda: admin_client.post(CHANGELIST, picked))
        thread.join(1)
    thread.join(10)
    assert "error" not in emitted and "error" not in deleted, (emitted, deleted)
    page = " ".join(deleted["answer"].content.decode().split())
    assert "has 1 webhook delivery" in page
    assert WebhookDelivery.objects.filter(endpoint=fresh).count() == 1


def test_an_event_emitted_while_an_endpoint_is_deleted_goes_to_the_others(company, endpoint, fresh):
    with open_transaction(lambda: endpoint_delete(endpoint_id=fresh.pk)) as deleted:
        thread, emitted = in_thread(lambda: emit(company))
        thread.join(1)
    thread.join(10)
    assert "error" not in deleted and "error" not in emitted, (deleted, emitted)
    assert [d.endpoint_id for d in emitted["answer"]] == [endpoint.pk]
    assert not WebhookEndpoint.objects.filter(pk=fresh.pk).exists()


def test_the_api_deleting_an_endpoint_while_an_event_is_emitted_deletes_it_and_the_delivery(
    company, fresh
):
    with open_transaction(lambda: emit(company)) as emitted:
        thread, deleted = in_thread(lambda: endpoint_delete(endpoint_id=fresh.pk))
        thread.join(1)
    thread.join(10)
    assert "error" not in emitted and "error" not in deleted, (emitted, deleted)
    assert not WebhookEndpoint.objects.filter(pk=fresh.pk).exists()
    assert not WebhookDelivery.objects.filter(endpoint_id=fresh.pk).exists()


def test_a_failing_endpoints_retry_is_sent_while_an_event_for_it_is_being_emitted(
    company, endpoint, receiver
):
    # The emit's FOR KEY SHARE made the claim's FOR UPDATE SKIP LOCKED find the failing
    # endpoint "busy": its retry was pushed back unsent whenever any change emitting to
    # it was under way, which at a busy company is most of the time.
    receiver.script = [500]
    (delivery,) = emit(company)
    deliver(delivery.pk)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is not None
    make_due(delivery)
    with open_transaction(lambda: emit(company)) as emitted:
        outcome = deliver(delivery.pk)
    assert "error" not in emitted, emitted
    assert outcome is not None and outcome.ok
    assert len(receiver.requests) == 2
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == WebhookDelivery.Status.DELIVERED


def test_disabling_an_endpoint_does_not_wait_for_an_event_being_emitted_to_it(company, endpoint):
    # The delivery worker disables an endpoint that answered 410 (or failed for days):
    # it waited, a worker held, for every change emitting to the endpoint to commit.
    with open_transaction(lambda: emit(company)) as emitted:
        thread, disabled = in_thread(
            lambda: endpoint_disable(endpoint_id=endpoint.pk, reason="The receiver answered 410.")
        )
        thread.join(5)
        finished_while_emitting = not thread.is_alive()
    thread.join(10)
    assert finished_while_emitting
    assert "error" not in emitted and "error" not in disabled, (emitted, disabled)
    assert not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled
