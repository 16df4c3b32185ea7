"""Run extraction of untrusted files in a forked child with memory and time limits.

Why fork (not spawn): the OCR model is loaded once in the parent (``get_engine`` caches
it) and a forked child shares it copy-on-write. Measured on the 2-core dev box: a text
PDF takes 0.05 s in-process and 0.12 s forked (fork + pickling the result back), while
a spawned interpreter needs ~0.8 s just to import numpy and the OCR runtime and load the model.
``os.fork`` is used directly because Celery's prefork pool runs tasks in daemonic
processes, which ``multiprocessing`` refuses to let have children.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import pickle
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from submissions.pages import mapped_bytes

from .api import Extraction, extract_pages
from .document import Page
from .errors import STEP_TEXT, ExtractionError, ReadingKilled
from .ocr import get_engine

logger = logging.getLogger(__name__)

MB = 1024 * 1024
_CHUNK = 1 << 16
PAGE_TIMEOUT_S = 120.0  # the default of settings.EXTRACTION_PAGE_SECONDS, which says why
# The child reports its progress as it goes ("3/8." for 3 of 8 pages read; a bare "." for
# a page digested), then writes _RESULT and its result.
_END_OF_REPORT = b"."
_RESULT = b"="
_PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for this process when its parent dies
# Signals the child never brings on itself: the kernel's out-of-memory killer (SIGKILL), an
# operator, a service manager stopping the worker (SIGTERM). Its own memory cap (RLIMIT_AS)
# fails an allocation instead (MemoryError, or a crash in native code: SIGSEGV, SIGABRT).
_FROM_OUTSIDE = frozenset({signal.SIGKILL, signal.SIGTERM})
T = TypeVar("T")


def extract_document_isolated(
    data: bytes,
    *,
    digest: Callable[[Page], T],
    kind: str,
    password: str | None = None,
    page_timeout_s: float = PAGE_TIMEOUT_S,
    deadline: float | None = None,
    memory_mb: int = 2048,
    engine_name: str | None = None,
    heartbeat: Callable[[], None] | None = None,
    heartbeat_every: float = 20.0,
    on_progress: Callable[[int, int], object] | None = None,
    what: str = "A file",
) -> tuple[list[T], Extraction]:
    """``extract_pages`` in a child process; crashes and blow-ups become ExtractionError,
    and the child killed from outside (not the file's fault: tried again) ReadingKilled.

    What comes back is the extraction and what ``digest``, run in the child on each page
    once read, makes of that page: only what the caller needs crosses back. A scanned A4
    page is ~12 MB decoded, and crossing back it is held twice at once (pickled and
    unpickled). The child holds one page image at a time: each page is rendered when its
    turn comes and let go once digested.

    The child has ``page_timeout_s`` from its start, and again from each page it loads,
    reads or digests, so a long document is read to its end while a page that hangs still fails
    it; ``deadline`` (a ``time.monotonic()`` value) bounds the whole file, both readings
    included. A page that stalls is read once more, by a fresh child: the first stall may
    have been the machine's (loaded, swapping). One that stalls again is the file's: it
    fails for good, or a file that always stalls would be retried by its integrator forever.
    ``memory_mb`` is the address space the child may add on top of what the parent has
    already mapped (the shared model and libraries), enforced with RLIMIT_AS.
    ``on_progress`` is called with the child's reports: pages read so far, page count.
    ``what`` names the file in the warning written when a page stalls.
    ``heartbeat`` is called every ``heartbeat_every`` seconds while the child works, so a
    long document does not look like a dead worker; if it raises, the child is killed and
    the exception goes on to the caller, as does any other (Celery's soft time limit).
    """
    engine = get_engine(engine_name)  # load before forking so every child shares it

    def work(write_fd: int) -> None:  # pragma: no cover - runs in the child
        _child(write_fd, data, digest, kind, password, memory_mb, engine)

    def wait(read_fd: int) -> bytes:
        return _read_result(
            read_fd, page_timeout_s, deadline, heartbeat, heartbeat_every, on_progress
        )

    try:
        return _unpack(*_in_child(work, wait), memory_mb)
    except _Stalled:
        logger.warning(
            "%s: a page took longer than %.0f s to read; the file is read again by a fresh process",
            what,
            page_timeout_s,
        )
    try:  # within the same deadline: the task's time limits hold for both readings
        return _unpack(*_in_child(work, wait), memory_mb)
    except _Stalled:
        raise _failed(
            f"A page took longer than {page_timeout_s:.0f} s to read, twice; "
            "processing stopped: the page cannot be read in time."
        ) from None


class _Stalled(Exception):
    """A page went past its time before the deadline: the reading is tried once more."""


def _in_child(work: Callable[[int], None], wait: Callable[[int], bytes]) -> tuple[bytes, int]:
    """Fork a child that runs ``work`` (writing to a pipe, then exiting) and ``wait`` for
    what it writes: that and the child's pid, still to be reaped."""
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _die_with(parent)
        work(write_fd)
    os.close(write_fd)
    try:
        return wait(read_fd), pid
    except BaseException:
        _kill(pid)  # never leave it reading on: nobody would wait for its result
        raise
    finally:
        os.close(read_fd)


def _die_with(parent: int) -> None:  # pragma: no cover - runs in the child
    """Have Linux kill this child when the worker that forked it dies (killed, out of
    memory): nobody would read its result, and it would read on for minutes. Where prctl
    is missing, nothing."""
    prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the request took effect
        os._exit(1)


def _bound_this_child(memory_mb: int) -> None:  # pragma: no cover - runs in the child
    """A forked child's own limits: the parent's SIGTERM handler dropped (the parent's
    kill must end it), ``memory_mb`` on top of what it inherited mapped, no core dump."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    limit = mapped_bytes() + memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(
    write_fd: int,
    data: bytes,
    digest: Callable[[Page], Any],
    kind: str,
    password: str | None,
    memory_mb: int,
    engine: Any,
) -> None:  # pragma: no cover - runs in the child
    status = 0
    try:
        _bound_this_child(memory_mb)

        def progress(done: int, total: int) -> None:
            os.write(write_fd, b"%d/%d" % (done, total) + _END_OF_REPORT)

        def digested(page: Page) -> Any:
            value = digest(page)
            os.write(write_fd, _END_OF_REPORT)  # alive: the next page has its own time
            return value

        try:
            # One page at a time: each is digested and let go before the next is rendered.
            result: tuple[str, Any] = (
                "ok",
                extract_pages(
                    data,
                    digest=digested,
                    kind=kind,
                    password=password,
                    engine=engine,
                    on_progress=progress,
                ),
            )
        except ExtractionError as exc:
            result = ("error", exc)
        except MemoryError:
            result = ("memory", None)  # past its own cap: the file's need, not the machine's
        except BaseException as exc:
            result = ("crash", (type(exc).__name__, traceback.format_exc(limit=5)))
        blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(_RESULT + blob)
    except BaseException:
        status = 1
    finally:
        os._exit(status)  # never run the parent's atexit handlers or Celery's cleanup


def _read_result(
    read_fd: int,
    page_timeout_s: float,
    deadline: float | None,
    heartbeat: Callable[[], None] | None = None,
    heartbeat_every: float = 20.0,
    on_progress: Callable[[int, int], object] | None = None,
) -> bytes:
    """The child's result, read as it comes; each report of its progress renews its time
    and goes to ``on_progress``. Past ``deadline``, the file fails; past a page's time
    before it, _Stalled."""
    chunks: list[bytes] = []
    reports = b""
    now = time.monotonic()
    stall_at, next_beat = now + page_timeout_s, now + heartbeat_every
    deadline = math.inf if deadline is None else deadline
    in_result = False
    while True:
        now = time.monotonic()
        if heartbeat is not None and now >= next_beat:
            heartbeat()
            next_beat = now + heartbeat_every
        if now >= deadline:
            raise _over_budget()
        if now >= stall_at:
            raise _Stalled
        wait = min(stall_at, deadline, next_beat if heartbeat else math.inf) - now
        ready, _, _ = select.select([read_fd], [], [], max(0.0, wait))
        if not ready:
            continue
        chunk = os.read(read_fd, _CHUNK)
        if not chunk:
            return b"".join(chunks)
        if not in_result:
            before, marker, chunk = chunk.partition(_RESULT)
            *done, reports = (reports + before).split(_END_OF_REPORT)
            if done:  # a page loaded, read or digested: the next one has its own time
                stall_at = time.monotonic() + page_timeout_s
            if on_progress is not None:
                for report in filter(None, done):
                    on_progress(*map(int, report.split(b"/")))
            in_result = bool(marker)
        chunks.append(chunk)


def _over_budget() -> ExtractionError:
    """The files are too long to read in time: they would be again."""
    return ExtractionError(
        "PROCESSING_ERROR",
        "The submission's files take longer to read than Steve allows for one submission; "
        "send their pages in several submissions.",
        step=STEP_TEXT,
    )


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # already reaped
        os.waitpid(pid, 0)


def _unpack(payload: bytes, pid: int, memory_mb: int) -> tuple[list[Any], Extraction]:
    _, status = os.waitpid(pid, 0)
    try:
        outcome, value = pickle.loads(payload)
    except Exception:  # nothing, or cut short: the child died before its result was out
        outcome, value = None, None
    if outcome == "ok":
        return value
    if outcome == "error":
        raise value
    if outcome == "memory":
        raise _failed(
            "Reading the file needed more memory than Steve allows for reading one file "
            f"({memory_mb} MB); processing stopped."
        )
    if outcome == "crash":
        name, trace = value
        logger.warning("The process reading a file crashed:\n%s", trace)
        raise _failed(f"Document processing failed: the process reading the file crashed ({name}).")
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:  # a real-time signal: no name
            name = f"signal {signum}"
        if signum in _FROM_OUTSIDE:
            raise ReadingKilled(name)
        # A segfault or an abort: in native code reading this file, or an allocation its
        # memory cap refused there.
        raise _failed(f"Document processing failed: the process reading the file crashed ({name}).")
    raise _failed(
        "Document processing failed: the process reading the file ended without a result."
    )


def _failed(message: str) -> ExtractionError:
    """The file's own fault: the same file would fail the same way again."""
    return ExtractionError("PROCESSING_ERROR", message, retryable=False, step=STEP_TEXT)


def run_bounded(work: Callable[[], T], *, seconds: float, memory_mb: int) -> T | None:
    """``work()`` in a forked child, for a quick check of an untrusted file where no reading
    process is at hand (a web process): its result (picklable), or None when the child ran
    past ``seconds`` or its ``memory_mb`` (on top of what the parent has mapped), crashed,
    or could not be forked. The caller decides what an unknown answer means."""
    deadline = time.monotonic() + seconds

    def child(write_fd: int) -> None:  # pragma: no cover - runs in the child
        status = 0
        try:
            _bound_this_child(memory_mb)
            blob = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(blob)
        except BaseException:
            status = 1
        finally:
            os._exit(status)  # never the parent's atexit handlers, nor its connections

    def wait(read_fd: int) -> bytes:
        chunks: list[bytes] = []
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([read_fd], [], [], left)
            if ready:
                chunk = os.read(read_fd, _CHUNK)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        raise TimeoutError  # _in_child kills and reaps the child

    try:
        payload, pid = _in_child(child, wait)
    except (TimeoutError, OSError):
        return None
    os.waitpid(pid, 0)
    try:
        return pickle.loads(payload)
    except Exception:  # nothing, or cut short: the child died before its answer was out
        return None
