"""Which network targets a media fetch may reach: URL form checks, the address policy and
a single DNS resolution whose checked answer is the one the connection uses.

Numeric-host tricks (`127.1`, `2130706433`, `0x7f.0.0.1`) are refused by form; anything
else that resolves somewhere internal is refused by address, so the two layers cover each
other.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from inkshadow.errors import MediaFetchError, UnsafeURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata endpoints, refused even where a broader rule would not catch them.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Lower-case LDH labels (underscore tolerated: some real hosts use it); IDNA output fits.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$"
)
# A last label that is all digits, or hex, can only be a numeric IPv4 form.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_IPV6_CHARS = re.compile(r"^[0-9a-f:.]+$")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses that traffic to `ip` may end up at (mapped, 6to4, NAT64, Teredo)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def is_public_ip(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address outside any metadata range."""
    if ip in _METADATA:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # the same host as the IPv4 address it carries
            return is_public_ip(ip.ipv4_mapped)
        if ip.scope_id:
            return False
        if any(not is_public_ip(inner) for inner in _embedded_ipv4(ip)):
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
    )


@dataclass(frozen=True)
class AllowList:
    """`fetch_allow_hosts`: hostnames, IPs or CIDRs fetched even when not public."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host.rstrip(".") in self.names

    def allows_ip(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c in net for c in candidates for net in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked http(s) URL and where to connect for it."""

    url: httpx.URL
    host: str  # as httpx sends it: lower-case, IDNA-encoded, IPv6 without brackets
    port: int


def _authority(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else ""
    return re.split(r"[/?#]", rest, maxsplit=1)[0]


def check_http_url(url: str) -> Target:
    """Parse and check the form of an http(s) URL; raise UnsafeURL when refused."""
    if "\\" in url:
        raise UnsafeURL("media URL must not contain backslashes")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise UnsafeURL("media URL must not contain spaces or control characters")
    if "@" in _authority(url):
        raise UnsafeURL("media URL must not contain a user name or password")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeURL("media URL is not a valid URL (is the host name valid?)") from exc
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeURL("media URL must use http or https")
    if parsed.userinfo:
        raise UnsafeURL("media URL must not contain a user name or password")
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise UnsafeURL("media URL has no host")
    _check_host_form(host)
    return Target(parsed, host, parsed.port or _DEFAULT_PORTS[scheme])


def _check_host_form(host: str) -> None:
    if ":" in host:
        if not _IPV6_CHARS.match(host):
            raise UnsafeURL("media URL host is not a valid IPv6 address")
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UnsafeURL("media URL host is not a valid IPv6 address") from exc
        return
    if not _HOSTNAME.match(host):
        raise UnsafeURL("media URL host is not a valid host name")
    if _NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise UnsafeURL("media URL host must be a plain dotted IPv4 address") from exc


async def resolve_checked(target: Target, allow: AllowList) -> str:
    """Resolve the host once and return the one address to connect to.

    Every address the name resolves to must pass, so a mixed public/private answer is
    refused rather than raced.
    """
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    name_allowed = literal is None and allow.allows_name(target.host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    elif _is_localhost_name(target.host) and not name_allowed:
        # RFC 6761: these names are loopback by definition; no need to ask a resolver.
        raise UnsafeURL("media URL points to a private, local or reserved network address")
    else:
        addresses = await _lookup(target.host, target.port)
    for ip in addresses:
        if not (name_allowed or allow.allows_ip(ip) or is_public_ip(ip)):
            raise UnsafeURL("media URL points to a private, local or reserved network address")
    return str(addresses[0])


def _is_localhost_name(host: str) -> bool:
    name = host.rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


async def _lookup(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise MediaFetchError("could not resolve the media URL's host name") from exc
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise MediaFetchError("could not resolve the media URL's host name")
    return addresses
