# -*- test-case-name: tests.test_sipclient -*-
"""
Opening a L{SIP2ClientProtocol} connection: L{connect} over TCP (an
address literal) or a host name, with TLS when given the options that
L{clientTLS} builds.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import ssl
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    connectProtocol,
    wrapClientTLS,
)
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IStreamClientEndpoint

from sip2acs.client.protocol import SIP2ClientProtocol
from sip2acs.sip.exchange import ClientCore

__all__ = ["connect", "clientTLS"]


def connect(
    reactor: Any,
    host: str,
    port: int,
    tls: IOpenSSLClientConnectionCreator | None = None,
    timeout: float = 10.0,
    **options: Any,
) -> Deferred[SIP2ClientProtocol]:
    """
    Connect to a SIP2 server.

    @param reactor: An L{IReactorTCP} and L{IReactorTime} (and, for a host
        name, a resolver).
    @param tls: TLS client options (L{clientTLS}); plain TCP if L{None}.
    @param timeout: Seconds to wait for the connection, and then for each
        answer.
    @param options: L{ClientCore} arguments (C{encoding},
        C{errorDetection}, ...).
    @return: A Deferred firing with the connected protocol (not logged in:
        send a 93, or call L{SIP2ClientProtocol.telnetLogin}).
    """
    endpoint: IStreamClientEndpoint
    if isIPAddress(host):
        endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    elif isIPv6Address(host):
        endpoint = TCP6ClientEndpoint(reactor, host, port, timeout=timeout)
    else:
        endpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
    if tls is not None:
        # The TLS layer's timers on this reactor too, not the global one.
        endpoint = wrapClientTLS(tls, endpoint, clock=reactor)
    options.setdefault("peer", "%s:%d" % (host, port))
    protocol = SIP2ClientProtocol(reactor, ClientCore(**options), timeout)
    connected: Deferred[SIP2ClientProtocol] = connectProtocol(endpoint, protocol)
    return connected


def clientTLS(
    hostname: str,
    ca: str | None = None,
    certificate: str | None = None,
    privateKey: str | None = None,
    insecure: bool = False,
) -> IOpenSSLClientConnectionCreator:
    """
    TLS client options: the server's certificate is verified against
    C{ca} (or the platform's CAs) and must name C{hostname}.

    @param ca: A PEM file of trusted CA certificates.
    @param certificate: A PEM file with the client certificate (and its
        key, unless C{privateKey} is given).
    @param insecure: Verify nothing (testing and benchmarks only).
    @raise OSError: A file cannot be read.
    """
    client = None
    if certificate is not None:
        with open(certificate, "rb") as f:
            pem = f.read()
        if privateKey is not None:
            with open(privateKey, "rb") as f:
                pem += b"\n" + f.read()
        client = ssl.PrivateCertificate.loadPEM(pem)
    if insecure:
        # No verification: plain CertificateOptions (a context factory that
        # wrapClientTLS accepts) rather than optionsForClientTLS.
        if client is None:
            return ssl.CertificateOptions()
        return ssl.CertificateOptions(
            privateKey=client.privateKey.original, certificate=client.original
        )
    trust: Any = ssl.platformTrust()
    if ca is not None:
        with open(ca, "rb") as f:
            blocks = f.read().split(_BEGIN)[1:]
        trust = ssl.trustRootFromCertificates(
            [ssl.Certificate.loadPEM(_BEGIN + block) for block in blocks]
        )
    return ssl.optionsForClientTLS(hostname, trust, client)


_BEGIN = b"-----BEGIN CERTIFICATE-----"
