"""Refuse webhook targets inside the operator's network (SECURITY.md T11), resolving names ourselves.

Every address a name resolves to must be public; the connection then goes to the checked address
(never resolved again, so a DNS answer cannot change between check and connect). Redirects are
never followed. Loopback/private/link-local targets are allowed only with
WEBHOOK_ALLOW_PRIVATE_TARGETS; cloud metadata addresses are refused always.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services: AWS/GCP/Azure/OpenStack, AWS IPv6, ECS task metadata, Alibaba.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200", "169.254.169.123")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(ValueError):
    """The URL is malformed or points where webhooks may not go; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as the URL names it (Host header, TLS server name)
    port: int
    path: str  # path and query
    address: IPAddress  # where the connection goes

    @property
    def connect_url(self) -> str:
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == default else f"{shown}:{self.port}"


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address, else itself."""
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why a connection to `address` is refused, or None."""
    inner = _embedded_ipv4(address)
    for candidate in {address, inner}:
        if candidate in METADATA:
            return "a cloud metadata address"
    if inner.is_multicast or inner.is_unspecified or (inner.is_reserved and not inner.is_private):
        return "a reserved address"
    if allow_private:
        return None
    if inner.is_loopback:
        return "a loopback address"
    if inner.is_link_local:
        return "a link-local address"
    if inner.is_private or not inner.is_global:
        return "a private address"
    return None


def parse(url: object) -> tuple[str, str, int, str]:
    """Check the URL's shape: http(s), a host, no credentials; return scheme, host, port, path."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise TargetRefused("The URL must be an http or https URL of at most 2048 characters.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise TargetRefused("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("The URL is malformed.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("The URL must start with http:// or https://.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The URL must not carry a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("The URL has no host.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(url: object, *, allow_private: bool | None = None) -> Target:
    """Resolve the URL's host and return a Target whose every resolved address is allowed."""
    allow = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS if allow_private is None else allow_private
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise TargetRefused(f"The host {host!r} does not resolve.") from exc
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        why = refusal(address, allow)
        if why:
            # One inside answer refuses the name: a rebinding name may hand out either.
            raise TargetRefused(f"The URL points to {why}; webhooks may not call it.")
        addresses.append(address)
    if not addresses:
        raise TargetRefused(f"The host {host!r} does not resolve.")
    return Target(scheme, host, port, path, addresses[0])


def check_at_registration(url: object) -> None:
    """Refuse a malformed URL, or one whose host resolves (now) inside; a name that does not resolve yet is
    accepted, since every send resolves and checks again."""
    scheme, host, port, path = parse(url)
    try:
        resolve(url)
    except TargetRefused as exc:
        if "does not resolve" not in str(exc):
            raise
