# -*- test-case-name: tests.test_bench -*-
"""
What the bench measured and how it says so: the latencies and outcomes
gathered during the measured window (L{Stats}), the figures of a run
(L{summarize}, with L{percentile}), the text report (L{printReport}),
what a gateway adds to a run at its upstream alone (L{gatewayCost},
L{printGatewayCost}) and the machine line of the JSON report
(L{machine}).
"""

import math
import os
import platform
import sys
from collections.abc import Sequence
from typing import IO, Any, cast

__all__ = [
    "Stats",
    "percentile",
    "summarize",
    "printReport",
    "gatewayCost",
    "printGatewayCost",
    "machine",
    "loadAverage",
]


class Stats:
    """
    Latencies and outcomes per message type, during the measured window.

    @ivar latencies: Seconds per exchange, by message type.
    @ivar refusals: How many answers were not the expected ones, by type.
    @ivar errors: How many kiosks failed (set at the end of a run).
    @ivar measuring: Whether the measured window is open: L{record} keeps
        nothing outside it.
    @ivar completed: Exchanges completed in the measured window.
    """

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.refusals: dict[str, int] = {}
        self.errors = 0
        self.measuring = False
        self.completed = 0

    def record(self, kind: str, seconds: float, ok: bool) -> None:
        """
        Count one exchange of message type C{kind} that took C{seconds}
        and was answered as expected (C{ok}) or not.
        """
        if not self.measuring:
            return
        self.completed += 1
        self.latencies.setdefault(kind, []).append(seconds)
        if not ok:
            self.refusals[kind] = self.refusals.get(kind, 0) + 1


def percentile(values: Sequence[float], fraction: float) -> float:
    """
    The C{fraction} (0..1) percentile of sorted C{values} (nearest rank).
    """
    if not values:
        return float("nan")
    index = min(len(values), max(1, math.ceil(fraction * len(values)))) - 1
    return values[index]


def summarize(
    stats: Stats, measured: float, cpuSeconds: float | None, memory: tuple[int, int] | None,
    instances: Sequence[dict[str, Any]] = (), postgresCPU: dict[str, float] | None = None,
    clientCPU: float | None = None, transactions: tuple[int, int] | None = None,
    upstream: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """
    The figures of one load run, as a dict.

    @param cpuSeconds: The CPU the sip2acs servers used in the measured
        window, all instances together.
    @param memory: C{(resident, peak resident)} bytes, all instances
        together.
    @param instances: Per instance: C{pid}, C{core}, C{cpu_s}, C{rss},
        C{peak_rss} (bytes).
    @param postgresCPU: The CPU seconds PostgreSQL's processes used in the
        window, by role (L{sip2acs.tools.pgcluster.treeCPU}).
    @param clientCPU: The CPU seconds of the load generator.
    @param transactions: PostgreSQL's transactions in the window:
        C{(committed, rolled back)}.
    @param upstream: C{--gateway}: the upstream sip2acs behind the
        measured server (then a gateway): its C{pid}, C{core}, C{cpu_s},
        C{rss} and C{peak_rss}. Its CPU counts in the total, not in the
        server's.
    """
    total = stats.completed

    def perRequest(seconds: float | None) -> float | None:
        return seconds / total * 1e6 if total and seconds is not None else None

    def busy(seconds: float | None) -> float | None:
        return seconds / measured if measured and seconds is not None else None

    postgres = sum(postgresCPU.values()) if postgresCPU is not None else None
    upstreamCPU = upstream["cpu_s"] if upstream is not None else None
    behind = (postgres or 0.0) + (upstreamCPU or 0.0)
    perType = {}
    for kind in ("63", "17", "11", "09"):
        values = sorted(stats.latencies.get(kind, []))
        if not values:
            continue
        perType[kind] = {
            "count": len(values),
            "p50_ms": percentile(values, 0.50) * 1000,
            "p90_ms": percentile(values, 0.90) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
            "max_ms": values[-1] * 1000,
            "refusals": stats.refusals.get(kind, 0),
        }
    every = sorted(v for vs in stats.latencies.values() for v in vs)
    return {
        "requests": total,
        "seconds": measured,
        "requests_per_s": total / measured if measured else 0,
        "p50_ms": percentile(every, 0.50) * 1000,
        "p90_ms": percentile(every, 0.90) * 1000,
        "p99_ms": percentile(every, 0.99) * 1000,
        "max_ms": every[-1] * 1000 if every else float("nan"),
        "errors": stats.errors,
        "refusals": sum(stats.refusals.values()),
        "server_cpu_us_per_request": perRequest(cpuSeconds),
        "postgres_cpu_us_per_request": perRequest(postgres),
        "upstream_cpu_us_per_request": perRequest(upstreamCPU),
        "total_cpu_us_per_request": perRequest(
            cpuSeconds + behind if cpuSeconds is not None else None),
        "postgres_cpu_us_per_request_by_role": {
            role: perRequest(seconds) for role, seconds in sorted(postgresCPU.items())
        } if postgresCPU is not None else None,
        "cores_busy": {
            name: busy(seconds) for name, seconds in (
                ("gateway" if upstream is not None else "sip2acs", cpuSeconds),
                ("upstream", upstreamCPU), ("postgres", postgres), ("load", clientCPU))
            if seconds is not None
        },
        "postgres_transactions": {
            "committed": transactions[0], "rolled_back": transactions[1],
        } if transactions is not None else None,
        "server_rss_mb": memory[0] / 2**20 if memory else None,
        "server_peak_rss_mb": memory[1] / 2**20 if memory else None,
        "upstream": {
            "pid": upstream["pid"],
            "core": upstream["core"],
            "cpu_us_per_request": perRequest(upstreamCPU),
            "cores_busy": busy(upstreamCPU),
            "rss_mb": upstream["rss"] / 2**20,
            "peak_rss_mb": upstream["peak_rss"] / 2**20,
        } if upstream is not None else None,
        "instances": [{
            "pid": instance["pid"],
            "core": instance["core"],
            "cpu_us_per_request": perRequest(instance["cpu_s"]),
            "cores_busy": busy(instance["cpu_s"]),
            "rss_mb": instance["rss"] / 2**20,
            "peak_rss_mb": instance["peak_rss"] / 2**20,
        } for instance in instances],
        "by_type": perType,
    }


def printReport(title: str, figures: dict[str, Any], out: IO[str] = sys.stdout) -> None:
    """
    Write the figures of L{summarize} as the bench's text report.
    """
    w = out.write
    w("\n== %s ==\n" % (title,))
    w("%d requests in %.1f s: %.0f requests/s; latency p50 %.2f ms, p90 %.2f ms, "
      "p99 %.2f ms, max %.2f ms\n" % (
          figures["requests"], figures["seconds"], figures["requests_per_s"],
          figures["p50_ms"], figures["p90_ms"], figures["p99_ms"], figures["max_ms"]))
    upstream = figures.get("upstream")
    if figures["server_cpu_us_per_request"] is not None:
        w("%s CPU %.1f us/request; %s memory %.1f MB resident, %.1f MB peak\n" % (
            "gateway" if upstream else "server", figures["server_cpu_us_per_request"],
            "gateway" if upstream else "server", figures["server_rss_mb"],
            figures["server_peak_rss_mb"]))
    postgres = figures.get("postgres_cpu_us_per_request") is not None
    if upstream:
        w("upstream CPU %.1f us/request; upstream memory %.1f MB resident, %.1f MB peak%s\n" % (
            upstream["cpu_us_per_request"] or 0, upstream["rss_mb"], upstream["peak_rss_mb"],
            "" if postgres else "; gateway + upstream %.1f us/request" % (
                figures["total_cpu_us_per_request"] or 0,)))
    if postgres:
        w("PostgreSQL CPU %.1f us/request (%s); %s + PostgreSQL %.1f us/request\n" % (
            figures["postgres_cpu_us_per_request"], ", ".join(
                "%s %.1f" % (role, us) for role, us in
                figures["postgres_cpu_us_per_request_by_role"].items() if us),
            "gateway + upstream" if upstream else "sip2acs",
            figures["total_cpu_us_per_request"]))
    if figures.get("postgres_transactions") is not None:
        w("PostgreSQL transactions (pg_stat_database, lagging up to 1 s): %(committed)d"
          " committed, %(rolled_back)d rolled back (aborted for a concurrent one, then"
          " retried or refused)\n" % figures["postgres_transactions"])
    if figures.get("cores_busy"):
        w("cores busy: %s\n" % (", ".join(
            "%s %.2f" % item for item in figures["cores_busy"].items()),))
    instances = figures.get("instances", [])
    for number, instance in enumerate(instances if len(instances) > 1 else [], 1):
        w("instance %d (pid %d, core %s): CPU %.1f us/request, %.2f cores busy, %.1f MB"
          " resident, %.1f MB peak\n" % (
              number, instance["pid"], instance["core"] if instance["core"] >= 0 else "any",
              instance["cpu_us_per_request"] or 0, instance["cores_busy"] or 0,
              instance["rss_mb"], instance["peak_rss_mb"]))
    w("errors %d, refusals %d\n" % (figures["errors"], figures["refusals"]))
    w("%-4s %8s %9s %9s %9s %9s %8s\n" % ("type", "count", "p50 ms", "p90 ms", "p99 ms",
                                         "max ms", "refused"))
    for kind, row in figures["by_type"].items():
        w("%-4s %8d %9.2f %9.2f %9.2f %9.2f %8d\n" % (
            kind, row["count"], row["p50_ms"], row["p90_ms"], row["p99_ms"],
            row["max_ms"], row["refusals"]))


def gatewayCost(alone: dict[str, Any], through: dict[str, Any]) -> dict[str, Any]:
    """
    What the gateway adds (C{--gateway}): the figures of the same load run
    at the upstream alone and through the gateway, side by side, and the
    differences.

    @param alone: L{summarize}'s figures of the run at the upstream.
    @param through: Those of the run through the gateway (with its
        C{upstream}).
    """

    def minus(a: float | None, b: float | None) -> float | None:
        return a - b if a is not None and b is not None else None

    upstream = through.get("upstream") or {}
    return {
        "requests_per_s_alone": alone["requests_per_s"],
        "requests_per_s_gateway": through["requests_per_s"],
        "requests_per_s_ratio": through["requests_per_s"] / alone["requests_per_s"]
        if alone["requests_per_s"] else None,
        "p50_ms_alone": alone["p50_ms"],
        "p50_ms_gateway": through["p50_ms"],
        "p50_ms_added": through["p50_ms"] - alone["p50_ms"],
        "p99_ms_alone": alone["p99_ms"],
        "p99_ms_gateway": through["p99_ms"],
        "p99_ms_added": through["p99_ms"] - alone["p99_ms"],
        "gateway_cpu_us_per_request": through["server_cpu_us_per_request"],
        "upstream_cpu_us_per_request_alone": alone["server_cpu_us_per_request"],
        "upstream_cpu_us_per_request_gateway": upstream.get("cpu_us_per_request"),
        "cpu_us_per_request_added": minus(
            through["total_cpu_us_per_request"], alone["total_cpu_us_per_request"]),
    }


def printGatewayCost(cost: dict[str, Any], out: IO[str] = sys.stdout) -> None:
    """
    Write the figures of L{gatewayCost} as the end of the C{--gateway}
    report.
    """

    def us(value: float | None) -> str:
        return "%.1f us" % (value,) if value is not None else "unknown"

    out.write(
        "\n== what the gateway adds ==\n"
        "requests/s: %.0f at the upstream alone, %.0f through the gateway (%s)\n"
        "latency: p50 %.2f -> %.2f ms (%+.2f ms), p99 %.2f -> %.2f ms (%+.2f ms)\n"
        "CPU per relayed request: gateway %s; upstream %s through the gateway, %s alone;"
        " %s added in all\n" % (
            cost["requests_per_s_alone"], cost["requests_per_s_gateway"],
            "%.2f x" % (cost["requests_per_s_ratio"],)
            if cost["requests_per_s_ratio"] is not None else "-",
            cost["p50_ms_alone"], cost["p50_ms_gateway"], cost["p50_ms_added"],
            cost["p99_ms_alone"], cost["p99_ms_gateway"], cost["p99_ms_added"],
            us(cost["gateway_cpu_us_per_request"]),
            us(cost["upstream_cpu_us_per_request_gateway"]),
            us(cost["upstream_cpu_us_per_request_alone"]),
            us(cost["cpu_us_per_request_added"])))


def loadAverage() -> str:
    """
    The machine's load averages over 1, 5 and 15 minutes (C{/proc/loadavg}),
    or an empty string where there is none.
    """
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return ""


def machine() -> str:
    """
    The machine the bench runs on, in one line: CPU model, cores, Python.
    """
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores, Python %s" % (model or platform.machine(), cast(int, os.cpu_count()),
                                        platform.python_version())
