# -*- test-case-name: tests.test_admin -*-
"""
What the admin listener reports: counters of the server's work, written in
the Prometheus text exposition format (version 0.0.4), and whether the
server is ready for new kiosks.

This module has no third-party dependency and does no I/O: L{Metrics}
counts, L{Exposition} writes the text format, L{Readiness} holds the
ready/draining state. L{sip2acs.ops.admin} serves them over HTTP.

Everything here is called on the reactor thread.

Metric families (see L{Metrics.render}):

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
    L{Metrics.tlsHandshakeFailed});
  - C{sip2acs_ready}: 1 while accepting kiosks, 0 while draining;
  - C{sip2acs_build_info{version}}: always 1;
  - C{process_start_time_seconds}: when the process started, in seconds
    since the Unix epoch.
"""

import math
import os
import re
import time
from bisect import bisect_left

from twisted.logger import Logger

from sip2acs._version import __version__

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "Exposition",
    "Histogram",
    "Metrics",
    "Readiness",
    "escapeLabelValue",
    "formatValue",
]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
"""
The HTTP content type of the text exposition format.
"""

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""
Upper bounds, in seconds, of the answer-time histogram's buckets (C{+Inf}
is implied). A memory adapter answers in well under a millisecond, the
embedded SQLite system in a few; 30 s is the ILS timeout, after which the
SC gets a refusal.
"""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

_IMPORTED = time.time()


def escapeLabelValue(value):
    """
    Escape a label value for the text format: backslash, double quote and
    line feed.

    @type value: L{str}
    @rtype: L{str}
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escapeHelp(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def formatValue(value):
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

    def __init__(self):
        self._lines = []

    def family(self, name, kind, help):
        """
        Start a metric family: its C{# HELP} and C{# TYPE} lines.

        @param kind: C{"counter"}, C{"gauge"}, C{"histogram"},
            C{"summary"} or C{"untyped"}.
        """
        if not _NAME.match(name):
            raise ValueError("not a metric name: %r" % (name,))
        self._lines.append("# HELP %s %s" % (name, _escapeHelp(help)))
        self._lines.append("# TYPE %s %s" % (name, kind))

    def sample(self, name, labels, value):
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

    def render(self):
        """
        @return: The exposition, UTF-8, ending with a line feed.
        @rtype: L{bytes}
        """
        return ("\n".join(self._lines) + "\n").encode("utf-8")


class Histogram:
    """
    Observations counted in fixed buckets, as Prometheus histograms do.

    @ivar bounds: The buckets' upper bounds, ascending (C{+Inf} implied).
    @ivar counts: Observations per bucket (not cumulative); the last entry
        counts those above every bound.
    @ivar sum: The sum of every observation.
    @ivar count: How many observations.
    """

    def __init__(self, bounds=LATENCY_BUCKETS):
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value):
        """
        Count one observation: it falls in the first bucket whose bound is
        at least C{value}.
        """
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self):
        """
        @return: C{(bound, observations at most bound)} pairs, the last
            bound being C{math.inf}.
        @rtype: L{list}
        """
        result = []
        total = 0
        for bound, count in zip(self.bounds + (math.inf,), self.counts, strict=True):
            total += count
            result.append((bound, total))
        return result


def processStartTime():
    """
    When this process started, in seconds since the Unix epoch: from
    C{/proc} on Linux, else when this module was imported.

    @rtype: L{float}
    """
    try:
        with open("/proc/self/stat", "rb") as f:
            # The command name may hold spaces and parentheses: skip past
            # its closing parenthesis. Field 22 (starttime) is then 20th.
            fields = f.read().rpartition(b")")[2].split()
        ticks = int(fields[19])
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    boot = int(line.split()[1])
                    break
            else:
                return _IMPORTED
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _IMPORTED


class Metrics:
    """
    The counters of one server process.

    L{ACSServer <sip2acs.acs.server.ACSServer>} records every answered request
    (L{transactionDone}); the session records refused logins
    (L{loginFailed}); a TLS listener records failed handshakes
    (L{tlsHandshakeFailed}). Gauges (open connections, readiness) are not
    kept here: L{render} is given them at scrape time.

    @ivar messages: C{(request, response, outcome)} to count.
    @ivar latency: Request command identifier to its L{Histogram}.
    @ivar loginFailures: Listener endpoint to count.
    @ivar tlsHandshakeFailures: Listener endpoint to count.
    @ivar startTime: When the process started (Unix time).
    """

    def __init__(self, buckets=LATENCY_BUCKETS, startTime=None):
        """
        @param buckets: The answer-time histogram's bucket bounds, seconds.
        @param startTime: When the process started; read from the system
            by default (L{processStartTime}).
        """
        self.buckets = tuple(sorted(buckets))
        self.messages = {}
        self.latency = {}
        self.loginFailures = {}
        self.tlsHandshakeFailures = {}
        self.startTime = processStartTime() if startTime is None else startTime

    def transactionDone(self, request, response, outcome, seconds):
        """
        Count one answered request.

        @param request: The request's command identifier, e.g. C{"11"}.
        @param response: The response's command identifier, e.g. C{"12"}.
        @param outcome: C{"ok"} or C{"refused"}.
        @param seconds: How long the answer took.
        """
        key = (request, response, outcome)
        self.messages[key] = self.messages.get(key, 0) + 1
        histogram = self.latency.get(request)
        if histogram is None:
            histogram = self.latency[request] = Histogram(self.buckets)
        histogram.observe(seconds)

    def loginFailed(self, listener):
        """
        Count one refused login (a 93 answered with C{940}).

        @param listener: The endpoint description of the listener the SC
            connected to.
        """
        self.loginFailures[listener] = self.loginFailures.get(listener, 0) + 1

    def tlsHandshakeFailed(self, listener):
        """
        Count one failed TLS handshake. A TLS listener calls this (on the
        reactor thread) when a connection is lost before its handshake
        completed, or the handshake itself fails: an expired or untrusted
        client certificate, a protocol version or cipher below the floor,
        or a plain-text kiosk on the TLS port.

        @param listener: The endpoint description of the TLS listener, as
            in its configuration.
        """
        self.tlsHandshakeFailures[listener] = (
            self.tlsHandshakeFailures.get(listener, 0) + 1
        )

    def render(self, connections=(), listeners=(), ready=True):
        """
        The exposition of every metric.

        @param connections: One C{(listener endpoint, account login)} pair
            per open connection, the login being C{""} before login.
        @param listeners: Every configured listener's endpoint: each gets
            a C{sip2acs_connections} sample with C{account=""} and zero
            samples for its failure counters, so their series exist from
            the start.
        @param ready: Whether the server accepts new kiosks.
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
        for (request, response, outcome), count in sorted(self.messages.items()):
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
        for request, histogram in sorted(self.latency.items()):
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
                self.loginFailures,
            ),
            (
                "sip2acs_tls_handshake_failures_total",
                "Failed TLS handshakes, by listener.",
                self.tlsHandshakeFailures,
            ),
        ]:
            out.family(name, "counter", help)
            values = dict.fromkeys(listeners, 0)
            values.update(counter)
            for listener, count in sorted(values.items()):
                out.sample(name, [("listener", listener)], count)

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
        out.sample("process_start_time_seconds", (), float(self.startTime))
        return out.render()


class Readiness:
    """
    Whether the server accepts new kiosks (C{/ready} answers 200) or drains
    before maintenance (C{/ready} answers 503, so a load balancer stops
    sending new kiosks here). Draining refuses nothing: kiosks already
    connected, and any that still connect, are served as usual.

    @ivar ready: L{True} unless draining.
    """

    log = Logger()

    def __init__(self, ready=True):
        self.ready = ready

    def drain(self, why="on request"):
        """
        Stop reporting ready.

        @param why: What asked, for the log.
        """
        if self.ready:
            self.ready = False
            self.log.info(
                "draining ({why}): /ready answers 503; connected kiosks carry on",
                why=why,
            )

    def resume(self, why="on request"):
        """
        Report ready again.

        @param why: What asked, for the log.
        """
        if not self.ready:
            self.ready = True
            self.log.info("ready again ({why}): /ready answers 200", why=why)
