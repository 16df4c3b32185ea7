"""Headless Chromium against pytest-django's live server (Debian's /usr/bin/chromium)."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
# test body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's assertions wait 5 s by default: on a 2-core machine running the suite
    # beside other work (load average ~12) an htmx answer took longer, and a test that
    # would have passed failed. A wait ends as soon as its condition holds, so a longer
    # bound costs passing tests nothing; the tests that assert a short bound pass their own.
    sync_api.expect.set_options(timeout=15_000)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_settings(settings) -> None:
    """The live server speaks plain http: cookies must not be Secure-only there."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def team(transactional_db, browser_settings) -> dict[str, Any]:
    """Two reviewers of one company."""
    company = factories.CompanyFactory(name="Kedai Group")
    alice = factories.UserFactory(username="alice", companies=[company])
    bob = factories.UserFactory(username="bob", companies=[company])
    return {"company": company, "alice": alice, "bob": bob}
