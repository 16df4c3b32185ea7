"""Commit order against id order, for tests on real PostgreSQL (transaction=True).

Ids (steve.ids, ULIDs) are made at insert time, inside the transaction: a transaction
that inserts first and commits last makes a row with a smaller id that becomes visible
after rows with larger ids. A reader that kept "the last id seen" would skip it."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import connection, transaction

T = TypeVar("T")


@contextmanager
def held_open(change: Callable[[], T]) -> Iterator[list[T]]:
    """`change` run in another connection whose transaction stays open (its rows made,
    their ids taken, not committed) until the block ends; then it commits. Yields a
    one-item list of what `change` returned."""
    made: list[T] = []
    inserted, release = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                made.append(change())
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert inserted.wait(10)
    try:
        yield made
    finally:
        release.set()
        thread.join(10)
