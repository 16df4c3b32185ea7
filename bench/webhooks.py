"""Webhook delivery benchmark: a real Celery worker on the `deliveries` queue, PostgreSQL,
Redis and a local HTTP receiver.

Usage: .venv/bin/python bench/webhooks.py [--burst 500] [--paced 200] [--rate 20]
           [--concurrency 8] [--pool prefork|threads]

Two runs, each a table row:
- burst: `--burst` events committed in one transaction (a backlog); deliveries per
  second from the commit to the last delivery, and the delays while the queue drains;
- paced: `--paced` events at `--rate` per second (a busy day's traffic); the delay from
  the change's commit (delivery row created) to the first attempt, whose p95 should be
  under 2 s.
Uses its own database (steve_bench_webhooks, created and migrated if missing) and
Redis db 6 unless DATABASE_URL / REDIS_URL say otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@localhost:5432/steve_bench_webhooks")
os.environ.setdefault("REDIS_URL", "redis://localhost:6379/6")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "1"  # the receiver listens on loopback

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from steve.celery import app  # noqa: E402
from steve.ids import new_id  # noqa: E402
from steve.models import Company  # noqa: E402
from webhooks.catalogue import WebhookEventType  # noqa: E402
from webhooks.models import WebhookAttempt, WebhookDelivery  # noqa: E402
from webhooks.services import endpoint_create, webhook_emit  # noqa: E402

SAMPLE_PAYLOAD = {
    "sessionId": "ses_bench",
    "submissionId": "sub_bench",
    "workflow": {"slug": "receipt-ocr", "version": 1},
    "state": "completed",
    "submissionStatus": "review",
    "result": {"extractedData": {"merchantName": "Kedai", "totalAmount": 12.5}},
    "failedReason": None,
    "clientSubmissionId": "bench",
    "metadata": {"orderId": "1"},
}


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


class Receiver:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def start_worker(concurrency: int, pool: str) -> subprocess.Popen:
    app.control.purge()
    command = [
        sys.executable, "-m", "celery", "-A", "steve", "worker", "-Q", "deliveries",
        "-c", str(concurrency), "-P", pool, "-n", "bench@%h", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "-l", "WARNING",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ))


def emit_one(company: Company) -> None:
    event_id = new_id("evt")
    event_type = WebhookEventType.SESSION_COMPLETED.value
    with transaction.atomic():
        webhook_emit(
            company_id=company.pk,
            event_id=event_id,
            event_type=event_type,
            payload={"eventId": event_id, "eventType": event_type, **SAMPLE_PAYLOAD},
        )


def wait_delivered(company: Company, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = WebhookDelivery.objects.filter(company=company, status="delivered").count()
        if done >= expected:
            return
        time.sleep(0.2)
    raise SystemExit(f"only {done}/{expected} deliveries were delivered within {timeout} s")


def fresh_company(receiver: Receiver, label: str) -> Company:
    company = Company.objects.create(name=f"bench {label}", slug=new_id("bench"))
    endpoint_create(company=company, url=receiver.url)
    return company


def measure(company: Company) -> dict[str, float]:
    rows = WebhookDelivery.objects.filter(company=company)
    created = dict(rows.values_list("pk", "created_at"))
    first = dict(
        WebhookAttempt.objects.filter(delivery__company=company, number=1).values_list(
            "delivery_id", "attempted_at"
        )
    )
    delays = sorted((first[pk] - created[pk]).total_seconds() for pk in created)
    span = (
        max(rows.values_list("delivered_at", flat=True)) - min(created.values())
    ).total_seconds()
    return {
        "n": len(delays),
        "per_second": len(delays) / span if span else float("inf"),
        "p50": statistics.median(delays),
        "p95": delays[int(0.95 * (len(delays) - 1))],
        "max": delays[-1],
        "attempts": WebhookAttempt.objects.filter(delivery__company=company).count(),
    }


def run_burst(receiver: Receiver, count: int) -> dict[str, float]:
    """A backlog: `count` events committed at once, so the worker, not the emitter, is
    what the rate measures."""
    company = fresh_company(receiver, "burst")
    with transaction.atomic():
        for _ in range(count):
            emit_one(company)
    wait_delivered(company, count, timeout=300)
    return measure(company)


def run_paced(receiver: Receiver, count: int, rate: float) -> dict[str, float]:
    company = fresh_company(receiver, "paced")
    started = time.monotonic()
    for index in range(count):
        time.sleep(max(0.0, started + index / rate - time.monotonic()))
        emit_one(company)
    wait_delivered(company, count, timeout=300)
    return measure(company)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool", choices=["prefork", "threads"], default="prefork")
    args = parser.parse_args()
    ensure_database()
    receiver = Receiver()
    worker = start_worker(args.concurrency, args.pool)
    try:
        warmup = fresh_company(receiver, "warmup")
        emit_one(warmup)
        wait_delivered(warmup, 1, timeout=60)
        results = {
            f"burst of {args.burst}": run_burst(receiver, args.burst),
            f"paced {args.paced} at {args.rate:g}/s": run_paced(receiver, args.paced, args.rate),
        }
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    print_table(results, f"-P {args.pool} -c {args.concurrency}")


def print_table(results: dict[str, dict[str, float]], worker: str) -> None:
    print(f"\nwebhook delivery, 1 worker -Q deliveries {worker}, local receiver (204)")
    header = f"{'run':<22} {'n':>5} {'attempts':>8} {'deliv/s':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(
            f"{name:<22} {r['n']:>5} {r['attempts']:>8} {r['per_second']:>8.1f} "
            f"{r['p50']:>7.3f} {r['p95']:>7.3f} {r['max']:>7.3f}"
        )
    print(
        "delay = first attempt started - delivery row created (the change's commit); target p95 < 2 s"
    )


if __name__ == "__main__":
    main()
