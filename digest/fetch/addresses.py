"""Which IP addresses a feed may be fetched from, decided before any socket exists.

Owns: the address policy against server-side request forgery. `not_public`
says why an address is not a public unicast address (loopback, private,
link-local, multicast, unspecified, reserved, shared, documentation, …),
looking through every IPv6 form that carries an IPv4 address inside
(IPv4-mapped, IPv4-compatible, 6to4, NAT64;
Teredo's 2001::/32 is refused as a whole); `AddressPolicy.refusal`
adds the operator's allowlist (`[gather] allow_private`); `resolve_checked`
resolves a host with `getaddrinfo` and returns only addresses that passed, or
raises `AddressRefused`. Pure but for `resolve_checked`'s name lookup: no
socket is ever created here.
Doesn't own: connecting (`digest.fetch.transport` connects only to what
`resolve_checked` returned, which is what makes the check and the connection
one and the same address), HTTP, or the wording of a feed's error
(`digest.fetch.fetcher`).

Every notation reaches the same check: `2130706433`, `0x7f.1`, `127.1` and
`0177.0.0.1` are what `getaddrinfo` (inet_aton) turns them into, 127.0.0.1, and
the check runs on that, never on the text of the host.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from digest.errors import DigestError

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Python 3.11's `is_global` misses some blocks (it calls 224.0.0.0/4 global, and
# before 3.11.10 it does not look inside ::ffff:0:0/96): named checks come first,
# and these blocks are refused by name as well.
_SHARED = ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ip_network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)
_NAT64_LOCAL = ip_network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215)
_COMPAT = ip_network("::/96")  # deprecated IPv4-compatible IPv6 (::a.b.c.d)


class AddressRefused(DigestError):
    """A host resolved to an address digest will not connect to. `reason` says why."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(
            f"{host}: {reason}",
            hint="a feed on your own network needs its address in [gather] allow_private",
        )
        self.host = host
        self.reason = reason


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64)."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPAT and int(address) > 1):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    """Why `address` itself (not what it embeds) is not public, or None."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "site-local"
    if isinstance(address, IPv4Address) and address in _SHARED:
        return "shared (carrier-grade NAT)"
    if isinstance(address, IPv6Address) and address in _NAT64_LOCAL:
        return "local-use NAT64"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


def not_public(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address, or None when it is one.

    An IPv6 address that carries an IPv4 one is judged by both: ::ffff:127.0.0.1,
    ::127.0.0.1, 2002:7f00:1::, 64:ff9b::a00:1 are all refused.
    """
    inner = embedded_ipv4(address)
    if inner is not None:
        inner_kind = _kind(inner)
        if inner_kind is not None:
            return f"{inner_kind} {inner}, inside an IPv6 address"
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            return None  # ::ffff:8.8.8.8 is 8.8.8.8
        if address in _NAT64:
            return None  # NAT64 of a public address: the gateway reaches a public host
    # The IPv4-compatible block ::/96 is itself reserved: even ::8.8.8.8 is refused.
    return _kind(address)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Public addresses, plus the networks the operator allowed (`[gather] allow_private`)."""

    allow: tuple[Network, ...] = ()

    def allowed(self, address: IPAddress) -> bool:
        """True when `address` (or the IPv4 address it maps) is inside an allowed network."""
        candidates: list[IPAddress] = [address]
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)  # what an AF_INET6 socket really reaches
        return any(c.version == n.version and c in n for c in candidates for n in self.allow)

    def refusal(self, address: IPAddress) -> str | None:
        """Why a connection to `address` is refused, or None when it may be made."""
        if self.allowed(address):
            return None
        kind = not_public(address)
        if kind is None:
            return None
        return f"not a public address ({shown(address)}: {kind})"

    def is_private(self, address: IPAddress) -> bool:
        """True for an address that passes only thanks to the allowlist."""
        return not_public(address) is not None


def shown(address: IPAddress) -> str:
    """An address as people write it: ::ffff:127.0.0.1 rather than ::ffff:7f00:1."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def parse_address(text: str) -> IPAddress:
    """An address as `getaddrinfo` writes it (an IPv6 scope `%eth0` is dropped)."""
    return ip_address(text.split("%", 1)[0])


def check_addresses(host: str, addresses: Sequence[str], policy: AddressPolicy) -> list[str]:
    """Every address must pass, or the host is refused: a name that resolves to a
    public and a private address at once is not trusted with either."""
    if not addresses:
        raise AddressRefused(host, "resolves to no address")
    checked: list[str] = []
    for text in addresses:
        try:
            address = parse_address(text)
        except ValueError:
            raise AddressRefused(host, f"resolves to {text!r}, not an IP address") from None
        why = policy.refusal(address)
        if why is not None:
            raise AddressRefused(host, why)
        if str(address) not in checked:
            checked.append(str(address))
    return checked


class ResolveError(DigestError):
    """The host name could not be resolved (says nothing about any port)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: cannot resolve the host name ({reason})")
        self.host = host


async def resolve_checked(host: str, port: int, policy: AddressPolicy) -> list[str]:
    """Resolve `host` and return its addresses, all of them checked; raises
    `AddressRefused` (or `ResolveError`) before any socket is created."""
    try:
        # A literal in any notation needs no lookup: answered at once, no thread.
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as e:
            raise ResolveError(host, str(e) or type(e).__name__) from None
    return check_addresses(host, [str(info[4][0]) for info in infos], policy)
