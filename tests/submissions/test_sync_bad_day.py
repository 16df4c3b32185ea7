"""The downstream system's bad day, as its owner sees Steve's sync posts: each answer it
can give (an HTML 502, a 429 with Retry-After, redirects, a 2xx saying it failed, a 409
"already have it", a TLS error, a connection reset after it stored the post, a day
down), against a real HTTP server on localhost. For each: the submission's state says
where the sync stands, every attempt is one event, retries are bounded and back off, a
resend carries the same idempotency key, and the operator can resend from the admin."""

import email.utils
import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from submissions.sync import sync_event_id
from tests.factories import SubmissionFactory
from tests.submissions.test_sync import event_types, with_sync_target
from webhooks import delivery as delivery_module
from webhooks.delivery import MAX_ATTEMPTS, RETRY_SCHEDULE, deliver
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # read and keep the post, then reset the connection unanswered
    delay: float = 0.0


@dataclass
class Downstream:
    url: str = ""
    answers: list[Answer] = field(default_factory=list)  # in order, then 200
    received: list[bytes] = field(default_factory=list)  # every post that arrived
    stored: list[str] = field(default_factory=list)  # eventIds it kept, duplicates too


@contextmanager
def downstream() -> Iterator[Downstream]:
    state = Downstream()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.received.append(body)
            answer = state.answers.pop(0) if state.answers else Answer()
            if answer.reset or 200 <= answer.status < 300:
                state.stored.append(json.loads(body)["eventId"])
            if answer.reset:
                # RST, not FIN: the client sees "connection reset", no answer at all.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            threading.Event().wait(answer.delay)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/erp"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def approved(url: str) -> tuple[Submission, WebhookDelivery]:
    submission = with_sync_target(SubmissionFactory(), url)
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    return submission, WebhookDelivery.objects.get(event_id=sync_event_id(submission.pk))


def due_now(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def failures(submission: Submission) -> list[dict]:
    events = SubmissionEvent.objects.filter(
        submission=submission, type__in=["sync_failed", "sync_abandoned"]
    )
    return list(events.order_by("id").values_list("details", flat=True))


def test_a_502_with_an_html_page_is_one_failure_with_the_page_in_the_attempt_log():
    page = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 9000 + b"</body>"
    with downstream() as erp:
        erp.answers = [Answer(502, page, {"Content-Type": "text/html"})]
        submission, delivery = approved(erp.url)
        deliver(delivery.pk)
    waiting = Submission.objects.get(pk=submission.pk)
    assert (waiting.status, waiting.sync_attempts) == ("approved", 1)
    (failure,) = failures(submission)
    assert (failure["attempt"], failure["statusCode"], failure["error"]) == (1, 502, "HTTP 502")
    assert failure["deliveryId"] == delivery.pk
    assert failure["nextAttemptAt"] is not None
    assert waiting.sync_next_attempt_at is not None
    logged = delivery.log.get()
    assert logged.response_body.startswith("<html><head><title>502 Bad Gateway")
    assert len(logged.response_body) == 2000  # capped, never the whole page


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_with_retry_after_shows_the_wait_it_asked_for(form):
    wait = timedelta(hours=1)
    when = email.utils.format_datetime(timezone.now() + wait, usegmt=True)
    value = "3600" if form == "seconds" else when
    with downstream() as erp:
        erp.answers = [Answer(429, b"slow down", {"Retry-After": value})]
        submission, delivery = approved(erp.url)
        deliver(delivery.pk)
        assert deliver(delivery.pk) is None  # not before the hour: nothing sent
        assert len(erp.received) == 1
    shown = Submission.objects.get(pk=submission.pk).sync_next_attempt_at
    assert abs(shown - (timezone.now() + wait)) < timedelta(seconds=5)
    (failure,) = failures(submission)
    assert failure["statusCode"] == 429
    assert failure["nextAttemptAt"] == shown.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_elsewhere_or_to_a_private_address_is_not_followed(status):
    with downstream() as erp, downstream() as internal:
        erp.answers = [Answer(status, b"", {"Location": f"{internal.url}/admin"})]
        submission, delivery = approved(erp.url)
        deliver(delivery.pk)
    assert internal.received == []
    (failure,) = failures(submission)
    assert (failure["statusCode"], failure["error"]) == (status, f"HTTP {status}")
    assert Submission.objects.get(pk=submission.pk).status == "approved"


def test_a_2xx_is_taken_whatever_its_body_says():
    """The documented contract: the status counts, the body is only logged."""
    with downstream() as erp:
        erp.answers = [Answer(200, b'{"status": "error", "message": "vendor unknown"}')]
        submission, delivery = approved(erp.url)
        deliver(delivery.pk)
    assert Submission.objects.get(pk=submission.pk).status == "synced"
    assert delivery.log.get().response_body.startswith('{"status": "error"')


def test_a_409_already_have_it_is_a_failure_retried_with_the_same_id():
    """A target that answers a duplicate with 409 keeps failing it: the docs say to
    answer a post already taken as the first time (2xx)."""
    with downstream() as erp:
        erp.answers = [Answer(409, b"already have it")]
        submission, delivery = approved(erp.url)
        deliver(delivery.pk)
        due_now(delivery)
        deliver(delivery.pk)
    assert [f["statusCode"] for f in failures(submission)] == [409]
    assert Submission.objects.get(pk=submission.pk).status == "synced"
    assert erp.received[0] == erp.received[1]


def test_a_tls_error_is_one_failure_named_as_such():
    with downstream() as erp:
        submission, delivery = approved(erp.url.replace("http://", "https://"))
        deliver(delivery.pk)
        assert erp.received == []  # no request got through the handshake
    (failure,) = failures(submission)
    assert failure["statusCode"] is None and failure["error"].startswith("SSLError")
    assert Submission.objects.get(pk=submission.pk).status == "approved"


def test_a_reset_after_storing_the_post_sends_it_again_with_the_same_idempotency_key(
    company,
):
    """The target stored the post, then the connection reset before it answered: Steve
    cannot tell, so it sends it again; the body, its eventId included, is the same."""
    with downstream() as erp, downstream() as integrator:
        hook, _ = endpoint_create(company=company, url=integrator.url)
        erp.answers = [Answer(reset=True)]
        submission = with_sync_target(SubmissionFactory(company=company), erp.url)
        submission_approve(submission_id=submission.pk, actor=Actor.system())
        delivery = WebhookDelivery.objects.get(event_id=sync_event_id(submission.pk))
        deliver(delivery.pk)
        due_now(delivery)
        deliver(delivery.pk)
    assert erp.stored == [sync_event_id(submission.pk)] * 2  # the target dedupes by it
    assert erp.received[0] == erp.received[1]
    (failure,) = failures(submission)
    assert failure["statusCode"] is None
    assert failure["error"].startswith("ConnectionError")
    assert event_types(submission) == ["approved", "sync_failed", "synced"]
    announced = WebhookDelivery.objects.filter(endpoint=hook, event_type="submission.synced")
    assert announced.count() == 1


def test_a_2xx_after_the_deadline_is_a_failure_and_the_post_goes_again(monkeypatch):
    monkeypatch.setattr(
        delivery_module, "post_signed", partial(delivery_module.post_signed, timeout=1)
    )
    with downstream() as erp:
        erp.answers = [Answer(200, delay=1.5)]
        submission, delivery = approved(erp.url)
        deliver(delivery.pk)
        due_now(delivery)
        deliver(delivery.pk)
    (failure,) = failures(submission)
    assert failure["statusCode"] is None and failure["error"].startswith("Timeout")
    assert Submission.objects.get(pk=submission.pk).status == "synced"
    assert erp.received[0] == erp.received[1]


def test_a_target_down_for_days_is_given_up_after_the_budget_then_resent_from_the_admin(
    operator,
):
    """Ten attempts on a growing schedule, one event each (the last `sync_abandoned`),
    then nothing more is tried; the operator's "Redeliver now" resends it once."""
    with downstream() as erp:
        erp.answers = [Answer(503, b"<html>down for maintenance</html>")] * MAX_ATTEMPTS
        submission, delivery = approved(erp.url)
        for _ in range(MAX_ATTEMPTS):
            due_now(delivery)
            deliver(delivery.pk)
        due_now(delivery)
        assert deliver(delivery.pk) is None  # the budget is spent: nothing more
        assert len(erp.received) == MAX_ATTEMPTS
        given_up = Submission.objects.get(pk=submission.pk)
        assert given_up.status == "approved"
        assert (given_up.sync_attempts, given_up.sync_next_attempt_at) == (MAX_ATTEMPTS, None)
        logged = failures(submission)
        assert [f["attempt"] for f in logged] == list(range(1, MAX_ATTEMPTS + 1))
        assert event_types(submission) == ["approved"] + ["sync_failed"] * (MAX_ATTEMPTS - 1) + [
            "sync_abandoned"
        ]
        assert logged[-1]["nextAttemptAt"] is None
        events = SubmissionEvent.objects.filter(submission=submission, type="sync_failed")
        for step, event in zip(RETRY_SCHEDULE, events.order_by("id"), strict=False):
            # Each retry's time, on the schedule (±10 % jitter).
            gap = datetime.fromisoformat(event.details["nextAttemptAt"]) - event.occurred_at
            assert step * 0.85 < gap < step * 1.15

        response = operator.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
        assert response.status_code == 302
        deliver(delivery.pk)
    synced = Submission.objects.get(pk=submission.pk)
    assert synced.status == "synced" and synced.sync_attempts == MAX_ATTEMPTS + 1
    assert event_types(synced)[-2:] == ["sync_abandoned", "synced"]
    assert len(erp.received) == MAX_ATTEMPTS + 1
    assert len(set(erp.received)) == 1  # the same post every time


def test_a_submission_waiting_on_its_sync_links_to_the_post_the_operator_resends(operator):
    """The admin's submission page showed the sync's attempts and next attempt, but its
    post (its attempt log, "Redeliver now") only as a deliveryId in the events, to be
    searched for by hand in Webhook deliveries."""
    waiting, delivery = approved("https://example.com/erp")
    page = operator.get(f"/admin/submissions/submission/{waiting.pk}/change/")
    assert f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/" in page.content.decode()
    unsynced = SubmissionFactory()  # no sync_url: no post
    page = operator.get(f"/admin/submissions/submission/{unsynced.pk}/change/")
    assert page.status_code == 200
    assert "/admin/webhooks/webhookdelivery/whd_" not in page.content.decode()
