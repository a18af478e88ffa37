"""
Tests for the in-memory test harness, L{tests.memory}: that it shows a
test what a kiosk on a socket would see.
"""

from twisted.internet.defer import TimeoutError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.sip import codec
from tests.fixtures import login, makeConfig
from tests.memory import (
    CLOCK_START,
    ConnectionClosed,
    InMemoryKiosk,
    InMemoryServer,
    NoReply,
    connectInMemory,
)


class InMemoryKioskTests(SynchronousTestCase):
    """
    L{InMemoryKiosk} hands the server bytes and takes its replies at once.
    """

    def setUp(self):
        self.acs = InMemoryServer(self, config=makeConfig(loginTimeout=10))

    def test_replyTakenOnce(self):
        """
        A reply is taken by the first L{InMemoryKiosk.reply}; asking again
        without a new request raises L{NoReply}, while the connection and
        every byte received stay as they were.
        """
        kiosk = self.acs.connect()
        self.assertEqual(kiosk.exchange(login() + b"\r"), b"941")
        self.assertRaises(NoReply, kiosk.reply)
        self.assertTrue(kiosk.connected)
        self.assertEqual(kiosk.data, b"941\r")

    def test_severalReplies(self):
        """
        Requests sent in one write are answered in order, and CRLF
        terminators are dropped from the frames.
        """
        kiosk = self.acs.connect()
        frames = kiosk.exchange(login(password="x") + b"\r\n" + login() + b"\r\n", 2)
        self.assertEqual(frames, [b"940", b"941"])

    def test_closedByServer(self):
        """
        When the server closes, the kiosk and the server protocol both see
        the connection lost: the server forgets it, and a reply asked for
        afterwards raises L{ConnectionClosed}.
        """
        kiosk = self.acs.connect()
        self.assertEqual(set(self.acs.server.connections), {kiosk.server})
        self.acs.clock.advance(10)
        kiosk.waitForClose()
        self.assertEqual(set(self.acs.server.connections), set())
        self.assertRaises(ConnectionClosed, kiosk.reply)
        self.assertEqual(self.successResultOf(kiosk.lost), None)

    def test_waitForCloseOpen(self):
        """
        L{InMemoryKiosk.waitForClose} fails on an open connection.
        """
        kiosk = self.acs.connect()
        self.assertRaises(AssertionError, kiosk.waitForClose)

    def test_sendAfterClose(self):
        """
        Bytes sent after the close do not reach the server.
        """
        kiosk = self.acs.connect()
        kiosk.hangUp()
        kiosk.send(login() + b"\r")
        self.assertEqual((kiosk.data, kiosk.server.session.messages), (b"", 0))

    def test_stopHangsUp(self):
        """
        L{InMemoryServer.stop} (a test cleanup) closes every connection
        still open, which cancels their timers.
        """
        kiosks = [self.acs.connect(), self.acs.connect()]
        kiosks[0].hangUp()
        self.acs.stop()
        self.assertEqual([kiosk.connected for kiosk in kiosks], [False, False])
        self.assertEqual(self.acs.clock.getDelayedCalls(), [])

    def test_addresses(self):
        """
        Each kiosk has its own client port, and the address given.
        """
        first = self.acs.connect()
        second = self.acs.connect(host="10.0.0.7")
        peers = [kiosk.transport.getPeer() for kiosk in (first, second)]
        self.assertEqual(
            [(peer.host, peer.port) for peer in peers],
            [("127.0.0.1", 40001), ("10.0.0.7", 40002)],
        )
        self.assertEqual(second.server.session.peer, "10.0.0.7")

    def test_clockStart(self):
        """
        The server's clock starts at L{CLOCK_START}, unless one is given.
        """
        self.assertEqual(self.acs.clock.seconds(), CLOCK_START)
        clock = Clock()
        self.assertIs(InMemoryServer(self, clock=clock).clock, clock)
        self.assertEqual(clock.seconds(), 0)


class DeferredFormTests(SynchronousTestCase):
    """
    The Deferred forms of L{InMemoryKiosk} wait on the reactor given to
    the kiosk (the global one by default), whatever the server's clock.
    """

    def setUp(self):
        self.acs = InMemoryServer(self)
        self.reactor = Clock()
        protocol, peer = self.acs.buildProtocol()
        self.kiosk = InMemoryKiosk(protocol, peer, reactor=self.reactor)
        self.addCleanup(self.kiosk.hangUp)

    def test_nextTurn(self):
        """
        A reply comes a turn of the reactor later, as from a socket.
        """
        d = self.kiosk.whenReplies()
        self.kiosk.send(login() + b"\r")
        self.assertNoResult(d)
        self.reactor.advance(0)
        self.assertEqual(self.successResultOf(d), [b"941"])

    def test_askLater(self):
        """
        L{InMemoryKiosk.askLater} sends a request and decodes its reply.
        """
        d = self.kiosk.askLater(login())
        self.reactor.advance(0)
        self.assertEqual(self.successResultOf(d).message, codec.LoginResponse(ok=True))

    def test_timeout(self):
        """
        A wait times out on the kiosk's reactor.
        """
        d = self.kiosk.whenReplies(timeout=1)
        self.reactor.advance(1)
        self.failureResultOf(d, TimeoutError)

    def test_whenClosed(self):
        """
        L{InMemoryKiosk.whenClosed} fires once the server closes.
        """
        d = self.kiosk.whenClosed()
        self.acs.clock.advance(30)
        self.assertNoResult(d)
        self.reactor.advance(0)
        self.assertIsNone(self.successResultOf(d))


class ConnectInMemoryTests(SynchronousTestCase):
    """
    L{connectInMemory} leaves the transport to the test.
    """

    def test_plainTransport(self):
        """
        Closing only marks the plain L{StringTransport} as disconnecting:
        the protocol's connection is not lost until the test says so.
        """
        protocol, transport, clock = connectInMemory(config=makeConfig(loginTimeout=10))
        self.assertEqual(clock.seconds(), CLOCK_START)
        clock.advance(10)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(set(protocol.session.server.connections), {protocol})
