"""
Tests for the seams of the L{sip2acs.ils.sqlite} package: its old public
names still import, the concern collaborators share one L{Store}, and the
store's own operations (inserting, the reference cache, journal rows).
"""

import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.ils import circulation as oldCirculation, sqlite as package
from sip2acs.ils.sql import store as sqlstore
from sip2acs.ils.sqlite import adapter, rules, store
from sip2acs.ils.sqlite.circulation import Circulation
from sip2acs.ils.sqlite.demo import loadDemo
from sip2acs.ils.sqlite.store import Operation, Store, openDatabase
from sip2acs.ils.zones import HOST_ZONE


class PublicNamesTests(SynchronousTestCase):
    """
    What C{sip2acs.ils.sqlite} and C{sip2acs.ils.circulation} exported
    before the split still imports from there, as the same objects.
    """

    def test_package(self):
        """
        The package re-exports the adapter and the database functions.
        """
        self.assertIs(package.SQLiteILS, adapter.SQLiteILS)
        for name in ("DatabaseError", "createDatabaseFile", "openDatabase",
                     "migrate", "migrations"):
            self.assertIs(getattr(package, name), getattr(store, name))
        self.assertEqual(package.POOL_NAME, "sip2acs-sqlite")

    def test_circulationShim(self):
        """
        Every name in the old module's C{__all__} is the new home's object.
        """
        self.assertIs(oldCirculation.Circulation, Circulation)
        self.assertIs(oldCirculation.SortBins, rules.SortBins)
        self.assertIs(oldCirculation.toCents, store.toCents)
        for name in oldCirculation.__all__:
            self.assertIsNotNone(getattr(oldCirculation, name))

    def test_schemaIsPackageData(self):
        """
        The migrations are read from the package's C{schema} folder.
        """
        names = [name for name, _ in store.migrations()]
        self.assertEqual(names[0], "0001_initial.sql")


class StoreTests(SynchronousTestCase):
    """
    L{Store} and the collaborators built on it.
    """

    def setUp(self):
        self.conn, _ = openDatabase(self.mktemp())
        self.addCleanup(self.conn.close)
        now = datetime(2026, 3, 1, 12, 0, 0, 500, tzinfo=timezone.utc)
        self.store = Store(self.conn, lambda: now, timezone.utc)

    def test_sharedStore(self):
        """
        Every concern of a L{Circulation} uses its one store.
        """
        circulation = Circulation(self.conn, zone=timezone.utc)
        for part in ("rules", "patrons", "items", "holds", "fees", "checkins",
                     "renewals", "checkouts"):
            self.assertIs(getattr(circulation, part).store, circulation.store)
        self.assertIs(circulation.zone, timezone.utc)
        self.assertFalse(circulation.allowOverpayment)

    def test_insert(self):
        """
        L{Store.insert} gives the new row's id.
        """
        with self.store.transaction():
            first = self.store.insert(
                "INSERT INTO branches (code, name) VALUES (?, ?)", ("A", "A")
            )
            second = self.store.insert(
                "INSERT INTO branches (code, name) VALUES (?, ?)", ("B", "B")
            )
        self.assertEqual(second, first + 1)

    def test_cacheDroppedOnOtherCommit(self):
        """
        A cached reference row is read again after another connection
        commits, not before.
        """
        loads = []

        def load():
            loads.append(1)
            return len(loads)

        with self.store.transaction(write=False):
            self.assertEqual(self.store.cached(("k",), load), 1)
        with self.store.transaction(write=False):
            self.assertEqual(self.store.cached(("k",), load), 1)
        other, _ = openDatabase(self.conn.execute("PRAGMA database_list").fetchone()[2])
        self.addCleanup(other.close)
        other.execute("INSERT INTO branches (code, name) VALUES ('X', 'X')")
        with self.store.transaction(write=False):
            self.assertEqual(self.store.cached(("k",), load), 2)

    def test_journalRow(self):
        """
        L{Store.appendLog} writes the operation's row, its details joined.
        """
        with self.store.transaction():
            op = Operation(
                terminal=None, now=self.store.now(),
                institution=rules.Rules(self.store).institution(None),
                patron="P1", amountCents=250,
            )
            op.details += ["one", "two"]
            rowId = self.store.appendLog(op, "feePaid", False, "badAmount")
        row = self.store.row("SELECT * FROM transaction_log WHERE id = ?", (rowId,))
        self.assertEqual(
            (row["at"], row["terminal"], row["operation"], row["patron"], row["ok"],
             row["reason"], row["amount_cents"], row["detail"]),
            ("2026-03-01 12:00:00", "cli", "feePaid", "P1", 0, "badAmount", 250,
             "one; two"),
        )


class RealClockTests(SynchronousTestCase):
    """
    L{Store.now} on the real clock (no C{clock} given) works the time out
    once per second.
    """

    def setUp(self):
        self.conn, _ = openDatabase(self.mktemp())
        self.addCleanup(self.conn.close)
        self.seconds = [1772366400.25]  # 2026-03-01 12:00:00.25 UTC
        self.patch(sqlstore, "time", SimpleNamespace(time=lambda: self.seconds[0]))

    def test_wholeSecondInZone(self):
        """
        The time now, in the store's zone, to the second: what
        C{datetime.now(zone)} gives without its microseconds.
        """
        zone = ZoneInfo("America/Chicago")
        now = Store(self.conn, zone=zone).now()
        self.assertEqual(now, datetime(2026, 3, 1, 6, 0, 0, tzinfo=zone))
        self.assertIs(now.tzinfo, zone)
        self.assertEqual(now.utcoffset(), timedelta(hours=-6))

    def test_nextSecond(self):
        """
        Within one second every call gives that second; the next second
        gives the next.
        """
        s = Store(self.conn, zone=timezone.utc)
        first = s.now()
        self.seconds[0] += 0.7
        self.assertIs(s.now(), first)
        self.seconds[0] += 0.1
        self.assertEqual(s.now(), first + timedelta(seconds=1))

    def test_hostZone(self):
        """
        The host's zone (the default) agrees with C{datetime.now}.
        """
        self.patch(sqlstore, "time", time)
        for _ in range(3):
            expected = datetime.now(HOST_ZONE).replace(microsecond=0)
            now = Store(self.conn).now()
            if now == expected:
                break
        self.assertEqual(now, expected)
        self.assertIs(now.tzinfo, HOST_ZONE)

    def test_adapterRealClock(self):
        """
        An adapter built without a clock gives its store none: the store
        reads the real clock its own way.
        """
        ils = adapter.SQLiteILS(self.mktemp())
        self.assertIsNone(ils._clock)


class PatronClassNameTests(SynchronousTestCase):
    """
    A lookup shows the patron class's name as the database has it at that
    moment: read with the patron, never kept.
    """

    def test_renamedByAnotherConnection(self):
        """
        A class renamed through another connection (an import) is shown
        renamed by the next lookup.
        """
        path = self.mktemp()
        conn, _ = openDatabase(path)
        self.addCleanup(conn.close)
        loadDemo(conn, datetime(2026, 3, 1, 12, 0, 0))
        circulation = Circulation(conn, zone=timezone.utc)
        self.assertEqual(circulation.lookupPatron(None, "P0001").patronClass, "Adult")
        other, _ = openDatabase(path)
        self.addCleanup(other.close)
        other.execute("UPDATE patron_classes SET name = 'Grown-up' WHERE code = 'ADULT'")
        patron = circulation.lookupPatron(None, "P0001")
        self.assertEqual((patron.patronClass, patron.patronClassCode), ("Grown-up", "ADULT"))
        other.execute("UPDATE patron_classes SET name = '' WHERE code = 'ADULT'")
        self.assertEqual(circulation.lookupPatron(None, "P0001").patronClass, "ADULT")


class ItemWithLoanTests(SynchronousTestCase):
    """
    L{Items.withLoan <sip2acs.ils.sql.items.Items.withLoan>} reads an item
    and its open loan in one statement, as L{Items.row} and
    L{Items.openLoan} read them in two.
    """

    def setUp(self):
        conn, _ = openDatabase(self.mktemp())
        self.addCleanup(conn.close)
        loadDemo(conn, datetime(2026, 3, 1, 12, 0, 0))
        self.circulation = Circulation(conn, zone=timezone.utc)
        self.items = self.circulation.items

    def both(self, barcode):
        with self.circulation.store.transaction(write=False):
            item, loan = self.items.withLoan(barcode)
            alone = self.items.row(barcode)
            openLoan = None if alone is None else self.items.openLoan(alone["id"])
        return item, loan, alone, openLoan

    def test_onLoan(self):
        """
        An item on loan: the item's columns as L{Items.row} has them, and
        the loan, every column of it with the borrower's barcode and class.
        """
        item, loan, alone, openLoan = self.both("I0015")
        self.assertIsNotNone(openLoan)
        for column in alone.keys():
            self.assertEqual(item[column], alone[column], column)
        self.assertEqual(loan, {key: openLoan[key] for key in openLoan.keys()})

    def test_notOnLoan(self):
        """
        An item not on loan has no loan; an unknown one is not found.
        """
        item, loan, alone, openLoan = self.both("I0001")
        self.assertEqual((item["barcode"], loan, openLoan), ("I0001", None, None))
        self.assertEqual(self.both("NO-SUCH-ITEM")[:2], (None, None))
        with self.circulation.store.transaction(write=False):
            self.assertEqual(self.items.withLoan(""), (None, None))
