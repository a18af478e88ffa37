"""
Tests for the branch bridge (L{sip2acs.app.bridge}, C{twistd sip2acs-bridge}):
a kiosk speaking plain SIP2 to the bridge, the bridge speaking mutual TLS
to a sip2acs TLS listener, all on loopback sockets.
"""

import os

from twisted.application.service import IServiceMaker
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.logger import formatEvent
from twisted.plugin import getPlugins
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.app.bridge import BridgeTLS
from sip2acs.app.bridgetap import Options, makeService, parseUpstream
from sip2acs.sip import codec
from sip2acs.transports.tls import TLSMaterialError
from tests.certs import CertificateAuthority
from tests.fixtures import makeListener
from tests.listeners import ListenerHarness, RawClient, waitFor
from tests.loopback import (
    ADA,
    ADA_PIN,
    FREE_ITEM,
    INSTITUTION,
    SIP2Client,
    captureLogs,
    login,
    makeAccount,
    request,
)

STATUS = b"9900302.00"


def messages(events):
    return [formatEvent(event) for event in events]


class Site:
    """
    Central and branch certificates: the central server's certificate for
    C{localhost} from the central CA, and the branch's client certificate
    from the same CA, as PEM files.
    """

    def __init__(self, testCase):
        self.directory = os.path.abspath(testCase.mktemp())
        self.ca = CertificateAuthority("central CA")
        self.caPath = self.ca.writeCertificate(self.directory)
        self.server = self.ca.issue("sip.library.example")
        self.certificate, self.privateKey = self.server.write(self.directory, "server")
        self.branch = self.ca.issue(
            "branch-east", client=True, server=False, unit="East"
        )
        self.branchCertificate, self.branchKey = self.branch.write(
            self.directory, "branch"
        )

    def listener(
        self, endpoint="tcp:0:interface=127.0.0.1", certificate=None, key=None
    ):
        """
        The central TLS listener, requiring client certificates.
        """
        return makeListener(
            endpoint,
            transport="tls",
            certificate=certificate or self.certificate,
            privateKey=key or self.privateKey,
            clientCA=self.caPath,
        )


class Bridge:
    """
    A bridge built by C{twistd sip2acs-bridge}'s own L{makeService},
    listening on 127.0.0.1 port 0, for one test.
    """

    def __init__(self, testCase, site, port, *extra):
        options = Options()
        options.parseOptions(
            [
                "--listen",
                "tcp:0:interface=127.0.0.1",
                "--upstream",
                "127.0.0.1:%d" % (port,),
                "--ca",
                site.caPath,
                "--certificate",
                site.branchCertificate,
                "--private-key",
                site.branchKey,
                "--server-name",
                "localhost",
                "--timeout",
                "5",
                *extra,
            ]
        )
        self.service = makeService(options, reactor)
        self.service.privilegedStartService()
        self.service.startService()
        self.factory = self.service.bridgeFactory
        self.port = self.service.listeners[0].port.getHost().port
        self.clients = []
        testCase.addCleanup(self.stop)

    def connect(self, client=None):
        client = SIP2Client(reactor) if client is None else client
        self.clients.append(client)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, timeout=5)
        return connectProtocol(endpoint, client).addCallback(lambda ignored: client)

    @inlineCallbacks
    def stop(self):
        for client in self.clients:
            if client.transport is not None and client.connected:
                client.transport.loseConnection()
        for client in self.clients:
            if client.transport is not None:
                yield client.lost
        yield waitFor(reactor, lambda: not self.factory.kiosks)
        yield self.service.stopService()


class BridgeConversationTests(TestCase):
    @inlineCallbacks
    def test_fullConversation(self):
        """
        A kiosk talks plain SIP2 to the bridge and gets a full
        conversation from the central server over mutual TLS: login (93),
        status (99), patron information (63), checkout (11) and checkin
        (09). The server sees the branch's certificate subject, and the
        bridge logs the TLS connection.
        """
        events = captureLogs(self)
        site = Site(self)
        central = ListenerHarness(self, site.listener())
        bridge = Bridge(self, site, central.port)
        kiosk = yield bridge.connect()

        self.assertEqual(
            (yield kiosk.ask(login())).message, codec.LoginResponse(ok=True)
        )
        status = (yield kiosk.ask(STATUS)).message
        self.assertEqual(status.institutionId, INSTITUTION)
        patron = (
            yield kiosk.ask(
                request(
                    codec.PatronInformation,
                    patronIdentifier=ADA,
                    patronPassword=ADA_PIN,
                )
            )
        ).message
        self.assertEqual(patron.personalName, "Ada Quillfeather")
        checkout = (
            yield kiosk.ask(
                request(codec.Checkout, patronIdentifier=ADA, itemIdentifier=FREE_ITEM)
            )
        ).message
        self.assertTrue(checkout.ok)
        checkin = (
            yield kiosk.ask(request(codec.Checkin, itemIdentifier=FREE_ITEM))
        ).message
        self.assertTrue(checkin.ok)

        [session] = [p.session for p in central.built]
        self.assertEqual(session.certificateSubject, site.branch.subject)
        self.assertEqual(session.messages, 5)
        self.assertTrue(
            any(
                m.startswith(
                    "kiosk 127.0.0.1 -> 127.0.0.1:%d: TLSv1." % (central.port,)
                )
                for m in messages(events)
            )
        )

    @inlineCallbacks
    def test_subjectBoundAccount(self):
        """
        An account bound to the branch certificate's subject logs in
        through the bridge; the same password straight to the TLS port
        with another certificate is refused.
        """
        site = Site(self)
        account = makeAccount(certificateSubject=site.branch.subject)
        central = ListenerHarness(self, site.listener(), accounts=[account])
        bridge = Bridge(self, site, central.port)
        kiosk = yield bridge.connect()
        self.assertTrue((yield kiosk.ask(login())).message.ok)
        from tests.certs import clientOptions

        other = site.ca.issue("branch-west", client=True, server=False)
        direct = yield central.connect(clientOptions(site.ca, leaf=other))
        self.assertFalse((yield direct.ask(login())).message.ok)

    @inlineCallbacks
    def test_manyKiosks(self):
        """
        Each kiosk connection gets its own upstream connection and session.
        """
        site = Site(self)
        central = ListenerHarness(self, site.listener())
        bridge = Bridge(self, site, central.port)
        kiosks = []
        for _ in range(3):
            kiosks.append((yield bridge.connect()))
        for kiosk in kiosks:
            self.assertTrue((yield kiosk.ask(login())).message.ok)
        self.assertEqual(len(central.built), 3)


class BridgeHalfCloseTests(TestCase):
    """
    Issue 9 item 10 through the bridge: half-closes pass through.
    """

    @inlineCallbacks
    def test_kioskHalfCloses(self):
        """
        A kiosk that sends its requests and shuts down its sending side
        gets every answer, a last frame without terminator included; then
        the bridge closes it, and the central server's and the bridge's
        connections are gone.
        """
        site = Site(self)
        central = ListenerHarness(self, site.listener())
        bridge = Bridge(self, site, central.port)
        kiosk = yield bridge.connect(RawClient())
        kiosk.transport.write(login() + b"\r" + STATUS + b"\r" + STATUS)
        kiosk.transport.loseWriteConnection()
        yield kiosk.lost
        frames = [f for f in kiosk.data.split(b"\r") if f]
        self.assertEqual(len(frames), 3, kiosk.data)
        self.assertEqual(codec.decode(frames[0]).message, codec.LoginResponse(ok=True))
        self.assertTrue(frames[1].startswith(b"98") and frames[2].startswith(b"98"))
        yield waitFor(reactor, lambda: not central.server.connections)
        yield waitFor(reactor, lambda: not bridge.factory.kiosks)
        [session] = [p.session for p in central.built]
        self.assertEqual(session.messages, 3)

    @inlineCallbacks
    def test_upstreamFinishes(self):
        """
        When the central server finishes a conversation (here: the third
        wrong login in a row, answered and then closed), its last answer
        reaches the kiosk before the bridge closes the kiosk's connection.
        """
        site = Site(self)
        central = ListenerHarness(self, site.listener())
        bridge = Bridge(self, site, central.port)
        kiosk = yield bridge.connect(RawClient())
        wrong = login(password="wrong") + b"\r"
        kiosk.transport.write(wrong * 3)
        yield kiosk.lost
        self.assertEqual(kiosk.data.count(b"940"), 3, kiosk.data)
        yield waitFor(reactor, lambda: not central.server.connections)


class BridgeFailureTests(TestCase):
    @inlineCallbacks
    def test_upstreamDownClosesKioskThenRecovers(self):
        """
        While the central server is down, a kiosk's connection is closed
        (not left hanging) and the failure logged; once the server is back
        on its port, the next kiosk connection is served.
        """
        events = captureLogs(self)
        site = Site(self)
        central = ListenerHarness(self, site.listener())
        port = central.port
        yield central.service.stopService()
        bridge = Bridge(self, site, port)

        kiosk = yield bridge.connect(RawClient())
        kiosk.transport.write(login() + b"\r")
        yield kiosk.lost
        self.assertEqual(kiosk.data, b"")
        self.assertTrue(
            any(
                m.startswith("cannot reach 127.0.0.1:%d for kiosk 127.0.0.1" % (port,))
                for m in messages(events)
            )
        )

        ListenerHarness(self, site.listener("tcp:%d:interface=127.0.0.1" % (port,)))
        kiosk = yield bridge.connect()
        self.assertTrue((yield kiosk.ask(login())).message.ok)

    @inlineCallbacks
    def test_upstreamDropClosesKiosk(self):
        """
        When the central server drops the connection mid-session, the
        bridge closes the kiosk's connection.
        """
        site = Site(self)
        central = ListenerHarness(self, site.listener())
        bridge = Bridge(self, site, central.port)
        kiosk = yield bridge.connect()
        self.assertTrue((yield kiosk.ask(login())).message.ok)
        for protocol in list(central.server.connections):
            protocol.transport.loseConnection()
        yield kiosk.lost
        yield waitFor(reactor, lambda: not bridge.factory.kiosks)

    @inlineCallbacks
    def test_wrongHostnameRefused(self):
        """
        A server certificate that does not carry the name the bridge checks
        (here: issued for other.example only) is refused: the kiosk is
        closed without a byte, and the bridge logs why.
        """
        events = captureLogs(self)
        site = Site(self)
        impostor = site.ca.issue(
            "other.example", dnsNames=("other.example",), ipAddresses=()
        )
        certificate, key = impostor.write(site.directory, "impostor")
        central = ListenerHarness(self, site.listener(certificate=certificate, key=key))
        bridge = Bridge(self, site, central.port)
        kiosk = yield bridge.connect(RawClient())
        kiosk.transport.write(login() + b"\r")
        yield kiosk.lost
        self.assertEqual(kiosk.data, b"")
        self.assertTrue(
            any(
                "refused the TLS handshake of kiosk 127.0.0.1" in m
                for m in messages(events)
            )
        )
        yield waitFor(reactor, lambda: not central.server.connections)
        self.assertEqual([p.session.messages for p in central.built], [0])

    @inlineCallbacks
    def test_untrustedServerRefused(self):
        """
        A server whose certificate comes from a CA the bridge does not
        trust is refused the same way.
        """
        site = Site(self)
        rogue = CertificateAuthority("rogue CA").issue("localhost")
        certificate, key = rogue.write(site.directory, "rogue")
        central = ListenerHarness(self, site.listener(certificate=certificate, key=key))
        bridge = Bridge(self, site, central.port)
        kiosk = yield bridge.connect(RawClient())
        kiosk.transport.write(login() + b"\r")
        yield kiosk.lost
        self.assertEqual(kiosk.data, b"")

    @inlineCallbacks
    def test_reload(self):
        """
        The bridge's SIGHUP reload re-reads its client certificate: after
        the files change, new kiosk connections present the new
        certificate.
        """
        site = Site(self)
        central = ListenerHarness(self, site.listener())
        bridge = Bridge(self, site, central.port)
        renewed = site.ca.issue("branch-east-2026", client=True, server=False)
        renewed.write(site.directory, "branch")
        self.assertEqual(bridge.service.reloader.reload(), ["bridge TLS files"])
        kiosk = yield bridge.connect()
        self.assertTrue((yield kiosk.ask(login())).message.ok)
        self.assertEqual(central.built[-1].session.certificateSubject, renewed.subject)


class BridgeOptionsTests(SynchronousTestCase):
    def test_plugin(self) -> None:
        """
        C{twistd sip2acs-bridge} is a plugin backed by
        L{sip2acs.app.bridgetap}.
        """
        makers = {m.tapname: m for m in getPlugins(IServiceMaker)}
        self.assertEqual(makers["sip2acs-bridge"].module, "sip2acs.app.bridgetap")

    def test_defaults(self) -> None:
        """
        By default the bridge listens on 127.0.0.1:6001, trusts the
        system's CAs, presents no certificate and checks the upstream
        host's name.
        """
        options = Options()
        options.parseOptions(["--upstream", "sip.library.example:45550"])
        self.assertEqual(options["listen"], ["tcp:6001:interface=127.0.0.1"])
        self.assertEqual(
            (options["host"], options["port"]), ("sip.library.example", 45550)
        )
        self.assertEqual(options["tls"].serverName, "sip.library.example")
        self.assertIsNone(options["tls"].subject)

    def test_upstream(self) -> None:
        """
        C{--upstream} is HOST:PORT, with IPv6 addresses in brackets.
        """
        self.assertEqual(parseUpstream("[2001:db8::5]:45550"), ("2001:db8::5", 45550))
        for bad in ["sip.library.example", "host:0", "2001:db8::5:45550", ":45550"]:
            self.assertRaises(ValueError, parseUpstream, bad)

    def test_problems(self) -> None:
        """
        A missing C{--upstream}, a certificate without its key, and files
        that do not exist are usage errors naming the option.
        """
        self.assertRaises(UsageError, Options().parseOptions, [])
        self.assertRaises(
            UsageError,
            Options().parseOptions,
            ["--upstream", "h:1", "--certificate", "x.pem"],
        )
        error = self.assertRaises(
            UsageError,
            Options().parseOptions,
            [
                "--upstream",
                "h:1",
                "--ca",
                "/nonexistent/ca.pem",
                "--certificate",
                "/nonexistent/b.pem",
                "--private-key",
                "/nonexistent/b.key",
            ],
        )
        self.assertIn("--ca: cannot read /nonexistent/ca.pem", str(error))
        self.assertIn("--certificate: /nonexistent/b.pem does not exist", str(error))

    def test_certificateWithoutKey(self) -> None:
        """
        L{BridgeTLS} given a certificate without its key reports it as a
        problem with the key (it used to fail with a C{TypeError} from
        opening L{None}).
        """
        error = self.assertRaises(
            TLSMaterialError, BridgeTLS, "h", certificate="/nonexistent/b.pem"
        )
        self.assertEqual(error.problems, [("private-key", "is required with a certificate")])
