"""
Tests for L{sip2acs.transports.telnet}: the telnet-style login prelude, then SIP2 as
on a raw port. Kiosks and telnet clients over loopback sockets; the exact
byte handling of the prelude on a L{StringTransport}.
"""

from twisted.cred.error import UnauthorizedLogin
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import fail, inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.acs.addresses import AddressList
from sip2acs.acs.server import ACSServer
from sip2acs.sip import codec
from sip2acs.transports.factory import SIP2ServerFactory
from sip2acs.transports.telnet import TelnetLoginProtocol
from tests.fixtures import makeListener
from tests.listeners import ListenerHarness, RawClient, waitFor
from tests.loopback import (
    ADA,
    ADA_PIN,
    INSTITUTION,
    LOGIN,
    PASSWORD,
    captureLogs,
    makeAccount,
    makeConfig,
    makeILS,
    request,
    runInline,
)

LOGIN_OK = b"Login OK.  Initiating SIP\r\n"
INVALID = b"Invalid login\r\n"
STATUS = b"9900302.00"

IAC_DO_ECHO = b"\xff\xfd\x01"
IAC_WILL_TTYPE = b"\xff\xfb\x18"
IAC_DO_SGA = b"\xff\xfd\x03"


def replies(data):
    """
    The SIP2 frames after C{Login OK}, decoded.
    """
    _, _, sip = data.partition(LOGIN_OK)
    frames = [f.lstrip(b"\n") for f in sip.split(b"\r")]
    return [codec.decode(f).message for f in frames if f]


def telnetListener(**settings):
    return makeListener(transport="telnet", **settings)


class TelnetLoginTests(TestCase):
    """
    The prelude and the SIP2 session after it, over loopback sockets.
    """

    def setUp(self):
        self.acs = ListenerHarness(self, telnetListener())

    @inlineCallbacks
    def connect(self):
        client = yield self.acs.connect(client=RawClient())
        yield waitFor(reactor, lambda: client.data.endswith(b"login: "))
        return client

    @inlineCallbacks
    def test_loginWithNegotiationThenSIP(self):
        """
        A telnet client that opens with IAC negotiation, ends the login
        with CRLF and the password with CR NUL is answered with refusals
        (never waited on), logged in with C{Login OK.  Initiating SIP}, and
        then served SIP2 without a 93: its 99 gets a 98 and its 63 is
        answered for the account's institution.
        """
        client = yield self.connect()
        client.transport.write(IAC_DO_ECHO + IAC_WILL_TTYPE + IAC_DO_SGA + b"kiosk\r\n")
        yield waitFor(reactor, lambda: client.data.endswith(b"password: "))
        client.transport.write(b"secret\r\x00")
        yield waitFor(reactor, lambda: LOGIN_OK in client.data)
        self.assertEqual(
            client.data,
            b"login: \xff\xfc\x01\xff\xfe\x18\xff\xfc\x03password: " + LOGIN_OK,
        )
        client.transport.write(STATUS + b"\r")
        patron = request(
            codec.PatronInformation, patronIdentifier=ADA, patronPassword=ADA_PIN
        )
        client.transport.write(patron + b"\r")
        yield waitFor(reactor, lambda: len(replies(client.data)) == 2)
        status, information = replies(client.data)
        self.assertTrue(status.onlineStatus)
        self.assertEqual(status.institutionId, INSTITUTION)
        self.assertEqual(information.personalName, "Ada Quillfeather")
        session = self.acs.built[0].session
        self.assertEqual(session.account.login, LOGIN)

    @inlineCallbacks
    def test_lineEnds(self):
        """
        Login and password may end in CR, LF, CRLF or CR NUL; after login,
        SIP2 messages ending in CR, LF, CRLF, CR NUL or followed by a bare
        CR each get exactly one answer.
        """
        for loginEnd, passwordEnd in [
            (b"\r", b"\r"),
            (b"\n", b"\n"),
            (b"\r\n", b"\r\n"),
            (b"\r\x00", b"\r\x00"),
        ]:
            client = yield self.connect()
            client.transport.write(LOGIN.encode() + loginEnd)
            yield waitFor(reactor, lambda client=client: client.data.endswith(b"password: "))
            client.transport.write(PASSWORD.encode() + passwordEnd)
            yield waitFor(reactor, lambda client=client: LOGIN_OK in client.data)
            for end in [b"\r", b"\n", b"\r\n", b"\r\x00", b"\r\r"]:
                client.transport.write(STATUS + end)
            yield waitFor(reactor, lambda client=client: len(replies(client.data)) == 5)
            self.assertTrue(all(r.onlineStatus for r in replies(client.data)))
            client.transport.loseConnection()
            yield client.lost

    @inlineCallbacks
    def test_everythingInOneWrite(self):
        """
        A kiosk that sends login, password and its first message at once,
        without waiting for the prompts, is answered in order.
        """
        client = yield self.connect()
        client.transport.write(b"kiosk\rsecret\r" + STATUS + b"\r")
        yield waitFor(reactor, lambda: len(replies(client.data)) == 1)
        self.assertEqual(client.data.count(LOGIN_OK), 1)

    @inlineCallbacks
    def test_invalidLoginThenGood(self):
        """
        A wrong password gets C{Invalid login} and a new C{login: }
        prompt; the right one then logs in.
        """
        client = yield self.connect()
        client.transport.write(b"kiosk\rwrong\r")
        yield waitFor(reactor, lambda: client.data.endswith(INVALID + b"login: "))
        client.transport.write(b"kiosk\rsecret\r")
        yield waitFor(reactor, lambda: LOGIN_OK in client.data)
        self.assertEqual(
            client.data,
            b"login: password: " + INVALID + b"login: password: " + LOGIN_OK,
        )

    @inlineCallbacks
    def test_threeFailuresClose(self):
        """
        The third failed login closes the connection.
        """
        client = yield self.connect()
        for attempt in range(3):
            client.transport.write(b"kiosk\rwrong%d\r" % (attempt,))
        yield client.lost
        self.assertEqual(client.data.count(INVALID), 3)
        self.assertEqual(client.data.count(b"login: "), 3)
        self.assertNotIn(LOGIN_OK, client.data)

    @inlineCallbacks
    def test_checkedByServerPortal(self):
        """
        The password goes through the server's portal, as a 93's does, with
        the peer address and the listener (so allow lists and cooling-off
        apply).
        """
        calls = []
        portal = self.acs.server.portal
        login = portal.login

        def spy(credentials, mind, *interfaces):
            calls.append(
                (
                    credentials.username,
                    credentials.password,
                    credentials.peer,
                    credentials.listener,
                )
            )
            return login(credentials, mind, *interfaces)

        portal.login = spy
        client = yield self.connect()
        client.transport.write(b"kiosk\rsecret\r")
        yield waitFor(reactor, lambda: LOGIN_OK in client.data)
        self.assertEqual(calls, [("kiosk", "secret", "127.0.0.1", self.acs.listener)])


class TelnetAccessTests(TestCase):
    """
    Telnet logins obey the account's allow list.
    """

    @inlineCallbacks
    def test_accountAllowList(self):
        """
        An account that may only log in from 10.0.0.0/8 is refused with
        C{Invalid login} over telnet from 127.0.0.1, and the refusal is
        logged with the address.
        """
        events = captureLogs(self)
        allow, _ = AddressList.parse(["10.0.0.0/8"])
        acs = ListenerHarness(
            self, telnetListener(), accounts=[makeAccount(allow=allow)]
        )
        client = yield acs.connect(client=RawClient())
        client.transport.write(b"kiosk\rsecret\r")
        yield waitFor(reactor, lambda: client.data.endswith(INVALID + b"login: "))
        text = [formatEvent(e) for e in events]
        self.assertIn(
            "login 'kiosk' from 127.0.0.1 refused: the address is not in the"
            " account's allow list",
            text,
        )


class LoginTimeoutTests(TestCase):
    @inlineCallbacks
    def test_loginTimeout(self):
        """
        A connection that has not logged in within the listener's login
        timeout is closed, prompt or not.
        """
        clock = Clock()
        acs = ListenerHarness(self, telnetListener(loginTimeout=30), clock=clock)
        client = yield acs.connect(client=RawClient())
        yield waitFor(reactor, lambda: client.data == b"login: ")
        client.transport.write(b"kiosk\r")
        yield waitFor(reactor, lambda: client.data.endswith(b"password: "))
        clock.advance(29)
        self.assertTrue(client.connected)
        clock.advance(1)
        yield client.lost
        self.assertNotIn(LOGIN_OK, client.data)


class PreludeBytesTests(SynchronousTestCase):
    """
    The prelude byte by byte, on a L{StringTransport}; password checks
    answer at once (the server's clock has no threads).
    """

    def setUp(self):
        clock = Clock()
        clock.advance(1741947300)
        listener = telnetListener()
        self.server = ACSServer(
            makeConfig(), {INSTITUTION: makeILS()}, clock, runInThread=runInline
        )
        self.protocol = SIP2ServerFactory(self.server, listener).buildProtocol(
            IPv4Address("TCP", "127.0.0.1", 40001)
        )
        self.transport = StringTransport(
            peerAddress=IPv4Address("TCP", "127.0.0.1", 40001)
        )
        self.protocol.makeConnection(self.transport)

    def feed(self, data, oneByteAtATime=True):
        if oneByteAtATime:
            for index in range(len(data)):
                self.protocol.dataReceived(data[index : index + 1])
        else:
            self.protocol.dataReceived(data)

    def test_isTelnetProtocol(self) -> None:
        """
        A telnet listener builds a L{TelnetLoginProtocol}, which prompts at
        once.
        """
        self.assertIsInstance(self.protocol, TelnetLoginProtocol)
        self.assertEqual(self.transport.value(), b"login: ")

    def test_negotiationSplitAcrossReads(self) -> None:
        """
        Telnet commands split over reads, a subnegotiation, commands with
        no option (NOP, AYT) and refusals (WONT, DONT) are removed without
        an answer; each DO/WILL is refused once even if repeated.
        """
        self.feed(
            b"\xff\xf1"  # NOP
            b"\xff\xfa\x18\x00xterm\xff\xf0"  # SB TTYPE IS xterm SE
            b"\xff\xfc\x01\xff\xfe\x03"  # WONT ECHO, DONT SGA
            b"\xff\xfd\x01\xff\xfd\x01"  # DO ECHO twice
            b"\xff\xf6"  # AYT
            b"kio\xff\xfb\x1fsk\r\n"  # WILL NAWS inside the name
        )
        self.assertEqual(
            self.transport.value(), b"login: \xff\xfc\x01\xff\xfe\x1fpassword: "
        )
        self.assertEqual(self.protocol._user, "kiosk")

    def test_escapedByteInPassword(self) -> None:
        """
        C{IAC IAC} is a literal 0xFF byte of the password; other bytes,
        punctuation at either end included, are kept as sent.
        """
        calls = []

        def login(credentials, mind, *interfaces):
            calls.append(credentials.password)
            return fail(UnauthorizedLogin())

        self.server.portal.login = login
        self.feed(b"kiosk\r\x00 !p\xff\xffw!\r\n")
        self.assertEqual(calls, [" !p\xffw!"])

    def test_loggedInInOneRead(self) -> None:
        """
        Login, password and two messages in one read: the check answers at
        once, and both messages are answered after C{Login OK}.
        """
        self.feed(b"kiosk\r\nsecret\r\x00" + STATUS + b"\r" + STATUS + b"\n", False)
        value = self.transport.value()
        self.assertTrue(value.startswith(b"login: password: " + LOGIN_OK))
        self.assertEqual(len(replies(value)), 2)
        self.assertTrue(self.protocol.loggedIn)

    def test_tooLongLoginCloses(self) -> None:
        """
        A login line longer than 255 bytes closes the connection.
        """
        self.feed(b"x" * 300, False)
        self.assertTrue(self.transport.disconnecting)

    def test_afterLoginBytesAreSIP(self) -> None:
        """
        After C{Login OK} the bytes are SIP2: 0xFF is no longer a telnet
        command, so a 93 with such a byte in its password reaches the
        session (and fails there) instead of being eaten.
        """
        self.feed(b"kiosk\rsecret\r", False)
        self.transport.clear()
        self.feed(b"9300CNkiosk|COsec\xffret|\r", False)
        self.assertEqual(self.transport.value(), b"940\r")


TELNET_CONFIG = """
[[listener]]
endpoint = "tcp:8023:interface=127.0.0.1"
transport = "telnet"
[[listener]]
endpoint = "tcp:6001:interface=127.0.0.1"

[[institution]]
id = "DEMO"
adapter = "tests.test_tap.memoryAdapter"
shelf = "telnet"

[[account]]
login = "kiosk"
password = "%s"
institution = "DEMO"
"""


class TelnetServiceTests(SynchronousTestCase):
    def test_makeService(self) -> None:
        """
        C{twistd sip2acs} listens on a telnet listener's endpoint with a
        factory that builds the telnet prelude, and keeps a raw listener as
        it was.
        """
        from twisted.internet.testing import MemoryReactorClock

        from sip2acs.app.tap import Options, makeService
        from sip2acs.passwords import hashPassword

        path = self.mktemp()
        with open(path, "w") as f:
            f.write(TELNET_CONFIG % (hashPassword("pw", cost=4),))
        options = Options()
        options.parseOptions(["--config", path])
        memory = MemoryReactorClock()
        service = makeService(options, memory)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        servers = {port: factory for port, factory, _, _ in memory.tcpServers}
        self.assertEqual(sorted(servers), [6001, 8023])
        protocol = servers[8023].buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        self.assertIsInstance(protocol, TelnetLoginProtocol)
        raw = servers[6001].buildProtocol(IPv4Address("TCP", "127.0.0.1", 40001))
        self.assertNotIsInstance(raw, TelnetLoginProtocol)
        self.assertIsInstance(servers[6001], SIP2ServerFactory)
