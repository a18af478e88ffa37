# -*- test-case-name: tests.test_access -*-
"""
Network access control: allow lists of addresses and networks, a cap on
connections per address, and a cooling-off period for a login id from an
address after repeated failed logins.

Addresses are compared as L{ipaddress} objects. An IPv4-mapped IPv6
address (C{::ffff:10.0.4.21}, what a dual-stack C{tcp6:} listener reports
for an IPv4 kiosk) counts as the IPv4 address, so one list serves both
kinds of listener.
"""

import hashlib
import ipaddress

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.protocols.policies import WrappingFactory

from sip2acs.transports.halfclose import HalfCloseableWrapper

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
    protocol = HalfCloseableWrapper

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


def _loginKey(login):
    """
    The key one login id is counted under: itself, or a digest of it when
    it is too long to keep (so a flood of huge login ids costs no memory).
    L{None} stands for every login id that is not configured.
    """
    if login is None or len(login) <= 64:
        return login
    return "sha256:" + hashlib.sha256(login.encode("utf-8", "replace")).hexdigest()


class LoginThrottle:
    """
    Counts login attempts per (address, login) and refuses a login id from
    an address that failed too often: after C{limit} failures, each within
    C{period} seconds of the first, that login id is refused from that
    address for C{period} seconds.

    Each attempt takes a slot before its password is checked (L{attempt}),
    and the slot is given back when the check ends (L{succeeded},
    L{failed}, L{released}). While the failures and the checks in progress
    add up to C{limit}, further attempts wait, and are refused unchecked
    if those checks start a cooling-off: parallel guesses cannot outrun
    the count, and parallel good logins (a fleet of kiosks reconnecting)
    are only queued. A successful login clears the
    failures of its own login id only: another login from the same address
    (a kiosk sharing a NAT address with an attacker) never clears them.

    @ivar limit: Failures that start the cooling-off.
    @ivar period: Seconds: the window failures are counted in, and the
        length of the cooling-off.
    """

    MAX_TRACKED = 100000
    """
    (Address, login) pairs remembered at most; beyond, stale entries are
    dropped first and then the oldest.
    """

    MAX_WAITING = 1000
    """
    Attempts that may wait for a slot of one (address, login); more are
    refused.
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
        self._checking = {}
        self._waiting = {}

    def _key(self, host, login):
        return (addressKey(host), _loginKey(login))

    def _failureCount(self, key, now):
        count, since = self._failures.get(key, (0, now))
        if now - since >= self.period:
            return 0, now
        return count, since

    def attempt(self, host, login):
        """
        Take a slot to check a login from C{host} as C{login}; give it back
        with L{succeeded}, L{failed} or L{released}. While the failures and
        the checks in progress add up to C{limit}, the attempt waits for a
        slot (its check would decide nothing more), and is refused if the
        checks in progress end in a cooling-off.

        @return: A L{Deferred} firing with L{None} once the slot is taken
            and the password may be checked (at once when one is free), or
            with why not, as text.
        """
        key = self._key(host, login)
        refusal = self._refusal(key)
        if refusal is not None:
            return succeed(refusal)
        waiting = self._waiting.get(key)
        if waiting is None and self._take(key):
            return succeed(None)
        if waiting is None:
            waiting = self._waiting[key] = []
        if len(waiting) >= self.MAX_WAITING:
            return succeed("too many logins waiting for the ones being checked")
        d = Deferred()
        waiting.append(d)
        return d

    def _refusal(self, key):
        until = self._cooling.get(key)
        if until is None:
            return None
        now = self.clock.seconds()
        if until > now:
            return "cooling off after repeated failed logins (%.0f s left)" % (
                until - now,
            )
        del self._cooling[key]
        return None

    def _take(self, key):
        count, since = self._failureCount(key, self.clock.seconds())
        checking = self._checking.get(key, 0)
        if count + checking >= self.limit:
            return False
        self._checking[key] = checking + 1
        return True

    def _wake(self, key):
        """
        A slot of C{key} was given back: let waiting attempts go on, or
        refuse them all if C{key} is cooling off now.
        """
        waiting = self._waiting.get(key)
        while waiting:
            refusal = self._refusal(key)
            if refusal is not None:
                del self._waiting[key]
                for d in waiting:
                    d.callback(refusal)
                return
            if not self._take(key):
                return
            waiting.pop(0).callback(None)
        self._waiting.pop(key, None)

    def released(self, host, login):
        """
        Give back the slot of an attempt whose check could not be made.
        """
        self._release(self._key(host, login))

    def _release(self, key):
        left = self._checking.get(key, 0) - 1
        if left > 0:
            self._checking[key] = left
        else:
            self._checking.pop(key, None)
        self._wake(key)

    def failed(self, host, login):
        """
        The check of an attempt failed: give back its slot and count the
        failure.

        @return: C{True} when this failure starts the cooling-off.
        """
        key = self._key(host, login)
        now = self.clock.seconds()
        count, since = self._failureCount(key, now)
        count += 1
        cooling = count >= self.limit
        if cooling:
            self._failures.pop(key, None)
            self._cooling[key] = now + self.period
        else:
            self._failures[key] = (count, since)
        self._prune(now)
        self._release(key)
        return cooling

    def succeeded(self, host, login):
        """
        The check of an attempt succeeded: give back its slot and forget
        the failures of this login from this address (only).
        """
        key = self._key(host, login)
        self._failures.pop(key, None)
        self._release(key)

    def _prune(self, now):
        if len(self._failures) + len(self._cooling) <= self.MAX_TRACKED:
            return
        for key, (_count, since) in list(self._failures.items()):
            if now - since >= self.period:
                del self._failures[key]
        for key, until in list(self._cooling.items()):
            if until <= now:
                del self._cooling[key]
        while len(self._failures) > self.MAX_TRACKED // 2:
            del self._failures[next(iter(self._failures))]
