# -*- test-case-name: tests.test_bench -*-
"""
The vendor pattern (C{sip2acs bench --churn}): each client opens a
connection per patron check, as e-content vendors do: connect, TLS
handshake (with C{--tls}), log in (93), patron information (63), end the
patron session (35), close; and again. With C{--resume} each client
offers the TLS session of its previous connection (a session ticket), so
the server may resume it instead of a full handshake; whether it did is
counted on the client side (OpenSSL's C{SSL_session_reused}).

L{runChurn} runs the clients (on the bench's own reactor, like
L{sip2acs.tools.bench.load}); L{churnFigures} and L{printChurn} are its
figures and report: connections per second, latency per connection,
server CPU per connection, handshakes resumed.
"""

import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from OpenSSL import SSL
from OpenSSL._util import lib as _lib
from twisted.internet.defer import inlineCallbacks
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.protocols.tls import TLSMemoryBIOProtocol
from zope.interface import implementer

from sip2acs.client import connect
from sip2acs.tools.bench.data import INSTITUTION, LOGIN, PASSWORD, patronId
from sip2acs.tools.bench.load import measureWindow
from sip2acs.tools.bench.report import percentile

__all__ = [
    "ChurnStats",
    "ResumingClientTLS",
    "runChurn",
    "churnFigures",
    "printChurn",
]

DATE = "20250314    101500"
TIMEOUT = 300.0


class ChurnStats:
    """
    What the churning clients did in the measured window.

    @ivar latencies: Seconds per connection, from connect to the 36.
    @ivar resumed: Connections whose TLS session was resumed.
    @ivar refusals: Connections with an answer that was not the expected
        one.
    @ivar errors: Connections that failed (set at the end of a run, with
        the failures of every client).
    @ivar measuring: Whether the measured window is open.
    """

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.resumed = 0
        self.refusals = 0
        self.errors = 0
        self.measuring = False

    def record(self, seconds: float, resumed: bool, ok: bool) -> None:
        """
        Count one connection, if the window is open.
        """
        if not self.measuring:
            return
        self.latencies.append(seconds)
        self.resumed += resumed
        self.refusals += not ok


@implementer(IOpenSSLClientConnectionCreator)
class ResumingClientTLS:
    """
    The TLS client options of one churning client: verify nothing (a
    bench on loopback), and offer the session of the previous connection
    when C{resume}.

    @ivar session: The session of the last connection, or L{None}.
    """

    def __init__(self, context: SSL.Context, resume: bool) -> None:
        """
        @param context: A client context, shared by all the clients.
        """
        self.context = context
        self.resume = resume
        self.session: SSL.Session | None = None

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        connection = SSL.Connection(self.context, None)
        if self.resume and self.session is not None:
            connection.set_session(self.session)
        return connection


def clientContext() -> SSL.Context:
    """
    A TLS client context for the churning clients: TLS 1.2 or better, no
    verification.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    return context


@inlineCallbacks
def _client(reactor: Any, number: int, host: str, port: int, patrons: Sequence[str],
            tls: ResumingClientTLS | None, stats: ChurnStats, stopAt: float) -> Any:
    """
    One client: connect, 93, 63, 35, close, until C{stopAt}.
    """
    step = 0
    while time.monotonic() < stopAt:
        patron = patrons[(number * 7919 + step) % len(patrons)]
        step += 1
        started = time.perf_counter()
        client = yield connect(reactor, host, port, tls=tls, timeout=TIMEOUT)
        try:
            answers = []
            for frame in ("9300CN%s|CO%s|CPMAIN|" % (LOGIN, PASSWORD),
                          "63001%s          AO%s|AA%s|" % (DATE, INSTITUTION, patron),
                          "35%sAO%s|AA%s|" % (DATE, INSTITUTION, patron)):
                exchange = yield client.exchange(frame)
                answers.append(exchange.received)
            resumed = False
            if tls is not None:
                handle = client.transport.getHandle()
                resumed = bool(_lib.SSL_session_reused(handle._ssl))
                tls.session = handle.get_session()
        finally:
            client.disconnect()
        ok = [a[:2] for a in answers] == [b"94", b"64", b"36"] and answers[0][2:3] == b"1"
        stats.record(time.perf_counter() - started, resumed, ok)


@inlineCallbacks
def runChurn(reactor: Any, host: str, port: int, clients: int, duration: float,
             warmup: float, patrons: int, tls: bool, resume: bool,
             onStart: Callable[[], None] | None = None,
             onStop: Callable[[], None] | None = None) -> Any:
    """
    Run C{clients} churning clients for C{warmup + duration} seconds.

    @param tls: Over TLS.
    @param resume: Offer the previous connection's TLS session.
    @param onStart: Called when the measured window opens.
    @param onStop: Called when it closes.
    @return: A Deferred firing with C{(stats, measured seconds)}.
    """
    stats = ChurnStats()
    patronIds = [patronId(n) for n in range(patrons)]
    context = clientContext() if tls else None
    stopAt = time.monotonic() + warmup + duration
    runs = [
        _client(reactor, n, host, port, patronIds,
                ResumingClientTLS(context, resume) if context is not None else None,
                stats, stopAt)
        for n in range(clients)
    ]
    measured = yield measureWindow(reactor, stats, runs, warmup, duration, onStart, onStop)
    return stats, measured


def churnFigures(stats: ChurnStats, measured: float, cpuSeconds: float | None,
                 clientCPU: float | None, tls: bool = True) -> dict[str, Any]:
    """
    The figures of a churn run, as a dict.

    @param tls: The connections were TLS.

    @param cpuSeconds: The server's CPU seconds in the measured window.
    @param clientCPU: The load generator's.
    """
    count = len(stats.latencies)
    values = sorted(stats.latencies)

    def perConnection(seconds: float | None) -> float | None:
        return seconds / count * 1e6 if count and seconds is not None else None

    return {
        "connections": count,
        "tls": tls,
        "seconds": measured,
        "connections_per_s": count / measured if measured else 0,
        "resumed": stats.resumed,
        "p50_ms": percentile(values, 0.50) * 1000,
        "p99_ms": percentile(values, 0.99) * 1000,
        "max_ms": values[-1] * 1000 if values else float("nan"),
        "server_cpu_us_per_connection": perConnection(cpuSeconds),
        "client_cpu_us_per_connection": perConnection(clientCPU),
        "server_connections_per_core_s": count / cpuSeconds if cpuSeconds else None,
        "cores_busy": {name: seconds / measured for name, seconds in
                       (("sip2acs", cpuSeconds), ("load", clientCPU))
                       if seconds is not None and measured},
        "errors": stats.errors,
        "refusals": stats.refusals,
    }


def printChurn(title: str, figures: dict[str, Any], out: IO[str]) -> None:
    """
    Write the figures of L{churnFigures} as the churn run's report.
    """
    w = out.write
    w("\n== %s ==\n" % (title,))
    w("%d connections in %.1f s: %.0f connections/s; per connection p50 %.2f ms,"
      " p99 %.2f ms, max %.2f ms\n" % (
          figures["connections"], figures["seconds"], figures["connections_per_s"],
          figures["p50_ms"], figures["p99_ms"], figures["max_ms"]))
    if figures["server_cpu_us_per_connection"] is not None:
        w("server CPU %.1f us/connection (%.0f connections per second of one core)\n" % (
            figures["server_cpu_us_per_connection"],
            figures["server_connections_per_core_s"] or 0))
    if figures["client_cpu_us_per_connection"] is not None:
        w("load generator CPU %.1f us/connection\n" % (figures["client_cpu_us_per_connection"],))
    if figures["cores_busy"]:
        w("cores busy: %s\n" % (", ".join("%s %.2f" % i for i in figures["cores_busy"].items()),))
    if figures["tls"]:
        w("TLS sessions resumed: %d of %d\n" % (figures["resumed"], figures["connections"]))
    w("errors %d, refusals %d\n" % (figures["errors"], figures["refusals"]))
