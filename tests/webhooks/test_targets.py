"""SSRF: refused ranges, hostnames resolving inside, scheme rules, the pinned connection."""

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from urllib3.util import connection as urllib3_connection

from tests.webhooks.helpers import emit
from webhooks import targets
from webhooks.api.serializers import attempt_data
from webhooks.delivery import Outcome, deliver, post_signed
from webhooks.services import endpoint_create, new_secret
from webhooks.targets import TargetRefused, resolve_checked, target_error

REFUSED = [
    "10.1.2.3",  # RFC 1918
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",  # loopback
    "169.254.169.254",  # link-local (cloud metadata)
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "0.0.0.0",
    "100.64.0.1",  # carrier-grade NAT
    "192.0.0.8",  # IETF protocol assignments: the dummy address Python 3.11 calls global
    "[::1]",  # IPv6 loopback
    "[fd00::1]",  # unique local
    "[fe80::1]",  # link-local
    "[fec0::1]",  # site-local (deprecated, still private in scope)
    "[ff02::1]",  # multicast
    "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
    "[::ffff:10.0.0.1]",  # IPv4-mapped private
    "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
    "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
]


@pytest.fixture
def strict(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOKS_ALLOW_HTTP = False


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    """Answer getaddrinfo for the given hostnames; everything else resolves for real."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("host", REFUSED)
def test_non_public_addresses_are_refused(strict, host):
    with pytest.raises(TargetRefused, match="non-public"):
        resolve_checked(f"https://{host}/hook")


def test_a_public_address_is_accepted(strict):
    target = resolve_checked("https://93.184.215.14:8443/hook")
    assert (target.address, target.port) == ("93.184.215.14", 8443)


def test_a_hostname_resolving_to_loopback_is_refused(strict, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    assert "non-public address (127.0.0.1)" in target_error("https://hooks.example.com/x")


def test_a_host_not_in_ascii_is_refused_with_its_punycode_form(strict, monkeypatch):
    """The checks resolved the Unicode host while requests connected to its IDNA form,
    so such an endpoint was accepted and then failed every attempt."""
    fake_dns(
        monkeypatch,
        {"bücher.example": ["93.184.215.14"], "xn--bcher-kva.example": ["93.184.215.14"]},
    )
    error = target_error("https://bücher.example/hook")
    assert error is not None and "xn--bcher-kva.example" in error
    assert target_error("https://xn--bcher-kva.example/hook") is None


def test_a_resolver_that_does_not_answer_is_given_up_on(strict, monkeypatch):
    """getaddrinfo has no timeout: a hung resolver held a delivery's worker (or a test
    webhook's request) for the system's whole retry time."""
    monkeypatch.setattr(targets, "RESOLVE_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: time.sleep(3))
    started = time.monotonic()
    assert target_error("https://hooks.example.com/x") == "The host did not resolve in time."
    assert time.monotonic() - started < 1


def test_a_hostname_resolving_to_a_site_local_address_is_refused(strict, monkeypatch):
    # fec0::/10, deprecated (RFC 3879) but still routed inside networks that use it;
    # Python's is_global takes it for public.
    fake_dns(monkeypatch, {"hooks.example.com": ["fec0::1"]})
    with pytest.raises(TargetRefused, match="non-public"):
        resolve_checked("https://hooks.example.com/hook")


def test_a_host_with_the_roots_trailing_dot_is_resolved_and_checked_as_that_host(
    strict, monkeypatch
):
    fake_dns(monkeypatch, {"hooks.example.com": ["10.0.0.5"]})
    assert "non-public address (10.0.0.5)" in target_error("https://hooks.example.com./x")


def test_every_resolved_address_is_checked(strict, monkeypatch):
    fake_dns(monkeypatch, {"mixed.example.com": ["93.184.215.14", "10.0.0.5"]})
    assert "10.0.0.5" in target_error("https://mixed.example.com/x")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.215.14/hook", "https"),
        ("ftp://93.184.215.14/hook", "https"),
        ("https://user:pw@93.184.215.14/hook", "credentials"),
        ("https://metadata.internal/hook", "not a public host"),
        ("https://printer.local/hook", "not a public host"),
        ("https://localhost/hook", "not a public host"),
        ("https:///nohost", "no host"),
        # The root's trailing dot names the same host: refused alike.
        ("https://localhost./hook", "not a public host"),
        ("https://metadata.internal./hook", "not a public host"),
        ("https://./hook", "no host"),
        ("https://../hook", "no host"),
        ("https://hooks.example.com../hook", "empty label"),
        ("https://a..example.com/hook", "empty label"),
        ("https://.example.com/hook", "empty label"),
        ("https://93.184.215.14:99999/", "not valid"),
    ],
)
def test_url_shape_rules(strict, url, why):
    assert why in (target_error(url) or "")


def test_port_zero_is_refused_not_taken_for_the_default_port(strict):
    """`parts.port or 443` took :0 for the default port: the URL was accepted, though no
    receiver listens on port 0 and what it names is not what Steve would call."""
    assert target_error("https://93.184.215.14:0/hook") == "The URL is not valid."
    assert target_error("https://93.184.215.14:00/hook") == "The URL is not valid."


def test_http_is_allowed_only_by_setting(strict, settings):
    settings.WEBHOOKS_ALLOW_HTTP = True
    assert target_error("http://93.184.215.14/hook") is None


@pytest.mark.django_db
def test_delivery_rechecks_the_target_at_every_attempt(company, endpoint, receiver, strict):
    (delivery,) = emit(company)  # the endpoint was accepted earlier (private targets allowed)
    outcome = deliver(delivery.pk)
    assert outcome is not None and outcome.error.startswith("Target refused")
    assert receiver.requests == []
    assert "Target refused" in delivery.log.get().error


@pytest.mark.django_db
def test_the_connection_is_pinned_to_the_checked_address(receiver, monkeypatch):
    """DNS is asked once; the request goes to that address with the hostname as Host."""
    port = receiver.url.split(":")[2].split("/")[0]
    calls = {"n": 0}
    real = socket.getaddrinfo

    def rebinding_dns(host, *args, **kwargs):
        if host == "hooks.example.com":
            calls["n"] += 1
            if calls["n"] > 1:  # a rebinding attacker's second answer
                raise AssertionError("the hostname was resolved a second time")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    outcome = post_signed(
        url=f"http://hooks.example.com:{port}/hook",
        secrets=[new_secret()],
        event_id="evt_pin",
        event_type="webhook.test",
        payload={"eventId": "evt_pin"},
    )
    assert outcome.status_code == 200, outcome.error
    assert calls["n"] == 1
    assert receiver.requests[0].headers["host"] == f"hooks.example.com:{port}"


def _post(url: str, timeout: float = 15) -> Outcome:
    return post_signed(
        url=url,
        secrets=[new_secret()],
        event_id="evt_addresses",
        event_type="webhook.test",
        payload={"eventId": "evt_addresses"},
        timeout=timeout,
    )


def _port(receiver) -> int:
    return int(receiver.url.split(":")[2].split("/")[0])


def test_an_unreachable_first_address_falls_back_to_the_next(receiver, monkeypatch):
    """Only the first address was tried: an IPv6 address this host cannot reach (here
    ::1, where nothing listens) failed the attempt though the IPv4 one answers."""
    lookups = []
    fake_dns(monkeypatch, {"dual.example.com": ["::1", "127.0.0.1"]})
    resolve = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: lookups.append(host) or resolve(host, *a, **k)
    )
    outcome = _post(f"http://dual.example.com:{_port(receiver)}/hook")
    assert outcome.status_code == 200, outcome.error
    assert outcome.address == "127.0.0.1"
    # Still pinned: the hostname resolved once; the connects looked up only the checked
    # addresses (as literals, no DNS).
    assert lookups[0] == "dual.example.com" and set(lookups[1:]) == {"::1", "127.0.0.1"}
    assert receiver.requests[0].headers["host"] == f"dual.example.com:{_port(receiver)}"


def test_an_address_that_never_answers_leaves_the_next_its_share_of_the_deadline(
    receiver, monkeypatch
):
    """An address that swallows the connect (a black-holed IPv6 route) took the whole
    timeout, and the attempt failed without trying the address that answers."""
    fake_dns(monkeypatch, {"dual.example.com": ["2001:db8::1", "127.0.0.1"]})
    connect = urllib3_connection.create_connection
    given: dict[str, float] = {}

    def black_hole(address, timeout, *args, **kwargs):
        given[address[0]] = timeout
        if address[0] == "2001:db8::1":
            time.sleep(timeout)
            raise TimeoutError("timed out")
        return connect(address, timeout, *args, **kwargs)

    monkeypatch.setattr(urllib3_connection, "create_connection", black_hole)
    started = time.monotonic()
    outcome = _post(f"http://dual.example.com:{_port(receiver)}/hook", timeout=2)
    assert outcome.status_code == 200, outcome.error
    assert outcome.address == "127.0.0.1"
    assert given["2001:db8::1"] <= 1.01  # half of the 2 s: the other address's share is left
    assert time.monotonic() - started < 2


def test_when_no_address_answers_the_error_names_each(monkeypatch):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: refused
        fake_dns(monkeypatch, {"dual.example.com": ["::1", "127.0.0.1"]})
        outcome = _post(f"http://dual.example.com:{port}/hook")
    assert outcome.status_code is None and outcome.address == ""
    assert "::1:" in outcome.error and "127.0.0.1:" in outcome.error


@pytest.mark.django_db
def test_the_attempt_log_records_the_address_that_answered(company, receiver, monkeypatch):
    fake_dns(monkeypatch, {"dual.example.com": ["::1", "127.0.0.1"]})
    endpoint_create(company=company, url=f"http://dual.example.com:{_port(receiver)}/hook")
    (delivery,) = emit(company)
    assert deliver(delivery.pk).ok
    attempt = delivery.log.get()
    assert attempt.address == "127.0.0.1"
    assert attempt_data(attempt)["address"] == "127.0.0.1"


def test_redirects_are_not_followed(receiver):
    receiver.default = 302
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data"}
    outcome = post_signed(
        url=receiver.url,
        secrets=[new_secret()],
        event_id="evt_redirect",
        event_type="webhook.test",
        payload={},
    )
    assert outcome.status_code == 302 and not outcome.ok
    assert len(receiver.requests) == 1


@contextlib.contextmanager
def trickling_receiver(first: bytes, then: list[bytes]) -> Iterator[str]:
    """A raw socket server for one request: answers ``first`` at once, then each of
    ``then`` 0.3 s apart."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            _read_request(conn)
            conn.sendall(first)
            for piece in then:
                if stop.wait(0.3):
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(piece)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        server.close()


def _read_request(conn: socket.socket) -> None:
    """The whole request, headers and body: a socket closed with unread bytes is reset
    (RST), and the client then saw "connection reset" instead of the answer under test
    when the body came in a second segment."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    missing = int(length.group(1)) - len(body) if length else 0
    while missing > 0 and (chunk := conn.recv(min(missing, 65536))):
        missing -= len(chunk)


@pytest.fixture
def dripping_receiver() -> Iterator[str]:
    """Answers 200 at once, then one header line every 0.3 s for 10 s."""
    drips = [f"X-Drip-{n}: 1\r\n".encode() for n in range(33)]
    with trickling_receiver(b"HTTP/1.1 200 OK\r\n", drips) as url:
        yield url


def test_an_attempt_ends_at_its_deadline_while_the_headers_drip_in(dripping_receiver):
    started = time.monotonic()
    outcome = post_signed(
        url=dripping_receiver,
        secrets=[new_secret()],
        event_id="evt_drip",
        event_type="webhook.test",
        payload={},
        timeout=1.5,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed  # the whole attempt, not each read (10 s of headers)
    assert outcome.status_code is None and not outcome.ok
    assert outcome.error.startswith("Timeout: no complete answer within 1.5 s")


@pytest.fixture
def slow_body_receiver() -> Iterator[str]:
    """Answers 200 with whole headers at once, then its body a byte every 0.3 s."""
    headers = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n"
    with trickling_receiver(headers, [b"x"] * 40) as url:
        yield url


def test_a_2xx_whose_body_comes_slowly_is_delivered_at_the_deadline(slow_body_receiver):
    """docs/webhooks.md: any 2xx within the timeout counts; it was logged as a timeout
    and sent again."""
    outcome = post_signed(
        url=slow_body_receiver,
        secrets=[new_secret()],
        event_id="evt_slow_body",
        event_type="webhook.test",
        payload={},
        timeout=1.5,
    )
    assert outcome.ok and outcome.status_code == 200


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
        b"HTTP/1.0 503 Service Unavailable\r\n\r\n",
    ],
    ids=["connection-close-5xx", "connection-close-2xx", "http-1.0-no-length"],
)
def test_an_attempt_ends_at_its_deadline_while_a_body_to_the_close_drips_in(head):
    """A body ended by the connection's close (Connection: close, HTTP/1.0) made
    http.client close the connection object as it handed the socket to the response,
    which cancelled the deadline's cut-off: a receiver trickling such a body held the
    attempt, and its worker, for as long as it went on (12 s here, 5 s allowed)."""
    with trickling_receiver(head, [b"y" * 10] * 40) as url:
        started = time.monotonic()
        outcome = post_signed(
            url=url,
            secrets=[new_secret()],
            event_id="evt_drip_to_close",
            event_type="webhook.test",
            payload={},
            timeout=1.5,
        )
        elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed
    assert outcome.ok == head.startswith(b"HTTP/1.1 200")


def test_a_receiver_closing_without_any_answer_is_a_logged_failure():
    with trickling_receiver(b"", []) as url:
        outcome = post_signed(
            url=url,
            secrets=[new_secret()],
            event_id="evt_silent",
            event_type="webhook.test",
            payload={},
            timeout=5,
        )
    assert not outcome.ok and outcome.status_code is None
    assert "Remote end closed connection without response" in outcome.error


@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Type: text/pl"],
    ids=["after-the-status-line", "inside-a-header"],
)
def test_a_2xx_cut_off_in_its_headers_is_no_delivery(answer):
    """A receiver that dies mid-headers never finished answering (it may have died before
    storing the event): that was logged as delivered, and the event never came again."""
    with trickling_receiver(answer, []) as url:
        outcome = post_signed(
            url=url,
            secrets=[new_secret()],
            event_id="evt_cut",
            event_type="webhook.test",
            payload={},
            timeout=5,
        )
    assert not outcome.ok and outcome.status_code is None
    assert "The connection ended before the end of the headers." in outcome.error


@pytest.mark.parametrize(
    "interim",
    [b"HTTP/1.1 102 Processing\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"],
    ids=["102", "103"],
)
def test_an_interim_1xx_before_the_2xx_is_skipped(interim):
    """RFC 9110 15.2: a 1xx is interim and the final answer follows. http.client skips
    only 100, so a 2xx after a 102 or 103 was logged as a failure and sent again."""
    with trickling_receiver(interim, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]) as url:
        outcome = post_signed(
            url=url,
            secrets=[new_secret()],
            event_id="evt_interim",
            event_type="webhook.test",
            payload={},
            timeout=5,
        )
    assert outcome.ok and outcome.status_code == 200
    assert outcome.body == "ok"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Field-%d: 1\r\n" % n for n in range(101)),
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 65536 + b"\r\n",
    ],
    ids=["101-fields", "a-64-KiB-line"],
)
def test_a_2xx_with_headers_past_the_documented_limits_is_a_failure_sent_again(answer):
    """docs/webhooks.md: headers of more than 100 fields, or a line longer than 64 KiB,
    are not read as an answer (http.client's limits, which keep a receiver from making a
    worker hold its headers in memory): the attempt fails and the event comes again."""
    with trickling_receiver(answer + b"Content-Length: 2\r\n\r\nok", []) as url:
        outcome = post_signed(
            url=url,
            secrets=[new_secret()],
            event_id="evt_many_headers",
            event_type="webhook.test",
            payload={},
            timeout=5,
        )
    assert not outcome.ok and outcome.status_code is None
    assert outcome.error.startswith("ConnectionError: ")
    assert "got more than" in outcome.error
