# -*- test-case-name: tests.test_bench -*-
"""
C{sip2acs bench}: measure a sip2acs server under a kiosk load.

    sip2acs bench                      # 100 kiosks for 20 s on a fresh data set
    sip2acs bench --kiosks 1           # latency of a single kiosk
    sip2acs bench --idle 10000         # memory per logged-in idle connection
    sip2acs bench --target 127.0.0.1:6001 --server-pid 1234 --login L --password P

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
(L{_react}), so that the command also runs where a reactor is installed.

Only loopback targets are accepted.
"""

import argparse
import ipaddress
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime

from twisted.internet.defer import (
    DeferredList,
    FirstError,
    gatherResults,
    inlineCallbacks,
    maybeDeferred,
)
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from sip2acs.client import clientTLS, connect
from sip2acs.ils.memory import MemoryILS, MemoryItem, MemoryPatron
from sip2acs.passwords import hashPassword
from sip2acs.tools import cli

__all__ = ["register", "percentile"]

DATE = "20250314    101500"
BLANK_DATE = " " * 18
INSTITUTION = "BENCH"
LOGIN = "bench"
PASSWORD = "bench-password"
ANSWER_TIMEOUT = 300.0
"""
How long a kiosk waits for an answer (a login's password check can queue
behind thousands of others in C{--idle}).
"""
_PORT = re.compile(r"SIP2ServerFactory[^\n]* starting on (\d+)")

CONFIG = """\
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"
login-timeout = 600
idle-timeout = 0
{tls}
[[institution]]
id = "{institution}"
library-name = "sip2acs bench"
{adapter}

[[account]]
login = "{login}"
password = "{hash}"
institution = "{institution}"
location = "MAIN"
"""


def percentile(values, fraction):
    """
    The C{fraction} (0..1) percentile of sorted C{values} (nearest rank).
    """
    if not values:
        return float("nan")
    index = min(len(values), max(1, math.ceil(fraction * len(values)))) - 1
    return values[index]


# -- the data set -------------------------------------------------------------


def _write(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


def generateData(workdir, patrons, items, pins=False, out=sys.stdout):
    """
    Create a benchmark database with the project's own import path.

    @return: C{(database path, {step: seconds})}.
    """
    database = os.path.join(workdir, "bench.sqlite3")
    rules = os.path.join(workdir, "rules.csv")
    patronsCSV = os.path.join(workdir, "patrons.csv")
    itemsCSV = os.path.join(workdir, "items.csv")
    _write(rules, ["patron_class,item_type,loan_days,max_loans,max_renewals\n",
                   "*,*,21,1000,5\n"])
    _write(patronsCSV, ["barcode,name,pin\n"] + [
        "BP%06d,Bench Patron %d,%s\n" % (n, n, "1234" if pins else "")
        for n in range(patrons)])
    _write(itemsCSV, ["barcode,title,call_number\n"] + [
        "BI%07d,Bench Title %d,BEN %07d\n" % (n, n, n) for n in range(items)])
    timings = {}
    for step, argv in [
        ("init", ["db", "init", "--database", database, "--institution",
                  INSTITUTION, "--branch", "MAIN"]),
        ("rules", ["db", "import", "rules", rules, "--replace", "--database", database]),
        ("patrons", ["db", "import", "patrons", patronsCSV, "--database", database]),
        ("items", ["db", "import", "items", itemsCSV, "--database", database]),
    ]:
        started = time.perf_counter()
        if cli.main(argv) != 0:
            raise SystemExit("bench: generating the data set failed at %s" % (step,))
        timings[step] = time.perf_counter() - started
    return database, timings


# -- the server ---------------------------------------------------------------


class Server:
    """
    A C{twistd sip2acs} child process pinned to one core.
    """

    def __init__(self, workdir, database, core, tls=None, logger="default", memory=None):
        self.workdir = workdir
        self.log = os.path.join(workdir, "twistd.log")
        config = os.path.join(workdir, "sip2acs.toml")
        tlsListener = ""
        if tls is not None:
            tlsListener = (
                '[[listener]]\nendpoint = "tcp:0:interface=127.0.0.1"\n'
                'transport = "tls"\ncertificate = "%s"\nprivate-key = "%s"\n'
                "login-timeout = 600\nidle-timeout = 0\n" % tls
            )
        with open(config, "w") as f:
            f.write(CONFIG.format(
                adapter='database = "%s"' % (database,) if memory is None else (
                    'adapter = "sip2acs.tools.bench.benchLibrary"\npatrons = %d\nitems = %d'
                    % memory),
                login=LOGIN, institution=INSTITUTION,
                hash=hashPassword(PASSWORD, cost=10), tls=tlsListener))
        logging = ["--logfile=" + self.log]
        env = dict(os.environ)
        # The server must import this very sip2acs, whatever the directory.
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            [top] + [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        if logger == "fast":
            logging = ["--logger=sip2acs.ops.observers.logfile"]
            env["SIP2ACS_LOG"] = self.log
        args = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "--nodaemon", "--pidfile=", *logging, "sip2acs", "--config", config]
        preexec = None
        if core >= 0 and hasattr(os, "sched_setaffinity"):
            preexec = lambda: os.sched_setaffinity(0, {core})  # noqa: E731
        self.errors = os.path.join(workdir, "twistd.stderr")
        with open(self.errors, "wb") as errors:
            self.process = subprocess.Popen(
                args, cwd=workdir, env=env, preexec_fn=preexec, stdin=subprocess.DEVNULL,
                stdout=errors, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        try:
            self.ports = self._waitForPorts(2 if tls else 1)
        except BaseException:
            self.stop()
            raise

    def _waitForPorts(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("bench: the server exited:\n" + self.output())
            ports = [int(p) for p in _PORT.findall(self.output())]
            if len(ports) >= count:
                return ports
            time.sleep(0.1)
        raise SystemExit("bench: the server did not listen in time:\n" + self.output())

    def output(self):
        text = ""
        for path in (self.log, self.errors):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def processCPU(pid):
    """
    CPU seconds (user + system, all threads) a process has used.
    """
    with open("/proc/%d/stat" % (pid,)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def processMemory(pid):
    """
    C{(resident, peak resident)} memory of a process, in bytes.
    """
    values = {}
    with open("/proc/%d/status" % (pid,)) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


# -- the kiosks ---------------------------------------------------------------


class Stats:
    """
    Latencies and outcomes per message type, during the measured window.
    """

    def __init__(self):
        self.latencies = {}
        self.refusals = {}
        self.errors = 0
        self.measuring = False
        self.completed = 0

    def record(self, kind, seconds, ok):
        if not self.measuring:
            return
        self.completed += 1
        self.latencies.setdefault(kind, []).append(seconds)
        if not ok:
            self.refusals[kind] = self.refusals.get(kind, 0) + 1


class Kiosk:
    """
    One simulated kiosk: a connection, a slice of items, a loop.
    """

    def __init__(self, number, host, port, items, patrons, stats, pins, tls=None):
        self.number = number
        self.host = host
        self.port = port
        self.items = items
        self.patrons = patrons
        self.stats = stats
        self.pins = pins
        self.tls = tls
        self.client = None

    @inlineCallbacks
    def connect(self, reactor):
        self.client = yield connect(
            reactor, self.host, self.port, tls=self.tls, timeout=ANSWER_TIMEOUT)
        yield self.exchange("93", "9300CN%s|CO%s|CPMAIN|" % (LOGIN, PASSWORD), "941")
        yield self.exchange("99", "9900802.00", "98Y")

    @inlineCallbacks
    def exchange(self, kind, frame, expect):
        started = time.perf_counter()
        exchange = yield self.client.exchange(frame)
        self.stats.record(kind, time.perf_counter() - started,
                          exchange.received.startswith(expect.encode()))
        return exchange

    @inlineCallbacks
    def loop(self, stopAt):
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

    def close(self):
        if self.client is not None:
            self.client.disconnect()


def _all(deferreds):
    """
    Wait for every one of C{deferreds}; the first failure is the result.
    """
    d = gatherResults(deferreds, consumeErrors=True)
    return d.addErrback(lambda f: f.value.subFailure if f.check(FirstError) else f)


@inlineCallbacks
def _connectAll(reactor, fleet, batch):
    for start in range(0, len(fleet), batch):
        yield _all([k.connect(reactor) for k in fleet[start:start + batch]])


@inlineCallbacks
def runLoad(reactor, host, port, kiosks, duration, warmup, patrons, items, pins, tls=None,
            onStart=None):
    """
    Run C{kiosks} kiosks for C{warmup + duration} seconds.

    @param reactor: What the kiosks' connections and timers run on.
    @param onStart: Called when the measured window opens.
    @return: A Deferred firing with C{(stats, measured seconds)}.
    """
    stats = Stats()
    share = max(1, items // kiosks)
    itemIds = ["BI%07d" % (n,) for n in range(items)]
    patronIds = ["BP%06d" % (n,) for n in range(patrons)]
    fleet = [
        Kiosk(n, host, port, itemIds[n * share:(n + 1) * share] or itemIds[:1],
              patronIds, stats, pins, tls)
        for n in range(kiosks)
    ]
    yield _connectAll(reactor, fleet, 50)
    stopAt = time.monotonic() + warmup + duration
    loops = [k.loop(stopAt) for k in fleet]
    yield deferLater(reactor, warmup)
    stats.measuring = True
    if onStart is not None:
        onStart()
    started = time.monotonic()
    yield deferLater(reactor, duration)
    stats.measuring = False
    measured = time.monotonic() - started
    results = yield DeferredList(loops, consumeErrors=True)
    stats.errors = sum(1 for ok, _ in results if not ok)
    for k in fleet:
        k.close()
    return stats, measured


@inlineCallbacks
def runIdle(reactor, host, port, count, tls=None):
    """
    Open C{count} logged-in connections and keep them open.

    @return: A Deferred firing with the kiosks (call C{close} on each when
        done).
    """
    fleet = [Kiosk(n, host, port, ["x"], ["x"], Stats(), False, tls) for n in range(count)]
    yield _connectAll(reactor, fleet, 200)
    return fleet


def _newReactor():
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


def _react(f, *args):
    """
    Run C{f(reactor, *args)} on a new reactor until its Deferred fires.

    @return: Its result (its failure is raised).
    """
    reactor = _newReactor()
    outcome = []

    def start():
        d = maybeDeferred(f, reactor, *args)
        d.addBoth(outcome.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


# -- the report ---------------------------------------------------------------


def _raiseFileLimit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores, Python %s" % (model or platform.machine(), os.cpu_count(),
                                        platform.python_version())


def _makeCertificate(workdir):
    """
    A throw-away CA and server certificate for 127.0.0.1, for TLS runs.
    """
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sip2acs bench")])
    now = datetime.utcnow()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .sign(key, hashes.SHA256())
    )
    certPath = os.path.join(workdir, "bench-cert.pem")
    keyPath = os.path.join(workdir, "bench-key.pem")
    with open(certPath, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(keyPath, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return certPath, keyPath


def summarize(stats, measured, cpuSeconds, memory):
    """
    The figures of one load run, as a dict.
    """
    total = stats.completed
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
        "server_cpu_us_per_request": (
            cpuSeconds / total * 1e6 if total and cpuSeconds is not None else None
        ),
        "server_rss_mb": memory[0] / 2**20 if memory else None,
        "server_peak_rss_mb": memory[1] / 2**20 if memory else None,
        "by_type": perType,
    }


def printReport(title, figures, out=sys.stdout):
    w = out.write
    w("\n== %s ==\n" % (title,))
    w("%d requests in %.1f s: %.0f requests/s; latency p50 %.2f ms, p90 %.2f ms, "
      "p99 %.2f ms, max %.2f ms\n" % (
          figures["requests"], figures["seconds"], figures["requests_per_s"],
          figures["p50_ms"], figures["p90_ms"], figures["p99_ms"], figures["max_ms"]))
    if figures["server_cpu_us_per_request"] is not None:
        w("server CPU %.1f us/request; server memory %.1f MB resident, %.1f MB peak\n" % (
            figures["server_cpu_us_per_request"], figures["server_rss_mb"],
            figures["server_peak_rss_mb"]))
    w("errors %d, refusals %d\n" % (figures["errors"], figures["refusals"]))
    w("%-4s %8s %9s %9s %9s %9s %8s\n" % ("type", "count", "p50 ms", "p90 ms", "p99 ms",
                                         "max ms", "refused"))
    for kind, row in figures["by_type"].items():
        w("%-4s %8d %9.2f %9.2f %9.2f %9.2f %8d\n" % (
            kind, row["count"], row["p50_ms"], row["p90_ms"], row["p99_ms"],
            row["max_ms"], row["refusals"]))


def run(args):
    """
    The C{sip2acs bench} command.
    """
    out = sys.stdout
    if args.client_core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_core})
    _raiseFileLimit(args.idle + 1024 if args.idle else 4096)
    report = {"machine": _machine(), "date": datetime.now().isoformat(timespec="seconds"),
              "command": " ".join(sys.argv)}
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
            tls = _makeCertificate(workdir) if args.tls else None
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
            report["idle"] = _react(_idleRun, host, port, args.idle, pid, kioskTLS, out)
        else:
            marks = {}

            def onStart():
                marks["cpu"] = processCPU(pid) if pid else None

            stats, measured = _react(
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


@inlineCallbacks
def _idleRun(reactor, host, port, count, pid, tls, out):
    before = processMemory(pid)[0] if pid else None
    started = time.perf_counter()
    fleet = yield runIdle(reactor, host, port, count, tls)
    elapsed = time.perf_counter() - started
    yield deferLater(reactor, 1)
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


def register(subparsers):
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


def benchLibrary(options, reactor):
    """
    An adapter factory (for an institution's C{adapter} key) giving a
    L{MemoryILS} with the patrons and items of C{sip2acs bench}'s data set:
    C{sip2acs bench --ils memory} measures the server without SQLite.

    @param options: C{patrons} and C{items}: how many.
    """
    ils = MemoryILS(
        [MemoryPatron("BP%06d" % n, "Bench Patron %d" % n) for n in range(options["patrons"])],
        [MemoryItem("BI%07d" % n, "Bench Title %d" % n) for n in range(options["items"])],
    )
    ils.calls = _Discard()
    ils.name = "memory-bench"
    return ils


class _Discard(list):
    def append(self, value):
        pass
