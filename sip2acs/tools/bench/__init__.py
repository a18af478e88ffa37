# -*- test-case-name: tests.test_bench -*-
"""
C{sip2acs bench}: measure a sip2acs server under a kiosk load.

    sip2acs bench                      # 100 kiosks for 20 s on a fresh data set
    sip2acs bench --kiosks 1           # latency of a single kiosk
    sip2acs bench --idle 10000         # memory per logged-in idle connection
    sip2acs bench --target 127.0.0.1:6001 --server-pid 1234   # a running server
    sip2acs bench --postgres --instances 2   # two servers on a throwaway PostgreSQL
    sip2acs bench --gateway --ils memory     # the sip2 gateway's cost per relayed request
    sip2acs bench --tls --churn --resume     # a connection per patron check, resumed

By default the bench generates a data set through the project's own import
path (C{sip2acs db import}: 10,000 patrons and 100,000 items, timed), starts
C{twistd sip2acs} on it pinned to one core (C{--server-core}) and runs the
load generator pinned to another (C{--client-core}). Each simulated kiosk
logs in, sends 99, then loops patron information (63), item information
(17), checkout (11) and checkin (09) over its own slice of the items, with
one request in flight. The report gives requests per second, latency
percentiles per message type, errors and refusals, the server's CPU time
per request (from /proc, so the load generator's own cost does not count)
and its peak resident memory.

On PostgreSQL (C{--postgres}: a throwaway cluster of
L{sip2acs.tools.pgcluster}; or C{--database postgresql://...}, loaded
with the data set when it holds no patrons) the report adds PostgreSQL's
CPU per request (its processes' /proc times) and its commits and
rollbacks. C{--instances N} starts N servers on the same database, each on
a core of its own when there are enough (L{server.placement
<sip2acs.tools.bench.server.placement>}), with the kiosks round-robin over
them; CPU per request adds theirs up.

The kiosks are L{sip2acs.client} connections on a reactor of their own
(L{load.react <sip2acs.tools.bench.load.react>}), so that the command also
runs where a reactor is installed.

C{--churn} measures the vendor pattern instead (L{churn
<sip2acs.tools.bench.churn>}): each of C{--kiosks} clients connects,
logs in (93), asks for patron information (63), ends the patron session
(35) and closes, again and again; the report gives connections per
second, server CPU per connection and, with C{--tls}, how many TLS
sessions were resumed (C{--resume}: each client offers the session ticket
of its previous connection).

C{--gateway} measures the SIP2 gateway (L{sip2acs.ils.upstream}): it
starts the server as above (the upstream, also given the gateway's
upstream account) and a second C{twistd sip2acs} in front of it whose
institution has C{adapter = "sip2"} and C{pool-size} C{--gateway-pool}
(default 20), placed as two instances are. It runs the same load twice,
first at the upstream alone, then at the gateway, and reports both runs
(the second with the gateway's and the upstream's CPU per request
separately) and what the gateway adds: requests per second, p50 and p99
latency, and CPU per relayed request (L{report.gatewayCost
<sip2acs.tools.bench.report.gatewayCost>}).

Only loopback targets are accepted. A C{--target} server must have the
bench's account (login C{bench}, password C{bench-password}, institution
C{BENCH}) and its data set (C{--database} of an earlier run).

This package: L{data <sip2acs.tools.bench.data>} (the data set, and
L{benchLibrary} for C{--ils memory}), L{server <sip2acs.tools.bench.server>}
(starting and measuring the server process), L{load
<sip2acs.tools.bench.load>} (the kiosks, the load and idle runs), L{churn
<sip2acs.tools.bench.churn>} (the C{--churn} clients) and
L{report <sip2acs.tools.bench.report>} (statistics and the report); here,
the command (L{register}, L{run}).
"""

import argparse
import ipaddress
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from sip2acs.client import clientTLS
from sip2acs.ils.sql.store import DatabaseError, isPostgresURL
from sip2acs.tools import Subparsers, pgcluster
from sip2acs.tools.bench.churn import churnFigures, printChurn, runChurn
from sip2acs.tools.bench.data import (
    INSTITUTION,
    LOGIN,
    PASSWORD,
    benchLibrary,
    generateData,
    holdsPatrons,
    transactionCounts,
)
from sip2acs.tools.bench.load import (
    ANSWER_TIMEOUT,
    BLANK_DATE,
    DATE,
    Kiosk,
    idleRun,
    raiseFileLimit,
    react,
    runIdle,
    runLoad,
)
from sip2acs.tools.bench.report import (
    Stats,
    gatewayCost,
    loadAverage,
    machine,
    percentile,
    printGatewayCost,
    printReport,
    summarize,
)
from sip2acs.tools.bench.server import (
    CONFIG,
    GATEWAY_POOL,
    Server,
    makeCertificate,
    pinTree,
    placement,
    processCPU,
    processMemory,
)
from sip2acs.tools.pgcluster import Cluster

__all__ = [
    "register",
    "run",
    # Re-exported from the modules of the package, where they live.
    "INSTITUTION",
    "LOGIN",
    "PASSWORD",
    "benchLibrary",
    "generateData",
    "ANSWER_TIMEOUT",
    "BLANK_DATE",
    "DATE",
    "Kiosk",
    "runIdle",
    "runLoad",
    "Stats",
    "percentile",
    "printReport",
    "summarize",
    "CONFIG",
    "Server",
    "processCPU",
    "processMemory",
]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _startPostgres(args: argparse.Namespace, out: IO[str]) -> Cluster | None:
    """
    Start the throwaway cluster of C{--postgres}, or say why it cannot.
    """
    found = pgcluster.programs()
    reason = pgcluster.missing(found)
    if reason is not None or found is None:
        out.write("bench: --postgres: %s\n" % (reason,))
        return None
    settings = dict(setting.partition("=")[::2] for setting in args.postgres_setting)
    cluster = Cluster(*found, settings=settings, prefix="sip2acs-bench-postgres-")
    try:
        cluster.start()
    except (RuntimeError, OSError) as e:
        cluster.stop()
        out.write("bench: --postgres: the PostgreSQL cluster did not start: %s\n" % (e,))
        return None
    out.write("started PostgreSQL on 127.0.0.1:%d (%s)\n" % (
        cluster.port, ", ".join(["%s=%s" % i for i in sorted(settings.items())])
        or "its default settings"))
    return cluster


def _postgresCPU(pid: int | None) -> dict[str, float] | None:
    return pgcluster.treeCPU(pid) if pid else None


def _difference(after: dict[str, float] | None,
                before: dict[str, float] | None) -> dict[str, float] | None:
    if after is None or before is None:
        return None
    return {role: after.get(role, 0.0) - before.get(role, 0.0)
            for role in sorted(set(after) | set(before))}


def run(args: argparse.Namespace) -> int:
    """
    The C{sip2acs bench} command.
    """
    out = sys.stdout
    refused = _refused(args)
    if refused:
        out.write("bench: %s\n" % (refused,))
        return 3
    if args.client_core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_core})
    raiseFileLimit(args.idle + 1024 if args.idle else 4096)
    report: dict[str, Any] = {
        "machine": machine(),
        "date": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "load_average_before": loadAverage(),
    }
    workdir = args.workdir or tempfile.mkdtemp(prefix="sip2acs-bench-")
    os.makedirs(workdir, exist_ok=True)
    servers: list[Server] = []
    gateway: Server | None = None
    cluster: Cluster | None = None
    postgresPid: int | None = args.postgres_pid
    database = args.database
    try:
        if args.target:
            host, _, port = args.target.rpartition(":")
            if not _loopback(host):
                out.write("bench: only loopback targets (127.0.0.0/8, ::1) are allowed\n")
                return 3
            ports, pids, cores = [int(port)], [args.server_pid], [-1]
        else:
            host = "127.0.0.1"
            if args.postgres:
                cluster = _startPostgres(args, out)
                if cluster is None:
                    return 3
                postgresPid = cluster.pid()
                if args.postgres_core >= 0:
                    pinTree(postgresPid, args.postgres_core)
                database = cluster.url(cluster.createDatabase(prefix="bench"))
            postgres = isPostgresURL(database)
            if args.ils == "sqlite" and (
                database is None or postgres and not holdsPatrons(database, args.password_file)
            ):
                out.write("generating %d patrons and %d items with sip2acs db import%s...\n"
                          % (args.patrons, args.items, " into PostgreSQL" if postgres else ""))
                database, timings = generateData(
                    workdir, args.patrons, args.items, args.pins, out, database,
                    args.password_file)
                report["import_seconds"] = timings
                out.write("import: " + ", ".join(
                    "%s %.2f s" % (k, v) for k, v in timings.items()) + "\n")
            tls = makeCertificate(workdir) if args.tls else None
            memory = (args.patrons, args.items) if args.ils == "memory" else None
            cores, placed = placement(
                2 if args.gateway else args.instances, args.server_core, args.client_core)
            report["placement"] = placed
            if args.gateway:
                out.write("the upstream sip2acs and the gateway in front of it, %s\n" % (placed,))
                cores, gatewayCore = cores[:1], cores[1]
            else:
                out.write("%d sip2acs instance(s), %s\n" % (args.instances, placed))
            for number, core in enumerate(cores, 1):
                servers.append(Server(
                    os.path.join(workdir, "instance-%d" % (number,)) if args.instances > 1
                    else workdir, database, core, tls, args.server_logger, memory,
                    args.password_file if postgres else None,
                    args.pool_size if postgres else None, gatewayAccount=args.gateway))
            if args.gateway:
                gateway = Server(
                    os.path.join(workdir, "gateway"), None, gatewayCore, tls,
                    args.server_logger, poolSize=_gatewayPool(args),
                    upstream=servers[0].ports[0])
                servers.append(gateway)
            ports = [server.ports[-1 if args.tls else 0] for server in servers[:len(cores)]]
            pids = [server.pid for server in servers[:len(cores)]]
        kioskTLS = clientTLS(host, insecure=True) if args.tls else None
        counted = database if isPostgresURL(database) else None
        if args.churn:
            report["churn"] = _churn(args, host, ports[0], pids[0], out)
        elif args.idle:
            report["idle"] = react(idleRun, host, ports[0], args.idle, pids[0], kioskTLS, out)
        elif gateway is not None:
            report["alone"] = _load(args, host, ports, pids, cores, postgresPid, kioskTLS, out,
                                    counted, where=", at the upstream alone")
            report["gateway"] = _load(
                args, host, [gateway.ports[-1 if args.tls else 0]], [gateway.pid],
                [gateway.core], postgresPid, kioskTLS, out, counted,
                upstream=(pids[0], cores[0]),
                where=", through the gateway (a pool of %d upstream connections)"
                % (_gatewayPool(args),))
            report["gateway_cost"] = gatewayCost(report["alone"], report["gateway"])
            printGatewayCost(report["gateway_cost"], out)
        else:
            report["load"] = _load(args, host, ports, pids, cores, postgresPid, kioskTLS, out,
                                   counted)
        report["load_average_after"] = loadAverage()
        out.write("load average %s before, %s after\n" % (
            report["load_average_before"], report["load_average_after"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
    except DatabaseError as e:
        out.write("bench: %s\n" % (e,))
        return 3
    finally:
        for server in servers:
            server.stop()
        if cluster is not None:
            cluster.stop()
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _gatewayPool(args: argparse.Namespace) -> int:
    """
    The gateway's C{pool-size}: C{--gateway-pool}, or L{GATEWAY_POOL}.
    """
    return GATEWAY_POOL if args.gateway_pool is None else int(args.gateway_pool)


def _refused(args: argparse.Namespace) -> str | None:
    """
    Why the options do not go together, or L{None}.
    """
    if args.instances < 1:
        return "--instances must be 1 or more"
    if args.target and (args.postgres or args.database or args.instances > 1):
        return "--target measures one running server: leave out --postgres, --database" \
            " and --instances"
    if args.postgres and args.database:
        return "--postgres starts a database of its own: leave out --database"
    if args.postgres and args.ils == "memory":
        return "--ils memory uses no database: leave out --postgres"
    if args.idle and args.instances > 1:
        return "--idle measures one server: leave out --instances"
    if args.gateway_pool is not None and not args.gateway:
        return "--gateway-pool is for --gateway"
    if args.gateway and (args.target or args.idle or args.instances > 1):
        return "--gateway starts an upstream and a gateway of its own and runs a load:" \
            " leave out --target, --idle and --instances"
    if args.resume and not (args.churn and args.tls):
        return "--resume is for --churn --tls"
    if args.churn and (args.idle or args.gateway or args.instances > 1):
        return "--churn measures one server's connections: leave out --idle, --gateway" \
            " and --instances"
    if args.gateway_pool is not None and not 1 <= args.gateway_pool <= 1000:
        return "--gateway-pool must be between 1 and 1000"
    postgres = args.postgres or isPostgresURL(args.database)
    if args.password_file and not (postgres and not args.postgres):
        return "--password-file is for a --database postgresql:// URL"
    if args.postgres_setting and not args.postgres:
        return "--postgres-setting is for --postgres"
    for setting in args.postgres_setting:
        if not setting.partition("=")[0] or "=" not in setting:
            return "--postgres-setting takes NAME=VALUE, not %r" % (setting,)
    return None


def _load(args: argparse.Namespace, host: str, ports: list[int], pids: list[int | None],
          cores: list[int], postgresPid: int | None, kioskTLS: Any,
          out: IO[str], database: str | None, upstream: tuple[int, int] | None = None,
          where: str = "") -> dict[str, Any]:
    """
    The load run: kiosks round-robin over C{ports}, the CPU of the servers
    (C{pids}), of PostgreSQL (C{postgresPid}) and of the load generator
    measured over the window (from when it opens to when it closes, not
    to when the kiosks have finished the exchanges they had started), and
    the report.

    @param database: A PostgreSQL URL, to count its transactions.
    @param upstream: C{(pid, core)} of the upstream sip2acs behind the
        server (then a gateway), measured apart.
    @param where: The end of the report's title.
    """
    known = [pid for pid in pids if pid] + ([upstream[0]] if upstream else [])
    marks: dict[str, dict[str, Any]] = {}
    passwordFile = args.password_file

    def mark(name: str) -> Callable[[], None]:
        def take() -> None:
            marks[name] = {
                "cpu": {pid: processCPU(pid) for pid in known},
                "postgres": _postgresCPU(postgresPid),
                "client": processCPU(os.getpid()),
                "transactions": transactionCounts(database, passwordFile)
                if database is not None else None,
            }
        return take

    stats, measured = react(
        runLoad, host, ports, args.kiosks, args.duration, args.warmup,
        args.patrons, args.items, args.pins, kioskTLS, mark("start"), mark("stop"))
    start, stop = marks["start"], marks["stop"]
    clientCPU = stop["client"] - start["client"]
    postgresCPU = _difference(stop["postgres"], start["postgres"])
    transactions = None
    if database is not None:
        transactions = (stop["transactions"][0] - start["transactions"][0],
                        stop["transactions"][1] - start["transactions"][1])

    def cpuOf(pid: int) -> float:
        return float(stop["cpu"][pid] - start["cpu"][pid])

    instances = []
    for pid, core in zip(pids, cores, strict=True):
        if pid:
            instances.append(_measured(pid, core, cpuOf(pid)))
    behind = _measured(upstream[0], upstream[1], cpuOf(upstream[0])) if upstream else None
    cpu = sum(i["cpu_s"] for i in instances) if instances else None
    memory = (sum(i["rss"] for i in instances),
              sum(i["peak_rss"] for i in instances)) if instances else None
    figures = summarize(stats, measured, cpu, memory, instances, postgresCPU, clientCPU,
                        transactions, behind)
    if args.ils == "memory":
        system = "in-memory adapter (no SQLite)"
    elif args.postgres or isPostgresURL(args.database):
        system = "PostgreSQL"
    else:
        system = "SQLite"
    title = "%d kiosk(s), %s, %s, %s logging, %s%s" % (
        args.kiosks, "TLS" if args.tls else "plain TCP",
        "PINs" if args.pins else "no PINs", args.server_logger, system,
        ", %d instances (kiosks round-robin)" % (len(ports),) if len(ports) > 1 else "")
    printReport(title + where, figures, out)
    return figures


def _churn(args: argparse.Namespace, host: str, port: int, pid: int | None,
           out: IO[str]) -> dict[str, Any]:
    """
    The C{--churn} run: the clients of L{runChurn}, the server's and the
    load generator's CPU over the measured window, and the report.
    """
    marks: dict[str, tuple[float | None, float]] = {}

    def mark(name: str) -> Callable[[], None]:
        def take() -> None:
            marks[name] = (processCPU(pid) if pid else None, processCPU(os.getpid()))
        return take

    stats, measured = react(
        runChurn, host, port, args.kiosks, args.duration, args.warmup, args.patrons,
        args.tls, args.resume, mark("start"), mark("stop"))
    (serverStart, clientStart), (serverStop, clientStop) = marks["start"], marks["stop"]
    cpu = serverStop - serverStart if serverStart is not None and serverStop is not None \
        else None
    figures = churnFigures(stats, measured, cpu, clientStop - clientStart, args.tls)
    printChurn("%d clients, a connection per patron check (connect%s, 93, 63, 35, close)%s,"
               " %s" % (args.kiosks, ", TLS handshake" if args.tls else "",
                        "" if not args.tls else ", resuming TLS sessions" if args.resume
                        else ", full TLS handshakes",
                        "in-memory adapter" if args.ils == "memory" else "SQLite"),
               figures, out)
    return figures


def _measured(pid: int, core: int, cpu: float) -> dict[str, Any]:
    """
    A server process's figures at the end of a load run: C{pid}, C{core},
    C{rss}, C{peak_rss} and C{cpu_s} (its CPU seconds in the window).
    """
    rss, peak = processMemory(pid)
    return {"pid": pid, "core": core, "rss": rss, "peak_rss": peak, "cpu_s": cpu}


def register(subparsers: Subparsers) -> None:
    """
    Add the C{bench} command to the C{sip2acs} command line.
    """
    parser = subparsers.add_parser(
        "bench", help="measure throughput, latency, CPU and memory under a kiosk load",
        description=__doc__.split("\n\n")[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=int, default=100, help="simulated kiosks (default 100)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="measured seconds (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds before measuring (default 3)")
    parser.add_argument("--patrons", type=int, default=10000, help="patrons in the data set")
    parser.add_argument("--items", type=int, default=100000, help="items in the data set")
    parser.add_argument("--pins", action="store_true",
                        help="give patrons PINs and send them (AD) in 63 and 11")
    parser.add_argument("--tls", action="store_true", help="talk TLS to a TLS listener")
    parser.add_argument("--churn", action="store_true", help=(
        "a connection per patron check (connect, 93, 63, 35, close), as e-content vendors "
        "do: connections per second and server CPU per connection"))
    parser.add_argument("--resume", action="store_true", help=(
        "with --churn --tls: offer the previous connection's TLS session (ticket) again"))
    parser.add_argument("--idle", type=int, default=0, metavar="N",
                        help="instead of a load, open N idle logged-in connections")
    parser.add_argument("--database", metavar="PATH-OR-URL",
                        help="use this bench database instead of generating one; a "
                        "postgresql://user@host:port/dbname URL is loaded with the data set "
                        "first if it holds no patrons yet")
    parser.add_argument("--password-file", metavar="FILE",
                        help="with a --database postgresql:// URL: the file holding its password "
                        "(else PGPASSWORD, ~/.pgpass or a service file)")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL cluster (initdb, pg_ctl; as the "
                        "postgres user when root) on loopback, load the data set into it, and "
                        "stop it at the end")
    parser.add_argument("--postgres-setting", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="with --postgres: a server setting (repeatable), e.g. "
                        "synchronous_commit=off")
    parser.add_argument("--postgres-core", type=int, default=-1,
                        help="with --postgres: pin PostgreSQL to this core (default -1: "
                        "no pinning)")
    parser.add_argument("--postgres-pid", type=int,
                        help="with --database postgresql:// on this machine: the postmaster's "
                        "pid, for PostgreSQL's CPU")
    parser.add_argument("--instances", type=int, default=1, metavar="N",
                        help="start N sip2acs instances on the same database, each on a core "
                        "of its own when there are enough; kiosks round-robin over them")
    parser.add_argument("--pool-size", type=int,
                        help="PostgreSQL: each instance's pool-size (default: the server's)")
    parser.add_argument("--ils", choices=("sqlite", "memory"), default="sqlite",
                        help="the started server's circulation system: the SQLite one "
                        "(default), or the in-memory adapter (sip2acs.ils.memory), to measure the "
                        "SIP2 server without it")
    parser.add_argument("--gateway", action="store_true",
                        help="measure the sip2 gateway: start a second sip2acs in front of "
                        "the server (adapter = \"sip2\"), run the load at the server alone, "
                        "then through the gateway, and report both and the difference")
    parser.add_argument("--gateway-pool", type=int, metavar="N",
                        help="with --gateway: the gateway's pool-size, its upstream "
                        "connections (default %d)" % (GATEWAY_POOL,))
    parser.add_argument("--target", metavar="HOST:PORT",
                        help="a running sip2acs on loopback (default: start one)")
    parser.add_argument("--server-pid", type=int, help="with --target: its pid, for CPU and memory")
    parser.add_argument("--server-core", type=int, default=0,
                        help="core for the (first) server (default 0; -1: no pinning)")
    parser.add_argument("--client-core", type=int, default=1,
                        help="core for the load generator (default 1; -1: no pinning)")
    parser.add_argument("--server-logger", choices=("default", "twistd"), default="default",
                        help="the started server's logging: sip2acs's own (--logfile, as a"
                        " plain run logs), or twistd's own text observer, for comparison"
                        " (--logger=sip2acs.ops.observers.twistdText) (default: default)")
    parser.add_argument("--workdir", help="keep the data set and logs here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.set_defaults(func=run)
