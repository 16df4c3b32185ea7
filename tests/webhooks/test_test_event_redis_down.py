"""A test event with Redis (the one-at-a-time lock and the rate limit) unreachable."""

import time

import pytest

from tests.redis_down import redis_down  # noqa: F401 - a fixture
from tests.webhooks.test_api import problem

pytestmark = pytest.mark.django_db


def test_a_test_event_is_refused_with_a_503_while_its_lock_cannot_be_taken(
    api,
    receiver,
    redis_down,  # noqa: F811
):
    """A test event holds a sync web worker for up to 5 s; its rate limit and its
    one-at-a-time lock both live in Redis. With Redis down both let every request
    through, and one company's burst of tests held every web worker: the outage the
    lock exists to prevent. The rest of the API fails open; this debugging call, which
    changes nothing, is refused until Redis answers."""
    started = time.monotonic()
    refused = api.post("/api/v1/webhooks/test", {"url": receiver.url}, format="json")
    assert time.monotonic() - started < 3
    body = problem(refused, 503, "WEBHOOK_TEST_UNAVAILABLE")
    assert refused["Retry-After"] == "15" and body["status"] == 503
    assert receiver.requests == []
