"""The webhook API: endpoints, secrets, deliveries, redelivery and the test event."""

import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from steve.timefmt import iso
from tests import factories
from tests.openapi import documented_problem_type
from tests.webhooks.helpers import emit, make_due
from webhooks import delivery as delivery_module
from webhooks import targets as targets_module
from webhooks.api import views as views_module
from webhooks.delivery import MAX_ATTEMPTS, deliver
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_create
from webhooks.verify import verify_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreign_endpoint(other_company, receiver) -> WebhookEndpoint:
    return endpoint_create(company=other_company, url=receiver.url)[0]


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    return body


def test_create_shows_the_secret_once_then_never(api, receiver):
    response = api.post(
        "/api/v1/webhook-endpoints",
        {"url": receiver.url, "events": ["session.completed"], "description": "ERP"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["session.completed"] and created["enabled"] is True
    detail = api.get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    assert "secret" not in detail
    listing = api.get("/api/v1/webhook-endpoints").json()
    assert [e["id"] for e in listing["data"]] == [created["id"]]
    assert "secret" not in listing["data"][0]
    assert listing["pagination"] == {"hasMore": False, "nextCursor": None}


def test_listing_is_paginated_by_cursor(api, company, receiver):
    # Each its own URL: one URL is one endpoint of an environment.
    ids = [endpoint_create(company=company, url=f"{receiver.url}?n={n}")[0].pk for n in range(3)]
    first = api.get("/api/v1/webhook-endpoints?limit=2").json()
    second = api.get(
        f"/api/v1/webhook-endpoints?limit=2&cursor={first['pagination']['nextCursor']}"
    ).json()
    seen = [e["id"] for e in first["data"] + second["data"]]
    assert seen == sorted(ids, reverse=True)
    assert second["pagination"]["hasMore"] is False


D = "INVALID_DESCRIPTION"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "INVALID_URL", "url"),
        ({"url": "https://10.0.0.1/hook"}, "WEBHOOK_TARGET_REFUSED", "url"),
        ({"url": "ftp://example.com/hook"}, "INVALID_URL", "url"),
        ({"url": "not a url"}, "INVALID_URL", "url"),
        ({"url": "https://example.com:99999/hook"}, "INVALID_URL", "url"),
        ({"url": "https://93.184.215.14:0/hook"}, "INVALID_URL", "url"),
        ({"url": "http://93.184.215.14/hook"}, "WEBHOOK_TARGET_REFUSED", "url"),
        ({"url": "https://93.184.215.14/", "events": ["nope"]}, "UNKNOWN_EVENT_TYPE", "events"),
        ({"url": "https://93.184.215.14/", "events": "all"}, "INVALID_EVENTS", "events"),
        ({"url": "https://93.184.215.14/", "description": "x" * 201}, D, "description"),
        ({"url": "https://93.184.215.14/", "description": "ours\u202eexe"}, D, "description"),
        ({"url": "https://93.184.215.14/", "description": "zw\u200bsp"}, D, "description"),
    ],
)
def test_create_refusals(api, settings, body, code, field):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOKS_ALLOW_HTTP = False
    found = problem(api.post("/api/v1/webhook-endpoints", body, format="json"), 422, code)
    assert found["errors"][0]["field"] == field
    assert not WebhookEndpoint.objects.exists()


def test_a_create_with_a_misspelt_field_is_a_422_not_an_endpoint_for_every_event(api):
    # `event` for `events` was dropped, and no events means every event: the endpoint
    # was made and took all of them. An update already refused an unknown field.
    body = {"url": "https://93.184.215.14/", "event": ["submission.approved"]}
    found = problem(
        api.post("/api/v1/webhook-endpoints", body, format="json"), 422, "VALIDATION_ERROR"
    )
    assert found["errors"] == [
        {"field": "event", "message": "Not a field of a webhook endpoint.", "code": "unknown_field"}
    ]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("body", [False, 0, ""])
def test_a_rotation_whose_body_is_no_object_is_a_400_and_the_secret_stays(api, endpoint, body):
    # A falsy body was read as no body: `false` rotated the secret with the default grace.
    secret = endpoint.secret
    path = f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret"
    problem(api.post(path, body, format="json"), 400, "INVALID_BODY")
    endpoint.refresh_from_db()
    assert endpoint.secret == secret and not endpoint.previous_secret


@pytest.mark.parametrize(
    ("url", "message"), [(None, "url is required."), (5, "url must be a string.")]
)
def test_a_missing_url_and_one_that_is_no_string_are_told_apart(api, url, message):
    found = problem(
        api.post("/api/v1/webhook-endpoints", {"url": url}, format="json"), 422, "INVALID_URL"
    )
    assert found["errors"][0]["message"] == message


def test_update_and_delete(api, endpoint):
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    response = api.patch(url, {"events": ["submission.approved"], "enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["enabled"] is False
    assert response.json()["disabledReason"] == "Disabled by the integrator."
    enabled = api.patch(url, {"enabled": True}, format="json").json()
    assert enabled["enabled"] is True and enabled["disabledReason"] is None
    problem(api.patch(url, {"secret": "whsec_x"}, format="json"), 422, "VALIDATION_ERROR")
    assert api.delete(url).status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_rotation_keeps_both_secrets_valid_for_the_grace_period(
    api, company, endpoint_with_secret, receiver
):
    endpoint, old = endpoint_with_secret
    response = api.post(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret",
        {"gracePeriodHours": 2},
        format="json",
    )
    assert response.status_code == 200, response.content
    new = response.json()["secret"]
    assert new != old and response.json()["previousSecretExpiresAt"]
    (delivery,) = emit(company)
    deliver(delivery.pk)
    request = receiver.requests[0]
    for secret in (old, new):
        verify_webhook(secret, request.headers, request.body)
        Webhook(secret).verify(request.body, request.headers)
    problem(
        api.post(
            f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret",
            {"gracePeriodHours": 1000},
            format="json",
        ),
        422,
        "INVALID_GRACE_PERIOD",
    )


@pytest.mark.parametrize("grace", [1.5, 2.0, -1, 169])
def test_a_grace_period_that_is_not_whole_hours_0_to_168_is_refused(
    api, endpoint_with_secret, grace
):
    # The schema says integer 0..168 (tests/steve/test_schema.py); the secret stays put.
    endpoint, _ = endpoint_with_secret
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret"
    body = problem(
        api.post(url, {"gracePeriodHours": grace}, format="json"), 422, "INVALID_GRACE_PERIOD"
    )
    assert body["errors"][0]["field"] == "gracePeriodHours"
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == ""


def test_a_retried_rotation_with_its_idempotency_key_does_not_rotate_again(
    api, endpoint_with_secret
):
    """A retry must not rotate a second time: that would end the original secret's grace
    at once, under a receiver still verifying with it. The replay shows no secret
    (secrets are shown once)."""
    endpoint, original = endpoint_with_secret
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret"
    key = {"HTTP_IDEMPOTENCY_KEY": "rotate-2026-12-06"}
    first = api.post(url, {"gracePeriodHours": 1}, format="json", **key)
    again = api.post(url, {"gracePeriodHours": 1}, format="json", **key)
    assert again["X-Idempotent-Replay"] == "true" and again.json()["secretRedacted"] is True
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (first.json()["secret"], original)
    for kind in ("session-secret", "sync-secret"):
        rotate = f"/api/v1/webhook-endpoints/{kind}/rotate"
        api.post(rotate, {}, format="json", HTTP_IDEMPOTENCY_KEY=f"{kind}-1")
        again = api.post(rotate, {}, format="json", HTTP_IDEMPOTENCY_KEY=f"{kind}-1")
        assert again["X-Idempotent-Replay"] == "true"


@pytest.mark.parametrize("kind", ["session-secret", "sync-secret"])
def test_company_secret_is_created_then_rotated_and_shown_only_then(api, company, kind):
    assert api.get(f"/api/v1/webhook-endpoints/{kind}").json()["exists"] is False
    first = api.post(f"/api/v1/webhook-endpoints/{kind}/rotate").json()
    assert first["secret"].startswith("whsec_") and first["previousSecretExpiresAt"] is None
    second = api.post(f"/api/v1/webhook-endpoints/{kind}/rotate").json()
    assert second["secret"] != first["secret"] and second["previousSecretExpiresAt"]
    status = api.get(f"/api/v1/webhook-endpoints/{kind}").json()
    assert status["exists"] is True and "secret" not in status


def test_sync_and_session_secrets_are_distinct(api, company):
    session = api.post("/api/v1/webhook-endpoints/session-secret/rotate").json()["secret"]
    sync = api.post("/api/v1/webhook-endpoints/sync-secret/rotate").json()["secret"]
    assert session != sync


def test_deliveries_listing_detail_and_redelivery(api, company, endpoint, receiver):
    receiver.default = 500
    (delivery,) = emit(company)
    deliver(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    listing = api.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries?status=failed").json()
    assert [d["id"] for d in listing["data"]] == [delivery.pk]
    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    assert detail["attemptLog"][0]["statusCode"] == 500
    assert detail["attemptLog"][0]["responseBody"] == "answer 500"
    redelivered = api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert redelivered.status_code == 202 and redelivered.json()["status"] == "pending"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    bulk = api.post(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver",
        {"since": "2000-01-01T00:00:00Z"},
        format="json",
    )
    assert bulk.status_code == 202 and bulk.json()["redelivered"] == 1
    # since left out asks for what failed since the endpoint last succeeded (below);
    # null is refused: it could mean that as well as "since ever".
    problem(
        api.post(
            f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver", {"since": None}, format="json"
        ),
        422,
        "VALIDATION_ERROR",
    )
    deliveries = f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries"
    # A filter's unknown or repeated value is a 400, as on the submission list.
    problem(api.get(f"{deliveries}?status=lost"), 400, "INVALID_FILTER")
    problem(api.get(f"{deliveries}?status=failed&status=delivered"), 400, "INVALID_FILTER")
    problem(api.get(f"{deliveries}?status=lost&status="), 400, "INVALID_FILTER")


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_documented_recovery_of_a_disabled_endpoint_gets_back_every_event_it_missed(
    api, company, endpoint, receiver
):
    """docs/webhooks.md: read failingSince/disabledAt before enabling (enabling clears
    both) and redeliver since some minutes before them. Exactly those timestamps miss
    the delivery that began the failing (created with its event, before its failure)."""
    base = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    receiver.script = [500]
    (first,) = emit(company)
    deliver(first.pk)
    assert first.created_at < moment(api.get(base).json()["failingSince"])
    receiver.script = [410]
    (gone,) = emit(company)
    deliver(gone.pk)
    WebhookDelivery.objects.filter(pk=first.pk).update(status="failed")  # its budget ran out
    (while_off,) = emit(company)  # kept failed, never sent
    before_enabling = api.get(base).json()
    assert gone.created_at < moment(before_enabling["disabledAt"])
    enabled = api.patch(base, {"enabled": True}, format="json").json()
    assert enabled["failingSince"] is None and enabled["disabledAt"] is None
    since = (moment(before_enabling["failingSince"]) - timedelta(minutes=5)).isoformat()
    answer = api.post(f"{base}/redeliver", {"since": since}, format="json").json()
    assert answer["redelivered"] == 3
    receiver.default = 204
    for delivery in (first, gone, while_off):
        deliver(delivery.pk)
    assert {first.event_id, gone.event_id, while_off.event_id} <= set(receiver.processed_ids)


def _offset(hours: int, minutes: int = 0) -> dt_timezone:
    sign = -1 if hours < 0 else 1
    return dt_timezone(sign * timedelta(hours=abs(hours), minutes=minutes))


@pytest.mark.parametrize(
    "zone", [_offset(5, 30), _offset(23, 59), _offset(-23, 59), _offset(-9)], ids=str
)
def test_redeliver_since_is_the_instant_whatever_offset_writes_it(api, company, endpoint, zone):
    """`since` is "created at or after": the delivery's own time, written in any offset
    Python reads (under a day; PostgreSQL takes at most 15:59 and answered 500), is
    included; a microsecond later, in that offset, it is not."""
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver"
    at = delivery.created_at.astimezone(zone)
    later = api.post(url, {"since": (at + timedelta(microseconds=1)).isoformat()}, format="json")
    assert later.status_code == 202, later.content
    assert later.json()["redelivered"] == 0
    exactly = api.post(url, {"since": at.isoformat()}, format="json")
    assert exactly.status_code == 202, exactly.content
    assert exactly.json()["redelivered"] == 1


@pytest.mark.parametrize(
    ("since", "redelivered"),
    [("0001-01-01T00:00:00+01:00", 1), ("9999-12-31T23:59:59-01:00", 0)],
)
def test_redeliver_since_at_the_ends_of_the_calendar_is_read_not_a_500(
    api, company, endpoint, since, redelivered
):
    """Year 1 at +01:00 is before the first UTC day (every failed one); 9999-12-31 at
    -01:00 after the last (none): neither can be converted to UTC, both can be compared."""
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver"
    answer = api.post(url, {"since": since}, format="json")
    assert answer.status_code == 202, answer.content
    assert answer.json()["redelivered"] == redelivered


def test_redeliver_since_takes_rfc_3339s_lower_case_t_and_z(api, company, endpoint):
    """RFC 3339 (5.6) allows "t" and "z"; a naive time or a bare date stays refused."""
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver"
    answer = api.post(url, {"since": "2000-01-01t00:00:00z"}, format="json")
    assert answer.status_code == 202, answer.content
    assert answer.json()["redelivered"] == 1
    for naive in ("2000-01-01T00:00:00", "2000-01-01", "2000-01-01T00:00:00 UTC"):
        problem(api.post(url, {"since": naive}, format="json"), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "padded",
    [
        "2000-01-01T00:00:00Z\n",
        " 2000-01-01T00:00:00Z",
        "2000-01-01T00:00:00+00:00\n",
        "\t2000-01-01T00:00:00Z",
    ],
)
def test_redeliver_since_with_white_space_around_it_is_refused_at_either_end(
    api, company, endpoint, padded
):
    """A trailing newline was read (the parser's `$` matches before one) while a leading
    space was refused: both are refused, as RFC 3339 has no white space."""
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver"
    response = api.post(url, {"since": padded}, format="json")
    problem(response, 422, "VALIDATION_ERROR")
    assert response.json()["errors"][0]["field"] == "since"
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"


def _last_attempt_fails(delivery: WebhookDelivery) -> None:
    """The delivery's next attempt is the last of its budget (three days of retries)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    make_due(delivery)
    deliver(delivery.pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"


def test_enable_then_redeliver_without_a_time_gets_back_what_failed_since_the_last_success(
    api, company, endpoint, receiver
):
    """The recovery needs no timestamp: read nothing before enabling, pass no `since`.
    Before, `{}` was refused, and any `since` compared with the events' times, which
    missed an event older than the endpoint's last success whose retries failed in the
    outage; a time early enough for it sent again failures the integrator had dealt with."""
    base = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    receiver.script = [500]
    (dealt_with,) = emit(company)
    _last_attempt_fails(dealt_with)  # failed while the receiver then worked again
    receiver.script = [500]
    (straggler,) = emit(company)
    deliver(straggler.pk)  # retrying, hours apart
    (worked,) = emit(company)
    deliver(worked.pk)  # the endpoint's last success
    receiver.script = [500]
    _last_attempt_fails(straggler)  # its retries ran into the outage
    receiver.script = [500, 410]
    (first,) = emit(company)
    deliver(first.pk)
    (gone,) = emit(company)
    deliver(gone.pk)  # the endpoint is disabled
    make_due(first)
    deliver(first.pk)  # failed unsent: its endpoint is disabled
    (while_off,) = emit(company)  # kept failed, never sent
    enabled = api.patch(base, {"enabled": True}, format="json").json()
    assert enabled["lastSucceededAt"] == iso(worked.log.get().attempted_at)
    answer = api.post(f"{base}/redeliver")
    assert answer.status_code == 202, answer.content
    assert answer.json()["redelivered"] == 4
    missed = {straggler.pk, first.pk, gone.pk, while_off.pk}
    pending = WebhookDelivery.objects.filter(status="pending")
    assert set(pending.values_list("pk", flat=True)) == missed
    receiver.default = 204
    for delivery_id in missed:
        deliver(delivery_id)
    assert WebhookDelivery.objects.get(pk=dealt_with.pk).status == "failed"  # not sent again
    assert {d.event_id for d in (straggler, first, gone, while_off)} <= set(receiver.processed_ids)


def test_an_endpoint_that_never_succeeded_gets_every_failed_delivery_back(
    api, company, endpoint, receiver
):
    receiver.script = [500]
    (failed,) = emit(company)
    _last_attempt_fails(failed)
    api.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": False}, format="json")
    (while_off,) = emit(company)
    detail = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": True}, format="json"
    ).json()
    assert detail["lastSucceededAt"] is None
    answer = api.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver", {}, format="json")
    assert answer.json()["redelivered"] == 2


def test_a_delivery_shows_when_it_failed(api, company, endpoint, receiver):
    receiver.script = [410]
    (delivery,) = emit(company)
    deliver(delivery.pk)
    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    assert detail["status"] == "failed"
    assert moment(detail["failedAt"]) >= moment(detail["lastAttemptAt"])
    api.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": True}, format="json")
    api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert api.get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()["failedAt"] is None


def test_redelivery_to_a_disabled_endpoint_is_a_conflict(api, company, endpoint):
    (delivery,) = emit(company)
    api.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": False}, format="json")
    problem(
        api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"),
        409,
        "WEBHOOK_ENDPOINT_DISABLED",
    )


def test_another_companys_endpoint_and_delivery_are_404(api, other_company, foreign_endpoint):
    (delivery,) = emit(other_company)
    base = f"/api/v1/webhook-endpoints/{foreign_endpoint.pk}"
    for response in (
        api.get(base),
        api.patch(base, {"enabled": False}, format="json"),
        api.delete(base),
        api.post(f"{base}/rotate-secret"),
        api.get(f"{base}/deliveries"),
        api.post(f"{base}/redeliver", {"since": "2000-01-01T00:00:00Z"}, format="json"),
        api.post("/api/v1/webhooks/test", {"endpointId": foreign_endpoint.pk}, format="json"),
    ):
        problem(response, 404, "WEBHOOK_ENDPOINT_NOT_FOUND")
    for response in (
        api.get(f"/api/v1/webhook-deliveries/{delivery.pk}"),
        api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"),
    ):
        problem(response, 404, "WEBHOOK_DELIVERY_NOT_FOUND")
    foreign_endpoint.refresh_from_db()
    assert foreign_endpoint.enabled


def test_test_event_to_an_endpoint_reports_the_outcome(api, endpoint_with_secret, receiver):
    endpoint, secret = endpoint_with_secret
    response = api.post("/api/v1/webhooks/test", {"endpointId": endpoint.pk}, format="json")
    assert response.status_code == 200, response.content
    outcome = response.json()
    assert outcome["delivered"] is True and outcome["statusCode"] == 200
    request = receiver.requests[0]
    assert request.headers["x-webhook-event"] == "webhook.test"
    assert verify_webhook(secret, request.headers, request.body)["eventId"] == outcome["eventId"]
    assert not WebhookDelivery.objects.exists()  # a test is not an event of the outbox


def test_a_test_event_retried_with_its_key_is_not_sent_again(api, receiver):
    # docs/webhooks.md: a retry after a lost answer replays the first send's outcome.
    sent = api.post(
        "/api/v1/webhooks/test", {"url": receiver.url}, format="json", HTTP_IDEMPOTENCY_KEY="t-1"
    )
    assert sent.status_code == 200 and len(receiver.requests) == 1
    retried = api.post(
        "/api/v1/webhooks/test", {"url": receiver.url}, format="json", HTTP_IDEMPOTENCY_KEY="t-1"
    )
    assert (retried.status_code, retried["X-Idempotent-Replay"]) == (200, "true")
    assert retried.json() == sent.json() and len(receiver.requests) == 1
    # Without a key each call is a new test, sent again.
    assert (
        api.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json").status_code == 200
    )
    assert len(receiver.requests) == 2


def test_test_event_to_a_url_reports_failure_and_timeout(api, receiver):
    receiver.default = 500
    failed = api.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json").json()
    assert failed["delivered"] is False and failed["statusCode"] == 500
    closed = api.post(
        "/api/v1/webhooks/test", {"url": "http://127.0.0.1:9/nothing"}, format="json"
    ).json()
    assert closed["delivered"] is False and "ConnectionError" in closed["error"]


def test_a_company_sends_one_test_event_at_a_time(api, company, receiver):
    from django.core.cache import cache

    key = f"webhook-test:{company.pk}:production"
    cache.add(key, 1, timeout=30)  # another request of the company is sending one
    try:
        busy = api.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json")
        problem(busy, 409, "WEBHOOK_TEST_IN_PROGRESS")
        assert busy["Retry-After"] == "5" and receiver.requests == []
        # Its finer `type` is the one the schema documents (it showed the generic conflict).
        assert busy.json()["type"] == documented_problem_type(
            "post", "/api/v1/webhooks/test", 409, "WEBHOOK_TEST_IN_PROGRESS"
        )
    finally:
        cache.delete(key)
    sent = api.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json")
    assert sent.status_code == 200 and len(receiver.requests) == 1
    # The lock went with the request: the next test goes too.
    assert (
        api.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json").status_code == 200
    )


def test_a_sandbox_test_event_being_sent_holds_back_no_production_test(
    api, company, receiver, monkeypatch
):
    """Environments are a tenancy boundary as strict as companies' (docs/environments.md):
    a sandbox key testing a slow receiver must not refuse production's tests meanwhile."""
    sandbox = APIClient()
    sandbox.credentials(
        HTTP_AUTHORIZATION=f"Bearer {factories.api_key(company, 'ci', 'sandbox').secret}"
    )
    send_test = views_module.send_test
    during: list = []

    def sandbox_test_in_flight(**kwargs):
        if kwargs["environment"] == "sandbox":  # production tests while the sandbox's is sent
            during.append(api.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json"))
        return send_test(**kwargs)

    monkeypatch.setattr(views_module, "send_test", sandbox_test_in_flight)
    sent = sandbox.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json")
    assert sent.status_code == 200, sent.content
    assert during[0].status_code == 200, during[0].content
    assert len(receiver.requests) == 2


@pytest.fixture
def silent_connect() -> Iterator[int]:
    """A port whose listen queue is full: the kernel drops further SYNs, so a connect
    waits for its timeout, as to a firewall that drops packets."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        time.sleep(0.2)
        yield port
        for filler in fillers:
            filler.close()


def test_a_test_event_ends_at_its_timeout_after_a_slow_lookup_and_a_silent_connect(
    api, company, silent_connect, monkeypatch
):
    """The connect had a timeout of its own after the lookup's: the caller of a test
    waited up to twice the documented 5 s, told "no complete answer within 5 s"."""
    real = socket.getaddrinfo
    lookup_takes = {"seconds": 0.0}

    def lookup(host, port, *args, **kwargs):
        if host != "receiver.example":
            return real(host, port, *args, **kwargs)
        time.sleep(lookup_takes["seconds"])  # a slow resolver, then the answer
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    url = f"http://receiver.example:{silent_connect}/hook"
    endpoint, _ = endpoint_create(company=company, url=url)
    monkeypatch.setattr(delivery_module, "TEST_TIMEOUT_SECONDS", 2)
    lookup_takes["seconds"] = 1.5

    response = api.post("/api/v1/webhooks/test", {"endpointId": endpoint.pk}, format="json")
    assert response.status_code == 200
    outcome = response.json()
    assert outcome["delivered"] is False and outcome["error"].startswith("Timeout")
    # Timed from before the lookup to the outcome: 1.5 s + 2 s before.
    assert outcome["latencyMs"] < 2500


def test_test_event_refusals(api, settings):
    neither = problem(api.post("/api/v1/webhooks/test", {}, format="json"), 422, "VALIDATION_ERROR")
    assert [(e["field"], e["code"]) for e in neither["errors"]] == [("endpointId", "required")]
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    problem(
        api.post("/api/v1/webhooks/test", {"url": "https://127.0.0.1/"}, format="json"),
        422,
        "WEBHOOK_TARGET_REFUSED",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Of another type, the member was read by its truth: a number, a list or an
        # object that is "true" was looked up as an endpoint id ("No webhook endpoint
        # '{'a': 1}'", 404), and one that is "false" was taken as left out.
        ({"endpointId": 5}, ("VALIDATION_ERROR", [("endpointId", "invalid")])),
        ({"endpointId": True}, ("VALIDATION_ERROR", [("endpointId", "invalid")])),
        ({"endpointId": {"id": "we_1"}}, ("VALIDATION_ERROR", [("endpointId", "invalid")])),
        ({"endpointId": 0}, ("VALIDATION_ERROR", [("endpointId", "invalid")])),
        ({"endpointId": []}, ("VALIDATION_ERROR", [("endpointId", "invalid")])),
        ({"url": 0}, ("INVALID_URL", [("url", "invalid_url")])),
        ({"url": {}}, ("INVALID_URL", [("url", "invalid_url")])),
        (
            {"endpointId": 0, "url": "{receiver}"},
            ("VALIDATION_ERROR", [("endpointId", "invalid")]),
        ),
        (
            {"endpointId": [], "url": False},
            ("VALIDATION_ERROR", [("endpointId", "invalid"), ("url", "invalid_url")]),
        ),
    ],
)
def test_a_test_events_member_of_another_type_is_refused_as_such_and_nothing_is_sent(
    api, receiver, body, expected
):
    body = {name: receiver.url if value == "{receiver}" else value for name, value in body.items()}
    response = api.post("/api/v1/webhooks/test", body, format="json")
    code, errors = expected
    refused = problem(response, 422, code)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == errors
    assert not receiver.requests


def test_a_test_event_given_both_an_endpoint_and_a_url_says_they_exclude_each_other(
    api, endpoint, receiver
):
    # Both members were sent, so neither is missing: the refusal said `required`.
    body = {"endpointId": endpoint.pk, "url": receiver.url}
    refused = problem(
        api.post("/api/v1/webhooks/test", body, format="json"), 422, "VALIDATION_ERROR"
    )
    message = "Give endpointId or url, not both."
    assert refused["errors"] == [
        {"field": "endpointId", "message": message, "code": "conflict"},
        {"field": "url", "message": message, "code": "conflict"},
    ]
    assert not receiver.requests


@pytest.mark.parametrize(
    ("sent", "stored"),
    [(" ", ""), ("\u3000ERP\t", "ERP"), ("\u00a0 Billing  sync ", "Billing  sync")],
)
def test_a_description_is_stored_without_surrounding_spaces_as_other_text_is(
    api, endpoint, sent, stored
):
    # Reasons, corrections and the admin's form store text trimmed; the API kept " ".
    created = api.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://93.184.215.14/trimmed", "description": sent},
        format="json",
    )
    assert created.status_code == 201 and created.json()["description"] == stored
    path = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    assert api.patch(path, {"description": sent}, format="json").json()["description"] == stored
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).description == stored


def test_a_line_break_around_a_description_is_refused_not_trimmed(api, endpoint):
    path = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    problem(api.patch(path, {"description": "ERP\n"}, format="json"), 422, "INVALID_DESCRIPTION")


def test_a_url_with_port_zero_is_an_invalid_url_on_update_and_test_event(api, endpoint):
    url = "https://93.184.215.14:0/hook"
    path = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    problem(api.patch(path, {"url": url}, format="json"), 422, "INVALID_URL")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == endpoint.url
    problem(api.post("/api/v1/webhooks/test", {"url": url}, format="json"), 422, "INVALID_URL")


def test_an_api_key_is_required(anon_api: APIClient):
    problem(anon_api.get("/api/v1/webhook-endpoints"), 401, "UNAUTHORIZED")


def test_a_company_endpoint_created_over_the_api_receives_events(api, company, receiver):
    created = api.post("/api/v1/webhook-endpoints", {"url": receiver.url}, format="json").json()
    (delivery,) = emit(company, "session.expired")
    deliver(delivery.pk)
    request = receiver.requests[0]
    assert verify_webhook(created["secret"], request.headers, request.body)


def test_an_endpoint_takes_the_environment_of_the_key_that_creates_it(api, company, receiver):
    from rest_framework.test import APIClient

    from steve.services import api_key_create

    assert (
        api.post("/api/v1/webhook-endpoints", {"url": receiver.url}, format="json").json()[
            "environment"
        ]
        == "production"
    )
    sandbox = APIClient()
    key = api_key_create(company=company, name="sandbox", environment="sandbox")
    sandbox.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    created = sandbox.post("/api/v1/webhook-endpoints", {"url": receiver.url}, format="json")
    assert created.json()["environment"] == "sandbox"
    assert WebhookEndpoint.objects.get(pk=created.json()["id"]).environment == "sandbox"


def test_create_honours_an_idempotency_key(api, receiver):
    body = {"url": receiver.url}
    first = api.post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201 and again["X-Idempotent-Replay"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert WebhookEndpoint.objects.count() == 1
    # Where the endpoint is (RFC 9110 10.2.2), on the first answer and on its replay.
    location = f"/api/v1/webhook-endpoints/{first.json()['id']}"
    assert first["Location"] == again["Location"] == location
    assert api.get(location).status_code == 200


ODD_BODIES = [
    [],
    "text",
    5,
    None,
    {"url": 5},
    {"url": "https://[::1"},
    {"events": [1]},
    {"events": None},
    {"description": ["x"]},
    {"enabled": "yes"},
    {"since": 5},
    {"since": "yesterday"},
    {"gracePeriodHours": "24"},
    {"gracePeriodHours": True},
    {"endpointId": 5},
    {"endpointId": "we_missing", "url": "https://93.184.215.14/"},
]


@pytest.mark.parametrize("body", ODD_BODIES)
def test_odd_bodies_get_problems_never_500(api, company, endpoint, body):
    (delivery,) = emit(company)
    writes = [
        ("post", "/api/v1/webhook-endpoints"),
        ("patch", f"/api/v1/webhook-endpoints/{endpoint.pk}"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver"),
        ("post", f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver"),
        ("post", "/api/v1/webhook-endpoints/session-secret/rotate"),
        ("post", "/api/v1/webhook-endpoints/sync-secret/rotate"),
        ("post", "/api/v1/webhooks/test"),
    ]
    for method, path in writes:
        response = getattr(api, method)(path, body, format="json")
        assert response.status_code < 500, (method, path, response.content)
        if response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/webhook-endpoints/sync-secret"),
        ("post", "/api/v1/webhook-endpoints/sync-secret/rotate"),
    ],
)
def test_a_sandbox_key_neither_reads_nor_rotates_the_sync_secret(company, method, path):
    from rest_framework.test import APIClient

    from steve.services import api_key_create
    from webhooks.models import SyncSigningSecret

    sandbox = APIClient()
    key = api_key_create(company=company, name="sandbox", environment="sandbox")
    sandbox.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    # The rotation's body only: a GET sends its data as a query, which it does not take.
    body = {"gracePeriodHours": 0} if method == "post" else None
    response = getattr(sandbox, method)(path, body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "PRODUCTION_KEY_REQUIRED"
    assert response.json()["type"] == documented_problem_type(
        method, path, 403, "PRODUCTION_KEY_REQUIRED"
    )
    assert not SyncSigningSecret.objects.exists()


def test_an_endpoint_can_subscribe_to_the_undo_the_schema_names(api, receiver):
    events = ["submission.fraud_match_resolved", "submission.fraud_resolution_undone"]
    response = api.post(
        "/api/v1/webhook-endpoints", {"url": receiver.url, "events": events}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["events"] == events
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    endpoint = schema["components"]["schemas"]["WebhookEndpoint"]["properties"]["events"]
    assert "submission.fraud_resolution_undone" in endpoint["items"]["enum"]


def test_an_endpoint_deleted_while_a_patch_is_read_is_a_404_not_a_500(api, endpoint, monkeypatch):
    found = views_module.own_endpoint

    def deleted_meanwhile(request, endpoint_id):
        # Read by this request, then deleted by another before the change locks it.
        row = found(request, endpoint_id)
        WebhookEndpoint.objects.filter(pk=row.pk).delete()
        return row

    monkeypatch.setattr(views_module, "own_endpoint", deleted_meanwhile)
    base = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    problem(api.patch(base, {"enabled": False}, format="json"), 404, "WEBHOOK_ENDPOINT_NOT_FOUND")


def test_redelivering_an_outage_of_thousands_writes_them_in_one_statement_without_a_case_a_row(
    api, company, endpoint
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    (first,) = emit(company)
    columns = {f.attname: getattr(first, f.attname) for f in WebhookDelivery._meta.concrete_fields}
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(**{**columns, "id": f"whd_many{i:04d}", "event_id": f"evt_many{i}"})
        for i in range(599)
    )
    WebhookDelivery.objects.update(status="failed", attempts=3, next_attempt_at=None)
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver"
    # Written as a CASE of every delivery per column (bulk_update): compiling and running
    # it grew with the square of the rows, 10.5 s for 2,901 and 103 s for 9,901.
    with CaptureQueriesContext(connection) as done:
        response = api.post(url, {"since": iso(timezone.now() - timedelta(days=1))}, format="json")
    assert response.status_code == 202 and response.json()["redelivered"] == 600
    writes = [q["sql"] for q in done if q["sql"].startswith('UPDATE "webhooks_webhookdelivery"')]
    a_case_a_row = any("CASE" in sql for sql in writes)
    assert len(writes) == 1 and not a_case_a_row, [sql[:200] for sql in writes]
    rows = WebhookDelivery.objects.values_list(
        "status", "attempts_before_redelivery", "delivered_at", "failed_at"
    )
    assert set(rows) == {("pending", 3, None, None)}
    assert not WebhookDelivery.objects.filter(next_attempt_at=None).exists()
    # Beyond REDELIVERY_PUBLISH_LIMIT, unleased: beat's next pass queues them.
    assert not WebhookDelivery.objects.filter(queued_until__isnull=False).exists()


def test_an_endpoint_url_the_environment_already_has_is_a_409_on_create_and_update(
    api, company, endpoint, receiver, other_receiver
):
    # Both endpoints received every event, each signed with its own secret: the receiver
    # got everything twice, under two ids it could not tell were the same event.
    body = problem(
        api.post("/api/v1/webhook-endpoints", {"url": endpoint.url}, format="json"),
        409,
        "WEBHOOK_ENDPOINT_URL_TAKEN",
    )
    assert endpoint.pk in body["detail"]
    assert body["errors"] == [
        {"field": "url", "message": body["detail"], "code": "webhook_endpoint_url_taken"}
    ]
    assert WebhookEndpoint.objects.count() == 1
    other = endpoint_create(company=company, url=other_receiver.url)[0]
    moved = api.patch(f"/api/v1/webhook-endpoints/{other.pk}", {"url": endpoint.url}, format="json")
    problem(moved, 409, "WEBHOOK_ENDPOINT_URL_TAKEN")
    other.refresh_from_db()
    assert other.url == other_receiver.url
    # Its own URL again, with other changes, is no conflict.
    same = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}",
        {"url": endpoint.url, "description": "ERP"},
        format="json",
    )
    assert same.status_code == 200, same.content


@pytest.fixture
def public_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every host resolves to a public address: the URLs below name hosts by name."""
    monkeypatch.setattr(targets_module, "_resolve", lambda host, port: ["93.184.215.14"])


@pytest.mark.parametrize(
    ("taken", "variant"),
    [
        ("https://hooks.example.com/x", "https://Hooks.Example.COM/x"),
        ("https://hooks.example.com/x", "HTTPS://hooks.example.com/x"),
        ("https://hooks.example.com/x", "https://hooks.example.com:443/x"),
        ("http://hooks.example.com/x", "http://hooks.example.com:80/x"),
        ("https://hooks.example.com", "https://hooks.example.com/"),
        ("https://hooks.example.com/", "https://hooks.example.com:443"),
        ("https://hooks.example.com?a=1", "https://hooks.example.com/?a=1"),
        ("https://hooks.example.com:8443/x", "https://HOOKS.example.com:8443/x"),
        # The root's trailing dot: the same DNS name, so the same receiver.
        ("https://hooks.example.com/x", "https://hooks.example.com./x"),
        ("https://hooks.example.com./x", "https://Hooks.Example.com:443/x"),
        ("https://hooks.example.com:8443/x", "https://hooks.example.com.:8443/x"),
    ],
)
def test_a_url_naming_the_same_target_differently_is_taken_on_create_and_update(
    api, company, public_hosts, taken, variant
):
    # Host case, a default port written out and an empty path all reach the same
    # receiver: both endpoints received every event, as with the URL written alike.
    existing = endpoint_create(company=company, url=taken)[0]
    body = problem(
        api.post("/api/v1/webhook-endpoints", {"url": variant}, format="json"),
        409,
        "WEBHOOK_ENDPOINT_URL_TAKEN",
    )
    assert existing.pk in body["detail"]
    other = endpoint_create(company=company, url="https://hooks.example.com/other")[0]
    moved = api.patch(f"/api/v1/webhook-endpoints/{other.pk}", {"url": variant}, format="json")
    problem(moved, 409, "WEBHOOK_ENDPOINT_URL_TAKEN")
    # The endpoint's own URL written another way is no conflict.
    own = api.patch(f"/api/v1/webhook-endpoints/{existing.pk}", {"url": variant}, format="json")
    assert own.status_code == 200, own.content


@pytest.mark.parametrize("host", [".", "..", "hooks.example.com..", ".hooks.example.com"])
def test_a_host_that_is_only_dots_or_has_an_empty_label_is_refused_not_a_500(
    api, company, public_hosts, host
):
    # A DNS name has no empty label but the root's, written as one trailing dot: these
    # name no receiver ("hooks.example.com.." was checked as "hooks.example.com").
    response = api.post("/api/v1/webhook-endpoints", {"url": f"https://{host}/x"}, format="json")
    body = problem(response, 422, "WEBHOOK_TARGET_REFUSED")
    assert body["errors"][0]["field"] == "url"
    assert "no host" in body["detail"] or "empty label" in body["detail"], body["detail"]
    assert not WebhookEndpoint.objects.exists()


def test_a_url_differing_in_path_case_or_query_is_another_target(api, company, public_hosts):
    # Paths and queries are the receiver's to interpret (case-sensitive): not the same.
    endpoint_create(company=company, url="https://hooks.example.com/Hook")
    for url in ("https://hooks.example.com/hook", "https://hooks.example.com/Hook?v=2"):
        created = api.post("/api/v1/webhook-endpoints", {"url": url}, format="json")
        assert created.status_code == 201, created.content
    assert WebhookEndpoint.objects.count() == 3


def test_the_same_url_may_serve_another_company_or_environment(company, other_company, receiver):
    endpoint_create(company=company, url=receiver.url)
    endpoint_create(company=company, url=receiver.url, environment="sandbox")
    endpoint_create(company=other_company, url=receiver.url)
    assert WebhookEndpoint.objects.filter(url=receiver.url).count() == 3


def test_a_rotation_that_replaces_a_secret_rotated_in_moments_before_says_so(
    api, endpoint_with_secret
):
    # Two operators rotated at once: both answers read as a plain success, and the first
    # was shown a secret that now signed only until the second rotation's grace ended.
    endpoint, _original = endpoint_with_secret
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret"
    first = api.post(url, {"gracePeriodHours": 24}, format="json").json()
    assert first["supersededRotation"] is None
    second = api.post(url, {"gracePeriodHours": 2}, format="json").json()
    rotated_at = endpoint.notices.order_by("created_at", "pk").first().created_at
    superseded = second["supersededRotation"]
    assert superseded["rotatedAt"] == iso(rotated_at)
    assert superseded["message"] == (
        f"This rotation replaced the secret a rotation at {iso(rotated_at)} gave, whose grace "
        f"was still running: that secret now signs only until {second['previousSecretExpiresAt']}, "
        "and the one before it no longer signs. Whoever was given it must switch to this one."
    )
    # The endpoint's notices tell the first operator (or anyone) too.
    newest = endpoint.notices.order_by("-created_at", "-pk").first()
    assert newest.message == "The secret was rotated. " + superseded["message"]
    third = api.post(url, {"gracePeriodHours": 0}, format="json").json()
    assert "that secret no longer signs" in third["supersededRotation"]["message"]


def test_an_endpoints_delivery_page_reads_its_own_rows_not_every_delivery_after_them(
    api, company, endpoint, analyse
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from steve.ids import new_id
    from tests.webhooks.test_beat_selection import rows_read

    # Listed newest first by id, with no index on the endpoint's deliveries in id order:
    # a page of a quiet endpoint read back through every other endpoint's deliveries
    # since (or sorted all of its own), on a table that keeps a row per event and endpoint.
    # One delivery in 20 is the endpoint's: both of those plans read 20 times the page.
    busy = WebhookEndpoint.objects.create(
        company=company, url="https://busy.example.com/hook", secret="whsec_busy"
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            id=new_id("whd"),
            company=company,
            endpoint=endpoint if n % 20 == 0 else busy,
            url=endpoint.url if n % 20 == 0 else busy.url,
            event_id=f"evt_{n}",
            event_type="submission.approved",
            payload={},
        )
        for n in range(20000)
    )
    analyse("webhooks_webhookdelivery")
    limit = 10
    with CaptureQueriesContext(connection) as done:
        page = api.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries?limit={limit}")
    assert page.status_code == 200 and len(page.json()["data"]) == limit
    [listing] = [q["sql"] for q in done if "ORDER BY" in q["sql"] and "webhookdelivery" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # as at a year of deliveries
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {listing}")
        [root] = cursor.fetchone()[0]
    assert rows_read(root["Plan"]) <= 3 * limit, json.dumps(root)


@pytest.mark.parametrize("owner", ["session-secret", "sync-secret"])
def test_a_company_secret_rotation_that_replaces_one_rotated_in_moments_before_says_so(api, owner):
    # docs/webhooks.md, "Rotating a secret": the second of two rotations at once says in
    # its answer (supersededRotation) that the first one's secret now signs only for its
    # grace. The session-webhook and sync secrets answered nothing of it, so whoever
    # deployed the first rotation's secret learnt of it from failing verifications.
    url = f"/api/v1/webhook-endpoints/{owner}/rotate"
    created = api.post(url, format="json").json()
    assert created["supersededRotation"] is None  # the first call makes the secret
    first = api.post(url, {"gracePeriodHours": 24}, format="json").json()
    assert first["supersededRotation"] is None  # it replaced a secret no rotation gave
    second = api.post(url, {"gracePeriodHours": 2}, format="json").json()
    superseded = second["supersededRotation"]
    assert superseded is not None
    rotated_at = datetime.fromisoformat(superseded["rotatedAt"])
    assert timezone.now() - timedelta(minutes=1) < rotated_at <= timezone.now()
    assert superseded["message"] == (
        f"This rotation replaced the secret a rotation at {superseded['rotatedAt']} gave, "
        "whose grace was still running: that secret now signs only until "
        f"{second['previousSecretExpiresAt']}, and the one before it no longer signs. "
        "Whoever was given it must switch to this one."
    )
    third = api.post(url, {"gracePeriodHours": 0}, format="json").json()
    assert "that secret no longer signs" in third["supersededRotation"]["message"]
    # With no grace left running, the next rotation replaced nothing in its grace.
    assert api.post(url, format="json").json()["supersededRotation"] is None
