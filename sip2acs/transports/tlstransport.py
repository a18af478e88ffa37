# -*- test-case-name: tests.test_tls -*-
"""
The TLS connection of a SIP2 listener or of the bridge's upstream: Twisted's
TLS transport made half-closeable, and the watch on its handshake.

L{HalfCloseableTLS} (built by L{HalfCloseableTLSFactory}) passes
half-closes through both ways: a peer that sends its requests and then
closes its sending side, by a TLS C{close_notify}, a TCP half-close, or
both, still gets every answer before the connection closes.

L{HandshakeWatch} (built by L{HandshakeWatchFactory}) sits between TLS
and the SIP2 protocol of one server connection and reports a handshake
that never completes, once, to the listener's TLS settings (its
C{handshakeFailed(watch, reason)}: L{sip2acs.transports.tls.ServerTLS}).
The TLS files and settings themselves are L{sip2acs.transports.tls}.
"""

from typing import TYPE_CHECKING, cast

from OpenSSL import SSL
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IHandshakeListener,
    IProtocolFactory,
    ITCPTransport,
    ITransport,
)
from twisted.internet.protocol import connectionDone
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.protocols.tls import BufferingTLSTransport, TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from sip2acs.transports.halfclose import HalfCloseableWrapper

if TYPE_CHECKING:
    from sip2acs.transports.tls import ServerTLS

__all__ = [
    "HalfCloseableTLS",
    "HalfCloseableTLSFactory",
    "HandshakeWatch",
    "HandshakeWatchFactory",
]


@implementer(IHalfCloseableProtocol)
class HalfCloseableTLS(BufferingTLSTransport):
    """
    Twisted's TLS transport, passing half-closes through both ways.

    Twisted's own (L{TLSMemoryBIOProtocol
    <twisted.protocols.tls.TLSMemoryBIOProtocol>}, as of 26.10) ends the
    whole connection when the peer stops sending: a TLS C{close_notify}
    makes it answer with its own and close TCP at once, and a TCP
    half-close (FIN) reaches it as the loss of the connection. Answers
    still being worked on are lost. Here, when the wrapped protocol
    provides L{IHalfCloseableProtocol}, either one, or both (C{close_notify}
    then FIN), is one call of its C{readConnectionLost}: it may go on
    writing, and its C{loseConnection} then sends our C{close_notify} and
    closes TCP. After a TCP half-close the peer's C{close_notify} can no
    longer come, so TCP is closed without waiting for it.

    L{loseWriteConnection} is the other direction: send C{close_notify}
    (once the handshake is done and everything written has gone into TLS),
    shut down TCP's sending side, and go on reading until the peer closes.

    A half-close before the handshake completes closes the connection, as
    before (nothing can be answered then), and a wrapped protocol that
    does not provide L{IHalfCloseableProtocol} gets Twisted's behaviour.

    Apart from L{_flushReceiveBIO} (see there) only public methods are
    overridden; the base class's state is read (C{_handshakeDone},
    C{_appSendBuffer}, C{_lostTLSConnection}, C{_aborted},
    C{_tlsConnection}, C{_connectWrapped}, L{BufferingTLSTransport}'s
    C{_aggregator}, the factory's C{_creatorCallable}) and its
    C{_flushSendBIO}, C{_checkHandshakeStatus} and C{_tlsShutdownFinished}
    are called (L{makeConnection} is Twisted's, minus a costly loop).
    C{tests.test_tls.HalfCloseableTLSTests} checks that these still exist,
    so a Twisted upgrade that changes them fails a test loudly instead of
    losing answers quietly.

    @ivar readClosed: The peer sends nothing more: its C{close_notify} or
        its TCP half-close was received.
    @ivar writeClosing: L{loseWriteConnection} was called.
    """

    transport: ITCPTransport
    readClosed = False
    writeClosing = False
    _writeClosed = False

    def _halfCloses(self) -> bool:
        """
        Whether the wrapped protocol takes half-closes.
        """
        return self.wrappedProtocol is not None and IHalfCloseableProtocol.providedBy(
            self.wrappedProtocol
        )

    def _peerFinished(self) -> None:
        """
        The peer sends nothing more: tell the wrapped protocol, once.
        """
        self.readClosed = True
        cast(IHalfCloseableProtocol, self.wrappedProtocol).readConnectionLost()
        self._closeIfDone()

    def _closeIfDone(self) -> None:
        """
        Close TCP once both sides are done: the peer sends nothing more and
        our C{close_notify} has gone out. (OpenSSL closes TCP itself when
        it has received the peer's C{close_notify}; after a bare TCP
        half-close it would wait for it forever.)
        """
        if (
            self.readClosed
            and not self._lostTLSConnection
            and self._tlsConnection.get_shutdown() & SSL.SENT_SHUTDOWN
        ):
            self.transport.loseConnection()

    def _closeWriteIfReady(self) -> None:
        """
        After L{loseWriteConnection}: once the handshake is done and every
        byte written is in TLS, send C{close_notify} and shut down TCP's
        sending side (or close TCP, if the peer has finished too).
        """
        if (
            not self.writeClosing
            or self._writeClosed
            or self.disconnecting
            or self._lostTLSConnection
            or not self._handshakeDone
            or self._appSendBuffer
        ):
            return
        self._writeClosed = True
        try:
            self._tlsConnection.shutdown()
        except SSL.Error:
            # Mid-renegotiation OpenSSL may want to read first; the TCP
            # half-close below still tells the peer we are done.
            pass
        self._flushSendBIO()
        if self.readClosed:
            self.transport.loseConnection()
        else:
            self.transport.loseWriteConnection()

    def readConnectionLost(self) -> None:
        """
        TCP half-close from the peer (with or without a C{close_notify}
        before it).
        """
        if self.readClosed:
            # Its close_notify came first and was passed on already.
            self._closeIfDone()
            return
        if not self._handshakeDone or not self._halfCloses():
            # Close; connectionLost reports it to the wrapped protocol as
            # Twisted always has.
            self.transport.loseConnection()
            return
        self._peerFinished()

    def writeConnectionLost(self) -> None:
        """
        Our TCP sending side is shut down (after L{loseWriteConnection}).
        """
        if self._halfCloses():
            cast(IHalfCloseableProtocol, self.wrappedProtocol).writeConnectionLost()

    def loseWriteConnection(self) -> None:
        """
        Send nothing more, but go on reading: send C{close_notify} and
        shut down TCP's sending side, after what was written.
        """
        if self.writeClosing or self.disconnecting or not self.connected:
            return
        self.writeClosing = True
        # Small writes wait in the aggregator for the next reactor turn;
        # close_notify must follow them.
        self._aggregator.flush()
        self._closeWriteIfReady()

    def dataReceived(self, data: bytes) -> None:
        BufferingTLSTransport.dataReceived(self, data)
        # The handshake may have completed, sending what waited for it.
        self._closeWriteIfReady()

    def loseConnection(self) -> None:
        BufferingTLSTransport.loseConnection(self)
        self._closeIfDone()

    def unregisterProducer(self) -> None:
        # Twisted sends close_notify here if loseConnection waited for the
        # producer.
        BufferingTLSTransport.unregisterProducer(self)
        self._closeIfDone()

    def makeConnection(self, transport: ITransport) -> None:
        """
        Twisted's, without its loop declaring the transport's interfaces
        one by one (each C{directlyProvides} call replaces the one before,
        and L{ProtocolWrapper.makeConnection} declares them all at once
        right after): about 200 interface computations per connection,
        the same interfaces in the end. A wrapper that does not connect
        its protocol at once gets Twisted's own.
        """
        if not self._connectWrapped:
            BufferingTLSTransport.makeConnection(self, transport)
            return
        self._tlsConnection = self.factory._creatorCallable(self)
        self._appSendBuffer = []
        # Declares the transport's interfaces, registers with the factory
        # and connects the wrapped protocol, as Twisted's does next.
        ProtocolWrapper.makeConnection(self, transport)
        self._checkHandshakeStatus()

    def _flushReceiveBIO(self) -> None:
        """
        Hand what OpenSSL has decrypted to the wrapped protocol; a
        C{close_notify} is a half-close.

        This replaces a private method of L{TLSMemoryBIOProtocol
        <twisted.protocols.tls.TLSMemoryBIOProtocol>}: it is the only place
        where OpenSSL reports a received C{close_notify} (as
        C{ZeroReturnError}), and Twisted's version shuts the connection down
        there and then. It is Twisted's loop with that one branch changed,
        and only for a wrapped protocol that takes half-closes; otherwise
        Twisted's own runs.
        """
        if not self._halfCloses():
            BufferingTLSTransport._flushReceiveBIO(self)
            return
        while not self._lostTLSConnection and not self.readClosed:
            try:
                data = self._tlsConnection.recv(2**15)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._peerFinished()
            except SSL.Error:
                self._tlsShutdownFinished(Failure())
            else:
                if not self._aborted:
                    ProtocolWrapper.dataReceived(self, data)
        # Reading may have produced TLS records to send (a handshake
        # message, an alert), unless the connection is gone already: with
        # TCP's sending side shut down, closing TCP is immediate.
        if self._tlsConnection is not None:
            self._flushSendBIO()


class HalfCloseableTLSFactory(TLSMemoryBIOFactory):
    """
    A L{TLSMemoryBIOFactory <twisted.protocols.tls.TLSMemoryBIOFactory>}
    whose connections are L{HalfCloseableTLS}.
    """

    protocol = HalfCloseableTLS


@implementer(IHandshakeListener)
class HandshakeWatch(HalfCloseableWrapper):
    """
    Sits between TLS and the SIP2 protocol of one connection, to notice a
    handshake that never completes (refused by either side, a plain-text
    kiosk on the TLS port, a kiosk that gives up) and report it once. It
    passes half-closes through (see L{HalfCloseableTLS}).

    @ivar alert: The TLS alert sent or received, as text, if any.
    """

    transport: HalfCloseableTLS
    done = False
    alert: str | None = None
    why: str | None = None

    def loseConnection(self) -> None:
        """
        Close: give up the SIP2 protocol's producer registration first, or
        TLS would wait for it before its shutdown. Before the handshake
        there is no TLS session to shut down: close TCP without an alert.
        """
        self.transport.unregisterProducer()
        if not self.done:
            self.transport.transport.loseConnection()
            return
        ProtocolWrapper.loseConnection(self)

    def handshakeTimedOut(self, seconds: float) -> None:
        """
        The SC's login timeout ran out before the handshake completed:
        close TCP cleanly; L{ServerTLS.handshakeFailed} logs it as a
        handshake timeout.

        @param seconds: The timeout.
        """
        self.why = "no handshake within %g s (handshake timeout)" % (seconds,)
        self.loseConnection()

    def handshakeCompleted(self) -> None:
        self.done = True
        if IHandshakeListener.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.handshakeCompleted()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.done:
            self.factory.tls.handshakeFailed(self, reason)
        ProtocolWrapper.connectionLost(self, reason)


class HandshakeWatchFactory(WrappingFactory[HandshakeWatch]):
    """
    Puts a L{HandshakeWatch} around each connection of C{wrappedFactory}.

    @ivar tls: What a failed handshake is reported to: an object with a
        C{handshakeFailed(watch, reason)} method (L{ServerTLS
        <sip2acs.transports.tls.ServerTLS>}).
    """

    protocol = HandshakeWatch
    noisy = False

    def __init__(self, wrappedFactory: IProtocolFactory, tls: "ServerTLS") -> None:
        super().__init__(wrappedFactory)
        self.tls = tls
