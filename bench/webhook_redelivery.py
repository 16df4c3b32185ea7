"""Redelivery benchmark: how long the request that redelivers thousands of failed
deliveries takes, and how many broker messages it publishes before it answers.

Usage: .venv/bin/python bench/webhook_redelivery.py [--deliveries 10000] [--runs 3]

Two requests, each a table row, timed from the request to its answer (the commit and
its on-commit publishing included), through Django's test client against a real
PostgreSQL and the Redis broker (no worker: the messages stay on the queue, counted,
then purged):
- api: `POST /api/v1/webhook-endpoints/{id}/redeliver` (no `since`), an outage's
  failed deliveries;
- admin: the deliveries' **Redeliver now** on all of them (select across).
Then, for the last request, beat's sweep (dispatch_due_webhooks) run pass after pass
until every delivery is queued: what it publishes per pass and how long a pass takes
(beat starts one every 5 s).
Uses its own database (steve_bench_redelivery, created and migrated if missing) and
Redis db 6 unless DATABASE_URL / REDIS_URL say otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@localhost:5432/steve_bench_redelivery")
os.environ.setdefault("REDIS_URL", "redis://localhost:6379/6")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "1"  # the endpoint is on loopback

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from steve.celery import app  # noqa: E402
from steve.ids import new_id  # noqa: E402
from steve.models import Company  # noqa: E402
from steve.services import api_key_create  # noqa: E402
from webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: E402
from webhooks.services import endpoint_create  # noqa: E402
from webhooks.tasks import dispatch_due_webhooks  # noqa: E402

QUEUE = "deliveries"


def ensure_database() -> None:
    db = settings.DATABASES["default"]
    admin_dsn = f"host={db['HOST'] or 'localhost'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    call_command("migrate", verbosity=0)


def outage(count: int) -> tuple[Company, WebhookEndpoint]:
    """A company whose endpoint has `count` failed deliveries (a receiver down for long)."""
    company = Company.objects.create(name="bench redelivery", slug=new_id("bench"))
    endpoint, _ = endpoint_create(company=company, url="http://127.0.0.1:9/hook")
    WebhookDelivery.objects.bulk_create(
        (
            WebhookDelivery(
                company=company,
                endpoint=endpoint,
                url=endpoint.url,
                event_id=new_id("evt"),
                event_type="session.completed",
                payload={"eventType": "session.completed", "n": n, "pad": "x" * 600},
                status=WebhookDelivery.Status.FAILED,
                attempts=10,
                last_error="HTTP 503",
            )
            for n in range(count)
        ),
        batch_size=2000,
    )
    return company, endpoint


def fail_again(endpoint: WebhookEndpoint) -> None:
    WebhookDelivery.objects.filter(endpoint=endpoint).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, queued_until=None
    )
    app.control.purge()


def queued_messages() -> int:
    with app.connection_for_write() as connection:
        return connection.default_channel.client.llen(QUEUE)


def timed(request) -> tuple[float, int]:
    started = time.perf_counter()
    response = request()
    took = time.perf_counter() - started
    assert response.status_code in (202, 302), response.content[:500]
    return took, queued_messages()


def sweep(endpoint: WebhookEndpoint) -> None:
    """Beat's passes after the last request, until each delivery has a message."""
    pending = WebhookDelivery.objects.filter(endpoint=endpoint, queued_until__isnull=True)
    passes = []
    while pending.exists() and len(passes) < 50:
        started = time.perf_counter()
        dispatch_due_webhooks()
        passes.append((time.perf_counter() - started, queued_messages()))
    took = ", ".join(f"{t:.2f}" for t, _ in passes)
    print(f"\nsweep: {len(passes)} pass(es) of {took} s; {passes[-1][1] if passes else 0} queued")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ensure_database()
    company, endpoint = outage(args.deliveries)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(company=company, name='b').secret}")
    admin = Client()
    user = get_user_model().objects.create_superuser(new_id("ops"), "ops@example.com", "pw")
    admin.force_login(user)
    one = WebhookDelivery.objects.filter(endpoint=endpoint).values_list("pk", flat=True)[0]
    requests = {
        "api": lambda: api.post(
            f"/api/v1/webhook-endpoints/{endpoint.pk}/redeliver", {}, "application/json"
        ),
        "admin": lambda: admin.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "redeliver", "select_across": "1", "index": "0", "_selected_action": [one]},
        ),
    }
    print("| request | deliveries | median s | runs (s) | messages published |")
    print("|---|---|---|---|---|")
    try:
        for name, request in requests.items():
            times, published = [], 0
            for _ in range(args.runs):
                fail_again(endpoint)
                took, published = timed(request)
                times.append(took)
            runs = ", ".join(f"{t:.2f}" for t in times)
            median = statistics.median(times)
            print(f"| {name} | {args.deliveries} | {median:.2f} | {runs} | {published} |")
        sweep(endpoint)
    finally:
        app.control.purge()
        company.delete()
        user.delete()


if __name__ == "__main__":
    main()
