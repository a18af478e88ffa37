# -*- test-case-name: tests.test_protocol -*-
"""
The raw SIP2 transport: framing and timeouts around an L{ACSSession
<sip2acs.acs.session.ACSSession>}.

A frame ends at CR, CRLF or a bare LF (kiosks send all three). Empty frames
are ignored, a frame longer than the listener's limit closes the
connection, and only one request is in flight at a time: reading pauses
while the session works, so replies leave in order and a fast kiosk feels
TCP back-pressure instead of filling memory.

The protocol is also the streaming producer of its transport: when the
transport's write buffer goes over its high-water mark (a kiosk that does
not read its answers), the transport pauses it, and it stops taking
requests and stops reading until the buffer drains. Under TLS the same
registration goes through the TLS layer to the TCP transport.

An SC may half-close its connection (send its requests, then shut down its
write side): every request received is answered, then the connection is
closed. A connection on a plain port that starts with a TLS handshake
record is closed with one log line saying so.
"""

from typing import TYPE_CHECKING, cast

from twisted.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IHandshakeListener,
    IPushProducer,
    ISSLTransport,
    ISystemHandle,
    ITCPTransport,
)
from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from sip2acs.acs.frames import Reply
from sip2acs.acs.interfaces import ISIPConnection
from sip2acs.acs.session import ACSSession
from sip2acs.quicklog import QuickLogger
from sip2acs.transports.writing import writeNow

if TYPE_CHECKING:
    # For the type checker only: transports/ must not import config/ at
    # run time (tests/test_layers.py).
    from OpenSSL import SSL

    from sip2acs.config import ListenerConfig

__all__ = ["SIP2Protocol", "IConnectionTransport"]


class IConnectionTransport(ITCPTransport, IConsumer, IPushProducer, ISystemHandle):
    """
    What L{SIP2Protocol} uses of its transport: a TCP connection (or the
    TLS or protocol wrapper standing for one) that takes a streaming
    producer, pauses its reading and gives its handle (under TLS, the
    C{OpenSSL} connection). Every transport Twisted gives a listener's
    protocol provides all four; this interface only names the sum, for
    type checking.
    """


def looksLikeTLS(data: bytes) -> bool:
    """
    Whether C{data}, the first bytes of a connection, start a TLS
    handshake record (content type 22, version major 3): a TLS client on a
    plain port. No SIP2 frame starts with that control byte.
    """
    return data[:1] == b"\x16" and data[1:2] in (b"", b"\x03")


@implementer(ISIPConnection, IHandshakeListener, IHalfCloseableProtocol, IPushProducer)
class SIP2Protocol(LineReceiver, TimeoutMixin):
    """
    One SC connection on a raw port.

    @ivar session: The L{ACSSession <sip2acs.acs.session.ACSSession>}.
    @ivar connectedAt: When the connection was made (the session clock's
        seconds), or L{None} before.
    """

    log = QuickLogger()
    delimiter = b"\r"

    transport: IConnectionTransport

    def __init__(self, session: ACSSession, listener: "ListenerConfig") -> None:
        # One logger for the connection's life: each read of the class
        # attribute makes a new one, and a line is logged per event.
        self.log = self.log
        self.session = session
        self.listener = listener
        self.MAX_LENGTH = listener.maxFrame
        # TimeoutMixin's way to run its timer on another clock (the
        # session's): mypy sees a method replaced.
        self.callLater = session.clock.callLater  # type: ignore[method-assign,assignment]
        self._closing = False
        self._transportPaused = False
        self._inFlight = False
        self._writeBlocked = False
        self._readClosed = False
        self._stopping = False
        self._held = b""
        self._producing = False
        self._started = False
        self._handshaking = False
        self.connectedAt: float | None = None

    def connectionMade(self) -> None:
        self.connectedAt = self.session.clock.seconds()
        self._handshaking = ISSLTransport.providedBy(self.transport)
        # Back-pressure on replies: the transport pauses us when its write
        # buffer is full (see pauseProducing).
        self.transport.registerProducer(self, True)
        self._producing = True
        self.session.server.connections.register(self)
        if self.session.authenticated:
            # Logged in by its address (see ACSSession.loginByAddress).
            self.setTimeout(self.listener.idleTimeout)
        else:
            self.setTimeout(self.listener.loginTimeout)
        self.log.info(
            "connection from {peer} on {endpoint}",
            peer=self.session.peer,
            endpoint=self.listener.endpoint,
        )

    def handshakeCompleted(self) -> None:
        """
        TLS listeners: the handshake is done. Tell the session the subject
        of the SC's client certificate, and log the SC in by its address if
        an account is bound to it (and to that certificate).
        """
        from sip2acs.transports.tls import peerSubject

        self._handshaking = False
        self.session.certificateSubject = peerSubject(self.transport)
        # Under TLS the handle is the OpenSSL connection.
        handle = cast("SSL.Connection", self.transport.getHandle())
        self.log.info(
            "TLS from {peer}: {version} {cipher}, client certificate {subject}",
            peer=self.session.peer,
            version=handle.get_protocol_version_name(),
            cipher=handle.get_cipher_name(),
            subject=self.session.certificateSubject or "none",
        )
        if not self.session.authenticated and self.session.loginByAddress():
            self.setTimeout(self.listener.idleTimeout)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.setTimeout(None)
        self.session.connectionLost()
        self.session.server.connections.unregister(self)
        self.log.info(
            "{peer} disconnected after {count} messages",
            peer=self.session.peer,
            count=self.session.messages,
        )

    def timeoutConnection(self) -> None:
        if self._handshaking:
            # A TLS client that never completed its handshake.
            handshakeTimedOut = getattr(self.transport, "handshakeTimedOut", None)
            if handshakeTimedOut is not None:
                self._closing = True
                handshakeTimedOut(self.listener.loginTimeout)
                return
        state = "logged-in" if self.session.authenticated else "unauthenticated"
        self.log.info(
            "closing idle {state} connection from {peer}",
            state=state,
            peer=self.session.peer,
        )
        self.close()

    def close(self) -> None:
        """
        Stop reading and close the connection once pending replies are
        written.
        """
        self._closing = True
        if self._producing:
            # A registered producer holds the connection open.
            self._producing = False
            self.transport.unregisterProducer()
        self.transport.loseConnection()

    def _startOfConnection(self, data: bytes) -> bool:
        """
        Check the first bytes of the connection: on a plain port, a TLS
        handshake is logged and closes the connection.

        @return: C{True} if the connection is being closed.
        """
        if self._started or not data:
            return False
        self._started = True
        if looksLikeTLS(data) and not ISSLTransport.providedBy(self.transport):
            self.log.info(
                "{peer} on {endpoint} sent a TLS handshake: this looks like TLS on"
                " a plain port; closing",
                peer=self.session.peer,
                endpoint=self.listener.endpoint,
            )
            self.close()
            return True
        return False

    def dataReceived(self, data: bytes) -> None:
        if self._closing or self._startOfConnection(data):
            return
        # A bare LF ends a frame too; a CRLF then gives an empty frame,
        # which lineReceived ignores.
        if b"\n" in data:
            data = data.replace(b"\n", b"\r")
        if self.paused:
            # A request is in flight: keep what comes meanwhile, and if the
            # SC sends faster than it is answered, push back on TCP.
            self._held += data
            if len(self._held) > self.MAX_LENGTH:
                self._pauseReading()
            return None
        return LineReceiver.dataReceived(self, data)

    def lineReceived(self, line: bytes) -> None:
        if self._closing:
            return
        line = line.strip(b"\x00")
        if not line:
            return
        if self.session.authenticated:
            # Before login the login timeout runs from the connection's
            # start: frames (a 99 where allowed) do not extend it.
            self.resetTimeout()
        # One request in flight: stop taking lines until the reply is out.
        # The transport itself is paused only if the SC keeps sending
        # (see dataReceived), sparing two epoll changes per request.
        self._inFlight = True
        self.paused = True
        self.session.traceFrame("in", line)
        self.session.frameReceived(line).addCallbacks(self._cbReply, self._ebReply)

    def _cbReply(self, reply: Reply) -> None:
        self._inFlight = False
        if reply.data and not self._closing:
            self.session.traceFrame("out", reply.data)
            writeNow(self.transport, reply.data)
        if reply.close:
            self.close()
            return
        if self.session.authenticated:
            self.setTimeout(self.listener.idleTimeout)
        self._continue()

    def _busy(self) -> bool:
        """
        Whether a request is being answered.
        """
        return self._inFlight

    def _continue(self) -> None:
        """
        Take the next request, if nothing holds it back: a request in
        flight, or a transport whose write buffer is full. Once a
        half-closed SC's requests are all answered, close.
        """
        if self._closing or self._busy():
            return
        if self._stopping:
            self.close()
            return
        if self._writeBlocked:
            return
        self.paused = False
        if not self._readClosed:
            self._resumeReading()
        held, self._held = self._held, b""
        LineReceiver.dataReceived(self, held)
        if self._readClosed and not self._busy() and not self._closing:
            self._finishHalfClosed()

    def shutdown(self) -> None:
        """
        The server is stopping (see L{ConnectionRegistry.shutdown
        <sip2acs.acs.registry.ConnectionRegistry.shutdown>}): read and take
        nothing more, answer the request in flight, if any, then close.
        """
        if self._closing:
            return
        self._stopping = True
        self._pauseReading()
        self._continue()

    def _finishHalfClosed(self) -> None:
        """
        A half-closed SC's complete requests are answered: answer what is
        left of a frame without its terminator, if anything, then close.
        """
        rest = self.clearLineBuffer() + self._held
        self._held = b""
        if rest.strip(b"\r\x00"):
            self.lineReceived(rest)
            if self._busy():
                return
        if not self._closing:
            self.close()

    def _pauseReading(self) -> None:
        if not self._transportPaused:
            self._transportPaused = True
            self.transport.pauseProducing()

    def _resumeReading(self) -> None:
        if self._transportPaused:
            self._transportPaused = False
            self.transport.resumeProducing()

    def pauseProducing(self) -> None:
        """
        The transport's write buffer is over its high-water mark (the SC is
        not reading its answers): take no request and read nothing until
        it drains.
        """
        self._writeBlocked = True
        self.paused = True
        self._pauseReading()

    def resumeProducing(self) -> None:
        """
        The transport's write buffer has drained: carry on.
        """
        self._writeBlocked = False
        self._continue()

    def stopProducing(self) -> None:
        """
        The transport is going away: take no more requests.
        """
        self._closing = True
        self._producing = False

    def readConnectionLost(self) -> None:
        """
        The SC shut down its side of the connection: answer every request
        received, then close (see L{_continue}).
        """
        if self._readClosed:
            return
        self._readClosed = True
        self._continue()

    def writeConnectionLost(self) -> None:
        """
        Our side was shut down; nothing to do (L{close} follows).
        """

    def _ebReply(self, failure: Failure) -> None:
        self.log.failure(
            "session failed on a frame from {peer}; closing",
            failure,
            peer=self.session.peer,
        )
        self.close()

    def lineLengthExceeded(self, line: bytes) -> None:
        self.log.info(
            "frame from {peer} longer than {limit} bytes; closing",
            peer=self.session.peer,
            limit=self.MAX_LENGTH,
        )
        self.close()
