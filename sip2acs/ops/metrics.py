# -*- test-case-name: tests.test_metrics -*-
"""
What the admin listener reports at C{/metrics}: the server's counters as
Prometheus metric families, written by C{prometheus_client}.

The server counts in plain integers and L{Histogram
<sip2acs.histogram.Histogram>}s (L{Metrics <sip2acs.acs.metrics.Metrics>},
a gateway's L{UpstreamStats <sip2acs.ils.upstream.stats.UpstreamStats>}),
so a transaction takes no lock. At scrape time L{ServerCollector} reads
that state and builds C{prometheus_client} metric families from it
(L{families}); L{makeRegistry} puts it in a registry of its own, next to
C{prometheus_client}'s process (CPU, memory, file descriptors) and
platform (C{python_info}) collectors; L{sip2acs.ops.admin} writes the
registry with L{exposition}.

Everything here is called on the reactor thread (the process collector
reads a few small files under C{/proc}).

Metric families (see L{families}); counters are named here without
C{_total}, which C{prometheus_client} adds to their samples, so scrapers
see the same names as before:

  - C{sip2acs_messages_total{request,response,outcome}}: answered requests,
    by request and response command identifier and outcome (C{ok} or
    C{refused}, see L{sip2acs.acs.session.outcome});
  - C{sip2acs_request_seconds{request}}: a histogram of the time taken to
    answer each request, in seconds;
  - C{sip2acs_connections{listener,account}}: open connections, by listener
    endpoint and SC account (C{""} before login);
  - C{sip2acs_login_failures_total{listener}}: refused logins;
  - C{sip2acs_tls_handshake_failures_total{listener}}: failed TLS
    handshakes (reported by the TLS listener through
    L{Metrics.tlsHandshakeFailed <sip2acs.acs.metrics.Metrics.tlsHandshakeFailed>});
  - C{sip2acs_ready}: 1 while accepting kiosks, 0 while draining;
  - for each gateway (L{sip2acs.ils.upstream}), by C{upstream}:
    C{sip2acs_upstream_requests_total{upstream,operation,outcome}},
    C{sip2acs_upstream_seconds{upstream,operation}} (a histogram),
    C{sip2acs_upstream_connects_total}, C{sip2acs_upstream_connect_failures_total},
    C{sip2acs_upstream_connections_lost_total}, and the gauges
    C{sip2acs_upstream_connections}, C{sip2acs_upstream_connections_busy},
    C{sip2acs_upstream_requests_waiting} and C{sip2acs_upstream_online};
  - C{sip2acs_build_info{version}}: always 1;
  - C{process_start_time_seconds}: when the process started, in seconds
    since the Unix epoch (from L{Metrics.startTime
    <sip2acs.acs.metrics.Metrics>}, not from the process collector);
  - from C{prometheus_client}: C{process_cpu_seconds_total},
    C{process_virtual_memory_bytes}, C{process_resident_memory_bytes},
    C{process_open_fds}, C{process_max_fds} (Linux only) and
    C{python_info{implementation,major,minor,patchlevel,version}}.
"""

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, NamedTuple

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from sip2acs._version import __version__
from sip2acs.acs.metrics import Metrics
from sip2acs.histogram import Histogram

__all__ = [
    "CONTENT_TYPE",
    "Scrape",
    "ServerCollector",
    "exposition",
    "families",
    "makeRegistry",
]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
"""
The HTTP content type of the text exposition format (version 0.0.4), as
L{exposition} writes it.
"""


class Scrape(NamedTuple):
    """
    What the server holds besides its L{Metrics}, read at scrape time.

    @ivar connections: One C{(listener endpoint, account login)} pair per
        open connection, the login being C{""} before login.
    @ivar listeners: Every configured listener's endpoint: each gets a
        C{sip2acs_connections} sample with C{account=""} and zero samples
        for its failure counters, so their series exist from the start.
    @ivar ready: Whether the server accepts new kiosks.
    @ivar upstreams: The gateway adapters (each with C{name}, C{stats}, an
        L{UpstreamStats <sip2acs.ils.upstream.stats.UpstreamStats>},
        C{upstreamGauges()} and C{online()}).
    """

    connections: Iterable[tuple[str, str]] = ()
    listeners: Collection[str] = ()
    ready: bool = True
    upstreams: Iterable[Any] = ()


def _histogram(
    family: HistogramMetricFamily, labels: list[str], histogram: Histogram
) -> None:
    family.add_metric(
        labels,
        [(floatToGoString(bound), count) for bound, count in histogram.cumulative()],
        histogram.sum,
    )


def families(metrics: Metrics, scrape: Scrape | None = None) -> list[Metric]:
    """
    Every metric family of the server, built from its counters now.

    @param metrics: The server's L{Metrics <sip2acs.acs.metrics.Metrics>}.
    @param scrape: The open connections, listeners, readiness and
        gateways; none, ready, by default.
    @return: C{prometheus_client} metric families, without C{_created}
        samples.
    @rtype: L{list}
    """
    if scrape is None:
        scrape = Scrape()
    result: list[Metric] = []
    messages = CounterMetricFamily(
        "sip2acs_messages",
        "SIP2 requests answered, by request and response command"
        " identifier and outcome (ok or refused).",
        labels=["request", "response", "outcome"],
    )
    for (request, response, outcome), count in sorted(metrics.messages.items()):
        messages.add_metric([request, response, outcome], count)
    result.append(messages)

    latency = HistogramMetricFamily(
        "sip2acs_request_seconds",
        "Time taken to answer SIP2 requests, in seconds, by request"
        " command identifier.",
        labels=["request"],
    )
    for request, histogram in sorted(metrics.latency.items()):
        _histogram(latency, [request], histogram)
    result.append(latency)

    counts = {(listener, ""): 0 for listener in scrape.listeners}
    for key in scrape.connections:
        counts[key] = counts.get(key, 0) + 1
    connections = GaugeMetricFamily(
        "sip2acs_connections",
        'Open SC connections, by listener and account (account="" before'
        " login).",
        labels=["listener", "account"],
    )
    for (listener, account), count in sorted(counts.items()):
        connections.add_metric([listener, account], count)
    result.append(connections)

    for name, help, counter in [
        (
            "sip2acs_login_failures",
            "Refused SC logins (93 answered with 940), by listener.",
            metrics.loginFailures,
        ),
        (
            "sip2acs_tls_handshake_failures",
            "Failed TLS handshakes, by listener.",
            metrics.tlsHandshakeFailures,
        ),
    ]:
        family = CounterMetricFamily(name, help, labels=["listener"])
        values = dict.fromkeys(scrape.listeners, 0)
        values.update(counter)
        for listener, count in sorted(values.items()):
            family.add_metric([listener], count)
        result.append(family)

    result.extend(_upstreams(list(scrape.upstreams)))

    result.append(
        GaugeMetricFamily(
            "sip2acs_ready",
            "1 while the server accepts new kiosks, 0 while it drains.",
            value=1 if scrape.ready else 0,
        )
    )
    build = GaugeMetricFamily(
        "sip2acs_build_info", "The running sip2acs version.", labels=["version"]
    )
    build.add_metric([__version__], 1)
    result.append(build)
    result.append(
        GaugeMetricFamily(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            value=float(metrics.startTime),
        )
    )
    return result


_UPSTREAM_SCALARS: list[
    tuple[
        str,
        type[CounterMetricFamily | GaugeMetricFamily],
        str,
        Callable[[Any, tuple[int, int, int]], float],
    ]
] = [
    ("sip2acs_upstream_connects", CounterMetricFamily,
     "Upstream connections opened and logged in.",
     lambda gateway, gauges: gateway.stats.connects),
    ("sip2acs_upstream_connect_failures", CounterMetricFamily,
     "Failed attempts to connect to the upstream or log in.",
     lambda gateway, gauges: gateway.stats.connectFailures),
    ("sip2acs_upstream_connections_lost", CounterMetricFamily,
     "Upstream connections lost while open.",
     lambda gateway, gauges: gateway.stats.losses),
    ("sip2acs_upstream_connections", GaugeMetricFamily,
     "Upstream connections of the gateway's pools.",
     lambda gateway, gauges: gauges[0]),
    ("sip2acs_upstream_connections_busy", GaugeMetricFamily,
     "Upstream connections with a request in flight.",
     lambda gateway, gauges: gauges[1]),
    ("sip2acs_upstream_requests_waiting", GaugeMetricFamily,
     "Requests waiting for a free upstream connection.",
     lambda gateway, gauges: gauges[2]),
    ("sip2acs_upstream_online", GaugeMetricFamily,
     "1 while the upstream answers, 0 while it is away.",
     lambda gateway, gauges: 1 if gateway.online() else 0),
]
"""
The gateways' one-sample families: name, kind, help, and the value from
the gateway and its C{upstreamGauges()} (read once per scrape).
"""


def _upstreams(gateways: list[Any]) -> list[Metric]:
    """
    The families of the gateways' upstream traffic (none without a
    gateway).
    """
    if not gateways:
        return []
    gateways.sort(key=lambda gateway: gateway.name)
    requests = CounterMetricFamily(
        "sip2acs_upstream_requests",
        "Requests a gateway sent upstream, by upstream, operation and outcome"
        " (ok, refused, unavailable: not done, uncertain: sent and unanswered).",
        labels=["upstream", "operation", "outcome"],
    )
    latency = HistogramMetricFamily(
        "sip2acs_upstream_seconds",
        "Time the upstream took to answer, in seconds, by upstream and operation.",
        labels=["upstream", "operation"],
    )
    for gateway in gateways:
        for (operation, outcome), count in sorted(gateway.stats.requests.items()):
            requests.add_metric([gateway.name, operation, outcome], count)
        for operation, histogram in sorted(gateway.stats.latency.items()):
            _histogram(latency, [gateway.name, operation], histogram)
    result: list[Metric] = [requests, latency]
    # Each gateway's pool gauges, read once for the three families.
    gauges = [gateway.upstreamGauges() for gateway in gateways]
    for name, kind, help, value in _UPSTREAM_SCALARS:
        family = kind(name, help, labels=["upstream"])
        for gateway, pools in zip(gateways, gauges, strict=True):
            family.add_metric([gateway.name], value(gateway, pools))
        result.append(family)
    return result


class ServerCollector(Collector):
    """
    A C{prometheus_client} collector of one server's metrics: each scrape
    reads the server's counters and asks C{scrape} for the rest.
    """

    def __init__(self, metrics: Metrics, scrape: Callable[[], Scrape]) -> None:
        """
        @param metrics: The server's L{Metrics <sip2acs.acs.metrics.Metrics>}.
        @param scrape: Called at each scrape, on the reactor thread, for
            the connections, listeners, readiness and gateways.
        """
        self.metrics = metrics
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        """
        @return: The server's metric families (L{families}).
        """
        yield from families(self.metrics, self.scrape())


class _ProcessWithoutStartTime(Collector):
    """
    C{prometheus_client}'s process collector less its
    C{process_start_time_seconds}, which L{families} writes from
    L{Metrics.startTime <sip2acs.acs.metrics.Metrics>} (as it always has,
    on every platform).
    """

    def __init__(self) -> None:
        self.process = ProcessCollector(registry=None)

    def collect(self) -> Iterator[Metric]:
        for family in self.process.collect():
            if family.name != "process_start_time_seconds":
                yield family


def makeRegistry(metrics: Metrics, scrape: Callable[[], Scrape]) -> CollectorRegistry:
    """
    A registry of its own (never C{prometheus_client}'s global one) for one
    server: its L{ServerCollector}, and the process and platform
    collectors.

    @param metrics: The server's L{Metrics <sip2acs.acs.metrics.Metrics>}.
    @param scrape: See L{ServerCollector}.
    @rtype: L{CollectorRegistry}
    """
    registry = CollectorRegistry()
    registry.register(ServerCollector(metrics, scrape))
    registry.register(_ProcessWithoutStartTime())
    PlatformCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """
    The registry's metrics in the text exposition format 0.0.4
    (L{CONTENT_TYPE}).

    @rtype: L{bytes}
    """
    return generate_latest(registry)
