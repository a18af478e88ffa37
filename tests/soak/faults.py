"""
Inject faults into a real sip2acs under kiosk load and check the ledger:
every operation the server acknowledged is in the database, and every
operation it refused is not.

    .venv/bin/python tests/soak/faults.py              # every scenario
    .venv/bin/python tests/soak/faults.py lock sigterm # some of them

Scenarios (each on a fresh library, bounded in time):
  lock     another process holds the database's write lock for longer than
           the ILS timeout while kiosks check out, check in and pay
  sigkill  SIGKILL under load
  sigterm  SIGTERM under load: requests in flight are answered, no traceback
  delete   the database file is deleted under load: writes stop being
           acknowledged, /health goes red, and a restart refuses to start
  abuse    a client that never reads, a telnet IAC flood, 200 parallel wrong
           passwords, a half-closing monitoring probe

Exits 1 if any scenario finds a defect.
"""

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (  # noqa: E402
    INSTITUTION,
    PIN,
    Connection,
    Server,
    makeLibrary,
    sipNow,
    tempdir,
)

KIOSKS = 4


class Kiosk(threading.Thread):
    """
    One kiosk: check out its items one by one, check every third one back
    in, pay 0.01 every fifth step; record each answer as ok, refused or
    unknown (no answer). A refused item is never tried again.
    """

    def __init__(self, number, server, ledger, stop):
        threading.Thread.__init__(self, daemon=True)
        self.number = number
        self.server = server
        self.ledger = ledger
        self.stop = stop
        self.answered = 0

    def step(self, conn, kind, key, frame, field):
        try:
            answer = conn.ask(frame.encode("ascii"))
        except OSError:
            answer = None
        if answer is None:
            self.ledger.append((kind, key, "unknown", self.number))
            return False
        self.answered += 1
        ok = answer[field:field + 1] in (b"1", b"Y")
        self.ledger.append((kind, key, "ok" if ok else "refused", self.number))
        return True

    def run(self):
        try:
            conn = Connection(self.server.ports[0], timeout=120).login()
        except (OSError, SystemExit):
            return
        blank = " " * 18
        for index in range(100000):
            if self.stop.is_set():
                break
            now = sipNow()
            item = "K%d-%05d" % (self.number, index)
            if not self.step(conn, "checkout", item, "11NN%s%sAO%s|AAPK%d|AB%s|AC|AD%s|" % (
                    now, blank, INSTITUTION, self.number, item, PIN), 2):
                break
            if index % 3 == 0 and not self.step(
                    conn, "checkin", item,
                    "09N%s%sAPMAIN|AO%s|AB%s|AC|" % (now, now, INSTITUTION, item), 2):
                break
            if index % 5 == 0:
                payment = "PAY-%d-%d" % (self.number, index)
                if not self.step(conn, "payment", payment, "37%s0100USDBV0.01|AO%s|AAPK%d|BK%s|" % (
                        now, INSTITUTION, self.number, payment), 2):
                    break
        conn.close()


def reconcile(database, ledger, unansweredMustBeUndone=False):
    """
    The ledger's entries that the database contradicts.

    @param unansweredMustBeUndone: Whether an operation that got no answer
        must have had no effect either (on a graceful stop, every request
        the server took is answered).
    """
    conn = sqlite3.connect(database)
    loans = {}
    for barcode, returned in conn.execute(
            "SELECT items.barcode, loans.checked_in_at IS NOT NULL FROM loans"
            " JOIN items ON items.id = loans.item_id WHERE loans.cancelled = 0"):
        loans.setdefault(barcode, []).append(bool(returned))
    payments = {row[0] for row in conn.execute("SELECT device_transaction_id FROM payments")}
    conn.close()
    wrong = []
    outcome = {}
    for kind, key, result, _ in ledger:
        outcome[(kind, key)] = result
    for (kind, key), result in outcome.items():
        if result == "unknown":
            if not unansweredMustBeUndone:
                continue
            if (kind == "checkout" and key in loans) or (kind == "payment" and key in payments):
                wrong.append("%s %s was done but never answered" % (kind, key))
            continue
        if kind == "checkout":
            present = key in loans
            if result == "ok" and not present:
                wrong.append("acknowledged checkout of %s is lost" % (key,))
            if result == "refused" and present:
                wrong.append("refused checkout of %s was done" % (key,))
        elif kind == "checkin":
            if outcome.get(("checkout", key)) != "ok":
                continue
            returned = any(loans.get(key, []))
            if result == "ok" and not returned:
                wrong.append("acknowledged checkin of %s is lost" % (key,))
            if result == "refused" and returned:
                wrong.append("refused checkin of %s was done" % (key,))
        elif kind == "payment":
            present = key in payments
            if result == "ok" and not present:
                wrong.append("acknowledged payment %s is lost" % (key,))
            if result == "refused" and present:
                wrong.append("refused payment %s was recorded" % (key,))
    return wrong


def counts(ledger):
    result = {}
    for _, _, outcome, _ in ledger:
        result[outcome] = result.get(outcome, 0) + 1
    return ", ".join("%d %s" % (n, name) for name, n in sorted(result.items()))


def logProblems(server, allowedTracebacks=0):
    """
    Unhandled errors, and tracebacks beyond what the scenario allows (a
    storage failure is logged once with its traceback, then summarized).
    """
    log = server.log()
    problems = []
    for marker in ("Unhandled error", "Unhandled Error"):
        if marker in log:
            problems.append("the log has %d %r" % (log.count(marker), marker))
    tracebacks = log.count("Traceback (most recent call last)")
    if tracebacks > allowedTracebacks:
        problems.append("the log has %d tracebacks (allowed: %d)" % (tracebacks, allowedTracebacks))
    return problems


def startLoad(server):
    ledger, stop = [], threading.Event()
    kiosks = [Kiosk(n, server, ledger, stop) for n in range(KIOSKS)]
    for kiosk in kiosks:
        kiosk.start()
    return ledger, stop, kiosks


def waitFor(ledger, count, seconds=60):
    deadline = time.monotonic() + seconds
    while len(ledger) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def health(server):
    try:
        url = "http://127.0.0.1:%d/health" % (server.admin,)
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def fresh(name):
    workdir = tempdir("sip2acs-%s-" % (name,))
    database = makeLibrary(workdir, patrons=KIOSKS, itemsPerPatron=3000)
    return workdir, database


def scenarioLock(args):
    workdir, database = fresh("lock")
    server = Server(workdir, database).start()
    ledger, stop, kiosks = startLoad(server)
    waitFor(ledger, 200)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2])); c.execute('ROLLBACK')\n"), database,
        str(args.lock_seconds)], stdout=subprocess.PIPE)
    holder.stdout.readline()
    print("  lock: database locked by pid %d for %d s" % (holder.pid, args.lock_seconds))
    holder.wait()
    waitFor(ledger, len(ledger) + 200)
    stop.set()
    for kiosk in kiosks:
        kiosk.join(120)
    server.stop()
    problems = reconcile(database, ledger) + logProblems(server, allowedTracebacks=3)
    print("  lock: %s" % (counts(ledger),))
    return problems


def scenarioKill(args, signal_):
    import signal
    workdir, database = fresh("kill")
    server = Server(workdir, database).start()
    ledger, stop, kiosks = startLoad(server)
    waitFor(ledger, 400)
    # Every kiosk has a request in flight now.
    server.process.send_signal(getattr(signal, signal_))
    server.process.wait(60)
    stop.set()
    for kiosk in kiosks:
        kiosk.join(60)
    server.stop()
    graceful = signal_ == "SIGTERM"
    problems = reconcile(database, ledger, unansweredMustBeUndone=graceful)
    if graceful:
        problems += logProblems(server)
    print("  %s: %s" % (signal_.lower(), counts(ledger)))
    return problems


def scenarioDelete(args):
    workdir, database = fresh("delete")
    server = Server(workdir, database).start()
    ledger, stop, kiosks = startLoad(server)
    waitFor(ledger, 200)
    os.unlink(database)
    deleted = len(ledger)
    waitFor(ledger, deleted + 100, seconds=30)
    time.sleep(1)
    status, body = health(server)
    stop.set()
    for kiosk in kiosks:
        kiosk.join(60)
    problems = []
    # The request each kiosk had in flight at the unlink may still have
    # been acknowledged; none after it.
    after, seen = [], set()
    for entry in ledger[deleted:]:
        if entry[3] in seen and entry[2] == "ok":
            after.append(entry)
        seen.add(entry[3])
    if after:
        problems.append("%d writes acknowledged after the database was deleted" % (len(after),))
    if status == 200:
        problems.append("/health is still 200 after the database was deleted: %s" % (body[:200],))
    server.stop()
    problems += logProblems(server, allowedTracebacks=3)
    if "deleted" not in server.log() and "replaced" not in server.log():
        problems.append("the log does not say the database was deleted")
    restart = Server(workdir, database, logName="restart.log")
    try:
        # The ports are bound (and logged) before the database is opened,
        # but nothing is accepted until it is.
        restart.start(timeout=20)
        restart.process.wait(20)
    except SystemExit:
        pass
    except subprocess.TimeoutExpired:
        pass
    if restart.alive() or restart.process.returncode == 0:
        problems.append("the server started again on a missing database")
        restart.stop()
    else:
        lines = [line for line in restart.log().splitlines() if "cannot start" in line]
        print("  delete: the restart exited with %d: %s"
              % (restart.process.returncode, lines[-1] if lines else restart.log()[-300:]))
        if not lines:
            problems.append("the restart did not say why it stopped")
    if os.path.exists(database):
        problems.append("a new, empty database was created at %s" % (database,))
    print("  delete: %s; /health %s" % (counts(ledger), status))
    return problems


def scenarioAbuse(args):
    workdir, database = fresh("abuse")
    server = Server(workdir, database, failuresBeforeCooloff=10).start()
    problems = []

    # A client that sends requests and never reads its answers: the
    # kernel's socket buffers on loopback hold megabytes, so send many.
    rss = server.rss()
    sock = socket.create_connection(("127.0.0.1", server.ports[0]))
    sock.sendall(b"9300CNkiosk|COkiosk-pw|CPMAIN|\r")
    sock.settimeout(2)
    sent = 0
    frame = b"9900302.00\r" * 1000
    deadline = time.monotonic() + 30
    while sent < 1000000 and time.monotonic() < deadline:
        try:
            sock.sendall(frame)
            sent += 1000
        except (TimeoutError, OSError):
            break
    time.sleep(1)
    grown = server.rss() - rss
    sock.close()
    print("  abuse: never-reading client: %d requests sent before TCP pushed back;"
          " server RSS grew %d KiB" % (sent, grown))
    if grown > 16 * 1024:
        problems.append("the server's memory grew %d KiB for a client that never reads"
                        % (grown,))

    # A telnet IAC flood before login.
    sock = socket.create_connection(("127.0.0.1", server.ports[1]))
    sock.settimeout(5)
    flood = b"\xff\xfb\x01\xff\xfd\x03" * 10000
    sent = 0
    try:
        while sent < 300 * 1024 * 1024:
            sock.sendall(flood)
            sent += len(flood)
    except OSError:
        pass
    sock.close()
    print("  abuse: telnet IAC flood: closed after %d bytes" % (sent,))
    if sent >= 300 * 1024 * 1024:
        problems.append("300 MB of telnet negotiation were accepted")

    # A monitoring probe that sends a 99 and half-closes.
    sock = socket.create_connection(("127.0.0.1", server.ports[0]))
    sock.settimeout(10)
    sock.sendall(b"9300CNkiosk|COkiosk-pw|CPMAIN|\r9900302.00\r")
    sock.shutdown(socket.SHUT_WR)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    sock.close()
    print("  abuse: half-closing probe got %r" % (data[:40],))
    if b"98" not in data:
        problems.append("a half-closing client got no answer to its 99: %r" % (data,))
    # 200 parallel wrong passwords from one address.
    answers = []

    def guess(n):
        try:
            conn = Connection(server.ports[0], timeout=30)
            answers.append(conn.ask(b"9300CNkiosk|COguess-%d|CPMAIN|" % (n,)))
            conn.close()
        except OSError:
            answers.append(None)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    print("  abuse: 200 parallel wrong passwords: %d answered 940" % (answers.count(b"940"),))
    verified = server.log().count("cooling off")
    if verified == 0:
        problems.append("200 wrong passwords did not trigger the cooling-off")

    server.stop()
    problems += logProblems(server)
    return problems


SCENARIOS = {
    "lock": scenarioLock,
    "sigkill": lambda args: scenarioKill(args, "SIGKILL"),
    "sigterm": lambda args: scenarioKill(args, "SIGTERM"),
    "delete": scenarioDelete,
    "abuse": scenarioAbuse,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help="any of: %s (default: all)" % (", ".join(SCENARIOS),))
    parser.add_argument("--lock-seconds", type=int, default=45,
                        help="how long the database stays locked (the ILS timeout is 30 s)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error("unknown scenario %s" % (", ".join(unknown),))
    failed = False
    for name in args.scenarios or list(SCENARIOS):
        started = time.monotonic()
        print("%s:" % (name,), flush=True)
        problems = SCENARIOS[name](args)
        for problem in problems[:20]:
            print("  PROBLEM:", problem)
        print("  %s in %.0f s" % ("FAILED" if problems else "ok", time.monotonic() - started),
              flush=True)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
