"""Which addresses a webhook may reach: the public internet, plus an explicit allowlist.

A webhook URL is chosen by a user and fetched by the cloud, so without a policy it is a way
to make the cloud call its own internal services (server-side request forgery): loopback
admin ports, the database, a cloud provider's metadata service at 169.254.169.254. So every
address the cloud would connect to must be public, unless an operator lists its network in
``REVLINK_WEBHOOK_ALLOWED_NETWORKS`` (on-premises receivers).

Two checks use this module: at creation, a URL whose host is a literal IP (in any spelling
``inet_aton`` accepts, e.g. ``2130706433`` or ``0x7f.1``) is refused early; at delivery,
*every* address the name resolves to is checked and the cloud then connects to the checked
address itself, so a DNS answer that changes between check and connect (rebinding) cannot
reach an internal host. Everything here is pure.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import SplitResult, urlsplit

__all__ = [
    "ALLOWED_SCHEMES",
    "IPAddress",
    "IPNetwork",
    "check_url",
    "literal_ip",
    "parse_networks",
    "refusal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Named ranges first, so a refusal says why; ``is_global`` below catches whatever IANA
# lists as not globally reachable that these miss.
_REFUSED: tuple[tuple[str, IPNetwork], ...] = tuple(
    (reason, ipaddress.ip_network(net))
    for reason, net in (
        ("unspecified", "0.0.0.0/8"),
        ("loopback", "127.0.0.0/8"),
        ("private", "10.0.0.0/8"),
        ("private", "172.16.0.0/12"),
        ("private", "192.168.0.0/16"),
        ("carrier-grade NAT", "100.64.0.0/10"),
        ("link-local", "169.254.0.0/16"),
        ("reserved", "192.0.0.0/24"),
        ("documentation", "192.0.2.0/24"),
        ("benchmarking", "198.18.0.0/15"),
        ("documentation", "198.51.100.0/24"),
        ("documentation", "203.0.113.0/24"),
        ("multicast", "224.0.0.0/4"),
        ("reserved", "240.0.0.0/4"),
        ("unspecified", "::/128"),
        ("loopback", "::1/128"),
        ("private", "fc00::/7"),
        ("link-local", "fe80::/10"),
        ("reserved", "fec0::/10"),
        ("multicast", "ff00::/8"),
        ("documentation", "2001:db8::/32"),
        ("reserved", "100::/64"),
    )
)

# IPv6 ranges that carry an IPv4 address inside: the IPv4 one decides.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


def _in(ip: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def refusal(ip: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why the cloud must not connect to ``ip`` (e.g. ``"loopback"``), or None if it may.

    An address in ``allowed`` is always fine; so is an IPv4-mapped (or NAT64, 6to4, Teredo)
    IPv6 address whose IPv4 address is in ``allowed``.
    """
    if _in(ip, allowed):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            reason = refusal(inner, allowed)
            return f"{reason} (inside {ip})" if reason else None
        if ip in _SIX_TO_FOUR:  # a 6to4 prefix with no usable address
            return "reserved"
    for reason, net in _REFUSED:
        if ip.version == net.version and ip in net:
            return reason
    if not ip.is_global:
        return "not globally reachable"
    return None


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.1/32, 10.0.0.0/8"`` as networks; a bare address means just that one.

    Raises ValueError naming the bad item (host bits set count as bad: ``10.0.0.1/8`` is
    almost always a typo for something else).
    """
    found: list[IPNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(f"not a network in CIDR form: {item!r} ({exc})") from None
    return tuple(found)


def literal_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address if it is one in any spelling a resolver accepts, else None.

    Besides the usual forms, legacy IPv4 spellings (``2130706433``, ``0x7f.1``, ``127.1``)
    count: ``getaddrinfo`` turns them into addresses without asking DNS.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if text and all(c in "0123456789abcdefxABCDEFX." for c in text) and text[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def check_url(url: str, allowed: Sequence[IPNetwork] = ()) -> SplitResult:
    """The creation-time check: an http(s) URL with a host that is not a refused literal IP.

    Returns the parsed URL; raises ValueError with a message fit for a 422. A *name* passes
    here whatever it resolves to; delivery checks the resolved addresses.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise ValueError("the URL must start with http:// or https://")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host")
    if port == 0:
        raise ValueError("the URL's port must be 1..65535")
    ip = literal_ip(host)
    if ip is not None:
        reason = refusal(ip, allowed)
        if reason:
            raise ValueError(
                f"address not allowed: {ip} is {reason}; webhooks only reach public "
                "addresses unless REVLINK_WEBHOOK_ALLOWED_NETWORKS lists the network"
            )
    return parts
