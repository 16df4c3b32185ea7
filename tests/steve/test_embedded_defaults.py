"""The embedded defaults of `./scripts/dev` (SQLite, no Redis), in a process of their own.

The rest of the suite runs on PostgreSQL and Redis; code that only PostgreSQL accepts
(raw SQL, its types) would pass there and fail for a new user's first run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
from jobs.defaults import publish_default_workflows
from steve.services import api_key_create, company_get_or_create
company = company_get_or_create(slug="embedded")
publish_default_workflows(company=company)
key = api_key_create(company=company, name="embedded")
client = Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
created = client.post(
    "/api/v1/workflows/receipt-ocr/sessions",
    {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "embedded-1"},
    content_type="application/json",
)
session_id = created.json()["sessionId"]
polls = [client.get(f"/api/v1/jobs/{session_id}") for _ in range(2)]
listing = client.get("/api/v1/submissions")
print(json.dumps({
    "created": created.status_code,
    "polls": [(p.status_code, p.json().get("state")) for p in polls],
    "limit": polls[-1].get("X-RateLimit-Limit"),
    "listing": listing.status_code,
    "key_cache_seconds": settings.API_KEY_CACHE_SECONDS,
    "page_render_cache_seconds": settings.PAGE_RENDER_CACHE_SECONDS,
}))
"""


def test_sessions_and_polls_work_on_sqlite_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'steve.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "steve.settings",
        "DEBUG": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["created"] == 201
    assert result["polls"] == [[200, "pending"], [200, "pending"]]
    assert result["limit"] is not None
    assert result["listing"] == 200
    # Each process's own cache would keep a key revoked elsewhere live: not used for keys.
    assert result["key_cache_seconds"] == 0
    # Nor for the desk's page renders (up to 8 MB each): the local-memory cache has no
    # byte bound, and 300 of them grew the one web process by gigabytes.
    assert result["page_render_cache_seconds"] == 0


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    return env | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'steve.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "steve.settings",
        "DEBUG": "1",
    }


def test_the_dev_start_migrates_sqlite_without_system_check_warnings(tmp_path: Path) -> None:
    # scripts/dev's migrate printed "System check identified some issues: WARNINGS:" on
    # every start (models.W047, a constraint SQLite cannot make), which reads as broken.
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=_embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "System check identified" not in done.stdout + done.stderr


def test_the_file_system_broker_names_its_host_so_kombu_logs_no_warning(tmp_path: Path) -> None:
    # Every process of scripts/dev (the seeding, the worker, beat, each submit) logged
    # "No hostname was supplied. Reverting to default 'localhost'" for `filesystem://`.
    code = (
        "import django; django.setup()\n"
        "from steve.celery import app\n"
        "with app.connection_for_write() as connection:\n"
        "    print(connection.info()['hostname'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "localhost"
    assert "No hostname was supplied" not in done.stderr


@pytest.mark.parametrize(
    "data_dir",
    [
        # Exists, and nobody (root included) can write in it: a folder mounted read-only,
        # or one owned by another user.
        "/proc/self",
        # Cannot be made.
        "/proc/self/steve-data",
    ],
)
def test_a_data_dir_steve_cannot_write_to_stops_it_at_start_naming_data_dir(
    tmp_path: Path, data_dir: str
) -> None:
    # A read-only DATA_DIR stopped scripts/dev with a traceback ending in "OSError: [Errno
    # 30] Read-only file system: '…/broker'"; one that held an earlier run's folders got as
    # far as "Steve is running", then the worker died ("Unrecoverable error:
    # UnboundLocalError") and beat printed hundreds of lines of "^" before all stopped.
    env = _embedded_env(tmp_path) | {"DATA_DIR": data_dir}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: DATA_DIR ")
    assert "/proc/" in last
