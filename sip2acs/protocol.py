# -*- test-case-name: tests.test_protocol -*-
"""
The raw SIP2 transport: framing and timeouts around an L{ACSSession
<sip2acs.session.ACSSession>}.

A frame ends at CR, CRLF or a bare LF (kiosks send all three). Empty frames
are ignored, a frame longer than the listener's limit closes the
connection, and only one request is in flight at a time: reading pauses
while the session works, so replies leave in order and a fast kiosk feels
TCP back-pressure instead of filling memory.
"""

from twisted.internet.interfaces import IHandshakeListener
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from zope.interface import implementer

__all__ = ["SIP2Protocol"]


@implementer(IHandshakeListener)
class SIP2Protocol(LineReceiver, TimeoutMixin):
    """
    One SC connection on a raw port.

    @ivar session: The L{ACSSession <sip2acs.session.ACSSession>}.
    @ivar connectedAt: When the connection was made (the session clock's
        seconds), or L{None} before.
    """

    log = Logger()
    delimiter = b"\r"

    def __init__(self, session, listener):
        self.session = session
        self.listener = listener
        self.MAX_LENGTH = listener.maxFrame
        self.callLater = session.clock.callLater
        self._closing = False
        self._transportPaused = False
        self.connectedAt = None

    def connectionMade(self):
        self.connectedAt = self.session.clock.seconds()
        self.session.server.connections.add(self)
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

    def handshakeCompleted(self):
        """
        TLS listeners: the handshake is done. Tell the session the subject
        of the SC's client certificate, and log the SC in by its address if
        an account is bound to it (and to that certificate).
        """
        from sip2acs.tls import peerSubject

        self.session.certificateSubject = peerSubject(self.transport)
        self.log.info(
            "TLS from {peer}: {version} {cipher}, client certificate {subject}",
            peer=self.session.peer,
            version=self.transport.getHandle().get_protocol_version_name(),
            cipher=self.transport.getHandle().get_cipher_name(),
            subject=self.session.certificateSubject or "none",
        )
        if not self.session.authenticated and self.session.loginByAddress():
            self.setTimeout(self.listener.idleTimeout)

    def connectionLost(self, reason):
        self.setTimeout(None)
        self.session.connectionLost()
        self.session.server.connections.discard(self)
        self.log.info(
            "{peer} disconnected after {count} messages",
            peer=self.session.peer,
            count=self.session.messages,
        )

    def timeoutConnection(self):
        state = "logged-in" if self.session.authenticated else "unauthenticated"
        self.log.info(
            "closing idle {state} connection from {peer}",
            state=state,
            peer=self.session.peer,
        )
        self.close()

    def close(self):
        """
        Stop reading and close the connection once pending replies are
        written.
        """
        self._closing = True
        self.transport.loseConnection()

    def dataReceived(self, data):
        # A bare LF ends a frame too; a CRLF then gives an empty frame,
        # which lineReceived ignores.
        if b"\n" in data:
            data = data.replace(b"\n", b"\r")
        if self.paused and not self._transportPaused and (
            len(self._buffer) + len(data) > self.MAX_LENGTH
        ):
            # The SC sends faster than it is answered: push back on TCP.
            self._transportPaused = True
            self.transport.pauseProducing()
        return LineReceiver.dataReceived(self, data)

    def lineReceived(self, line):
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
        self.paused = True
        self.session.traceFrame("in", line)
        self.session.frameReceived(line).addCallbacks(self._cbReply, self._ebReply)

    def _cbReply(self, reply):
        if reply.data and not self._closing:
            self.session.traceFrame("out", reply.data)
            self.transport.write(reply.data)
        if reply.close:
            self.close()
            return
        if self.session.authenticated:
            self.setTimeout(self.listener.idleTimeout)
        if not self._closing:
            self.resumeProducing()

    def resumeProducing(self):
        self.paused = False
        if self._transportPaused:
            self._transportPaused = False
            self.transport.resumeProducing()
        self.dataReceived(b"")

    def _ebReply(self, failure):
        self.log.failure(
            "session failed on a frame from {peer}; closing",
            failure,
            peer=self.session.peer,
        )
        self.close()

    def lineLengthExceeded(self, line):
        self.log.info(
            "frame from {peer} longer than {limit} bytes; closing",
            peer=self.session.peer,
            limit=self.MAX_LENGTH,
        )
        self.close()
