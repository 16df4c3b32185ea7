"""Start real Celery worker processes against the test database, for tests about the worker."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from steve.celery import app

REPO = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the test database, for a process the test starts (it would otherwise
    connect to DATABASE_URL's own database, which need not exist in CI)."""
    db = connection.settings_dict
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def worker_env(media_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(media_root),
            "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
            "DJANGO_SETTINGS_MODULE": "steve.settings",
        }
    )
    return env


@contextmanager
def celery_worker(
    media_root: Path,
    *,
    queues: str = "processing",
    name: str = "w1",
    pool: str = "solo",
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """A worker process consuming `queues`; stale messages of earlier tests are purged first.
    `pool="prefork"` runs tasks in one child, as production does, while the main process
    goes on (its timers, its consumer); `env` adds to the worker's environment."""
    app.control.purge()
    command = [
        sys.executable, "-m", "celery", "-A", "steve", "worker", "-Q", queues, "-P", pool,
        *(["-c", "1"] if pool == "prefork" else []),
        "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-l", "INFO",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**worker_env(media_root), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited at start with {process.returncode}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
