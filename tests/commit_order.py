"""Commit order against id order, for tests on real PostgreSQL (transaction=True).

Ids (steve.ids, ULIDs) are made at insert time, inside the transaction: a transaction
that inserts first and commits last makes a row with a smaller id that becomes visible
after rows with larger ids. A reader that kept "the last id seen" would skip it.

Also two transactions raced by hand (open_transaction, in_thread): an admin's deletion
against the running system's insert of a row depending on what it deletes."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

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


@contextmanager
def open_transaction(change: Callable[[], Any]) -> Iterator[dict[str, Any]]:
    """`change` in another connection's transaction, held open until the block ends,
    then committed; yields what happened to it ("error" once committed, if it raised)."""
    outcome: dict[str, Any] = {}
    done, release = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                outcome["made"] = change()
                done.set()
                release.wait(10)
        except Exception as error:
            outcome["error"] = error
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(10)
    try:
        yield outcome
    finally:
        release.set()
        thread.join(10)


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """`call` in another connection, started now; its answer or error lands in the dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["answer"] = call()
        except Exception as error:
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome
