"""
Tests for L{sip2acs.ops.dashboard}: the admin listener's status page and
C{/status.json}, rendered on a fake clock with known state, and after real
requests through a loopback kiosk.
"""

import datetime
import json
import os
import re
import time

import attrs
from twisted.internet import reactor
from twisted.internet.defer import fail, inlineCallbacks
from twisted.internet.task import Clock
from twisted.logger import Logger, LogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.acs.metrics import UNKNOWN_LOGIN
from sip2acs.acs.server import ACSServer
from sip2acs.ils.memory import MemoryILS
from sip2acs.ops.admin import makeSite
from sip2acs.ops.dashboard import (
    Dashboard,
    MetricsHistory,
    RecentErrors,
    expiryText,
    quantile,
    relativeTime,
)
from sip2acs.sip import codec
from tests.certs import CertificateAuthority
from tests.fixtures import (
    ADA,
    FREE_ITEM,
    INSTITUTION,
    LOGIN,
    PASSWORD,
    login,
    makeAccount,
    makeConfig,
    makeILS,
    makeListener,
    request,
    runInline,
)
from tests.loopback import LoopbackServer
from tests.test_admin import EVIL, httpRequest

NOW = 1741947300.0
DAY = 86400.0
WRONG_PIN = "948372615"
WRONG_PASSWORD = "hunter2-not-it"


def writeCertificate(directory, commonName, notAfter):
    """
    Write a certificate (and its key) that expires at C{notAfter}.

    @return: The certificate's path.
    """
    leaf = CertificateAuthority().issue(
        commonName, notAfter=datetime.datetime.fromtimestamp(notAfter, datetime.UTC)
    )
    return leaf.write(directory, commonName)[0]


class BrokenILS(MemoryILS):
    """
    A memory adapter whose health check fails.
    """

    def healthCheck(self):
        return fail(ConnectionRefusedError("the database refused the connection"))


class RelativeTimeTests(SynchronousTestCase):
    def test_relativeTime(self) -> None:
        """
        Durations read as an operator reads them.
        """
        self.assertEqual(
            [relativeTime(s) for s in (-5, 0, 42, 60, 180, 3599, 3600, 7500, 86400, 97200)],
            ["0 s", "0 s", "42 s", "1 min", "3 min", "59 min", "1 h", "2 h 5 min", "1 d",
             "1 d 3 h"],
        )

    def test_expiryText(self) -> None:
        """
        Expiry in days, a warning under 30 days, an alarm once expired.
        """
        self.assertEqual(expiryText(NOW + 200 * DAY + 5, NOW), ("expires in 200 days", "ok"))
        self.assertEqual(expiryText(NOW + 23 * DAY + 5, NOW), ("expires in 23 days", "warn"))
        self.assertEqual(expiryText(NOW + 1 * DAY + 5, NOW), ("expires in 1 day", "warn"))
        self.assertEqual(expiryText(NOW + 7500, NOW), ("expires in 2 h 5 min", "warn"))
        self.assertEqual(expiryText(NOW - 3 * DAY - 5, NOW), ("expired 3 days ago", "bad"))
        self.assertEqual(expiryText(NOW - 5, NOW), ("expired today", "bad"))


class HistoryTests(SynchronousTestCase):
    def test_quantile(self) -> None:
        """
        Quantiles are interpolated within their bucket, as Prometheus does;
        without observations there is none.
        """
        bounds = (0.01, 0.1, 1.0)
        self.assertIsNone(quantile(0.5, bounds, [0, 0, 0, 0]))
        self.assertAlmostEqual(quantile(0.5, bounds, [10, 0, 0, 0]), 0.005)
        self.assertAlmostEqual(quantile(0.5, bounds, [0, 10, 0, 0]), 0.055)
        self.assertEqual(quantile(0.99, bounds, [0, 0, 0, 10]), 1.0)

    def test_points(self) -> None:
        """
        Each point is what happened between two samples; the buffer keeps
        an hour.
        """
        server = ACSServer(makeConfig(), {INSTITUTION: makeILS()}, Clock(), runInThread=runInline)
        history = MetricsHistory(server.metrics, interval=10.0)
        history.sample(NOW)
        for _ in range(30):
            server.metrics.transactionDone("17", "18", "ok", 0.004)
        server.metrics.transactionDone("11", "12", "refused", 0.004)
        history.sample(NOW + 10)
        [point] = history.points()
        self.assertEqual((point.when, point.rate, point.refusals), (NOW + 10, 3.1, 1))
        self.assertTrue(0.0025 < point.p50 <= 0.005)
        for minute in range(2, 500):
            history.sample(NOW + minute * 10)
        self.assertEqual(len(history.points()), 360)

    def test_recentErrors(self) -> None:
        """
        Warnings and errors are kept, newest first, at most C{size}; info
        is not; a failure gives its type, never its traceback.
        """
        errors = RecentErrors(size=3)
        publisher = LogPublisher(errors)
        log = Logger(observer=publisher)
        log.info("not kept")
        for n in range(4):
            log.warn("warning {n}", n=n)
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            log.failure("answering {code}", code="11")
        recent = errors.recent()
        self.assertEqual(
            [(e["level"], e["text"]) for e in recent],
            [("critical", "answering 11 (ZeroDivisionError)"), ("warn", "warning 3"),
             ("warn", "warning 2")],
        )


class DashboardTests(TestCase):
    """
    The admin site on 127.0.0.1 with an ACS on another loopback port, the
    sessions and the dashboard on a fake clock.
    """

    def listen(self, config=None, adapter=None):
        self.clock = Clock()
        self.clock.advance(NOW)
        self.acs = LoopbackServer(self, adapter=adapter, config=config, clock=self.clock)
        self.server = self.acs.server
        self.server.metrics.startTime = NOW - 7500
        self.site = makeSite(self.server, self.clock)
        port = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.port = port.getHost().port

    @inlineCallbacks
    def page(self, path="/"):
        status, headers, body = yield httpRequest(self.port, path)
        self.assertEqual(status, 200)
        return headers, body.decode("utf-8")

    @inlineCallbacks
    def statusJSON(self):
        _, body = yield self.page("/status.json")
        return json.loads(body)

    @inlineCallbacks
    def test_header(self) -> None:
        """
        The page names the version, host and uptime, and refreshes itself
        with a script its CSP nonce allows (and a meta refresh without
        JavaScript).
        """
        self.listen()
        headers, page = yield self.page()
        self.assertIn("Up 2 h 5 min.", page)
        self.assertIn("Ready: accepting kiosks", page)
        self.assertRegex(page, r"<title>sip2acs \S+ on \S+</title>")
        nonce = re.search(r"script-src 'nonce-([^']+)'", headers["content-security-policy"])
        self.assertIn('<script nonce="%s">' % (nonce.group(1),), page)
        self.assertIn('<noscript><meta http-equiv="refresh" content="5"></noscript>', page)
        status = yield self.statusJSON()
        self.assertEqual(status["uptime"], 7500)
        self.assertEqual(status["now"], NOW)
        self.assertTrue(status["host"])

    @inlineCallbacks
    def test_accountCounters(self) -> None:
        """
        Requests, refusals and failed logins are counted per account, from
        real requests through a loopback kiosk; failed logins naming no
        account are counted together.
        """
        self.listen()
        client = yield self.acs.loggedIn()
        yield client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        yield client.ask(request(codec.ItemInformation, itemIdentifier="NO-SUCH-ITEM"))
        other = yield self.acs.connect()
        yield other.ask(login(LOGIN, WRONG_PASSWORD))
        yield other.ask(login("nobody-" + WRONG_PASSWORD, WRONG_PASSWORD))
        status = yield self.statusJSON()
        self.assertEqual(
            status["accounts"],
            [
                {"account": LOGIN, "institution": INSTITUTION, "kiosks": 1, "requests": 3,
                 "refusals": 1, "failedLogins": 1},
                {"account": UNKNOWN_LOGIN, "institution": None, "kiosks": 0, "requests": 0,
                 "refusals": 0, "failedLogins": 1},
            ],
        )
        _, page = yield self.page()
        self.assertIn(
            '<tr><td>kiosk</td><td>DEMO</td><td class="n">1</td><td class="n">3</td>'
            '<td class="n warn">1</td><td class="n warn">1</td></tr>',
            page,
        )
        self.assertNotIn(WRONG_PASSWORD, page)
        self.assertNotIn(PASSWORD, page)

    @inlineCallbacks
    def test_kiosks(self) -> None:
        """
        Each kiosk shows its account, institution, transport, address, and
        connected-for and idle-for in relative time; one silent longer
        than the threshold is highlighted as stale.
        """
        self.listen(config=makeConfig(idleTimeout=None))
        client = yield self.acs.loggedIn()
        self.clock.advance(3 * 60)
        yield client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        self.clock.advance(2 * 60)
        _, page = yield self.page()
        address = "127.0.0.1:%d" % (client.transport.getHost().port,)
        self.assertIn(
            "<tr><td>kiosk</td><td>%s</td><td>tcp:0:interface=127.0.0.1</td><td>raw</td>"
            '<td></td><td>DEMO</td><td></td><td>5 min</td><td class="idle">2 min</td>'
            '<td class="n">2</td></tr>' % (address,),
            page,
        )
        self.clock.advance(2 * 3600)
        _, page = yield self.page()
        self.assertIn('<tr class="stale" title="no message for 2 h 2 min">', page)
        self.assertIn(
            '<td>2 h 5 min</td><td class="idle">2 h 2 min (stale)</td>', page
        )
        [kiosk] = (yield self.statusJSON())["kiosks"]
        self.assertEqual(
            {k: kiosk[k] for k in ("institution", "transport", "connectedFor", "idleFor",
                                   "stale", "certificateSubject")},
            {"institution": "DEMO", "transport": "raw", "connectedFor": 7500.0,
             "idleFor": 7320.0, "stale": True, "certificateSubject": None},
        )

    @inlineCallbacks
    def test_listenerCertificates(self) -> None:
        """
        A TLS listener shows its certificate's subject and expiry: plain
        far ahead, highlighted under 30 days, alarming once expired.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        # Ten days ahead: the test CA's certificates start an hour ago.
        later = time.time() + 10 * DAY
        listeners = []
        for name, notAfter in (("far", later + 200 * DAY + 60), ("soon", later + 23 * DAY + 60),
                               ("gone", later - 3 * DAY - 60)):
            path = writeCertificate(directory, name + ".example", notAfter)
            listeners.append(
                makeListener("ssl:0:interface=127.0.0.1", transport="tls", certificate=path,
                             privateKey=path)
            )
        config = makeConfig()
        config = attrs.evolve(config, listeners=config.listeners + tuple(listeners))
        self.listen(config=config)
        self.clock.advance(later - NOW)
        _, page = yield self.page()
        self.assertIn(
            '<td>CN=far.example,O=Harbour Street Library:'
            ' <span class="ok">expires in 200 days</span>',
            page,
        )
        self.assertIn(
            '<td>CN=soon.example,O=Harbour Street Library:'
            ' <span class="warn">expires in 23 days</span>',
            page,
        )
        self.assertIn(
            '<td>CN=gone.example,O=Harbour Street Library:'
            ' <span class="bad">expired 3 days ago</span>',
            page,
        )
        listeners = (yield self.statusJSON())["listeners"]
        self.assertEqual(
            [(entry["transport"], entry["certificate"] and entry["certificate"]["level"])
             for entry in listeners],
            [("raw", None), ("tls", "ok"), ("tls", "warn"), ("tls", "bad")],
        )

    @inlineCallbacks
    def test_charts(self) -> None:
        """
        The charts are inline SVG drawn from the sampled counters: the
        latest interval's requests/s, answer time and refusals.
        """
        self.listen()
        metrics = self.server.metrics
        for _ in range(50):
            metrics.transactionDone("17", "18", "ok", 0.004)
        for _ in range(4):
            metrics.transactionDone("11", "12", "refused", 0.004)
        self.clock.advance(10)
        self.clock.advance(10)
        _, page = yield self.page()
        self.assertEqual(page.count("<svg "), 3)
        self.assertIn("<title>Requests/s</title>", page)
        self.assertIn("requests/s</span> now <b>0.00</b>, max 5.40", page)
        self.assertIn("refusals</span> now <b>0</b>, max 4", page)
        self.assertRegex(page, r'<path data-series="requests/s" d="M[0-9. ]+L[0-9. ]+"')
        self.assertIn('<path data-series="p99" d="M357.0 2.0"', page)
        self.assertNotIn("http://", page.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        [first, second] = (yield self.statusJSON())["history"]
        self.assertEqual((first["rate"], first["refusals"]), (5.4, 4))
        self.assertEqual((second["rate"], second["p50"]), (0.0, None))

    @inlineCallbacks
    def test_lastErrors(self) -> None:
        """
        The last warnings and errors logged show, escaped; a patron's PIN
        the kiosk sent does not.
        """
        self.listen()
        client = yield self.acs.loggedIn()
        yield client.ask(
            request(codec.PatronStatus, patronIdentifier=ADA, patronPassword=WRONG_PIN)
        )
        Logger(namespace="sip2acs.test").warn("a warning about {what}", what=EVIL)
        _, page = yield self.page()
        self.assertIn(
            "<td>warn</td><td>a warning about &lt;script&gt;alert(&#34;x\\y&#34;)"
            "&lt;/script&gt;</td>",
            page,
        )
        self.assertNotIn("<script>alert", page)
        self.assertNotIn(WRONG_PIN, page)
        self.assertNotIn(WRONG_PIN, json.dumps((yield self.statusJSON())))

    @inlineCallbacks
    def test_escaped(self) -> None:
        """
        Every field an SC or the configuration gives is HTML-escaped.
        """
        self.listen(config=makeConfig(accounts=[makeAccount(EVIL, "pw")]))
        yield self.acs.loggedIn(EVIL, "pw")
        _, page = yield self.page()
        self.assertNotIn("<script>alert", page)
        escaped = "<td>&lt;script&gt;alert(&#34;x\\y&#34;)&lt;/script&gt;</td>"
        self.assertEqual(page.count(escaped), 2)

    @inlineCallbacks
    def test_health(self) -> None:
        """
        Adapter health is /health's last result; the page starts a check
        when there is none.
        """
        self.listen(adapter=BrokenILS())
        status = yield self.statusJSON()
        [health] = status["health"]
        self.assertEqual(
            health,
            {"institution": INSTITUTION, "adapter": "memory", "status": "failing",
             "error": "ConnectionRefusedError: the database refused the connection"},
        )
        _, page = yield self.page()
        self.assertIn(
            '<span class="bad">failing: ConnectionRefusedError: the database refused the'
            " connection</span>",
            page,
        )
        self.flushLoggedErrors()


class DashboardLifeTests(SynchronousTestCase):
    def test_startStop(self) -> None:
        """
        The dashboard samples only between start and stop, observes its
        publisher meanwhile, and leaves no delayed call.
        """
        clock = Clock()
        clock.advance(NOW)
        publisher = LogPublisher()
        server = ACSServer(makeConfig(), {INSTITUTION: makeILS()}, clock, runInThread=runInline)
        dashboard = Dashboard(server, clock, interval=10.0, publisher=publisher)
        dashboard.start()
        clock.advance(10)
        clock.advance(10)
        Logger(observer=publisher).error("broken")
        dashboard.stop()
        self.assertEqual(clock.getDelayedCalls(), [])
        Logger(observer=publisher).error("after")
        clock.advance(10)
        self.assertEqual(len(dashboard.history.points()), 2)
        self.assertEqual([e["text"] for e in dashboard.errors.recent()], ["broken"])
