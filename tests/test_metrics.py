# -*- test-case-name: tests.test_metrics -*-
"""
Tests for L{sip2acs.ops.metrics}: the server's metric families written by
C{prometheus_client}, checked against the families the hand-written
exposition had, and C{/metrics} of a gateway server on real sockets.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs._version import __version__
from sip2acs.acs.metrics import LATENCY_BUCKETS, Metrics
from sip2acs.ils.upstream.stats import UpstreamStats
from sip2acs.ops.admin import makeSite
from sip2acs.ops.metrics import (
    CONTENT_TYPE,
    Scrape,
    ServerCollector,
    exposition,
    families,
    makeRegistry,
)
from sip2acs.sip import codec
from tests import fixtures
from tests.loopback import LoopbackServer, login, request
from tests.test_admin import httpRequest
from tests.test_upstream_gateway import startGateway, startUpstream

BEFORE = frozenset(
    [
        ("sip2acs_messages", "counter", ("outcome", "request", "response")),
        ("sip2acs_request_seconds", "histogram", ("request",)),
        ("sip2acs_connections", "gauge", ("account", "listener")),
        ("sip2acs_login_failures", "counter", ("listener",)),
        ("sip2acs_tls_handshake_failures", "counter", ("listener",)),
        ("sip2acs_upstream_requests", "counter", ("operation", "outcome", "upstream")),
        ("sip2acs_upstream_seconds", "histogram", ("operation", "upstream")),
        ("sip2acs_upstream_connects", "counter", ("upstream",)),
        ("sip2acs_upstream_connect_failures", "counter", ("upstream",)),
        ("sip2acs_upstream_connections_lost", "counter", ("upstream",)),
        ("sip2acs_upstream_connections", "gauge", ("upstream",)),
        ("sip2acs_upstream_connections_busy", "gauge", ("upstream",)),
        ("sip2acs_upstream_requests_waiting", "gauge", ("upstream",)),
        ("sip2acs_upstream_online", "gauge", ("upstream",)),
        ("sip2acs_ready", "gauge", ()),
        ("sip2acs_build_info", "gauge", ("version",)),
        ("process_start_time_seconds", "gauge", ()),
    ]
)
"""
C{(family, type, label names)} of every family the hand-written exposition
had (before C{prometheus_client}), captured from a server with
transactions, a refused login, a failed TLS handshake and a gateway, and
read with C{prometheus_client}'s parser (which names counter families
without C{_total}; their samples keep it).
"""

PROCESS = frozenset(
    [
        ("process_cpu_seconds", "counter", ()),
        ("process_virtual_memory_bytes", "gauge", ()),
        ("process_resident_memory_bytes", "gauge", ()),
        ("process_open_fds", "gauge", ()),
        ("process_max_fds", "gauge", ()),
    ]
)
"""
The process families C{prometheus_client} adds where there is C{/proc}.
"""

PLATFORM = ("python_info", "gauge", ("implementation", "major", "minor", "patchlevel", "version"))


def parse(data: bytes) -> tuple[dict[tuple[str, str, tuple[str, ...]], Any], list[Any]]:
    """
    Read an exposition with C{prometheus_client}'s parser.

    @return: C{(shapes, samples)}: C{(family, type, label names)} to the
        family (label names without C{le}), and every sample as C{(name,
        labels, value)}.
    """
    shapes = {}
    samples = []
    for family in text_string_to_metric_families(data.decode("utf-8")):
        names = {name for sample in family.samples for name in sample.labels} - {"le"}
        key = (family.name, family.type, tuple(sorted(names)))
        assert key not in shapes, key
        shapes[key] = family
        samples.extend((s.name, dict(s.labels), s.value) for s in family.samples)
    return shapes, samples


def value(samples: list[Any], name: str, **labels: str) -> float | None:
    """
    The value of the one sample C{name} with exactly C{labels}, or L{None}.
    """
    found = [v for n, l, v in samples if n == name and l == labels]
    assert len(found) <= 1, found
    return found[0] if found else None


class FakeGateway:
    """
    What L{families} reads of a gateway adapter: a name, real
    L{UpstreamStats}, its pool gauges and whether it is online.
    """

    def __init__(self, name: str, gauges: tuple[int, int, int] = (2, 1, 0)) -> None:
        self.name = name
        self.stats = UpstreamStats()
        self.gauges = gauges
        self.up = True

    def upstreamGauges(self) -> tuple[int, int, int]:
        return self.gauges

    def online(self) -> bool:
        return self.up


def traffic() -> tuple[Metrics, Scrape]:
    """
    A server's counters after known traffic, and what a scrape sees.
    """
    metrics = Metrics(startTime=1741947300.5)
    metrics.transactionDone("93", "94", "ok", 0.002)
    metrics.transactionDone("93", "94", "refused", 0.002)
    metrics.loginFailed("tcp:6001")
    metrics.transactionDone("11", "12", "ok", 0.003)
    metrics.transactionDone("11", "12", "refused", 0.2)
    metrics.transactionDone("11", "12", "ok", 40.0)
    metrics.tlsHandshakeFailed("tls:6002")
    gateway = FakeGateway("demo-upstream")
    gateway.stats.answered("checkout", "ok", 0.02)
    gateway.stats.answered("checkout", "unavailable", None)
    gateway.stats.connected()
    gateway.stats.connected()
    gateway.stats.connectFailed()
    gateway.stats.lost()
    scrape = Scrape(
        connections=[("tcp:6001", "kiosk"), ("tcp:6001", "kiosk"), ("tls:6002", "")],
        listeners=["tcp:6001", "tls:6002"],
        ready=False,
        upstreams=[gateway],
    )
    return metrics, scrape


def scrapeOnce(metrics: Metrics, scrape: Scrape) -> bytes:
    return exposition(makeRegistry(metrics, lambda: scrape))


class FamiliesTests(SynchronousTestCase):
    def test_everyFamilyKept(self) -> None:
        """
        Every family the hand-written exposition had is still there, with
        its type and label names; the only new ones are C{prometheus_client}'s
        process and platform families.
        """
        shapes, _ = parse(scrapeOnce(*traffic()))
        self.assertEqual(BEFORE - set(shapes), set())
        new = set(shapes) - BEFORE
        self.assertIn(PLATFORM, new)
        self.assertEqual(new - PROCESS - {PLATFORM}, set())

    def test_values(self) -> None:
        """
        After known traffic each family has the values the server counted.
        """
        _, samples = parse(scrapeOnce(*traffic()))
        self.assertEqual(
            value(samples, "sip2acs_messages_total", request="11", response="12", outcome="ok"),
            2,
        )
        self.assertEqual(
            value(
                samples, "sip2acs_messages_total", request="93", response="94", outcome="refused"
            ),
            1,
        )
        buckets = [
            (labels["le"], v)
            for name, labels, v in samples
            if name == "sip2acs_request_seconds_bucket" and labels["request"] == "11"
        ]
        self.assertEqual(len(buckets), len(LATENCY_BUCKETS) + 1)
        self.assertEqual(buckets[-1], ("+Inf", 3))
        self.assertEqual(dict(buckets)["0.005"], 1)
        self.assertEqual(dict(buckets)["0.25"], 2)
        self.assertEqual(dict(buckets)["30.0"], 2)
        self.assertEqual(value(samples, "sip2acs_request_seconds_count", request="11"), 3)
        self.assertAlmostEqual(
            value(samples, "sip2acs_request_seconds_sum", request="11"), 40.203
        )
        self.assertEqual(
            value(samples, "sip2acs_connections", listener="tcp:6001", account="kiosk"), 2
        )
        self.assertEqual(
            value(samples, "sip2acs_connections", listener="tcp:6001", account=""), 0
        )
        self.assertEqual(
            value(samples, "sip2acs_connections", listener="tls:6002", account=""), 1
        )
        self.assertEqual(value(samples, "sip2acs_login_failures_total", listener="tcp:6001"), 1)
        self.assertEqual(value(samples, "sip2acs_login_failures_total", listener="tls:6002"), 0)
        self.assertEqual(
            value(samples, "sip2acs_tls_handshake_failures_total", listener="tls:6002"), 1
        )
        self.assertEqual(value(samples, "sip2acs_ready"), 0)
        self.assertEqual(value(samples, "sip2acs_build_info", version=__version__), 1)
        self.assertEqual(value(samples, "process_start_time_seconds"), 1741947300.5)
        up = {"upstream": "demo-upstream"}
        self.assertEqual(
            value(
                samples, "sip2acs_upstream_requests_total",
                operation="checkout", outcome="unavailable", **up,
            ),
            1,
        )
        self.assertEqual(
            value(samples, "sip2acs_upstream_seconds_count", operation="checkout", **up), 1
        )
        self.assertAlmostEqual(
            value(samples, "sip2acs_upstream_seconds_sum", operation="checkout", **up), 0.02
        )
        self.assertEqual(
            value(
                samples, "sip2acs_upstream_seconds_bucket", operation="checkout", le="0.025", **up
            ),
            1,
        )
        for name, expected in [
            ("sip2acs_upstream_connects_total", 2),
            ("sip2acs_upstream_connect_failures_total", 1),
            ("sip2acs_upstream_connections_lost_total", 1),
            ("sip2acs_upstream_connections", 2),
            ("sip2acs_upstream_connections_busy", 1),
            ("sip2acs_upstream_requests_waiting", 0),
            ("sip2acs_upstream_online", 1),
        ]:
            self.assertEqual(value(samples, name, **up), expected, name)

    def test_empty(self) -> None:
        """
        A new server has a zero series for each configured listener, is
        ready, and has no upstream family without a gateway.
        """
        shapes, samples = parse(
            scrapeOnce(Metrics(startTime=1.5), Scrape(listeners=["tcp:6001"]))
        )
        names = {name for name, _, _ in shapes}
        self.assertEqual(
            {name for name, _, _ in BEFORE} - names,
            {name for name, _, _ in BEFORE if name.startswith("sip2acs_upstream_")},
        )
        self.assertEqual(value(samples, "sip2acs_connections", listener="tcp:6001", account=""), 0)
        self.assertEqual(value(samples, "sip2acs_login_failures_total", listener="tcp:6001"), 0)
        self.assertEqual(
            value(samples, "sip2acs_tls_handshake_failures_total", listener="tcp:6001"), 0
        )
        self.assertEqual(value(samples, "sip2acs_ready"), 1)

    def test_namesAsBefore(self) -> None:
        """
        Counters keep the names scrapers know (C{_total} on the family's
        HELP, TYPE and samples), and no C{_created} sample is written.
        """
        text = scrapeOnce(*traffic()).decode("utf-8")
        for name in [
            "sip2acs_messages_total",
            "sip2acs_login_failures_total",
            "sip2acs_tls_handshake_failures_total",
            "sip2acs_upstream_requests_total",
            "sip2acs_upstream_connects_total",
            "sip2acs_upstream_connect_failures_total",
            "sip2acs_upstream_connections_lost_total",
        ]:
            self.assertIn("\n# TYPE %s counter\n" % (name,), text)
            self.assertIn("\n%s{" % (name,), text)
        self.assertIn("\n# TYPE sip2acs_request_seconds histogram\n", text)
        self.assertNotIn("_created", text)
        self.assertTrue(text.endswith("\n"))

    def test_startTimeOnce(self) -> None:
        """
        C{process_start_time_seconds} is written once, from the server's
        L{Metrics.startTime}, even where the process collector has its own.
        """
        text = scrapeOnce(Metrics(startTime=1741947300.5), Scrape()).decode("utf-8")
        self.assertEqual(text.count("\nprocess_start_time_seconds "), 1)
        self.assertEqual(text.count("# TYPE process_start_time_seconds "), 1)

    def test_process(self) -> None:
        """
        Where there is C{/proc}, the process's CPU, memory and file
        descriptor families are written too.
        """
        if not os.path.exists("/proc/self/stat"):
            raise self.skipTest("no /proc")
        shapes, samples = parse(scrapeOnce(Metrics(), Scrape()))
        self.assertEqual(PROCESS - set(shapes), set())
        self.assertGreater(value(samples, "process_open_fds"), 0)
        self.assertGreater(value(samples, "process_resident_memory_bytes"), 0)

    def test_labelsEscaped(self) -> None:
        """
        Backslash, double quote and line feed in a label value are escaped
        and read back as they were.
        """
        evil = 'a\\b"c\nd<é>'
        data = scrapeOnce(Metrics(), Scrape(connections=[("tcp:6001", evil)]))
        self.assertIn('account="a\\\\b\\"c\\nd<é>"'.encode(), data)
        _, samples = parse(data)
        self.assertEqual(
            value(samples, "sip2acs_connections", listener="tcp:6001", account=evil), 1
        )

    def test_bucketBounds(self) -> None:
        """
        Bucket bounds are written as before (C{0.005}, C{30.0}, C{+Inf}).
        """
        metrics = Metrics(buckets=(0.005, 30.0))
        metrics.transactionDone("11", "12", "ok", 1.0)
        data = scrapeOnce(metrics, Scrape()).decode("utf-8")
        for bound in ("0.005", "30.0", "+Inf"):
            self.assertIn('sip2acs_request_seconds_bucket{le="%s",request="11"}' % (bound,), data)


class CollectorTests(SynchronousTestCase):
    def test_readsAtScrape(self) -> None:
        """
        Each scrape reads the counters and asks for the rest anew: counting
        takes nothing from C{prometheus_client}.
        """
        metrics = Metrics()
        asked = []

        def scrape() -> Scrape:
            asked.append(True)
            return Scrape(ready=len(asked) == 1)

        registry = makeRegistry(metrics, scrape)
        _, first = parse(exposition(registry))
        metrics.transactionDone("17", "18", "ok", 0.001)
        _, second = parse(exposition(registry))
        self.assertEqual(len(asked), 2)
        self.assertEqual(value(first, "sip2acs_ready"), 1)
        self.assertEqual(value(second, "sip2acs_ready"), 0)
        self.assertIsNone(
            value(first, "sip2acs_messages_total", request="17", response="18", outcome="ok")
        )
        self.assertEqual(
            value(second, "sip2acs_messages_total", request="17", response="18", outcome="ok"), 1
        )

    def test_registryPerServer(self) -> None:
        """
        Each server has a registry of its own; C{prometheus_client}'s global
        registry is left alone.
        """
        one, two = Metrics(), Metrics()
        one.loginFailed("tcp:1")
        registries = [makeRegistry(m, Scrape) for m in (one, two)]
        _, first = parse(exposition(registries[0]))
        _, second = parse(exposition(registries[1]))
        self.assertEqual(value(first, "sip2acs_login_failures_total", listener="tcp:1"), 1)
        self.assertIsNone(value(second, "sip2acs_login_failures_total", listener="tcp:1"))
        self.assertFalse(
            [c for c in REGISTRY._collector_to_names if isinstance(c, ServerCollector)]
        )
        self.assertIsNone(REGISTRY.get_sample_value("sip2acs_ready"))

    def test_families(self) -> None:
        """
        L{families} without a scrape describes a ready server with no
        connections.
        """
        names = [family.name for family in families(Metrics())]
        self.assertIn("sip2acs_messages", names)
        self.assertIn("sip2acs_ready", names)
        self.assertNotIn("sip2acs_upstream_online", names)


class GatewayMetricsTests(TestCase):
    """
    C{/metrics} of a gateway server on real sockets: a kiosk's
    transactions and a refused login, with the SQLite demo library as the
    upstream.
    """

    timeout = 60

    @inlineCallbacks
    def test_scrape(self) -> Any:
        """
        Every family the hand-written exposition had is served, with the
        content type scrapers know, and counts the traffic.
        """
        _, upstream = yield startUpstream(self)
        gateway = startGateway(self, upstream.port.getHost().port, poolSize=2)
        yield gateway.refreshStatus()
        acs = LoopbackServer(self, adapter=gateway)
        client = yield acs.loggedIn()
        yield client.ask(
            request(codec.ItemInformation, institutionId=fixtures.INSTITUTION,
                    itemIdentifier="I0001")
        )
        refused = yield acs.connect()
        answer = yield refused.ask(login(fixtures.LOGIN, "wrong"))
        self.assertEqual(answer.message, codec.LoginResponse(ok=False))
        port = reactor.listenTCP(0, makeSite(acs.server), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        status, headers, body = yield httpRequest(port.getHost().port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], CONTENT_TYPE.decode("ascii"))
        shapes, samples = parse(body)
        self.assertEqual(BEFORE - set(shapes), set())
        listener = acs.server.config.listeners[0].endpoint
        self.assertEqual(value(samples, "sip2acs_login_failures_total", listener=listener), 1)
        self.assertEqual(
            value(samples, "sip2acs_messages_total", request="17", response="18", outcome="ok"),
            1,
        )
        self.assertEqual(
            value(samples, "sip2acs_connections", listener=listener, account=fixtures.LOGIN), 1
        )
        self.assertEqual(value(samples, "sip2acs_upstream_online", upstream=gateway.name), 1)
        self.assertEqual(
            value(
                samples, "sip2acs_upstream_requests_total",
                upstream=gateway.name, operation="lookupItem", outcome="ok",
            ),
            1,
        )
