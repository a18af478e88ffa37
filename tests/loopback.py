# -*- test-case-name: tests.test_protocol,tests.test_session -*-
"""
Helpers for the transport and session tests: a configuration, an ACS
listening on a real loopback socket for one test, a small kiosk-like client,
and fixtures for building requests and capturing log events.

Everything listens on and connects to 127.0.0.1 only, and every port and
connection is closed by the test's cleanups, so trial finds a clean reactor.
"""

from datetime import datetime

import attrs
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import globalLogPublisher

from sip2acs.acs.server import ACSServer
from sip2acs.config import AccountConfig, Config, InstitutionConfig, ListenerConfig
from sip2acs.ils.memory import MemoryILS, MemoryItem, MemoryPatron
from sip2acs.passwords import hashPassword
from sip2acs.sip import codec
from sip2acs.sip.spec import FIELDS
from sip2acs.transports.factory import SIP2ServerFactory

__all__ = [
    "INSTITUTION",
    "LOGIN",
    "PASSWORD",
    "TIMEOUT",
    "LoopbackServer",
    "SIP2Client",
    "captureLogs",
    "connectInMemory",
    "demoKiosk",
    "login",
    "makeAccount",
    "makeConfig",
    "makeILS",
    "request",
    "runInline",
    "withChecksum",
]

INSTITUTION = "DEMO"
LOGIN = "kiosk"
PASSWORD = "secret"
WHEN = "20250314    101500"
"""
A transaction date for requests: SIP's 18-character local-time form.
"""

TIMEOUT = 5.0
"""
How long a helper waits for a reply or a close before failing the test.
"""

# Patrons and items of the default in-memory library.
ADA = "P1001"
ADA_PIN = "7319"
ZOE = "P1002"
ZOE_PIN = "5802"
FREE_ITEM = "B2001"
OTHER_ITEM = "B2002"
ADA_LOAN = "B2003"
ADA_DUE = datetime(2025, 3, 20, 23, 59)

_hashes = {}


def _hash(password):
    """
    A cheap (cost 10) hash of C{password}, computed once per test run.
    """
    if password not in _hashes:
        _hashes[password] = hashPassword(password, cost=10)
    return _hashes[password]


def makeAccount(login=LOGIN, password=PASSWORD, **settings):
    """
    An SC account of the C{DEMO} institution.

    @param settings: Other L{AccountConfig} attributes (C{errorDetection},
        C{encoding}, C{terminator}, C{location}, ...).
    """
    settings.setdefault("institution", INSTITUTION)
    return AccountConfig(login=login, passwordHash=_hash(password), **settings)


def makeConfig(
    loginTimeout=30.0,
    idleTimeout=600.0,
    maxFrame=16384,
    statusBeforeLogin=False,
    accounts=None,
    **institution,
):
    """
    A configuration with one loopback listener, the C{DEMO} institution and
    the accounts given (by default C{kiosk}/C{secret}, error detection
    mirrored, ASCII, CR).

    @param institution: L{InstitutionConfig} attributes overriding the
        defaults (C{timeoutPeriod}, C{retries}, C{checkin}, ...).
    """
    if accounts is None:
        accounts = [makeAccount()]
    institution.setdefault("libraryName", "Harbour Street Library")
    return Config(
        listeners=(
            ListenerConfig(
                endpoint="tcp:0:interface=127.0.0.1",
                loginTimeout=loginTimeout,
                idleTimeout=idleTimeout,
                maxFrame=maxFrame,
                statusBeforeLogin=statusBeforeLogin,
            ),
        ),
        institutions={
            INSTITUTION: InstitutionConfig(
                id=INSTITUTION, adapter="memory", **institution
            )
        },
        accounts={account.login: account for account in accounts},
    )


def makeILS(cls=MemoryILS):
    """
    A small in-memory library: two patrons with PINs (one with a
    non-ASCII name), two items on the shelf and one on loan to the first
    patron.

    @param cls: L{MemoryILS} or a subclass.
    """
    return cls(
        patrons=[
            MemoryPatron(ADA, "Ada Quillfeather", pin=ADA_PIN),
            MemoryPatron(ZOE, "Zo\N{LATIN SMALL LETTER E WITH DIAERESIS} Marsh", pin=ZOE_PIN),
        ],
        items=[
            MemoryItem(FREE_ITEM, "Clockwork Gardens"),
            MemoryItem(OTHER_ITEM, "Tidal Maps of the North"),
            MemoryItem(ADA_LOAN, "Lantern Stories", borrower=ADA, dueDate=ADA_DUE),
        ],
    )


# -- building requests ------------------------------------------------------


def withChecksum(prefix):
    """
    Complete a frame that ends in the literal C{AZ} with its checksum.

    @type prefix: L{bytes}
    """
    return prefix + codec.checksum(prefix).encode("ascii")


def request(cls, sequence=None, checksum=False, encoding="ascii", **fields):
    """
    Encode a request (without terminator) the way a kiosk would.

    Fixed fields left out get harmless defaults: the transaction date
    L{WHEN}, C{N} flags, the institution C{DEMO}.
    """
    names = {field.name for field in cls.spec.fixed}
    for name, default in [
        ("transactionDate", WHEN),
        ("scRenewalPolicy", False),
        ("noBlock", False),
        ("nbDueDate", None),
        ("returnDate", None),
        ("language", "001"),
        ("cardRetained", False),
        ("holdMode", "+"),
        ("summary", " " * 10),
        ("thirdPartyAllowed", False),
        ("feeType", "01"),
        ("paymentType", "00"),
        ("currencyType", "USD"),
        ("uidAlgorithm", "0"),
        ("pwdAlgorithm", "0"),
    ]:
        if name in names:
            fields.setdefault(name, default)
    if "transactionDate" in fields and isinstance(fields["transactionDate"], str):
        fields["transactionDate"] = codec.parseDate(fields["transactionDate"])
    if "institutionId" in {FIELDS[fid].name for fid in cls.spec.fields}:
        fields.setdefault("institutionId", INSTITUTION)
    return codec.encode(
        cls(**fields), sequence=sequence, checksum=checksum, encoding=encoding
    )


def runInline(f, *args):
    """
    An L{ACSServer}'s C{runInThread} for servers on a test clock, which has
    no thread pool: the work runs at once.
    """
    return succeed(f(*args))


def login(user=LOGIN, password=PASSWORD, sequence=None, **fields):
    """
    A 93 login request for C{user}.
    """
    return request(
        codec.Login, sequence=sequence, loginUserId=user, loginPassword=password,
        **fields,
    )


# -- logs -----------------------------------------------------------------


def captureLogs(testCase):
    """
    Collect every log event published while the test runs.

    @return: An L{EventLoggingObserver}, a sequence of events.
    """
    return EventLoggingObserver.createWithCleanup(testCase, globalLogPublisher)


# -- the client -----------------------------------------------------------


class ConnectionClosed(Exception):
    """
    The server closed the connection while the test waited for replies.
    """


class SIP2Client(Protocol):
    """
    A kiosk on a loopback connection: it sends raw bytes and collects the
    server's CR-terminated replies.

    @ivar data: Every byte received, as received.
    @ivar frames: Complete replies not yet taken by L{replies}, without
        their terminator (the LF of a CRLF terminator is dropped too).
    @ivar server: The server side of this connection (a L{SIP2Protocol
        <sip2acs.transports.protocol.SIP2Protocol>}), set by L{LoopbackServer.connect}.
    """

    def __init__(self, reactor):
        self.reactor = reactor
        self.data = b""
        self.frames = []
        self._partial = b""
        self._waiting = []
        self.server = None
        self.connected = False
        self.lost = Deferred()

    def connectionMade(self):
        self.connected = True
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.data += data
        *complete, self._partial = (self._partial + data).split(b"\r")
        for frame in complete:
            if frame.startswith(b"\n"):
                frame = frame[1:]
            self.frames.append(frame)
        self._deliver()

    def connectionLost(self, reason):
        self.connected = False
        waiting, self._waiting = self._waiting, []
        for count, d in waiting:
            d.errback(
                ConnectionClosed(
                    "connection closed with %d of %d replies received: %r"
                    % (len(self.frames), count, self.data)
                )
            )
        self.lost.callback(None)

    def _deliver(self):
        while self._waiting and len(self.frames) >= self._waiting[0][0]:
            count, d = self._waiting.pop(0)
            taken, self.frames = self.frames[:count], self.frames[count:]
            d.callback(taken)

    def send(self, data):
        """
        Write C{data} (bytes, sent as they are, terminators included).
        """
        self.transport.write(data)

    def replies(self, count=1, timeout=TIMEOUT):
        """
        Wait for the next C{count} replies.

        @return: A Deferred firing with a list of C{count} frames; it fails
            with L{ConnectionClosed} if the server closes first, and with
            L{TimeoutError <twisted.internet.defer.TimeoutError>} after
            C{timeout} seconds.
        """
        d = Deferred()
        if not self.connected:
            d.errback(ConnectionClosed("not connected: %r" % (self.data,)))
            return d
        self._waiting.append((count, d))
        self._deliver()
        return d.addTimeout(timeout, self.reactor)

    def reply(self, timeout=TIMEOUT):
        """
        Wait for the next reply.

        @return: A Deferred firing with one frame.
        """
        return self.replies(1, timeout).addCallback(lambda frames: frames[0])

    def exchange(self, data, count=1, timeout=TIMEOUT):
        """
        Send C{data} and wait for C{count} replies.
        """
        self.send(data)
        if count == 1:
            return self.reply(timeout)
        return self.replies(count, timeout)

    def ask(self, frame, timeout=TIMEOUT):
        """
        Send one request with a CR and wait for its decoded reply.

        @return: A Deferred firing with the L{codec.Decoded} reply (the
            codec checks its checksum, if any).
        """
        d = self.exchange(frame + b"\r", 1, timeout)
        return d.addCallback(codec.decode, encoding=self.encoding)

    encoding = "ascii"

    def waitForClose(self, timeout=TIMEOUT):
        """
        Wait until the server closes the connection.
        """
        d = Deferred()
        self.lost.addCallback(lambda ignored: (d.callback(None), None)[1])
        return d.addTimeout(timeout, self.reactor)

    @inlineCallbacks
    def sendInPieces(self, pieces, timeout=TIMEOUT):
        """
        Write C{pieces} one at a time, each only once the server has read
        the one before, so each arrives in its own read (its own packet).
        """
        for piece in pieces:
            target = self.server.bytesReceived + len(piece)
            self.send(piece)
            yield self.server.whenReceived(target, timeout)

    def waitForServerBytes(self, count, timeout=TIMEOUT):
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

    def whenReceived(target, timeout=TIMEOUT):
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
        self.adapter = makeILS() if adapter is None else adapter
        self.config = makeConfig() if config is None else config
        self.server = ACSServer(
            self.config, {INSTITUTION: self.adapter}, reactor, ilsTimeout=ilsTimeout
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
            self.reactor, "127.0.0.1", self.port.getHost().port, timeout=TIMEOUT
        )
        client = SIP2Client(self.reactor)
        client.encoding = encoding
        self.clients.append(client)
        yield connectProtocol(endpoint, client)
        accepted = self.factory.whenAccepted(client.transport.getHost().port)
        client.server = yield accepted.addTimeout(TIMEOUT, self.reactor)
        return client

    @inlineCallbacks
    def loggedIn(self, user=LOGIN, password=PASSWORD, encoding="ascii"):
        """
        Connect a client and log it in with a 93.

        @return: A Deferred firing with the client.
        """
        client = yield self.connect(encoding)
        response = yield client.ask(login(user, password))
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
        d.addTimeout(TIMEOUT, self.reactor)
        d.addBoth(lambda result: (self.port.stopListening(), result)[1])
        return d


# -- in memory ------------------------------------------------------------


def connectInMemory(adapter=None, config=None, ilsTimeout=30.0, clock=None):
    """
    A server protocol on a L{StringTransport} with every timer on a
    L{Clock}: for timeout and flow-control tests that need no socket.

    @return: C{(protocol, transport, clock)}; the clock starts at a
        plausible wall-clock time.
    """
    if clock is None:
        clock = Clock()
        clock.advance(1741947300)
    config = makeConfig() if config is None else config
    adapter = makeILS() if adapter is None else adapter
    server = ACSServer(
        config, {INSTITUTION: adapter}, clock, ilsTimeout=ilsTimeout, runInThread=runInline
    )
    factory = SIP2ServerFactory(server, config.listeners[0])
    peer = IPv4Address("TCP", "127.0.0.1", 40001)
    protocol = factory.buildProtocol(peer)
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 6001), peerAddress=peer
    )
    protocol.makeConnection(transport)
    return protocol, transport, clock


@inlineCallbacks
def demoKiosk(testCase, now, config=None, sequence=None):
    """
    The embedded SQLite system with the demo library (its clock pinned at
    C{now}) behind a L{LoopbackServer}, and a kiosk logged in to it; all
    stopped when the test ends.

    @param config: The ACS configuration; L{makeConfig}'s by default.
    @param sequence: The login's C{AY} digit, if any.
    @return: A Deferred firing with C{(ils, acs, client)}.
    """
    from sip2acs.ils.sqlite import SQLiteILS

    ils = SQLiteILS(testCase.mktemp(), demo=True, clock=lambda: now, allowOverpayment=False)
    yield ils.startService()
    testCase.addCleanup(ils.stopService)
    acs = LoopbackServer(testCase, adapter=ils, config=config)
    client = yield acs.connect()
    reply = yield client.ask(login(sequence=sequence))
    testCase.assertEqual(reply.message, codec.LoginResponse(ok=True))
    return ils, acs, client
