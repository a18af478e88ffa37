# -*- test-case-name: tests.test_bridge -*-
"""
The TLS bridge for branches (C{twistd sip2acs-bridge}).

Most kiosks cannot speak TLS. The bridge runs at the branch: it listens
for plain SIP2 on the branch's loopback or LAN address and, for each kiosk
connection, opens one TLS connection to the central sip2acs TLS listener,
verifying the server's certificate and name (service-identity) and
presenting the branch's client certificate. It then relays bytes both
ways without reading them. It replaces stunnel at both ends.

Each kiosk connection has its own upstream connection and nothing else is
shared, so a failure never sticks: the kiosk is paused until its upstream
is up; if the upstream cannot be reached, fails the handshake, or drops
later, the kiosk's connection is closed (kiosks reconnect), and the next
kiosk connection tries again.

Half-closes pass through: a kiosk (or a monitoring probe) that sends its
requests and then shuts down its sending side has that passed on upstream
(TLS C{close_notify}, then TCP half-close) while its answers are still
relayed back; when the central server has finished (its C{close_notify}
or TCP half-close), whatever it sent is relayed to the kiosk and both
connections are closed.
"""

from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.internet import ssl
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableProtocol,
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
    IPushProducer,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from sip2acs.transports.protocol import IConnectionTransport
from sip2acs.transports.tls import (
    HalfCloseableTLS,
    HalfCloseableTLSFactory,
    TLSMaterialError,
    loadMaterial,
)

__all__ = ["BridgeFactory", "BridgeTLS"]


class BridgeTLS:
    """
    The bridge's TLS client settings: whom to trust, which name to check,
    which certificate to present. L{reload} re-reads the files for
    connections opened after it.

    @ivar serverName: The name the server's certificate must carry.
    @ivar options: The current L{IOpenSSLClientConnectionCreator}.
    """

    log = Logger()
    options: IOpenSSLClientConnectionCreator

    def __init__(
        self,
        serverName: str,
        ca: str | None = None,
        certificate: str | None = None,
        privateKey: str | None = None,
    ) -> None:
        """
        @param ca: PEM file of the CA certificates to trust for the server;
            L{None} for the system's trust store.
        @param certificate: PEM file of the client certificate (and its
            chain), or L{None} for none.
        @param privateKey: PEM file of its unencrypted key.
        @raise TLSMaterialError: A file cannot serve.
        """
        self.serverName = serverName
        self.ca = ca
        self.certificate = certificate
        self.privateKey = privateKey
        self.subject: str | None = None
        self._load()

    def _load(self) -> None:
        problems: list[tuple[str, str]] = []
        trustRoot = None
        if self.ca is not None:
            try:
                with open(self.ca, "rb") as f:
                    authorities = x509.load_pem_x509_certificates(f.read())
            except OSError as e:
                problems.append(("ca", "cannot read %s: %s" % (self.ca, e.strerror)))
            except ValueError:
                problems.append(("ca", "%s holds no PEM certificate" % (self.ca,)))
            else:
                trustRoot = ssl.trustRootFromCertificates(
                    [
                        ssl.Certificate.loadPEM(
                            c.public_bytes(serialization.Encoding.PEM)
                        )
                        for c in authorities
                    ]
                )
        extra: dict[str, Any] = {}
        subject = None
        if self.certificate is not None and self.privateKey is None:
            # (Not a TypeError from open(None): a problem like the others.)
            problems.append(("private-key", "is required with a certificate"))
        elif self.certificate is not None and self.privateKey is not None:
            try:
                material = loadMaterial(self.certificate, self.privateKey)
            except TLSMaterialError as e:
                problems.extend(e.problems)
            else:
                extra = dict(
                    privateKey=material.privateKey,
                    certificate=material.certificate,
                    extraCertChain=list(material.chain),
                )
                subject = material.certificate.subject.rfc4514_string()
        if problems:
            raise TLSMaterialError(problems)
        self.options = ssl.optionsForClientTLS(
            self.serverName, trustRoot=trustRoot, extraCertificateOptions=extra
        )
        self.subject = subject

    def reload(self) -> None:
        """
        Re-read the files; a failure is logged and the old settings stay.

        @raise TLSMaterialError: The new files cannot serve.
        """
        try:
            self._load()
        except TLSMaterialError as e:
            self.log.error(
                "not reloading the bridge's TLS files: {problems}; the ones in use stay",
                problems=str(e),
            )
            raise
        self.log.info(
            "reloaded the bridge's TLS files (client certificate {subject})",
            subject=self.subject or "none",
        )


def _host(transport: ITransport) -> str:
    return getattr(transport.getPeer(), "host", "?")


@implementer(IHandshakeListener, IHalfCloseableProtocol)
class _Upstream(Protocol):
    """
    The TLS connection to the central server for one kiosk.
    """

    transport: HalfCloseableTLS

    def __init__(self, kiosk: "_Kiosk") -> None:
        self.kiosk = kiosk
        self._handshake: IDelayedCall | None = None
        self.secure = False

    def connectionMade(self) -> None:
        factory = self.kiosk.factory
        try:
            self.transport.setTcpKeepAlive(True)
        except Exception:
            pass
        self._handshake = factory.reactor.callLater(
            factory.timeout, self._handshakeTimedOut
        )

    def _handshakeTimedOut(self) -> None:
        self._handshake = None
        self.kiosk.factory.log.info(
            "no TLS handshake with {upstream} within {timeout} s for kiosk {peer};"
            " closing",
            upstream=self.kiosk.factory.upstreamName,
            timeout=self.kiosk.factory.timeout,
            peer=self.kiosk.peer,
        )
        self.transport.abortConnection()

    def handshakeCompleted(self) -> None:
        if self._handshake is not None and self._handshake.active():
            self._handshake.cancel()
        self._handshake = None
        self.secure = True
        handle = self.transport.getHandle()
        self.kiosk.factory.log.info(
            "kiosk {peer} -> {upstream}: {version} {cipher}",
            peer=self.kiosk.peer,
            upstream=self.kiosk.factory.upstreamName,
            version=handle.get_protocol_version_name(),
            cipher=handle.get_cipher_name(),
        )

    def dataReceived(self, data: bytes) -> None:
        self.kiosk.transport.write(data)

    def readConnectionLost(self) -> None:
        """
        The central server sends nothing more: everything it sent is
        written to the kiosk already, so close both connections (each
        after what is still to be written).
        """
        self.kiosk.closeAfterWrites()
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        """
        Our sending side is shut down, after the kiosk's; keep reading.
        """

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._handshake is not None and self._handshake.active():
            self._handshake.cancel()
        self._handshake = None
        self.kiosk.upstreamLost(reason, self.secure)


@implementer(IHalfCloseableProtocol)
class _Kiosk(Protocol):
    """
    One kiosk connection: paused until its upstream is up, then relayed.
    """

    transport: IConnectionTransport
    factory: "BridgeFactory"

    def __init__(self) -> None:
        self.upstream: _Upstream | None = None
        self.peer: str | None = None
        self._buffer: list[bytes] = []
        self._connecting: Deferred[_Upstream] | None = None
        self._closed = False
        self._finished = False

    def connectionMade(self) -> None:
        self.peer = _host(self.transport)
        self.factory.kiosks.add(self)
        # Read nothing more until the upstream can take it.
        self.transport.pauseProducing()
        self.factory.log.info(
            "kiosk {peer} connected; opening {upstream}",
            peer=self.peer,
            upstream=self.factory.upstreamName,
        )
        self._connecting = self.factory.connectUpstream(_Upstream(self))
        self._connecting.addCallbacks(self._cbConnected, self._ebConnected)

    def _cbConnected(self, upstream: _Upstream) -> None:
        self._connecting = None
        if self._closed:
            upstream.transport.loseConnection()
            return
        self.upstream = upstream
        pending, self._buffer = self._buffer, []
        for data in pending:
            upstream.transport.write(data)
        # Back-pressure both ways. (The TLS wrapper provides what its TCP
        # transport provides, IPushProducer included: see
        # ProtocolWrapper.makeConnection.)
        self.transport.registerProducer(cast(IPushProducer, upstream.transport), True)
        upstream.transport.registerProducer(self.transport, True)
        self.transport.resumeProducing()

    def _ebConnected(self, failure: Failure) -> None:
        self._connecting = None
        if self._closed:
            return
        self.factory.log.info(
            "cannot reach {upstream} for kiosk {peer}: {error}; closing the kiosk's"
            " connection",
            upstream=self.factory.upstreamName,
            peer=self.peer,
            error=failure.getErrorMessage(),
        )
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.transport.write(data)
        else:
            self._buffer.append(data)

    def readConnectionLost(self) -> None:
        """
        The kiosk shut down its sending side: pass that on upstream after
        what it sent, and go on relaying the answers.
        """
        # Once only: TCP told to read again reports the end again.
        if self._finished:
            return
        self._finished = True
        if self.upstream is None:
            # Not expected: the kiosk is read from only once its upstream
            # is up (see connectionMade).
            self.transport.loseConnection()
            return
        # The kiosk, the upstream's producer, sends nothing more. The
        # upstream sends close_notify, then a TCP half-close.
        self.upstream.transport.unregisterProducer()
        self.upstream.transport.loseWriteConnection()

    def writeConnectionLost(self) -> None:
        """
        Never called: the bridge does not half-close a kiosk.
        """

    def closeAfterWrites(self) -> None:
        """
        Close the kiosk's connection once what is buffered for it is
        written (the upstream's last answers). The upstream is
        unregistered as its producer first: TCP does not close while it
        waits for a paused producer.
        """
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def upstreamLost(self, reason: Failure, secure: bool) -> None:
        """
        The upstream connection ended: close the kiosk's too.
        """
        if self._closed:
            return
        if secure:
            what = "closed the connection"
        else:
            what = "refused the TLS handshake"
        self.factory.log.info(
            "{upstream} {what} of kiosk {peer} ({reason}); closing it",
            upstream=self.factory.upstreamName,
            what=what,
            peer=self.peer,
            reason=reason.getErrorMessage(),
        )
        self.closeAfterWrites()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closed = True
        self.factory.kiosks.discard(self)
        if self._connecting is not None:
            connecting, self._connecting = self._connecting, None
            connecting.cancel()
        if self.upstream is not None:
            # A registered producer would hold back TLS's close_notify.
            self.upstream.transport.unregisterProducer()
            self.upstream.transport.loseConnection()


class BridgeFactory(Factory["_Kiosk"]):
    """
    Builds a relay for each kiosk connection.

    @ivar kiosks: The kiosk connections open now.
    """

    log = Logger()
    protocol = _Kiosk

    def __init__(
        self, reactor: IReactorTime, host: str, port: int, tls: BridgeTLS, timeout: float = 10.0
    ) -> None:
        """
        @param host: The central server's name or address.
        @param port: Its TLS port.
        @param tls: A L{BridgeTLS}.
        @param timeout: Seconds to connect and to complete the handshake.
        """
        self.reactor = reactor
        self.host = host
        self.port = port
        self.tls = tls
        self.timeout = timeout
        self.kiosks: set[_Kiosk] = set()
        self.upstreamName = "%s:%d" % (
            host if ":" not in host else "[%s]" % (host,),
            port,
        )

    def connectUpstream(self, protocol: _Upstream) -> Deferred[_Upstream]:
        """
        Open a TLS connection to the central server for C{protocol}.

        @return: A Deferred firing with C{protocol} once TCP is connected
            (the handshake follows).
        """
        endpoint = HostnameEndpoint(
            self.reactor, self.host, self.port, timeout=self.timeout
        )
        factory = Factory.forProtocol(lambda: protocol)
        factory.noisy = False
        d = endpoint.connect(
            HalfCloseableTLSFactory(self.tls.options, True, factory, self.reactor)
        )
        return d.addCallback(lambda ignored: protocol)
