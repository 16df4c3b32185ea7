"""The embedded SQLite database of `./scripts/dev`: the web process and the worker write
to one file at once."""

import threading
from pathlib import Path
from typing import Any

from django.db.utils import ConnectionHandler

from steve.settings import database_from_url


def test_two_writers_of_the_dev_database_wait_for_each_other_instead_of_failing(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    # Not the test database: a file of its own, which pytest-django must let us open.
    with django_db_blocker.unblock():
        _race_two_writers(tmp_path)


def _race_two_writers(tmp_path: Path) -> None:
    config = database_from_url("DATABASE_URL", f"sqlite:///{tmp_path / 'steve.sqlite3'}")
    handler = ConnectionHandler({"default": config})  # one connection per thread
    with handler["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n integer)")
        cursor.execute("INSERT INTO counter VALUES (0)")
    first_read, second_read = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def increment(after: threading.Event | None, done: threading.Event) -> None:
        # A service's transaction: read the row, then write it (as approve does).
        connection = handler["default"]
        try:
            if after is not None:
                after.wait(5)
            connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
            with connection.cursor() as cursor:
                cursor.execute("SELECT n FROM counter")
                (n,) = cursor.fetchone()
                done.set()
                if after is None:
                    second_read.wait(0.5)  # the other writer reads meanwhile, if it can
                cursor.execute("UPDATE counter SET n = %s", [n + 1])
            connection.commit()
        except Exception as error:  # the assertion below shows it
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=increment, args=(None, first_read)),
        threading.Thread(target=increment, args=(first_read, second_read)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with handler["default"].cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        assert cursor.fetchone() == (2,)


def test_the_memory_hold_takes_no_share_lock_sqlite_cannot_parse(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    """The worker storing a receipt holds the company's memory (merchant_memory_hold):
    on the dev database its `FOR SHARE` was a syntax error, so every receipt of a shop
    the memory knew was retried as "the database did not answer" and stayed processing.
    SQLite lets one writer in at a time: there is no row to lock."""
    from steve.models import Company
    from submissions.services import hold_company_rows

    with django_db_blocker.unblock():
        config = database_from_url("DATABASE_URL", f"sqlite:///{tmp_path / 'steve.sqlite3'}")
        connection = ConnectionHandler({"default": config})["default"]
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE TABLE "{Company._meta.db_table}" (id varchar(40))')
                cursor.execute(f'INSERT INTO "{Company._meta.db_table}" VALUES (%s)', ["cmp_1"])
            hold_company_rows(connection, "cmp_1")  # raised OperationalError: near "FOR"
        finally:
            connection.close()
