"""Which webhook target URLs Steve will call: public http(s) hosts only (SSRF guard)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

BLOCKED_SUFFIXES = (".internal", ".local", ".localhost", ".localdomain")


class TargetRefused(ValueError):
    pass


def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve_checked(url: str) -> tuple[str, int, list[str]]:
    """(host, port, addresses) of a target after every check; raises TargetRefused."""
    parts = urlsplit(url)
    allow_http = settings.WEBHOOKS_ALLOW_HTTP
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise TargetRefused("The URL must use https.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise TargetRefused("The URL has no host.")
    if parts.username or parts.password:
        raise TargetRefused("The URL must not carry credentials.")
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS
    if not allow_private and (host == "localhost" or host.endswith(BLOCKED_SUFFIXES)):
        raise TargetRefused("The host is not a public host.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused("The host does not resolve.") from None
    addresses = sorted({info[4][0] for info in infos})
    if not allow_private:
        for address in addresses:
            if not address_is_public(ipaddress.ip_address(address.split("%")[0])):
                raise TargetRefused(f"The host resolves to a non-public address ({address}).")
    return host, port, addresses


def target_error(url: str) -> str | None:
    """Why a URL may not be a webhook target, or None when it may."""
    try:
        resolve_checked(url)
    except TargetRefused as exc:
        return str(exc)
    except ValueError:
        return "The URL is not valid."
    return None
