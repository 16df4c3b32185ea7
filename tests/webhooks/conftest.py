"""A real HTTP receiver on localhost, scripted per test, and webhook fixtures."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from steve.models import Company
from tests import factories
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers with `script` in order (then `default`), records every request, and
    dedups by webhook-id the way a careful integrator does."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    default: int = 200
    extra_headers: dict[str, str] = field(default_factory=dict)
    hang_first: bool = False
    body: bytes | None = None  # instead of "answer <status>"
    requests: list[Received] = field(default_factory=list)
    processed_ids: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    got_request: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            status = self.script.pop(0) if self.script else self.default
            hang = self.hang_first and len(self.requests) == 1
            webhook_id = received.headers.get("webhook-id", "")
            if 200 <= status < 300 and webhook_id not in self.processed_ids:
                self.processed_ids.append(webhook_id)
        self.got_request.set()
        if hang:
            self.release.wait(30)
        return status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {key.lower(): value for key, value in self.headers.items()}
            status = receiver.answer(Received(headers=headers, body=body))
            try:
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                body = f"answer {status}".encode() if receiver.body is None else receiver.body
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _running_receiver()


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    """A second receiver: where an integrator moves an endpoint."""
    yield from _running_receiver()


def _running_receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint_with_secret(company: Company, receiver: Receiver) -> tuple[WebhookEndpoint, str]:
    return endpoint_create(company=company, url=receiver.url)


@pytest.fixture
def endpoint(endpoint_with_secret: tuple[WebhookEndpoint, str]) -> WebhookEndpoint:
    return endpoint_with_secret[0]


@pytest.fixture
def other_company() -> Company:
    return factories.CompanyFactory()
