"""Two redeliveries of the same deliveries at once (the API's outage recovery, the
admin's Redeliver now), each on its own thread and PostgreSQL connection, as two web
workers run them. The API locked the endpoint's failed deliveries newest first (the
model's ordering) and the admin oldest first: each took its half and waited for the
other's, and PostgreSQL killed one of the two with a deadlock error (a 500).

Staged with a third transaction (the test's) holding one row both need: each takes
what it can before it and waits there, and the row is let go once both wait."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.webhooks.helpers import emit, failed_deliveries
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    deliveries_forget_results,
    deliveries_redeliver,
    deliveries_unqueue,
    endpoint_delete,
    endpoint_redeliver_failed,
    endpoints_switch,
)
from webhooks.tasks import deliver_webhook

pytestmark = pytest.mark.django_db(transaction=True)
MANY = 40


@pytest.fixture(autouse=True)
def no_broker(monkeypatch) -> None:
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: None)


class Run(threading.Thread):
    """A service call on its own thread and database connection; what it raised kept."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.call()
        except BaseException as error:  # reported by the test, not lost with the thread
            self.error = error
        finally:
            connection.close()


def waiting_on_locks() -> int:
    """Other connections of this database waiting for a lock."""
    with connection.cursor() as cursor:
        # Read in a transaction, the view is the snapshot of its first read, till its end.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def wait_for_waiters(count: int) -> None:
    deadline = time.monotonic() + 10
    while waiting_on_locks() < count:
        assert time.monotonic() < deadline, f"never {count} waiting on a lock"
        time.sleep(0.02)


@contextmanager
def holding(delivery_id: str) -> Iterator[None]:
    """The delivery's row locked by this (the test's) connection until the block ends."""
    with transaction.atomic():
        WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).get()
        yield


def api_redelivery(endpoint: WebhookEndpoint) -> Run:
    return Run(lambda: endpoint_redeliver_failed(endpoint_id=endpoint.pk))


def admin_redelivery(ids: list[str]) -> Run:
    return Run(lambda: deliveries_redeliver(delivery_ids=ids))


def finish(*runs: Run) -> None:
    for run in runs:
        run.join(30)
        assert not run.is_alive(), "a redelivery never finished"
    assert [run.error for run in runs] == [None] * len(runs)


def test_the_apis_and_the_admins_redelivery_of_the_same_deliveries_at_once_both_finish(
    company, endpoint
):
    ids = failed_deliveries(company, MANY)
    runs = [api_redelivery(endpoint), admin_redelivery(ids)]
    with holding(ids[MANY // 2]):  # the middle: the two took the halves either side
        for run in runs:
            run.start()
        wait_for_waiters(2)
    finish(*runs)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}


def test_the_admins_redelivery_to_a_held_endpoint_and_the_apis_at_once_both_finish(
    company, endpoint
):
    """The admin's lifts its endpoint's Retry-After hold once its deliveries are locked;
    the API's locked the endpoint first, then waited for those deliveries."""
    ids = failed_deliveries(company, MANY)
    held_until = timezone.now() + timedelta(hours=1)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(held_until=held_until)
    admin, api = admin_redelivery(ids), api_redelivery(endpoint)
    with holding(ids[0]):  # the first either locks: the admin's is let go first
        admin.start()
        wait_for_waiters(1)
        api.start()
        wait_for_waiters(2)
    finish(admin, api)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).held_until is None


def test_deleting_a_held_endpoint_while_the_admin_redelivers_its_deliveries_both_finish(
    company, endpoint
):
    """The deletion locked the endpoint, then its cascade waited for the deliveries the
    admin's redelivery held, which waited for the endpoint to lift its hold."""
    ids = failed_deliveries(company, MANY)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        held_until=timezone.now() + timedelta(hours=1)
    )
    admin = admin_redelivery(ids)
    deletion = Run(lambda: endpoint_delete(endpoint_id=endpoint.pk))
    with holding(ids[0]):
        admin.start()
        wait_for_waiters(1)
        deletion.start()
        wait_for_waiters(2)
    finish(admin, deletion)
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.exists()


def test_a_submissions_retention_purge_while_the_admin_redelivers_its_deliveries_both_finish(
    company, endpoint
):
    """The purge rewrote the session's deliveries newest first (the model's ordering)."""
    ids = failed_deliveries(company, MANY)
    WebhookDelivery.objects.update(session_id="ses_purged")
    purge = Run(lambda: deliveries_forget_results(session_id="ses_purged", sync_event_id="e"))
    runs = [purge, admin_redelivery(ids)]
    with holding(ids[MANY // 2]):
        for run in runs:
            run.start()
        wait_for_waiters(2)
    finish(*runs)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}


def test_beats_unqueue_and_a_redelivery_of_the_same_deliveries_at_once_both_finish(
    company, endpoint
):
    """Beat drops the leases of deliveries the broker did not take (deliveries_unqueue)
    with one UPDATE, which locked them in the order its scan met them: the table's, where
    a row rewritten since (a claim's lease) comes after the others, not the keys'. It
    took the later half, the admin's redelivery the earlier (in key order), and each
    waited for the other's."""
    ids = failed_deliveries(company, MANY)
    leased = timezone.now() + timedelta(minutes=2)
    WebhookDelivery.objects.filter(pk__in=ids[: MANY // 2]).update(queued_until=leased)
    unqueue = Run(lambda: deliveries_unqueue(delivery_ids=ids))
    admin = admin_redelivery(ids)
    with holding(ids[3 * MANY // 4]):
        unqueue.start()
        wait_for_waiters(1)
        admin.start()
        wait_for_waiters(2)
    finish(unqueue, admin)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}


def test_the_admins_disable_of_held_endpoints_and_a_redelivery_to_them_at_once_both_finish(
    company,
):
    """The admin's Disable (or Enable) locks the chosen endpoints in key order
    (endpoints_switch), in one transaction since it switches them all at once. A
    redelivery of deliveries to several of them lifted their Retry-After holds with one
    UPDATE, which locked them in the order its scan met them: the table's, where a row
    rewritten since comes after the others. It took the later keys first and waited for
    an earlier one the switch held, while the switch waited for the later ones."""
    held_until = timezone.now() + timedelta(hours=1)
    endpoints = [
        WebhookEndpoint.objects.create(
            id=f"we_order{n:02d}",
            company=company,
            url=f"https://erp-{n}.example.com/hooks",
            secret="whsec_x",
            held_until=held_until,
        )
        for n in range(8)
    ]
    emit(company)  # a delivery to each
    WebhookDelivery.objects.update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, queued_until=None
    )
    ids = sorted(WebhookDelivery.objects.values_list("pk", flat=True))
    assert len(ids) == len(endpoints)
    # The first half rewritten since (a failure's bookkeeping): the table has them last.
    WebhookEndpoint.objects.filter(pk__in=[e.pk for e in endpoints[:4]]).update(
        last_failure_at=timezone.now()
    )
    switch = Run(lambda: endpoints_switch(endpoint_ids=[e.pk for e in endpoints], enabled=False))
    admin = admin_redelivery(ids)
    with transaction.atomic():  # an endpoint of the first half held by this connection
        WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoints[2].pk)
        switch.start()  # takes the two before it, and waits
        wait_for_waiters(1)
        admin.start()  # takes what it can, and waits
        wait_for_waiters(2)
    finish(switch, admin)
    assert not WebhookEndpoint.objects.filter(enabled=True).exists()
    assert not WebhookEndpoint.objects.filter(held_until__isnull=False).exists()
