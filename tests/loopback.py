# -*- test-case-name: tests.test_protocol,tests.test_session -*-
"""
An ACS listening on a real loopback socket for one test, and a small
kiosk-like client: for the tests of what only a socket shows (framing
across reads, TLS, telnet, PROXY, half-close, back-pressure, twistd).
Session tests use L{tests.memory} instead.

Everything listens on and connects to 127.0.0.1 only, and every port and
connection is closed by the test's cleanups, so trial finds a clean reactor.

The fixtures (L{tests.fixtures}) and the in-memory harness
(L{tests.memory}) are importable from here too, where older tests look.
"""

import attrs
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from sip2acs.acs.server import ACSServer
from sip2acs.sip import codec
from sip2acs.transports.factory import SIP2ServerFactory
from tests import fixtures
from tests.fixtures import *  # noqa: F403 (re-exported: older tests import them from here)
from tests.kiosk import ConnectionClosed, KioskReplies
from tests.memory import connectInMemory

__all__ = [
    *fixtures.__all__,
    "ConnectionClosed",
    "LoopbackServer",
    "SIP2Client",
    "connectInMemory",
    "demoKiosk",
]


# -- the client -----------------------------------------------------------


class SIP2Client(KioskReplies, Protocol):
    """
    A kiosk on a loopback connection: it sends raw bytes and collects the
    server's CR-terminated replies (see L{KioskReplies}).

    @ivar server: The server side of this connection (a L{SIP2Protocol
        <sip2acs.transports.protocol.SIP2Protocol>}), set by L{LoopbackServer.connect}.
    """

    def __init__(self, reactor):
        KioskReplies.__init__(self, reactor)
        self.server = None

    def connectionMade(self):
        self.connected = True
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self._received(data)

    def connectionLost(self, reason):
        self._closed()

    def send(self, data):
        """
        Write C{data} (bytes, sent as they are, terminators included).
        """
        self.transport.write(data)

    def replies(self, count=1, timeout=fixtures.TIMEOUT):
        """
        Wait for the next C{count} replies (L{KioskReplies.whenReplies}).
        """
        return self.whenReplies(count, timeout)

    def reply(self, timeout=fixtures.TIMEOUT):
        """
        Wait for the next reply.

        @return: A Deferred firing with one frame.
        """
        return self.replies(1, timeout).addCallback(lambda frames: frames[0])

    def exchange(self, data, count=1, timeout=fixtures.TIMEOUT):
        """
        Send C{data} and wait for C{count} replies.
        """
        self.send(data)
        if count == 1:
            return self.reply(timeout)
        return self.replies(count, timeout)

    def ask(self, frame, timeout=fixtures.TIMEOUT):
        """
        Send one request with a CR and wait for its decoded reply.

        @return: A Deferred firing with the L{codec.Decoded} reply (the
            codec checks its checksum, if any).
        """
        d = self.exchange(frame + b"\r", 1, timeout)
        return d.addCallback(codec.decode, encoding=self.encoding)

    encoding = "ascii"

    def waitForClose(self, timeout=fixtures.TIMEOUT):
        """
        Wait until the server closes the connection
        (L{KioskReplies.whenClosed}).
        """
        return self.whenClosed(timeout)

    @inlineCallbacks
    def sendInPieces(self, pieces, timeout=fixtures.TIMEOUT):
        """
        Write C{pieces} one at a time, each only once the server has read
        the one before, so each arrives in its own read (its own packet).
        """
        for piece in pieces:
            target = self.server.bytesReceived + len(piece)
            self.send(piece)
            yield self.server.whenReceived(target, timeout)

    def waitForServerBytes(self, count, timeout=fixtures.TIMEOUT):
        """
        Wait until the server side has read C{count} bytes in all.
        """
        return self.server.whenReceived(count, timeout)


# -- the server -----------------------------------------------------------


@attrs.define
class _Receipt:
    target: int
    deferred: Deferred


class _LoopbackFactory(SIP2ServerFactory):
    """
    A L{SIP2ServerFactory} that keeps track of the connections it builds:
    their bytes read (to send pieces deterministically), when they are
    lost (for cleanup), and optionally a clock to drive their timeouts.
    """

    def __init__(self, server, listener, clock=None):
        SIP2ServerFactory.__init__(self, server, listener)
        self.clock = clock
        self.protocols = []
        self._accepted = {}

    def buildProtocol(self, addr):
        protocol = SIP2ServerFactory.buildProtocol(self, addr)
        if self.clock is not None:
            session = protocol.session
            session.clock = self.clock
            protocol.callLater = self.clock.callLater
        _track(protocol, protocol.session.server.reactor)
        self.protocols.append(protocol)
        self.whenAccepted(addr.port).callback(protocol)
        return protocol

    def whenAccepted(self, port):
        """
        A Deferred that fires with the server protocol of the connection
        from client port C{port}.
        """
        return self._accepted.setdefault(port, Deferred())


def _track(protocol, reactor):
    """
    Instrument a server protocol: count the bytes it reads and fire
    C{protocol.disconnected} when its connection is lost.
    """
    protocol.bytesReceived = 0
    protocol.reads = []
    protocol.disconnected = Deferred()
    receipts = []
    dataReceived = protocol.dataReceived
    connectionLost = protocol.connectionLost

    def trackedDataReceived(data):
        # LineReceiver.resumeProducing calls dataReceived(b"") itself.
        if data:
            protocol.bytesReceived += len(data)
            protocol.reads.append(data)
        try:
            return dataReceived(data)
        finally:
            for receipt in list(receipts):
                if protocol.bytesReceived >= receipt.target:
                    receipts.remove(receipt)
                    receipt.deferred.callback(protocol.bytesReceived)

    def trackedConnectionLost(reason):
        try:
            connectionLost(reason)
        finally:
            protocol.disconnected.callback(None)

    def whenReceived(target, timeout=fixtures.TIMEOUT):
        d = Deferred()
        if protocol.bytesReceived >= target:
            d.callback(protocol.bytesReceived)
            return d
        receipts.append(_Receipt(target, d))
        return d.addTimeout(timeout, reactor)

    protocol.dataReceived = trackedDataReceived
    protocol.connectionLost = trackedConnectionLost
    protocol.whenReceived = whenReceived


class LoopbackServer:
    """
    An ACS listening on 127.0.0.1 (an ephemeral port) for the duration of
    one L{TestCase <twisted.trial.unittest.TestCase>}.

    @ivar server: The L{ACSServer}.
    @ivar adapter: Its ILS adapter for C{DEMO}.
    @ivar factory: The listener's factory; C{factory.protocols} lists the
        server side of every connection.
    """

    def __init__(
        self, testCase, adapter=None, config=None, ilsTimeout=30.0, clock=None,
        reactor=None,
    ):
        """
        Listen at once; the test's cleanup closes every connection and the
        port.

        @param clock: An L{IReactorTime} driving the sessions' timeouts
            (login, idle, ILS) instead of the reactor; the reactor still
            carries the sockets and runs password checks in its threads.
        """
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.adapter = fixtures.makeILS() if adapter is None else adapter
        self.config = fixtures.makeConfig() if config is None else config
        self.server = ACSServer(
            self.config, {fixtures.INSTITUTION: self.adapter}, reactor, ilsTimeout=ilsTimeout
        )
        self.listener = self.config.listeners[0]
        self.factory = _LoopbackFactory(self.server, self.listener, clock)
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.clients = []
        testCase.addCleanup(self.stop)

    @inlineCallbacks
    def connect(self, encoding="ascii"):
        """
        Connect a new L{SIP2Client}.

        @param encoding: How L{SIP2Client.ask} decodes replies.
        @return: A Deferred firing with the client once the server side of
            the connection exists too (as C{client.server}).
        """
        endpoint = TCP4ClientEndpoint(
            self.reactor, "127.0.0.1", self.port.getHost().port, timeout=fixtures.TIMEOUT
        )
        client = SIP2Client(self.reactor)
        client.encoding = encoding
        self.clients.append(client)
        yield connectProtocol(endpoint, client)
        accepted = self.factory.whenAccepted(client.transport.getHost().port)
        client.server = yield accepted.addTimeout(fixtures.TIMEOUT, self.reactor)
        return client

    @inlineCallbacks
    def loggedIn(self, user=fixtures.LOGIN, password=fixtures.PASSWORD, encoding="ascii"):
        """
        Connect a client and log it in with a 93.

        @return: A Deferred firing with the client.
        """
        client = yield self.connect(encoding)
        response = yield client.ask(fixtures.login(user, password))
        assert response.message == codec.LoginResponse(ok=True), response
        return client

    def stop(self):
        """
        Close every connection from both ends, wait until both ends have
        seen it, and stop listening.
        """
        waits = []
        for client in self.clients:
            if client.transport is not None and client.connected:
                client.transport.loseConnection()
            if client.transport is not None:
                waits.append(client.lost)
        for protocol in self.factory.protocols:
            if protocol.transport.connected:
                protocol.transport.loseConnection()
            waits.append(protocol.disconnected)
        d = gatherResults(waits, consumeErrors=True)
        d.addTimeout(fixtures.TIMEOUT, self.reactor)
        d.addBoth(lambda result: (self.port.stopListening(), result)[1])
        return d


# -- the demo library ---------------------------------------------------


@inlineCallbacks
def demoKiosk(testCase, now, config=None, sequence=None):
    """
    The embedded SQLite system with the demo library (see
    L{startDemoILS}) behind a L{LoopbackServer}, and a kiosk logged in to it; all
    stopped when the test ends.

    @param config: The ACS configuration; L{makeConfig}'s by default.
    @param sequence: The login's C{AY} digit, if any.
    @return: A Deferred firing with C{(ils, acs, client)}.
    """
    ils = yield fixtures.startDemoILS(testCase, now)
    acs = LoopbackServer(testCase, adapter=ils, config=config)
    client = yield acs.connect()
    reply = yield client.ask(fixtures.login(sequence=sequence))
    testCase.assertEqual(reply.message, codec.LoginResponse(ok=True))
    return ils, acs, client
