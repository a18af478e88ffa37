"""
A listener built the way C{twistd sip2acs} builds it (L{listenerFactory
<sip2acs.app.tap.listenerFactory>} on a L{ListeningService
<sip2acs.app.tap.ListeningService>}): PROXY header, access gate, TLS and the
SIP2 factory as configured, serving the in-memory library of
L{tests.loopback} on 127.0.0.1 (or ::1), an ephemeral port, for one test.
Everything it opens is closed by the test's cleanups.
"""

import attrs
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    connectProtocol,
    serverFromString,
    wrapClientTLS,
)
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater

from sip2acs.acs.server import ACSServer
from sip2acs.app.tap import ListeningService, listenerFactory, serverTLS
from tests.fixtures import makeListener
from tests.loopback import INSTITUTION, TIMEOUT, SIP2Client, makeConfig, makeILS, runInline

__all__ = ["ListenerHarness", "RawClient"]


class RawClient(Protocol):
    """
    A client that records every byte and when the connection ends.

    @ivar data: The bytes received.
    @ivar lost: A Deferred firing with L{None} when the connection ends.
    @ivar reason: Then, why it ended (a L{Failure}).
    """

    def __init__(self):
        self.data = b""
        self.lost = Deferred()
        self.connected = False
        self.reason = None

    def connectionMade(self):
        self.connected = True

    def dataReceived(self, data):
        self.data += data

    def connectionLost(self, reason):
        self.connected = False
        self.reason = reason
        self.lost.callback(None)


def waitFor(reactor, condition, timeout=TIMEOUT, interval=0.01):
    """
    Poll C{condition()} until it is true.

    @return: A Deferred firing with C{None}, failing with C{AssertionError}
        after C{timeout} seconds.
    """

    @inlineCallbacks
    def poll():
        for _ in range(int(timeout / interval)):
            if condition():
                return
            yield deferLater(reactor, interval, lambda: None)
        raise AssertionError("condition not met within %s s" % (timeout,))

    return poll()


class ListenerHarness:
    """
    One listener for one test.

    @ivar server: The L{ACSServer}.
    @ivar listener: The L{ListenerConfig}.
    @ivar port: The port number it listens on.
    @ivar tls: The L{ServerTLS} of a TLS listener.
    @ivar built: The SIP2 protocols built (every connection that got past
        the PROXY header and the access gate).
    """

    def __init__(
        self,
        testCase,
        listener=None,
        accounts=None,
        adapter=None,
        clock=None,
        reactor=None,
        host="127.0.0.1",
        **listenerSettings,
    ):
        """
        @param listener: A L{ListenerConfig}; by default one on C{host} port
            0 with C{listenerSettings}.
        @param clock: Drives the sessions' timers (and checks passwords
            inline) instead of the reactor.
        """
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.host = host
        if listener is None:
            interface = host.replace(":", "\\:")
            listener = makeListener(
                "%s:0:interface=%s" % ("tcp6" if ":" in host else "tcp", interface),
                **listenerSettings,
            )
        self.listener = listener
        config = attrs.evolve(makeConfig(accounts=accounts), listeners=(listener,))
        self.adapter = makeILS() if adapter is None else adapter
        self.server = ACSServer(
            config,
            {INSTITUTION: self.adapter},
            clock if clock is not None else reactor,
            runInThread=runInline if clock is not None else None,
        )
        self.tls = (
            serverTLS(self.server, listener) if listener.transport == "tls" else None
        )
        factory = listenerFactory(self.server, listener, reactor, self.tls)
        self.built = []
        inner = factory
        while hasattr(inner, "wrappedFactory"):
            inner = inner.wrappedFactory
        buildProtocol = inner.buildProtocol

        def tracked(addr):
            protocol = buildProtocol(addr)
            self.built.append(protocol)
            return protocol

        inner.buildProtocol = tracked
        self.factory = factory
        self.service = ListeningService(
            serverFromString(reactor, listener.endpoint), factory
        )
        self.service.startService()
        self.port = self.service.port.getHost().port
        self.clients = []
        testCase.addCleanup(self.stop)

    def endpoint(self, tlsOptions=None):
        """
        A client endpoint for this listener, through TLS with
        C{tlsOptions} if given.
        """
        kind = TCP6ClientEndpoint if ":" in self.host else TCP4ClientEndpoint
        endpoint = kind(self.reactor, self.host, self.port, timeout=TIMEOUT)
        if tlsOptions is not None:
            endpoint = wrapClientTLS(tlsOptions, endpoint)
        return endpoint

    def connect(self, tlsOptions=None, client=None):
        """
        Connect a client (a L{SIP2Client} by default).

        @return: A Deferred firing with the client once connected (for TLS:
            once TCP is connected; the handshake may still fail).
        """
        if client is None:
            client = SIP2Client(self.reactor)
        self.clients.append(client)
        d = connectProtocol(self.endpoint(tlsOptions), client)
        return d.addCallback(lambda ignored: client)

    @inlineCallbacks
    def stop(self):
        """
        Close every client, wait until the server has seen them go, and
        stop listening.
        """
        waits = []
        for client in self.clients:
            if client.transport is not None and client.connected:
                client.transport.loseConnection()
            if client.transport is not None:
                waits.append(client.lost)
        try:
            yield gatherResults(waits, consumeErrors=True).addTimeout(
                TIMEOUT, self.reactor
            )
        except Exception:
            pass
        for protocol in list(self.server.connections):
            protocol.transport.loseConnection()
        yield waitFor(self.reactor, lambda: not self.server.connections)
        yield self.service.stopService()
        # Let the reactor finish closing sockets and TLS shutdowns.
        yield deferLater(self.reactor, 0.01, lambda: None)
