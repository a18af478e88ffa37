"""
TLS terminated in front of sip2acs by HAProxy: the vendor pattern and the
idle kiosks of issue 14's TLS targets, measured with TLS handled in C.

    python bench/tlsfront.py --churn [--resume] [--kiosks 20] [--duration 10]
    python bench/tlsfront.py --idle 10000

HAProxy (C{haproxy} from the distribution, one thread) terminates TLS on a
loopback port with the bench's throw-away certificate and passes each
connection to a plain sip2acs listener with C{proxy-protocol = true}, a
PROXY v2 header first (the deployment tap.md's "Behind a load balancer"
describes, with C{ssl crt} on the C{bind} line). Both processes are pinned
to C{--server-core}; the load runs on C{--client-core}.

C{--churn}: C{sip2acs bench --churn --tls}'s clients (connect, TLS
handshake, 93, 63, 35, close; C{--resume} offers the previous
connection's session ticket) against HAProxy; sip2acs serves the
in-memory adapter, as C{sip2acs bench --ils memory --churn} does. The
report gives each process's CPU per connection and the connections per
second of one core for the two together.

C{--idle N}: N logged-in idle TLS connections; sip2acs on the bench's
SQLite data set (as C{sip2acs bench --idle}); the resident memory of each
process before and after, and of the two together. HAProxy holds two
descriptors per connection: N is bounded by half the open-file limit.

What this deployment gives up: sip2acs sees no client certificate, so an
account bound to one (C{tls-client-subject}) needs sip2acs's own TLS
listener.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater

from sip2acs.client import clientTLS
from sip2acs.tools.bench.churn import churnFigures, printChurn, runChurn
from sip2acs.tools.bench.data import generateData
from sip2acs.tools.bench.load import raiseFileLimit, react, runIdle
from sip2acs.tools.bench.report import loadAverage, machine
from sip2acs.tools.bench.server import (
    Server,
    makeCertificate,
    processCPU,
    processMemory,
)
from sip2acs.tools.ports import freePort

HAPROXY = """\
global
    nbthread 1
    maxconn {maxconn}
    ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
    mode tcp
    maxconn {maxconn}
    timeout connect 5s
    timeout client 30m
    timeout server 30m

frontend sip2-tls
    bind 127.0.0.1:{port} ssl crt {pem}
    default_backend sip2acs

backend sip2acs
    server acs1 127.0.0.1:{backend} send-proxy-v2
"""


class HAProxy(Server):
    """
    C{haproxy -db} in a child process pinned to one core, terminating TLS
    for one sip2acs listener; waited for and stopped as a sip2acs
    L{Server} is.
    """

    def __init__(self, workdir: str, core: int, backend: int, certificate: tuple[str, str],
                 maxconn: int) -> None:
        program = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.access(program, os.X_OK):
            raise SystemExit("bench/tlsfront.py: HAProxy is not installed"
                             " (apt-get install haproxy)")
        pem = os.path.join(workdir, "haproxy.pem")
        with open(pem, "wb") as out:
            for path in certificate:
                with open(path, "rb") as f:
                    out.write(f.read())
        os.chmod(pem, 0o600)
        self.workdir = workdir
        self.core = core
        self.ports = [freePort()]
        config = os.path.join(workdir, "haproxy.cfg")
        with open(config, "w") as f:
            f.write(HAPROXY.format(port=self.ports[0], pem=pem, backend=backend,
                                   maxconn=maxconn))
        self._start([program, "-db", "-f", config], os.path.join(workdir, "haproxy.stderr"))


def churn(args: argparse.Namespace, acs: Server, front: HAProxy) -> dict[str, Any]:
    """
    The churning clients against HAProxy; both processes' CPU per
    connection.
    """
    marks: dict[str, tuple[float, float, float]] = {}

    def mark(name: str) -> Callable[[], None]:
        def take() -> None:
            marks[name] = (processCPU(acs.pid), processCPU(front.pid), processCPU(os.getpid()))
        return take

    stats, measured = react(
        runChurn, "127.0.0.1", front.ports[0], args.kiosks, args.duration, args.warmup,
        args.patrons, True, args.resume, mark("start"), mark("stop"))
    (acsStart, frontStart, clientStart) = marks["start"]
    (acsStop, frontStop, clientStop) = marks["stop"]
    acsCPU, frontCPU = acsStop - acsStart, frontStop - frontStart
    figures = churnFigures(stats, measured, acsCPU + frontCPU, clientStop - clientStart)
    count = figures["connections"]
    printChurn("%d clients, a connection per patron check (connect, TLS handshake by HAProxy,"
               " 93, 63, 35, close), %s, in-memory adapter" % (
                   args.kiosks, "resuming TLS sessions" if args.resume
                   else "full TLS handshakes"), figures, sys.stdout)
    if count:
        figures["sip2acs_cpu_us_per_connection"] = acsCPU / count * 1e6
        figures["haproxy_cpu_us_per_connection"] = frontCPU / count * 1e6
        print("of which sip2acs %.1f µs, HAProxy %.1f µs per connection" % (
            figures["sip2acs_cpu_us_per_connection"],
            figures["haproxy_cpu_us_per_connection"]))
    return figures


@inlineCallbacks
def idle(reactor: Any, count: int, acs: Server, front: HAProxy) -> Any:
    """
    C{count} idle logged-in TLS connections through HAProxy; both
    processes' resident memory before and after.
    """
    def memory() -> tuple[float, float]:
        return processMemory(acs.pid)[0] / 2**20, processMemory(front.pid)[0] / 2**20

    before = memory()
    started = time.perf_counter()
    fleet = yield runIdle(reactor, "127.0.0.1", front.ports[0], count,
                          clientTLS("127.0.0.1", insecure=True))
    elapsed = time.perf_counter() - started
    yield deferLater(reactor, 1)
    after = memory()
    for kiosk in fleet:
        kiosk.close()
    figures = {
        "connections": count, "connect_seconds": elapsed,
        "sip2acs_mb": [before[0], after[0]], "haproxy_mb": [before[1], after[1]],
        "total_mb": [sum(before), sum(after)],
        "kb_per_connection": (sum(after) - sum(before)) * 1024 / count,
    }
    print("\n== %d idle logged-in connections over TLS, terminated by HAProxy ==\n"
          "opened in %.1f s; resident memory before and after: sip2acs %.1f -> %.1f MB,"
          " HAProxy %.1f -> %.1f MB, together %.1f -> %.1f MB (%.1f KB per connection)"
          % (count, elapsed, before[0], after[0], before[1], after[1], sum(before),
             sum(after), figures["kb_per_connection"]))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--churn", action="store_true", help="a connection per patron check")
    what.add_argument("--idle", type=int, metavar="N", help="N idle logged-in connections")
    parser.add_argument("--resume", action="store_true",
                        help="with --churn: offer the previous connection's session ticket")
    parser.add_argument("--kiosks", type=int, default=20, help="churning clients (default 20)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--patrons", type=int, default=10000)
    parser.add_argument("--items", type=int, default=100000)
    parser.add_argument("--server-core", type=int, default=0,
                        help="the core of sip2acs and HAProxy (-1: no pinning)")
    parser.add_argument("--client-core", type=int, default=1, help="-1: no pinning")
    args = parser.parse_args()
    if args.client_core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_core})
    raiseFileLimit((args.idle or 0) * 2 + 1024)
    print(machine(), "; load average", loadAverage())
    workdir = tempfile.mkdtemp(prefix="sip2acs-tlsfront-")
    try:
        certificate = makeCertificate(workdir)
        if args.churn:
            acs = Server(os.path.join(workdir, "acs"), None, args.server_core,
                         memory=(args.patrons, args.items), proxied=True)
        else:
            database, _ = generateData(workdir, args.patrons, args.items, out=sys.stdout)
            acs = Server(os.path.join(workdir, "acs"), database, args.server_core,
                         proxied=True)
        try:
            front = HAProxy(workdir, args.server_core, acs.ports[0], certificate,
                            maxconn=(args.idle or 0) + 100)
            try:
                try:
                    if args.churn:
                        churn(args, acs, front)
                    else:
                        react(idle, args.idle, acs, front)
                except Exception:
                    # What the two servers said, for the failure.
                    for path in (front.errors, acs.log):
                        with open(path, errors="replace") as f:
                            print("--- the end of %s:\n%s" % (path, "".join(f.readlines()[-15:])))
                    raise
            finally:
                front.stop()
        finally:
            acs.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("load average", loadAverage())
    return 0


if __name__ == "__main__":
    sys.exit(main())
