"""
The gateway's fault rules against a deliberately faulty upstream: a real
sip2acs (SQLite demo library) behind L{FaultProxy}, the gateway in front,
a kiosk on a real socket. Each test is one row of the fault matrix the
issue asks for: the fault, what the kiosk got, what was logged; the rows
are printed as the tests run.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import formatEvent
from twisted.trial.unittest import TestCase

from sip2acs.ils.upstream.adapter import NOT_DONE
from sip2acs.ils.upstream.settings import UpstreamLogin
from sip2acs.ops.admin import makeSite
from sip2acs.sip import codec
from tests import fixtures
from tests.faultproxy import (
    Delay,
    DropAfterForward,
    DropBeforeForward,
    FaultProxy,
    Garbage,
    Resend,
    commands,
)
from tests.loopback import LoopbackServer, request
from tests.test_admin import httpRequest
from tests.test_endtoend import LOANS_OF, NOW
from tests.test_upstream_gateway import startGateway, startUpstream

UNAVAILABLE = "The library system is not available. Please try again later."


def checkout(item: str = "I0002") -> bytes:
    return request(codec.Checkout, scRenewalPolicy=False, institutionId="DEMO",
                   patronIdentifier="P0001", itemIdentifier=item, terminalPassword="")


def itemInformation(item: str = "I0001") -> bytes:
    return request(codec.ItemInformation, institutionId="DEMO", itemIdentifier=item)


def status() -> bytes:
    return request(codec.SCStatus, statusCode="0", maxPrintWidth=40, protocolVersion="2.00")


class GatewayBehindProxyMixin:
    """
    The upstream sip2acs behind a L{FaultProxy}, a started gateway
    (C{gatewaySettings}) in front of it, and a kiosk logged in to the
    gateway.
    """

    timeout = 60
    gatewaySettings: dict[str, Any] = {}

    @inlineCallbacks
    def setUp(self) -> Any:
        self.logs = fixtures.captureLogs(self)
        self.ils, self.upstream = yield startUpstream(self)
        self.proxy = FaultProxy(reactor, "127.0.0.1", self.upstream.port.getHost().port)
        port = yield self.proxy.start()
        self.addCleanup(self.proxy.stop)
        settings: dict[str, Any] = dict(poolSize=2, timeout=1.0, connectTimeout=2.0)
        settings.update(self.settings())
        self.gateway = startGateway(self, port, **settings)
        yield self.gateway.refreshStatus()
        self.acs = LoopbackServer(self, adapter=self.gateway)
        self.client = yield self.acs.loggedIn()

    def settings(self) -> dict[str, Any]:
        return dict(self.gatewaySettings)

    def ask(self, frame: bytes) -> Deferred[Any]:
        return self.client.ask(frame).addCallback(lambda decoded: decoded.message)

    def loansOf(self, barcode: str) -> Deferred[int]:
        return self.ils._defer(lambda: self.ils._conn.execute(LOANS_OF, (barcode,)).fetchone()[0])

    def logged(self, text: str) -> list[str]:
        lines = [formatEvent(event) for event in self.logs]
        return [line for line in lines if text in line]



class FaultMatrixTests(GatewayBehindProxyMixin, TestCase):
    gatewaySettings = dict(retryMax=1.0, queueTimeout=2.0)

    def row(self, fault: str, kiosk: str, logged: str) -> None:
        print("\nfault matrix | %s | %s | %s" % (fault, kiosk, logged))

    @inlineCallbacks
    def test_upstreamGone(self) -> Any:
        """
        The upstream is gone (connections refused): a checkout is refused
        as not done, a lookup as unavailable, 98 says offline; when it is
        back, the next requests are served.
        """
        yield self.proxy.down()
        # The idle pooled connections are gone too; the next request finds out.
        answer = yield self.ask(checkout())
        self.assertFalse(answer.ok)
        self.assertEqual(answer.screenMessage, (NOT_DONE,))
        loans = yield self.loansOf("I0002")
        self.assertEqual(loans, 0)
        item = yield self.ask(itemInformation())
        self.assertEqual(item.screenMessage, (UNAVAILABLE,))
        yield self.gateway.refreshStatus()
        acs = yield self.ask(status())
        self.assertFalse(acs.onlineStatus)
        self.assertFalse(self.gateway.ready())
        self.assertTrue(self.logged("the upstream is unavailable"))
        ready, metrics = yield self.admin()
        self.assertEqual(ready[0], 503)
        self.assertEqual(json.loads(ready[2]),
                         {"status": "unavailable", "institutions": ["DEMO"]})
        self.assertIn('sip2acs_upstream_online{upstream="%s"} 0' % (self.gateway.name,),
                      metrics)
        self.assertRegex(metrics, r'sip2acs_upstream_requests_total\{operation="checkout",'
                                  r'outcome="unavailable",upstream="[^"]+"\} 1')
        self.assertRegex(metrics, r"sip2acs_upstream_connect_failures_total\{[^}]+\} [1-9]")
        self.row("upstream gone (connection refused)",
                 "11: 120 '%s'; 17: 18 unavailable; 98 online N" % (NOT_DONE,),
                 self.logged("cannot connect")[0])
        yield self.proxy.up()
        yield deferLater(reactor, 1.6, lambda: None)
        answer = yield self.ask(checkout())
        self.assertTrue(answer.ok, answer)
        yield self.gateway.refreshStatus()
        acs = yield self.ask(status())
        self.assertTrue(acs.onlineStatus)
        self.assertTrue(self.logged("the upstream is back"))
        ready, metrics = yield self.admin()
        self.assertEqual(ready[0], 200)
        self.assertIn('sip2acs_upstream_online{upstream="%s"} 1' % (self.gateway.name,),
                      metrics)
        self.assertIn('sip2acs_upstream_connections{upstream="%s"} 2' % (self.gateway.name,),
                      metrics)
        self.assertRegex(metrics, r'sip2acs_upstream_seconds_count\{operation="checkout",'
                                  r'upstream="[^"]+"\} 1')

    @inlineCallbacks
    def admin(self) -> Any:
        """
        C{/ready} and C{/metrics} of the gateway's admin site; C{/health}
        says the same as C{/ready}.

        @return: A Deferred firing with C{((status, headers, body) of
            /ready, the text of /metrics)}.
        """
        site = makeSite(self.acs.server)
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        ready = yield httpRequest(port.getHost().port, "/ready")
        health = yield httpRequest(port.getHost().port, "/health")
        metrics = yield httpRequest(port.getHost().port, "/metrics")
        self.assertEqual(health[0], ready[0])
        return ready, metrics[2].decode("utf-8")

    @inlineCallbacks
    def test_dropAfterForwardCheckout(self) -> Any:
        """
        The checkout reached the upstream and the connection dropped
        before its answer: it is not sent again; the kiosk hears the
        system is unavailable and staff are told it may have happened
        (it did).
        """
        self.proxy.plan(DropAfterForward(), match=commands("11"))
        answer = yield self.ask(checkout())
        self.assertFalse(answer.ok)
        self.assertEqual(answer.screenMessage, (UNAVAILABLE,))
        loans = yield self.loansOf("I0002")
        self.assertEqual(loans, 1)
        warning = self.logged("staff should check it in the ILS")
        self.assertEqual(len(warning), 1)
        self.assertIn("checkout of item I0002 for kiosk@", warning[0])
        self.assertEqual(self.proxy.counts.forwarded - self.proxy.counts.answered, 1)
        self.row("connection dropped after the checkout reached the ILS",
                 "12 ok 0 '%s' (not sent again; the loan exists)" % (UNAVAILABLE,),
                 warning[0])

    @inlineCallbacks
    def test_dropBeforeForwardCheckout(self) -> Any:
        """
        The connection dropped with the checkout on the wire: the gateway
        cannot know it never arrived, so the same rule holds.
        """
        self.proxy.plan(DropBeforeForward(), match=commands("11"))
        answer = yield self.ask(checkout())
        self.assertEqual(answer.screenMessage, (UNAVAILABLE,))
        loans = yield self.loansOf("I0002")
        self.assertEqual(loans, 0)
        warning = self.logged("staff should check it in the ILS")
        self.assertEqual(len(warning), 1)
        self.row("connection dropped before the checkout reached the ILS",
                 "12 ok 0 '%s' (no loan)" % (UNAVAILABLE,), warning[0])

    @inlineCallbacks
    def test_dropLookupAskedAgain(self) -> Any:
        """
        A lookup whose answer was lost is asked again on a new connection.
        """
        self.proxy.plan(DropAfterForward(), match=commands("17"))
        item = yield self.ask(itemInformation())
        self.assertEqual(item.itemIdentifier, "I0001")
        self.assertEqual(item.circulationStatus, "03")
        self.row("connection dropped during an item lookup",
                 "18 with the item (asked again)", self.logged("connection lost")[0])

    @inlineCallbacks
    def test_resendOnce(self) -> Any:
        """
        A 96 from the upstream: the checkout is sent again once and done
        once.
        """
        self.proxy.plan(Resend(), match=commands("11"))
        answer = yield self.ask(checkout())
        self.assertTrue(answer.ok, answer)
        loans = yield self.loansOf("I0002")
        self.assertEqual(loans, 1)
        self.row("96 from the upstream", "12 ok 1 (resent once, one loan)", "nothing")

    @inlineCallbacks
    def test_resendTwice(self) -> Any:
        """
        96 twice: the upstream cannot read the checkout; it was not done.
        """
        self.proxy.plan(Resend(), Resend(), match=commands("11"))
        answer = yield self.ask(checkout())
        self.assertEqual(answer.screenMessage, (NOT_DONE,))
        loans = yield self.loansOf("I0002")
        self.assertEqual(loans, 0)
        line = self.logged("not done")[0]
        self.row("96 twice from the upstream", "12 ok 0 '%s'" % (NOT_DONE,), line)

    @inlineCallbacks
    def test_garbage(self) -> Any:
        self.proxy.plan(Garbage(b"\x00\xffxx\r"), match=commands("11"))
        answer = yield self.ask(checkout())
        self.assertEqual(answer.screenMessage, (UNAVAILABLE,))
        warning = self.logged("staff should check it in the ILS")
        self.assertEqual(len(warning), 1)
        self.row("garbage instead of the checkout's answer",
                 "12 ok 0 '%s'" % (UNAVAILABLE,), warning[0])

    @inlineCallbacks
    def test_slowAnswerPastTimeout(self) -> Any:
        """
        An answer later than upstream-timeout: for a checkout, uncertain
        (the loan exists); for a lookup, asked again.
        """
        self.proxy.plan(Delay(3.0), match=commands("11"))
        answer = yield self.ask(checkout())
        self.assertEqual(answer.screenMessage, (UNAVAILABLE,))
        warning = self.logged("staff should check it in the ILS")
        self.assertIn("no response from", warning[0])
        self.proxy.plan(Delay(3.0), match=commands("17"))
        item = yield self.ask(itemInformation())
        self.assertEqual(item.itemIdentifier, "I0001")
        self.row("answer slower than upstream-timeout",
                 "11: 12 ok 0 unavailable (staff warned); 17: 18 (asked again)", warning[0])

    @inlineCallbacks
    def test_loginRefused(self) -> Any:
        """
        The upstream refuses the gateway's login: lookups answer
        unavailable and the log says why, without the password.
        """
        gateway = startGateway(
            self, self.proxy.port, poolSize=1,
            login=UpstreamLogin(fixtures.LOGIN, "wrong-password"),
        )
        acs = LoopbackServer(self, adapter=gateway)
        client = yield acs.loggedIn()
        reply = yield client.ask(itemInformation())
        self.assertEqual(reply.message.screenMessage, (UNAVAILABLE,))
        line = self.logged("refused the login")[0]
        self.assertNotIn("wrong-password", "".join(self.logged("")))
        self.row("upstream refuses the gateway's login", "18 unavailable", line)


class SlowAnswerTests(GatewayBehindProxyMixin, TestCase):
    gatewaySettings = dict(timeout=10.0)
    row = FaultMatrixTests.row

    @inlineCallbacks
    def test_slowAnswerHoldsOnlyItsSlot(self) -> Any:
        """
        One slow upstream answer (3 s, within upstream-timeout) holds one
        of the two pooled connections; another kiosk's lookups go on
        through the other meanwhile.
        """
        other = yield self.acs.loggedIn()
        # Both pooled connections open and logged in (a login upstream
        # checks a password hash: slow on purpose).
        yield gatherResults([self.ask(itemInformation()), other.ask(itemInformation())])
        # The two kiosks' frames race to the upstream: delay this one's.
        self.proxy.plan(
            Delay(3.0), match=lambda frame: frame.startswith(b"17") and b"ABI0001|" in frame
        )
        slow = self.ask(itemInformation("I0001"))
        for _ in range(3):
            reply = yield other.ask(itemInformation("I0002"))
            self.assertEqual(reply.message.itemIdentifier, "I0002")
        self.assertFalse(slow.called)
        answer = yield slow
        self.assertEqual(answer.itemIdentifier, "I0001")
        self.row("one slow answer (3 s, within the timeout)",
                 "that kiosk waits; another kiosk's 3 lookups answered meanwhile", "nothing")



class OfflineModeTests(GatewayBehindProxyMixin, TestCase):
    """
    An institution with an offline queue: while the upstream is gone,
    checkins (and, within the limit, checkouts) are taken into the queue
    and replayed in order when it is back; refusals are kept for staff.
    """

    def settings(self) -> dict[str, Any]:
        from sip2acs.ils.upstream.settings import OfflineSettings

        return dict(retryMax=0.5, offline=OfflineSettings(
            self.mktemp(), checkins=True, checkouts=True, checkoutLimit=1))

    @inlineCallbacks
    def statusPage(self) -> Any:
        site = makeSite(self.acs.server)
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        status, _, body = yield httpRequest(port.getHost().port, "/status.json")
        self.assertEqual(status, 200)
        return json.loads(body)

    def openLoansOf(self, barcode: str) -> Deferred[list[str | None]]:
        """
        The return time of each loan of C{barcode}, L{None} while out.
        """
        return self.ils._defer(lambda: [row[0] for row in self.ils._conn.execute(
            "SELECT loans.returned_at FROM loans JOIN items ON items.id = loans.item_id"
            " WHERE items.barcode = ? ORDER BY loans.id", (barcode,))])

    @inlineCallbacks
    def test_offlineAndReplay(self) -> Any:
        from sip2acs.ils.upstream.adapter import OFFLINE_CHECKIN, OFFLINE_CHECKOUT

        loans = yield self.openLoansOf("I0003")
        self.assertEqual(loans, [None])
        yield self.proxy.down()
        checkin = yield self.ask(request(
            codec.Checkin, currentLocation="MAIN", returnDate=NOW,
            institutionId="DEMO", itemIdentifier="I0003", terminalPassword=""))
        self.assertTrue(checkin.ok, checkin)
        self.assertEqual(checkin.screenMessage, (OFFLINE_CHECKIN,))
        unknown = yield self.ask(request(
            codec.Checkin, currentLocation="MAIN", returnDate=NOW,
            institutionId="DEMO", itemIdentifier="NOSUCH", terminalPassword=""))
        self.assertTrue(unknown.ok)
        first = yield self.ask(checkout("I0002"))
        self.assertTrue(first.ok, first)
        self.assertEqual(first.screenMessage, (OFFLINE_CHECKOUT,))
        second = yield self.ask(checkout("I0005"))
        self.assertFalse(second.ok)
        self.assertIn("no more items", second.screenMessage[0])
        yield self.gateway.refreshStatus()
        acs = yield self.ask(status())
        self.assertFalse(acs.onlineStatus)
        self.assertTrue(acs.checkinOk)
        self.assertTrue(self.gateway.ready())
        loans = yield self.openLoansOf("I0003")
        self.assertEqual(loans, [None])
        pending = yield self.gateway.queue.pending()
        self.assertEqual([e.itemId for e in pending], ["I0003", "NOSUCH", "I0002"])
        page = yield self.statusPage()
        self.assertEqual(page["upstreams"][0]["offlineQueue"]["pending"], 3)
        self.assertFalse(page["upstreams"][0]["online"])

        yield self.proxy.up()
        yield deferLater(reactor, 0.8, lambda: None)
        yield self.gateway.refreshStatus()
        report = yield self.gateway.replayQueue()
        # The refresh started the replay; this call joins it or finds
        # nothing left.
        pending = yield self.gateway.queue.pending()
        self.assertEqual(pending, [])
        # Returned upstream with the kiosk's own return date, not the
        # moment of the replay.
        loans = yield self.openLoansOf("I0003")
        self.assertEqual(loans, ["2025-03-14 10:15:00"])
        loans = yield self.openLoansOf("I0002")
        self.assertEqual(loans, [None])
        refusals = yield self.gateway.queue.refusals()
        self.assertEqual([r.itemId for r in refusals], ["NOSUCH"])
        page = yield self.statusPage()
        self.assertEqual(
            (page["upstreams"][0]["offlineQueue"]["pending"],
             page["upstreams"][0]["offlineQueue"]["refusals"]), (0, 1))
        site = makeSite(self.acs.server)
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        html = (yield httpRequest(port.getHost().port, "/status"))[2].decode("utf-8")
        self.assertIn("0 waiting, 1 refused", html)
        del report
        print(
            "\nfault matrix | upstream gone, offline queue on | 09: 10 ok 1 '%s';"
            " 11: 12 ok 1 (then refused past the limit); 98 online N, checkin ok Y"
            " | replayed in order when back; 1 refusal kept for staff" % (OFFLINE_CHECKIN,)
        )
