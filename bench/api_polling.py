"""Polling GET /api/v1/jobs/{id} through gunicorn vs a minimal Django view, side by side.

Usage: .venv/bin/python bench/api_polling.py [--seconds 4] [--rounds 3] [--workers 2]
           [--clients 4]

Starts gunicorn (sync workers, 127.0.0.1) on this module, which serves Steve's URLs
plus `/bench/minimal/<id>`: a plain Django view doing the single indexed read a poll
needs (the session row by primary key) and returning it as JSON. A second gunicorn
serves the same minimal view from a Django with no middleware at all, for scale: the
target compares against the minimal view in Steve's own stack, which every URL of a
deployment passes through. Rounds alternate between the endpoints with the same client
load, so drift affects them alike.
Prints throughput (median of rounds), latency and the gunicorn workers' CPU per
request, alone and with the CPU PostgreSQL and Redis spent (all their
processes on this machine, so other load on them counts too). The real endpoint
keeps everything it does in production: the middleware, API key auth, the per-key and per-job rate
limits in Redis (limits raised so nothing is refused), the full job response.

Environment: DATABASE_URL (default postgres://postgres@localhost:5432/steve_bench_polling;
created and migrated if missing), REDIS_URL (default redis://localhost:6379/8).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@localhost:5432/steve_bench_polling"
os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
os.environ.setdefault("REDIS_URL", "redis://localhost:6379/8")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")

from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402

TARGET_RATIO = 0.9


def minimal_job(request: HttpRequest, session_id: str) -> JsonResponse:
    """The floor: one indexed read of the session row, serialised, nothing else."""
    from jobs.models import WorkflowSession

    row = (
        WorkflowSession.objects.filter(pk=session_id)
        .values("id", "state", "progress", "submission_id", "updated_at")
        .first()
    )
    if row is None:
        return JsonResponse({"detail": "not found"}, status=404)
    return JsonResponse(row)


def __getattr__(name: str) -> Any:
    """Lazy module attributes (Django must be set up first).

    `urlpatterns`: this module is the urlconf of the server the bench starts.
    `application`: Steve's WSGI app with this module as its urlconf, for gunicorn.
    """
    if name == "urlpatterns":
        return [
            path("bench/minimal/<str:session_id>", minimal_job),
            path("", include("steve.urls")),
        ]
    if name != "application":
        raise AttributeError(name)
    from django.conf import settings

    settings.ROOT_URLCONF = __name__
    if os.environ.get("BENCH_BARE_DJANGO") == "1":  # the floor of Django itself
        settings.MIDDLEWARE = []
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def ensure_database() -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def seed() -> tuple[str, str]:
    """A company, its workflows and key, and one pending session: (secret, session id)."""
    import django

    django.setup()
    from django.core.management import call_command

    from jobs.defaults import publish_default_workflows
    from jobs.services import SessionRequest, session_create
    from steve.services import api_key_create, company_get_or_create

    call_command("migrate", verbosity=0)
    company = company_get_or_create(slug="bench-polling")
    # Limits far above the load, so the limiter runs (one Redis call) but never refuses.
    company.rate_limits = {"read": 10**9, "poll": 10**9}
    company.save(update_fields=["rate_limits"])
    version = publish_default_workflows(company=company)[0]
    key = api_key_create(company=company, name=f"bench {time.time():.0f}")
    session, _ = session_create(
        api_key=key.api_key,
        version=version,
        request=SessionRequest(
            file_count=1,
            content_types=["image/jpeg"],
            client_submission_id=f"bench-{time.time_ns()}",
            metadata={"orderId": "12345"},
            external_user=None,
            webhook_url="",
        ),
    )
    return key.secret, session.pk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, workers: int, bare: bool = False) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "bench.api_polling:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
    ]
    env = os.environ.copy() | ({"BENCH_BARE_DJANGO": "1"} if bare else {})
    server = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True, check=False
    ).stdout
    return [int(pid) for pid in out.split()]


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a database backend that has exited
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def service_pids() -> list[int]:
    """PostgreSQL (server and backends) and Redis on this machine."""
    out = subprocess.run(
        ["pgrep", "-x", "postgres|redis-server"], capture_output=True, text=True, check=False
    ).stdout
    return [int(pid) for pid in out.split()]


def get(port: int, target: str, headers: dict[str, str], timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", target, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def load(args: tuple[int, str, dict[str, str], float]) -> tuple[int, int, list[float]]:
    """One client process: GET in a loop for `seconds`; (ok, errors, latencies in s)."""
    port, target, headers, seconds = args
    ok = errors = 0
    latencies: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        status, _ = get(port, target, headers)
        latencies.append(time.perf_counter() - start)
        if status == 200:
            ok += 1
        else:
            errors += 1
    return ok, errors, latencies


def run_round(pool: Any, port: int, target: str, headers: dict, opts: Any, pids: list[int]):
    services = service_pids()
    cpu_before = cpu_seconds(pids)
    services_before = cpu_seconds(services)
    started = time.monotonic()
    results = pool.map(load, [(port, target, headers, opts.seconds)] * opts.clients)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pids) - cpu_before
    services_cpu = cpu_seconds(services) - services_before
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    latencies = [lat for r in results for lat in r[2]]
    return {
        "rps": ok / elapsed,
        "errors": errors,
        "lat": latencies,
        "cpu": cpu / max(ok, 1),
        "total_cpu": (cpu + services_cpu) / max(ok, 1),
    }


def summarise(rounds: list[dict]) -> dict[str, float]:
    latencies = sorted(lat for r in rounds for lat in r["lat"])
    return {
        "rps": statistics.median(r["rps"] for r in rounds),
        "p50": latencies[len(latencies) // 2] * 1000,
        "p95": latencies[int(len(latencies) * 0.95)] * 1000,
        "cpu": statistics.median(r["cpu"] for r in rounds) * 1000,
        "total_cpu": statistics.median(r["total_cpu"] for r in rounds) * 1000,
        "errors": sum(r["errors"] for r in rounds),
    }


def per_call_ms(func: Any, loops: int) -> float:
    """Median over three runs of the mean time of one call, in ms."""
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(loops):
            func()
        runs.append((time.perf_counter() - started) / loops * 1000)
    return statistics.median(runs)


def breakdown(secret: str, session_id: str, loops: int) -> list[tuple[str, float]]:
    """Where a poll's time goes, in-process (no HTTP): each part timed on its own."""
    from django.conf import settings
    from django.test import Client

    from jobs.api.serializers import job_data
    from jobs.selectors import session_for_poll
    from steve.api import ratelimit
    from steve.services import api_key_digest

    settings.ROOT_URLCONF = __name__
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    digest = api_key_digest(secret)
    session, api_key = session_for_poll(session_id=session_id, key_digest=digest)
    keys = [
        ratelimit.counter_key(api_key.pk, "read", ""),
        ratelimit.counter_key(api_key.pk, "poll", session_id),
    ]
    parts = [
        ("whole poll (Django test client)", lambda: client.get(f"/api/v1/jobs/{session_id}")),
        ("minimal view (Django test client)", lambda: client.get(f"/bench/minimal/{session_id}")),
        (
            "key + session query (session_for_poll)",
            lambda: session_for_poll(session_id=session_id, key_digest=digest),
        ),
        (
            "rate limiting (one Redis call, 2 buckets)",
            lambda: ratelimit.counter().incr(keys, 60000, [10**9, 10**9]),
        ),
        ("job_data() serialisation", lambda: job_data(session)),
    ]
    return [(name, per_call_ms(func, loops)) for name, func in parts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--loops", type=int, default=300, help="calls per breakdown part")
    opts = parser.parse_args()

    ensure_database()
    secret, session_id = seed()
    ports = {"steve": free_port(), "bare": free_port()}
    servers = {
        "steve": start_server(ports["steve"], opts.workers),
        "bare": start_server(ports["bare"], opts.workers, bare=True),
    }
    headers = {"Authorization": f"Bearer {secret}", "Host": "127.0.0.1"}
    targets = {  # name: (server, path)
        "GET /api/v1/jobs/{id} (Steve)": ("steve", f"/api/v1/jobs/{session_id}"),
        "minimal Django view": ("steve", f"/bench/minimal/{session_id}"),
        "same, no middleware at all": ("bare", f"/bench/minimal/{session_id}"),
    }
    try:
        for server, target in targets.values():
            # A worker's first request loads the app: slow on a loaded machine.
            status, body = get(ports[server], target, headers, timeout=120)
            assert status == 200 and session_id.encode() in body, (target, status, body[:200])
        pids = {name: worker_pids(server.pid) for name, server in servers.items()}
        results: dict[str, list[dict]] = {name: [] for name in targets}
        with multiprocessing.Pool(opts.clients) as pool:
            for server, target in targets.values():  # warm-up round, not counted
                run_round(pool, ports[server], target, headers, opts, pids[server])
            for _ in range(opts.rounds):
                for name, (server, target) in targets.items():
                    results[name].append(
                        run_round(pool, ports[server], target, headers, opts, pids[server])
                    )
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=30)
    report(results, opts)
    print(f"\nwhere a poll's time goes (in-process, {opts.loops} calls each, median of 3):")
    for name, ms in breakdown(secret, session_id, opts.loops):
        print(f"  {name:50} {ms:7.3f} ms")


def report(results: dict[str, list[dict]], opts: Any) -> None:
    print(
        f"gunicorn {opts.workers} sync workers, {opts.clients} client processes, "
        f"{opts.rounds} x {opts.seconds:g} s rounds per endpoint, {os.cpu_count()} cores\n"
    )
    print(
        f"{'endpoint':32} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms/req':>11} {'errors':>7}"
    )
    summary = {name: summarise(rounds) for name, rounds in results.items()}
    for name, s in summary.items():
        print(
            f"{name:32} {s['rps']:8.0f} {s['p50']:8.2f} {s['p95']:8.2f} "
            f"{s['cpu']:11.3f} {s['errors']:7d}"
        )
    steve, floor, bare = summary.values()
    ratio = steve["rps"] / floor["rps"]
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(
        f"\nthroughput ratio Steve / minimal: {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)"
    )
    print(
        f"for scale, Steve / the minimal view in a Django with no middleware at all: "
        f"{steve['rps'] / bare['rps']:.2f}x (the minimal view above runs in Steve's stack:"
        f" request ids, security headers, sessions, CSRF, CSP... as every Steve URL does)"
    )
    print(f"application CPU per poll: {steve['cpu']:.3f} ms (minimal view: {floor['cpu']:.3f} ms)")
    print(
        f"with PostgreSQL and Redis: {steve['total_cpu']:.3f} ms "
        f"(minimal view: {floor['total_cpu']:.3f} ms); ratio "
        f"{floor['total_cpu'] / steve['total_cpu']:.2f}x"
    )


if __name__ == "__main__":
    main()
