"""Sending one attempt of a delivery and scheduling the next one."""

import json
import random
import time
from datetime import timedelta

import requests
from django.db import transaction
from django.utils import timezone

from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services import session_secret_get_or_create
from webhooks.signing import signed_headers

TIMEOUT_SECONDS = 15
RESPONSE_LOG_LIMIT = 2000
# About three days in all; jitter keeps a recovering receiver from a thundering herd.
RETRY_SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
]


def signing_secrets(delivery: WebhookDelivery) -> list[str]:
    owner = delivery.endpoint or session_secret_get_or_create(company_id=delivery.company_id)
    active = [owner.secret]
    expires = owner.previous_secret_expires_at
    if owner.previous_secret and expires and expires > timezone.now():
        active.append(owner.previous_secret)
    return active


def next_attempt_delay(attempts: int, retry_after: int | None) -> timedelta | None:
    """Delay before attempt number attempts+1, or None when the budget is spent."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempts - 1]
    delay = base + timedelta(seconds=random.uniform(0, base.total_seconds() * 0.1))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, 86_400)))
    return delay


def _retry_after(response: requests.Response | None) -> int | None:
    if response is None:
        return None
    raw = response.headers.get("Retry-After", "")
    return int(raw) if raw.isdigit() else None


def send_attempt(delivery: WebhookDelivery) -> tuple[requests.Response | None, str, int]:
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = signed_headers(
        secrets=signing_secrets(delivery),
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        timestamp=int(time.time()),
        body=body,
    )
    started = time.monotonic()
    try:
        response = requests.post(
            delivery.url,
            data=body,
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        error = ""
    except requests.RequestException as exc:
        response, error = None, f"{type(exc).__name__}: {exc}"[:1000]
    return response, error, int((time.monotonic() - started) * 1000)


def deliver(delivery_id: str) -> None:
    """Make one attempt if the delivery is due; safe to run twice (idempotent)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .select_related("endpoint")
            .first()
        )
        if delivery is None or (
            delivery.next_attempt_at and delivery.next_attempt_at > timezone.now()
        ):
            return
        response, error, latency = send_attempt(delivery)
        _record(delivery, response, error, latency)


def _record(
    delivery: WebhookDelivery, response: requests.Response | None, error: str, latency: int
) -> None:
    status_code = response.status_code if response is not None else None
    WebhookAttempt.objects.create(
        delivery=delivery,
        status_code=status_code,
        latency_ms=latency,
        response_body=(response.text[:RESPONSE_LOG_LIMIT] if response is not None else ""),
        error=error,
    )
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error or (
        "" if status_code and status_code < 300 else f"HTTP {status_code}"
    )
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    else:
        delay = next_attempt_delay(delivery.attempts, _retry_after(response))
        if delay is None:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = timezone.now() + delay
    delivery.save()
