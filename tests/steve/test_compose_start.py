"""What `docker compose up --scale web=2 --scale worker=2` runs, without Docker.

No container engine here (nor in CI), so this runs the same commands compose runs, through
the image's entrypoint, as processes on this host: the one-shot `migrate` against a fresh
PostgreSQL database, then two `web` (gunicorn) and two `worker` (Celery) processes started
at once. Each must pass its compose health check (`/healthz` 200; the workers' own)
and the migrations must have run exactly once, by `migrate`. What differs from compose:
local file storage instead of MinIO, and WEB_BIND / the Celery node name standing in for
each container's own network address and host name.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from django.conf import settings
from django.db.migrations.loader import MigrationLoader

from steve.celery import app

pytestmark = pytest.mark.worker

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = str(REPO / "scripts" / "entrypoint")
# Everything healthy within this long after start (compose's start_period is 20-30 s).
START_SECONDS = 90
MIGRATION_LOG_LINES = ("Applying ", "Running migrations")


def _database_settings() -> dict[str, Any]:
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"] or "localhost",
        "port": int(db["PORT"] or 5432),
        "user": db["USER"] or "postgres",
        "password": db["PASSWORD"] or None,
    }


def _compose_database_name() -> str:
    # Per test database, so helpers or CI jobs sharing a server do not meet.
    return settings.DATABASES["default"]["NAME"].removeprefix("test_") + "_compose"


def _admin(sql: str) -> None:
    with psycopg.connect(dbname="postgres", autocommit=True, **_database_settings()) as conn:
        conn.execute(sql)


@contextmanager
def fresh_database() -> Iterator[str]:
    name = _compose_database_name()
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def applied_migrations(name: str) -> list[tuple[str, str, Any]]:
    with psycopg.connect(dbname=name, **_database_settings()) as conn:
        return conn.execute(
            "SELECT app, name, applied FROM django_migrations ORDER BY id"
        ).fetchall()


def role_env(database: str, data_dir: Path) -> dict[str, str]:
    """compose.yaml's environment for every role, pointed at this host's services."""
    db = _database_settings()
    password = f":{db['password']}" if db["password"] else ""
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": f"postgres://{db['user']}{password}@{db['host']}:{db['port']}/{database}",
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "PUBLIC_BASE_URL": "http://localhost:8000",
        # One process each: two cores run all four roles here.
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def started(commands: list[tuple[list[str], dict[str, str], Path]]) -> Iterator[None]:
    """Start every command at once, each in its own process group (gunicorn and Celery
    fork children); stop them all, whatever happens."""
    processes = []
    try:
        for command, env, log in commands:
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=REPO,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield
    finally:
        for process in processes:
            os.killpg(process.pid, 15)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return 0


def worker_health_check() -> str:
    """compose.yaml's worker health check, as the container's shell runs it."""
    test = yaml.safe_load((REPO / "compose.yaml").read_text())["x-worker-health"]["test"]
    assert test[0] == "CMD-SHELL"
    return test[1].replace("$$", "$")


def healthy(node: str, env: dict[str, str]) -> bool:
    """The workers' compose health check, aimed at one node: `celery@$HOSTNAME`."""
    prefix, host = node.split("@")
    assert prefix == "celery"
    result = subprocess.run(
        ["sh", "-c", worker_health_check()],
        cwd=REPO,
        env={**env, "HOSTNAME": host},
        capture_output=True,
        timeout=60,
    )
    return result.returncode == 0


def wait_until(check: Any, what: str, deadline: float) -> None:
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not healthy within {START_SECONDS} s")
        time.sleep(1)


def migration_lines(log: Path) -> list[str]:
    text = log.read_text(errors="replace")
    return [line for line in text.splitlines() if line.lstrip().startswith(MIGRATION_LOG_LINES)]


def test_compose_up_with_two_web_and_two_workers_migrates_once(tmp_path):
    app.control.purge()  # the workers consume the real queue: no earlier test's messages
    with fresh_database() as database:
        env = role_env(database, tmp_path / "data")
        migrate_log = tmp_path / "migrate.log"
        with migrate_log.open("wb") as out:
            migrate = subprocess.run(
                [ENTRYPOINT, "migrate"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        assert migrate.returncode == 0, migrate_log.read_text()
        after_migrate = applied_migrations(database)

        ports = [free_port(), free_port()]
        host = socket.gethostname()
        nodes = [f"celery@compose-worker{n}-{os.getpid()}.{host}" for n in (1, 2)]
        web = [ENTRYPOINT, "web"]
        worker = [ENTRYPOINT, "worker", "processing"]
        commands = [
            (web, {**env, "WEB_BIND": f"127.0.0.1:{ports[0]}"}, tmp_path / "web1.log"),
            (web, {**env, "WEB_BIND": f"127.0.0.1:{ports[1]}"}, tmp_path / "web2.log"),
            # Celery reads CELERY_WORKER_HOSTNAME as `worker -n`: in compose, each
            # container's own host name tells the two workers apart.
            (worker, {**env, "CELERY_WORKER_HOSTNAME": nodes[0]}, tmp_path / "worker1.log"),
            (worker, {**env, "CELERY_WORKER_HOSTNAME": nodes[1]}, tmp_path / "worker2.log"),
        ]
        with started(commands):
            deadline = time.monotonic() + START_SECONDS
            for port in ports:
                wait_until(lambda port=port: healthz(port) == 200, f"web on {port}", deadline)
            for node in nodes:
                wait_until(lambda node=node: healthy(node, env), node, deadline)
            after_start = applied_migrations(database)

    # Every migration on disk ran, once, in the one `migrate` run; nothing since.
    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    names = [(app_label, name) for app_label, name, _ in after_migrate]
    assert len(names) == len(set(names)) and set(names) == on_disk
    assert after_start == after_migrate
    assert len(migration_lines(migrate_log)) == len(names) + 1  # "Running migrations:"
    for _, _, log in commands:
        assert migration_lines(log) == [], log.read_text()
    # Each worker says it was up (the pings were not answered by some other process).
    for node, (_, _, log) in zip(nodes, commands[2:], strict=True):
        assert f"{node} ready." in log.read_text()
