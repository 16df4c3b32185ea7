"""An endpoint deleted (the admin, the API) while an event for it is being emitted: the
emitting change (a decision, a pipeline step) and the deletion both end cleanly."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction

from tests.webhooks.helpers import emit
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_create, endpoint_delete

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/webhooks/webhookendpoint/"


@contextmanager
def open_transaction(change: Callable[[], Any]) -> Iterator[dict[str, Any]]:
    """`change` in another connection's transaction, held open until the block ends,
    then committed; yields what happened to it ("error" once committed, if it raised)."""
    outcome: dict[str, Any] = {}
    done, release = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                outcome["made"] = change()
                done.set()
                release.wait(10)
        except Exception as error:
            outcome["error"] = error
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(10)
    try:
        yield outcome
    finally:
        release.set()
        thread.join(10)


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """`call` in another connection, started now; its answer or error lands in the dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["answer"] = call()
        except Exception as error:
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


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
