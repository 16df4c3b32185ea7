from unittest import mock

from steve import ids
from steve.ids import new_id


def test_ids_made_in_one_millisecond_sort_in_the_order_they_were_made():
    with mock.patch("time.time", return_value=1_765_000_000.0):
        made = [new_id("evt") for _ in range(1000)]
    assert made == sorted(made) and len(set(made)) == 1000


def test_ids_sort_in_turn_when_the_clock_steps_back():
    with mock.patch("time.time", return_value=1_765_000_000.5):
        first = new_id("evt")
    with mock.patch("time.time", return_value=1_765_000_000.0):
        second = new_id("evt")
    assert first < second


def test_an_id_made_for_a_given_time_carries_that_time_whatever_came_before():
    new_id("evt")
    old = new_id("sub", at_ms=1_000)
    assert old < new_id("sub", at_ms=1_001)
    assert old.startswith("sub_" + ids._encode(1_000, 10))
