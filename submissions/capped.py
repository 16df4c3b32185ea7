"""A small read of an untrusted file in a forked child, under a memory cap and a timeout.

A PDF can keep any object in a compressed object stream, which pdfium inflates whole to
read one object of it: a 2-MB PDF whose document information (or catalog) sits in a
stream inflating to 2 GB took 2.2 GB of the process that merely asked for its producer or
its page count. The extraction reads files in its own capped child
(jobs.extraction.isolated); the reads made beside it (fraud's metadata check in the
worker, the review page's page count in the web) go through here, so such a file costs a
child, which the cap stops, not the worker or the web process.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import TypeVar

from submissions.pages import mapped_bytes

T = TypeVar("T")
MB = 1024 * 1024
# A document's metadata or page count takes a few MB to read; a receipt's PDF rarely 50.
DEFAULT_MEMORY_MB = 256
DEFAULT_TIMEOUT_S = 20.0


class CappedReadFailed(Exception):
    """The child ran out of its memory or time, crashed, or raised."""


def run_capped(
    work: Callable[[], T],
    *,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> T:
    """``work()`` run in a forked child allowed ``memory_mb`` of address space on top of
    what this process maps and ``timeout_s`` seconds; its (picklable) result, or
    CappedReadFailed. Fork, not a new interpreter: the child needs what this process has
    imported, and starting one costs ~0.7 s for every PDF a worker checks."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _child(write_fd, work, memory_mb)
    os.close(write_fd)
    try:
        payload = _read_all(read_fd, time.monotonic() + timeout_s)
    finally:
        os.close(read_fd)
        _reap(pid)
    if payload is None:
        raise CappedReadFailed(f"no answer within {timeout_s:g} s")
    try:
        ok, value = pickle.loads(payload)
    except Exception as error:  # noqa: BLE001 - killed mid-write, or past its cap
        raise CappedReadFailed("the child ended without an answer") from error
    if not ok:
        raise CappedReadFailed(value)
    return value  # type: ignore[no-any-return]


def _child(write_fd: int, work: Callable[[], object], memory_mb: int) -> None:  # pragma: no cover
    status = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # pdfium aborts when the cap refuses it memory: an end the parent reports, so no
        # "Fatal Python error" dump of the parent's stack in its log (pytest, -X faulthandler).
        faulthandler.disable()
        limit = mapped_bytes() + memory_mb * MB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            answer: tuple[bool, object] = (True, work())
        except MemoryError:
            answer = (False, f"needed more than {memory_mb} MB")
        except BaseException as error:  # noqa: BLE001 - told to the parent, which decides
            answer = (False, f"{type(error).__name__}: {error}")
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:  # noqa: BLE001 - the parent sees no answer
        status = 1
    finally:
        os._exit(status)  # never run the parent's atexit handlers, Celery's or gunicorn's


def _read_all(fd: int, deadline: float) -> bytes | None:
    """What the child wrote until it closed the pipe; None when the deadline passed."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid: int) -> None:
    """The child ended and waited for, killed first if it is still at work."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:  # already reaped (a SIGCHLD handler of the host process)
        pass
