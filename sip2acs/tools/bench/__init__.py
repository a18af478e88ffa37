# -*- test-case-name: tests.test_bench -*-
"""
C{sip2acs bench}: measure a sip2acs server under a kiosk load.

    sip2acs bench                      # 100 kiosks for 20 s on a fresh data set
    sip2acs bench --kiosks 1           # latency of a single kiosk
    sip2acs bench --idle 10000         # memory per logged-in idle connection
    sip2acs bench --target 127.0.0.1:6001 --server-pid 1234   # a running server

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

The kiosks are L{sip2acs.client} connections on a reactor of their own
(L{load.react <sip2acs.tools.bench.load.react>}), so that the command also
runs where a reactor is installed.

Only loopback targets are accepted. A C{--target} server must have the
bench's account (login C{bench}, password C{bench-password}, institution
C{BENCH}) and its data set (C{--database} of an earlier run).

This package: L{data <sip2acs.tools.bench.data>} (the data set, and
L{benchLibrary} for C{--ils memory}), L{server <sip2acs.tools.bench.server>}
(starting and measuring the server process), L{load
<sip2acs.tools.bench.load>} (the kiosks, the load and idle runs) and
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
from datetime import datetime
from typing import Any

from sip2acs.client import clientTLS
from sip2acs.tools import Subparsers
from sip2acs.tools.bench.data import (
    INSTITUTION,
    LOGIN,
    PASSWORD,
    benchLibrary,
    generateData,
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
from sip2acs.tools.bench.report import Stats, machine, percentile, printReport, summarize
from sip2acs.tools.bench.server import (
    CONFIG,
    Server,
    makeCertificate,
    processCPU,
    processMemory,
)

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


def run(args: argparse.Namespace) -> int:
    """
    The C{sip2acs bench} command.
    """
    out = sys.stdout
    if args.client_core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_core})
    raiseFileLimit(args.idle + 1024 if args.idle else 4096)
    report: dict[str, Any] = {
        "machine": machine(),
        "date": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }
    workdir = args.workdir or tempfile.mkdtemp(prefix="sip2acs-bench-")
    os.makedirs(workdir, exist_ok=True)
    server = None
    try:
        if args.target:
            host, _, port = args.target.rpartition(":")
            if not _loopback(host):
                out.write("bench: only loopback targets (127.0.0.0/8, ::1) are allowed\n")
                return 3
            ports, pid = [int(port)], args.server_pid
        else:
            host = "127.0.0.1"
            database = args.database
            if database is None and args.ils == "sqlite":
                out.write("generating %d patrons and %d items with sip2acs db import...\n"
                          % (args.patrons, args.items))
                database, timings = generateData(workdir, args.patrons, args.items, args.pins)
                report["import_seconds"] = timings
                out.write("import: " + ", ".join(
                    "%s %.2f s" % (k, v) for k, v in timings.items()) + "\n")
            tls = makeCertificate(workdir) if args.tls else None
            memory = (args.patrons, args.items) if args.ils == "memory" else None
            server = Server(workdir, database, args.server_core, tls, args.server_logger,
                            memory)
            ports, pid = server.ports, server.pid
        kioskTLS = None
        port = ports[0]
        if args.tls:
            kioskTLS = clientTLS(host, insecure=True)
            port = ports[-1]
        if args.idle:
            report["idle"] = react(idleRun, host, port, args.idle, pid, kioskTLS, out)
        else:
            marks: dict[str, Any] = {}

            def onStart() -> None:
                marks["cpu"] = processCPU(pid) if pid else None

            stats, measured = react(
                runLoad, host, port, args.kiosks, args.duration, args.warmup,
                args.patrons, args.items, args.pins, kioskTLS, onStart)
            cpu = processCPU(pid) - marks["cpu"] if pid else None
            memory = processMemory(pid) if pid else None
            figures = summarize(stats, measured, cpu, memory)
            title = "%d kiosk(s), %s, %s, %s logging, %s" % (
                args.kiosks, "TLS" if args.tls else "plain TCP",
                "PINs" if args.pins else "no PINs", args.server_logger,
                "SQLite" if args.ils == "sqlite" else "in-memory adapter (no SQLite)")
            printReport(title, figures, out)
            report["load"] = figures
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
    finally:
        if server is not None:
            server.stop()
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


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
    parser.add_argument("--idle", type=int, default=0, metavar="N",
                        help="instead of a load, open N idle logged-in connections")
    parser.add_argument("--database", help="use this bench database instead of generating one")
    parser.add_argument("--ils", choices=("sqlite", "memory"), default="sqlite",
                        help="the started server's circulation system: the SQLite one "
                        "(default), or the in-memory adapter (sip2acs.ils.memory), to measure the "
                        "SIP2 server without it")
    parser.add_argument("--target", metavar="HOST:PORT",
                        help="a running sip2acs on loopback (default: start one)")
    parser.add_argument("--server-pid", type=int, help="with --target: its pid, for CPU and memory")
    parser.add_argument("--server-core", type=int, default=0,
                        help="core for the server (default 0; -1: no pinning)")
    parser.add_argument("--client-core", type=int, default=1,
                        help="core for the load generator (default 1; -1: no pinning)")
    parser.add_argument("--server-logger", choices=("default", "fast"), default="default",
                        help="the started server's logging: twistd's default text file, or "
                        "--logger=sip2acs.ops.observers.logfile (default: default)")
    parser.add_argument("--workdir", help="keep the data set and logs here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.set_defaults(func=run)
