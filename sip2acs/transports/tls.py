# -*- test-case-name: tests.test_tls -*-
"""
Native TLS for SIP2 listeners (C{transport = "tls"}), replacing stunnel.

The certificate, its private key, an optional chain and an optional bundle
of client CAs are PEM files, read with C{cryptography} (L{loadMaterial}).
L{serverOptions} turns them into a L{CertificateOptions
<twisted.internet.ssl.CertificateOptions>} with an explicit floor (TLS 1.2
unless the listener says otherwise) and forward-secret AEAD ciphers only.
With a client CA bundle every kiosk must present a certificate issued by
one of those CAs (mutual TLS). Listeners offer session tickets (TLS 1.2
and 1.3) for clients that connect again and again; a resumed session
keeps the client certificate verified on its full handshake, and is
accepted only by a listener with the same L{sessionContext}.

L{ServerTLS} is what a listener's L{TLSMemoryBIOFactory
<twisted.protocols.tls.TLSMemoryBIOFactory>} asks for each new connection;
L{ServerTLS.reload} (run on SIGHUP) re-reads the files and swaps the
settings for connections made after it, while open connections keep the
ones they started with. A reload that fails leaves the old ones in place.

TLS connections, server and client (the branch bridge's upstream), are
L{HalfCloseableTLS}: a peer that sends its requests and then closes its
sending side, by a TLS C{close_notify}, a TCP half-close, or both, still
gets every answer before the connection closes. That transport and the
watch on each handshake live in L{sip2acs.transports.tlstransport}; their
names are importable from here too.

Certificate subjects are compared in one normal form: the RFC 4514 string
that C{cryptography} gives (C{Name.rfc4514_string()}), most specific
attribute first, e.g. C{CN=kiosk1,OU=East,O=Harbour Library}: what
C{openssl x509 -noout -subject -nameopt RFC2253} prints for ASCII names.
"""

import hashlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from OpenSSL import SSL
from twisted.internet import ssl
from twisted.internet.interfaces import (
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    IReactorTime,
    ISSLTransport,
    ISystemHandle,
    ITransport,
)
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from sip2acs.transports.tlstransport import (
    HalfCloseableTLS,
    HalfCloseableTLSFactory,
    HandshakeWatch,
    HandshakeWatchFactory,
)

if TYPE_CHECKING:
    # For the type checker only: transports/ must not import config/ at
    # run time (tests/test_layers.py).
    from sip2acs.config import ListenerConfig, TLSSettings

__all__ = [
    "HalfCloseableTLS",
    "HalfCloseableTLSFactory",
    "TLS_VERSIONS",
    "TLSMaterial",
    "TLSMaterialError",
    "ServerTLS",
    "loadMaterial",
    "normalizeSubject",
    "peerSubject",
    "serverOptions",
    "sessionContext",
]

TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1_0,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
"""
The values of a listener's C{tls-minimum}; C{1.0} and C{1.1} are insecure
and only for kiosks that cannot do better.
"""

INSECURE_VERSIONS = ("1.0", "1.1")

MODERN_CIPHERS = (
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS"
)
"""
TLS 1.2 suites: forward secrecy and AEAD only. (TLS 1.3 suites are all
modern and are left to OpenSSL.)
"""

LEGACY_CIPHERS = MODERN_CIPHERS + ":ECDHE+AES:DHE+AES"
"""
With an insecure floor: the modern suites first, then the CBC suites that
TLS 1.0 and 1.1 need (still with forward secrecy).
"""

_ALERTS = {
    10: "unexpected message",
    20: "bad record MAC",
    40: "handshake failure",
    42: "bad certificate",
    43: "unsupported certificate",
    44: "certificate revoked",
    45: "certificate expired",
    46: "certificate unknown",
    47: "illegal parameter",
    48: "unknown CA",
    50: "decode error",
    51: "decrypt error",
    70: "protocol version",
    71: "insufficient security",
    80: "internal error",
    86: "inappropriate fallback",
    109: "missing extension",
    112: "unrecognized name",
    116: "certificate required",
    120: "no application protocol",
}


class TLSMaterialError(ValueError):
    """
    PEM files that cannot serve. C{problems} lists C{(key, text)} pairs,
    where C{key} is the configuration key naming the file at fault
    (C{certificate}, C{private-key}, C{chain}, C{client-ca}).
    """

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        ValueError.__init__(
            self, "; ".join("%s: %s" % (key, text) for key, text in self.problems)
        )


@attrs.frozen
class TLSMaterial:
    """
    What a TLS listener serves with, as C{cryptography} objects.

    @ivar certificate: The server's certificate.
    @ivar privateKey: Its private key.
    @ivar chain: Intermediate certificates sent after it.
    @ivar clientCAs: The CAs whose certificates kiosks must present; empty
        for no client certificates.
    """

    certificate: x509.Certificate
    privateKey: PrivateKeyTypes = attrs.field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    clientCAs: tuple[x509.Certificate, ...] = ()


def _read(path: str, key: str, problems: list[tuple[str, str]]) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        problems.append((key, "%s does not exist" % (path,)))
    except OSError as e:
        problems.append((key, "cannot read %s: %s" % (path, e.strerror)))
    return None


def _certificates(
    path: str, key: str, problems: list[tuple[str, str]]
) -> tuple[x509.Certificate, ...]:
    data = _read(path, key, problems)
    if data is None:
        return ()
    try:
        certificates = tuple(x509.load_pem_x509_certificates(data))
    except ValueError:
        problems.append((key, "%s holds no PEM certificate" % (path,)))
        return ()
    return certificates


def _publicBytes(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def loadMaterial(
    certificate: str, privateKey: str, chain: str | None = None, clientCA: str | None = None
) -> "TLSMaterial":
    """
    Read a listener's PEM files.

    @param certificate: The server certificate file; certificates after the
        first are taken as its chain (a certbot C{fullchain.pem} works).
    @param privateKey: The unencrypted private key file.
    @param chain: A file of intermediate certificates, or L{None}.
    @param clientCA: A bundle of CA certificates for client certificates,
        or L{None}.
    @rtype: L{TLSMaterial}
    @raise TLSMaterialError: A file is missing, unreadable, not PEM, or the
        key does not belong to the certificate.
    """
    problems: list[tuple[str, str]] = []
    certificates = _certificates(certificate, "certificate", problems)
    key = None
    data = _read(privateKey, "private-key", problems)
    if data is not None:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            problems.append(
                (
                    "private-key",
                    "%s is encrypted; give sip2acs an unencrypted key that "
                    "only its user can read" % (privateKey,),
                )
            )
        except (ValueError, UnsupportedAlgorithm):
            problems.append(
                ("private-key", "%s holds no PEM private key" % (privateKey,))
            )
    extra: tuple[x509.Certificate, ...] = ()
    if chain is not None:
        extra = _certificates(chain, "chain", problems)
    cas: tuple[x509.Certificate, ...] = ()
    if clientCA is not None:
        cas = _certificates(clientCA, "client-ca", problems)
    if certificates and key is not None:
        if _publicBytes(certificates[0].public_key()) != _publicBytes(key.public_key()):
            problems.append(
                (
                    "private-key",
                    "%s is not the key of the certificate in %s"
                    % (privateKey, certificate),
                )
            )
    if problems or key is None:
        # (No key always comes with a problem saying why.)
        raise TLSMaterialError(problems)
    return TLSMaterial(
        certificate=certificates[0],
        privateKey=key,
        chain=certificates[1:] + extra,
        clientCAs=cas,
    )


def serverOptions(material: TLSMaterial, minimum: str = "1.2") -> ssl.CertificateOptions:
    """
    The TLS settings of a listener, session tickets offered.

    @param material: A L{TLSMaterial}.
    @param minimum: The oldest TLS version accepted: C{"1.2"} (default),
        C{"1.3"}, or the insecure C{"1.0"}/C{"1.1"}.
    @rtype: L{CertificateOptions <twisted.internet.ssl.CertificateOptions>}
    """
    version = TLS_VERSIONS[minimum]
    floor = {}
    if version > ssl.TLSVersion.TLSv1_2:
        floor["raiseMinimumTo"] = version
    elif version < ssl.TLSVersion.TLSv1_2:
        floor["insecurelyLowerMinimumTo"] = version
    trustRoot = None
    if material.clientCAs:
        trustRoot = ssl.trustRootFromCertificates(
            [
                ssl.Certificate.loadPEM(ca.public_bytes(serialization.Encoding.PEM))
                for ca in material.clientCAs
            ]
        )
    ciphers = LEGACY_CIPHERS if minimum in INSECURE_VERSIONS else MODERN_CIPHERS
    # Twisted's annotations name pyOpenSSL's PKey and X509; the context
    # it hands them to takes cryptography's keys and certificates too.
    return ssl.CertificateOptions(
        privateKey=material.privateKey,  # type: ignore[arg-type]
        certificate=material.certificate,  # type: ignore[arg-type]
        extraCertChain=list(material.chain),  # type: ignore[arg-type]
        trustRoot=trustRoot,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(ciphers),
        enableSessionTickets=True,
        **floor,
    )


def sessionContext(endpoint: str, material: TLSMaterial, minimum: str = "1.2") -> bytes:
    """
    The session id context of a listener: a resumed TLS session (a
    ticket) is accepted only by a listener with the same one.

    It is derived from what a session's trust depends on: the listener's
    endpoint, the client CAs (a session verified against one CA bundle
    must not be resumed where another is required) and the version
    floor. Two instances configured alike compute the same value; a
    ticket still resumes only where its ticket key is known, and
    OpenSSL's ticket keys are random per process (and per reload), so
    elsewhere the kiosk simply gets a full handshake.

    @param endpoint: The listener's endpoint string.
    @param material: The listener's L{TLSMaterial}.
    @param minimum: Its C{tls-minimum}.
    @return: 32 bytes (OpenSSL's maximum).
    """
    digest = hashlib.sha256(b"sip2acs session context\0")
    digest.update(endpoint.encode("utf-8") + b"\0" + minimum.encode("ascii") + b"\0")
    for ca in material.clientCAs:
        digest.update(ca.public_bytes(serialization.Encoding.DER))
    return digest.digest()


def normalizeSubject(text: str) -> str:
    """
    The normal form of a distinguished name written in RFC 4514 syntax.

    @param text: E.g. C{"CN=kiosk1,O=Harbour Library"}.
    @rtype: L{str}
    @raise ValueError: C{text} is not an RFC 4514 name.
    """
    try:
        name = x509.Name.from_rfc4514_string(text)
    except ValueError as e:
        raise ValueError("is not an RFC 4514 distinguished name") from e
    if not list(name):
        raise ValueError("is empty")
    return name.rfc4514_string()


def peerSubject(transport: ITransport | None) -> str | None:
    """
    The subject of the certificate the peer presented, in normal form.

    @param transport: The SIP2 protocol's transport.
    @return: The RFC 4514 string, or L{None} when the transport is not TLS
        or the peer sent no certificate.
    """
    if not ISSLTransport.providedBy(transport):
        return None
    # Twisted's TLS transports give their OpenSSL connection as their handle.
    connection = cast(SSL.Connection, cast(ISystemHandle, transport).getHandle())
    certificate = connection.get_peer_certificate(as_cryptography=True)
    if certificate is None:
        return None
    return certificate.subject.rfc4514_string()


def _describe(material: TLSMaterial) -> str:
    return "%s (expires %s)" % (
        material.certificate.subject.rfc4514_string(),
        material.certificate.not_valid_after_utc.strftime("%Y-%m-%d"),
    )


@implementer(IOpenSSLServerConnectionCreator)
class ServerTLS:
    """
    The TLS settings of one listener, re-read from its files on L{reload}.

    @ivar listener: The L{ListenerConfig <sip2acs.config.ListenerConfig>}.
    @ivar material: The L{TLSMaterial} in use for new connections.
    """

    log = Logger()
    material: TLSMaterial
    _context: SSL.Context

    def __init__(
        self,
        listener: "ListenerConfig",
        handshakeFailed: Callable[[], object] | None = None,
    ) -> None:
        """
        Read the listener's files.

        @param handshakeFailed: Called with no arguments for each
            handshake that fails (for metrics), or L{None}.
        @raise TLSMaterialError: They cannot serve.
        """
        self.listener = listener
        self._onFailure = handshakeFailed
        self._load()
        if self._settings().minimum in INSECURE_VERSIONS:
            self.log.warn(
                "{endpoint} accepts TLS {version}, which is insecure: raise"
                " tls-minimum to 1.2 once its kiosks can do better",
                endpoint=listener.endpoint,
                version=self._settings().minimum,
            )
        self.log.info(
            "{endpoint}: TLS {minimum}+ with {certificate}{mutual}",
            endpoint=listener.endpoint,
            minimum=self._settings().minimum,
            certificate=_describe(self.material),
            mutual=", client certificates required" if self.material.clientCAs else "",
        )

    def wrapFactory(
        self, factory: IProtocolFactory, clock: IReactorTime | None = None
    ) -> HalfCloseableTLSFactory:
        """
        Put TLS with these settings around C{factory}.

        @param clock: The reactor (for TLS's write aggregation).
        @rtype: L{HalfCloseableTLSFactory}
        """
        return HalfCloseableTLSFactory(
            self, False, HandshakeWatchFactory(factory, self), clock=clock
        )

    def _settings(self) -> "TLSSettings":
        # A TLS listener has its TLS part (ListenerConfig checks it).
        return cast("TLSSettings", self.listener.tls)

    def _load(self) -> None:
        settings = self._settings()
        material = loadMaterial(
            settings.certificate, settings.privateKey, settings.chain, settings.clientCA
        )
        context = serverOptions(material, settings.minimum).getContext()
        # Resumption by tickets only (TLS 1.2 tickets, TLS 1.3 PSK tickets):
        # stateless, so no session cache to hold memory; the ticket keys
        # are this context's own, so a reload ends resumption of older
        # sessions. Twisted sets a random session id context; ours is the
        # listener's (see sessionContext). OpenSSL stores the verified
        # client certificate in the session, so a resumed session keeps
        # its certificate subject. (Twisted also sets
        # SSL.MODE_RELEASE_BUFFERS: OpenSSL's record buffers are freed
        # while a connection is idle.)
        context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        context.set_session_id(
            sessionContext(self.listener.endpoint, material, settings.minimum)
        )
        context.set_info_callback(self._info)
        if settings.minimum in INSECURE_VERSIONS:
            # OpenSSL 3 refuses TLS 1.0/1.1 above security level 0.
            context.set_cipher_list(LEGACY_CIPHERS.encode("ascii") + b":@SECLEVEL=0")
        self.material = material
        self._context = context

    def reload(self) -> None:
        """
        Re-read the files for connections made from now on; open ones are
        not affected.

        @raise TLSMaterialError: The new files cannot serve; the old
            settings stay.
        """
        try:
            self._load()
        except TLSMaterialError as e:
            self.log.error(
                "not reloading the TLS files of {endpoint}: {problems}; the"
                " certificates in use stay",
                endpoint=self.listener.endpoint,
                problems=str(e),
            )
            raise
        self.log.info(
            "reloaded the TLS files of {endpoint}: {certificate}",
            endpoint=self.listener.endpoint,
            certificate=_describe(self.material),
        )

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A connection with the current settings.
        """
        return SSL.Connection(self._context, None)

    def _info(self, connection: SSL.Connection, where: int, value: int) -> None:
        """
        Remember the fatal alert sent or received during a handshake (no
        client certificate, an unknown CA, a TLS version below the floor;
        or the kiosk refusing our certificate), for L{handshakeFailed}.
        """
        if not where & SSL.SSL_CB_ALERT or value >> 8 != 2:
            return
        description = value & 0xFF
        name = _ALERTS.get(description, "alert %d" % (description,))
        if where & SSL.SSL_CB_WRITE:
            text = "sip2acs refused it (%s)" % (name,)
        else:
            text = "the peer refused it (%s)" % (name,)
        try:
            watch = connection.get_app_data().wrappedProtocol
        except AttributeError:
            return
        if isinstance(watch, HandshakeWatch) and watch.alert is None:
            watch.alert = text

    def handshakeFailed(self, watch: HandshakeWatch, reason: Failure) -> None:
        """
        A connection ended before its handshake completed: log why, with
        the peer's address, and count it.
        """
        peer = getattr(watch.getPeer(), "host", None)
        if watch.why is not None:
            why = watch.why
        elif watch.alert is not None:
            why = watch.alert
        elif reason.check(SSL.Error):
            why = "not TLS, or broken TLS: %s" % (reason.getErrorMessage(),)
        else:
            why = "the connection closed before the handshake completed"
        self.log.info(
            "TLS handshake with {peer} on {endpoint} failed: {why}",
            peer=peer,
            endpoint=self.listener.endpoint,
            why=why,
        )
        if self._onFailure is not None:
            self._onFailure()
