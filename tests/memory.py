# -*- test-case-name: tests.test_session,tests.test_protocol -*-
"""
An ACS in memory for session tests: no port, no socket, no thread.

L{InMemoryServer} builds the server and its listener's factory the way
L{tests.loopback.LoopbackServer} does, on a L{Clock} instead of the
reactor, with password checks run inline (L{runInline}).
L{InMemoryServer.connect} gives an L{InMemoryKiosk}: the server protocol on
a L{StringTransport}, and the kiosk side reading what it writes. With an
adapter that answers at once (L{MemoryILS} and its subclasses) every
request is answered before L{InMemoryKiosk.send} returns, so a test reads::

    kiosk = InMemoryServer(self).loggedIn()
    reply = kiosk.ask(patronStatus())
    self.assertEqual(reply.message.personalName, "Ada Quillfeather")

and timers (login, idle, ILS timeouts) move only when the test advances
L{InMemoryServer.clock}. Adapters answering from another thread (SQLite)
need the reactor running: their tests wait with the Deferred forms,
L{InMemoryKiosk.askLater}, L{InMemoryKiosk.whenReplies} and
L{InMemoryKiosk.whenClosed}, which wait on the reactor whatever clock the
server has.
"""

from collections.abc import Generator
from datetime import datetime
from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs.server import ACSServer
from sip2acs.config import Config
from sip2acs.sip import codec
from sip2acs.transports.factory import SIP2ServerFactory
from sip2acs.transports.protocol import SIP2Protocol
from tests.fixtures import (
    INSTITUTION,
    LOGIN,
    PASSWORD,
    TIMEOUT,
    login,
    makeConfig,
    makeILS,
    runInline,
    startDemoILS,
)
from tests.kiosk import ConnectionClosed, KioskReplies

__all__ = [
    "CLOCK_START",
    "ConnectionClosed",
    "InMemoryKiosk",
    "InMemoryServer",
    "NoReply",
    "connectInMemory",
    "demoInMemory",
]

CLOCK_START = 1741947300
"""
Where an in-memory server's clock starts: a plausible wall-clock time
(2025-03-14).
"""

SERVER_ADDRESS = IPv4Address("TCP", "127.0.0.1", 6001)
FIRST_PORT = 40001


class NoReply(AssertionError):
    """
    A test asked for a reply the server has not sent.
    """


class _KioskTransport(StringTransport):
    """
    The server's side of an in-memory connection: what the server writes
    reaches the kiosk at once, and closing the connection (C{loseConnection}
    or C{abortConnection}, from either side) tells the server protocol and
    the kiosk, as a socket would once its buffer is flushed.
    """

    def __init__(self, kiosk: "InMemoryKiosk", protocol: SIP2Protocol, peer: IPv4Address) -> None:
        StringTransport.__init__(self, hostAddress=SERVER_ADDRESS, peerAddress=peer)
        self.kiosk = kiosk
        self.protocol = protocol

    def write(self, data: bytes) -> None:
        StringTransport.write(self, data)
        self.kiosk._received(data)

    def loseConnection(self) -> None:
        if self.disconnecting:
            return
        self.disconnecting = True
        self.connected = False
        self.protocol.connectionLost(Failure(ConnectionDone("closed")))
        self.kiosk._closed()

    abortConnection = loseConnection


class InMemoryKiosk(KioskReplies):
    """
    An SC connected to an L{InMemoryServer}: it sends raw bytes straight
    into the server protocol and reads its replies synchronously.

    @ivar server: The server side of the connection (a L{SIP2Protocol}).
    @ivar transport: The server protocol's L{StringTransport}.
    @ivar encoding: How L{ask} decodes replies.
    """

    def __init__(
        self,
        protocol: SIP2Protocol,
        peer: IPv4Address,
        encoding: str = "ascii",
        reactor: IReactorTime | None = None,
    ) -> None:
        """
        @param reactor: What the Deferred forms wait on; the global
            reactor by default.
        """
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = cast(IReactorTime, globalReactor)
        KioskReplies.__init__(self, reactor)
        self.server = protocol
        self.encoding = encoding
        self.transport = _KioskTransport(self, protocol, peer)
        self.connected = True
        protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        """
        Deliver C{data} (bytes, terminators included) to the server in one
        read; nothing, once the connection is closed.
        """
        if self.connected:
            self.server.dataReceived(data)

    def replies(self, count: int = 1) -> list[bytes]:
        """
        Take the next C{count} replies the server has sent.

        @raise ConnectionClosed: The server closed the connection first.
        @raise NoReply: It has not sent them (yet).
        """
        if len(self.frames) < count:
            if not self.connected:
                raise self._shortOf(count)
            raise NoReply(
                "%d of %d replies received: %r" % (len(self.frames), count, self.data)
            )
        return self._take(count)

    def reply(self) -> bytes:
        """
        Take the next reply.
        """
        return self.replies(1)[0]

    def exchange(self, data: bytes, count: int = 1) -> Any:
        """
        Send C{data} and take C{count} replies: one frame if C{count} is 1,
        a list of frames otherwise.
        """
        self.send(data)
        if count == 1:
            return self.reply()
        return self.replies(count)

    def ask(self, frame: bytes) -> codec.Decoded:
        """
        Send one request with a CR and take its decoded reply (the codec
        checks its checksum, if any).
        """
        return codec.decode(self.exchange(frame + b"\r"), encoding=self.encoding)

    def waitForClose(self) -> None:
        """
        Check that the server has closed the connection (in memory, a
        close is never late).

        @raise AssertionError: It is still open.
        """
        if self.connected:
            raise AssertionError("the connection is still open: %r" % (self.data,))

    def exchangeLater(self, data: bytes, count: int = 1, timeout: float = TIMEOUT) -> Deferred[Any]:
        """
        Send C{data} and wait for C{count} replies: L{exchange} for
        adapters that answer from another thread.
        """
        d = self.whenReplies(count, timeout)
        self.send(data)
        if count == 1:
            d.addCallback(lambda frames: frames[0])
        return d

    def askLater(self, frame: bytes, timeout: float = TIMEOUT) -> Deferred[codec.Decoded]:
        """
        Send one request with a CR and wait for its decoded reply: L{ask}
        for adapters that answer from another thread.
        """
        d = self.exchangeLater(frame + b"\r", 1, timeout)
        return d.addCallback(codec.decode, encoding=self.encoding)

    def whenReplies(self, count: int = 1, timeout: float = TIMEOUT) -> Deferred[list[bytes]]:
        """
        Wait for the next C{count} replies, on the reactor (see
        L{KioskReplies.whenReplies}). The result comes a reactor turn
        later, as from a socket, so the test does not go on inside the
        server's write.
        """
        return KioskReplies.whenReplies(self, count, timeout).addBoth(self._nextTurn)

    def whenClosed(self, timeout: float = TIMEOUT) -> Deferred[None]:
        """
        Wait until the server closes the connection, on the reactor (see
        L{KioskReplies.whenClosed}); a reactor turn later, as from a socket.
        """
        return KioskReplies.whenClosed(self, timeout).addBoth(self._nextTurn)

    def _nextTurn(self, result: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.reactor.callLater(0, d.callback, result)
        return d

    def hangUp(self) -> None:
        """
        Close the connection from the kiosk's side.
        """
        self.transport.loseConnection()


class InMemoryServer:
    """
    An ACS with the listener of its configuration, for one test, reached in
    memory.

    @ivar server: The L{ACSServer}.
    @ivar adapter: Its ILS adapter for C{DEMO}.
    @ivar clock: The L{Clock} driving the sessions' timers and dates
        (starting at L{CLOCK_START}), or the reactor given.
    @ivar factory: The listener's L{SIP2ServerFactory}.
    @ivar kiosks: Every L{InMemoryKiosk} connected.
    """

    def __init__(
        self,
        testCase: SynchronousTestCase | None = None,
        adapter: Any = None,
        config: Config | None = None,
        ilsTimeout: float = 30.0,
        clock: Clock | None = None,
        reactor: Any = None,
    ) -> None:
        """
        @param testCase: Its cleanup closes every connection still open.
        @param clock: The L{Clock} to use; a new one by default.
        @param reactor: A real reactor to run the server on instead of a
            clock: the server checks passwords in its thread pool, and the
            test waits with the Deferred forms of L{InMemoryKiosk}.
        """
        if reactor is None:
            self.clock = Clock() if clock is None else clock
            if clock is None:
                self.clock.advance(CLOCK_START)
            runInThread = runInline
        else:
            self.clock = reactor
            runInThread = None
        self.adapter = makeILS() if adapter is None else adapter
        self.config = makeConfig() if config is None else config
        self.server = ACSServer(
            self.config,
            {INSTITUTION: self.adapter},
            self.clock,
            ilsTimeout=ilsTimeout,
            runInThread=runInThread,
        )
        self.listener = self.config.listeners[0]
        self.factory = SIP2ServerFactory(self.server, self.listener)
        self.kiosks: list[InMemoryKiosk] = []
        if testCase is not None:
            testCase.addCleanup(self.stop)

    def buildProtocol(self, host: str = "127.0.0.1") -> tuple[SIP2Protocol, IPv4Address]:
        """
        The server protocol for a new connection from C{host}, not yet
        connected; each connection gets its own client port.
        """
        peer = IPv4Address("TCP", host, FIRST_PORT + len(self.kiosks))
        return self.factory.buildProtocol(peer), peer

    def connect(self, encoding: str = "ascii", host: str = "127.0.0.1") -> InMemoryKiosk:
        """
        Connect a new kiosk.

        @param encoding: How L{InMemoryKiosk.ask} decodes replies.
        @param host: The kiosk's address, as the server sees it.
        """
        protocol, peer = self.buildProtocol(host)
        kiosk = InMemoryKiosk(protocol, peer, encoding)
        self.kiosks.append(kiosk)
        return kiosk

    def loggedIn(
        self, user: str = LOGIN, password: str = PASSWORD, encoding: str = "ascii"
    ) -> InMemoryKiosk:
        """
        Connect a kiosk and log it in with a 93 (answered 941).
        """
        kiosk = self.connect(encoding)
        response = kiosk.ask(login(user, password))
        assert response.message == codec.LoginResponse(ok=True), response  # type: ignore[call-arg]
        return kiosk

    def stop(self) -> None:
        """
        Close every connection still open.
        """
        for kiosk in self.kiosks:
            if kiosk.connected:
                kiosk.hangUp()


@inlineCallbacks
def demoInMemory(
    testCase: SynchronousTestCase,
    now: datetime,
    config: Config | None = None,
    sequence: int | None = None,
) -> Generator[Deferred[Any], Any, tuple[Any, InMemoryServer, InMemoryKiosk]]:
    """
    The embedded SQLite system with the demo library (see L{startDemoILS})
    behind an L{InMemoryServer} whose clock reads C{now} too, and a kiosk
    logged in to it.

    @param config: The ACS configuration; L{makeConfig}'s by default.
    @param sequence: The login's C{AY} digit, if any.
    @return: A Deferred firing with C{(ils, acs, kiosk)}; the kiosk's
        requests to the adapter need the Deferred forms (L{askLater}).
    """
    ils = yield startDemoILS(testCase, now)
    clock = Clock()
    clock.advance(now.timestamp())
    acs = InMemoryServer(testCase, adapter=ils, config=config, clock=clock)
    kiosk = acs.connect()
    reply = kiosk.ask(login(sequence=sequence))
    testCase.assertEqual(reply.message, codec.LoginResponse(ok=True))  # type: ignore[call-arg]
    return ils, acs, kiosk


def connectInMemory(
    adapter: Any = None,
    config: Config | None = None,
    ilsTimeout: float = 30.0,
    clock: Clock | None = None,
) -> tuple[SIP2Protocol, StringTransport, Clock]:
    """
    A server protocol on a plain L{StringTransport} (closing only sets its
    C{disconnecting}) with every timer on a L{Clock}: for timeout and
    flow-control tests that drive the protocol by hand.

    @return: C{(protocol, transport, clock)}; the clock starts at
        L{CLOCK_START}.
    """
    acs = InMemoryServer(None, adapter, config, ilsTimeout, clock)
    protocol, peer = acs.buildProtocol()
    transport = StringTransport(hostAddress=SERVER_ADDRESS, peerAddress=peer)
    protocol.makeConnection(transport)
    return protocol, transport, acs.clock

