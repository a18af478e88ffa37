"""
The gateway end to end: a real sip2acs with the SQLite demo library as the
upstream, on a loopback port; a second sip2acs in front of it with the
C{sip2} adapter; kiosks on real sockets. Every message pair through the
gateway, pooled and pass-through, plain and TLS upstream; many kiosks on a
small pool with no answer crossed between them.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.trial.unittest import TestCase

from sip2acs.ils.upstream import SIP2UpstreamILS
from sip2acs.ils.upstream.settings import UpstreamLogin, UpstreamSettings
from sip2acs.sip import codec
from tests import fixtures, test_endtoend
from tests.loopback import LoopbackServer, login, request
from tests.test_endtoend import NOW


def startUpstream(testCase: TestCase, config: Any = None) -> Any:
    """
    The upstream: sip2acs with the SQLite demo library on 127.0.0.1.

    @return: A Deferred firing with C{(ils, server)}.
    """

    @inlineCallbacks
    def start() -> Any:
        ils = yield fixtures.startDemoILS(testCase, NOW)
        server = LoopbackServer(testCase, adapter=ils, config=config)
        return ils, server

    return start()


def startGateway(
    testCase: TestCase, port: int, endpoint: str | None = None, **settings: Any
) -> SIP2UpstreamILS:
    """
    A started gateway adapter forwarding to C{127.0.0.1:port}, logged in
    as the fixtures' kiosk; stopped when the test ends.
    """
    settings.setdefault("login", UpstreamLogin(fixtures.LOGIN, fixtures.PASSWORD))
    gateway = SIP2UpstreamILS(
        UpstreamSettings(
            endpoint=endpoint or "tcp:host=127.0.0.1:port=%d" % (port,),
            institution=fixtures.INSTITUTION,
            **settings,
        ),
        reactor,
    )
    gateway.startService()
    testCase.addCleanup(gateway.stopService)
    return gateway


class GatewayEveryMessageTests(test_endtoend.EveryMessageTests):
    """
    L{EveryMessageTests <tests.test_endtoend.EveryMessageTests>} with a
    gateway between the kiosk and the SQLite system: the same answers,
    through a pool of two upstream connections.
    """

    poolSize = 2
    settings: dict[str, Any] = {}

    @inlineCallbacks
    def setUp(self) -> Any:
        self.ils, self.upstream = yield startUpstream(self)
        self.gateway = startGateway(
            self, self.upstream.port.getHost().port, poolSize=self.poolSize, **self.settings
        )
        yield self.gateway.refreshStatus()
        self.acs = LoopbackServer(self, adapter=self.gateway)
        self.client = yield self.acs.connect()
        reply = yield self.client.ask(login(sequence=0))
        self.assertEqual(reply.message, codec.LoginResponse(ok=True))


class PassThroughEveryMessageTests(GatewayEveryMessageTests):
    """
    The same in pass-through mode: the kiosk's account gets its own
    upstream connection.
    """

    poolSize = 0


class TLSEveryMessageTests(GatewayEveryMessageTests):
    """
    The same with the upstream reached over TLS, its certificate verified
    against the test CA.
    """

    @inlineCallbacks
    def setUp(self) -> Any:
        import os

        from tests.listeners import ListenerHarness
        from tests.test_tls import Files

        files = Files(self)
        self.ils = yield fixtures.startDemoILS(self, NOW)
        upstream = ListenerHarness(self, files.listener(), adapter=self.ils)
        trust = os.path.join(files.directory, "trust")
        files.ca.writeCertificate(trust)
        self.gateway = startGateway(
            self, 0, poolSize=2,
            endpoint="tls:host=localhost:port=%d:trustRoots=%s" % (upstream.port, trust),
        )
        yield self.gateway.refreshStatus()
        self.assertGreaterEqual(self.gateway.stats.connects, 1)
        self.acs = LoopbackServer(self, adapter=self.gateway)
        self.client = yield self.acs.connect()
        reply = yield self.client.ask(login(sequence=0))
        self.assertEqual(reply.message, codec.LoginResponse(ok=True))


class ErrorDetectionEveryMessageTests(GatewayEveryMessageTests):
    """
    The same with error detection on the upstream conversation (AY/AZ
    on every request, checksums verified on every answer).
    """

    settings = {"errorDetection": True}

    @inlineCallbacks
    def test_checksumsUpstream(self) -> Any:
        """
        The gateway's requests upstream carry sequence numbers and
        checksums, and the upstream's answers carry them back.
        """
        reply = yield self.client.ask(request(codec.ItemInformation, institutionId="DEMO",
                                              itemIdentifier="I0001"))
        self.assertEqual(reply.message.itemIdentifier, "I0001")
        cores = [link.protocol.core for link in self.gateway._pool.links
                 if link.protocol is not None]
        self.assertTrue(cores)
        # With error detection on, each request takes the next AY digit:
        # the status refresh, the login and this lookup moved it on.
        self.assertEqual({core.errorDetection for core in cores}, {True})
        self.assertNotEqual({core.sequence for core in cores}, {0})


class SupportedMessagesTests(TestCase):
    """
    The 98 a kiosk gets through the gateway says what the upstream
    supports, as the upstream's own 98 said it.
    """

    @inlineCallbacks
    def test_upstreamBX(self) -> Any:
        from sip2acs.ils.memory import MemoryILS

        class NoHolds(MemoryILS):
            def supports(self, operation: str) -> bool:
                return operation not in ("hold", "feePaid")

        upstream = LoopbackServer(self, adapter=fixtures.makeILS(NoHolds))
        gateway = startGateway(self, upstream.port.getHost().port, poolSize=1)
        yield gateway.refreshStatus()
        acs = LoopbackServer(self, adapter=gateway)
        client = yield acs.loggedIn()
        status = (yield client.ask(request(codec.SCStatus, statusCode="0",
                                           maxPrintWidth=40, protocolVersion="2.00"))).message
        direct = yield upstream.loggedIn()
        upstreamStatus = (yield direct.ask(request(
            codec.SCStatus, statusCode="0", maxPrintWidth=40, protocolVersion="2.00"))).message
        self.assertEqual(status.supportedMessages, upstreamStatus.supportedMessages)
        self.assertIn("N", status.supportedMessages)
        hold = (yield client.ask(request(codec.Hold, holdMode="+", institutionId="DEMO",
                                         patronIdentifier="P0001", itemIdentifier="I0001",
                                         transactionDate=NOW))).message
        self.assertFalse(hold.ok)


class NoCrossedAnswersTests(TestCase):
    """
    Many kiosks share a small pool; each gets its own answers.
    """

    timeout = 120
    KIOSKS = 200
    POOL = 4

    @inlineCallbacks
    def test_noCrossedAnswers(self) -> Any:
        """
        200 kiosks, each asking about its own item and patron over and over
        through 4 upstream connections: every answer names the kiosk's own
        item or patron, and the upstream never sees more than 4
        connections from the gateway.
        """
        ils, upstream = yield startUpstream(self)
        gateway = startGateway(self, upstream.port.getHost().port, poolSize=self.POOL)
        acs = LoopbackServer(self, adapter=gateway)
        clients = []
        for _ in range(self.KIOSKS):
            client = yield acs.connect()
            clients.append(client)
        replies = yield gatherResults([client.ask(login()) for client in clients])
        self.assertEqual({reply.message.ok for reply in replies}, {True})
        patrons = ["P%04d" % (n,) for n in range(1, 11)]
        items = ["I%04d" % (n,) for n in range(1, 13)]
        crossed = asked = 0
        for round in range(3):
            pending = []
            for number, client in enumerate(clients):
                if (number + round) % 2:
                    item = items[number % len(items)]
                    frame = request(codec.ItemInformation, institutionId="DEMO",
                                    itemIdentifier=item)
                    pending.append(client.ask(frame).addCallback(
                        lambda reply, item=item: reply.message.itemIdentifier == item))
                else:
                    patron = patrons[number % len(patrons)]
                    frame = request(codec.PatronStatus, institutionId="DEMO",
                                    language="000", patronIdentifier=patron,
                                    terminalPassword="")
                    pending.append(client.ask(frame).addCallback(
                        lambda reply, patron=patron:
                        reply.message.patronIdentifier == patron))
            results = yield gatherResults(pending)
            asked += len(results)
            crossed += results.count(False)
        upstreamConnections = len(
            [p for p in upstream.factory.protocols if p.transport.connected]
        )
        print(
            "\nno crossed answers: %d kiosks, %d answers through %d upstream"
            " connections (%d open at the upstream), %d crossed"
            % (self.KIOSKS, asked, self.POOL, upstreamConnections, crossed)
        )
        self.assertEqual(crossed, 0)
        self.assertLessEqual(len(upstream.factory.protocols), self.POOL)
        self.assertEqual(gateway.stats.connects, self.POOL)


class TLSUpstreamTests(TestCase):
    """
    An upstream reached over TLS (as a Sierra-style secure port), verified
    against a CA, with a client certificate when the upstream asks for one;
    no stunnel.
    """

    timeout = 60

    @inlineCallbacks
    def gatewayTo(self, mutual: bool, **endpointExtra: str) -> Any:
        import os

        from tests.listeners import ListenerHarness
        from tests.test_tls import Files

        files = Files(self)
        ils = yield fixtures.startDemoILS(self, NOW)
        upstream = ListenerHarness(self, files.listener(mutual=mutual), adapter=ils)
        trust = os.path.join(files.directory, "trust")
        files.ca.writeCertificate(trust)
        endpoint = "tls:host=localhost:port=%d:trustRoots=%s" % (upstream.port, trust)
        if mutual:
            certificate, key = files.kiosk1.write(files.directory, "gateway")
            endpoint += ":certificate=%s:privateKey=%s" % (certificate, key)
        for key, value in endpointExtra.items():
            endpoint += ":%s=%s" % (key, value)
        gateway = startGateway(self, 0, endpoint=endpoint, poolSize=1, timeout=5.0)
        acs = LoopbackServer(self, adapter=gateway)
        client = yield acs.loggedIn()
        return gateway, client

    @inlineCallbacks
    def test_tlsUpstream(self) -> Any:
        gateway, client = yield self.gatewayTo(mutual=False)
        reply = yield client.ask(request(codec.ItemInformation, institutionId="DEMO",
                                         itemIdentifier="I0001"))
        self.assertEqual(reply.message.titleIdentifier, "Pride and Prejudice")
        self.assertEqual(gateway.stats.connects, 1)

    @inlineCallbacks
    def test_mutualTLSUpstream(self) -> Any:
        gateway, client = yield self.gatewayTo(mutual=True)
        reply = yield client.ask(request(codec.ItemInformation, institutionId="DEMO",
                                         itemIdentifier="I0001"))
        self.assertEqual(reply.message.itemIdentifier, "I0001")

    @inlineCallbacks
    def test_untrustedUpstream(self) -> Any:
        """
        An upstream whose certificate does not verify is never sent a
        request: the kiosk hears the system is unavailable.
        """
        import os

        from tests.certs import CertificateAuthority
        from tests.listeners import ListenerHarness
        from tests.test_tls import Files

        files = Files(self)
        ils = yield fixtures.startDemoILS(self, NOW)
        upstream = ListenerHarness(self, files.listener(), adapter=ils)
        trust = os.path.join(files.directory, "other")
        CertificateAuthority("another CA").writeCertificate(trust)
        gateway = startGateway(
            self, 0, poolSize=1,
            endpoint="tls:host=localhost:port=%d:trustRoots=%s" % (upstream.port, trust),
        )
        acs = LoopbackServer(self, adapter=gateway)
        client = yield acs.loggedIn()
        reply = yield client.ask(request(codec.ItemInformation, institutionId="DEMO",
                                         itemIdentifier="I0001"))
        self.assertEqual(reply.message.screenMessage,
                         ("The library system is not available. Please try again later.",))
        self.assertEqual(gateway.stats.connects, 0)
