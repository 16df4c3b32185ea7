"""An endpoint deleted (the admin, the API) while an event for it is being emitted: the
emitting change (a decision, a pipeline step) and the deletion both end cleanly."""

import pytest

from tests.commit_order import in_thread, open_transaction
from tests.webhooks.helpers import emit
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_create, endpoint_delete

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
