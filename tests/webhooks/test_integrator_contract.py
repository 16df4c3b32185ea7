"""An integrator's receiver written from docs/webhooks.md alone (not Steve's verify.py),
against Steve's real posts: every promise the delivery contract makes to the receiving
side, checked the way that side sees it."""

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest

from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory
from tests.submissions.test_sync import with_sync_target
from tests.webhooks.conftest import Received
from webhooks import targets
from webhooks.catalogue import EVENT_TYPES, SYNC_EVENT, TEST_EVENT
from webhooks.delivery import deliver, send_test
from webhooks.models import WebhookDelivery
from webhooks.services import (
    WebhookError,
    endpoint_create,
    endpoint_rotate_secret,
    session_secret_rotate,
    sync_secret_rotate,
)

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "webhooks.md").read_text()
TOLERANCE = 300  # "receivers must refuse timestamps more than 5 minutes from their clock"

pytestmark = pytest.mark.django_db


def key_of(secret: str) -> bytes:
    """ "the key is the base64-decoded part after `whsec_`"."""
    assert secret.startswith("whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


def steve_signatures(request: Received) -> list[str]:
    """ "several comma-separated `sha256=…` values" during a rotation."""
    return [value.strip() for value in request.headers["x-webhook-signature"].split(",")]


def standard_signatures(request: Received) -> list[str]:
    """ "several space-separated `v1,…` values" during a rotation."""
    return request.headers["webhook-signature"].split(" ")


def signed_by(secret: str, request: Received) -> bool:
    """Both signatures, computed from the docs' formulas on the raw body bytes: Steve's
    `sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">` and Standard Webhooks'
    `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. Each must match, or neither."""
    headers, body = request.headers, request.body
    key = key_of(secret)
    timestamp = headers["x-webhook-timestamp"].encode()
    steve = hmac.new(key, timestamp + b"." + body, hashlib.sha256).hexdigest()
    message = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    standard = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    steve_ok = f"sha256={steve}" in steve_signatures(request)
    standard_ok = f"v1,{standard}" in standard_signatures(request)
    assert steve_ok == standard_ok, "one signature verifies and the other does not"
    return steve_ok


def accepted(secrets: list[str], request: Received, seen: set[str]) -> dict | None:
    """The docs' receiver: fresh, signed by one of the secrets, deduplicated by the body's
    eventId; the parsed body the first time, None for a duplicate."""
    assert abs(time.time() - int(request.headers["x-webhook-timestamp"])) <= TOLERANCE
    assert request.headers["x-webhook-timestamp"] == request.headers["webhook-timestamp"]
    assert any(signed_by(secret, request) for secret in secrets), "no signature matches"
    event = json.loads(request.body)
    if event["eventId"] in seen:
        return None
    seen.add(event["eventId"])
    return event


def documented_envelope() -> set[str]:
    """The fields of the catalogue's envelope table."""
    table = DOC.split("## Event catalogue", 1)[1].split("###", 1)[0]
    return {
        name
        for cell in re.findall(r"^\| (`[^|]+`) \|", table, re.M)
        for name in re.findall(r"`([^`]+)`", cell)
    }


def test_a_receiver_written_from_the_docs_verifies_a_real_event_byte_for_byte(company, receiver):
    """A real approval's webhook, with text outside ASCII in the body (sent as UTF-8, not
    escaped): both signatures verify over the raw bytes with the key the docs describe,
    the ids agree, and the envelope has exactly the documented fields."""
    _, secret = endpoint_create(company=company, url=receiver.url)
    submission = SubmissionFactory(company=company, metadata={"shop": "Żabka — Łódź ✓"})
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    (delivery,) = WebhookDelivery.objects.filter(event_type="submission.approved")
    deliver(delivery.pk)

    (request,) = receiver.requests
    assert "Żabka — Łódź ✓".encode() in request.body  # the raw bytes are what is signed
    event = accepted([secret], request, set())
    assert event is not None
    assert event["eventId"] == request.headers["x-webhook-id"] == request.headers["webhook-id"]
    assert event["eventId"] == delivery.event_id and event["eventId"].startswith("evt_")
    assert event["eventType"] == request.headers["x-webhook-event"] == "submission.approved"
    assert set(event) == documented_envelope()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["occurredAt"])
    assert request.headers["user-agent"] == "steve-webhook/1.0"
    assert request.headers["content-type"] == "application/json"
    # Another secret, or the body changed by one byte, is refused.
    other = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert not signed_by(other, request)
    tampered = Received(
        headers=request.headers, body=request.body.replace(b"approved", b"rejected")
    )
    assert not signed_by(secret, tampered)


def test_during_a_rotation_each_active_secret_signs_and_after_it_only_the_new_one(
    company, receiver
):
    """ "During a secret rotation every active secret signs … one match is enough", and
    "rotating again ends the first one's grace at once"."""
    endpoint, old = endpoint_create(company=company, url=receiver.url)
    new = endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=timedelta(hours=24)).secret
    submission_approve(submission_id=SubmissionFactory(company=company).pk, actor=Actor.system())
    during = receiver.requests
    deliver(WebhookDelivery.objects.get().pk)
    (request,) = during
    assert len(steve_signatures(request)) == len(standard_signatures(request)) == 2
    assert signed_by(old, request) and signed_by(new, request)

    newest = endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=timedelta(0)).secret
    receiver.requests = []
    submission_approve(submission_id=SubmissionFactory(company=company).pk, actor=Actor.system())
    deliver(WebhookDelivery.objects.get(status=WebhookDelivery.Status.PENDING).pk)
    (after,) = receiver.requests
    assert len(steve_signatures(after)) == len(standard_signatures(after)) == 1
    assert signed_by(newest, after)
    assert not signed_by(new, after) and not signed_by(old, after)


def test_a_retry_pending_at_a_rotation_is_signed_with_the_secrets_active_when_it_is_sent(
    company, receiver
):
    """docs: "every attempt is signed when it is sent, with the secrets active then". An
    event from before a rotation with no grace is not signed with the dropped secret."""
    endpoint, old = endpoint_create(company=company, url=receiver.url)
    receiver.script = [500]
    submission_approve(submission_id=SubmissionFactory(company=company).pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get()
    deliver(delivery.pk)
    new = endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=timedelta(0)).secret
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    deliver(delivery.pk)
    first, retry = receiver.requests
    assert signed_by(old, first) and not signed_by(new, first)
    assert signed_by(new, retry) and not signed_by(old, retry)
    assert len(steve_signatures(retry)) == len(standard_signatures(retry)) == 1


def test_an_attempt_claimed_before_a_rotation_and_sent_after_it_is_signed_with_the_new_secret(
    company, receiver, monkeypatch
):
    """docs: "every attempt is signed when it is sent, with the secrets active then". The
    host's lookup (up to 5 s) comes between the claim and the send: a rotation with no
    grace then had the attempt signed with the dropped secret only, the claim's."""
    endpoint, old = endpoint_create(company=company, url=receiver.url)
    submission_approve(submission_id=SubmissionFactory(company=company).pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get()
    resolve = targets._resolve
    rotated: list[str] = []

    def rotated_while_resolving(host: str, port: int) -> list[str]:
        rotated.append(endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=timedelta(0)).secret)
        return resolve(host, port)

    monkeypatch.setattr(targets, "_resolve", rotated_while_resolving)
    deliver(delivery.pk)
    (request,) = receiver.requests
    assert signed_by(rotated[0], request) and not signed_by(old, request)
    assert len(steve_signatures(request)) == len(standard_signatures(request)) == 1


def rotated_during_the_lookup(monkeypatch, rotate) -> list[str]:
    """The secrets `rotate` gives, called while the target's host is being looked up."""
    resolve = targets._resolve
    rotated: list[str] = []

    def rotated_while_resolving(host: str, port: int) -> list[str]:
        rotated.append(rotate())
        return resolve(host, port)

    monkeypatch.setattr(targets, "_resolve", rotated_while_resolving)
    return rotated


def test_a_test_event_to_an_endpoint_is_signed_with_the_secrets_active_when_it_is_sent(
    company, receiver, monkeypatch
):
    """A test event is signed "as real deliveries would be", and every attempt with the
    secrets active when it is sent: it read its endpoint's secrets before the host's
    lookup (up to 5 s), so a rotation with no grace meanwhile had it signed with the
    dropped secret only, and the integrator's check of their new secret failed."""
    endpoint, old = endpoint_create(company=company, url=receiver.url)
    rotated = rotated_during_the_lookup(
        monkeypatch,
        lambda: endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=timedelta(0)).secret,
    )
    outcome = send_test(
        company_id=company.pk,
        environment="production",
        endpoint=endpoint,
        url=endpoint.url,
        event_id="evt_test",
    )
    (request,) = receiver.requests
    assert outcome.status_code == 200 and request.json["eventType"] == TEST_EVENT
    assert signed_by(rotated[0], request) and not signed_by(old, request)
    assert len(steve_signatures(request)) == len(standard_signatures(request)) == 1


def test_a_test_event_to_a_url_is_signed_with_the_session_secrets_active_when_it_is_sent(
    company, receiver, monkeypatch
):
    """A bare URL's test event, signed with the session-webhook secret, read likewise."""
    _, old, _ = session_secret_rotate(
        company_id=company.pk, environment="production", grace=timedelta(0)
    )
    rotated = rotated_during_the_lookup(
        monkeypatch,
        lambda: (
            session_secret_rotate(
                company_id=company.pk, environment="production", grace=timedelta(0)
            ).secret
        ),
    )
    send_test(
        company_id=company.pk,
        environment="production",
        endpoint=None,
        url=receiver.url,
        event_id="evt_test",
    )
    (request,) = receiver.requests
    assert signed_by(rotated[0], request) and not signed_by(old, request)
    assert len(steve_signatures(request)) == len(standard_signatures(request)) == 1


def test_every_attempt_of_a_retried_event_is_fresh_signed_and_deduplicated_to_one(
    company, receiver
):
    """At least once: the same eventId on every attempt, each attempt signed anew (its own
    timestamp within the tolerance), and a receiver deduplicating by it does the work once."""
    _, secret = endpoint_create(company=company, url=receiver.url)
    receiver.script = [500, 503]
    submission_approve(submission_id=SubmissionFactory(company=company).pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get()
    for _ in range(3):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        deliver(delivery.pk)
    seen: set[str] = set()
    done = [accepted([secret], request, seen) for request in receiver.requests]
    assert len(done) == 3 and done[0] is not None and done[1:] == [None, None]
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED


def test_the_attempt_log_keeps_the_first_2000_characters_of_an_answer(company, receiver):
    """docs: "the first 2,000 characters of your answer". Two-byte characters were cut
    at 2,000 bytes: 1,000 characters, the last one possibly half a character."""
    endpoint_create(company=company, url=receiver.url)
    receiver.default = 500
    receiver.body = ("ł" * 2500).encode()
    submission_approve(submission_id=SubmissionFactory(company=company).pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get()
    deliver(delivery.pk)
    (attempt,) = delivery.log.all()
    assert attempt.response_body == "ł" * 2000


def test_a_huge_2xx_answer_is_delivered_without_reading_it_all(company, receiver):
    """A receiver answering 200 with a 50-MB body: delivered, promptly, its first 2,000
    characters logged; Steve stops reading there."""
    endpoint_create(company=company, url=receiver.url)
    receiver.body = b"x" * 50_000_000
    submission_approve(submission_id=SubmissionFactory(company=company).pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get()
    started = time.monotonic()
    outcome = deliver(delivery.pk)
    assert outcome is not None and outcome.ok
    assert time.monotonic() - started < 5
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.log.get().response_body == "x" * 2000


def test_the_sync_post_and_the_synced_event_are_two_messages_with_two_names(receiver):
    """`submission.sync` is the post to a workflow's sync_url ({eventId, eventType,
    submission}); `submission.synced` the webhook (Steve's envelope) saying it got through.
    Not a spelling slip: two shapes, two names, so one receiver taking both can tell them
    apart by eventType. The post is no catalogue event, and an endpoint asking for it is
    refused, pointing at the event it meant."""
    submission = with_sync_target(SubmissionFactory(), receiver.url)
    company = submission.company
    _, sync_secret, _ = sync_secret_rotate(company_id=company.pk, grace=timedelta(0))
    _, endpoint_secret = endpoint_create(company=company, url=receiver.url)
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    for purpose in (WebhookDelivery.Purpose.SYNC, WebhookDelivery.Purpose.WEBHOOK):
        for delivery in WebhookDelivery.objects.filter(purpose=purpose):
            deliver(delivery.pk)
    synced = WebhookDelivery.objects.get(event_type="submission.synced")
    deliver(synced.pk)

    seen: set[str] = set()
    bodies = {
        request.headers["x-webhook-event"]: accepted([endpoint_secret, sync_secret], request, seen)
        for request in receiver.requests
    }
    assert set(bodies) == {"submission.approved", SYNC_EVENT, "submission.synced"}
    assert set(bodies[SYNC_EVENT]) == {"eventId", "eventType", "submission"}
    assert bodies[SYNC_EVENT]["eventId"] == f"sync_{submission.pk}"
    assert set(bodies["submission.synced"]) == documented_envelope()
    assert bodies["submission.synced"]["submissionStatus"] == "synced"

    assert SYNC_EVENT not in EVENT_TYPES and TEST_EVENT not in EVENT_TYPES
    with pytest.raises(WebhookError) as refused:
        endpoint_create(company=company, url=receiver.url, events=[SYNC_EVENT])
    assert refused.value.code == "UNKNOWN_EVENT_TYPE"
    assert "submission.synced" in refused.value.message


def test_the_docs_catalogue_has_a_heading_for_no_type_steve_does_not_send():
    """The catalogue's headings are Steve's types and the test event, no other: the sync
    post is described under Downstream sync, not as a subscribable event."""
    headings = set(re.findall(r"^### `([a-z_.]+)`$", DOC, re.M))
    assert headings == {*EVENT_TYPES, TEST_EVENT}
