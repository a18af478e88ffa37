"""
Tests for C{sip2acs db copy} (L{sip2acs.ils.sql.copying}) and the other
C{sip2acs db} commands on PostgreSQL: a library made through the adapter
goes SQLite -> PostgreSQL -> SQLite unchanged, table by table; a
destination that holds a library is refused; a copy that fails leaves
nothing in its destination. The PostgreSQL tests use a throwaway cluster
(L{tests.postgres}) and skip without PostgreSQL outside CI.
"""

import contextlib
import io
import os
import sqlite3
from decimal import Decimal
from typing import Any

from twisted.internet import reactor
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.ils.postgres import PostgresILS, migrations
from sip2acs.ils.sql import copying
from sip2acs.ils.sql.copying import TABLES, copyLibrary
from sip2acs.ils.sqlite import SQLiteILS, openDatabase
from sip2acs.ils.sqlite.demo import loadDemo
from sip2acs.ils.sqlite.store import SQLiteStore
from sip2acs.ils.testing import CONTRACT_NOW, ILSContractMixin
from sip2acs.ils.values import (
    CheckinRequest,
    CheckoutRequest,
    HoldRequest,
    Payment,
    RenewRequest,
)
from sip2acs.passwords import verifyPassword
from sip2acs.tools import dbcli
from sip2acs.tools.ports import freePort
from tests.postgres import freshDatabase

NOW = CONTRACT_NOW
ZONE = ILSContractMixin.ZONE
TERMINAL = ILSContractMixin.terminal

LIBRARY = [table for table in TABLES if not table.reference]


def runDB(*argv: str) -> tuple[int, str, str]:
    """
    Run C{sip2acs db ARGV...}.

    @return: The exit code, and what it printed to stdout and stderr.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = dbcli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def tableRows(database: str) -> dict[str, list[tuple[Any, ...]]]:
    """
    Every row of every table of a library, in key order, by table.
    """
    with dbcli.openStore(database) as (store, _, _):
        with store.transaction(write=False):
            found = {}
            for table in TABLES:
                # SQLite's own columns (PostgreSQL's add only the rowid).
                columns = [c for c in store.columns(table.name) if c != "rowid"]
                found[table.name] = [tuple(row) for row in store.rows(
                    "SELECT %s FROM %s ORDER BY %s" % (
                        ", ".join(columns), table.name, ", ".join(table.order)
                    )
                )]
    return found


def counts(database: str) -> dict[str, int]:
    """
    The rows of each table of a library.
    """
    return {name: len(rows) for name, rows in tableRows(database).items()}


class CopyMixin:
    """
    Libraries in SQLite files, made through the adapter.
    """

    def path(self, name: str) -> str:
        folder = os.path.abspath(self.mktemp())  # type: ignore[attr-defined]
        os.makedirs(folder)
        return os.path.join(folder, name)

    def demoFile(self) -> str:
        """
        A new SQLite file holding the demo library.
        """
        path = self.path("demo.sqlite3")
        conn, _ = openDatabase(path)
        loadDemo(conn, NOW)
        conn.close()
        return path

    async def circulatedFile(self) -> str:
        """
        A new SQLite file holding the demo library, then loans, a renewal,
        a checkin, holds and payments made through L{SQLiteILS}.
        """
        path = self.demoFile()
        ils = SQLiteILS(path, reactor, clock=lambda: NOW, zone=ZONE)
        await ils.startService()
        try:
            checkout = await ils.checkout(TERMINAL, CheckoutRequest("P0001", "I0001"))
            assert checkout.ok, checkout
            await ils.renew(TERMINAL, RenewRequest("P0001", "I0003"))
            await ils.checkin(TERMINAL, CheckinRequest("I0009"))
            hold = await ils.hold(TERMINAL, HoldRequest("add", "P0009", itemId="I0012"))
            assert hold.ok, hold
            await ils.hold(TERMINAL, HoldRequest("add", "P0001", titleId="B001"))
            paid = await ils.feePaid(TERMINAL, Payment("P0005", Decimal("12.00")))
            assert paid.accepted, paid
            await ils.feePaid(TERMINAL, Payment("P0001", Decimal("1.00")))
            writeoff = await ils.feePaid(
                TERMINAL, Payment("P0001", Decimal("0.50"), writeoff=True, register="R1")
            )
            assert writeoff.accepted, writeoff
        finally:
            await ils.stopService()
        return path


class SQLiteCopyTests(CopyMixin, TestCase):
    """
    C{db copy} between two SQLite files, and its refusals and failures;
    no PostgreSQL needed.
    """

    async def test_copyToNewFile(self):
        """
        A library copied to a new file holds every row of every table, and
        the command prints the rows per table.
        """
        src = await self.circulatedFile()
        dst = self.path("copy.sqlite3")
        code, out, err = runDB("copy", src, dst)
        self.assertEqual((code, err), (0, ""))
        rows = tableRows(src)
        self.assertEqual(tableRows(dst), rows)
        self.assertTrue(rows["payments"] and rows["payment_lines"] and rows["holds"])
        self.assertTrue(rows["patron_classes"] and rows["patron_attributes"]
                        and rows["item_fields"])
        self.assertIn("  patrons                  10         10\n", out)
        self.assertIn("Every table of DST holds as many rows as SRC's", out)
        self.assertEqual(os.stat(dst).st_mode & 0o777, 0o600)

    async def test_smallBatches(self):
        """
        Rows are read in batches after the last key read, also for keys of
        two columns.
        """
        src = await self.circulatedFile()
        dst = self.path("copy.sqlite3")
        with dbcli.openStore(src) as (source, _, _), \
                dbcli.openStore(dst, create=True) as (destination, _, _):
            summary = copyLibrary(source, destination, batch=2)
        self.assertEqual(tableRows(dst), tableRows(src))
        self.assertEqual([t.name for t in summary.tables], [t.name for t in TABLES])

    def test_after(self):
        """
        The condition after a key of two columns.
        """
        self.assertEqual(
            copying._after(("a", "b"), (1, "x")),
            ("(a > ?) OR (a = ? AND b > ?)", [1, 1, "x"]),
        )

    def test_refusesLibrary(self):
        """
        A destination holding a library is refused with what it holds, and
        left as it was.
        """
        src, dst = self.demoFile(), self.demoFile()
        before = tableRows(dst)
        code, out, err = runDB("copy", src, dst)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(
            err,
            "sip2acs db copy: error: DST already holds a library (10 patrons, 21"
            " items, 2 patron attributes, 2 item fields, 11 loans, 3 holds, 3 fees,"
            " 1 transaction log rows): copy into"
            " an empty database, a new SQLite file or one fresh from sip2acs db"
            " init\n",
        )
        self.assertEqual(tableRows(dst), before)

    def test_refusesSame(self):
        """
        A database is not copied onto itself.
        """
        src = self.demoFile()
        code, _, err = runDB("copy", src, os.path.join(os.path.dirname(src), ".", "demo.sqlite3"))
        self.assertEqual(code, 1)
        self.assertIn("SRC and DST are the same database", err)

    def test_missingSource(self):
        """
        A missing source is an error, and no destination is made.
        """
        dst = self.path("copy.sqlite3")
        code, _, err = runDB("copy", dst + ".missing", dst)
        self.assertEqual(code, 1)
        self.assertIn("does not exist", err)
        self.assertFalse(os.path.exists(dst))

    def test_initialisedDestination(self):
        """
        A destination fresh from C{db init} takes the library: its
        institution and branch are replaced by the source's.
        """
        src = self.demoFile()
        dst = self.path("copy.sqlite3")
        self.assertEqual(runDB("init", "--database", dst, "--branch", "WEST")[0], 0)
        code, _, err = runDB("copy", src, dst)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(tableRows(dst), tableRows(src))

    def test_failureLeavesDestination(self):
        """
        A row the destination refuses (here the last table's) fails the
        copy, saying which table, and leaves the destination as it was.
        """
        src = self.demoFile()
        dst = self.path("copy.sqlite3")
        runDB("init", "--database", dst)
        conn = sqlite3.connect(dst)
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON transaction_log"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        conn.commit()
        conn.close()
        before = tableRows(dst)
        code, out, err = runDB("copy", src, dst)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(
            err,
            "sip2acs db copy: error: DST refused a row of transaction_log: refused\n",
        )
        self.assertEqual(tableRows(dst), before)
        self.assertEqual(before["institutions"], [("LIBRARY", "", "USD", "MAIN", 7)])

    def test_failureRemovesNewFile(self):
        """
        A copy into a new file that fails midway removes the file.
        """
        src = self.demoFile()
        dst = self.path("copy.sqlite3")

        def followIds(store: SQLiteStore, table: str) -> None:
            if table == "holds":
                raise sqlite3.OperationalError("disk I/O error")

        self.patch(SQLiteStore, "followIds", followIds)
        code, _, err = runDB("copy", src, dst)
        self.assertEqual(code, 1)
        self.assertEqual(
            err, "sip2acs db copy: error: disk I/O error; nothing was copied\n"
        )
        self.assertEqual(
            [name for name in os.listdir(os.path.dirname(dst))], []
        )


class PostgresCopyTests(CopyMixin, TestCase):
    """
    C{db copy} from SQLite to PostgreSQL and back.
    """

    timeout = 300

    async def test_roundTrip(self):
        """
        A library with loans, holds, fees and payments made through the
        adapter goes SQLite -> PostgreSQL -> SQLite unchanged, table by
        table (PIN hashes and transaction log included).
        """
        src = await self.circulatedFile()
        url = freshDatabase(self)
        back = self.path("back.sqlite3")
        code, out, err = runDB("copy", src, url)
        self.assertEqual((code, err), (0, ""), out)
        code, out, err = runDB("copy", url, back)
        self.assertEqual((code, err), (0, ""), out)
        original = tableRows(src)
        self.assertEqual(tableRows(url), original)
        for table in TABLES:
            self.assertEqual(tableRows(back)[table.name], original[table.name], table.name)
        self.assertGreater(len(original["transaction_log"]), 7)

    async def test_idsFollow(self):
        """
        On PostgreSQL after a copy, new rows get ids after the copied ones:
        a checkout's loan and transaction id, a patron's PIN still good.
        """
        src = await self.circulatedFile()
        url = freshDatabase(self)
        self.assertEqual(runDB("copy", src, url)[0], 0)
        copied = tableRows(url)
        ils = PostgresILS(url, reactor, clock=lambda: NOW, zone=ZONE)
        await ils.startService()
        self.addCleanup(ils.stopService)
        patron = await ils.lookupPatron(TERMINAL, "P0001", "1234")
        self.assertTrue(patron.pinValid)
        outcome = await ils.checkout(TERMINAL, CheckoutRequest("P0003", "I0002"))
        self.assertFalse(outcome.ok)  # lost card; logged all the same
        outcome = await ils.checkout(TERMINAL, CheckoutRequest("P0009", "I0002"))
        self.assertTrue(outcome.ok, outcome)
        lastLog = copied["transaction_log"][-1][0]
        self.assertGreater(int(outcome.transactionId), lastLog)
        after = tableRows(url)
        self.assertEqual(after["loans"][-1][0], copied["loans"][-1][0] + 1)

    def test_refusesLibrary(self):
        """
        A PostgreSQL destination holding a library is refused and left as
        it was; so is a SQLite one when copying back.
        """
        url = freshDatabase(self)
        self.assertEqual(runDB("demo", "--database", url)[0], 0)
        before = tableRows(url)
        code, _, err = runDB("copy", self.demoFile(), url)
        self.assertEqual(code, 1)
        self.assertIn("DST already holds a library (10 patrons, 21 items", err)
        self.assertEqual(tableRows(url), before)
        code, _, err = runDB("copy", url, self.demoFile())
        self.assertEqual(code, 1)
        self.assertIn("DST already holds a library", err)

    def test_failureLeavesDestinationEmpty(self):
        """
        A row PostgreSQL refuses midway (a SQLite time it cannot take)
        fails the copy, and the destination holds no library.
        """
        src = self.demoFile()
        conn = sqlite3.connect(src)
        conn.execute("UPDATE loans SET out_at = 'yesterday' WHERE id = 11")
        conn.commit()
        conn.close()
        url = freshDatabase(self)
        self.assertEqual(runDB("init", "--database", url)[0], 0)
        before = tableRows(url)
        code, out, err = runDB("copy", src, url)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("sip2acs db copy: error: DST refused a row of loans: value for"
                      " domain stamp violates check constraint", err)
        self.assertEqual(tableRows(url), before)
        self.assertEqual(
            {table.name: len(before[table.name]) for table in LIBRARY},
            dict.fromkeys((table.name for table in LIBRARY), 0),
        )

    def test_initialisedDestination(self):
        """
        A PostgreSQL database fresh from C{db init} takes the library.
        """
        src = self.demoFile()
        url = freshDatabase(self)
        self.assertEqual(runDB("init", "--database", url, "--institution", "X")[0], 0)
        self.assertEqual(runDB("copy", src, url)[0], 0)
        self.assertEqual(tableRows(url), tableRows(src))


class PostgresCommandTests(SynchronousTestCase):
    """
    C{sip2acs db init}, C{demo} and C{import} on a PostgreSQL URL.
    """

    def write(self, name: str, text: str) -> str:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def test_initAndDemo(self):
        """
        C{init} creates the tables and sets the institution; C{demo} loads
        the demo library once; new rows get ids after the demo's.
        """
        url = freshDatabase(self)
        code, out, err = runDB("init", "--database", url, "--institution", "LIB1",
                               "--branch", "CENTRAL", "--branch-name", "Central",
                               "--currency", "eur")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(
            out,
            "%s: schema version %d (created); institution LIB1, default branch"
            " CENTRAL, currency EUR.\n" % (url, len(migrations())),
        )
        code, out, _ = runDB("init", "--database", url)
        self.assertIn("(up to date); institution LIB1, default branch CENTRAL", out)
        self.assertEqual(runDB("demo", "--database", url)[0], 0)
        code, _, err = runDB("demo", "--database", url)
        self.assertEqual(
            (code, err),
            (1, "sip2acs db demo: error: the database already has patrons or items\n"),
        )
        rows = tableRows(url)
        self.assertEqual(len(rows["patrons"]), 10)
        self.assertEqual(rows["institutions"][0][:4], ("LIB1", "", "EUR", "CENTRAL"))
        path = self.write("p.csv", "barcode,name\nP0100,New\n")
        self.assertEqual(runDB("import", "patrons", path, "--database", url)[0], 0)
        self.assertEqual(tableRows(url)["patrons"][-1][:2], (11, "P0100"))

    def test_import(self):
        """
        Patrons, items and rules import into PostgreSQL, PINs hashed, as
        into SQLite; a second import updates.
        """
        url = freshDatabase(self)
        runDB("init", "--database", url)
        path = self.write("p.csv", "barcode,name,pin,expires\nP1,Ann,1111,2030-01-01\n")
        code, out, err = runDB("import", "patrons", path, "--database", url)
        self.assertEqual((code, err), (0, ""))
        self.assertIn("imported 1 patrons from %s (1 new, 0 updated)." % (path,), out)
        path = self.write("p2.csv", "barcode,name,pin\nP1,Ann Smith,\n")
        code, out, _ = runDB("import", "patrons", path, "--database", url)
        self.assertIn("(0 new, 1 updated)", out)
        patron = tableRows(url)["patrons"][0]
        self.assertEqual(patron[1:3], ("P1", "Ann Smith"))
        self.assertTrue(verifyPassword("1111", patron[3]))
        path = self.write("i.csv", "barcode,title,item_type,home_branch,status\n"
                          "I1,One,LAPTOP,WEST,lost\n")
        code, out, _ = runDB("import", "items", path, "--database", url)
        self.assertIn("New branches: WEST.\nNew item types (books until changed): LAPTOP.", out)
        path = self.write("i2.csv", "barcode,status\nI1,available\n")
        runDB("import", "items", path, "--database", url)
        self.assertEqual(tableRows(url)["items"][0][-3], "available")
        path = self.write("r.csv", "loan_days\n28\n")
        code, _, _ = runDB("import", "rules", path, "--replace", "--database", url)
        self.assertEqual(code, 0)
        self.assertEqual([rule[:3] for rule in tableRows(url)["loan_rules"]],
                         [("*", "*", 28)])

    def test_importDetails(self):
        """
        Patron attributes, item fields and class names import into
        PostgreSQL as into SQLite.
        """
        url = freshDatabase(self)
        runDB("init", "--database", url)
        path = self.write("p.csv", "barcode,internet_privileges,attribute:SCHOOL\n"
                          "P1,FULL,North High\n")
        self.assertEqual(runDB("import", "patrons", path, "--database", url)[:3:2],
                         (0, ""))
        path = self.write("i.csv", "barcode,field:format\nI1,DVD\n")
        self.assertEqual(runDB("import", "items", path, "--database", url)[0], 0)
        path = self.write("c.csv", "code,name\nADULT,Adult\n")
        self.assertEqual(runDB("import", "classes", path, "--database", url)[0], 0)
        rows = tableRows(url)
        self.assertEqual(rows["patron_attributes"], [(1, "SCHOOL", "North High")])
        self.assertEqual(rows["item_fields"], [(1, "format", "DVD")])
        self.assertEqual(rows["patron_classes"], [("ADULT", "Adult")])
        self.assertEqual(rows["patrons"][0][-1], "FULL")

    def test_importRefused(self):
        """
        A bad row, or a row PostgreSQL refuses, is reported with its line
        number, and nothing is imported.
        """
        url = freshDatabase(self)
        runDB("init", "--database", url)
        path = self.write("p.csv", "barcode,expires\nP1,2030-01-01\nP2,next year\n")
        code, _, err = runDB("import", "patrons", path, "--database", url)
        self.assertEqual(code, 1)
        self.assertIn(
            "%s: line 3: expires 'next year' is not a date: write YYYY-MM-DD" % (path,), err
        )
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER TABLE items ADD CONSTRAINT not_bad CHECK (barcode <> 'BAD')")
        path = self.write("i.csv", "barcode,title\nI1,A\nBAD,B\nI3,C\n")
        code, out, err = runDB("import", "items", path, "--database", url)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(
            err,
            "sip2acs db import: %s: nothing imported:\n  %s: line 3: new row for"
            ' relation "items" violates check constraint "not_bad"\n' % (path, path),
        )
        self.assertEqual(counts(url)["items"], 0)
        self.assertEqual(counts(url)["transaction_log"], 0)

    def test_password(self):
        """
        The password comes from C{--password-file}, never from the URL; a
        file that cannot be read is one clear line.
        """
        url = freshDatabase(self)
        secret = self.write("secret", "s3cret\n")
        code, _, err = runDB("init", "--database", url, "--password-file", secret)
        self.assertEqual((code, err), (0, ""))
        code, _, err = runDB("init", "--database", url, "--password-file", secret + "x")
        self.assertEqual(code, 1)
        self.assertEqual(
            err,
            "sip2acs db init: error: cannot read the database password file %sx:"
            " no such file or directory\n" % (secret,),
        )
        code, _, err = runDB("init", "--database", url.replace("postgres@", "postgres:pw@"))
        self.assertEqual(code, 1)
        self.assertIn("the database URL must not hold a password", err)
        self.assertNotIn("pw", err.replace("password", ""))


class UnreachableTests(SynchronousTestCase):
    """
    A PostgreSQL database that cannot be reached is one clear line (no
    PostgreSQL needed).
    """

    def test_unreachable(self):
        """
        Nothing listens on the port: the command says so and exits 1.
        """
        url = "postgresql://sip@127.0.0.1:%d/library" % (freePort(),)
        code, _, err = runDB("demo", "--database", url)
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith(
            "sip2acs db demo: error: the PostgreSQL database %s cannot be reached:" % (url,)
        ), err)
        self.assertEqual(err.count("\n"), 1)
