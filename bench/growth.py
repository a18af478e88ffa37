"""
How sip2acs's cost grows with the kiosks and with the library (issue 14).

    python bench/growth.py --kiosks 1,10,100,1000,5000
    python bench/growth.py --items 100000,1000000 --load-kiosks 100
    python bench/growth.py --plans
    python bench/growth.py --kiosks 1,10 --items 200,400 --plans --json growth.json

C{--kiosks}: one data set (C{--patrons}, C{--data-items}) made with
C{sip2acs db import}; for each kiosk count a fresh C{twistd sip2acs} on it,
pinned to C{--server-core}, runs C{sip2acs bench}'s load (63, 17, 11, 09)
from C{--client-core}. The table: kiosks, requests/s, p50, p99, server CPU
per request (from /proc) and the server's peak resident memory.

C{--items}: for each size a data set made through the import path (the
import of the items timed on its own), then the same load at
C{--load-kiosks} kiosks (server CPU per request), then one kiosk (the p50
latency of each of 63, 17, 11 and 09: the per-operation cost, with no
queueing), and the CPU of each operation run in-process on the
L{Circulation <sip2acs.ils.sqlite.circulation.Circulation>} class
directly (no SIP2, no network: the SQL alone).

C{--plans}: one 63, 17, 11, 09, a hold (15) on a lent item and the
checkin that traps it run through the L{Circulation} class directly with
C{sqlite3}'s trace callback recording each statement they execute (the
statements come from the code, not from a list here); each distinct one
is printed with SQLite's C{EXPLAIN QUERY PLAN} on the largest data set
generated (or one of C{--data-items} items). The trace gives each statement
with its values written in; the plan is of that text (the code's literals,
such as the active hold statuses, are literals in both). A plan line that
reads C{SCAN} of a table that grows with the library (L{BIG_TABLES}) is
flagged.
"""

import argparse
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from sip2acs.ils.sqlite.circulation import Circulation
from sip2acs.ils.sqlite.store import openDatabase
from sip2acs.ils.values import CheckinRequest, CheckoutRequest, HoldRequest, Terminal
from sip2acs.tools.bench.data import INSTITUTION, LOGIN, generateData, itemId, patronId
from sip2acs.tools.bench.load import raiseFileLimit, react, runLoad
from sip2acs.tools.bench.report import loadAverage, machine, summarize
from sip2acs.tools.bench.server import Server, processCPU, processMemory

BIG_TABLES = ("patrons", "items", "loans", "holds", "fees", "transaction_log")
"""
The tables that grow with the library: a plan must never scan them.
"""

OPERATIONS = ("63", "17", "11", "09")


def counts(text: str) -> list[int]:
    """
    A comma-separated list of counts (C{"1,10,1000"}; C{"1_000_000"} is
    read too) as positive integers, for argparse.
    """
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected numbers separated by commas, not %r"
                                         % (text,)) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive numbers, not %r" % (text,))
    return values


def measure(args: argparse.Namespace, server: Server, kiosks: int, patrons: int,
            items: int) -> dict[str, Any]:
    """
    Run C{kiosks} kiosks at C{server} and return C{sip2acs bench}'s
    figures, with the server's CPU over the measured window.
    """
    marks: dict[str, float] = {}

    def mark(name: str) -> Callable[[], None]:
        return lambda: marks.__setitem__(name, processCPU(server.pid))

    stats, measured = react(
        runLoad, "127.0.0.1", server.ports[0], kiosks, args.duration, args.warmup,
        patrons, items, False, None, mark("start"), mark("stop"))
    return summarize(stats, measured, marks["stop"] - marks["start"],
                     processMemory(server.pid))


def serve(args: argparse.Namespace, folder: str, database: str) -> Server:
    """
    A fresh C{twistd sip2acs} on C{database}, pinned as asked.
    """
    return Server(folder, database, args.server_core, logger=args.server_logger)


def _us(value: float | None) -> str:
    return "%.1f" % (value,) if value is not None else "-"


def kioskSweep(args: argparse.Namespace, workdir: str, out: IO[str]) -> dict[str, Any]:
    """
    The C{--kiosks} run: the load at each kiosk count on one data set.
    """
    folder = os.path.join(workdir, "kiosks")
    os.makedirs(folder, exist_ok=True)
    out.write("generating %d patrons and %d items with sip2acs db import...\n"
              % (args.patrons, args.data_items))
    database, timings = generateData(folder, args.patrons, args.data_items, False, out)
    rows = []
    for kiosks in args.kiosks:
        out.write("%d kiosk(s), %.1f s...\n" % (kiosks, args.duration))
        out.flush()
        server = serve(args, os.path.join(folder, "server-%d" % (kiosks,)), database)
        try:
            figures = measure(args, server, kiosks, args.patrons, args.data_items)
        finally:
            server.stop()
        rows.append({"kiosks": kiosks, **figures})
    out.write("\n== CPU per request by kiosks (%d patrons, %d items, SQLite, %s logging) ==\n"
              % (args.patrons, args.data_items, args.server_logger))
    out.write("%8s %11s %8s %8s %12s %8s %7s\n" % (
        "kiosks", "requests/s", "p50 ms", "p99 ms", "CPU us/req", "RSS MB", "errors"))
    for row in rows:
        out.write("%8d %11.0f %8.2f %8.2f %12s %8.1f %7d\n" % (
            row["kiosks"], row["requests_per_s"], row["p50_ms"], row["p99_ms"],
            _us(row["server_cpu_us_per_request"]), row["server_peak_rss_mb"] or 0,
            row["errors"] + row["refusals"]))
    return {"database": database, "import_seconds": timings, "runs": rows}


def directCost(database: str, patrons: int, items: int, rounds: int) -> dict[str, float]:
    """
    The CPU microseconds of each of 63, 17, 11 and 09 run in this process
    on the L{Circulation} class directly (C{rounds} times each, over
    items spread through the data set): the SQL alone, no SIP2 or network,
    each change committed on its own with C{synchronous = full}, as the
    server's group of one does.

    @return: The microseconds by message type, and C{"refused"}: how many
        of the checkouts and checkins were refused (none, on a bench data
        set).
    """
    conn, _ = openDatabase(database, "full", create=False)
    try:
        circulation = Circulation(conn)
        terminal = Terminal(LOGIN, INSTITUTION, "MAIN")
        spent = dict.fromkeys(OPERATIONS, 0.0)
        refused = 0
        stride = max(1, items // rounds)
        for n in range(rounds):
            patron = patronId((n * 7919) % patrons)
            item = itemId((n * stride + 7) % items)
            calls: list[tuple[str, Callable[..., Any], Any]] = [
                ("63", circulation.lookupPatron, patron),
                ("17", circulation.lookupItem, item),
                ("11", circulation.checkout, CheckoutRequest(patron, item)),
                ("09", circulation.checkin, CheckinRequest(item, "MAIN")),
            ]
            for kind, call, argument in calls:
                started = time.process_time()
                result = call(terminal, argument)
                spent[kind] += time.process_time() - started
                refused += not getattr(result, "ok", True)
        return {**{kind: seconds / rounds * 1e6 for kind, seconds in spent.items()},
                "refused": refused}
    finally:
        conn.close()


def itemSweep(args: argparse.Namespace, workdir: str, out: IO[str]) -> dict[str, Any]:
    """
    The C{--items} run: for each library size, the import, the load at
    C{--load-kiosks}, one kiosk's latency per operation and the in-process
    cost per operation.
    """
    rows = []
    for size in args.items:
        folder = os.path.join(workdir, "items-%d" % (size,))
        os.makedirs(folder, exist_ok=True)
        out.write("generating %d patrons and %d items with sip2acs db import...\n"
                  % (args.patrons, size))
        out.flush()
        cpu: dict[str, float] = {}
        database, timings = generateData(folder, args.patrons, size, False, out, cpu=cpu)
        out.write("%d items imported in %.2f s (%.2f s of CPU)\n"
                  % (size, timings["items"], cpu["items"]))
        server = serve(args, os.path.join(folder, "server"), database)
        try:
            out.write("%d items: %d kiosk(s), %.1f s...\n" % (size, args.load_kiosks,
                                                             args.duration))
            out.flush()
            loaded = measure(args, server, args.load_kiosks, args.patrons, size)
            out.write("%d items: 1 kiosk, %.1f s...\n" % (size, args.duration))
            out.flush()
            alone = measure(args, server, 1, args.patrons, size)
        finally:
            server.stop()
        direct = directCost(database, args.patrons, size, args.rounds)
        rows.append({"items": size, "database": database, "import_seconds": timings,
                     "import_cpu_seconds": cpu, "load": loaded, "one_kiosk": alone,
                     "direct_cpu_us": direct})
    out.write("\n== Cost by library size (%d patrons; load: %d kiosks; per operation: "
              "1 kiosk's p50, and CPU in-process on Circulation) ==\n"
              % (args.patrons, args.load_kiosks))
    out.write("%10s %9s %9s %11s %12s %s %s %7s\n" % (
        "items", "import s", "CPU s", "requests/s", "CPU us/req",
        " ".join("%7s" % ("p50 " + k,) for k in OPERATIONS),
        " ".join("%7s" % ("us " + k,) for k in OPERATIONS), "errors"))
    for row in rows:
        byType = row["one_kiosk"]["by_type"]
        out.write("%10d %9.2f %9.2f %11.0f %12s %s %s %7d\n" % (
            row["items"], row["import_seconds"]["items"], row["import_cpu_seconds"]["items"],
            row["load"]["requests_per_s"],
            _us(row["load"]["server_cpu_us_per_request"]),
            " ".join("%7.3f" % (byType[k]["p50_ms"],) if k in byType else "%7s" % "-"
                     for k in OPERATIONS),
            " ".join("%7.1f" % (row["direct_cpu_us"][k],) for k in OPERATIONS),
            sum(run["errors"] + run["refusals"] for run in (row["load"], row["one_kiosk"]))
            + row["direct_cpu_us"]["refused"]))
    out.write("(import: the items file alone, elapsed and CPU; p50 in ms at 1 kiosk;"
              " us: CPU microseconds in-process)\n")
    return {"runs": rows}


_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def shape(sql: str) -> str:
    """
    A traced statement with its literals (the values SQLite expanded into
    it) replaced by C{?}: statements differing only in values are one.
    """
    return " ".join(_LITERALS.sub("?", sql).split())


def recordStatements(database: str) -> list[tuple[str, str]]:
    """
    Run one 63, 17, 11 and 09, a hold (15) by another patron on a lent
    item and the checkin that traps it, through the L{Circulation} class
    directly, recording every statement SQLite executes.

    @return: C{(operation, statement with its values)} for each distinct
        statement shape, in the order first seen.
    """
    conn, _ = openDatabase(database, create=False)
    seen: dict[str, tuple[str, str]] = {}
    current = [""]

    def trace(sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE"):
            seen.setdefault(shape(sql), (current[0], sql))

    try:
        circulation = Circulation(conn)
        terminal = Terminal(LOGIN, INSTITUTION, "MAIN")
        patron, other, item = patronId(0), patronId(1), itemId(3)
        conn.set_trace_callback(trace)
        for name, call in (
            ("63", lambda: circulation.lookupPatron(terminal, patron)),
            ("17", lambda: circulation.lookupItem(terminal, item)),
            ("11", lambda: circulation.checkout(terminal, CheckoutRequest(patron, item))),
            ("09", lambda: circulation.checkin(terminal, CheckinRequest(item, "MAIN"))),
            ("11", lambda: circulation.checkout(terminal, CheckoutRequest(patron, item))),
            ("15", lambda: circulation.hold(terminal, HoldRequest("add", other, item))),
            ("09 trap", lambda: circulation.checkin(terminal, CheckinRequest(item, "MAIN"))),
            ("15 cancel", lambda: circulation.hold(terminal, HoldRequest("cancel", other, item))),
            ("63 holds", lambda: circulation.lookupPatron(terminal, other)),
        ):
            current[0] = name
            call()
        conn.set_trace_callback(None)
    finally:
        conn.close()
    return list(seen.values())


_TABLES = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", re.IGNORECASE)
_KEYWORDS = {"WHERE", "JOIN", "LEFT", "INNER", "CROSS", "ON", "ORDER", "GROUP", "LIMIT",
             "USING", "SET", "VALUES", "UNION", "NATURAL", "OUTER", "HAVING"}


def scans(sql: str, plan: list[str]) -> list[str]:
    """
    The lines of C{sql}'s query plan that scan a big table (L{BIG_TABLES},
    by name or by the alias C{sql} gives it): a C{SCAN}, even of an index,
    reads the whole table or index.
    """
    names = {table.lower(): table.lower() for table in BIG_TABLES}
    for table, alias in _TABLES.findall(sql):
        if alias and alias.upper() not in _KEYWORDS:
            names[alias.lower()] = table.lower()
    found = []
    for line in plan:
        match = re.match(r"\s*SCAN (\w+)", line)
        if match and names.get(match.group(1).lower()) in BIG_TABLES:
            found.append(line)
    return found


def explainPlans(database: str, out: IO[str]) -> dict[str, Any]:
    """
    The C{--plans} run: each statement the hot operations execute, with
    SQLite's C{EXPLAIN QUERY PLAN} on C{database}.
    """
    statements = recordStatements(database)
    conn = sqlite3.connect(database)
    size = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    out.write("\n== Query plans of the statements 63, 17, 11, 09 and 15 run (%d items) ==\n"
              % (size,))
    results = []
    try:
        for operation, sql in statements:
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            flagged = scans(sql, plan)
            out.write("\n[%s] %s\n" % (operation, shape(sql)))
            for line in plan or ["(no table access)"]:
                out.write("    %s%s\n" % (line, "   <-- SCAN of a big table"
                                        if line in flagged else ""))
            results.append({"operation": operation, "sql": shape(sql), "plan": plan,
                            "big_scans": flagged})
    finally:
        conn.close()
    bad = [r for r in results if r["big_scans"]]
    out.write("\n%d statements; %s\n" % (
        len(results), "every lookup of a big table uses an index" if not bad
        else "%d scan a big table" % (len(bad),)))
    return {"items": size, "statements": results}


def main(argv: list[str] | None = None, out: IO[str] = sys.stdout) -> int:
    """
    The command: the sweeps asked for, then the plans, each as a table.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=counts, help="kiosk counts, e.g. 1,10,100,1000,5000")
    parser.add_argument("--items", type=counts, help="library sizes, e.g. 100000,1000000")
    parser.add_argument("--plans", action="store_true",
                        help="print EXPLAIN QUERY PLAN for each statement 63/17/11/09/15 run")
    for flag, kind, default, text in [
        ("--patrons", int, 10000, "patrons in each data set"),
        ("--data-items", int, 100000,
         "items in --kiosks's data set (and --plans's without --items)"),
        ("--load-kiosks", int, 100, "kiosks for each --items size's load"),
        ("--rounds", int, 500, "in-process 63/17/11/09 rounds per --items size"),
        ("--duration", float, 5.0, "measured seconds per run"),
        ("--warmup", float, 2.0, "seconds before measuring"),
        ("--server-core", int, 0, "the server's core; -1: no pinning"),
        ("--client-core", int, 1, "the load generator's core; -1: no pinning"),
    ]:
        parser.add_argument(flag, type=kind, default=default, help=text + " (default %(default)s)")
    parser.add_argument("--server-logger", choices=("default", "fast"), default="default",
                        help="the server's logging, as in sip2acs bench")
    parser.add_argument("--workdir", help="keep the data sets and logs here")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if not (args.kiosks or args.items or args.plans):
        parser.error("say what to measure: --kiosks, --items and/or --plans")
    if args.client_core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_core})
    # The server inherits the limit: each kiosk is a descriptor on both sides.
    raiseFileLimit(2 * max(args.kiosks or [0]) + 1024)
    report: dict[str, Any] = {
        "machine": machine(), "date": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv), "load_average_before": loadAverage()}
    workdir = args.workdir or tempfile.mkdtemp(prefix="sip2acs-growth-")
    os.makedirs(workdir, exist_ok=True)
    try:
        planned = None
        if args.kiosks:
            report["kiosks"] = kioskSweep(args, workdir, out)
            planned = report["kiosks"]["database"]
        if args.items:
            report["items"] = itemSweep(args, workdir, out)
            planned = report["items"]["runs"][-1]["database"]
        if args.plans:
            if planned is None:
                folder = os.path.join(workdir, "plans")
                os.makedirs(folder, exist_ok=True)
                planned, _ = generateData(folder, args.patrons, args.data_items, False, out)
            report["plans"] = explainPlans(planned, out)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report["load_average_after"] = loadAverage()
    out.write("machine load (1, 5, 15 min): %s at the start, %s at the end\n"
              % (report["load_average_before"], report["load_average_after"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
