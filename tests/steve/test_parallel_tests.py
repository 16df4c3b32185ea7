"""The suite's own plumbing: each pytest-xdist worker on its own Redis database."""

import pytest

from tests.parallel import worker_redis_url


def test_the_first_worker_keeps_the_database_and_the_next_takes_the_following_one() -> None:
    assert worker_redis_url("redis://localhost:6379/1", "gw0") == "redis://localhost:6379/1"
    assert worker_redis_url("redis://localhost:6379/1", "gw1") == "redis://localhost:6379/2"


def test_a_url_without_a_database_counts_from_database_0() -> None:
    assert worker_redis_url("redis://:pw@cache:6380", "gw3") == "redis://:pw@cache:6380/3"


def test_a_worker_past_redis_last_database_is_refused_not_wrapped_onto_database_0() -> None:
    with pytest.raises(RuntimeError, match="TEST_PROCESSES"):
        worker_redis_url("redis://localhost:6379/15", "gw1")
