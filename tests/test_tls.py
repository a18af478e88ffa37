"""
Tests for L{sip2acs.transports.tls} and the TLS listener: conversations over real
loopback sockets, mutual TLS accepted and refused, an account bound to a
certificate subject, the TLS version floor, reloading certificates with
connections open (directly and by SIGHUP to a running twistd), and the
real C{openssl s_client} and C{stunnel} programs as kiosks' TLS clients.

Certificates come from a test CA minted for each test (L{tests.certs}).
"""

import os
import shutil
import subprocess

import attrs
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import CannotListenError, ConnectionDone
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IOpenSSLClientConnectionCreator,
)
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import formatEvent
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from zope.interface import implementer, providedBy

from sip2acs.app.tap import Options, makeService
from sip2acs.config import ConfigError, parseConfig
from sip2acs.passwords import hashPassword
from sip2acs.sip import codec
from sip2acs.tools.ports import freePort
from sip2acs.transports import tls as tlsModule, tlstransport
from sip2acs.transports.tls import (
    HalfCloseableTLS,
    ServerTLS,
    TLSMaterialError,
    loadMaterial,
    normalizeSubject,
)
from tests.certs import CertificateAuthority, certificatePEM, clientOptions, keyPEM
from tests.fixtures import makeListener
from tests.listeners import ListenerHarness, RawClient, waitFor
from tests.loopback import SIP2Client, captureLogs, login, makeAccount
from tests.process import startServer

STATUS = b"9900302.00"


def messages(events):
    return [formatEvent(event) for event in events]


class Files:
    """
    A test CA, a server certificate for C{localhost} and two kiosk client
    certificates, written as PEM files into a fresh directory.
    """

    def __init__(self, testCase, intermediate=False):
        self.directory = os.path.abspath(testCase.mktemp())
        self.ca = CertificateAuthority(intermediate=intermediate)
        self.caPath = self.ca.writeCertificate(self.directory)
        self.server = self.ca.issue("sip2acs.example")
        self.certificate, self.privateKey = self.server.write(
            self.directory, "server", fullchain=True
        )
        self.kiosk1 = self.ca.issue("kiosk1", client=True, server=False, unit="East")
        self.kiosk2 = self.ca.issue("kiosk2", client=True, server=False, unit="East")

    def listener(self, mutual=False, **settings):
        """
        A TLS listener on 127.0.0.1 port 0 serving these files.
        """
        settings.setdefault("certificate", self.certificate)
        settings.setdefault("privateKey", self.privateKey)
        return makeListener(
            transport="tls", clientCA=self.caPath if mutual else None, **settings
        )


@implementer(IOpenSSLClientConnectionCreator)
class LegacyClient:
    """
    A TLS client that speaks at most TLS 1.1 (at OpenSSL security level 0,
    so the client itself can), does not verify the server, and records the
    version it negotiated.
    """

    def __init__(self, maximum=SSL.TLS1_1_VERSION):
        self.context = SSL.Context(SSL.TLS_METHOD)
        self.context.set_min_proto_version(SSL.TLS1_VERSION)
        self.context.set_max_proto_version(maximum)
        self.context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")

    def clientConnectionForTLS(self, tlsProtocol):
        return SSL.Connection(self.context, None)


class TLSConversationTests(TestCase):
    """
    A kiosk over TLS on a loopback socket.
    """

    @inlineCallbacks
    def test_conversation(self):
        """
        A kiosk that trusts the test CA and checks the name C{localhost}
        logs in and gets its SC status over TLS (1.2 or better); the
        session sees no client certificate.
        """
        files = Files(self)
        events = captureLogs(self)
        acs = ListenerHarness(self, files.listener())
        client = yield acs.connect(clientOptions(files.ca))
        self.assertEqual(
            (yield client.ask(login())).message, codec.LoginResponse(ok=True)
        )
        status = (yield client.ask(STATUS)).message
        self.assertTrue(status.onlineStatus)
        session = acs.built[0].session
        self.assertIsNone(session.certificateSubject)
        version = client.transport.getHandle().get_protocol_version_name()
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        self.assertTrue(
            any(m.startswith("TLS from 127.0.0.1: TLSv1.") for m in messages(events))
        )

    @inlineCallbacks
    def test_chainPresented(self):
        """
        A server certificate issued by an intermediate CA verifies against
        the root alone, whether the intermediate follows the certificate in
        its file (certbot's fullchain.pem) or sits in a C{chain} file.
        """
        files = Files(self, intermediate=True)
        acs = ListenerHarness(self, files.listener())
        client = yield acs.connect(clientOptions(files.ca))
        self.assertTrue((yield client.ask(login())).message.ok)

        certificate, key = files.server.write(files.directory, "bare", fullchain=False)
        chain = files.server.writeChain(files.directory, "chain")
        listener = makeListener(
            transport="tls", certificate=certificate, privateKey=key, chain=chain
        )
        separate = ListenerHarness(self, listener)
        client = yield separate.connect(clientOptions(files.ca))
        self.assertTrue((yield client.ask(login())).message.ok)
        peerChain = client.transport.getHandle().get_peer_cert_chain(
            as_cryptography=True
        )
        self.assertEqual(
            [c.subject for c in peerChain],
            [files.server.certificate.subject, files.ca.chain[0].subject],
        )

    @inlineCallbacks
    def test_wrongHostnameRefusedByClient(self):
        """
        A kiosk checking a name the certificate does not carry refuses the
        server (service-identity), so no SIP2 is exchanged.
        """
        files = Files(self)
        acs = ListenerHarness(self, files.listener())
        client = yield acs.connect(
            clientOptions(files.ca, hostname="elsewhere.example")
        )
        client.send(login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        yield waitFor(reactor, lambda: not acs.server.connections)
        self.assertEqual([p.session.messages for p in acs.built], [0])


class HandshakeFailureTests(TestCase):
    """
    Handshakes that fail are logged with the address and why, and
    counted in the server's metrics.
    """

    @inlineCallbacks
    def test_plainTextKiosk(self):
        """
        A kiosk sending plain SIP2 to the TLS port is closed unanswered,
        and the log says the connection was not TLS.
        """
        files = Files(self)
        events = captureLogs(self)
        acs = ListenerHarness(self, files.listener())
        client = yield acs.connect(client=RawClient())
        client.transport.write(login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        yield waitFor(reactor, lambda: acs.server.metrics.tlsHandshakeFailures)
        self.assertTrue(
            any(
                m.startswith(
                    "TLS handshake with 127.0.0.1 on tcp:0:interface=127.0.0.1 failed:"
                    " not TLS, or broken TLS"
                )
                for m in messages(events)
            ),
            messages(events),
        )

    @inlineCallbacks
    def test_kioskRefusesCertificate(self):
        """
        A kiosk that does not trust the server's certificate (say, an
        expired or renewed one from a CA it lacks) refuses the handshake;
        the log says the peer refused it and why.
        """
        files = Files(self)
        events = captureLogs(self)
        acs = ListenerHarness(self, files.listener())
        client = yield acs.connect(clientOptions(CertificateAuthority("kiosk's idea")))
        client.send(login() + b"\r")
        yield client.lost
        yield waitFor(reactor, lambda: acs.server.metrics.tlsHandshakeFailures)
        self.assertIn(
            "TLS handshake with 127.0.0.1 on tcp:0:interface=127.0.0.1 failed:"
            " the peer refused it (unknown CA)",
            messages(events),
        )


class MutualTLSTests(TestCase):
    """
    With C{client-ca}, every kiosk must present a certificate from it.
    """

    def setUp(self):
        self.files = Files(self)
        self.events = captureLogs(self)

    @inlineCallbacks
    def test_accepted(self):
        """
        A kiosk with a certificate from the client CA is served, and the
        session knows the certificate's subject in RFC 4514 form.
        """
        acs = ListenerHarness(self, self.files.listener(mutual=True))
        client = yield acs.connect(clientOptions(self.files.ca, leaf=self.files.kiosk1))
        self.assertTrue((yield client.ask(login())).message.ok)
        session = acs.built[0].session
        self.assertEqual(
            session.certificateSubject, "CN=kiosk1,OU=East,O=Harbour Street Library"
        )

    @inlineCallbacks
    def test_noCertificateRefused(self):
        """
        A kiosk without a client certificate fails the handshake: it is
        never answered, and the refusal is logged with its address.
        """
        acs = ListenerHarness(self, self.files.listener(mutual=True))
        client = yield acs.connect(clientOptions(self.files.ca))
        client.send(login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        self.assertEqual([p.session.messages for p in acs.built], [0])
        self.assertIn(
            "TLS handshake with 127.0.0.1 on tcp:0:interface=127.0.0.1 failed:"
            " sip2acs refused it (certificate required)",
            messages(self.events),
        )
        self.assertEqual(
            acs.server.metrics.tlsHandshakeFailures, {"tcp:0:interface=127.0.0.1": 1}
        )

    @inlineCallbacks
    def test_otherCARefused(self):
        """
        A client certificate from another CA fails the handshake.
        """
        other = CertificateAuthority("another CA").issue(
            "kiosk1", client=True, server=False
        )
        acs = ListenerHarness(self, self.files.listener(mutual=True))
        client = yield acs.connect(clientOptions(self.files.ca, leaf=other))
        client.send(login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        self.assertTrue(
            any(
                m.startswith("TLS handshake with 127.0.0.1")
                and m.endswith("sip2acs refused it (unknown CA)")
                for m in messages(self.events)
            )
        )

    @inlineCallbacks
    def test_subjectBinding(self):
        """
        An account bound to kiosk1's certificate subject refuses the right
        password from a kiosk presenting kiosk2's certificate (940, logged)
        and accepts it with kiosk1's; an unbound account is not affected.
        """
        account = makeAccount(certificateSubject=self.files.kiosk1.subject)
        other = makeAccount("other", "pw")
        acs = ListenerHarness(
            self, self.files.listener(mutual=True), accounts=[account, other]
        )
        thief = yield acs.connect(clientOptions(self.files.ca, leaf=self.files.kiosk2))
        self.assertEqual(
            (yield thief.ask(login())).message, codec.LoginResponse(ok=False)
        )
        self.assertIn(
            "login 'kiosk' from 127.0.0.1 refused: the TLS client certificate is"
            " CN=kiosk2,OU=East,O=Harbour Street Library, not"
            " CN=kiosk1,OU=East,O=Harbour Street Library",
            messages(self.events),
        )
        self.assertTrue((yield thief.ask(login("other", "pw"))).message.ok)
        owner = yield acs.connect(clientOptions(self.files.ca, leaf=self.files.kiosk1))
        self.assertTrue((yield owner.ask(login())).message.ok)

    @inlineCallbacks
    def test_addressLoginNeedsCertificate(self):
        """
        An account bound to an address and to a certificate subject logs a
        kiosk in by its address only once the handshake has shown that
        certificate: with it, a 99 is answered without a 93; with another
        kiosk's certificate from the same address, it is not.
        """
        from sip2acs.acs.addresses import AddressList

        bound, _ = AddressList.parse(["127.0.0.1"])
        account = makeAccount(
            addresses=bound, certificateSubject=self.files.kiosk1.subject
        )
        acs = ListenerHarness(
            self, self.files.listener(mutual=True), accounts=[account]
        )
        owner = yield acs.connect(clientOptions(self.files.ca, leaf=self.files.kiosk1))
        self.assertTrue((yield owner.ask(STATUS)).message.onlineStatus)
        self.assertEqual(acs.built[0].session.account.login, "kiosk")
        other = yield acs.connect(clientOptions(self.files.ca, leaf=self.files.kiosk2))
        other.send(STATUS + b"\r")
        yield other.lost
        self.assertEqual(other.data, b"")

    @inlineCallbacks
    def test_subjectBindingWithoutTLS(self):
        """
        Over a raw (or telnet) listener there is no client certificate, so
        an account bound to a subject never logs in there.
        """
        account = makeAccount(certificateSubject=self.files.kiosk1.subject)
        acs = ListenerHarness(self, accounts=[account])
        client = yield acs.connect()
        self.assertEqual(
            (yield client.ask(login())).message, codec.LoginResponse(ok=False)
        )


class VersionFloorTests(TestCase):
    """
    TLS 1.2 is the default floor; older versions only by explicit,
    logged configuration.
    """

    def setUp(self):
        self.files = Files(self)

    @inlineCallbacks
    def legacyLogin(self, acs, maximum=SSL.TLS1_1_VERSION):
        client = yield acs.connect(LegacyClient(maximum))
        client.send(login() + b"\r")
        try:
            reply = yield client.reply()
        except Exception:
            reply = None
        return client, reply

    @inlineCallbacks
    def test_tls11RefusedByDefault(self):
        """
        A client that can do at most TLS 1.1 is refused by a listener with
        the default floor, and the refusal is logged.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self, self.files.listener())
        client, reply = yield self.legacyLogin(acs)
        self.assertIsNone(reply)
        self.assertEqual(client.data, b"")
        self.assertTrue(
            any(
                m.startswith("TLS handshake with 127.0.0.1")
                and m.endswith("sip2acs refused it (protocol version)")
                for m in messages(events)
            )
        )

    @inlineCallbacks
    def test_tls11WhenAllowed(self):
        """
        The same client is served by a listener with C{tls-minimum = "1.1"}
        (which logs a warning): the refusal above is the floor's doing.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self, self.files.listener(tlsMinimum="1.1"))
        self.assertTrue(any("which is insecure" in m for m in messages(events)))
        client, reply = yield self.legacyLogin(acs)
        self.assertEqual(reply, b"941")
        self.assertEqual(
            client.transport.getHandle().get_protocol_version_name(), "TLSv1.1"
        )

    @inlineCallbacks
    def test_rsaCertificateTLS12(self):
        """
        An RSA server certificate (what many CAs issue) serves a TLS 1.2
        client with a forward-secret AEAD suite.
        """
        rsa = self.files.ca.issue("sip2acs.example", rsa=True)
        certificate, key = rsa.write(self.files.directory, "rsa")
        listener = self.files.listener(certificate=certificate, privateKey=key)
        acs = ListenerHarness(self, listener)
        client, reply = yield self.legacyLogin(acs, SSL.TLS1_2_VERSION)
        self.assertEqual(reply, b"941")
        handle = client.transport.getHandle()
        self.assertEqual(handle.get_protocol_version_name(), "TLSv1.2")
        self.assertRegex(handle.get_cipher_name(), r"^ECDHE-RSA-(AES\d+-GCM|CHACHA20)")

    @inlineCallbacks
    def test_tls13Minimum(self):
        """
        With C{tls-minimum = "1.3"}, a client capped at TLS 1.2 is refused
        and a TLS 1.3 client is served.
        """
        acs = ListenerHarness(self, self.files.listener(tlsMinimum="1.3"))
        client, reply = yield self.legacyLogin(acs, SSL.TLS1_2_VERSION)
        self.assertIsNone(reply)
        modern = yield acs.connect(clientOptions(self.files.ca))
        self.assertTrue((yield modern.ask(login())).message.ok)
        self.assertEqual(
            modern.transport.getHandle().get_protocol_version_name(), "TLSv1.3"
        )


class ReloadTests(TestCase):
    """
    L{ServerTLS.reload} swaps certificates for new connections only.
    """

    @inlineCallbacks
    def test_reloadKeepsOpenConnections(self):
        """
        After the files are replaced by a certificate from a new CA and
        reloaded, the connection already open keeps working, a new kiosk
        gets the new certificate (trusting the new CA works, the old one
        fails), and the reload is logged.
        """
        files = Files(self)
        events = captureLogs(self)
        acs = ListenerHarness(self, files.listener())
        early = yield acs.connect(clientOptions(files.ca))
        self.assertTrue((yield early.ask(login())).message.ok)

        newCA = CertificateAuthority("renewed CA")
        newCA.issue("sip2acs.example").write(files.directory, "server", fullchain=True)
        acs.tls.reload()
        self.assertTrue(
            any(m.startswith("reloaded the TLS files of") for m in messages(events))
        )

        self.assertTrue((yield early.ask(STATUS)).message.onlineStatus)
        stale = yield acs.connect(clientOptions(files.ca))
        stale.send(STATUS + b"\r")
        yield stale.lost
        self.assertEqual(stale.data, b"")
        fresh = yield acs.connect(clientOptions(newCA))
        self.assertTrue((yield fresh.ask(login())).message.ok)

    @inlineCallbacks
    def test_badFilesKeepOldCertificates(self):
        """
        A reload that finds a broken certificate file, or a key that does
        not match, raises, logs why, and keeps serving the old
        certificate.
        """
        files = Files(self)
        events = captureLogs(self)
        acs = ListenerHarness(self, files.listener())
        with open(files.certificate, "wb") as f:
            f.write(b"not a certificate")
        self.assertRaises(TLSMaterialError, acs.tls.reload)
        files.ca.issue("other").write(files.directory, "other")
        with open(files.certificate, "wb") as f:
            f.write(certificatePEM(files.ca.issue("x").certificate))
        self.assertRaises(TLSMaterialError, acs.tls.reload)
        self.assertEqual(
            sum(
                m.startswith("not reloading the TLS files of") for m in messages(events)
            ),
            2,
        )
        client = yield acs.connect(clientOptions(files.ca))
        self.assertTrue((yield client.ask(login())).message.ok)
        self.assertEqual(
            client.transport.getHandle().get_peer_certificate(as_cryptography=True),
            files.server.certificate,
        )


CONFIG = """
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"
transport = "tls"
certificate = "%(certificate)s"
private-key = "%(key)s"

[[institution]]
id = "DEMO"
%(institution)s

[[account]]
login = "kiosk1"
password = "%(hash)s"
institution = "DEMO"
"""


class SighupTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def test_sighupReloadsCertificates(self):
        """
        C{kill -HUP} to a running C{twistd sip2acs} with a TLS listener
        makes new connections get the renewed certificate, while a kiosk
        connected before carries on.
        """
        files = Files(self)
        path = os.path.join(files.directory, "sip2acs.toml")
        with open(path, "w") as f:
            f.write(
                CONFIG
                % {
                    "certificate": files.certificate,
                    "key": files.privateKey,
                    "institution": 'database = "%s"\ndemo = true'
                    % (os.path.join(files.directory, "library.sqlite3"),),
                    "hash": hashPassword("pw1", cost=10),
                }
            )
        server = yield startServer(self, ["--config", path])

        def connect(ca):
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.port)
            from twisted.internet.endpoints import wrapClientTLS

            client = SIP2Client(reactor)
            return connectProtocol(wrapClientTLS(clientOptions(ca), endpoint), client)

        early = yield connect(files.ca)
        self.addCleanup(early.transport.loseConnection)
        self.assertTrue((yield early.ask(b"9300CNkiosk1|COpw1|")).message.ok)

        newCA = CertificateAuthority("renewed CA")
        newCA.issue("sip2acs.example").write(files.directory, "server", fullchain=True)
        server.transport.signalProcess("HUP")
        yield waitFor(reactor, lambda: "reloaded the TLS files of" in server.output, 10)

        self.assertTrue((yield early.ask(STATUS)).message.onlineStatus)
        fresh = yield connect(newCA)
        self.addCleanup(fresh.transport.loseConnection)
        self.assertTrue((yield fresh.ask(b"9300CNkiosk1|COpw1|")).message.ok)
        yield server.signal("TERM")


# -- the real programs ------------------------------------------------------


class _Program(ProcessProtocol):
    def __init__(self):
        self.output = b""
        self.ended = Deferred()

    def outReceived(self, data):
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason):
        self.ended.callback(None)


def _program(name):
    for candidate in (name, "/usr/bin/" + name, "/usr/sbin/" + name):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _run(testCase, argv):
    program = _Program()
    transport = reactor.spawnProcess(program, argv[0], argv, env=dict(os.environ))

    def stop():
        if not program.ended.called:
            try:
                transport.signalProcess("KILL")
            except Exception:
                pass
            return program.ended

    testCase.addCleanup(stop)
    return transport, program


class RealClientTests(TestCase):
    """
    The programs sites already run, as the kiosk side of the TLS port.
    """

    timeout = 60

    @inlineCallbacks
    def test_opensslClient(self):
        """
        C{openssl s_client}, verifying the server against the test CA and
        presenting a kiosk certificate (mutual TLS), carries a login and a
        status request.
        """
        openssl = _program("openssl")
        if openssl is None:
            raise SkipTest(
                "the openssl program is not installed (apt-get install openssl)"
            )
        files = Files(self)
        acs = ListenerHarness(self, files.listener(mutual=True))
        cert, key = files.kiosk1.write(files.directory, "kiosk1")
        transport, program = _run(
            self,
            [
                openssl,
                "s_client",
                "-quiet",
                "-no_ign_eof",
                "-connect",
                "127.0.0.1:%d" % (acs.port,),
                "-servername",
                "localhost",
                "-verify_hostname",
                "localhost",
                "-CAfile",
                files.caPath,
                "-verify_return_error",
                "-cert",
                cert,
                "-key",
                key,
            ],
        )
        transport.write(b"9300CNkiosk|COsecret|\r")
        yield waitFor(reactor, lambda: b"941\r" in program.output, 20)
        transport.write(STATUS + b"\r")
        yield waitFor(reactor, lambda: b"\r98" in program.output, 20)
        transport.closeStdin()
        yield program.ended
        self.assertEqual(
            acs.built[0].session.certificateSubject,
            "CN=kiosk1,OU=East,O=Harbour Street Library",
        )

    @inlineCallbacks
    def test_stunnelClient(self):
        """
        A kiosk speaking plain SIP2 to a local C{stunnel} client, which
        verifies this server and presents the kiosk's certificate, gets a
        full conversation: the site's stunnel setup works unchanged.
        """
        stunnel = _program("stunnel4") or _program("stunnel")
        if stunnel is None:
            raise SkipTest(
                "the stunnel program is not installed (apt-get install stunnel4)"
            )
        files = Files(self)
        acs = ListenerHarness(self, files.listener(mutual=True))
        cert, key = files.kiosk1.write(files.directory, "kiosk1")
        local = freePort()
        config = os.path.join(files.directory, "stunnel.conf")
        with open(config, "w") as f:
            f.write(
                "foreground = yes\npid =\n\n[sip2]\nclient = yes\n"
                "accept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\n"
                "CAfile = %s\nverifyChain = yes\ncheckHost = localhost\n"
                "cert = %s\nkey = %s\n" % (local, acs.port, files.caPath, cert, key)
            )
        transport, program = _run(self, [stunnel, config])
        client = None
        for _ in range(200):
            try:
                client = yield connectProtocol(
                    TCP4ClientEndpoint(reactor, "127.0.0.1", local), SIP2Client(reactor)
                )
                break
            except Exception:
                if program.ended.called:
                    self.fail("stunnel exited:\n%s" % (program.output.decode(),))
                yield deferLater(reactor, 0.05, lambda: None)
        self.assertIsNotNone(client, "stunnel did not listen:\n%s" % (program.output,))
        self.addCleanup(lambda: client.connected and client.transport.loseConnection())
        self.assertTrue((yield client.ask(login())).message.ok)
        self.assertTrue((yield client.ask(STATUS)).message.onlineStatus)
        self.assertEqual(
            acs.built[0].session.certificateSubject,
            "CN=kiosk1,OU=East,O=Harbour Street Library",
        )
        client.transport.loseConnection()
        yield client.lost

    @inlineCallbacks
    def test_opensslPrintsNormalSubject(self):
        """
        What the docs tell operators to run to get a certificate's subject,
        C{openssl x509 -noout -subject -nameopt RFC2253}, prints the form
        C{certificate-subject} is compared in.
        """
        openssl = _program("openssl")
        if openssl is None:
            raise SkipTest(
                "the openssl program is not installed (apt-get install openssl)"
            )
        files = Files(self)
        cert, key = files.kiosk1.write(files.directory, "kiosk1")
        output = subprocess.run(
            [openssl, "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", cert],
            capture_output=True,
            check=True,
        ).stdout.decode()
        printed = output.strip().split("=", 1)[1]
        self.assertEqual(normalizeSubject(printed), files.kiosk1.subject)
        yield deferLater(reactor, 0, lambda: None)


# -- files and configuration ----------------------------------------------


class HalfCloseableTLSTests(SynchronousTestCase):
    """
    L{HalfCloseableTLS} relies on parts of Twisted's TLS transport that are
    not public (see its docstring). If a Twisted upgrade renames or drops
    one, this fails, instead of half-closing kiosks silently losing their
    answers (the loopback tests in
    L{tests.test_net_regressions.TLSHalfCloseTests} and
    L{tests.test_bridge.BridgeHalfCloseTests} check the behaviour).
    """

    def test_twistedInternals(self):
        """
        The private method overridden and the ones called are Twisted's,
        and a connection has the state read.
        """
        for name in ["_flushReceiveBIO", "_flushSendBIO", "_tlsShutdownFinished"]:
            self.assertTrue(callable(vars(TLSMemoryBIOProtocol).get(name)), name)
        files = Files(self)
        tls = ServerTLS(files.listener())
        factory = tls.wrapFactory(
            Factory.forProtocol(Protocol), clock=MemoryReactorClock()
        )
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        self.assertIsInstance(protocol, HalfCloseableTLS)
        self.assertTrue(IHalfCloseableProtocol.providedBy(protocol))
        self.assertTrue(IHalfCloseableProtocol.providedBy(protocol.wrappedProtocol))
        self.assertIs(protocol._connectWrapped, True)
        self.assertTrue(callable(protocol.factory._creatorCallable))
        self.assertTrue(callable(vars(TLSMemoryBIOProtocol).get("_checkHandshakeStatus")))
        transport = StringTransport()
        protocol.makeConnection(transport)
        # The transport's interfaces, as Twisted's own makeConnection
        # declares them; the wrapped protocol connected.
        self.assertEqual(
            set(providedBy(protocol)) & set(providedBy(transport)),
            set(providedBy(transport)),
        )
        self.assertIn(protocol, factory.protocols)
        self.assertIs(protocol.wrappedProtocol.transport, protocol)
        self.assertTrue(protocol.wrappedProtocol.wrappedProtocol.connected)
        # The handshake's first step ran (the server waits for the client).
        self.assertEqual(transport.value(), b"")
        self.assertIs(protocol._handshakeDone, False)
        self.assertIs(protocol._lostTLSConnection, False)
        self.assertIs(protocol._aborted, False)
        self.assertEqual(protocol._appSendBuffer, [])
        self.assertIsInstance(protocol._tlsConnection, SSL.Connection)
        self.assertTrue(callable(protocol._aggregator.flush))
        protocol.transport.loseConnection()


class MaterialTests(SynchronousTestCase):
    def setUp(self):
        self.files = Files(self)

    def test_load(self) -> None:
        """
        L{loadMaterial} reads the certificate, its key, the chain after it
        and the client CAs as C{cryptography} objects.
        """
        material = loadMaterial(
            self.files.certificate, self.files.privateKey, clientCA=self.files.caPath
        )
        self.assertEqual(material.certificate, self.files.server.certificate)
        self.assertEqual(material.clientCAs, (self.files.ca.certificate,))
        self.assertEqual(material.chain, ())

    def test_problems(self) -> None:
        """
        Missing files, files without PEM, an encrypted key and a key of
        another certificate are each reported against the key naming the
        file.
        """
        directory = self.files.directory
        missing = os.path.join(directory, "missing.pem")
        garbage = os.path.join(directory, "garbage.pem")
        with open(garbage, "wb") as f:
            f.write(b"hello")
        error = self.assertRaises(
            TLSMaterialError, loadMaterial, missing, garbage, garbage, missing
        )
        self.assertEqual(
            error.problems,
            [
                ("certificate", "%s does not exist" % (missing,)),
                ("private-key", "%s holds no PEM private key" % (garbage,)),
                ("chain", "%s holds no PEM certificate" % (garbage,)),
                ("client-ca", "%s does not exist" % (missing,)),
            ],
        )
        from cryptography.hazmat.primitives import serialization

        encrypted = os.path.join(directory, "encrypted.key")
        with open(encrypted, "wb") as f:
            f.write(
                self.files.server.key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.BestAvailableEncryption(b"pw"),
                )
            )
        error = self.assertRaises(
            TLSMaterialError, loadMaterial, self.files.certificate, encrypted
        )
        self.assertIn("is encrypted", error.problems[0][1])
        otherKey = os.path.join(directory, "other.key")
        with open(otherKey, "wb") as f:
            f.write(keyPEM(self.files.kiosk1.key))
        error = self.assertRaises(
            TLSMaterialError, loadMaterial, self.files.certificate, otherKey
        )
        self.assertEqual(
            error.problems,
            [
                (
                    "private-key",
                    "%s is not the key of the certificate in %s"
                    % (otherKey, self.files.certificate),
                )
            ],
        )

    def test_normalizeSubject(self) -> None:
        """
        Subjects are compared as RFC 4514 strings, most specific attribute
        first; text that is not such a name is refused.
        """
        self.assertEqual(
            normalizeSubject("CN=kiosk1,OU=East,O=Harbour Street Library"),
            self.files.kiosk1.subject,
        )
        self.assertRaises(ValueError, normalizeSubject, "kiosk1")
        self.assertRaises(ValueError, normalizeSubject, "")


class TLSConfigTests(SynchronousTestCase):
    """
    The TLS keys of C{[[listener]]} and C{certificate-subject} of
    C{[[account]]}, validated with located problems.
    """

    def setUp(self):
        self.files = Files(self)

    def config(self, listener, account=None):
        data = {
            "listener": [dict({"endpoint": "tcp:45550"}, **listener)],
            "institution": [{"id": "LIB"}],
            "account": [
                dict(
                    {
                        "login": "sc1",
                        "password": hashPassword("pw", cost=4),
                        "institution": "LIB",
                    },
                    **(account or {}),
                )
            ],
        }
        return parseConfig(data)

    def problems(self, listener, account=None):
        return self.assertRaises(ConfigError, self.config, listener, account).problems

    def test_tlsListener(self) -> None:
        """
        A TLS listener with its files loads, with TLS 1.2 as the default
        floor; a client CA and an account bound to a subject go together.
        """
        config = self.config(
            {
                "transport": "tls",
                "certificate": self.files.certificate,
                "private-key": self.files.privateKey,
                "client-ca": self.files.caPath,
            },
            {"certificate-subject": "CN=kiosk1,OU=East,O=Harbour Street Library"},
        )
        listener = config.listeners[0]
        self.assertEqual(
            (listener.transport, listener.tls.minimum, listener.tls.clientCA),
            ("tls", "1.2", self.files.caPath),
        )
        self.assertEqual(
            config.accounts["sc1"].certificateSubject, self.files.kiosk1.subject
        )

    def test_located(self) -> None:
        """
        Missing TLS keys, missing files, an unknown floor, a TLS endpoint
        given to the TLS transport, and a bad subject are all reported,
        each with its location.
        """
        missing = os.path.join(self.files.directory, "nope.pem")
        problems = self.problems(
            {
                "endpoint": "ssl:45550",
                "transport": "tls",
                "certificate": missing,
                "tls-minimum": "1.4",
            },
            {"certificate-subject": "kiosk1"},
        )
        self.assertEqual(
            problems,
            [
                'listener[0].tls-minimum: must be one of 1.0, 1.1, 1.2, 1.3, not "1.4"',
                'listener[0].private-key: is required for transport = "tls"',
                "listener[0].endpoint: give a plain endpoint (tcp:45550:...):"
                ' transport = "tls" adds TLS itself',
                "account[0].certificate-subject: 'kiosk1' is not an RFC 4514"
                " distinguished name; write it as `openssl x509 -noout -subject"
                " -nameopt RFC2253 -in kiosk.pem` prints it, e.g."
                " CN=kiosk1,O=Harbour Library",
            ],
        )
        problems = self.problems(
            {"transport": "tls", "certificate": missing, "private-key": missing}
        )
        self.assertEqual(
            problems,
            [
                "listener[0].certificate: %s does not exist" % (missing,),
                "listener[0].private-key: %s does not exist" % (missing,),
            ],
        )

    def test_tlsKeysOnPlainListener(self) -> None:
        """
        TLS keys on a raw or telnet listener are a mistake, reported.
        """
        problems = self.problems(
            {"certificate": self.files.certificate, "tls-minimum": "1.3"}
        )
        self.assertEqual(
            problems,
            [
                'listener[0].certificate: is only for transport = "tls"',
                'listener[0].tls-minimum: is only for transport = "tls"',
            ],
        )

    def test_subjectNeedsMutualListener(self) -> None:
        """
        An account bound to a certificate subject when no listener asks for
        client certificates could never log in: reported.
        """
        problems = self.problems(
            {
                "transport": "tls",
                "certificate": self.files.certificate,
                "private-key": self.files.privateKey,
            },
            {"certificate-subject": "CN=kiosk1"},
        )
        self.assertEqual(
            problems,
            [
                "account[0].certificate-subject: no [[listener]] with transport ="
                ' "tls" and a client-ca asks for client certificates, so this'
                " account could never log in"
            ],
        )


class TLSServiceTests(SynchronousTestCase):
    """
    C{twistd sip2acs} builds TLS listeners from the configuration.
    """

    def test_makeService(self) -> None:
        """
        A TLS listener becomes a TCP port whose factory is TLS around the
        SIP2 factory, its files reload on SIGHUP, and an insecure floor is
        logged as a warning.
        """
        events = captureLogs(self)
        files = Files(self)
        path = os.path.join(files.directory, "sip2acs.toml")
        text = CONFIG % {
            "certificate": files.certificate,
            "key": files.privateKey,
            "institution": 'adapter = "tests.test_tap.memoryAdapter"\nshelf = "tls"',
            "hash": hashPassword("pw", cost=4),
        }
        text = text.replace('"tcp:0:interface=127.0.0.1"', '"tcp:45550"').replace(
            'transport = "tls"\n', 'transport = "tls"\ntls-minimum = "1.1"\n'
        )
        with open(path, "w") as f:
            f.write(text)
        options = Options()
        options.parseOptions(["--config", path])
        memory = MemoryReactorClock()
        service = makeService(options, memory)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        [(port, factory, backlog, interface)] = memory.tcpServers
        self.assertEqual((port, interface), (45550, ""))
        self.assertIsInstance(factory, TLSMemoryBIOFactory)
        self.assertIn(
            "TLS files of tcp:45550", [n for n, f in service.reloader.reloaders]
        )
        self.assertTrue(
            any(
                "tcp:45550 accepts TLS 1.1, which is insecure" in m
                for m in messages(events)
            )
        )

    def test_badFilesStopStartup(self) -> None:
        """
        A TLS listener whose files are missing is refused before anything
        starts, naming the file.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(
                CONFIG
                % {
                    "certificate": "/nonexistent/server.pem",
                    "key": "/nonexistent/server.key",
                    "institution": 'adapter = "tests.test_tap.memoryAdapter"\nshelf = "x"',
                    "hash": hashPassword("pw", cost=4),
                }
            )
        error = self.assertRaises(
            SystemExit, Options().parseOptions, ["--config", path]
        )
        self.assertIn(
            "listener[0].certificate: /nonexistent/server.pem does not exist",
            str(error),
        )


class BusyPortTests(TestCase):
    @inlineCallbacks
    def test_busyPortFailsLoudly(self):
        """
        A TLS listener whose port is taken stops the start-up with
        C{CannotListenError} instead of running without the port.
        """
        files = Files(self)
        acs = ListenerHarness(self, files.listener())
        from sip2acs.app.tap import listenerService

        listener = attrs.evolve(
            files.listener(), endpoint="tcp:%d:interface=127.0.0.1" % (acs.port,)
        )
        service = listenerService(acs.server, listener, reactor)
        self.assertRaises(CannotListenError, service.privilegedStartService)
        yield deferLater(reactor, 0, lambda: None)


class HandshakeWatchTests(SynchronousTestCase):
    """
    L{tlstransport.HandshakeWatch} reports a connection that ends before its
    handshake completes to what its factory was given, once, and nothing
    after a completed handshake.
    """

    def setUp(self) -> None:
        self.failed: list[tuple[object, Failure]] = []
        self.factory = tlstransport.HandshakeWatchFactory(Factory.forProtocol(Protocol), self)

    def handshakeFailed(self, watch: object, reason: Failure) -> None:
        self.failed.append((watch, reason))

    def connect(self) -> tlstransport.HandshakeWatch:
        watch = self.factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40000))
        watch.makeConnection(StringTransport())
        return watch

    def test_failedHandshake(self) -> None:
        """
        A connection lost before the handshake completed is reported with
        its reason.
        """
        watch = self.connect()
        reason = Failure(ConnectionDone())
        watch.connectionLost(reason)
        self.assertEqual(self.failed, [(watch, reason)])

    def test_completedHandshake(self) -> None:
        """
        After L{tlstransport.HandshakeWatch.handshakeCompleted}, losing the
        connection reports nothing.
        """
        watch = self.connect()
        watch.handshakeCompleted()
        watch.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.failed, [])

    def test_reExported(self) -> None:
        """
        The TLS transport's names are importable from
        L{sip2acs.transports.tls} too, as they were.
        """
        for name in tlstransport.__all__:
            self.assertIs(getattr(tlsModule, name), getattr(tlstransport, name), name)
