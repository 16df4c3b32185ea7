"""Which webhook target URLs Steve will call, and how it calls them (SSRF guard).

A target must be http(s) (https unless WEBHOOKS_ALLOW_HTTP), its host is resolved once,
every resolved address must be public, and the connection is then pinned to the
checked addresses, tried in the resolver's order: a second DNS answer (rebinding) can
never steer the request to an internal host. TLS still verifies the certificate for the hostname and sends it as SNI,
and the Host header names the hostname, because only the TCP connect uses the address.
"""

import contextlib
import http.client
import ipaddress
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

BLOCKED_SUFFIXES = (".internal", ".local", ".localhost", ".localdomain")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# NAT64 carries an IPv4 address in its last 32 bits; a gateway would forward to it.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IETF protocol assignments (RFC 6890): no webhook receiver lives here, though Python 3.11
# calls some of it global (192.0.0.8, the dummy address).
IETF_PROTOCOL = ipaddress.ip_network("192.0.0.0/24")


class TargetRefused(ValueError):
    pass


@dataclass(frozen=True)
class CheckedTarget:
    url: str
    host: str
    port: int
    # Every address the host resolved to, each checked, in the resolver's order.
    addresses: tuple[str, ...]

    @property
    def address(self) -> str:
        return self.addresses[0]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not address_is_public(embedded):
            return False
    if address in IETF_PROTOCOL:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # fec0::/10, deprecated but still routed inside the networks that use it:
        # is_global (and is_private) leave it out.
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def dns_name(hostname: str) -> str:
    """ "Hooks.Example.com." → "hooks.example.com": the name a URL's host resolves as.
    One trailing dot is the DNS root's, written or not, so the same name (and receiver)."""
    return hostname.lower().removesuffix(".")


def _check_url_shape(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    allow_http = settings.WEBHOOKS_ALLOW_HTTP
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise TargetRefused(
            "The URL must use https or http." if allow_http else "The URL must use https."
        )
    host = dns_name(parts.hostname or "")
    if not host.strip("."):  # "https://./x", "https://../x"
        raise TargetRefused("The URL has no host.")
    if "" in host.split("."):
        # Only the root's label is empty. Dots stripped away, "example.com.." was checked
        # as "example.com" though no receiver is named so (nor reached: TLS names it).
        raise TargetRefused(
            "The host has an empty label (a dot at its start or end, or two in a row)."
        )
    if parts.username or parts.password:
        raise TargetRefused("The URL must not carry credentials.")
    if not host.isascii():
        # The checks resolve this text, requests connects to its IDNA form: the two
        # never agreed, so every attempt would fail. One spelling, checked and used.
        raise TargetRefused(f"Write the host in its ASCII (punycode) form{_punycode(host)}.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS and (
        host == "localhost" or host.endswith(BLOCKED_SUFFIXES)
    ):
        raise TargetRefused("The host is not a public host.")
    # Port 0 is no port a receiver listens on, yet `port or default` took it for the
    # default: a URL naming one port and called at another. urlsplit allows 0..65535.
    if parts.port == 0:
        raise ValueError("port 0")
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def _punycode(host: str) -> str:
    """A hint: the host in Python's IDNA 2003 form (requests uses IDNA 2008, which
    differs for a few letters such as ß)."""
    try:
        return f", e.g. {host.encode('idna').decode()}"
    except UnicodeError:
        return ""


# getaddrinfo has no timeout of its own: a resolver that does not answer held a delivery's
# worker (or a test webhook's web request) for as long as the system's retries take. The
# lookup runs in a thread of its own (not a pool, which a forked worker would inherit
# without its threads) and is given up after this long.
RESOLVE_TIMEOUT_SECONDS = 5.0


def _resolve(host: str, port: int) -> list[str]:
    answer: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def lookup() -> None:
        try:
            answer.put((True, socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))
        except Exception as error:  # handed to the caller, who sorts it out
            answer.put((False, error))

    threading.Thread(target=lookup, name="resolve", daemon=True).start()
    try:
        ok, infos = answer.get(timeout=RESOLVE_TIMEOUT_SECONDS)
    except queue.Empty:
        raise TargetRefused("The host did not resolve in time.") from None
    if not ok:
        raise TargetRefused("The host does not resolve.") from None
    # Keep the resolver's order (its address preference), without duplicates.
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(url: str) -> CheckedTarget:
    """The target after every check, pinned to its checked addresses; raises TargetRefused."""
    try:
        host, port = _check_url_shape(url)
    except ValueError as exc:  # urlsplit/port parsing of a malformed URL
        if isinstance(exc, TargetRefused):
            raise
        raise TargetRefused("The URL is not valid.") from None
    addresses = _resolve(host, port)
    if not addresses:
        raise TargetRefused("The host does not resolve.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            if not address_is_public(ipaddress.ip_address(address.split("%")[0])):
                raise TargetRefused(f"The host resolves to a non-public address ({address}).")
    return CheckedTarget(url=url, host=host, port=port, addresses=tuple(addresses))


def target_error(url: str) -> str | None:
    """Why a URL may not be a webhook target, or None when it may."""
    try:
        resolve_checked(url)
    except TargetRefused as exc:
        return str(exc)
    return None


class HeadersCutOff(http.client.HTTPException):
    pass


class _LineWatch:
    """The response's stream while its head is read: notes a line that the end of the
    stream cut short (http.client takes the end of the stream for the end of the
    headers)."""

    def __init__(self, fp: Any) -> None:
        self.fp = fp
        self.cut = False

    def readline(self, limit: int = -1) -> bytes:
        line = self.fp.readline(limit)
        if not line.endswith(b"\n"):
            self.cut = True
        return line

    def __getattr__(self, name: str) -> Any:
        # Anything else (close() when nothing at all was answered) is the stream's.
        return getattr(self.fp, name)


class CompleteHeadersResponse(http.client.HTTPResponse):
    """A response whose headers ended with their blank line, or an error.

    A receiver that closed the connection after "HTTP/1.1 200 OK" was taken for one that
    answered 200: the delivery was marked delivered though the receiver died while
    answering (maybe before storing the event), and the event never came again.

    Interim answers (102 Processing, 103 Early Hints, …) are skipped up to the final one,
    as RFC 9110 asks: http.client skips only 100, so a 2xx after a 103 was logged as a
    failed "HTTP 103" and the event sent again. 101 stays final: Steve never asks for an
    upgrade. Endless interim answers end at the attempt's deadline like any other.
    """

    def _read_status(self) -> tuple[str, int, str]:
        version, status, reason = super()._read_status()  # type: ignore[misc]
        while http.client.PROCESSING <= status < 200:
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]
            version, status, reason = super()._read_status()  # type: ignore[misc]
        return version, status, reason

    def begin(self) -> None:
        stream, watch = self.fp, _LineWatch(self.fp)
        self.fp = watch
        try:
            super().begin()
        finally:
            if self.fp is watch:
                self.fp = stream
        if watch.cut:
            raise HeadersCutOff("The connection ended before the end of the headers.")


class _PinnedConnectionMixin:
    """Connects the socket to the first of `pinned_addresses` that takes the connection;
    everything else still uses the hostname.

    Only the first address was tried: a host with an IPv6 address this network cannot
    reach (common) failed every attempt though its IPv4 address answered. Each address
    gets an even share of the time left, so one that never answers leaves the others
    theirs; `on_connect` is told which address took the connection.

    With a `deadline` (time.monotonic()), the socket is shut down when it passes: the
    timeout requests takes bounds each read, so a receiver sending its headers a line at a
    time held one attempt for minutes, past the delivery's lease (and a second worker
    sent the same event meanwhile)."""

    _dns_host: str
    response_class = CompleteHeadersResponse

    timeout: Any

    def __init__(
        self,
        *args: Any,
        pinned_addresses: tuple[str, ...],
        deadline: float | None = None,
        on_connect: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pinned_addresses = pinned_addresses
        self.deadline = deadline
        self.on_connect = on_connect
        self._cut_off: threading.Timer | None = None
        self._handing_off = False

    def _new_conn(self) -> socket.socket:
        timeout, failures = self.timeout, []
        for index, address in enumerate(self.pinned_addresses):
            try:
                left = len(self.pinned_addresses) - index
                sock = self._connect_to(address, self._share(timeout, left))
            except ConnectTimeoutError as error:  # NewConnectionError is one too
                failures.append((address, error))
                continue
            finally:
                self.timeout = timeout
            if isinstance(timeout, int | float):
                # The TLS handshake and the request keep the timeout they were given.
                sock.settimeout(timeout)
            if self.on_connect is not None:
                self.on_connect(address)
            self._arm_cut_off(sock)
            return sock
        if not failures:
            raise NewConnectionError(self, "The host has no address.")
        last = failures[-1][1]
        if len(failures) == 1:
            raise last
        tried = "; ".join(f"{address}: {error}" for address, error in failures)
        raise type(last)(self, f"No address took the connection ({tried})") from last

    def _share(self, timeout: Any, left: int) -> Any:
        """The connect timeout of the next address: an even share of what is left."""
        if not isinstance(timeout, int | float):
            return timeout  # no timeout to share
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
        return max(timeout / left, 0.01)

    def _connect_to(self, address: str, timeout: Any) -> socket.socket:
        # `host` (Host header, SNI, certificate check) derives from _dns_host, so swap it
        # only around the TCP connect, then restore the hostname before TLS starts.
        hostname, self._dns_host = self._dns_host, address
        self.timeout = timeout
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = hostname

    def _arm_cut_off(self, sock: socket.socket) -> None:
        if self.deadline is not None:
            wait = max(0.0, self.deadline - time.monotonic())
            self._cut_off = threading.Timer(wait, _shut_down, (sock,))
            self._cut_off.daemon = True
            self._cut_off.start()

    def getresponse(self) -> Any:
        # http.client closes the connection object as it hands the socket to a response
        # whose body ends with the connection (Connection: close, HTTP/1.0): the cut-off
        # must outlive that close, or such a body, trickled in, held the attempt (and
        # its worker) past the deadline for as long as the receiver went on. The
        # connection's close once the response was read (the pool's) still cancels it.
        self._handing_off = True
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            self._handing_off = False

    def close(self) -> None:
        if self._cut_off is not None and not self._handing_off:
            self._cut_off.cancel()
        super().close()  # type: ignore[misc]


def _shut_down(sock: socket.socket) -> None:
    """Ends a read blocked in another thread (closing the socket would not)."""
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)


class PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose every connection goes to one of the checked addresses;
    `address` is the one that took the latest connection ("" before any did)."""

    def __init__(self, target: CheckedTarget, deadline: float | None = None) -> None:
        super().__init__(max_retries=0)
        self.target = target
        self.deadline = deadline
        self.address = ""
        self._pools: list[HTTPConnectionPool] = []

    def _connected(self, address: str) -> None:
        self.address = address

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
    ) -> HTTPConnectionPool:
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if dns_name(host_params["host"]) != self.target.host:
            raise requests.ConnectionError("The request left the checked host.")
        if host_params["scheme"] == "https":
            pool: HTTPConnectionPool = PinnedHTTPSConnectionPool(
                host_params["host"],
                host_params["port"],
                pinned_addresses=self.target.addresses,
                deadline=self.deadline,
                on_connect=self._connected,
                **pool_kwargs,
            )
        else:
            pool = PinnedHTTPConnectionPool(
                host_params["host"],
                host_params["port"],
                pinned_addresses=self.target.addresses,
                deadline=self.deadline,
                on_connect=self._connected,
            )
        self._pools.append(pool)
        return pool

    def close(self) -> None:
        for pool in self._pools:
            pool.close()
        super().close()


def pinned_session(target: CheckedTarget, deadline: float | None = None) -> requests.Session:
    """A session whose connections go to the checked addresses only and, with a deadline
    (time.monotonic()), end when it passes, whatever the receiver is sending."""
    session = requests.Session()
    # No proxies from the environment: a proxy would resolve the host itself.
    session.trust_env = False
    adapter = PinnedAdapter(target, deadline)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
