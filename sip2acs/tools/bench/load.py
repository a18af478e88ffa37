# -*- test-case-name: tests.test_bench -*-
"""
The load generator: simulated kiosks (L{Kiosk}) on
L{sip2acs.client} connections, the load run (L{runLoad}) and the idle run
(L{runIdle}, L{idleRun}), on a reactor of the bench's own (L{react}) so
that the command also runs where a reactor is installed.

Each kiosk logs in, sends 99, then loops patron information (63), item
information (17), checkout (11) and checkin (09) over its own slice of the
items, with one request in flight.
"""

import resource
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from twisted.internet.defer import (
    Deferred,
    DeferredList,
    FirstError,
    gatherResults,
    inlineCallbacks,
    maybeDeferred,
)
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from sip2acs.client import connect
from sip2acs.tools.bench.data import INSTITUTION, LOGIN, PASSWORD, itemId, patronId
from sip2acs.tools.bench.report import Stats
from sip2acs.tools.bench.server import processMemory

__all__ = [
    "DATE",
    "BLANK_DATE",
    "ANSWER_TIMEOUT",
    "Kiosk",
    "runLoad",
    "measureWindow",
    "runIdle",
    "idleRun",
    "react",
    "raiseFileLimit",
]

DATE = "20250314    101500"
BLANK_DATE = " " * 18
ANSWER_TIMEOUT = 300.0
"""
How long a kiosk waits for an answer (a login's password check can queue
behind thousands of others in C{--idle}).
"""


class Kiosk:
    """
    One simulated kiosk: a connection, a slice of items, a loop.
    """

    def __init__(self, number: int, host: str, port: int, items: Sequence[str],
                 patrons: Sequence[str], stats: Stats, pins: bool, tls: Any = None) -> None:
        self.number = number
        self.host = host
        self.port = port
        self.items = items
        self.patrons = patrons
        self.stats = stats
        self.pins = pins
        self.tls = tls
        self.client: Any = None

    @inlineCallbacks
    def connect(self, reactor: Any) -> Any:
        """
        Connect, log in (93) and send the SC status (99).
        """
        self.client = yield connect(
            reactor, self.host, self.port, tls=self.tls, timeout=ANSWER_TIMEOUT)
        yield self.exchange("93", "9300CN%s|CO%s|CPMAIN|" % (LOGIN, PASSWORD), "941")
        yield self.exchange("99", "9900802.00", "98Y")

    @inlineCallbacks
    def exchange(self, kind: str, frame: str, expect: str) -> Any:
        """
        Send C{frame}, wait for the answer and record it as a C{kind}
        exchange, answered as expected if it starts with C{expect}.
        """
        started = time.perf_counter()
        exchange = yield self.client.exchange(frame)
        self.stats.record(kind, time.perf_counter() - started,
                          exchange.received.startswith(expect.encode()))
        return exchange

    @inlineCallbacks
    def loop(self, stopAt: float) -> Any:
        """
        Send 63, 17, 11 and 09 in turn until the monotonic clock reaches
        C{stopAt}.
        """
        pin = "AD1234|" if self.pins else ""
        index = self.number
        count = len(self.items)
        step = 0
        while time.monotonic() < stopAt:
            patron = self.patrons[(self.number * 7919 + step) % len(self.patrons)]
            item = self.items[step % count]
            step += 1
            yield self.exchange("63", "63001%s          AO%s|AA%s|%s" % (
                DATE, INSTITUTION, patron, pin), "64")
            yield self.exchange("17", "17%sAO%s|AB%s|" % (
                DATE, INSTITUTION, self.items[(index + step * 31) % count]), "18")
            yield self.exchange("11", "11NN%s%sAO%s|AA%s|AB%s|AC|%s" % (
                DATE, BLANK_DATE, INSTITUTION, patron, item, pin), "121")
            yield self.exchange("09", "09N%s%sAPMAIN|AO%s|AB%s|AC|" % (
                DATE, DATE, INSTITUTION, item), "101")

    def close(self) -> None:
        """
        Drop the connection, if there is one.
        """
        if self.client is not None:
            self.client.disconnect()


def _all(deferreds: list[Deferred[Any]]) -> Deferred[Any]:
    """
    Wait for every one of C{deferreds}; the first failure is the result.
    """
    d = gatherResults(deferreds, consumeErrors=True)
    return d.addErrback(lambda f: f.value.subFailure if f.check(FirstError) else f)


@inlineCallbacks
def _connectAll(reactor: Any, fleet: list[Kiosk], batch: int) -> Any:
    for start in range(0, len(fleet), batch):
        yield _all([k.connect(reactor) for k in fleet[start:start + batch]])


@inlineCallbacks
def runLoad(reactor: Any, host: str, port: int | Sequence[int], kiosks: int, duration: float,
            warmup: float, patrons: int, items: int, pins: bool, tls: Any = None,
            onStart: Callable[[], None] | None = None,
            onStop: Callable[[], None] | None = None,
            kiosk: "type[Kiosk] | None" = None) -> Any:
    """
    Run C{kiosks} kiosks for C{warmup + duration} seconds.

    @param reactor: What the kiosks' connections and timers run on.
    @param port: The server's port, or the ports of several servers: kiosk
        C{n} connects to C{port[n % len(port)]} (round-robin).
    @param onStart: Called when the measured window opens.
    @param onStop: Called when it closes, before the kiosks finish the
        exchanges they have started.
    @param kiosk: The L{Kiosk} class to run (a subclass changing what is
        sent, for C{bench/peers}); L{Kiosk} by default.
    @return: A Deferred firing with C{(stats, measured seconds)}.
    """
    kind = Kiosk if kiosk is None else kiosk
    stats = Stats()
    share = max(1, items // kiosks)
    itemIds = [itemId(n) for n in range(items)]
    patronIds = [patronId(n) for n in range(patrons)]
    ports = [port] if isinstance(port, int) else list(port)
    fleet = [
        kind(n, host, ports[n % len(ports)], itemIds[n * share:(n + 1) * share] or itemIds[:1],
              patronIds, stats, pins, tls)
        for n in range(kiosks)
    ]
    yield _connectAll(reactor, fleet, 50)
    stopAt = time.monotonic() + warmup + duration
    loops = [k.loop(stopAt) for k in fleet]
    measured = yield measureWindow(reactor, stats, loops, warmup, duration, onStart, onStop)
    for k in fleet:
        k.close()
    return stats, measured


@inlineCallbacks
def measureWindow(reactor: Any, stats: Any, runs: list[Deferred[Any]], warmup: float,
                  duration: float, onStart: Callable[[], None] | None,
                  onStop: Callable[[], None] | None) -> Any:
    """
    Open the measured window after C{warmup} seconds, close it
    C{duration} seconds later, then wait for C{runs} (the clients, which
    stop by themselves) and count the ones that failed in
    C{stats.errors}.

    @param stats: What the clients record into: its C{measuring} is set
        while the window is open.
    @param onStart: Called when the window opens.
    @param onStop: Called when it closes.
    @return: A Deferred firing with the measured seconds.
    """
    yield deferLater(reactor, warmup)
    stats.measuring = True
    if onStart is not None:
        onStart()
    started = time.monotonic()
    yield deferLater(reactor, duration)
    stats.measuring = False
    measured = time.monotonic() - started
    if onStop is not None:
        onStop()
    results = yield DeferredList(runs, consumeErrors=True)
    stats.errors = sum(1 for ok, _ in results if not ok)
    return measured


@inlineCallbacks
def runIdle(reactor: Any, host: str, port: int, count: int, tls: Any = None) -> Any:
    """
    Open C{count} logged-in connections and keep them open.

    @return: A Deferred firing with the kiosks (call C{close} on each when
        done).
    """
    fleet = [Kiosk(n, host, port, ["x"], ["x"], Stats(), False, tls) for n in range(count)]
    yield _connectAll(reactor, fleet, 200)
    return fleet


@inlineCallbacks
def idleRun(reactor: Any, host: str, port: int, count: int, pid: int | None, tls: Any,
            out: IO[str]) -> Any:
    """
    The C{--idle} run: open C{count} idle logged-in connections, measure
    the server's memory before and after (when its C{pid} is known) and
    report it to C{out}.

    @return: A Deferred firing with the figures, as a dict.
    """
    before: Any = processMemory(pid)[0] if pid else None
    started = time.perf_counter()
    fleet = yield runIdle(reactor, host, port, count, tls)
    elapsed = time.perf_counter() - started
    yield deferLater(reactor, 1)
    after: Any
    peak: Any
    after, peak = processMemory(pid) if pid else (None, None)
    for kiosk in fleet:
        kiosk.close()
    figures = {"connections": count, "connect_seconds": elapsed,
               "connections_per_s": count / elapsed if elapsed else 0}
    if pid:
        figures.update(rss_before_mb=before / 2**20, rss_after_mb=after / 2**20,
                       peak_rss_mb=peak / 2**20,
                       kb_per_connection=(after - before) / count / 1024)
        out.write("\n== %d idle logged-in connections%s ==\nopened in %.1f s (%.0f per second:"
                  " connect%s, 93, 99); server memory "
                  "%.1f MB before, %.1f MB after (%.1f KB per connection), peak %.1f MB\n" % (
                      count, " over TLS" if tls else "", elapsed, figures["connections_per_s"],
                      " + TLS handshake" if tls else "", figures["rss_before_mb"],
                      figures["rss_after_mb"],
                      figures["kb_per_connection"], figures["peak_rss_mb"]))
    return figures


def _newReactor() -> Any:
    """
    A reactor of the bench's own, not installed: C{sip2acs bench} may run
    in a process that has one installed already (the tests), and a
    reactor cannot run twice.
    """
    try:
        from twisted.internet.epollreactor import EPollReactor as Reactor
    except ImportError:  # pragma: no cover
        from twisted.internet.selectreactor import SelectReactor as Reactor
    return Reactor()


def react(f: Callable[..., Any], *args: Any) -> Any:
    """
    Run C{f(reactor, *args)} on a new reactor until its Deferred fires.

    @return: Its result (its failure is raised).
    """
    reactor = _newReactor()
    outcome: list[Any] = []

    def start() -> None:
        d = maybeDeferred(f, reactor, *args)
        d.addBoth(outcome.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def raiseFileLimit(wanted: int) -> None:
    """
    Raise this process's open-file limit to C{wanted} (at most the hard
    limit), for the kiosks' connections.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
