# -*- test-case-name: tests.test_admin -*-
"""
Tests for L{sip2acs.ops.admin}: C{/metrics} (its families are tested in
L{tests.test_metrics}), readiness and its signals, and the admin HTTP
listener on a real loopback socket next to a real SIP2 listener.
"""

import json
import math
import os
import re
import signal
import time

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, inlineCallbacks, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactor
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.server import Site

from sip2acs.acs.metrics import (
    Histogram,
    Readiness,
    processStartTime,
)
from sip2acs.app.tap import Options, makeService
from sip2acs.config import (
    DEFAULT_ADMIN_ENDPOINT,
    AdminConfig,
    ConfigError,
    defaultConfig,
    loadConfig,
    parseConfig,
)
from sip2acs.ils.memory import MemoryILS
from sip2acs.ils.sqlite import SQLiteILS
from sip2acs.ops.admin import HEALTH_TIMEOUT, DrainService, makeSite
from sip2acs.passwords import hashPassword
from sip2acs.sip import codec
from tests.loopback import (
    ADA,
    FREE_ITEM,
    INSTITUTION,
    TIMEOUT,
    LoopbackServer,
    captureLogs,
    login,
    makeAccount,
    makeConfig,
    makeILS,
    request,
)
from tests.process import startServer

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "etc", "sip2acs.toml")
LISTENER = "tcp:0:interface=127.0.0.1"
EVIL = '<script>alert("x\\y")</script>'
"""
An SC login full of what HTML and the exposition format must escape.
"""


# -- reading the exposition ----------------------------------------------------


def parseExposition(data):
    """
    Parse a text exposition with C{prometheus_client}'s parser.

    @type data: L{bytes}
    @return: C{(types, samples)}: family name to type (counters without
        C{_total}, as the parser names them), and a list of C{(name,
        labels dict, float value)}.
    """
    text = data.decode("utf-8")
    if not text.endswith("\n"):
        raise ValueError("no final line feed")
    types = {}
    samples = []
    for family in text_string_to_metric_families(text):
        if family.name in types:
            raise ValueError("family %s twice" % (family.name,))
        types[family.name] = family.type
        samples.extend((s.name, dict(s.labels), float(s.value)) for s in family.samples)
    return types, samples


def sampleValue(samples, name, **labels):
    """
    The value of the one sample called C{name} with exactly C{labels}, or
    L{None}.
    """
    found = [v for n, l, v in samples if n == name and l == labels]
    assert len(found) <= 1, found
    return found[0] if found else None


# -- an HTTP/1.0 client on a raw socket ---------------------------------------


class _HTTPClient(Protocol):
    def __init__(self, request):
        self.request = request
        self.data = b""
        self.done = Deferred()

    def connectionMade(self):
        self.transport.write(self.request)

    def dataReceived(self, data):
        self.data += data

    def connectionLost(self, reason):
        self.done.callback(self.data)


def _parseResponse(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def httpRequest(port, path, method="GET"):
    """
    Send one HTTP/1.0 request to 127.0.0.1:C{port} and read the response
    until the server closes the connection.

    @return: A Deferred firing with C{(status, headers, body)}, header
        names in lower case.
    """
    client = _HTTPClient(
        ("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % (method, path)).encode("ascii")
    )
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=TIMEOUT)
    d = connectProtocol(endpoint, client)
    d.addCallback(lambda _: client.done.addTimeout(TIMEOUT, reactor))
    return d.addCallback(_parseResponse)


# -- adapters with a health check ---------------------------------------------


class CheckedILS(MemoryILS):
    """
    A memory adapter with a health check the test controls.

    @ivar answer: Called for each check; returns its Deferred.
    @ivar asked: Fired by each check; replaced by a new Deferred then.
    @ivar checks: How many checks were started.
    """

    def healthCheck(self):
        self.checks = getattr(self, "checks", 0) + 1
        asked = getattr(self, "asked", None)
        self.asked = Deferred()
        d = self.answer()
        if asked is not None:
            asked.callback(None)
        return d

    def answer(self):
        return succeed(None)


class BrokenDatabase(Exception):
    """
    What a failing health check fails with.
    """


# -- the counters ---------------------------------------------------------------


class HistogramTests(SynchronousTestCase):
    def test_buckets(self) -> None:
        """
        An observation counts in the first bucket whose bound is at least
        its value (a value equal to a bound is in that bucket); the
        cumulative counts never decrease and end at the total.
        """
        histogram = Histogram((0.01, 0.1, 1.0))
        for value in (0.001, 0.01, 0.05, 0.05, 2.0):
            histogram.observe(value)
        self.assertEqual(histogram.counts, [2, 2, 0, 1])
        self.assertEqual(
            histogram.cumulative(), [(0.01, 2), (0.1, 4), (1.0, 4), (math.inf, 5)]
        )
        self.assertEqual(histogram.count, 5)
        self.assertAlmostEqual(histogram.sum, 2.111)


class MetricsTests(SynchronousTestCase):
    def test_processStartTime(self) -> None:
        """
        The process start time is in the past, and not before this test run
        began (trial started within the last hour).
        """
        started = processStartTime()
        self.assertLessEqual(started, time.time() + 1)
        self.assertGreater(started, time.time() - 3600)


class ReadinessTests(SynchronousTestCase):
    def test_drainAndResume(self) -> None:
        """
        A server starts ready; L{Readiness.drain} and L{Readiness.resume}
        toggle it, logging each change once.
        """
        events = captureLogs(self)
        readiness = Readiness()
        self.assertTrue(readiness.ready)
        readiness.drain("test")
        readiness.drain("test")
        self.assertFalse(readiness.ready)
        readiness.resume("test")
        readiness.resume("test")
        self.assertTrue(readiness.ready)
        formats = [e["log_format"] for e in events if "log_format" in e]
        self.assertEqual(len([f for f in formats if f.startswith("draining")]), 1)
        self.assertEqual(len([f for f in formats if f.startswith("ready again")]), 1)


class _CallFromThreadRecorder:
    def __init__(self):
        self.calls = []

    def callFromThread(self, f, *args):
        self.calls.append((f, args))


class DrainServiceTests(SynchronousTestCase):
    def test_handlerDefersToReactor(self) -> None:
        """
        The signal handler only hands the change to the reactor thread;
        the handed call drains on SIGUSR1 and resumes on SIGUSR2.
        """
        readiness = Readiness()
        recorder = _CallFromThreadRecorder()
        service = DrainService(readiness, recorder, installSignals=False)
        service._onSignal(signal.SIGUSR1, None)
        self.assertTrue(readiness.ready)
        [(f, args)] = recorder.calls
        f(*args)
        self.assertFalse(readiness.ready)
        service._onSignal(signal.SIGUSR2, None)
        f, args = recorder.calls[-1]
        f(*args)
        self.assertTrue(readiness.ready)

    def test_installAndRestore(self) -> None:
        """
        Starting the service installs handlers for SIGUSR1 and SIGUSR2;
        stopping it puts the previous ones back.
        """
        before = (signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGUSR2))
        service = DrainService(Readiness(), _CallFromThreadRecorder())
        service.startService()
        try:
            self.assertEqual(signal.getsignal(signal.SIGUSR1), service._onSignal)
            self.assertEqual(signal.getsignal(signal.SIGUSR2), service._onSignal)
        finally:
            service.stopService()
        self.assertEqual(
            (signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGUSR2)), before
        )

    def test_noInstall(self) -> None:
        """
        With C{installSignals=False} the handlers are left alone.
        """
        before = signal.getsignal(signal.SIGUSR1)
        service = DrainService(Readiness(), _CallFromThreadRecorder(), installSignals=False)
        service.startService()
        self.assertEqual(signal.getsignal(signal.SIGUSR1), before)
        service.stopService()
        self.assertEqual(signal.getsignal(signal.SIGUSR1), before)


# -- the admin listener, on real sockets --------------------------------------


class AdminListenerTests(TestCase):
    """
    An ACS on a loopback port with its admin site on another, both on
    ephemeral ports of 127.0.0.1; kiosks and HTTP clients on real sockets.
    """

    def listen(self, adapter=None, config=None, clock=None):
        """
        Start the ACS and its admin site.

        @param clock: Drives the sessions' times and the admin site's
            health timeouts and status page.
        """
        if clock is None:
            clock = Clock()
            clock.advance(1741947300)
        self.clock = clock
        self.acs = LoopbackServer(self, adapter=adapter, config=config, clock=clock)
        self.server = self.acs.server
        self.site = makeSite(self.server, clock)
        port = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.port = port.getHost().port
        return self.acs

    def get(self, path, method="GET"):
        return httpRequest(self.port, path, method)

    @inlineCallbacks
    def scrape(self):
        status, headers, body = yield self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        return parseExposition(body)[1]

    @inlineCallbacks
    def test_metricsAfterTransactions(self) -> None:
        """
        After a kiosk logs in, looks up a known and an unknown item and
        checks one out, C{/metrics} counts each by request, response and
        outcome, with a cumulative latency histogram per request.
        """
        self.listen()
        client = yield self.acs.loggedIn()
        yield client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        yield client.ask(request(codec.ItemInformation, itemIdentifier="B0000"))
        yield client.ask(
            request(codec.Checkout, patronIdentifier=ADA, itemIdentifier=FREE_ITEM)
        )
        samples = yield self.scrape()
        counts = {
            (l["request"], l["response"], l["outcome"]): v
            for n, l, v in samples
            if n == "sip2acs_messages_total"
        }
        self.assertEqual(
            counts,
            {
                ("93", "94", "ok"): 1,
                ("17", "18", "ok"): 1,
                ("17", "18", "refused"): 1,
                ("11", "12", "ok"): 1,
            },
        )
        for code, count in [("93", 1), ("17", 2), ("11", 1)]:
            buckets = [
                (float(l["le"]), v)
                for n, l, v in samples
                if n == "sip2acs_request_seconds_bucket" and l["request"] == code
            ]
            bounds = [bound for bound, _ in buckets]
            self.assertEqual(bounds, sorted(bounds))
            self.assertEqual(bounds[-1], math.inf)
            values = [value for _, value in buckets]
            self.assertEqual(values, sorted(values), "buckets are cumulative")
            self.assertEqual(values[-1], count)
            self.assertEqual(
                sampleValue(samples, "sip2acs_request_seconds_count", request=code), count
            )
            self.assertGreater(
                sampleValue(samples, "sip2acs_request_seconds_sum", request=code), 0
            )

    @inlineCallbacks
    def test_connectionsByListenerAndAccount(self) -> None:
        """
        The connections gauge counts open connections by listener and
        account at scrape time (C{account=""} before login), and forgets a
        connection once it closes.
        """
        config = makeConfig(accounts=[makeAccount(), makeAccount("other", "pw2")])
        self.listen(config=config)
        yield self.acs.loggedIn()
        yield self.acs.loggedIn()
        other = yield self.acs.loggedIn("other", "pw2")
        yield self.acs.connect()
        samples = yield self.scrape()
        gauge = {
            (l["listener"], l["account"]): v
            for n, l, v in samples
            if n == "sip2acs_connections"
        }
        self.assertEqual(
            gauge, {(LISTENER, "kiosk"): 2, (LISTENER, "other"): 1, (LISTENER, ""): 1}
        )
        other.transport.loseConnection()
        yield other.server.disconnected
        samples = yield self.scrape()
        self.assertIsNone(
            sampleValue(samples, "sip2acs_connections", listener=LISTENER, account="other")
        )

    @inlineCallbacks
    def test_loginFailures(self) -> None:
        """
        Each refused login counts in C{sip2acs_login_failures_total} for
        its listener, and as a refused 93.
        """
        self.listen()
        client = yield self.acs.connect()
        reply = yield client.ask(login("kiosk", "wrong"))
        self.assertEqual(reply.message, codec.LoginResponse(ok=False))
        reply = yield client.ask(login("nobody", "secret"))
        self.assertEqual(reply.message, codec.LoginResponse(ok=False))
        samples = yield self.scrape()
        self.assertEqual(
            sampleValue(samples, "sip2acs_login_failures_total", listener=LISTENER), 2
        )
        self.assertEqual(
            sampleValue(
                samples, "sip2acs_messages_total", request="93", response="94", outcome="refused"
            ),
            2,
        )

    @inlineCallbacks
    def test_labelsEscaped(self) -> None:
        """
        An account whose login holds quotes and backslashes comes out
        escaped in the exposition and reads back as it is.
        """
        self.listen(config=makeConfig(accounts=[makeAccount(EVIL, "pw")]))
        yield self.acs.loggedIn(EVIL, "pw")
        status, _, body = yield self.get("/metrics")
        self.assertIn(b'account="<script>alert(\\"x\\\\y\\")</script>"', body)
        samples = parseExposition(body)[1]
        self.assertEqual(
            sampleValue(samples, "sip2acs_connections", listener=LISTENER, account=EVIL), 1
        )

    @inlineCallbacks
    def test_healthWithoutChecks(self) -> None:
        """
        With adapters that offer no health check, C{/health} answers 200
        C{ok} naming each institution.
        """
        self.listen()
        status, headers, body = yield self.get("/health")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(
            json.loads(body),
            {
                "status": "ok",
                "institutions": {INSTITUTION: {"status": "ok", "adapter": "memory"}},
            },
        )

    @inlineCallbacks
    def test_healthCheckPasses(self) -> None:
        """
        An adapter whose health check succeeds is healthy.
        """
        adapter = makeILS(CheckedILS)
        self.listen(adapter=adapter)
        status, _, body = yield self.get("/health")
        self.assertEqual((status, json.loads(body)["status"]), (200, "ok"))
        self.assertEqual(adapter.checks, 1)

    @inlineCallbacks
    def test_healthCheckFails(self) -> None:
        """
        An adapter whose health check fails makes C{/health} answer 503,
        naming the institution and the error; the change is logged once,
        and so is the recovery.
        """
        events = captureLogs(self)
        adapter = makeILS(CheckedILS)
        adapter.answer = lambda: fail(BrokenDatabase("disk on fire"))
        self.listen(adapter=adapter)
        for _ in range(2):
            status, _, body = yield self.get("/health")
            self.assertEqual(status, 503)
            self.assertEqual(
                json.loads(body),
                {
                    "status": "failing",
                    "failing": [INSTITUTION],
                    "institutions": {
                        INSTITUTION: {
                            "status": "failing",
                            "adapter": "memory",
                            "error": "BrokenDatabase: disk on fire",
                        }
                    },
                },
            )
        adapter.answer = lambda: succeed(None)
        status, _, _ = yield self.get("/health")
        self.assertEqual(status, 200)
        formats = [e.get("log_format", "") for e in events]
        self.assertEqual(len([f for f in formats if "is failing" in f]), 1)
        self.assertEqual(len([f for f in formats if "healthy again" in f]), 1)

    @inlineCallbacks
    def test_healthCheckHangs(self) -> None:
        """
        A health check that does not answer within the timeout makes
        C{/health} answer 503. Requests arriving meanwhile share the one
        check in progress instead of queueing more; once it ends, the next
        request starts a new one.
        """
        adapter = makeILS(CheckedILS)
        hung = Deferred()
        adapter.answer = lambda: hung
        adapter.asked = Deferred()
        asked = adapter.asked
        self.listen(adapter=adapter)
        first = self.get("/health")
        yield asked
        second = self.get("/health")
        # Let the second request reach the server.
        while not self._pendingHealth(2):
            yield deferLater(reactor, 0.01, lambda: None)
        self.clock.advance(HEALTH_TIMEOUT)
        for d in (first, second):
            status, _, body = yield d
            self.assertEqual(status, 503)
            self.assertEqual(
                json.loads(body)["institutions"][INSTITUTION]["error"],
                "no answer within 5 s",
            )
        self.assertEqual(adapter.checks, 1)
        hung.callback(None)
        adapter.answer = lambda: succeed(None)
        status, _, _ = yield self.get("/health")
        self.assertEqual(status, 200)
        self.assertEqual(adapter.checks, 2)

    def _pendingHealth(self, count):
        """
        Whether C{count} health requests wait on the check in progress.
        """
        return sum(len(w) for w in self._healthResource()._inflight.values()) >= count

    def _healthResource(self):
        return self.site.resource.children[b"health"]

    @inlineCallbacks
    def test_ready(self) -> None:
        """
        C{/ready} answers 200 while the server is ready and 503 while it
        drains, and the C{sip2acs_ready} gauge follows.
        """
        self.listen()
        status, _, body = yield self.get("/ready")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ready"}))
        self.server.readiness.drain("test")
        status, _, body = yield self.get("/ready")
        self.assertEqual((status, json.loads(body)), (503, {"status": "draining"}))
        samples = yield self.scrape()
        self.assertEqual(sampleValue(samples, "sip2acs_ready"), 0)
        self.server.readiness.resume("test")
        status, _, _ = yield self.get("/ready")
        self.assertEqual(status, 200)

    @inlineCallbacks
    def test_drainSignals(self) -> None:
        """
        A real SIGUSR1 sent to this process makes C{/ready} answer 503, a
        SIGUSR2 200 again; kiosks already connected keep being served
        while draining. The previous handlers are back after the service
        stops.
        """
        before = (signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGUSR2))
        self.listen()
        client = yield self.acs.loggedIn()
        service = DrainService(self.server.readiness, reactor)
        service.startService()
        self.addCleanup(lambda: service.running and service.stopService())
        # Never send a signal whose handler is not ours: by default SIGUSR1
        # ends the process.
        self.assertEqual(signal.getsignal(signal.SIGUSR1), service._onSignal)
        os.kill(os.getpid(), signal.SIGUSR1)
        yield self._until(lambda: not self.server.readiness.ready)
        status, _, _ = yield self.get("/ready")
        self.assertEqual(status, 503)
        reply = yield client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        self.assertEqual(reply.message.titleIdentifier, "Clockwork Gardens")
        self.assertEqual(signal.getsignal(signal.SIGUSR2), service._onSignal)
        os.kill(os.getpid(), signal.SIGUSR2)
        yield self._until(lambda: self.server.readiness.ready)
        status, _, _ = yield self.get("/ready")
        self.assertEqual(status, 200)
        service.stopService()
        self.assertEqual(
            (signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGUSR2)), before
        )

    @inlineCallbacks
    def _until(self, condition, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.fail("condition not met within %s s" % (timeout,))
            yield deferLater(reactor, 0.01, lambda: None)

    @inlineCallbacks
    def test_statusPage(self) -> None:
        """
        C{/} and C{/status} list each connected SC: account, address and
        port, listener, connected since, last message and message count,
        with every field HTML-escaped; a connection not logged in yet is
        shown as such.
        """
        self.listen(config=makeConfig(accounts=[makeAccount(EVIL, "pw")]))
        client = yield self.acs.loggedIn(EVIL, "pw")
        self.clock.advance(90)
        yield client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        yield self.acs.connect()
        for path in ("/", "/status"):
            status, headers, body = yield self.get(path)
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
            self.assertIn("default-src 'none'", headers["content-security-policy"])
            page = body.decode("utf-8")
            self.assertNotIn("<script>", page)
            self.assertIn(
                # Jinja2 (markupsafe) escapes " as &#34;.
                "<td>&lt;script&gt;alert(&#34;x\\y&#34;)&lt;/script&gt;</td>"
                "<td>127.0.0.1:%d</td><td>%s</td>"
                % (client.transport.getHost().port, LISTENER),
                page,
            )
            self.assertIn("<i>not logged in</i>", page)
            self.assertIn('<td class="n">2</td>', page)
            self.assertIn('<td class="n">0</td>', page)
            self.assertIn("2 connection(s) open", page)
            self.assertIn("Ready: accepting kiosks", page)

    @inlineCallbacks
    def test_statusJSON(self) -> None:
        """
        C{/status.json} gives the same list as JSON, with times from the
        session clock both as Unix times and local ISO 8601.
        """
        self.listen(config=makeConfig(accounts=[makeAccount(EVIL, "pw")]))
        client = yield self.acs.loggedIn(EVIL, "pw")
        self.clock.advance(90)
        yield client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        self.server.readiness.drain("test")
        status, headers, body = yield self.get("/status.json")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        status = json.loads(body)
        [kiosk] = status["kiosks"]
        # The dashboard adds keys (tests.test_dashboard); these stay.
        kept = {"account", "address", "port", "listener", "connectedAt", "lastMessageAt",
                "messages"}
        self.assertEqual(
            {k: v for k, v in kiosk.items() if k in kept},
            {
                "account": EVIL,
                "address": "127.0.0.1",
                "port": client.transport.getHost().port,
                "listener": LISTENER,
                "connectedAt": 1741947300.0,
                "lastMessageAt": 1741947390.0,
                "messages": 2,
            },
        )
        self.assertTrue(kiosk["connectedSince"].startswith("2025-03-1"))
        self.assertRegex(
            kiosk["lastMessage"], r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\Z"
        )
        self.assertEqual((status["ready"], status["connections"]), (False, 1))
        status, _, body = yield self.get("/")
        self.assertIn(b"Draining", body)

    @inlineCallbacks
    def test_unknownPathsAndMethods(self) -> None:
        """
        Unknown paths are 404 (below a known one too), other methods than
        GET and HEAD 405; HEAD answers without a body.
        """
        self.listen()
        for path in ("/nope", "/metrics/x", "/health/"):
            status, _, _ = yield self.get(path)
            self.assertEqual(status, 404, path)
        status, _, _ = yield self.get("/ready", "POST")
        self.assertEqual(status, 405)
        status, _, body = yield self.get("/ready", "HEAD")
        self.assertEqual((status, body), (200, b""))


class SQLiteHealthTests(TestCase):
    """
    The SQLite adapter's health check, on its worker thread.
    """

    @inlineCallbacks
    def test_healthCheck(self) -> None:
        """
        A running adapter answers its health check; a stopped one fails it,
        so C{/health} answers 503 for it.
        """
        adapter = SQLiteILS(self.mktemp(), reactor)
        yield adapter.startService()
        self.addCleanup(lambda: adapter.running and adapter.stopService())
        result = yield adapter.healthCheck()
        self.assertIsNone(result)
        acs = LoopbackServer(self, adapter=adapter)
        port = reactor.listenTCP(0, makeSite(acs.server), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        status, _, body = yield httpRequest(port.getHost().port, "/health")
        self.assertEqual(status, 200, body)
        yield adapter.stopService()
        status, _, body = yield httpRequest(port.getHost().port, "/health")
        self.assertEqual(status, 503)
        self.assertIn(
            "the SQLite ILS is not running",
            json.loads(body)["institutions"][INSTITUTION]["error"],
        )


# -- configuration and the service tree ---------------------------------------


def _minimal(**overrides):
    data = {
        "listener": [{"endpoint": "tcp:6001:interface=127.0.0.1"}],
        "institution": [{"id": "LIB", "adapter": "tests.test_tap.memoryAdapter", "shelf": "a"}],
        "account": [
            {"login": "sc1", "password": hashPassword("pw", cost=4), "institution": "LIB"}
        ],
    }
    data.update(overrides)
    return data


class AdminConfigTests(SynchronousTestCase):
    def test_absent(self) -> None:
        """
        Without an C{[admin]} table there is no admin listener.
        """
        self.assertEqual(parseConfig(_minimal()).admin, AdminConfig(endpoint=None))

    def test_parsed(self) -> None:
        """
        C{[admin]} takes C{endpoint} and C{health-timeout}.
        """
        config = parseConfig(
            _minimal(admin={"endpoint": "tcp:6080:interface=127.0.0.1", "health-timeout": 2})
        )
        self.assertEqual(
            config.admin,
            AdminConfig(endpoint="tcp:6080:interface=127.0.0.1", healthTimeout=2.0),
        )

    def test_problems(self) -> None:
        """
        Every problem of the C{[admin]} table is reported with its location.
        """
        cases = [
            ({"endpoint": 6080}, "admin.endpoint: must be text in quotes, not 6080"),
            ({"endpoint": " "}, "admin.endpoint: must not be empty"),
            ({"health-timeout": 0}, "admin.health-timeout: must be more than 0"),
            ({"port": 1}, "admin.port: is not a known setting"),
            (
                {"endpoint": "tcp:6001:interface=127.0.0.1"},
                "admin.endpoint: 'tcp:6001:interface=127.0.0.1' is also listener[0]'s endpoint",
            ),
        ]
        for table, expected in cases:
            with self.assertRaises(ConfigError) as raised:
                parseConfig(_minimal(admin=table))
            self.assertIn(expected, str(raised.exception))
        with self.assertRaises(ConfigError) as raised:
            parseConfig(_minimal(admin=[{"endpoint": "tcp:1"}]))
        self.assertIn("admin: must be a table ([admin])", str(raised.exception))

    def test_default(self) -> None:
        """
        The built-in configuration has the admin listener on loopback port
        6080.
        """
        self.assertEqual(defaultConfig().admin.endpoint, "tcp:6080:interface=127.0.0.1")
        self.assertEqual(DEFAULT_ADMIN_ENDPOINT, "tcp:6080:interface=127.0.0.1")
        self.assertIsNone(defaultConfig(admin=None).admin.endpoint)

    def test_example(self) -> None:
        """
        The shipped C{etc/sip2acs.toml} runs the admin listener on loopback.
        """
        self.assertEqual(loadConfig(EXAMPLE).admin.endpoint, "tcp:6080:interface=127.0.0.1")


class AdminReloadTests(SynchronousTestCase):
    def test_adminNeedsRestart(self) -> None:
        """
        A reloaded file whose C{[admin]} table changed is applied for its
        accounts, and the admin change is logged as waiting for a restart.
        """
        from twisted.application.service import MultiService

        from sip2acs.acs.server import ACSServer
        from sip2acs.app.tap import adapterKey, buildAdapters
        from sip2acs.ops.reload import ConfigReloader
        from tests.test_tap import CONFIG

        path = self.mktemp()
        with open(path, "w") as f:
            f.write(CONFIG)
        config = loadConfig(path)
        server = ACSServer(config, buildAdapters(config, None), Clock())
        with open(path, "w") as f:
            f.write(CONFIG + '\n[admin]\nendpoint = "tcp:6080:interface=127.0.0.1"\n')
        events = captureLogs(self)
        reloader = ConfigReloader(
            path, server, MultiService(), lambda i: MemoryILS(), adapterKey
        )
        reloader()
        self.assertEqual(server.config.admin.endpoint, "tcp:6080:interface=127.0.0.1")
        self.assertTrue(
            [e for e in events if e.get("log_format", "").startswith("[admin] changes")]
        )


class AdminServiceTests(SynchronousTestCase):
    def _started(self, args):
        """
        Build the service tree of C{twistd sip2acs ARGS} on a
        L{MemoryReactor} and start only its admin listener.
        """
        options = Options()
        options.parseOptions(args)
        reactor = MemoryReactor()
        top = makeService(options, reactor)
        if top.adminService is not None:
            top.adminService.privilegedStartService()
            self.addCleanup(top.adminService.stopService)
        return top, reactor

    def test_builtIn(self) -> None:
        """
        With no options the admin listener serves the admin site on
        127.0.0.1:6080 only, and the drain signals are part of the tree.
        """
        top, reactor = self._started(["--database", self.mktemp()])
        [(port, factory, _, interface)] = reactor.tcpServers
        self.assertEqual((port, interface), (6080, "127.0.0.1"))
        self.assertIsInstance(factory, Site)
        self.assertIs(factory.resource.children[b"metrics"].acs, top.acsServer)
        self.assertEqual(len([s for s in top if isinstance(s, DrainService)]), 1)

    def test_option(self) -> None:
        """
        C{--admin} moves the built-in admin listener; C{--admin none}
        turns it off.
        """
        _, reactor = self._started(["--admin", "tcp:7080:interface=127.0.0.1"])
        self.assertEqual(
            [(p, i) for p, _, _, i in reactor.tcpServers], [(7080, "127.0.0.1")]
        )
        top, reactor = self._started(["--admin", "none"])
        self.assertIsNone(top.adminService)
        self.assertEqual(reactor.tcpServers, [])

    def test_configFile(self) -> None:
        """
        With C{--config}, the C{[admin]} table decides (no table, no admin
        listener), and C{--admin} is refused.
        """
        from tests.test_tap import CONFIG

        path = self.mktemp()
        with open(path, "w") as f:
            f.write(CONFIG)
        top, _ = self._started(["--config", path])
        self.assertIsNone(top.adminService)
        with open(path, "w") as f:
            f.write(CONFIG + '\n[admin]\nendpoint = "tcp:0:interface=127.0.0.1"\n')
        top, reactor = self._started(["--config", path])
        self.assertEqual([(p, i) for p, _, _, i in reactor.tcpServers], [(0, "127.0.0.1")])
        with self.assertRaises(UsageError):
            Options().parseOptions(["--config", path, "--admin", "none"])

    def test_help(self) -> None:
        """
        C{--help} documents C{--admin}.
        """
        self.assertIn("--admin", str(Options()))


# -- end to end ---------------------------------------------------------------

_ADMIN_PORT = re.compile(r"AdminSite starting on (\d+)")


class TwistdAdminTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def test_twistd(self) -> None:
        """
        The real C{twistd -n sip2acs} serves the admin listener: healthy
        with its SQLite database, ready until C{kill -USR1}, ready again
        after C{kill -USR2}, and its metrics count the drain.
        """
        workdir = self.mktemp()
        os.makedirs(workdir)
        server = yield startServer(
            self,
            [
                "--sip", LISTENER,
                "--database", os.path.join(workdir, "db.sqlite3"),
                "--admin", LISTENER,
            ],
        )
        deadline = time.monotonic() + 30
        while not _ADMIN_PORT.search(server.output):
            if time.monotonic() > deadline:
                self.fail("no admin listener:\n" + server.output)
            yield deferLater(reactor, 0.05, lambda: None)
        port = int(_ADMIN_PORT.search(server.output).group(1))

        deadline = time.monotonic() + 30
        while True:
            status, _, body = yield httpRequest(port, "/health")
            if status == 200 or time.monotonic() > deadline:
                break
            # The database opens in the background after the port binds.
            yield deferLater(reactor, 0.1, lambda: None)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["institutions"]["DEMO"]["status"], "ok")

        for signum, expected in [(signal.SIGUSR1, 503), (signal.SIGUSR2, 200)]:
            server.transport.signalProcess(signum)
            deadline = time.monotonic() + 10
            while True:
                status, _, _ = yield httpRequest(port, "/ready")
                if status == expected or time.monotonic() > deadline:
                    break
                yield deferLater(reactor, 0.05, lambda: None)
            self.assertEqual(status, expected, server.output)
        status, _, body = yield httpRequest(port, "/metrics")
        self.assertEqual(sampleValue(parseExposition(body)[1], "sip2acs_ready"), 1)
        ended = yield server.signal("TERM")
        self.assertEqual(ended.signal, signal.SIGTERM, server.output)
        self.assertIn("draining (SIGUSR1)", server.output)
        self.assertIn("ready again (SIGUSR2)", server.output)
