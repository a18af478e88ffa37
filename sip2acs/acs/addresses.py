# -*- test-case-name: tests.test_access -*-
"""
Addresses and lists of them, as the ACS compares them: allow lists, the
addresses an account is bound to, the keys connections and logins are
counted under.

Addresses are compared as L{ipaddress} objects. An IPv4-mapped IPv6
address (C{::ffff:10.0.4.21}, what a dual-stack C{tcp6:} listener reports
for an IPv4 kiosk) counts as the IPv4 address, so one list serves both
kinds of listener.
"""

import functools
import ipaddress
from collections.abc import Iterable

import attrs

__all__ = ["AddressList", "addressKey", "parseAddress"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parseAddress(host: object) -> Address | None:
    """
    The IP address in a peer's C{host}.

    @param host: An address string (C{"10.0.4.21"}, C{"::1"},
        C{"fe80::1%eth0"}), its bytes, an L{ipaddress} address, or L{None};
        anything else is read as its C{str}.
    @return: An L{ipaddress.IPv4Address} or L{ipaddress.IPv6Address}, with
        IPv4-mapped IPv6 addresses turned into IPv4 and any zone dropped;
        L{None} when C{host} is not an IP address (a UNIX socket, a test
        transport).
    """
    if host is None:
        return None
    if isinstance(host, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return _unmapped(host)
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return _parseText(str(host))


@functools.lru_cache(maxsize=4096)
def _parseText(text: str) -> Address | None:
    """
    L{parseAddress} of a string, remembered: kiosks come back from the
    same addresses, and the addresses are immutable.
    """
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return _unmapped(address)


def _unmapped(address: Address) -> Address:
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def addressKey(host: object) -> str:
    """
    The key one address is counted under: its normal form, or the string
    itself when it is not an IP address.
    """
    if isinstance(host, str):
        return _keyOfText(host)
    address = parseAddress(host)
    return str(address) if address is not None else str(host)


@functools.lru_cache(maxsize=4096)
def _keyOfText(text: str) -> str:
    address = _parseText(text)
    return str(address) if address is not None else text


@attrs.frozen
class AddressList:
    """
    A list of addresses and networks, e.g. from an C{allow} key.

    @ivar networks: L{ipaddress} networks; a single address is a network
        of one (C{/32}, C{/128}).
    """

    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[object]) -> tuple["AddressList", list[str]]:
        """
        Read a list of addresses and networks.

        @param entries: Strings such as C{"10.0.4.21"}, C{"10.0.4.0/24"},
            C{"2001:db8::/32"}, C{"::1"}.
        @return: C{(addressList, problems)}, where C{problems} is a list of
            texts (empty when every entry is good).
        """
        networks: list[Network] = []
        problems: list[str] = []
        if not entries:
            problems.append(
                "must list at least one address or network (leave the key out"
                " to allow every address)"
            )
        for entry in entries:
            if not isinstance(entry, str):
                problems.append("%r is not an address or network string" % (entry,))
                continue
            try:
                network = ipaddress.ip_network(entry.strip(), strict=True)
            except ValueError:
                try:
                    loose = ipaddress.ip_network(entry.strip(), strict=False)
                except ValueError:
                    problems.append("%r is not an IP address or network" % (entry,))
                else:
                    problems.append(
                        "%r has host bits set; did you mean %s?" % (entry, loose)
                    )
                continue
            mapped = network.version == 6 and network.network_address.ipv4_mapped
            if mapped and network.prefixlen >= 96:
                problems.append(
                    "%r is IPv4-mapped; write it as IPv4 (%s/%d), which also"
                    " matches kiosks on dual-stack listeners"
                    % (entry, mapped, network.prefixlen - 96)
                )
                continue
            networks.append(network)
        return cls(tuple(networks)), problems

    def __contains__(self, host: object) -> bool:
        address = parseAddress(host)
        if address is None:
            return False
        return any(address in network for network in self.networks)

    def overlapping(self, other: "AddressList") -> list[tuple[Network, Network]]:
        """
        The pairs of networks, one from each list, that share addresses.
        """
        return [
            (mine, theirs)
            for mine in self.networks
            for theirs in other.networks
            if mine.version == theirs.version and mine.overlaps(theirs)
        ]

    def covers(self, other: "AddressList") -> list[Network]:
        """
        The networks of C{other} that are not wholly inside this list.
        """
        return [
            network
            for network in other.networks
            if not any(
                # The version check pairs IPv4 with IPv4 and IPv6 with IPv6,
                # which the stub's overloads cannot see.
                network.version == mine.version
                and network.subnet_of(mine)  # type: ignore[arg-type]
                for mine in self.networks
            )
        ]

    def __str__(self) -> str:
        return ", ".join(str(network) for network in self.networks)
