# -*- test-case-name: tests.test_admin -*-
"""
What the admin listener reports: counters of the server's work, written in
the Prometheus text exposition format (version 0.0.4), and whether the
server is ready for new kiosks.

This module has no third-party dependency and does no I/O: the server
counts in its L{Metrics <sip2acs.acs.metrics.Metrics>} and holds its
L{Readiness <sip2acs.acs.metrics.Readiness>}; L{render} writes them in the
text format with L{Exposition}; L{sip2acs.ops.admin} serves them over HTTP.

Everything here is called on the reactor thread.

Metric families (see L{render}):

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
    since the Unix epoch.
"""

import math
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sip2acs._version import __version__
from sip2acs.acs.metrics import Metrics

__all__ = [
    "CONTENT_TYPE",
    "Exposition",
    "escapeLabelValue",
    "formatValue",
    "render",
]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
"""
The HTTP content type of the text exposition format.
"""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

def escapeLabelValue(value: str) -> str:
    """
    Escape a label value for the text format: backslash, double quote and
    line feed.

    @type value: L{str}
    @rtype: L{str}
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escapeHelp(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def formatValue(value: float) -> str:
    """
    A sample value as the text format writes it: integers as they are,
    floats by C{repr}, and C{+Inf}, C{-Inf}, C{NaN}.

    @type value: L{int} or L{float}
    @rtype: L{str}
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """
    Writes metric families in the Prometheus text format 0.0.4.

    Call L{family} once per metric family, then L{sample} for each of its
    samples, then L{render}.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help: str) -> None:
        """
        Start a metric family: its C{# HELP} and C{# TYPE} lines.

        @param kind: C{"counter"}, C{"gauge"}, C{"histogram"},
            C{"summary"} or C{"untyped"}.
        """
        if not _NAME.match(name):
            raise ValueError("not a metric name: %r" % (name,))
        self._lines.append("# HELP %s %s" % (name, _escapeHelp(help)))
        self._lines.append("# TYPE %s %s" % (name, kind))

    def sample(self, name: str, labels: Sequence[tuple[str, object]], value: float) -> None:
        """
        Add one sample.

        @param name: The sample's name (for a histogram, the family name
            with C{_bucket}, C{_sum} or C{_count}).
        @param labels: A sequence of C{(name, value)} pairs, in order.
        @param value: An L{int} or L{float}.
        """
        if not _NAME.match(name):
            raise ValueError("not a metric name: %r" % (name,))
        if labels:
            parts = []
            for label, text in labels:
                if not _LABEL.match(label) or label.startswith("__"):
                    raise ValueError("not a label name: %r" % (label,))
                parts.append('%s="%s"' % (label, escapeLabelValue(str(text))))
            name = "%s{%s}" % (name, ",".join(parts))
        self._lines.append("%s %s" % (name, formatValue(value)))

    def render(self) -> bytes:
        """
        @return: The exposition, UTF-8, ending with a line feed.
        @rtype: L{bytes}
        """
        return ("\n".join(self._lines) + "\n").encode("utf-8")


def render(
    metrics: Metrics,
    connections: Iterable[tuple[str, str]] = (),
    listeners: Collection[str] = (),
    ready: bool = True,
    upstreams: Iterable[Any] = (),
) -> bytes:
    """
    The exposition of every metric of C{metrics}.

    @param metrics: The server's L{Metrics <sip2acs.acs.metrics.Metrics>}.
    @param connections: One C{(listener endpoint, account login)} pair
        per open connection, the login being C{""} before login.
    @param listeners: Every configured listener's endpoint: each gets
        a C{sip2acs_connections} sample with C{account=""} and zero
        samples for its failure counters, so their series exist from
        the start.
    @param ready: Whether the server accepts new kiosks.
    @param upstreams: The gateway adapters (each with C{name}, C{stats},
        an L{UpstreamStats <sip2acs.ils.upstream.stats.UpstreamStats>},
        C{upstreamGauges()} and C{online()}).
    @return: The exposition in the text format.
    @rtype: L{bytes}
    """
    out = Exposition()
    out.family(
        "sip2acs_messages_total",
        "counter",
        "SIP2 requests answered, by request and response command"
        " identifier and outcome (ok or refused).",
    )
    for (request, response, outcome), count in sorted(metrics.messages.items()):
        out.sample(
            "sip2acs_messages_total",
            [("request", request), ("response", response), ("outcome", outcome)],
            count,
        )

    out.family(
        "sip2acs_request_seconds",
        "histogram",
        "Time taken to answer SIP2 requests, in seconds, by request"
        " command identifier.",
    )
    for request, histogram in sorted(metrics.latency.items()):
        for bound, count in histogram.cumulative():
            out.sample(
                "sip2acs_request_seconds_bucket",
                [("request", request), ("le", formatValue(bound))],
                count,
            )
        out.sample("sip2acs_request_seconds_sum", [("request", request)], histogram.sum)
        out.sample(
            "sip2acs_request_seconds_count", [("request", request)], histogram.count
        )

    counts = {(listener, ""): 0 for listener in listeners}
    for key in connections:
        counts[key] = counts.get(key, 0) + 1
    out.family(
        "sip2acs_connections",
        "gauge",
        'Open SC connections, by listener and account (account="" before'
        " login).",
    )
    for (listener, account), count in sorted(counts.items()):
        out.sample(
            "sip2acs_connections",
            [("listener", listener), ("account", account)],
            count,
        )

    for name, help, counter in [
        (
            "sip2acs_login_failures_total",
            "Refused SC logins (93 answered with 940), by listener.",
            metrics.loginFailures,
        ),
        (
            "sip2acs_tls_handshake_failures_total",
            "Failed TLS handshakes, by listener.",
            metrics.tlsHandshakeFailures,
        ),
    ]:
        out.family(name, "counter", help)
        values = dict.fromkeys(listeners, 0)
        values.update(counter)
        for listener, count in sorted(values.items()):
            out.sample(name, [("listener", listener)], count)

    _upstreams(out, list(upstreams))

    out.family(
        "sip2acs_ready",
        "gauge",
        "1 while the server accepts new kiosks, 0 while it drains.",
    )
    out.sample("sip2acs_ready", (), 1 if ready else 0)
    out.family("sip2acs_build_info", "gauge", "The running sip2acs version.")
    out.sample("sip2acs_build_info", [("version", __version__)], 1)
    out.family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch, in seconds.",
    )
    out.sample("process_start_time_seconds", (), float(metrics.startTime))
    return out.render()


def _upstreams(out: Exposition, gateways: list[Any]) -> None:
    """
    The families of the gateways' upstream traffic (nothing without one).
    """
    if not gateways:
        return
    gateways.sort(key=lambda gateway: gateway.name)
    out.family(
        "sip2acs_upstream_requests_total",
        "counter",
        "Requests a gateway sent upstream, by upstream, operation and outcome"
        " (ok, refused, unavailable: not done, uncertain: sent and unanswered).",
    )
    for gateway in gateways:
        for (operation, outcome), count in sorted(gateway.stats.requests.items()):
            out.sample(
                "sip2acs_upstream_requests_total",
                [("upstream", gateway.name), ("operation", operation), ("outcome", outcome)],
                count,
            )
    out.family(
        "sip2acs_upstream_seconds",
        "histogram",
        "Time the upstream took to answer, in seconds, by upstream and operation.",
    )
    for gateway in gateways:
        for operation, histogram in sorted(gateway.stats.latency.items()):
            labels = [("upstream", gateway.name), ("operation", operation)]
            for bound, count in histogram.cumulative():
                out.sample(
                    "sip2acs_upstream_seconds_bucket",
                    labels + [("le", formatValue(bound))],
                    count,
                )
            out.sample("sip2acs_upstream_seconds_sum", labels, histogram.sum)
            out.sample("sip2acs_upstream_seconds_count", labels, histogram.count)
    for name, kind, help, value in [
        ("sip2acs_upstream_connects_total", "counter",
         "Upstream connections opened and logged in.",
         lambda gateway: gateway.stats.connects),
        ("sip2acs_upstream_connect_failures_total", "counter",
         "Failed attempts to connect to the upstream or log in.",
         lambda gateway: gateway.stats.connectFailures),
        ("sip2acs_upstream_connections_lost_total", "counter",
         "Upstream connections lost while open.",
         lambda gateway: gateway.stats.losses),
        ("sip2acs_upstream_connections", "gauge",
         "Upstream connections of the gateway's pools.",
         lambda gateway: gateway.upstreamGauges()[0]),
        ("sip2acs_upstream_connections_busy", "gauge",
         "Upstream connections with a request in flight.",
         lambda gateway: gateway.upstreamGauges()[1]),
        ("sip2acs_upstream_requests_waiting", "gauge",
         "Requests waiting for a free upstream connection.",
         lambda gateway: gateway.upstreamGauges()[2]),
        ("sip2acs_upstream_online", "gauge",
         "1 while the upstream answers, 0 while it is away.",
         lambda gateway: 1 if gateway.online() else 0),
    ]:
        out.family(name, kind, help)
        for gateway in gateways:
            out.sample(name, [("upstream", gateway.name)], value(gateway))
