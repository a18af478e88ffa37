# -*- test-case-name: tests.test_sipclient -*-
"""
Tests for the SIP2 client: the sans-IO core of L{sip2acs.sip.exchange}
(pure unit tests: bytes and frames in, bytes and values out), the Twisted
L{SIP2ClientProtocol} over a L{StringTransport} with a L{Clock} (no
sockets), and one real round trip through L{connect} to a sip2acs server
on 127.0.0.1.

(The blocking L{sip2acs.client.blocking.SIP2Connection} is tested over a
socket pair in L{tests.test_client}.)
"""

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, inlineCallbacks
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.client import (
    ConnectionFailed,
    LoginRefused,
    NoAnswer,
    ProtocolError,
    SIP2ClientProtocol,
    clientTLS,
    connect,
)
from sip2acs.sip import codec
from sip2acs.sip.exchange import (
    MAX_FRAME,
    ClientCore,
    Exchange,
    FrameBuffer,
    Resend,
    TelnetPrelude,
    printable,
)
from tests.loopback import LOGIN, PASSWORD, LoopbackServer, withChecksum

STATUS = codec.SCStatus(statusCode="0", maxPrintWidth=80, protocolVersion="2.00")
LOGIN_REQUEST = codec.Login(
    uidAlgorithm="0", pwdAlgorithm="0", loginUserId="a", loginPassword="b"
)
ACS_STATUS = b"98YYYYNN60000320250314    1015002.00AODEMO|BX" + b"Y" * 16 + b"|"


# -- the sans-IO core ---------------------------------------------------------


class FrameBufferTests(SynchronousTestCase):
    """
    Tests for L{FrameBuffer}.
    """

    def test_terminators(self):
        """
        CR, CRLF and LF all end a frame; empty and NUL-only frames are
        skipped; an incomplete frame waits.
        """
        frames = FrameBuffer()
        frames.feed(b"941\r\n940\r\x00\r941\n\n94")
        self.assertEqual([frames.next() for _ in range(4)], [b"941", b"940", b"941", None])
        self.assertEqual(len(frames), 2)
        frames.feed(b"0\r")
        self.assertEqual(frames.next(), b"940")

    def test_overflow(self):
        """
        More than L{MAX_FRAME} bytes without a terminator is a
        L{ProtocolError} naming the peer.
        """
        frames = FrameBuffer("h:1")
        frames.feed(b"x" * (MAX_FRAME + 1))
        error = self.assertRaises(ProtocolError, frames.next)
        self.assertEqual(str(error), "h:1 sent %d bytes without a terminator" % (MAX_FRAME + 1,))

    def test_drain(self):
        """
        L{FrameBuffer.drain} takes every byte not yet taken.
        """
        frames = FrameBuffer()
        frames.feed(b"login: ")
        self.assertEqual(frames.drain(), b"login: ")
        self.assertEqual(len(frames), 0)


class ClientCoreTests(SynchronousTestCase):
    """
    Tests for L{ClientCore}: what to send, and what each frame received
    means.
    """

    def test_plainExchange(self):
        """
        Without error detection a request is its encoding and the
        terminator; the answer finishes an L{Exchange}.
        """
        core = ClientCore()
        self.assertEqual(core.send(LOGIN_REQUEST, "login"), b"9300CNa|COb|\r")
        self.assertTrue(core.busy)
        exchange = core.frameReceived(b"941")
        self.assertIsInstance(exchange, Exchange)
        self.assertEqual(
            (exchange.request, exchange.sent, exchange.received, exchange.warnings),
            ("login", b"9300CNa|COb|", b"941", ()),
        )
        self.assertFalse(core.busy)

    def test_oneInFlight(self):
        """
        A second request while one is in flight, or a frame with none, is
        a programming error.
        """
        core = ClientCore()
        self.assertRaises(RuntimeError, core.frameReceived, b"941")
        core.send(LOGIN_REQUEST)
        self.assertRaises(RuntimeError, core.send, LOGIN_REQUEST)
        core.abandon()
        self.assertFalse(core.busy)

    def test_sequence(self):
        """
        With error detection each request carries the next sequence digit,
        wrapping at 10; a mismatched answer is a warning.
        """
        core = ClientCore(errorDetection=True, sequence=9)
        self.assertEqual(core.send(STATUS), withChecksum(b"9900802.00AY9AZ") + b"\r")
        exchange = core.frameReceived(withChecksum(ACS_STATUS + b"AY3AZ"))
        self.assertEqual(
            exchange.warnings, ("the response carries sequence number 3, 9 expected",)
        )
        self.assertEqual(core.sequence, 0)

    def test_badChecksum(self):
        """
        A bad checksum gets a 97, once; a second one is a L{ProtocolError}
        and ends the exchange.
        """
        core = ClientCore(errorDetection=True, peer="p")
        core.send(LOGIN_REQUEST)
        bad = withChecksum(b"941AY0AZ")[:-1] + b"0"
        self.assertEqual(core.frameReceived(bad), Resend(b"97AZFEF5\r"))
        error = self.assertRaises(ProtocolError, core.frameReceived, bad)
        self.assertIn("p sent a bad checksum again after 97", str(error))
        self.assertEqual(error.frame, bad)
        self.assertFalse(core.busy)

    def test_serverResend(self):
        """
        A 96 gets the request again (with the same sequence digit), once.
        """
        core = ClientCore(errorDetection=True)
        data = core.send(LOGIN_REQUEST)
        self.assertEqual(core.frameReceived(b"96AZFEF6"), Resend(data))
        exchange = core.frameReceived(withChecksum(b"941AY0AZ"))
        self.assertEqual(
            exchange.warnings, ("the server asked for the request again (96); resent it",)
        )
        core.send(LOGIN_REQUEST)
        core.frameReceived(b"96")
        self.assertRaises(ProtocolError, core.frameReceived, b"96")

    def test_unreadable(self):
        """
        A frame that is no SIP2 message is a L{ProtocolError} showing it,
        secrets masked.
        """
        core = ClientCore(peer="p")
        core.send(STATUS)
        error = self.assertRaises(ProtocolError, core.frameReceived, b"XXCOsecret|")
        self.assertIn("p sent something that is not a SIP2 response", str(error))

    def test_unexpected(self):
        """
        An answer of another kind is an exchange marked unexpected.
        """
        core = ClientCore()
        core.send(STATUS)
        exchange = core.frameReceived(b"941")
        self.assertTrue(exchange.unexpected)
        self.assertEqual(exchange.warnings, ("a 94 answers 99; 98 expected",))


class TelnetPreludeTests(SynchronousTestCase):
    """
    Tests for L{TelnetPrelude}.
    """

    def test_login(self):
        """
        The user answers the login prompt and the password the password
        prompt, telnet options are refused; what follows C{Login OK} is
        kept for the SIP conversation.
        """
        prelude = TelnetPrelude("kiosk", "pw", peer="p")
        self.assertEqual(prelude.dataReceived(b"\xff\xfd\x18Welc"), b"\xff\xfc\x18")
        self.assertEqual(prelude.waitingFor, "telnet login prompt")
        self.assertEqual(prelude.dataReceived(b"ome\r\nlogin: "), b"kiosk\r\n")
        self.assertEqual(prelude.waitingFor, "telnet password prompt")
        self.assertEqual(prelude.dataReceived(b"password:"), b"pw\r\n")
        self.assertEqual(prelude.dataReceived(b"Login OK\r\n941\r"), b"")
        self.assertTrue(prelude.done)
        self.assertEqual(prelude.rest, b"941\r")

    def test_allAtOnce(self):
        """
        Prompts that come together are all answered at once.
        """
        prelude = TelnetPrelude("kiosk", "pw")
        self.assertEqual(
            prelude.dataReceived(b"login: password: Login OK\r\n"), b"kiosk\r\npw\r\n"
        )
        self.assertTrue(prelude.done)

    def test_refused(self):
        """
        C{Invalid login} after the password is L{LoginRefused}, the
        password masked.
        """
        prelude = TelnetPrelude("kiosk", "pw", peer="p")
        error = self.assertRaises(
            LoginRefused, prelude.dataReceived, b"login: password: pw\r\nInvalid login\r\n"
        )
        self.assertEqual(
            str(error), "p refused the telnet login: ' ***\\r\\nInvalid login\\r\\n'"
        )

    def test_failed(self):
        """
        L{TelnetPrelude.failed} adds what was received to an error, of the
        same class.
        """
        prelude = TelnetPrelude("kiosk", "pw")
        prelude.dataReceived(b"hello")
        error = prelude.failed(NoAnswer("no telnet login prompt"))
        self.assertIsInstance(error, NoAnswer)
        self.assertEqual(str(error), "no telnet login prompt (received 'hello')")

    def test_printable(self):
        """
        L{printable} masks the secret and keeps the last 200 characters.
        """
        self.assertEqual(printable(b"a pw b", "pw"), "a *** b")
        self.assertEqual(len(printable(b"x" * 300)), 200)


# -- the Twisted protocol, in memory ------------------------------------------


class ProtocolTests(SynchronousTestCase):
    """
    Tests for L{SIP2ClientProtocol} on a L{StringTransport} and a
    L{Clock}.
    """

    def connect(self, **options):
        self.clock = Clock()
        options.setdefault("peer", "p")
        protocol = SIP2ClientProtocol(self.clock, ClientCore(**options), timeout=5)
        self.transport = StringTransport()
        protocol.makeConnection(self.transport)
        return protocol

    def sent(self):
        data = self.transport.value()
        self.transport.clear()
        return data

    def test_request(self):
        """
        L{SIP2ClientProtocol.request} sends the request and fires with the
        response message.
        """
        protocol = self.connect()
        d = protocol.request(LOGIN_REQUEST)
        self.assertEqual(self.sent(), b"9300CNa|COb|\r")
        self.assertNoResult(d)
        protocol.dataReceived(b"94")
        protocol.dataReceived(b"1\r")
        self.assertEqual(self.successResultOf(d), codec.LoginResponse(ok=True))

    def test_oneInFlight(self):
        """
        A request made while one is in flight waits for its answer.
        """
        protocol = self.connect()
        first = protocol.exchange(LOGIN_REQUEST, "login")
        second = protocol.exchange(STATUS)
        self.assertEqual(self.sent(), b"9300CNa|COb|\r")
        protocol.dataReceived(b"941\r")
        self.assertEqual(self.successResultOf(first).request, "login")
        self.assertEqual(self.sent(), b"9900802.00\r")
        protocol.dataReceived(ACS_STATUS + b"\r")
        self.assertEqual(self.successResultOf(second).decoded.message.code, "98")

    def test_resends(self):
        """
        A bad checksum gets a 97 and a 96 the request again, each
        restarting the timeout.
        """
        protocol = self.connect(errorDetection=True)
        d = protocol.exchange(LOGIN_REQUEST)
        request = self.sent()
        self.clock.advance(4)
        protocol.dataReceived(withChecksum(b"941AY0AZ")[:-1] + b"0\r")
        self.assertEqual(self.sent(), b"97AZFEF5\r")
        self.clock.advance(4)
        protocol.dataReceived(b"96AZFEF6\r")
        self.assertEqual(self.sent(), request)
        self.clock.advance(4)
        protocol.dataReceived(withChecksum(b"941AY0AZ") + b"\r")
        self.assertEqual(len(self.successResultOf(d).warnings), 2)
        self.assertFalse(self.clock.getDelayedCalls())

    def test_timeout(self):
        """
        No answer in time fails the request with L{NoAnswer} and closes the
        connection; requests waiting fail with L{ConnectionFailed}.
        """
        protocol = self.connect()
        first = protocol.request(STATUS)
        second = protocol.request(STATUS)
        self.clock.advance(5)
        error = self.failureResultOf(first, NoAnswer).value
        self.assertEqual(str(error), "no response from p within 5 seconds")
        self.assertTrue(self.transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(
            str(self.failureResultOf(second, ConnectionFailed).value), "p closed the connection"
        )
        self.failureResultOf(protocol.request(STATUS), ConnectionFailed)

    def test_protocolError(self):
        """
        An unusable answer fails the request with L{ProtocolError} and
        closes the connection; so does an answer of the wrong kind to
        L{SIP2ClientProtocol.request}, which L{exchange} returns marked.
        """
        protocol = self.connect()
        d = protocol.request(STATUS)
        protocol.dataReceived(b"941\r")
        error = self.failureResultOf(d, ProtocolError).value
        self.assertEqual(str(error), "p answered a 99 with a 94; 98 expected")
        protocol = self.connect()
        d = protocol.exchange(STATUS)
        protocol.dataReceived(b"hello\r")
        self.failureResultOf(d, ProtocolError)
        self.assertTrue(self.transport.disconnecting)

    def test_connectionLost(self):
        """
        A connection that breaks fails the request in flight, saying why.
        """
        protocol = self.connect()
        d = protocol.request(STATUS)
        protocol.connectionLost(Failure(ConnectionLost("reset")))
        self.assertIn(
            "connection to p failed", str(self.failureResultOf(d, ConnectionFailed).value)
        )

    def test_cancel(self):
        """
        Cancelling the request in flight closes the connection (its answer
        could come late); cancelling a waiting one only withdraws it.
        """
        protocol = self.connect()
        first = protocol.request(STATUS)
        second = protocol.request(LOGIN_REQUEST)
        second.cancel()
        self.failureResultOf(second, CancelledError)
        self.assertFalse(self.transport.disconnecting)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertTrue(self.transport.disconnecting)
        self.assertFalse(self.clock.getDelayedCalls())

    def test_unsolicited(self):
        """
        A frame that arrives between requests answers the next one, as on a
        blocking connection; a flood nobody asked for closes the
        connection.
        """
        protocol = self.connect()
        protocol.dataReceived(b"941\r")
        d = protocol.exchange(LOGIN_REQUEST)
        self.assertEqual(self.successResultOf(d).received, b"941")
        protocol.dataReceived(b"x" * (MAX_FRAME + 1))
        self.assertTrue(self.transport.disconnecting)

    def test_telnetLogin(self):
        """
        The telnet prelude runs first (requests wait for it); what follows
        C{Login OK} is SIP.
        """
        protocol = self.connect()
        protocol.dataReceived(b"\xff\xfb\x01login: ")
        done = protocol.telnetLogin("kiosk", "pw")
        d = protocol.exchange(STATUS)
        self.assertEqual(self.sent(), b"\xff\xfe\x01kiosk\r\n")
        protocol.dataReceived(b"password: ")
        self.assertEqual(self.sent(), b"pw\r\n")
        protocol.dataReceived(b"Login OK\r\n" + ACS_STATUS[:10])
        self.assertIsNone(self.successResultOf(done))
        self.assertEqual(self.sent(), b"9900802.00\r")
        protocol.dataReceived(ACS_STATUS[10:] + b"\r")
        self.assertEqual(self.successResultOf(d).received, ACS_STATUS)

    def test_telnetRefusedAndTimeout(self):
        """
        A refused telnet login fails with L{LoginRefused}; a prompt that
        does not come in time with L{NoAnswer} saying which and what came.
        """
        protocol = self.connect()
        done = protocol.telnetLogin("kiosk", "pw")
        protocol.dataReceived(b"login: password: Invalid login\r\n")
        self.failureResultOf(done, LoginRefused)
        self.assertTrue(self.transport.disconnecting)
        protocol = self.connect()
        done = protocol.telnetLogin("kiosk", "pw")
        protocol.dataReceived(b"login: hello")
        self.clock.advance(5)
        error = self.failureResultOf(done, NoAnswer).value
        self.assertEqual(
            str(error),
            "no telnet password prompt from p within 5 seconds (received ' hello')",
        )


# -- one real round trip ------------------------------------------------------


class LoopbackTests(TestCase):
    """
    L{connect} to a real sip2acs server on 127.0.0.1.
    """

    @inlineCallbacks
    def test_roundTrip(self):
        """
        A client made by L{connect} logs in with a 93 and gets the ACS
        status, with error detection.
        """
        server = LoopbackServer(self)
        protocol = yield connect(
            reactor, "127.0.0.1", server.port.getHost().port, timeout=5, errorDetection=True
        )
        self.addCleanup(protocol.disconnect)
        login = codec.Login(
            uidAlgorithm="0", pwdAlgorithm="0", loginUserId=LOGIN, loginPassword=PASSWORD
        )
        response = yield protocol.request(login)
        self.assertEqual(response, codec.LoginResponse(ok=True))
        exchange = yield protocol.exchange(STATUS, "status")
        self.assertEqual(exchange.decoded.message.code, "98")
        self.assertEqual((exchange.decoded.sequence, exchange.warnings), (1, ()))


class ClientTLSTests(SynchronousTestCase):
    """
    Tests for L{clientTLS}.
    """

    def test_insecure(self):
        """
        C{insecure} gives options that verify nothing; otherwise the
        server's name is checked.
        """
        from twisted.internet.ssl import CertificateOptions

        self.assertIsInstance(clientTLS("h", insecure=True), CertificateOptions)
        self.assertNotIsInstance(clientTLS("h"), CertificateOptions)
