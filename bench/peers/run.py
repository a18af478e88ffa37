"""
sip2acs side by side with pysip2 0.1.0, in one run, under the same kiosk load.

    python bench/peers/run.py                 # 50 kiosks, 20 s each, 10,000/100,000
    python bench/peers/run.py --kiosks 100 --json peers.json
    python bench/peers/run.py --servers memory,pysip2,twisted-floor,asyncio-floor

Three servers by default, one after the other, each pinned to
C{--server-core} (0) while the load generator runs on C{--client-core} (1):

 1. C{durable}: C{twistd sip2acs} on the embedded SQLite system, on a data
    set made with C{sip2acs db import}, as C{sip2acs bench} starts it;
 2. C{memory}: C{twistd sip2acs} with the in-memory adapter (C{sip2acs
    bench --ils memory}): the SIP2 path alone;
 3. C{pysip2}: pysip2 0.1.0 (asyncio, msgspec codec) with an in-memory
    backend holding the same patrons and items (C{pysip2_server.py});

and on request the floors, C{twisted-floor} and C{asyncio-floor}
(C{floor_server.py}): canned answers with nothing in between, what the
event loop and the sockets alone cost per request.

The load is C{sip2acs bench}'s own (L{sip2acs.tools.bench.load}): each
kiosk logs in, sends 99, then loops 63, 17, 11 and 09. One change, for all
the servers alike: the checkout's I{nb due date} carries the transaction
date instead of the 18 blanks kiosks send, because pysip2 0.1.0 refuses
blanks there (it closes the connection); with no block C{N} neither
server uses the field. C{--blank-nb-due-date} sends the blanks.

Server CPU comes from /proc/PID/stat over the measured window. The table
gives requests/s, p50/p99 latency and CPU microseconds per request, and
the ratios of each server's CPU per request to pysip2's.
"""

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import IO, Any

from sip2acs.tools.bench import load
from sip2acs.tools.bench.data import generateData
from sip2acs.tools.bench.load import DATE, raiseFileLimit, react, runLoad
from sip2acs.tools.bench.report import loadAverage, machine, summarize
from sip2acs.tools.bench.server import (
    Server,
    packageFolder,
    processCPU,
    processMemory,
)
from sip2acs.tools.ports import freePort

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ("durable", "memory", "pysip2", "twisted-floor", "asyncio-floor")
DEFAULT_SERVERS = SERVERS[:3]
DESCRIPTIONS = {
    "durable": "sip2acs, SQLite (twistd sip2acs)",
    "memory": "sip2acs, in-memory adapter",
    "pysip2": "pysip2 0.1.0, in-memory backend",
    "twisted-floor": "floor: Twisted, canned answers",
    "asyncio-floor": "floor: asyncio, canned answers",
}


class DatedKiosk(load.Kiosk):
    """
    The bench's kiosk, sending the transaction date as the checkout's nb
    due date (pysip2 0.1.0 refuses the 18 blanks).
    """

    def exchange(self, kind: str, frame: str, expect: str) -> Any:
        if kind == "11":
            frame = frame[:22] + DATE + frame[40:]
        return super().exchange(kind, frame, expect)


class PeerServer(Server):
    """
    A server script of this folder (C{pysip2_server.py}, C{floor_server.py})
    in a child process pinned to one core; stopped and waited for as a
    sip2acs L{Server} is.
    """

    def __init__(self, workdir: str, core: int, script: str, options: list[str]) -> None:
        """
        @param script: The script's file name, in this folder.
        @param options: Its options, besides C{--port}.
        """
        self.workdir = workdir
        self.core = core
        self.ports = [freePort()]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [packageFolder()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        args = [sys.executable, os.path.join(HERE, script), "--port", str(self.ports[0]),
                *options]
        self._start(args, os.path.join(workdir, script.replace(".py", ".stderr")), env)


def measure(args: argparse.Namespace, port: int, pid: int) -> dict[str, Any]:
    """
    Run the kiosk load at C{port} and return its figures, with the CPU of
    process C{pid} over the measured window.
    """
    marks: dict[str, float] = {}

    def mark(name: str) -> Callable[[], None]:
        return lambda: marks.__setitem__(name, processCPU(pid))

    stats, measured = react(
        runLoad, "127.0.0.1", port, args.kiosks, args.duration, args.warmup,
        args.patrons, args.items, args.pins, None, mark("start"), mark("stop"),
        load.Kiosk if args.blank_nb_due_date else DatedKiosk)
    return summarize(stats, measured, marks["stop"] - marks["start"], processMemory(pid))


def ratio(a: float | None, b: float | None) -> float | None:
    """
    C{a / b}, or L{None} when either is missing.
    """
    return a / b if a is not None and b else None


def printTable(results: dict[str, dict[str, Any]], out: IO[str]) -> dict[str, float | None]:
    """
    Write the side-by-side table and the ratios to C{out}.

    @return: The ratios, by name.
    """
    out.write("\n%-34s %10s %8s %8s %12s %7s\n" % (
        "server", "requests/s", "p50 ms", "p99 ms", "CPU us/req", "errors"))
    for name, f in results.items():
        cpu = f["server_cpu_us_per_request"]
        out.write("%-34s %10.0f %8.2f %8.2f %12s %7d\n" % (
            DESCRIPTIONS[name], f["requests_per_s"], f["p50_ms"], f["p99_ms"],
            "%.1f" % cpu if cpu is not None else "-", f["errors"] + f["refusals"]))
    peer = results.get("pysip2", {}).get("server_cpu_us_per_request")
    ratios = {
        "%s/pysip2" % name: ratio(results[name]["server_cpu_us_per_request"], peer)
        for name in results if name != "pysip2"
    }
    for name, value in ratios.items():
        out.write("CPU per request, %s : %s\n" % (
            name, "%.2f x" % value if value is not None else "-"))
    return ratios


def main(argv: list[str] | None = None, out: IO[str] = sys.stdout) -> int:
    """
    The command: run each server in turn under the load, print the table.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--patrons", type=int, default=10000)
    parser.add_argument("--items", type=int, default=100000)
    parser.add_argument("--pins", action="store_true", help="patrons have PINs; send them")
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                        help="which to run, in order (default %s; also %s: the event loop"
                        " and sockets alone)" % (",".join(DEFAULT_SERVERS),
                                                 ", ".join(SERVERS[len(DEFAULT_SERVERS):])))
    parser.add_argument("--server-core", type=int, default=0, help="-1: no pinning")
    parser.add_argument("--client-core", type=int, default=1, help="-1: no pinning")
    parser.add_argument("--server-logger", choices=("default", "twistd"), default="default",
                        help="sip2acs's logging, as in sip2acs bench")
    parser.add_argument("--blank-nb-due-date", action="store_true",
                        help="send 18 blanks as the checkout's nb due date, as kiosks do")
    parser.add_argument("--workdir", help="keep the data set and logs here")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    servers = [s for s in args.servers.split(",") if s]
    unknown = sorted(set(servers) - set(SERVERS))
    if unknown:
        parser.error("unknown server(s) %s; choose from %s" % (
            ", ".join(unknown), ", ".join(SERVERS)))
    if "pysip2" in servers and importlib.util.find_spec("pysip2") is None:
        out.write("peers: pysip2 is not installed: pip install 'pysip2==0.1.0'"
                  " (or the project's test extra)\n")
        return 3
    if args.client_core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_core})
    raiseFileLimit(4096)
    report: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv),
                              "load_average_before": loadAverage(), "servers": {}}
    workdir = args.workdir or tempfile.mkdtemp(prefix="sip2acs-peers-")
    os.makedirs(workdir, exist_ok=True)
    try:
        for name in servers:
            folder = os.path.join(workdir, name)
            os.makedirs(folder, exist_ok=True)
            process: Server
            if name == "durable":
                out.write("generating %d patrons and %d items with sip2acs db import...\n"
                          % (args.patrons, args.items))
                database, _ = generateData(folder, args.patrons, args.items, args.pins, out)
                process = Server(folder, database, args.server_core, logger=args.server_logger)
            elif name == "memory":
                process = Server(folder, None, args.server_core, logger=args.server_logger,
                                 memory=(args.patrons, args.items))
            elif name == "pysip2":
                options = ["--patrons", str(args.patrons), "--items", str(args.items)]
                process = PeerServer(folder, args.server_core, "pysip2_server.py",
                                     options + (["--pins"] if args.pins else []))
            else:
                process = PeerServer(folder, args.server_core, "floor_server.py",
                                     ["--loop", name.split("-")[0]])
            try:
                out.write("%s: %d kiosks, %.1f s...\n" % (
                    DESCRIPTIONS[name], args.kiosks, args.duration))
                out.flush()
                report["servers"][name] = measure(args, process.ports[0], process.pid)
            finally:
                process.stop()
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report["ratios"] = printTable(report["servers"], out)
    report["load_average_after"] = after = loadAverage()
    out.write("machine load (1, 5, 15 min): %s at the start, %s at the end\n"
              % (report["load_average_before"], after))
    if args.json:
        with open(args.json, "w") as f:
            f.write(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
