# -*- test-case-name: tests.test_bench -*-
"""
The bench's data set: its institution and SC account (and the gateway's
upstream account, for C{--gateway}), the SQLite or
PostgreSQL database loaded through the project's own import path
(L{generateData}; L{holdsPatrons} says whether a PostgreSQL database has
it already), and the
same patrons and items in the in-memory adapter (L{benchLibrary}, for
C{--ils memory}).

Patrons are C{BP000000}, C{BP000001}...; items C{BI0000000},
C{BI0000001}...; every patron with a PIN has C{1234}.
"""

import os
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

import psycopg

from sip2acs.ils.memory import MemoryILS, MemoryItem, MemoryPatron
from sip2acs.ils.postgres.store import Location, explained
from sip2acs.ils.sql.store import DatabaseError
from sip2acs.tools import dbcli

__all__ = [
    "INSTITUTION",
    "LOGIN",
    "PASSWORD",
    "GATEWAY_LOGIN",
    "GATEWAY_PASSWORD",
    "generateData",
    "holdsPatrons",
    "transactionCounts",
    "benchLibrary",
    "patronId",
    "itemId",
]

INSTITUTION = "BENCH"
LOGIN = "bench"
PASSWORD = "bench-password"
GATEWAY_LOGIN = "bench-gateway"
GATEWAY_PASSWORD = "bench-gateway-password"
"""
The upstream login of C{sip2acs bench --gateway}'s gateway (its pool's
connections log in to the upstream sip2acs with it).
"""


def patronId(n: int) -> str:
    """
    The barcode of the bench's patron number C{n}.
    """
    return "BP%06d" % (n,)


def itemId(n: int) -> str:
    """
    The barcode of the bench's item number C{n}.
    """
    return "BI%07d" % (n,)


def _write(path: str, lines: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


def generateData(
    workdir: str, patrons: int, items: int, pins: bool = False, out: IO[str] = sys.stdout,
    database: str | None = None, passwordFile: str | None = None,
    cpu: dict[str, float] | None = None,
) -> tuple[str, dict[str, float]]:
    """
    Create a benchmark database with the project's own import path
    (C{sip2acs db init} and C{import}).

    @param workdir: Where the CSV files (and a new SQLite database) go.
    @param database: The database to load: a PostgreSQL URL (of an empty
        database), or a SQLite path; by default C{bench.sqlite3} in
        C{workdir}.
    @param passwordFile: For a PostgreSQL URL: the C{--password-file} of
        the db commands.
    @param cpu: If given, filled with the CPU seconds of this process for
        each step (the import runs in it; on a busy machine its elapsed
        time says more of the machine than of the import).
    @return: C{(database, {step: seconds})}.
    """
    if database is None:
        database = os.path.join(workdir, "bench.sqlite3")
    where = ["--database", database]
    if passwordFile is not None:
        where += ["--password-file", passwordFile]
    rules = os.path.join(workdir, "rules.csv")
    patronsCSV = os.path.join(workdir, "patrons.csv")
    itemsCSV = os.path.join(workdir, "items.csv")
    _write(rules, ["patron_class,item_type,loan_days,max_loans,max_renewals\n",
                   "*,*,21,1000,5\n"])
    _write(patronsCSV, ["barcode,name,pin\n"] + [
        "%s,Bench Patron %d,%s\n" % (patronId(n), n, "1234" if pins else "")
        for n in range(patrons)])
    _write(itemsCSV, ["barcode,title,call_number\n"] + [
        "%s,Bench Title %d,BEN %07d\n" % (itemId(n), n, n) for n in range(items)])
    timings = {}
    for step, argv in [
        ("init", ["init", *where, "--institution", INSTITUTION, "--branch", "MAIN"]),
        ("rules", ["import", "rules", rules, "--replace", *where]),
        ("patrons", ["import", "patrons", patronsCSV, *where]),
        ("items", ["import", "items", itemsCSV, *where]),
    ]:
        started, processor = time.perf_counter(), time.process_time()
        if dbcli.main(argv) != 0:
            raise SystemExit("bench: generating the data set failed at %s" % (step,))
        timings[step] = time.perf_counter() - started
        if cpu is not None:
            cpu[step] = time.process_time() - processor
    return database, timings


def holdsPatrons(database: str, passwordFile: str | None = None) -> bool:
    """
    Whether the PostgreSQL database C{database} holds patrons already (a
    data set loaded by an earlier run), rather than nothing.

    @raise DatabaseError: It cannot be reached; the message says why.
    """
    location = Location.fromURL(database, passwordFile)
    try:
        with location.connect(dbcli.TIMEOUT) as connection:
            row = connection.execute("SELECT to_regclass('patrons') IS NOT NULL").fetchone()
            if row is None or not row[0]:
                return False
            row = connection.execute("SELECT EXISTS (SELECT 1 FROM patrons)").fetchone()
            return bool(row and row[0])
    except psycopg.Error as e:
        raise (explained(e, location) or DatabaseError(str(e).strip())) from e


def transactionCounts(database: str, passwordFile: str | None = None) -> tuple[int, int]:
    """
    The transactions PostgreSQL has committed and rolled back in the
    database C{database} (C{pg_stat_database}; its figures lag up to a
    second). The embedded system rolls back only a transaction that
    failed, mostly one aborted for a concurrent one and retried.

    @return: C{(committed, rolled back)}.
    """
    location = Location.fromURL(database, passwordFile)
    with location.connect(dbcli.TIMEOUT) as connection:
        row = connection.execute(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()").fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def benchLibrary(options: dict[str, Any], reactor: Any) -> MemoryILS:
    """
    An adapter factory (for an institution's C{adapter} key) giving a
    L{MemoryILS} with the patrons and items of C{sip2acs bench}'s data set:
    C{sip2acs bench --ils memory} measures the server without SQLite.

    @param options: C{patrons} and C{items}: how many.
    """
    ils = MemoryILS(
        [MemoryPatron(patronId(n), "Bench Patron %d" % n) for n in range(options["patrons"])],
        [MemoryItem(itemId(n), "Bench Title %d" % n) for n in range(options["items"])],
    )
    ils.calls = _Discard()
    ils.name = "memory-bench"
    return ils


class _Discard(list[Any]):
    """
    A call log that keeps nothing, so that a long run does not grow it.
    """

    def append(self, value: Any) -> None:
        pass
