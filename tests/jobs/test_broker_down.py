"""Submit is accepted or not: with the broker refusing connections, the submit is accepted
(200) and its processing task waits in the outbox until the relay gets it through."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction

from jobs.models import SessionState, WorkflowSession
from jobs.services import session_start_run, sessions_recover_stuck
from jobs.tasks import process_session
from steve.broker import broker_pause
from steve.celery import app
from steve.models import OutboxMessage
from steve.services import outbox_relay
from steve.tasks import relay_outbox
from tests import redis_down
from tests.jobs.test_beat import age, beat_age
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

pytestmark = pytest.mark.django_db

REFUSING_BROKER = "redis://127.0.0.1:1/0"


def _use_broker(url: str | None) -> None:
    # Celery reads CELERY_BROKER_URL from the environment before its settings; the
    # producer pools hold connections to the previous broker, so they are dropped.
    if url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = url
    app.amqp._producer_pool = None
    app._pool = None


@pytest.fixture
def broker_down() -> Iterator[None]:
    app.control.purge()
    _use_broker(REFUSING_BROKER)
    try:
        yield
    finally:
        _use_broker(None)


def queued(queue: str = "processing") -> int:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(queue)


def uploaded_session(api, client_id: str = "order-1") -> str:
    _, body, _ = create(api, clientSubmissionId=client_id)
    assert put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes()).status_code == 200
    return body["sessionId"]


def test_submit_with_the_broker_down_is_accepted_and_processing_is_queued_once_it_is_back(
    api, workflows, broker_down, django_capture_on_commit_callbacks
):
    session_id = uploaded_session(api)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit")
    assert time.monotonic() - started < 5  # a dead broker does not hang the request

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "submitted"
    assert WorkflowSession.objects.get(pk=session_id).state == SessionState.SUBMITTED
    (message,) = OutboxMessage.objects.all()
    assert message.task == "jobs.tasks.process_session" and message.args == [session_id]
    assert message.attempts == 1 and "127.0.0.1:1" in message.last_error
    assert relay_outbox() == 0  # beat's relay, still no broker: the message waits
    assert OutboxMessage.objects.get().attempts == 2

    _use_broker(None)  # the broker is back
    before = queued()
    assert relay_outbox() == 1
    assert not OutboxMessage.objects.exists()
    assert queued() == before + 1
    assert outbox_relay() == 0  # sent once
    app.control.purge()


def test_the_stuck_sweep_leaves_a_session_whose_message_still_waits_in_the_outbox(
    api, workflows, broker_down, settings, django_capture_on_commit_callbacks
):
    """The broker down longer than STUCK_SESSION_MINUTES: the sweep took the session for
    one no worker took, wrote a second message and a "not_started" re-queue although none
    had been sent; and a run whose lease ran out meanwhile spent one of its re-queues. The
    message waiting in the outbox is its queueing: the relay sends it once the broker is
    back, and the sweep steps in only after that."""
    settings.STUCK_SESSION_MINUTES = 15
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    session_id = uploaded_session(api)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit")
    session = WorkflowSession.objects.get(pk=session_id)
    age(session, 20)
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 0, "errors": 0}
    assert session_start_run(session_id=session_id)  # a run started, then its lease ran out
    beat_age(session, 100)
    assert sessions_recover_stuck() == {"requeued": 0, "failed": 0, "errors": 0}
    assert OutboxMessage.objects.count() == 1
    assert not session.submission.events.filter(type="processing_requeued").exists()
    assert WorkflowSession.objects.get(pk=session_id).requeue_count == 0

    _use_broker(None)  # the broker is back: the relay sends the message
    assert relay_outbox() == 1
    assert sessions_recover_stuck()["requeued"] == 1  # now only the sweep can queue it
    app.control.purge()


def test_submit_with_the_broker_up_sends_the_task_on_commit(
    api, workflows, django_capture_on_commit_callbacks
):
    app.control.purge()
    session_id = uploaded_session(api)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit")
    assert response.status_code == 200
    assert not OutboxMessage.objects.exists()
    assert queued() == 1
    app.control.purge()


def test_a_rolled_back_submit_leaves_no_task(api, workflows, django_capture_on_commit_callbacks):
    _, body, _ = create(api)  # nothing uploaded: the submit is refused and rolled back
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert response.status_code == 422
    assert not OutboxMessage.objects.exists()


def test_a_message_the_broker_cannot_take_holds_up_neither_the_others_nor_the_broker():
    """A message refused for its own sake (here one written by a release whose task took
    other arguments) is no broker outage: it stopped every relay run at the same oldest
    row for good, and its pause held back every publish (webhooks too) meanwhile."""
    app.control.purge()
    task = process_session.name  # registered, as on the worker that runs beat's relay
    stale = OutboxMessage.objects.create(task=task, args=[])
    waiting = OutboxMessage.objects.create(task=task, args=["x"])
    assert relay_outbox() == 1
    assert queued() == 1
    assert not OutboxMessage.objects.filter(pk=waiting.pk).exists()
    stale.refresh_from_db()
    assert stale.attempts == 1 and stale.last_error.startswith("TypeError")
    assert not broker_pause.active()
    app.control.purge()


def test_a_batch_of_messages_the_broker_cannot_take_does_not_hold_up_newer_ones():
    """Oldest first, a full batch of such messages was all each run ever tried."""
    app.control.purge()
    for _ in range(2):
        OutboxMessage.objects.create(task=process_session.name, args=[])
    waiting = OutboxMessage.objects.create(task=process_session.name, args=["x"])
    sent = [outbox_relay(limit=2) for _ in range(2)]
    assert sent == [0, 1]
    assert not OutboxMessage.objects.filter(pk=waiting.pk).exists()
    app.control.purge()


@pytest.mark.django_db(transaction=True)
def test_a_message_being_relayed_is_skipped_by_a_second_relay():
    app.control.purge()
    with transaction.atomic():
        message = OutboxMessage.objects.create(task="jobs.tasks.process_session", args=["x"])
    locked, release = threading.Event(), threading.Event()

    def first_relay_holding_the_row() -> None:
        try:
            with transaction.atomic():
                OutboxMessage.objects.select_for_update().get(pk=message.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=first_relay_holding_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        assert outbox_relay() == 0  # SKIP LOCKED: the other relay is sending it
        assert queued() == 0
    finally:
        release.set()
        holder.join()
    assert outbox_relay() == 1
    assert queued() == 1
    app.control.purge()


@pytest.fixture
def broker_hung() -> Iterator[None]:
    """A broker that accepts connections and never answers (a stopped or cut-off Redis)."""
    with redis_down.silent_redis() as url:
        app.control.purge()
        _use_broker(url)
        try:
            yield
        finally:
            _use_broker(None)


def test_submit_with_a_broker_that_never_answers_is_accepted_in_seconds(
    api, workflows, broker_hung, django_capture_on_commit_callbacks
):
    session_id = uploaded_session(api)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit")
    assert response.status_code == 200, response.content
    # Two attempts of at most the broker socket timeout (3 s) each, not gunicorn's 30 s.
    assert time.monotonic() - started < 15
    (message,) = OutboxMessage.objects.all()
    assert message.task == "jobs.tasks.process_session" and message.attempts == 1
    assert "Timeout" in message.last_error, message.last_error
    assert WorkflowSession.objects.get(pk=session_id).state == SessionState.SUBMITTED


def test_beats_relay_waits_for_a_broker_that_never_answers_once_not_once_per_message(
    broker_hung,
):
    for n in range(3):
        OutboxMessage.objects.create(task=process_session.name, args=[f"ses_{n}"])
    started = time.monotonic()
    assert relay_outbox() == 0
    assert time.monotonic() - started < 5  # one socket timeout (3 s), not three
    assert list(OutboxMessage.objects.values_list("attempts", flat=True)) == [1, 0, 0]
    assert broker_pause.active()


def test_many_webhooks_with_a_broker_that_never_answers_wait_for_it_once(
    api, company, broker_hung, django_capture_on_commit_callbacks
):
    from submissions.models import SubmissionStatus
    from tests.factories import SubmissionFactory
    from webhooks.models import WebhookDelivery
    from webhooks.services import endpoint_create

    for n in range(6):
        endpoint_create(company=company, url=f"https://93.184.215.{n + 10}/hook")
    waiting = SubmissionFactory(company=company, status=SubmissionStatus.REVIEW)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/submissions/{waiting.pk}/cancel", {}, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.content
    # One broker socket timeout (3 s), not one per delivery (6 x 3 s).
    assert elapsed < 8, elapsed
    deliveries = WebhookDelivery.objects.filter(company=company)
    assert deliveries.count() == 6
    # Nothing is on the queue: beat's sweep may queue them at once, not in two minutes.
    assert not deliveries.filter(queued_until__isnull=False).exists()


class FreezableProxy:
    """A TCP proxy to the test Redis that stops answering when frozen, as Redis does when
    stopped with SIGSTOP: connections made before stay open, new ones are completed by the
    kernel, and nothing is answered."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.getsockname()[1]

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.frozen.is_set() and not self.closed.is_set():
                    time.sleep(0.01)  # stopped: the bytes wait in the buffers
                target.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.closed.set()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def broker_to_stop() -> Iterator[FreezableProxy]:
    """The broker behind a proxy that the test can stop answering (frozen.set())."""
    url = urlparse(settings.CELERY_BROKER_URL)
    proxy = FreezableProxy((url.hostname or "localhost", url.port or 6379))
    app.control.purge()
    _use_broker(f"redis://127.0.0.1:{proxy.port}{url.path}")
    try:
        yield proxy
    finally:
        _use_broker(None)
        proxy.close()
        app.control.purge()


def test_a_broker_that_stops_answering_costs_a_publish_one_socket_timeout(
    api, workflows, broker_to_stop, django_capture_on_commit_callbacks
):
    """Redis SIGSTOPped after this process connected to it: the publish waited for its
    answer, then twice more for a new connection's handshake (9 s)."""
    warm = uploaded_session(api)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/workflows/receipt-ocr/sessions/{warm}/submit")
    assert not OutboxMessage.objects.exists()  # sent: the connection is open and pooled
    broker_to_stop.frozen.set()
    session_id = uploaded_session(api, "order-2")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{session_id}/submit")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    assert elapsed < settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] + 1, elapsed
    (message,) = OutboxMessage.objects.all()  # kept for beat's relay: not lost
    assert message.args == [session_id] and message.attempts == 1
    broker_to_stop.frozen.clear()  # the broker answers again
    assert relay_outbox() == 1
    assert not OutboxMessage.objects.exists()
