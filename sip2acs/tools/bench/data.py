# -*- test-case-name: tests.test_bench -*-
"""
The bench's data set: its institution and SC account, the SQLite database
generated through the project's own import path (L{generateData}), and the
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

from sip2acs.ils.memory import MemoryILS, MemoryItem, MemoryPatron
from sip2acs.tools import dbcli

__all__ = [
    "INSTITUTION",
    "LOGIN",
    "PASSWORD",
    "generateData",
    "benchLibrary",
    "patronId",
    "itemId",
]

INSTITUTION = "BENCH"
LOGIN = "bench"
PASSWORD = "bench-password"


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
    workdir: str, patrons: int, items: int, pins: bool = False, out: IO[str] = sys.stdout
) -> tuple[str, dict[str, float]]:
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
        "%s,Bench Patron %d,%s\n" % (patronId(n), n, "1234" if pins else "")
        for n in range(patrons)])
    _write(itemsCSV, ["barcode,title,call_number\n"] + [
        "%s,Bench Title %d,BEN %07d\n" % (itemId(n), n, n) for n in range(items)])
    timings = {}
    for step, argv in [
        ("init", ["init", "--database", database, "--institution",
                  INSTITUTION, "--branch", "MAIN"]),
        ("rules", ["import", "rules", rules, "--replace", "--database", database]),
        ("patrons", ["import", "patrons", patronsCSV, "--database", database]),
        ("items", ["import", "items", itemsCSV, "--database", database]),
    ]:
        started = time.perf_counter()
        if dbcli.main(argv) != 0:
            raise SystemExit("bench: generating the data set failed at %s" % (step,))
        timings[step] = time.perf_counter() - started
    return database, timings


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
