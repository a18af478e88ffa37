"""
Moving a library in: the sample library of C{tests/data/migration} (its
branches, patrons, items, fees, loans and holds, as another system would
export them) imported with C{sip2acs db import} into SQLite and
PostgreSQL, then read back through the adapter as a kiosk's 63 would; and
the new imports' errors.
"""

import contextlib
import io
import os
from datetime import datetime, timezone
from decimal import Decimal

from twisted.internet import reactor
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.ils.postgres import PostgresILS
from sip2acs.ils.sqlite import SQLiteILS
from sip2acs.ils.values import Terminal
from sip2acs.tools import dbcli
from tests.postgres import freshDatabase

SAMPLE = os.path.join(os.path.dirname(__file__), "data", "migration")

ORDER = ("branches", "patrons", "items", "fees", "loans", "holds")
"""
The files of the sample library, in the order they are imported.
"""

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)

TERMINAL = Terminal(account="kiosk", institution="MIG", location="MAIN")


def runDB(*argv: str) -> tuple[int, str, str]:
    """
    Run C{sip2acs db ARGV...}.

    @return: The exit code, standard output and standard error.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = dbcli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


class MigrationMixin:
    """
    The sample library migrated into the database of L{database}, and
    checked through the adapter of L{startILS}.
    """

    def database(self) -> str:
        raise NotImplementedError()

    def makeILS(self, database: str):
        raise NotImplementedError()

    async def test_sampleLibrary(self) -> None:
        """
        Every file of the sample library imports; patron P1's 63 then shows
        the balance, loans and holds the files described.
        """
        database = self.database()
        code, out, err = runDB("init", "--database", database, "--institution", "MIG")
        self.assertEqual((code, err), (0, ""))
        for kind in ORDER:
            path = os.path.join(SAMPLE, kind + ".csv")
            code, out, err = runDB("import", kind, path, "--database", database)
            self.assertEqual((code, err), (0, ""), kind)
            if kind == "patrons":
                self.assertIn("separated by semicolons", out)
        ils = self.makeILS(database)
        await ils.startService()
        self.addCleanup(ils.stopService)
        patron = await ils.lookupPatron(TERMINAL, "P1", "1234")
        self.assertTrue(patron.found)
        self.assertTrue(patron.pinValid)
        self.assertEqual(patron.feeAmount, Decimal("7.50"))
        self.assertEqual(
            [(ref.itemId, ref.dueDate) for ref in patron.chargedItems],
            [("I1", datetime(2024, 5, 22, 23, 59, tzinfo=timezone.utc))],
        )
        self.assertEqual(
            [(ref.itemId, ref.title) for ref in patron.holdItems],
            [("", "Dune"), ("I5", "Ulysses")],
        )
        self.assertEqual(
            [ref.title for ref in patron.unavailableHoldItems], ["Dune", "Ulysses"]
        )
        other = await ils.lookupPatron(TERMINAL, "P2", "4321")
        self.assertEqual(other.feeAmount, Decimal("1.00"))
        self.assertEqual([ref.itemId for ref in other.chargedItems], ["I4"])
        self.assertEqual([ref.itemId for ref in other.holdItems], ["I3"])
        self.assertEqual(list(other.unavailableHoldItems), [])
        held = await ils.lookupItem(TERMINAL, "I3")
        self.assertEqual(held.circulationStatus, "08")
        charged = await ils.lookupItem(TERMINAL, "I1")
        self.assertEqual(charged.circulationStatus, "04")


class SQLiteMigrationTests(MigrationMixin, TestCase):
    """
    The sample library into SQLite.
    """

    def database(self) -> str:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        return os.path.join(folder, "library.sqlite3")

    def makeILS(self, database: str):
        return SQLiteILS(database, reactor, clock=lambda: NOW, zone=timezone.utc)


class PostgresMigrationTests(MigrationMixin, TestCase):
    """
    The sample library into PostgreSQL.
    """

    def database(self) -> str:
        return freshDatabase(self)

    def makeILS(self, database: str):
        return PostgresILS(database, reactor, clock=lambda: NOW, zone=timezone.utc)


class ImportErrorTests(SynchronousTestCase):
    """
    What the new imports refuse, and what C{db import} says.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.database = os.path.join(self.folder, "db.sqlite3")

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.folder, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def library(self) -> None:
        """
        The sample's branches, patrons and items in the database.
        """
        runDB("init", "--database", self.database, "--institution", "MIG")
        for kind in ("branches", "patrons", "items"):
            runDB("import", kind, os.path.join(SAMPLE, kind + ".csv"),
                  "--database", self.database)

    def test_missingDatabase(self) -> None:
        """
        A missing database is refused in one sentence; C{--create} creates
        it as C{db init} would.
        """
        path = os.path.join(SAMPLE, "branches.csv")
        code, out, err = runDB("import", "branches", path, "--database", self.database)
        self.assertEqual(code, 1)
        self.assertIn("does not exist; create it with sip2acs db init", err)
        self.assertFalse(os.path.exists(self.database))
        code, out, err = runDB("import", "branches", path, "--database", self.database,
                               "--create", "--institution", "MIG")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("imported 2 branches", out)

    def test_badDates(self) -> None:
        """
        A date that is not YYYY-MM-DD names the expected form, with its
        line, in every import.
        """
        self.library()
        cases = [
            ("patrons", "barcode,expires\nP9,2027-12-31\nP8,2027-01-01\nP7,31/12/2027\n",
             "line 4: expires '31/12/2027' is not a date: write YYYY-MM-DD"),
            ("loans", "patron,item,out,due\nP1,I2,2024-05-01,22.05.2024\n",
             "line 2: due '22.05.2024' is not a date: write YYYY-MM-DD or"
             " YYYY-MM-DD HH:MM"),
        ]
        for kind, text, expected in cases:
            path = self.write(kind + ".csv", text)
            code, out, err = runDB("import", kind, path, "--database", self.database)
            self.assertEqual(code, 1)
            self.assertIn("nothing imported", err)
            self.assertIn(expected, err)

    def test_refusedRows(self) -> None:
        """
        Unknown patrons and items, an item on loan twice, a due date before
        the out date, and queue positions against the placed dates are
        refused with their lines; nothing is imported.
        """
        self.library()
        cases = [
            ("P1,I1,2024-05-01,2024-05-22\nP2,I1,2024-05-01,2024-05-22\n",
             "line 3: item I1 is already on line 2"),
            ("P1,I1,2024-05-01,2024-05-22\nP9,I2,2024-05-01,2024-05-22\n",
             "line 3: there is no patron P9 (import the patrons first)"),
            ("P2,I4,2024-05-10,2024-05-01\n",
             "line 2: the due date 2024-05-01 is before the out date 2024-05-10"),
        ]
        for rows, expected in cases:
            loans = self.write("loans.csv", "patron,item,out,due\n" + rows)
            code, out, err = runDB("import", "loans", loans, "--database", self.database)
            self.assertEqual(code, 1)
            self.assertIn(expected, err)
        holds = self.write(
            "holds.csv",
            "patron,title,placed,position\nP1,T2,2024-04-02,1\nP2,T2,2024-04-01,2\n",
        )
        code, out, err = runDB("import", "holds", holds, "--database", self.database)
        self.assertEqual(code, 1)
        self.assertIn("line 3: position 2 was placed before position 1 (line 2)", err)
        code, out, err = runDB("import", "loans", os.path.join(SAMPLE, "loans.csv"),
                               "--database", self.database)
        self.assertEqual(code, 0)
        code, out, err = runDB("import", "loans", os.path.join(SAMPLE, "loans.csv"),
                               "--database", self.database)
        self.assertEqual(code, 1)
        self.assertIn("line 2: item I1 is on loan already", err)

    def test_institution(self) -> None:
        """
        An institution column naming another institution than the
        configuration's (or the database's) is imported with a warning.
        """
        self.library()
        path = self.write("b.csv", "code;name;institution\nWEST;West;OTHER\n")
        code, out, err = runDB("import", "branches", path, "--database", self.database)
        self.assertEqual(code, 0)
        self.assertIn("separated by semicolons", out)
        self.assertIn(
            "warning: %s: line 2: the institution OTHER (1 rows) is not MIG, the"
            " configuration's" % (path,), err,
        )
        path = self.write("b2.csv", "code,institution\nNORTH,MIG\n")
        code, out, err = runDB("import", "branches", path, "--database", self.database)
        self.assertEqual((code, err), (0, ""))
