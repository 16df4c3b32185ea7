"""A guard for a test that must end promptly: it fails instead of hanging the suite."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class StillRunning(Exception):
    """Raised by at_most when its time is up."""


@contextmanager
def at_most(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (in the main thread, where pytest runs it),
    and again every 0.2 s: code under test that catches the first (a view answering
    500) must not leave the next call to run unguarded.

    A thread's join(timeout) cannot guard a regular expression: Python's re holds the GIL
    for the whole match (the joining thread waited all 3 s of a 26-letter one), but it
    does handle signals."""

    def interrupt(signum: int, frame: object) -> None:
        raise StillRunning(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
