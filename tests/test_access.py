"""
Tests for network access control (L{sip2acs.transports.access}, L{sip2acs.transports.proxy}):
listener and account allow lists, Sierra-style login by address, the
cooling-off after failed logins, the per-address cap, and the PROXY
protocol behind a load balancer. What the listener does (its allow list,
the cap, PROXY, TLS) is tested with kiosks on loopback sockets (127.0.0.1
and, where the host has it, ::1); what the session does (account allow
lists, login by address, the cooling-off) with kiosks in memory.
"""

import ipaddress
import socket
import struct

import attrs
from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import fail, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock, deferLater
from twisted.logger import Logger, formatEvent
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from sip2acs.acs.addresses import AddressList, parseAddress
from sip2acs.acs.throttle import IThrottleStore, LoginThrottle, MemoryThrottleStore
from sip2acs.config import ConfigError, parseConfig
from sip2acs.passwords import hashPassword
from sip2acs.sip import codec
from sip2acs.transports.proxy import V2_SIGNATURE, InvalidHeader, parseHeader
from tests.certs import clientOptions
from tests.fixtures import makeListener
from tests.listeners import ListenerHarness, RawClient, waitFor
from tests.loopback import (
    ADA,
    ADA_PIN,
    SIP2Client,
    captureLogs,
    login,
    makeAccount,
    makeConfig,
    request,
)
from tests.memory import InMemoryServer

STATUS = b"9900302.00"
REFUSED = codec.LoginResponse(ok=False)
ACCEPTED = codec.LoginResponse(ok=True)


def addresses(*entries):
    addressList, problems = AddressList.parse(list(entries))
    assert not problems, problems
    return addressList


def messages(events):
    return [formatEvent(event) for event in events]


def proxyV1(source, destination="10.0.0.1", sourcePort=50123, destinationPort=6001):
    family = "TCP6" if ":" in source else "TCP4"
    return (
        "PROXY %s %s %s %d %d\r\n"
        % (family, source, destination, sourcePort, destinationPort)
    ).encode("ascii")


def proxyV2(
    source,
    destination="10.0.0.1",
    sourcePort=50123,
    destinationPort=6001,
    command=0x21,
    tlvs=b"",
):
    if ":" in source:
        family = 0x21
        body = struct.pack(
            "!16s16sHH",
            ipaddress.IPv6Address(source).packed,
            ipaddress.IPv6Address(destination).packed,
            sourcePort,
            destinationPort,
        )
    else:
        family = 0x11
        body = struct.pack(
            "!4s4sHH",
            ipaddress.IPv4Address(source).packed,
            ipaddress.IPv4Address(destination).packed,
            sourcePort,
            destinationPort,
        )
    body += tlvs
    return V2_SIGNATURE + bytes((command, family)) + struct.pack("!H", len(body)) + body


def memoryListener(testCase, accounts=None, clock=None, **listenerSettings):
    """
    An L{InMemoryServer} whose one listener is set up as
    L{ListenerHarness}'s: on 127.0.0.1 with C{listenerSettings}.
    """
    listener = makeListener(**listenerSettings)
    config = attrs.evolve(makeConfig(accounts=accounts), listeners=(listener,))
    return InMemoryServer(testCase, config=config, clock=clock)


def hasIPv6():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


# -- addresses -------------------------------------------------------------


class AddressListTests(SynchronousTestCase):
    def test_contains(self) -> None:
        """
        Addresses match single addresses and networks of their own family;
        IPv4-mapped IPv6 addresses match as IPv4, zones are ignored, and
        things that are not IP addresses match nothing.
        """
        allowed = addresses("10.0.4.0/24", "192.0.2.7", "2001:db8::/32", "::1")
        for host in [
            "10.0.4.21",
            "192.0.2.7",
            "::ffff:10.0.4.9",
            "2001:db8::5",
            "::1",
            "2001:db8::1%eth0",
        ]:
            self.assertIn(host, allowed)
        for host in [
            "10.0.5.1",
            "192.0.2.8",
            "::ffff:10.0.5.1",
            "2001:db9::1",
            None,
            "/run/sip2acs.sock",
            "not an address",
        ]:
            self.assertNotIn(host, allowed)
        self.assertEqual(str(parseAddress("::ffff:127.0.0.1")), "127.0.0.1")

    def test_problems(self) -> None:
        """
        Bad entries are named: not an address, host bits set (with the
        network meant), an IPv4-mapped network, a non-string, an empty
        list.
        """
        _, problems = AddressList.parse(
            ["10.0.4.1/24", "bogus", "::ffff:10.0.0.0/104", 7]
        )
        self.assertEqual(
            problems,
            [
                "'10.0.4.1/24' has host bits set; did you mean 10.0.4.0/24?",
                "'bogus' is not an IP address or network",
                "'::ffff:10.0.0.0/104' is IPv4-mapped; write it as IPv4"
                " (10.0.0.0/8), which also matches kiosks on dual-stack listeners",
                "7 is not an address or network string",
            ],
        )
        _, problems = AddressList.parse([])
        self.assertEqual(len(problems), 1)


class AccessConfigTests(SynchronousTestCase):
    """
    The access keys of C{[[listener]]} and C{[[account]]}.
    """

    def config(self, listener=None, accounts=None):
        data = {
            "listener": [dict({"endpoint": "tcp:6001"}, **(listener or {}))],
            "institution": [{"id": "LIB"}],
            "account": [
                dict(
                    {
                        "login": "sc%d" % (index,),
                        "password": hashPassword("pw", cost=4),
                        "institution": "LIB",
                    },
                    **account,
                )
                for index, account in enumerate(accounts or [{}])
            ],
        }
        return parseConfig(data)

    def test_keys(self) -> None:
        """
        Every access key is read; left out, they allow everything, cap
        nothing, expect no PROXY header, and cool an address off for 300 s
        after 10 failed logins.
        """
        config = self.config()
        listener = config.listeners[0]
        self.assertEqual(
            (
                listener.access.allow,
                listener.proxy,
                listener.access.maxConnectionsPerAddress,
                listener.access.loginFailuresBeforeCooloff,
                listener.access.cooloff,
            ),
            (None, None, 0, 10, 300.0),
        )
        config = self.config(
            {
                "allow": ["10.0.0.0/8"],
                "proxy-protocol": True,
                "proxy-from": ["192.0.2.10"],
                "max-connections-per-address": 4,
                "login-failures-before-cooloff": 5,
                "cooloff": 60,
            },
            [{"allow": ["10.0.4.0/24"], "addresses": ["10.0.4.21"]}],
        )
        listener = config.listeners[0]
        self.assertIn("10.1.2.3", listener.access.allow)
        self.assertIsNotNone(listener.proxy)
        self.assertIn("192.0.2.10", listener.proxy.trusted)
        self.assertEqual(
            (
                listener.access.maxConnectionsPerAddress,
                listener.access.loginFailuresBeforeCooloff,
                listener.access.cooloff,
            ),
            (4, 5, 60.0),
        )
        account = config.accounts["sc0"]
        self.assertIn("10.0.4.21", account.addresses)
        self.assertNotIn("10.0.5.1", account.allow)

    def test_located(self) -> None:
        """
        Bad access settings are reported with their location: a bad
        network, PROXY senders without the PROXY protocol, negative caps, a
        zero cooling-off, a haproxy: endpoint beside an allow list, bound
        addresses outside the account's allow list, and two accounts bound
        to overlapping addresses.
        """
        error = self.assertRaises(
            ConfigError,
            self.config,
            {
                "endpoint": "haproxy:tcp:6001",
                "allow": ["10.0.0.300"],
                "proxy-from": ["192.0.2.10"],
                "max-connections-per-address": -1,
                "login-failures-before-cooloff": -1,
                "cooloff": 0,
            },
            [
                {"allow": ["10.0.4.0/24"], "addresses": ["10.0.5.0/24"]},
                {"addresses": ["10.0.5.7", "10.9.0.0/16"]},
            ],
        )
        self.assertEqual(
            error.problems,
            [
                "listener[0].allow: '10.0.0.300' is not an IP address or network",
                "listener[0].proxy-from: is only for proxy-protocol = true",
                "listener[0].max-connections-per-address: must be 0 (no cap) or more",
                "listener[0].login-failures-before-cooloff: must be 0 (never cool off)"
                " or more",
                "listener[0].cooloff: must be more than 0 and at most 86400 seconds",
                "listener[0].endpoint: use a plain endpoint with proxy-protocol = true"
                " instead of a haproxy: endpoint, so that allow lists see the kiosk's"
                " address",
                "account[0].addresses: 10.0.5.0/24 is not inside this account's allow"
                " list",
                "account[0].addresses: 10.0.5.0/24 overlaps 10.0.5.7/32 of account[1]"
                " ('sc1'): each address may log in one account",
            ],
        )


class LoginThrottleTests(SynchronousTestCase):
    def failOnce(self, throttle, host, login="kiosk"):
        """
        One failed attempt: take a slot, then count the failure.
        """
        self.assertIsNone(self.successResultOf(throttle.attempt(host, login)))
        return throttle.failed(host, login)

    def test_coolingOff(self) -> None:
        """
        The third failure within the period starts a cooling-off of that
        period for that login from that address; other addresses are
        unaffected; when it ends, logins are tried again and the count
        starts afresh.
        """
        clock = Clock()
        throttle = LoginThrottle(3, 60, clock)
        self.assertFalse(self.failOnce(throttle, "10.0.0.1"))
        self.assertFalse(self.failOnce(throttle, "::ffff:10.0.0.1"))
        self.assertTrue(self.failOnce(throttle, "10.0.0.1"))
        refused = "cooling off after repeated failed logins (%s s left)"
        self.assertEqual(
            self.successResultOf(throttle.attempt("10.0.0.1", "kiosk")), refused % 60
        )
        self.assertFalse(self.failOnce(throttle, "10.0.0.2"))
        clock.advance(59)
        self.assertEqual(
            self.successResultOf(throttle.attempt("10.0.0.1", "kiosk")), refused % 1
        )
        clock.advance(1)
        self.assertFalse(self.failOnce(throttle, "10.0.0.1"))

    def test_windowAndSuccess(self) -> None:
        """
        Failures further apart than the period do not add up, and a
        success clears the count of its login.
        """
        clock = Clock()
        throttle = LoginThrottle(2, 60, clock)
        self.assertFalse(self.failOnce(throttle, "10.0.0.1"))
        clock.advance(61)
        self.assertFalse(self.failOnce(throttle, "10.0.0.1"))
        self.assertIsNone(self.successResultOf(throttle.attempt("10.0.0.1", "kiosk")))
        throttle.succeeded("10.0.0.1", "kiosk")
        self.assertFalse(self.failOnce(throttle, "10.0.0.1"))
        self.assertTrue(self.failOnce(throttle, "10.0.0.1"))

    def test_perLogin(self) -> None:
        """
        Failures count per (address, login): another login's success from
        the same address does not clear them, and does not cool off.
        """
        throttle = LoginThrottle(2, 60, Clock())
        self.assertFalse(self.failOnce(throttle, "10.0.0.1", "kiosk2"))
        self.assertIsNone(self.successResultOf(throttle.attempt("10.0.0.1", "kiosk")))
        throttle.succeeded("10.0.0.1", "kiosk")
        self.assertTrue(self.failOnce(throttle, "10.0.0.1", "kiosk2"))
        self.assertIsNone(self.successResultOf(throttle.attempt("10.0.0.1", "kiosk")))

    def test_slotsTakenBeforeTheCheck(self) -> None:
        """
        Attempts take a slot before their check: with C{limit} checks in
        progress, the next attempt waits; if they fail it is refused
        unchecked, if one succeeds it goes on.
        """
        throttle = LoginThrottle(2, 60, Clock())
        for _ in range(2):
            self.assertIsNone(self.successResultOf(throttle.attempt("10.0.0.1", "k")))
        waiting = [throttle.attempt("10.0.0.1", "k") for n in range(3)]
        for d in waiting:
            self.assertNoResult(d)
        throttle.succeeded("10.0.0.1", "k")
        self.assertIsNone(self.successResultOf(waiting[0]))
        self.assertNoResult(waiting[1])
        throttle.failed("10.0.0.1", "k")
        self.assertNoResult(waiting[1])
        self.assertTrue(throttle.failed("10.0.0.1", "k"))
        for d in waiting[1:]:
            self.assertIn("cooling off", self.successResultOf(d))

    def test_longLoginKeptShort(self) -> None:
        """
        A huge login id is remembered by a digest, not by itself.
        """
        throttle = LoginThrottle(5, 60, Clock())
        self.failOnce(throttle, "10.0.0.1", "x" * 100000)
        [(address, key)] = throttle._failures
        self.assertLess(len(key), 100)

    def test_bounded(self) -> None:
        """
        The number of addresses remembered is bounded.
        """
        clock = Clock()
        throttle = LoginThrottle(5, 60, clock)
        throttle.MAX_TRACKED = 100
        for n in range(1000):
            self.failOnce(throttle, "10.0.%d.%d" % (n // 256, n % 256))
        self.assertLessEqual(len(throttle._failures), 101)


class SharedThrottleTests(SynchronousTestCase):
    """
    Two L{LoginThrottle}s (two instances) counting in one shared store.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.shared = MemoryThrottleStore()
        self.first = LoginThrottle(3, 60, self.clock, self.shared)
        self.second = LoginThrottle(3, 60, self.clock, self.shared)

    failOnce = LoginThrottleTests.failOnce

    def test_provides(self) -> None:
        from zope.interface.verify import verifyObject

        self.assertTrue(verifyObject(IThrottleStore, self.shared))

    def test_failuresCountOnEveryInstance(self) -> None:
        """
        Failures on one instance count on the other: the third, wherever
        it happens, starts the cooling-off, and both refuse the login from
        that address then; other addresses and logins are unaffected.
        """
        self.assertFalse(self.failOnce(self.first, "10.0.0.1"))
        self.assertFalse(self.failOnce(self.first, "10.0.0.1"))
        self.assertTrue(self.failOnce(self.second, "10.0.0.1"))
        for throttle in (self.first, self.second):
            self.assertIn("cooling off",
                          self.successResultOf(throttle.attempt("10.0.0.1", "kiosk")))
        self.assertIsNone(self.successResultOf(self.first.attempt("10.0.0.2", "kiosk")))
        self.assertIsNone(self.successResultOf(self.first.attempt("10.0.0.1", "other")))
        self.clock.advance(60)
        self.assertFalse(self.failOnce(self.first, "10.0.0.1"))

    def test_coolingOffReachesWaitingAttempts(self) -> None:
        """
        A cooling-off started on another instance refuses the attempts
        waiting here once the shared record is read.
        """
        self.assertFalse(self.failOnce(self.second, "10.0.0.1"))
        self.assertFalse(self.failOnce(self.second, "10.0.0.1"))
        self.assertIsNone(self.successResultOf(self.first.attempt("10.0.0.1", "kiosk")))
        waiting = self.first.attempt("10.0.0.1", "kiosk")
        self.assertNoResult(waiting)
        self.assertTrue(self.failOnce(self.second, "10.0.0.1"))
        self.first.released("10.0.0.1", "kiosk")
        self.assertIn("cooling off", self.successResultOf(waiting))

    def test_successClearsEverywhere(self) -> None:
        """
        A successful login on one instance clears the failures of that
        login counted on the other.
        """
        self.assertFalse(self.failOnce(self.first, "10.0.0.1"))
        self.assertFalse(self.failOnce(self.first, "10.0.0.1"))
        self.assertIsNone(self.successResultOf(self.second.attempt("10.0.0.1", "kiosk")))
        self.second.succeeded("10.0.0.1", "kiosk")
        self.assertEqual(self.shared.records, {})
        self.assertFalse(self.failOnce(self.second, "10.0.0.1"))
        self.assertFalse(self.failOnce(self.second, "10.0.0.1"))

    def test_sharedStoreDown(self) -> None:
        """
        A shared store that fails is logged once, and the instance counts
        alone meanwhile.
        """
        broken = MemoryThrottleStore()
        broken.read = lambda *a: fail(RuntimeError("database down"))  # type: ignore[method-assign]
        broken.change = lambda *a: fail(RuntimeError("database down"))  # type: ignore[method-assign]
        throttle = LoginThrottle(2, 60, self.clock, broken)
        events: list[dict] = []
        throttle.log = Logger(observer=events.append)
        self.assertFalse(self.failOnce(throttle, "10.0.0.1"))
        self.assertTrue(self.failOnce(throttle, "10.0.0.1"))
        self.assertEqual(len(events), 1, events)
        self.assertIn("cannot be used (database down)", formatEvent(events[0]))


class ProxyHeaderTests(SynchronousTestCase):
    def test_v1(self) -> None:
        """
        A v1 header gives the source and destination; UNKNOWN gives none.
        """
        source, destination, size = parseHeader(proxyV1("203.0.113.7") + b"93...")
        self.assertEqual(source, IPv4Address("TCP", "203.0.113.7", 50123))
        self.assertEqual(destination, IPv4Address("TCP", "10.0.0.1", 6001))
        self.assertEqual(size, len(proxyV1("203.0.113.7")))
        source, destination, size = parseHeader(proxyV1("2001:db8::7", "2001:db8::1"))
        self.assertEqual(source, IPv6Address("TCP", "2001:db8::7", 50123))
        self.assertEqual(parseHeader(b"PROXY UNKNOWN\r\n"), (None, None, 15))

    def test_v2(self) -> None:
        """
        A v2 header (with TLVs after the addresses) gives the source; a
        LOCAL command gives none.
        """
        header = proxyV2("203.0.113.7", tlvs=b"\x04\x00\x01x")
        source, destination, size = parseHeader(header + b"rest")
        self.assertEqual(source, IPv4Address("TCP", "203.0.113.7", 50123))
        self.assertEqual(size, len(header))
        source, _, _ = parseHeader(proxyV2("2001:db8::7", "2001:db8::1"))
        self.assertEqual(source.host, "2001:db8::7")
        self.assertEqual(
            parseHeader(proxyV2("203.0.113.7", command=0x20))[:2], (None, None)
        )

    def test_incomplete(self) -> None:
        """
        Every proper prefix of a header is incomplete, not invalid.
        """
        for header in [proxyV1("203.0.113.7"), proxyV2("203.0.113.7")]:
            for end in range(len(header)):
                self.assertIsNone(parseHeader(header[:end]))

    def test_invalid(self) -> None:
        """
        SIP2 without a header, a v1 line without CRLF in 107 bytes, a bad
        family, address or port, and an unknown v2 version are invalid.
        """
        for data in [
            b"9300CNkiosk|",
            b"PROXY TCP4 " + b"1" * 100,
            b"PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.5 1 99999\r\n",
            V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12,
        ]:
            self.assertRaises(InvalidHeader, parseHeader, data)


# -- over loopback sockets ----------------------------------------------------


class ListenerAllowTests(TestCase):
    @inlineCallbacks
    def test_outsideClosedBeforeReading(self):
        """
        A connection from an address outside the listener's allow list is
        closed before any byte is read: no session is built, nothing is
        answered, and the refusal is logged with the address.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self, allow=addresses("10.0.0.0/8"))
        client = yield acs.connect(client=RawClient())
        client.transport.write(login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        self.assertEqual(acs.built, [])
        self.assertIn(
            "refused a connection from 127.0.0.1 on tcp:0:interface=127.0.0.1: not"
            " in the listener's allow list",
            messages(events),
        )

    @inlineCallbacks
    def test_insideServed(self):
        """
        A connection from an allowed address is served as usual.
        """
        acs = ListenerHarness(self, allow=addresses("10.0.0.0/8", "127.0.0.0/8"))
        client = yield acs.connect()
        self.assertEqual((yield client.ask(login())).message, ACCEPTED)

    @inlineCallbacks
    def test_ipv6(self):
        """
        On an IPv6 listener, ::1 is matched by an IPv6 entry and refused
        by a list of IPv4 networks only.
        """
        if not hasIPv6():
            raise SkipTest("this host has no IPv6 loopback")
        acs = ListenerHarness(self, host="::1", allow=addresses("::1"))
        client = yield acs.connect()
        self.assertEqual((yield client.ask(login())).message, ACCEPTED)
        refusing = ListenerHarness(self, host="::1", allow=addresses("127.0.0.0/8"))
        client = yield refusing.connect(client=RawClient())
        yield client.lost
        self.assertEqual(refusing.built, [])


class AccountAllowTests(SynchronousTestCase):
    def test_outsideAnswered940(self):
        """
        A 93 with the right password from outside the account's allow list
        is answered 940, and logged with the address; an account without a
        list logs in from the same address.
        """
        events = captureLogs(self)
        acs = memoryListener(
            self,
            accounts=[
                makeAccount(allow=addresses("10.0.4.0/24")),
                makeAccount("open", "pw"),
            ],
        )
        client = acs.connect()
        self.assertEqual(client.ask(login()).message, REFUSED)
        self.assertIn(
            "login 'kiosk' from 127.0.0.1 refused: the address is not in the"
            " account's allow list",
            messages(events),
        )
        self.assertEqual(client.ask(login("open", "pw")).message, ACCEPTED)


class AddressLoginTests(SynchronousTestCase):
    """
    Sierra's way: a kiosk that never sends 93 is logged in by its address.
    """

    def test_loggedInWithout93(self):
        """
        A kiosk from an address bound to an account is served at once: its
        first message is a 63 and it is answered for that account, whose
        location reaches the 98.
        """
        events = captureLogs(self)
        acs = memoryListener(
            self,
            accounts=[makeAccount(addresses=addresses("127.0.0.1"), location="EAST")],
        )
        client = acs.connect()
        patron = request(
            codec.PatronInformation, patronIdentifier=ADA, patronPassword=ADA_PIN
        )
        information = client.ask(patron).message
        self.assertEqual(information.personalName, "Ada Quillfeather")
        status = client.ask(STATUS).message
        self.assertEqual(status.terminalLocation, "EAST")
        self.assertIn("kiosk logged in from 127.0.0.1 by its address", messages(events))

    def test_93Overrides(self):
        """
        A 93 from a kiosk logged in by its address logs it in as the
        account it names; a wrong 93 logs it out, as on any connection.
        """
        acs = memoryListener(
            self,
            accounts=[
                makeAccount(addresses=addresses("127.0.0.0/8")),
                makeAccount("other", "pw", location="WEST"),
            ],
        )
        client = acs.connect()
        session = client.server.session
        self.assertEqual(session.account.login, "kiosk")
        self.assertEqual(client.ask(login("other", "pw")).message, ACCEPTED)
        self.assertEqual(session.account.login, "other")
        self.assertEqual(client.ask(login("other", "bad")).message, REFUSED)
        self.assertIsNone(session.account)

    def test_otherAddressesNeed93(self):
        """
        A kiosk from an address no account is bound to must log in with a
        93, as before.
        """
        acs = memoryListener(
            self, accounts=[makeAccount(addresses=addresses("10.0.4.21"))]
        )
        client = acs.connect()
        client.send(STATUS + b"\r")
        client.waitForClose()
        self.assertEqual(client.data, b"")


class CoolingOffTests(SynchronousTestCase):
    def test_refusedThenAllowed(self):
        """
        After three failed logins from one address, even the right password
        from it gets 940 (logged, without a password check) until the
        cooling-off period has passed; then it logs in.
        """
        events = captureLogs(self)
        clock = Clock()
        acs = memoryListener(
            self, clock=clock, loginFailuresBeforeCooloff=3, cooloff=120
        )
        first = acs.connect()
        for _ in range(2):
            self.assertEqual(first.ask(login(password="bad")).message, REFUSED)
        second = acs.connect()
        self.assertEqual(second.ask(login(password="bad")).message, REFUSED)
        self.assertIn(
            "127.0.0.1: 3 failed logins as login 'kiosk' on"
            " tcp:0:interface=127.0.0.1; refusing them for 120 s",
            messages(events),
        )
        self.assertEqual(second.ask(login()).message, REFUSED)
        self.assertIn(
            "login 'kiosk' from 127.0.0.1 refused: cooling off after repeated"
            " failed logins (120 s left)",
            messages(events),
        )
        clock.advance(119)
        third = acs.connect()
        self.assertEqual(third.ask(login()).message, REFUSED)
        clock.advance(1)
        self.assertEqual(third.ask(login()).message, ACCEPTED)

    def test_off(self):
        """
        With C{login-failures-before-cooloff = 0} there is no cooling-off.
        """
        acs = memoryListener(self, loginFailuresBeforeCooloff=0)
        for _attempt in range(2):
            client = acs.connect()
            for _ in range(2):
                client.ask(login(password="bad"))
        self.assertEqual(client.ask(login()).message, ACCEPTED)


class ConnectionCapTests(TestCase):
    @inlineCallbacks
    def test_capPerAddress(self):
        """
        With C{max-connections-per-address = 2}, a third connection from
        the same address is closed before any byte is read (and logged);
        once one of the two closes, a new one is served.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self, maxConnectionsPerAddress=2)
        first = yield acs.connect()
        second = yield acs.connect()
        self.assertEqual((yield second.ask(login())).message, ACCEPTED)
        third = yield acs.connect(client=RawClient())
        third.transport.write(login() + b"\r")
        yield third.lost
        self.assertEqual(third.data, b"")
        self.assertEqual(len(acs.built), 2)
        self.assertIn(
            "refused a connection from 127.0.0.1 on tcp:0:interface=127.0.0.1: it"
            " already has 2 (max-connections-per-address)",
            messages(events),
        )
        first.transport.loseConnection()
        yield first.lost
        yield waitFor(reactor, lambda: len(acs.server.connections) == 1)
        fourth = yield acs.connect()
        self.assertEqual((yield fourth.ask(login())).message, ACCEPTED)


class ProxyProtocolTests(TestCase):
    """
    Behind a load balancer, the lists see the address in the PROXY header.
    """

    @inlineCallbacks
    def converse(self, acs, header, pieces=1):
        client = yield acs.connect()
        data = header + login() + b"\r"
        size = -(-len(data) // pieces)
        for start in range(0, len(data), size):
            client.send(data[start : start + size])
            if pieces > 1:
                # Let each piece arrive in a read of its own.
                yield deferLater(reactor, 0.005, lambda: None)
        reply = yield client.reply()
        return client, codec.decode(reply).message

    @inlineCallbacks
    def test_v1AndV2GiveTheRealAddress(self):
        """
        With a v1 or a v2 header naming an allowed address, the kiosk is
        served and its session knows that address; the header may arrive
        in pieces.
        """
        acs = ListenerHarness(
            self, proxyProtocol=True, allow=addresses("203.0.113.0/24")
        )
        for header, pieces in [
            (proxyV1("203.0.113.7"), 1),
            (proxyV2("203.0.113.8"), 1),
            (proxyV2("203.0.113.9"), 40),
        ]:
            client, response = yield self.converse(acs, header, pieces)
            self.assertEqual(response, ACCEPTED)
        self.assertEqual(
            [p.session.peer for p in acs.built],
            ["203.0.113.7", "203.0.113.8", "203.0.113.9"],
        )

    @inlineCallbacks
    def test_listenerListUsesHeader(self):
        """
        A header naming an address outside the listener's allow list
        closes the connection, with nothing after the header read, and the
        refusal names the address from the header.
        """
        events = captureLogs(self)
        acs = ListenerHarness(
            self, proxyProtocol=True, allow=addresses("203.0.113.0/24")
        )
        for header in [proxyV1("198.51.100.1"), proxyV2("198.51.100.2")]:
            client = yield acs.connect(client=RawClient())
            client.transport.write(header + login() + b"\r")
            yield client.lost
            self.assertEqual(client.data, b"")
        self.assertEqual(acs.built, [])
        self.assertIn(
            "refused a connection from 198.51.100.2 on tcp:0:interface=127.0.0.1:"
            " not in the listener's allow list",
            messages(events),
        )

    @inlineCallbacks
    def test_accountListAndBindingUseHeader(self):
        """
        Account allow lists and address bindings see the header's address:
        a 93 from outside the account's list gets 940, and a kiosk whose
        header names a bound address is logged in without a 93.
        """
        acs = ListenerHarness(
            self,
            proxyProtocol=True,
            accounts=[
                makeAccount(allow=addresses("203.0.113.0/24")),
                makeAccount("bound", "pw", addresses=addresses("192.0.2.44")),
            ],
        )
        client, response = yield self.converse(acs, proxyV1("198.51.100.1"))
        self.assertEqual(response, REFUSED)
        client, response = yield self.converse(acs, proxyV2("203.0.113.5"))
        self.assertEqual(response, ACCEPTED)
        bound = yield acs.connect()
        bound.send(proxyV2("192.0.2.44") + STATUS + b"\r")
        status = codec.decode((yield bound.reply())).message
        self.assertTrue(status.onlineStatus)
        self.assertEqual(acs.built[-1].session.account.login, "bound")

    @inlineCallbacks
    def test_capUsesHeader(self):
        """
        The per-address cap counts the header's addresses: two kiosks
        behind the balancer with different addresses are both served under
        a cap of one.
        """
        acs = ListenerHarness(self, proxyProtocol=True, maxConnectionsPerAddress=1)
        for source in ["203.0.113.1", "203.0.113.2"]:
            client, response = yield self.converse(acs, proxyV1(source))
            self.assertEqual(response, ACCEPTED)
        client = yield acs.connect(client=RawClient())
        client.transport.write(proxyV1("203.0.113.1"))
        yield client.lost

    @inlineCallbacks
    def test_missingOrLateHeaderCloses(self):
        """
        A connection that starts with SIP2 instead of a header is closed
        unanswered; one that sends nothing is closed after the login
        timeout.
        """
        clock = Clock()
        acs = ListenerHarness(self, proxyProtocol=True, loginTimeout=30)
        client = yield acs.connect(client=RawClient())
        client.transport.write(login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        acs.factory.clock = clock
        silent = yield acs.connect(client=RawClient())
        yield waitFor(reactor, lambda: len(acs.factory.protocols) == 1)
        clock.advance(30)
        yield silent.lost
        self.assertEqual(acs.built, [])

    @inlineCallbacks
    def test_proxyFrom(self):
        """
        With C{proxy-from}, only the balancers listed may connect; others
        are closed before any byte is read.
        """
        events = captureLogs(self)
        acs = ListenerHarness(
            self, proxyProtocol=True, proxyFrom=addresses("192.0.2.10")
        )
        client = yield acs.connect(client=RawClient())
        client.transport.write(proxyV1("203.0.113.7") + login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        self.assertIn(
            "refused a connection from 127.0.0.1 on tcp:0:interface=127.0.0.1: not"
            " a load balancer allowed to send PROXY headers (proxy-from)",
            messages(events),
        )
        trusting = ListenerHarness(
            self, proxyProtocol=True, proxyFrom=addresses("127.0.0.1")
        )
        client, response = yield self.converse(trusting, proxyV1("203.0.113.7"))
        self.assertEqual(response, ACCEPTED)

    @inlineCallbacks
    def test_tlsBehindBalancer(self):
        """
        A TLS listener with C{proxy-protocol} reads the header before the
        TLS handshake (as a TCP balancer sends it), and the kiosk behind it
        is allowed, logged in and served under the header's address, with
        its client certificate checked.
        """
        from tests.test_tls import Files

        files = Files(self)
        acs = ListenerHarness(
            self,
            files.listener(
                mutual=True, proxyProtocol=True, allow=addresses("203.0.113.0/24")
            ),
        )
        client = SIP2Client(reactor)
        tls = TLSMemoryBIOFactory(
            clientOptions(files.ca, leaf=files.kiosk1),
            True,
            Factory.forProtocol(lambda: client),
        )
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", acs.port, timeout=5)
        yield endpoint.connect(_HeaderFirstFactory(tls, proxyV2("203.0.113.50")))
        acs.clients.append(client)
        self.assertEqual((yield client.ask(login())).message, ACCEPTED)
        session = acs.built[0].session
        self.assertEqual(
            (session.peer, session.certificateSubject),
            ("203.0.113.50", files.kiosk1.subject),
        )


class _HeaderFirst(ProtocolWrapper):
    """
    A client-side wrapper that sends a PROXY header before anything else,
    as a load balancer does.
    """

    def makeConnection(self, transport):
        transport.write(self.factory.header)
        ProtocolWrapper.makeConnection(self, transport)


class _HeaderFirstFactory(WrappingFactory):
    protocol = _HeaderFirst

    def __init__(self, wrappedFactory, header):
        WrappingFactory.__init__(self, wrappedFactory)
        self.header = header


class ReloadTests(TestCase):
    def write(self, text):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    @inlineCallbacks
    def test_accountAccessReloads(self):
        """
        A reloaded configuration applies accounts' access settings to new
        connections at once (here: an address binding), while a changed
        listener allow list is logged as needing a restart.
        """
        from twisted.application.service import MultiService

        from sip2acs.app.tap import adapterKey
        from sip2acs.ops.reload import ConfigReloader

        events = captureLogs(self)
        acs = ListenerHarness(self)
        text = (
            '[[listener]]\nendpoint = "tcp:0:interface=127.0.0.1"\n%s'
            '[[institution]]\nid = "DEMO"\nadapter = "memory"\n'
            '[[account]]\nlogin = "kiosk"\npassword = "%s"\ninstitution = "DEMO"\n'
            'addresses = ["127.0.0.1"]\n'
            % ('allow = ["10.0.0.0/8"]\n', hashPassword("secret", cost=4))
        )
        reloader = ConfigReloader(
            self.write(text),
            acs.server,
            MultiService(),
            lambda i: acs.adapter,
            adapterKey,
        )
        reloader()
        self.assertTrue(
            any("take effect at the next restart" in m for m in messages(events))
        )
        client = yield acs.connect()
        status = (yield client.ask(STATUS)).message
        self.assertTrue(status.onlineStatus)
        self.assertEqual(acs.built[-1].session.account.login, "kiosk")
