"""Give each pytest-xdist worker its own Redis database (loaded with `-p`, see pyproject).

The workers share one Redis server, and the worker tests purge the Celery queues and
consume them: with one database, a worker process started by one pytest worker took the
other's tasks and ran them against the wrong test database. PostgreSQL needs nothing:
pytest-django gives each pytest worker its own test database (test_<name>_gw0, ...).

This runs when pytest loads its plugins, before pytest-django reads Steve's settings.
"""

import os
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16  # Redis's default `databases`


def worker_redis_url(url: str, worker: str) -> str:
    """`url` moved on by the worker's number: gw0 keeps it, gw1 takes the next database."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = base + int(worker.removeprefix("gw"))
    if database >= REDIS_DATABASES:
        raise RuntimeError(
            f"REDIS_URL's database {base} leaves no Redis database for pytest worker {worker}:"
            " use a lower one or fewer workers (TEST_PROCESSES)"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = worker_redis_url(os.environ["REDIS_URL"], _worker)
