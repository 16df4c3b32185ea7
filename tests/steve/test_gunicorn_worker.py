"""scripts/dev's web worker: clients that stop mid-request do not hold its threads."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    """gunicorn as scripts/dev runs it (one process, four threads), on a tiny WSGI app, with
    the worker's read timeout at 1 s (set in a sitecustomize the server imports). Given
    a worker class (indirect parametrize), that one: "sync" is production's."""
    worker_class = getattr(request, "param", "steve.gunicorn_worker.ThreadWorker")
    (tmp_path / "tinyapp.py").write_text(APP)
    (tmp_path / "sitecustomize.py").write_text(
        "import steve.gunicorn_worker as w\nw.READ_TIMEOUT = 1\n"
    )
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "gunicorn", "tinyapp:app", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--threads", "4", "--worker-class"]
    command += [worker_class, "--log-level", "critical"]
    process = subprocess.Popen(command, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a hung worker does not stop on TERM
            process.kill()
            process.wait()


def get(port: int, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(1024)


def test_four_half_sent_requests_do_not_hang_the_server(server: int):
    stalled = [socket.create_connection(("127.0.0.1", server)) for _ in range(4)]
    for s in stalled:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the headers never end
    time.sleep(0.3)  # every thread now reads one of them

    answer = get(server, timeout=10)

    assert answer.startswith(b"HTTP/1.1 200")
    for s in stalled:
        s.close()


def raw(port: int, request: bytes) -> bytes:
    """The whole answer to a request sent as bytes (the server closes the connection)."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        while chunk := s.recv(4096):
            answer += chunk
    return answer


@pytest.mark.parametrize("server", ["steve.gunicorn_worker.ThreadWorker", "sync"], indirect=True)
@pytest.mark.parametrize("declared", [b"abc", b"-1", b"1.5"])
def test_gunicorn_refuses_a_malformed_content_length_itself_before_steve(
    server: int, declared: bytes
):
    """docs/api.md ("Uploads"): under gunicorn (scripts/dev; production's web behind
    nginx, which refuses it first) an upload's malformed Content-Length never reaches
    Steve, so it is gunicorn's HTML 400, not the problem INVALID_CONTENT_LENGTH. The app
    here answers 200 to anything it is handed."""
    answer = raw(
        server,
        b"PUT /api/v1/uploads/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: image/jpeg\r\nContent-Length: " + declared + b"\r\n\r\nxyz",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: text/html" in head
    assert b"Invalid HTTP Header: &#x27;CONTENT-LENGTH&#x27;" in body
