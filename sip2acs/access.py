# -*- test-case-name: tests.test_access -*-
"""
Network access control: allow lists of addresses and networks, a cap on
connections per address, and a cooling-off period for an address after
repeated failed logins.

Addresses are compared as L{ipaddress} objects. An IPv4-mapped IPv6
address (C{::ffff:10.0.4.21}, what a dual-stack C{tcp6:} listener reports
for an IPv4 kiosk) counts as the IPv4 address, so one list serves both
kinds of listener.
"""

import ipaddress

import attrs
from twisted.logger import Logger
from twisted.protocols.policies import WrappingFactory

__all__ = [
    "AddressList",
    "AccessGate",
    "LoginThrottle",
    "parseAddress",
]


def parseAddress(host):
    """
    The IP address in a peer's C{host}.

    @param host: An address string (C{"10.0.4.21"}, C{"::1"},
        C{"fe80::1%eth0"}), an L{ipaddress} address, or L{None}.
    @return: An L{ipaddress.IPv4Address} or L{ipaddress.IPv6Address}, with
        IPv4-mapped IPv6 addresses turned into IPv4 and any zone dropped;
        L{None} when C{host} is not an IP address (a UNIX socket, a test
        transport).
    """
    if host is None:
        return None
    if isinstance(host, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address = host
    else:
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        try:
            address = ipaddress.ip_address(str(host).split("%", 1)[0])
        except ValueError:
            return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def addressKey(host):
    """
    The key one address is counted under: its normal form, or the string
    itself when it is not an IP address.
    """
    address = parseAddress(host)
    return str(address) if address is not None else str(host)


@attrs.frozen
class AddressList:
    """
    A list of addresses and networks, e.g. from an C{allow} key.

    @ivar networks: L{ipaddress} networks; a single address is a network
        of one (C{/32}, C{/128}).
    """

    networks: tuple

    @classmethod
    def parse(cls, entries):
        """
        Read a list of addresses and networks.

        @param entries: Strings such as C{"10.0.4.21"}, C{"10.0.4.0/24"},
            C{"2001:db8::/32"}, C{"::1"}.
        @return: C{(addressList, problems)}, where C{problems} is a list of
            texts (empty when every entry is good).
        """
        networks = []
        problems = []
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

    def __contains__(self, host):
        address = parseAddress(host)
        if address is None:
            return False
        return any(address in network for network in self.networks)

    def overlapping(self, other):
        """
        The pairs of networks, one from each list, that share addresses.
        """
        return [
            (mine, theirs)
            for mine in self.networks
            for theirs in other.networks
            if mine.version == theirs.version and mine.overlaps(theirs)
        ]

    def covers(self, other):
        """
        The networks of C{other} that are not wholly inside this list.
        """
        return [
            network
            for network in other.networks
            if not any(
                network.version == mine.version and network.subnet_of(mine)
                for mine in self.networks
            )
        ]

    def __str__(self):
        return ", ".join(str(network) for network in self.networks)


class AccessGate(WrappingFactory):
    """
    Guards a listener: a connection from an address outside its allow list,
    or beyond its cap of connections per address, is closed before any
    byte is read (L{buildProtocol} returns L{None}, so the reactor closes
    the socket at once), and the refusal is logged with the address.

    The cap counts on C{addr.host} (normalized); Twisted's own
    C{LimitConnectionsByPeer} cannot be used, it fails on address objects.
    Several kiosks behind one NAT share one address: set the cap with that
    in mind.

    @ivar allow: The L{AddressList}, or L{None} for every address.
    @ivar maxPerAddress: The cap; C{0} for none.
    @ivar counts: Open connections per address key.
    """

    log = Logger()
    noisy = False

    def __init__(self, wrappedFactory, allow=None, maxPerAddress=0, endpoint=""):
        WrappingFactory.__init__(self, wrappedFactory)
        self.allow = allow
        self.maxPerAddress = maxPerAddress
        self.endpoint = endpoint
        self.counts = {}

    def buildProtocol(self, addr):
        host = getattr(addr, "host", None)
        if self.allow is not None and host not in self.allow:
            self.log.info(
                "refused a connection from {peer} on {endpoint}: not in the"
                " listener's allow list",
                peer=host,
                endpoint=self.endpoint,
            )
            return None
        if not self.maxPerAddress:
            # Nothing to count: no wrapper, no cost per byte.
            return self.wrappedFactory.buildProtocol(addr)
        key = addressKey(host)
        if self.counts.get(key, 0) >= self.maxPerAddress:
            self.log.info(
                "refused a connection from {peer} on {endpoint}: it already"
                " has {count} (max-connections-per-address)",
                peer=host,
                endpoint=self.endpoint,
                count=self.counts[key],
            )
            return None
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        protocol = self.protocol(self, wrapped)
        protocol.addressKey = key
        return protocol

    def registerProtocol(self, protocol):
        WrappingFactory.registerProtocol(self, protocol)
        key = protocol.addressKey
        self.counts[key] = self.counts.get(key, 0) + 1

    def unregisterProtocol(self, protocol):
        WrappingFactory.unregisterProtocol(self, protocol)
        key = protocol.addressKey
        left = self.counts.get(key, 0) - 1
        if left > 0:
            self.counts[key] = left
        else:
            self.counts.pop(key, None)


class LoginThrottle:
    """
    Counts failed logins per address and refuses logins from an address
    that failed too often: after C{limit} failures, each within C{period}
    seconds of the first, logins from that address are refused for
    C{period} seconds. A successful login clears the count.

    @ivar limit: Failures that start the cooling-off.
    @ivar period: Seconds: the window failures are counted in, and the
        length of the cooling-off.
    """

    MAX_TRACKED = 100000
    """
    Addresses remembered at most; beyond, stale entries are dropped first
    and then the oldest.
    """

    def __init__(self, limit, period, clock):
        """
        @param clock: An L{IReactorTime} provider.
        """
        self.limit = limit
        self.period = period
        self.clock = clock
        self._failures = {}
        self._cooling = {}

    def refusal(self, host):
        """
        Whether logins from C{host} are refused now.

        @return: The seconds of cooling-off left, or L{None} when a login
            may be tried.
        """
        key = addressKey(host)
        until = self._cooling.get(key)
        if until is None:
            return None
        left = until - self.clock.seconds()
        if left <= 0:
            del self._cooling[key]
            return None
        return left

    def failed(self, host):
        """
        Count a failed login from C{host}.

        @return: C{True} when this failure starts the cooling-off.
        """
        key = addressKey(host)
        now = self.clock.seconds()
        count, since = self._failures.get(key, (0, now))
        if now - since >= self.period:
            count, since = 0, now
        count += 1
        if count >= self.limit:
            self._failures.pop(key, None)
            self._cooling[key] = now + self.period
            self._prune(now)
            return True
        self._failures[key] = (count, since)
        self._prune(now)
        return False

    def succeeded(self, host):
        """
        A login from C{host} succeeded: forget its failures.
        """
        self._failures.pop(addressKey(host), None)

    def _prune(self, now):
        if len(self._failures) + len(self._cooling) <= self.MAX_TRACKED:
            return
        for key, (count, since) in list(self._failures.items()):
            if now - since >= self.period:
                del self._failures[key]
        for key, until in list(self._cooling.items()):
            if until <= now:
                del self._cooling[key]
        while len(self._failures) > self.MAX_TRACKED // 2:
            del self._failures[next(iter(self._failures))]
