"""The pinned connection over TLS: it connects to the checked address, yet sends the
hostname as SNI and verifies the certificate against the hostname."""

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from webhooks.delivery import post_signed
from webhooks.services import new_secret

HOST = "hooks.example.test"


class Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def https_server(ca: trustme.CA, certificate_for: str) -> tuple[ThreadingHTTPServer, list[str]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(certificate_for).configure_cert(context)
    names: list[str] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.hosts = []  # type: ignore[attr-defined]
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, names


@pytest.fixture
def pinned_dns(monkeypatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def trusted(ca: trustme.CA, settings, tmp_path) -> Iterator[None]:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    settings.WEBHOOKS_CA_BUNDLE = str(bundle)
    yield


def send(port: int):
    return post_signed(
        url=f"https://{HOST}:{port}/hook",
        secrets=[new_secret()],
        event_id="evt_tls",
        event_type="webhook.test",
        payload={"eventId": "evt_tls"},
    )


def test_tls_uses_the_hostname_for_sni_and_certificate(ca, pinned_dns, trusted):
    server, names = https_server(ca, HOST)
    try:
        outcome = send(server.server_address[1])
    finally:
        server.shutdown()
    assert outcome.status_code == 200, outcome.error
    assert names == [HOST]
    assert server.hosts == [f"{HOST}:{server.server_address[1]}"]


def test_a_certificate_for_another_name_is_refused(ca, pinned_dns, trusted):
    server, _ = https_server(ca, "other.example.test")
    try:
        outcome = send(server.server_address[1])
    finally:
        server.shutdown()
    assert outcome.status_code is None
    assert "SSLError" in outcome.error
