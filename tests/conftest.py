"""Fixtures shared by the suite. Tests run against PostgreSQL and Redis (see README)."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from steve import ids, redis_pause
from steve.api import ratelimit
from steve.broker import broker_outage, broker_pause
from tests import factories, flush
from tests.openapi import check_test_response

REPO = Path(__file__).resolve().parents[1]
SROIE = REPO.parent / "shared" / "datasets" / "sroie-dev"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL features")
    flush.install()  # transactional tests' teardown truncates only the tables written


@pytest.fixture
def analyse(db) -> Iterator[Callable[[str], None]]:
    """ANALYZE a table inside a test that rolls back. ANALYZE writes its estimate in
    place, so the rollback would keep it: later tests would see thousands of rows in an
    empty table (the admin's estimated counts, tests/flush.py's choice of TRUNCATE). After
    the test its rows are deleted and the table analysed again, still in the transaction,
    which leaves it estimated empty."""
    analysed: list[str] = []

    def analyse_table(table: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        analysed.append(table)

    yield analyse_table
    with connection.cursor() as cursor:
        for table in analysed:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path_factory) -> Path:
    """Each test writes files under its own folder, never into the developer's data/."""
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    settings.STORAGE_BACKEND = "local"
    settings.PUBLIC_BASE_URL = "http://testserver"
    # Hashing a password the production way costs ~0.3 s per test user; tests don't need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return root


@pytest.fixture(autouse=True)
def _broker_not_paused() -> None:
    """A failed publish pauses this process's on-commit publishing (steve.broker): one
    test's dead broker must not hold back the next test's tasks, nor its outage be the
    next test's, already logged."""
    broker_pause.end()
    broker_outage.ended()


@pytest.fixture(autouse=True)
def _id_clock_restored() -> Iterator[None]:
    """Ids are monotonic per process (steve.ids): a test that moves time.time into the
    future leaves every later id of this process there, and a real worker's events (made
    at the real time) then sorted before the test server's older ones."""
    saved = ids._last
    yield
    ids._last = saved


@pytest.fixture(autouse=True)
def _redis_not_paused() -> Iterator[None]:
    """Likewise a Redis call that timed out pauses this process's Redis calls
    (steve.redis_pause); each test starts with Redis tried, and leaves no pause behind."""
    redis_pause.redis_pause.end()
    yield
    redis_pause.redis_pause.end()


@pytest.fixture(autouse=True)
def _responses_match_the_schema(monkeypatch) -> None:
    """Every /api/v1/ answer an APIClient gets must be one the published schema describes.

    Applied to every APIClient (also those a test builds itself), so the schema cannot
    drift from the views; tests/openapi.py says how, and lists the exceptions.
    """
    original = APIClient.request

    def request(self: APIClient, **kwargs):
        response = original(self, **kwargs)
        check_test_response(response)
        return response

    monkeypatch.setattr(APIClient, "request", request)


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters(monkeypatch) -> None:
    """Each test counts from zero: anonymous requests all come from one test address."""
    monkeypatch.setattr(ratelimit, "KEY_PREFIX", f"steve:rl:{uuid.uuid4().hex[:12]}:")


@pytest.fixture
def operator(client):
    """The test client signed in as a superuser: Steve's admin is for superusers only."""
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    client.force_login(user)
    return client


@pytest.fixture
def company(db):
    return factories.CompanyFactory()


@pytest.fixture
def workflows(company):
    return factories.default_workflows(company)


@pytest.fixture
def receipt_workflow(workflows):
    return workflows[0]


@pytest.fixture
def api_key(company):
    return factories.api_key(company)


@pytest.fixture
def api(api_key) -> APIClient:
    """An API client authenticated as `api_key` (Bearer)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def reviewer(company):
    """A signed-up reviewer, member of `company`."""
    return factories.UserFactory(companies=[company])


@pytest.fixture
def ui(reviewer) -> Client:
    """A browser-less client signed in as `reviewer`."""
    client = Client()
    client.force_login(reviewer)
    return client


@pytest.fixture
def sroie_dir() -> Path:
    if not SROIE.is_dir():
        pytest.fail(f"the sroie-dev dataset is expected at {SROIE}")
    return SROIE


@pytest.fixture
def is_postgres(db) -> bool:
    return connection.vendor == "postgresql"
