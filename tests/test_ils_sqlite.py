"""
Tests for L{sip2acs.ils.sqlite} (its adapter, store, circulation,
rules and demo) and L{sip2acs.tools.dbcli}: the adapter contract on the
embedded SQLite system, then what is particular to it.
"""

import argparse
import atexit
import contextlib
import io
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from datetime import datetime, time as clockTime, timedelta, timezone
from decimal import Decimal

from sqlite_utils import Database
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.acs.server import ACSServer
from sip2acs.ils.base import (
    CheckinRequest,
    CheckoutRequest,
    HoldRequest,
    Payment,
    Reason,
    RenewRequest,
)
from sip2acs.ils.sql import importing
from sip2acs.ils.sqlite import (
    POOL_NAME,
    DatabaseError,
    SQLiteILS,
    migrate,
    migrations,
    openDatabase,
    store as storeModule,
)
from sip2acs.ils.sqlite.demo import loadDemo
from sip2acs.ils.sqlite.rules import SortBins
from sip2acs.ils.sqlite.store import fromCents, readTime, toCents, writeTime
from sip2acs.ils.testing import (
    PIN,
    ContractCase,
    ContractLibrary,
    ILSContractMixin,
)
from sip2acs.passwords import isHashed, verifyPassword
from sip2acs.tools import dbcli
from tests.contractrows import contractTables
from tests.fixtures import INSTITUTION, captureLogs, makeConfig, runInline

POOL_THREAD = "PoolThread-%s-0" % (POOL_NAME,)

_templates = {}


def loadedTemplate(name, load, data):
    """
    A database file C{load(conn, data)} filled, made once per test run
    (PIN hashing is slow on purpose) and copied by each test.
    """
    key = (name, data)
    if key not in _templates:
        folder = tempfile.mkdtemp(prefix="sip2acs-%s-" % (name,))
        atexit.register(shutil.rmtree, folder, True)
        path = os.path.join(folder, name + ".sqlite3")
        conn, _ = openDatabase(path)
        load(conn, data)
        conn.close()
        _templates[key] = path
    return _templates[key]


def demoTemplate(now):
    """
    A database file with the demo data loaded at C{now}.
    """
    return loadedTemplate("demo", loadDemo, now)


class SQLiteTestMixin:
    """
    Start L{SQLiteILS} services that stop when the test ends.
    """

    NOW = ILSContractMixin.NOW
    ZONE = ILSContractMixin.ZONE

    def databasePath(self, demo=True):
        """
        A fresh database path, holding a copy of the demo data if C{demo}.
        """
        path = os.path.abspath(self.mktemp())
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if demo:
            shutil.copyfile(demoTemplate(self.NOW), path)
        return path

    async def startILS(self, path=None, **kw):
        """
        Start an L{SQLiteILS} on C{path} (default: a copy of the demo),
        stopped at cleanup.
        """
        if path is None:
            path = self.databasePath()
        kw.setdefault("clock", lambda: self.NOW)
        kw.setdefault("zone", self.ZONE)
        ils = SQLiteILS(path, reactor, **kw)
        await ils.startService()
        self.addCleanup(self.stopILS, ils)
        return ils

    def stopILS(self, ils):
        if ils.running:
            return ils.stopService()


def loadContractLibrary(conn: sqlite3.Connection, library: ContractLibrary) -> None:
    """
    Write the adapter contract's library into a migrated, empty database,
    through the tables the import commands write.
    """
    db = Database(conn, execute_plugins=False)
    for table, key, rows in contractTables(library):
        if key:
            db[table].upsert_all(rows, pk=key)
        else:
            db[table].insert_all(rows)
    conn.commit()


class SQLiteContractMixin(SQLiteTestMixin):
    """
    The contract's fixture hook for L{SQLiteILS}: a database holding the
    contract library (made once per run and copied), started.
    """

    def makeILS(self, library: ContractLibrary) -> Deferred:
        path = self.databasePath(demo=False)
        shutil.copyfile(loadedTemplate("contract", loadContractLibrary, library), path)
        return Deferred.fromCoroutine(self.startILS(path))


class SQLiteContractTests(SQLiteContractMixin, ILSContractMixin, TestCase):
    """
    The adapter contract on L{SQLiteILS}.
    """


class SQLitePolicyTests(SQLiteContractMixin, ContractCase, TestCase):
    """
    The embedded system's own policy, on the contract library: loan
    periods by item type, renewal periods, overdue fines.
    """

    async def test_checkoutFeeAcknowledged(self):
        """
        With the fee acknowledged the item is lent for its type's period and
        the fee charged.
        """
        result = await self.checkout("P0001", "I0010", feeAcknowledged=True)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, self.due(7))
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("3.50"))

    async def test_checkinReturnDateInAnotherZone(self):
        """
        A return date in UTC back-dates the return to that instant: I0015
        (due ten days ago) returned eight days ago at 05:00 UTC, which is
        the day before in the institution's zone, is fined for one day, not
        two.
        """
        eightDaysAgo = (self.NOW - timedelta(days=8)).date()
        result = await self.checkin(
            "I0015",
            returnDate=datetime.combine(eightDaysAgo, clockTime(5, 0), tzinfo=timezone.utc),
        )
        self.assertIs(result.ok, True, result)
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("0.25"))

    async def test_checkoutCancel(self):
        """
        A checkout with cancel undoes a checkin: the loan is back with its
        due date and the overdue fine the checkin charged is gone.
        """
        checkin = await self.checkin("I0015")
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("2.50"))
        self.assertEqual(checkin.patronId, "P0006")
        result = await self.checkout("P0006", "I0015", cancel=True)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, self.due(-10))
        patron = await self.patron("P0006")
        self.assertIn("I0015", {ref.itemId for ref in patron.chargedItems})
        self.assertEqual(patron.feeAmount, Decimal("0.00"))

    async def test_checkinOverdueFine(self):
        """
        Checking in an overdue item charges the fine per overdue day.
        """
        await self.checkin("I0015")
        patron = await self.patron("P0006")
        self.assertEqual(patron.feeAmount, Decimal("2.50"))
        self.assertEqual(
            [(ref.itemId, ref.amount) for ref in patron.fineItems],
            [("I0015", Decimal("2.50"))],
        )

    async def test_checkinFineCap(self):
        """
        The overdue fine stops at the cap.
        """
        await self.checkin("I0016")
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("5.00"))

    async def test_checkinReturnDate(self):
        """
        The return date back-dates the return: fines count to it.
        """
        await self.checkin("I0015", returnDate=self.NOW - timedelta(days=8))
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("0.50"))
        await self.checkin("I0017", returnDate=self.NOW - timedelta(days=4))
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("0.50"))

    async def test_renew(self):
        """
        A renewal extends the loan by the loan period from now.
        """
        result = await self.renew("P0001", "I0003")
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, True)
        self.assertEqual(result.dueDate, self.due(21))
        self.assertTrue(result.transactionId)
        self.assertEqual((await self.item("I0003")).dueDate, self.due(21))


class ReferenceCacheTests(SQLiteTestMixin, TestCase):
    """
    The cache of reference rows stays bounded whatever kiosks send.
    """

    async def test_madeUpLocations(self):
        """
        Checkins from a thousand made-up locations (AP) add nothing to the
        cache: it keeps the set of branch codes, not an answer per code.
        """
        ils = await self.startILS()
        terminal = ILSContractMixin.terminal
        await ils.checkin(terminal, CheckinRequest("I0003", currentLocation="MAIN"))
        size = len(ils._circulation.store._reference)
        for n in range(1000):
            await ils.checkin(
                terminal, CheckinRequest("I0001", currentLocation="X%04d" % (n,))
            )
        self.assertEqual(len(ils._circulation.store._reference), size)


class RecordingConnection(sqlite3.Connection):
    """
    A connection that records the thread of every call made on it.
    """

    threads = None

    def _record(self):
        self.threads.add(threading.current_thread().name)

    def execute(self, *args):
        self._record()
        return sqlite3.Connection.execute(self, *args)

    def executemany(self, *args):
        self._record()
        return sqlite3.Connection.executemany(self, *args)

    def executescript(self, *args):
        self._record()
        return sqlite3.Connection.executescript(self, *args)

    def cursor(self, *args):
        self._record()
        return sqlite3.Connection.cursor(self, *args)

    def commit(self):
        self._record()
        return sqlite3.Connection.commit(self)

    def rollback(self):
        self._record()
        return sqlite3.Connection.rollback(self)

    def close(self):
        self._record()
        return sqlite3.Connection.close(self)


class CurrencyTests(SQLiteTestMixin, TestCase):
    """
    The database keeps the currency of its amounts (C{sip2acs db init
    --currency}); an institution's C{currency} setting that says otherwise
    is warned of when the server starts.
    """

    async def currencyWarnings(self, setting):
        ils = await self.startILS(self.databasePath(demo=False), demo=True)
        self.assertEqual(await ils.currency("DEMO"), "USD")
        config = makeConfig(currency=setting)
        server = ACSServer(config, {INSTITUTION: ils}, reactor, runInThread=runInline)
        events = captureLogs(self)
        await server.compareCurrencies()
        return [formatEvent(e) for e in events if "currency setting" in e["log_format"]]

    async def test_differentSettingWarned(self):
        """
        A setting other than the database's is named, with the database's
        and how to change it.
        """
        [warning] = await self.currencyWarnings("EUR")
        self.assertEqual(
            warning,
            "institution DEMO: its currency setting is EUR, but its circulation"
            " system keeps amounts in USD, which the kiosks are told; remove the"
            " setting, or change the system's currency (sip2acs db init --currency"
            " EUR for the embedded one)",
        )

    async def test_sameOrNoSetting(self):
        """
        The same currency, or no setting, is no warning.
        """
        self.assertEqual(await self.currencyWarnings("USD"), [])
        self.assertEqual(await self.currencyWarnings(None), [])


class ServiceTests(SQLiteTestMixin, TestCase):
    """
    L{SQLiteILS} as a service: threads, transactions, schema, durability.
    """

    def terminal(self):
        """
        The demo kiosk at C{MAIN}.
        """
        return ILSContractMixin.terminal

    async def test_onlyThePoolThreadTouchesSQLite(self):
        """
        The connection is made, used and closed only on the pool thread
        C{PoolThread-sip2acs-sqlite-0}, never on the reactor thread.
        """
        threads = set()
        connections = []
        realConnect = sqlite3.connect

        def connect(*args, **kw):
            connections.append(threading.current_thread().name)
            conn = realConnect(*args, factory=RecordingConnection, **kw)
            conn.threads = threads
            return conn

        self.patch(storeModule.sqlite3, "connect", connect)
        ils = await self.startILS(self.databasePath(demo=False), demo=True)
        await ils.lookupPatron(self.terminal(), "P0001", PIN)
        await ils.checkout(self.terminal(), CheckoutRequest("P0001", "I0001"))
        await ils.checkin(self.terminal(), CheckinRequest("I0004"))
        await ils.renew(self.terminal(), RenewRequest("P0001", "I0003"))
        await ils.feePaid(self.terminal(), Payment("P0001", Decimal("1.00")))
        await ils.stopService()
        self.assertEqual(connections, [POOL_THREAD])
        self.assertEqual(threads, {POOL_THREAD})

    async def test_operationsRunOnThePoolThread(self):
        """
        Every operation's synchronous part runs on the pool thread.
        """
        from sip2acs.ils.sqlite.circulation import Circulation

        seen = []
        original = Circulation._perform
        originalRead = Circulation._read

        def perform(circulation, name, *args):
            seen.append((name, threading.current_thread().name))
            return original(circulation, name, *args)

        def read(circulation, *args):
            seen.append(("read", threading.current_thread().name))
            return originalRead(circulation, *args)

        self.patch(Circulation, "_perform", perform)
        self.patch(Circulation, "_read", read)
        ils = await self.startILS()
        t = self.terminal()
        await ils.lookupPatron(t, "P0001")
        await ils.lookupItem(t, "I0001")
        await ils.checkout(t, CheckoutRequest("P0001", "I0001"))
        await ils.checkin(t, CheckinRequest("I0001"))
        await ils.renew(t, RenewRequest("P0001", "I0003"))
        await ils.renewAll(t, "P0001")
        await ils.hold(t, HoldRequest("add", "P0001", itemId="I0004"))
        await ils.feePaid(t, Payment("P0001", Decimal("1.00")))
        await ils.blockPatron(t, "P0001", False, "x")
        await ils.enablePatron(t, "P0001")
        await ils.updateItemStatus(t, "I0001", "x")
        await ils.endPatronSession(t, "P0001")
        self.assertEqual(len(seen), 12)
        self.assertEqual({thread for _, thread in seen}, {POOL_THREAD})

    async def test_everyOperationLogged(self):
        """
        Every operation appends one row to the transaction log with the
        terminal, peer, patron, item and outcome; the transaction id
        reported is that row.
        """
        ils = await self.startILS()
        t = self.terminal()
        checkout = await ils.checkout(t, CheckoutRequest("P0001", "I0001", pin=PIN))
        await ils.checkout(t, CheckoutRequest("P0002", "I0002"))
        await ils.checkin(t, CheckinRequest("I0015"))
        await ils.hold(t, HoldRequest("add", "P0001", itemId="I0004"))
        payment = await ils.feePaid(t, Payment("P0001", Decimal("1.00")))
        await ils.endPatronSession(t, "P0001", PIN)
        await ils.stopService()
        conn = sqlite3.connect(ils.path)
        self.addCleanup(conn.close)
        rows = conn.execute(
            "SELECT id, terminal, peer, operation, patron, item, ok, reason,"
            " amount_cents FROM transaction_log WHERE operation <> 'demo'"
            " ORDER BY id"
        ).fetchall()
        self.assertEqual(
            [row[3:9] for row in rows],
            [
                ("checkout", "P0001", "I0001", 1, None, None),
                ("checkout", "P0002", "I0002", 0, Reason.CARD_EXPIRED, None),
                ("checkin", "P0006", "I0015", 1, None, 250),
                ("hold", "P0001", "I0004", 1, None, None),
                ("feePaid", "P0001", None, 1, None, 100),
                ("endPatronSession", "P0001", None, 1, None, None),
            ],
        )
        self.assertEqual({row[1:3] for row in rows}, {("kiosk1", "192.0.2.10")})
        self.assertEqual(str(rows[0][0]), checkout.transactionId)
        self.assertEqual(str(rows[4][0]), payment.transactionId)

    async def test_lookupsNotLogged(self):
        """
        Lookups (23, 63, 17) change nothing, so they add no transaction log
        row (and take no write lock).
        """
        ils = await self.startILS()
        await ils.stopService()
        conn = sqlite3.connect(ils.path)
        self.addCleanup(conn.close)
        (before,) = conn.execute("SELECT count(*) FROM transaction_log").fetchone()
        ils = await self.startILS(ils.path)
        await ils.lookupPatron(self.terminal(), "P0001", PIN)
        await ils.lookupItem(self.terminal(), "I0001")
        await ils.stopService()
        (after,) = conn.execute("SELECT count(*) FROM transaction_log").fetchone()
        self.assertEqual(after, before)

    async def test_rulesImportSeenAtOnce(self):
        """
        Loan rules are cached between operations, but a rules import by
        another connection (C{sip2acs db import rules}) applies to the
        very next operation.
        """
        ils = await self.startILS()
        first = await ils.checkout(self.terminal(), CheckoutRequest("P0001", "I0001"))
        conn = sqlite3.connect(ils.path)
        self.addCleanup(conn.close)
        with conn:
            conn.execute("UPDATE loan_rules SET loan_days = loan_days + 7")
        second = await ils.checkout(self.terminal(), CheckoutRequest("P0001", "I0002"))
        self.assertTrue(first.ok and second.ok)
        self.assertEqual((second.dueDate - first.dueDate).days, 7)

    def test_logAppendOnly(self):
        """
        The transaction log refuses updates and deletes.
        """
        conn, _ = openDatabase(self.databasePath())
        self.addCleanup(conn.close)
        self.assertRaises(
            sqlite3.DatabaseError, conn.execute, "UPDATE transaction_log SET ok = 0"
        )
        self.assertRaises(
            sqlite3.DatabaseError, conn.execute, "DELETE FROM transaction_log"
        )

    async def test_restart(self):
        """
        A loan made before a restart is there after it, and the demo data
        is not loaded twice.
        """
        path = self.databasePath(demo=False)
        ils = await self.startILS(path, demo=True)
        await ils.checkout(self.terminal(), CheckoutRequest("P0001", "I0001"))
        await ils.stopService()
        again = await self.startILS(path, demo=True)
        patron = await again.lookupPatron(self.terminal(), "P0001")
        self.assertIn("I0001", {ref.itemId for ref in patron.chargedItems})
        await again.stopService()
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(conn.execute("SELECT count(*) FROM patrons").fetchone(), (10,))

    async def test_newDatabaseEmpty(self):
        """
        Without C{demo}, a new database has no patrons.
        """
        ils = await self.startILS(self.databasePath(demo=False))
        self.assertFalse((await ils.lookupPatron(self.terminal(), "P0001")).found)

    async def test_notRunning(self):
        """
        Operations on a stopped service fail: the session answers that the
        system is unavailable.
        """
        ils = SQLiteILS(self.databasePath(), reactor)
        with self.assertRaises(DatabaseError):
            await ils.lookupPatron(self.terminal(), "P0001")

    async def test_openFails(self):
        """
        A database that cannot be opened fails C{startService} with a
        L{DatabaseError} naming the file and the problem.
        """
        path = os.path.join(self.databasePath(demo=False), "missing", "x.db")
        ils = SQLiteILS(path, reactor)
        self.addCleanup(ils.stopService)
        with self.assertRaises(DatabaseError) as caught:
            await ils.startService()
        self.assertEqual(
            str(caught.exception),
            "cannot open the database %s: no such file or directory" % (path,),
        )

    async def test_wal(self):
        """
        The database runs in WAL mode with foreign keys on and the
        synchronous setting asked for.
        """
        for setting, value in (("normal", 1), ("full", 2)):
            ils = await self.startILS(synchronous=setting)
            pragmas = await ils._defer(
                lambda conn: [
                    conn.execute("PRAGMA %s" % (name,)).fetchone()[0]
                    for name in ("journal_mode", "foreign_keys", "synchronous")
                ],
                ils._conn,
            )
            self.assertEqual(pragmas, ["wal", 1, value])
            await ils.stopService()

    async def test_sortBins(self):
        """
        The sort bin comes from the mapping: hold shelf, destination branch,
        item type, default.
        """
        ils = await self.startILS(
            sortBins={"hold": "H", "branch:EAST": "E", "type:VIDEO": "V",
                      "default": "1"}
        )
        t = self.terminal()
        bins = [
            (await ils.checkin(t, CheckinRequest(item))).sortBin
            for item in ("I0004", "I0009", "I0011", "I0001")
        ]
        self.assertEqual(bins, ["H", "E", "V", "1"])

    async def test_allowOverpayment(self):
        """
        With overpayment allowed, the rest of a payment is a credit.
        """
        ils = await self.startILS(allowOverpayment=True)
        result = await ils.feePaid(self.terminal(), Payment("P0001", Decimal("5.00")))
        self.assertIs(result.accepted, True)
        patron = await ils.lookupPatron(self.terminal(), "P0001")
        self.assertEqual(patron.feeAmount, Decimal("-2.50"))
        self.assertEqual(patron.fineItems, ())

    async def test_writeoffAndRegisterRecorded(self):
        """
        A write-off is recorded as one, a payment as a payment, each with
        the register it names; the transaction log says which it was.
        """
        ils = await self.startILS()
        t = self.terminal()
        result = await ils.feePaid(
            t, Payment("P0005", Decimal("11.00"), writeoff=True, register="DESK1")
        )
        self.assertIs(result.accepted, True, result)
        self.assertIn("written off", result.screenMessages[0])
        result = await ils.feePaid(t, Payment("P0005", Decimal("1.00")))
        self.assertIs(result.accepted, True, result)
        await ils.stopService()
        conn = sqlite3.connect(ils.path)
        self.addCleanup(conn.close)
        self.assertEqual(
            conn.execute(
                "SELECT kind, register, amount_cents FROM payments ORDER BY id"
            ).fetchall(),
            [("writeoff", "DESK1", 1100), ("payment", None, 100)],
        )
        details = [row[0] for row in conn.execute(
            "SELECT detail FROM transaction_log WHERE operation = 'feePaid' ORDER BY id"
        )]
        self.assertIn("write-off", details[0])
        self.assertIn("register DESK1", details[0])

    async def test_overpaymentChosenByPayment(self):
        """
        A payment's own choice overrides C{allow-overpayment}: refused with
        it allowed, kept as credit with it not.
        """
        ils = await self.startILS(allowOverpayment=True)
        t = self.terminal()
        result = await ils.feePaid(
            t, Payment("P0001", Decimal("5.00"), overpayment="refused")
        )
        self.assertEqual(result.reason, Reason.OVERPAYMENT)
        result = await ils.feePaid(
            t, Payment("P0001", Decimal("5.00"), overpayment="default")
        )
        self.assertIs(result.accepted, True, result)

    async def test_classWithoutName(self):
        """
        A patron class with no name is shown by its code.
        """
        path = self.databasePath()
        conn, _ = openDatabase(path)
        conn.execute("DELETE FROM patron_classes WHERE code = 'ADULT'")
        conn.close()
        ils = await self.startILS(path)
        patron = await ils.lookupPatron(self.terminal(), "P0001")
        self.assertEqual((patron.patronClass, patron.patronClassCode), ("ADULT", "ADULT"))
        child = await ils.lookupPatron(self.terminal(), "P0007")
        self.assertEqual(child.patronClass, "Child")

    async def test_demoDetails(self):
        """
        The demo library has a patron with internet privileges, attributes
        and an expiry date, and an item with extra fields.
        """
        ils = await self.startILS()
        patron = await ils.lookupPatron(self.terminal(), "P0001", "1234")
        self.assertEqual(patron.internetPrivileges, "FULL")
        self.assertEqual(
            dict(patron.attributes), {"LOCKER": "17", "SCHOOL": "Springfield College"}
        )
        self.assertEqual(patron.expires, self.NOW.date() + timedelta(days=365))
        self.assertEqual((patron.patronClass, patron.patronClassCode), ("Adult", "ADULT"))
        item = await ils.lookupItem(self.terminal(), "I0001")
        self.assertEqual(dict(item.fields), {"format": "Paperback", "language": "eng"})

    async def test_payFeeById(self):
        """
        A payment may name the fee it pays; an unknown fee is refused.
        """
        ils = await self.startILS()
        t = self.terminal()
        result = await ils.feePaid(t, Payment("P0005", Decimal("4.00"), feeId="3"))
        self.assertIs(result.accepted, True, result)
        patron = await ils.lookupPatron(t, "P0005")
        self.assertEqual([ref.amount for ref in patron.fineItems], [Decimal("11.00")])
        result = await ils.feePaid(t, Payment("P0005", Decimal("1.00"), feeId="1"))
        self.assertEqual(result.reason, Reason.UNKNOWN_FEE)

    async def test_paymentCurrency(self):
        """
        A payment in another currency than the institution's is refused.
        """
        ils = await self.startILS()
        result = await ils.feePaid(
            self.terminal(), Payment("P0001", Decimal("1.00"), currency="EUR")
        )
        self.assertEqual(result.reason, Reason.BAD_AMOUNT)

    async def test_loanLimitPerItemType(self):
        """
        A rule for an item type may limit loans of that type: here three
        DVDs at a time.
        """
        path = self.databasePath()
        conn, _ = openDatabase(path)
        conn.executemany(
            "INSERT INTO items (barcode, title, item_type, home_branch)"
            " VALUES (?, ?, 'DVD', 'MAIN')",
            [("D%d" % (n,), "Film %d" % (n,)) for n in range(4)],
        )
        conn.close()
        ils = await self.startILS(path)
        results = [
            await ils.checkout(
                self.terminal(),
                CheckoutRequest("P0001", "D%d" % (n,), feeAcknowledged=True),
            )
            for n in range(4)
        ]
        self.assertEqual([r.ok for r in results], [True, True, True, False])
        self.assertEqual(results[3].reason, Reason.LOAN_LIMIT)

    async def test_blockNote(self):
        """
        A kiosk block keeps its note and time.
        """
        ils = await self.startILS()
        await ils.blockPatron(self.terminal(), "P0001", True, "Card stuck")
        await ils.stopService()
        conn = sqlite3.connect(ils.path)
        self.addCleanup(conn.close)
        self.assertEqual(
            conn.execute(
                "SELECT blocked, block_note, blocked_at FROM patrons"
                " WHERE barcode = 'P0001'"
            ).fetchone(),
            (1, "Card stuck (card retained)", "2025-03-03 10:00:00"),
        )

    async def test_pinsNeverStored(self):
        """
        PINs are stored only as salted hashes: the PIN given at lookup and
        the PINs imported appear nowhere in the database files.
        """
        path = self.databasePath()
        csvPath = self.writeFile("barcode,name,pin\nP9001,Zed,739164\n")
        conn, _ = openDatabase(path)
        dbcli.importCSV(conn, "patrons", csvPath)
        conn.close()
        ils = await self.startILS(path)
        await ils.lookupPatron(self.terminal(), "P9001", "739164")
        await ils.checkout(
            self.terminal(), CheckoutRequest("P9001", "I0001", pin="582046")
        )
        await ils.stopService()
        data = b""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                with open(path + suffix, "rb") as f:
                    data += f.read()
        self.assertNotIn(b"739164", data)
        self.assertNotIn(b"582046", data)
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        hashes = [row[0] for row in conn.execute(
            "SELECT pin_hash FROM patrons WHERE pin_hash IS NOT NULL"
        )]
        self.assertEqual(len(hashes), 10)
        self.assertTrue(all(isHashed(h) for h in hashes))
        self.assertEqual(len(set(hashes)), 10, "hashes are salted")
        self.assertRaises(
            sqlite3.IntegrityError, conn.execute,
            "UPDATE patrons SET pin_hash = '1234' WHERE barcode = 'P0001'",
        )

    async def test_absurdPaymentAmounts(self):
        """
        Absurd payment amounts are refused as not valid (never an
        exception, such as an overflow binding a huge number to SQLite),
        and nothing is recorded.
        """
        ils = await self.startILS()
        t = self.terminal()
        for amount in ("1E+999999", "9" * 40, "NaN", "sNaN", "Infinity",
                       "-Infinity", "-2.00", "0", "1000000.01", "1E-999999"):
            result = await ils.feePaid(t, Payment("P0001", Decimal(amount)))
            self.assertEqual(result.reason, Reason.BAD_AMOUNT, amount)
            self.assertEqual(
                result.screenMessages, ("That payment amount is not valid.",)
            )
        patron = await ils.lookupPatron(t, "P0001")
        self.assertEqual(patron.feeAmount, Decimal("2.50"))

    async def test_checkinSkipsExpiredHold(self):
        """
        A hold past its expiry date is not trapped, and is marked expired.
        """
        path = self.databasePath()
        conn = sqlite3.connect(path)
        with conn:
            conn.execute(
                "UPDATE holds SET expires_at = '2025-03-02 10:00:00' WHERE id = 2"
            )
        conn.close()
        ils = await self.startILS(path)
        checkin = await ils.checkin(self.terminal(), CheckinRequest("I0004"))
        self.assertIs(checkin.alert, False)
        self.assertIsNone(checkin.holdPatronId)
        await ils.stopService()
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(
            conn.execute("SELECT status FROM holds WHERE id = 2").fetchone(),
            ("expired",),
        )

    async def test_holdExpirationBounds(self):
        """
        A hold must expire after now and at most two years ahead; the bounds
        apply when placing and when changing a hold.
        """
        ils = await self.startILS()
        t = self.terminal()
        for days in (-1, 0, 732):
            expiration = self.NOW + timedelta(days=days)
            for request in (
                HoldRequest("add", "P0001", itemId="I0001", expiration=expiration),
                HoldRequest("alter", "P0009", itemId="I0004", expiration=expiration),
            ):
                result = await ils.hold(t, request)
                self.assertEqual(result.reason, Reason.BAD_DATE, (days, request))
                self.assertTrue(result.screenMessages)
        result = await ils.hold(t, HoldRequest(
            "add", "P0001", itemId="I0001", expiration=self.NOW + timedelta(days=730)
        ))
        self.assertIs(result.ok, True, result)

    async def test_noBlockDueDateBounds(self):
        """
        A no-block due date before the checkout, or more than two years
        after it, is replaced by the rule's due date; the loan is kept and
        the transaction log says so. A renewal's is bounded the same way.
        """
        ils = await self.startILS()
        t = self.terminal()
        ruleDue = datetime.combine(
            self.NOW.date() + timedelta(days=21), clockTime(23, 59), tzinfo=self.ZONE
        )
        for itemId, nbDue in (
            ("I0001", datetime(28, 1, 5, 10, 41, 26, tzinfo=self.ZONE)),
            ("I0002", self.NOW - timedelta(minutes=1)),
            ("I0012", self.NOW + timedelta(days=732)),
        ):
            result = await ils.checkout(t, CheckoutRequest(
                "P0001", itemId, noBlock=True, nbDueDate=nbDue
            ))
            self.assertIs(result.ok, True, result)
            self.assertEqual(result.dueDate, ruleDue, itemId)
        result = await ils.renew(t, RenewRequest(
            "P0001", "I0003", noBlock=True,
            nbDueDate=datetime(9999, 12, 31, 23, 59, tzinfo=self.ZONE),
        ))
        self.assertEqual(result.dueDate, ruleDue)
        await ils.stopService()
        conn = sqlite3.connect(ils.path)
        self.addCleanup(conn.close)
        details = [row[0] for row in conn.execute(
            "SELECT detail FROM transaction_log"
            " WHERE operation IN ('checkout', 'renew') ORDER BY id"
        )]
        self.assertEqual(len(details), 4)
        for detail in details:
            self.assertIn("no-block due date", detail)
            self.assertIn("out of bounds, not used", detail)
        self.assertIn("0028-01-05 10:41:26", details[0])

    async def test_returnDateBounds(self):
        """
        A return date before the loan began, or in the future, is replaced
        by now: the fine counts to now.
        """
        ils = await self.startILS()
        t = self.terminal()
        for returnDate in (
            datetime(28, 1, 5, 10, 41, 26, tzinfo=self.ZONE),
            self.NOW + timedelta(days=3),
        ):
            result = await ils.checkin(t, CheckinRequest("I0015", returnDate=returnDate))
            self.assertIs(result.ok, True, result)
            patron = await ils.lookupPatron(t, "P0006")
            self.assertEqual(
                [(ref.itemId, ref.amount) for ref in patron.fineItems],
                [("I0015", Decimal("2.50"))],
            )
            cancel = await ils.checkout(t, CheckoutRequest("P0006", "I0015", cancel=True))
            self.assertIs(cancel.ok, True, cancel)

    def writeFile(self, text):
        path = os.path.abspath(self.mktemp())
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path


class ConfigTests(SynchronousTestCase):
    """
    L{SQLiteILS.fromConfig} and its validation.
    """

    def test_fromConfig(self):
        """
        Every key is read.
        """
        ils = SQLiteILS.fromConfig(
            {
                "type": "sqlite",
                "database": "/tmp/x.sqlite3",
                "demo": True,
                "allow-overpayment": True,
                "synchronous": "full",
                "sort-bins": {"default": "1"},
            },
            reactor,
        )
        self.assertEqual(ils.path, "/tmp/x.sqlite3")
        self.assertEqual(ils.name, "sqlite:/tmp/x.sqlite3")
        self.assertIs(ils._demo, True)
        self.assertIs(ils._allowOverpayment, True)
        self.assertEqual(ils._synchronous, "full")
        self.assertEqual(ils._sortBins.mapping, {"default": "1"})

    def test_defaults(self):
        """
        An empty table means C{sip2acs.sqlite3}, no demo, no overpayment,
        synchronous full (durable to the disk).
        """
        ils = SQLiteILS.fromConfig({}, reactor)
        self.assertEqual(ils.path, "sip2acs.sqlite3")
        self.assertIs(ils._demo, False)
        self.assertIs(ils._allowOverpayment, False)
        self.assertEqual(ils._synchronous, "full")
        self.assertEqual(SQLiteILS("x.sqlite3", reactor)._synchronous, "full")

    def test_badValues(self):
        """
        Unknown keys, bad synchronous values, bad flags and bad sort bin
        keys are errors.
        """
        for config in (
            {"databse": "x"},
            {"synchronous": "off"},
            {"demo": "yes"},
            {"sort-bins": {"shelf:1": "2"}},
            {"sort-bins": ["default"]},
        ):
            self.assertRaises(ValueError, SQLiteILS.fromConfig, config, reactor)

    def test_sortBinKeys(self):
        """
        The sort bin keys are hold, transit, default and the prefixed ones.
        """
        SortBins({"hold": "1", "transit": "2", "default": "3", "branch:X": "4",
                  "type:DVD": "5", "collection:AV": "6", "location:Stacks": "7",
                  "media:005": "8"})
        self.assertRaises(ValueError, SortBins, {"type:": "1"})
        self.assertRaises(ValueError, SortBins, {"default": ""})

    def test_money(self):
        """
        Amounts convert to and from whole cents exactly.
        """
        self.assertEqual(toCents(Decimal("2.50")), 250)
        self.assertEqual(toCents("10"), 1000)
        self.assertEqual(fromCents(5), Decimal("0.05"))
        self.assertEqual(toCents("-1000000"), -100000000)
        self.assertEqual(toCents(Decimal("1000000.00")), 100000000)
        for bad in ("1.005", "abc", "NaN", "sNaN", "Infinity", "1E+999999",
                    "9" * 40, "1000000.01", "-1000000.01", "1E-999999", ""):
            self.assertRaises(ValueError, toCents, bad)

    def test_storedTimes(self):
        """
        Times are stored as the zone's wall time with every field
        zero-padded, converted to the zone first; they read back aware.
        Anything else does not read.
        """
        zone = ILSContractMixin.ZONE
        self.assertEqual(
            writeTime(datetime(28, 1, 5, 10, 41, 26), zone), "0028-01-05 10:41:26"
        )
        self.assertEqual(
            writeTime(datetime(2025, 7, 1, 5, 0, tzinfo=timezone.utc), zone),
            "2025-07-01 00:00:00",
        )
        self.assertEqual(
            readTime("0028-01-05 10:41:26", zone),
            datetime(28, 1, 5, 10, 41, 26, tzinfo=zone),
        )
        self.assertIsNone(readTime(None, zone))
        for bad in ("28-01-05 10:41:26", "2025-02-30 10:00:00", "", "2025-03-03",
                    "2025-03-03T10:00:00", 20250303):
            self.assertRaises(ValueError, readTime, bad, zone)


class SchemaTests(SynchronousTestCase):
    """
    Schema creation and migration.
    """

    def path(self):
        path = os.path.abspath(self.mktemp())
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def test_created(self):
        """
        A new database gets every migration; C{user_version} counts them.
        """
        conn, found = openDatabase(self.path())
        self.addCleanup(conn.close)
        self.assertEqual(found, 0)
        self.assertEqual(
            conn.execute("PRAGMA user_version").fetchone()[0], len(migrations())
        )
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )}
        self.assertTrue({
            "branches", "institutions", "item_types", "loan_rules", "patrons",
            "items", "loans", "holds", "fees", "payments", "payment_lines",
            "transaction_log",
        } <= tables)

    def test_upToDate(self):
        """
        Opening a current database applies nothing.
        """
        path = self.path()
        openDatabase(path)[0].close()
        conn, found = openDatabase(path)
        self.addCleanup(conn.close)
        self.assertEqual(found, len(migrations()))

    def test_newerRefused(self):
        """
        A database from a newer sip2acs is refused.
        """
        path = self.path()
        conn, _ = openDatabase(path)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
        self.assertRaises(DatabaseError, openDatabase, path)

    def test_migrationAtomic(self):
        """
        A failing migration leaves the database at the version before it.
        """
        path = self.path()
        conn, _ = openDatabase(path)
        self.addCleanup(conn.close)
        scripts = migrations() + [
            ("0099_bad.sql", "CREATE TABLE extra (x); INSERT INTO nosuch VALUES (1);")
        ]
        self.patch(storeModule, "migrations", lambda: scripts)
        self.assertRaises(sqlite3.OperationalError, migrate, conn)
        self.assertEqual(
            conn.execute("PRAGMA user_version").fetchone()[0], len(scripts) - 1
        )
        self.assertIsNone(conn.execute(
            "SELECT name FROM sqlite_master WHERE name = 'extra'"
        ).fetchone())

    def test_migrationApplied(self):
        """
        A new migration is applied to an existing database and counted.
        """
        path = self.path()
        conn, _ = openDatabase(path)
        self.addCleanup(conn.close)
        scripts = migrations() + [("0099_more.sql", "CREATE TABLE extra (x);")]
        self.patch(storeModule, "migrations", lambda: scripts)
        self.assertEqual(migrate(conn), len(scripts) - 1)
        self.assertEqual(
            conn.execute("PRAGMA user_version").fetchone()[0], len(scripts)
        )

    def test_upgradeFromVersion1(self):
        """
        A database of schema version 1 with a library in it gains the
        patron and item details: none yet for its patrons and items, its
        payments payments (not write-offs).
        """
        path = self.path()
        conn = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(conn.close)
        self.patch(storeModule, "migrations", lambda: migrations()[:1])
        migrate(conn)
        conn.executescript(
            "INSERT INTO branches (code) VALUES ('MAIN');"
            "INSERT INTO patrons (barcode, home_branch) VALUES ('P1', 'MAIN');"
            "INSERT INTO payments (patron_id, amount_cents, paid_at)"
            " VALUES (1, 100, '2025-01-01 10:00:00');"
        )
        self.patch(storeModule, "migrations", migrations)
        self.assertEqual(migrate(conn), 1)
        self.assertEqual(
            conn.execute("PRAGMA user_version").fetchone()[0], len(migrations())
        )
        self.assertEqual(
            conn.execute("SELECT internet_privileges FROM patrons").fetchall(), [(None,)]
        )
        self.assertEqual(
            conn.execute("SELECT kind, register FROM payments").fetchall(),
            [("payment", None)],
        )
        for table in ("patron_classes", "patron_attributes", "item_fields"):
            self.assertEqual(
                conn.execute("SELECT count(*) FROM %s" % (table,)).fetchone(), (0,)
            )

    def test_demoRefusesData(self):
        """
        The demo data goes only into a database without patrons or items.
        """
        conn, _ = openDatabase(self.path())
        self.addCleanup(conn.close)
        loadDemo(conn, ILSContractMixin.NOW)
        self.assertRaises(ValueError, loadDemo, conn, ILSContractMixin.NOW)
        self.assertEqual(conn.execute("SELECT count(*) FROM patrons").fetchone(), (10,))


class ImportTests(SynchronousTestCase):
    """
    L{dbcli.importCSV} and the C{sip2acs db} commands.
    """

    def setUp(self):
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.database = os.path.join(self.folder, "db.sqlite3")

    def open(self):
        conn, _ = openDatabase(self.database)
        self.addCleanup(conn.close)
        return conn

    def write(self, name, text):
        path = os.path.join(self.folder, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def runCommand(self, *argv):
        parser = argparse.ArgumentParser(prog="sip2acs")
        dbcli.register(parser.add_subparsers())
        args = parser.parse_args(list(argv))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = args.func(args)
        return code, out.getvalue(), err.getvalue()

    def test_importPatrons(self):
        """
        Patrons are imported with hashed PINs; a second import updates them,
        keeping the PIN when the cell is empty.
        """
        self.runCommand("db", "init", "--database", self.database)
        conn = self.open()
        path = self.write(
            "p.csv",
            "barcode,name,pin,patron_class,expires,email,card_lost\n"
            "P1,Ann,1111,ADULT,2030-01-01,ann@example.org,0\n"
            "P2,Ben,,CHILD,,,yes\n",
        )
        summary = dbcli.importCSV(conn, "patrons", path)
        self.assertEqual((summary.rows, summary.created, summary.updated), (2, 2, 0))
        rows = conn.execute(
            "SELECT barcode, name, pin_hash, patron_class, expires, card_lost,"
            " home_branch FROM patrons ORDER BY barcode"
        ).fetchall()
        self.assertTrue(verifyPassword("1111", rows[0][2]))
        self.assertEqual(rows[0][3:], ("ADULT", "2030-01-01", 0, "MAIN"))
        self.assertEqual(rows[1][2:], (None, "CHILD", None, 1, "MAIN"))
        path = self.write("p2.csv", "barcode,name,pin\nP1,Ann Smith,\n")
        summary = dbcli.importCSV(conn, "patrons", path)
        self.assertEqual((summary.created, summary.updated), (0, 1))
        name, pinHash, email = conn.execute(
            "SELECT name, pin_hash, email FROM patrons WHERE barcode = 'P1'"
        ).fetchone()
        self.assertEqual((name, email), ("Ann Smith", "ann@example.org"))
        self.assertTrue(verifyPassword("1111", pinHash))

    def test_badRow(self):
        """
        A bad row is reported with its line number and nothing is imported.
        """
        self.runCommand("db", "init", "--database", self.database)
        conn = self.open()
        path = self.write(
            "p.csv",
            "barcode,name,expires\nP1,Ann,2030-01-01\nP2,Ben,next year\nP3,Cy,\n",
        )
        with self.assertRaises(dbcli.CSVImportError) as caught:
            dbcli.importCSV(conn, "patrons", path)
        self.assertEqual(len(caught.exception.errors), 1)
        self.assertIn("line 3", caught.exception.errors[0])
        self.assertIn("expires", caught.exception.errors[0])
        self.assertEqual(conn.execute("SELECT count(*) FROM patrons").fetchone(), (0,))
        self.assertEqual(
            conn.execute(
                "SELECT count(*) FROM transaction_log WHERE operation = 'import'"
            ).fetchone(),
            (0,),
        )

    def test_dateBounds(self):
        """
        An imported date must have a year from 1900 to 2199.
        """
        self.runCommand("db", "init", "--database", self.database)
        conn = self.open()
        path = self.write(
            "p.csv",
            "barcode,name,expires,birth_date\nP1,Ann,2030-01-01,1990-04-01\n"
            "P2,Ben,0028-01-05,\nP3,Cy,,2200-01-01\n",
        )
        with self.assertRaises(dbcli.CSVImportError) as caught:
            dbcli.importCSV(conn, "patrons", path)
        errors = caught.exception.errors
        self.assertEqual(len(errors), 2, errors)
        self.assertIn("line 3", errors[0])
        self.assertIn("between 1900 and 2199", errors[0])
        self.assertIn("line 4", errors[1])
        self.assertEqual(conn.execute("SELECT count(*) FROM patrons").fetchone(), (0,))

    def test_fileErrors(self):
        """
        Unknown columns, a missing required column, duplicate keys and short
        rows are errors with line numbers.
        """
        self.runCommand("db", "init", "--database", self.database)
        conn = self.open()
        cases = [
            ("barcode,nmae\nP1,Ann\n", "line 1: unknown columns nmae"),
            ("name\nAnn\n", "line 1: the column barcode is required"),
            (
                "barcode,name\nP1,Ann\nP1,Bob\n",
                "line 3: barcode P1 is already on line 2",
            ),
            ("barcode,name\nP1\n", "line 2: 1 cells, the header has 2"),
            ("barcode,name\n,Ann\n", "line 2: barcode is empty"),
            ("", "line 1: the file is empty"),
        ]
        for text, expected in cases:
            path = self.write("p.csv", text)
            with self.assertRaises(dbcli.CSVImportError) as caught:
                dbcli.importCSV(conn, "patrons", path)
            self.assertIn(expected, "\n".join(caught.exception.errors))

    def test_refusedByDatabase(self):
        """
        A row the database refuses is reported with its line number, and
        nothing is imported.
        """
        conn = self.open()
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.barcode = 'BAD'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        path = self.write(
            "i.csv", "barcode,title,home_branch\nI1,A,MAIN\nBAD,B,MAIN\nI3,C,MAIN\n"
        )
        with self.assertRaises(dbcli.CSVImportError) as caught:
            dbcli.importCSV(conn, "items", path)
        self.assertEqual(caught.exception.errors, ["line 3: refused"])
        self.assertEqual(conn.execute("SELECT count(*) FROM items").fetchone(), (0,))
        self.assertEqual(conn.execute("SELECT count(*) FROM branches").fetchone(), (0,))

    def test_importItems(self):
        """
        Items are imported with new branches and item types created; an
        item on loan keeps its status when re-imported.
        """
        self.runCommand("db", "init", "--database", self.database)
        conn = self.open()
        path = self.write(
            "i.csv",
            "barcode,title,item_type,home_branch,status,magnetic\n"
            "I1,Book one,BOOK,,available,\n"
            "I2,Tape,LAPTOP,WEST,lost,1\n",
        )
        summary = dbcli.importCSV(conn, "items", path)
        self.assertEqual(summary.newBranches, ("WEST",))
        self.assertEqual(summary.newItemTypes, ("LAPTOP",))
        self.assertEqual(
            conn.execute(
                "SELECT barcode, home_branch, current_branch, status, magnetic"
                " FROM items ORDER BY barcode"
            ).fetchall(),
            [
                ("I1", "MAIN", "MAIN", "available", None),
                ("I2", "WEST", "WEST", "lost", 1),
            ],
        )
        conn.execute("UPDATE items SET status = 'charged' WHERE barcode = 'I1'")
        path = self.write("j.csv", "barcode,status\nI1,available\n")
        dbcli.importCSV(conn, "items", path)
        self.assertEqual(
            conn.execute(
                "SELECT status, title FROM items WHERE barcode = 'I1'"
            ).fetchone(),
            ("charged", "Book one"),
        )

    def initialised(self):
        """
        The database, made by C{sip2acs db init}, open.
        """
        self.runCommand("db", "init", "--database", self.database)
        return self.open()

    def test_importPatronDetails(self):
        """
        Patrons' internet privileges and attributes (C{attribute:CODE}
        columns) are imported; a later file changes only the attributes it
        has, an empty cell removing one.
        """
        conn = self.initialised()
        path = self.write(
            "p.csv",
            "barcode,name,internet_privileges,expires,attribute:SCHOOL,attribute:LOCKER\n"
            "P1,Ann,FULL,2030-01-01,Springfield College,17\n"
            "P2,Ben,,,,\n",
        )
        summary = dbcli.importCSV(conn, "patrons", path)
        self.assertEqual((summary.created, summary.updated), (2, 0))
        self.assertEqual(
            conn.execute(
                "SELECT barcode, internet_privileges, expires FROM patrons ORDER BY barcode"
            ).fetchall(),
            [("P1", "FULL", "2030-01-01"), ("P2", None, None)],
        )
        attributes = (
            "SELECT p.barcode, a.code, a.value FROM patron_attributes a"
            " JOIN patrons p ON p.id = a.patron_id ORDER BY p.barcode, a.code"
        )
        self.assertEqual(
            conn.execute(attributes).fetchall(),
            [("P1", "LOCKER", "17"), ("P1", "SCHOOL", "Springfield College")],
        )
        path = self.write(
            "p2.csv", "barcode,attribute:LOCKER,attribute:GRADE\nP1,,12\nP2,4,\n"
        )
        summary = dbcli.importCSV(conn, "patrons", path)
        self.assertEqual((summary.created, summary.updated), (0, 2))
        self.assertEqual(
            conn.execute(attributes).fetchall(),
            [("P1", "GRADE", "12"), ("P1", "SCHOOL", "Springfield College"),
             ("P2", "LOCKER", "4")],
        )
        self.assertEqual(
            conn.execute("SELECT name FROM patrons WHERE barcode = 'P1'").fetchone(),
            ("Ann",),
        )

    def test_importItemFields(self):
        """
        Items' extra fields (C{field:CODE} columns) are imported, and a
        lookup reports them.
        """
        conn = self.initialised()
        path = self.write(
            "i.csv", "barcode,title,field:format,field:language\nI1,One,Paperback,eng\n"
        )
        dbcli.importCSV(conn, "items", path)
        self.assertEqual(
            conn.execute("SELECT code, value FROM item_fields ORDER BY code").fetchall(),
            [("format", "Paperback"), ("language", "eng")],
        )

    def test_importClasses(self):
        """
        Patron class names are imported by code; a second file updates them.
        """
        conn = self.initialised()
        path = self.write("c.csv", "code,name\nADULT,Adult\nCHILD,Child\n")
        code, out, err = self.runCommand(
            "db", "import", "classes", path, "--database", self.database
        )
        self.assertEqual((code, err), (0, ""))
        path = self.write("c2.csv", "code,name\nCHILD,Juvenile\n")
        summary = dbcli.importCSV(conn, "classes", path)
        self.assertEqual((summary.created, summary.updated), (0, 1))
        self.assertEqual(
            conn.execute("SELECT code, name FROM patron_classes ORDER BY code").fetchall(),
            [("ADULT", "Adult"), ("CHILD", "Juvenile")],
        )

    def test_importExtraColumnErrors(self):
        """
        An extra column needs a code without spaces, and only patrons and
        items have them.
        """
        conn = self.initialised()
        for kind, header in [("patrons", "barcode,attribute:"),
                             ("patrons", "barcode,attribute:A B"),
                             ("patrons", "barcode,field:format"),
                             ("classes", "code,attribute:X")]:
            path = self.write("x.csv", header + "\n")
            with self.assertRaises(dbcli.CSVImportError) as caught:
                dbcli.importCSV(conn, kind, path)
            self.assertIn("unknown columns", caught.exception.errors[0], header)
            if kind == "patrons":
                self.assertIn("attribute:CODE", caught.exception.errors[0])

    def test_importRules(self):
        """
        Rules are imported with money in decimal; C{--replace} replaces all.
        """
        conn = self.open()
        path = self.write(
            "r.csv",
            "patron_class,item_type,loan_days,max_loans,fine_per_day,fine_cap,"
            "fee_limit\n"
            "*,*,14,8,0.20,4.00,12.50\n"
            "STAFF,,60,,,,\n",
        )
        dbcli.importCSV(conn, "rules", path)
        rows = conn.execute(
            "SELECT patron_class, item_type, loan_days, max_loans,"
            " fine_per_day_cents, fine_cap_cents, fee_limit_cents, max_renewals"
            " FROM loan_rules ORDER BY patron_class, item_type"
        ).fetchall()
        self.assertEqual(rows, [
            ("*", "*", 14, 8, 20, 400, 1250, 2),
            ("*", "REF", 0, None, 0, None, None, 0),
            ("STAFF", "*", 60, None, 0, None, None, 2),
        ])
        path = self.write("r2.csv", "loan_days\n28\n")
        dbcli.importCSV(conn, "rules", path, replace=True)
        self.assertEqual(
            conn.execute(
                "SELECT patron_class, item_type, loan_days FROM loan_rules"
            ).fetchall(),
            [("*", "*", 28)],
        )

    def test_importManyItemsQuickly(self):
        """
        Ten thousand items import in well under ten seconds.
        """
        self.runCommand("db", "init", "--database", self.database)
        conn = self.open()
        lines = ["barcode,title,call_number"]
        lines += ["B%06d,Title %d,QA %d" % (n, n, n) for n in range(10000)]
        path = self.write("many.csv", "\n".join(lines) + "\n")
        start = time.monotonic()
        summary = dbcli.importCSV(conn, "items", path)
        elapsed = time.monotonic() - start
        self.assertEqual(summary.created, 10000)
        self.assertEqual(
            conn.execute("SELECT count(*) FROM items").fetchone(), (10000,)
        )
        self.assertLess(elapsed, 10)

    def test_parallelHashing(self):
        """
        Many PINs are hashed in a process pool, each with its own salt.
        """
        pins = ["%04d" % (n,) for n in range(importing.PARALLEL_HASHING)]
        hashes = importing._hashPins(pins)
        self.assertEqual(len(set(hashes)), len(pins))
        self.assertTrue(verifyPassword(pins[7], hashes[7]))

    def test_cliInit(self):
        """
        C{db init} creates the database with an institution, a default
        branch and a currency; running it again is harmless.
        """
        code, out, err = self.runCommand(
            "db", "init", "--database", self.database, "--institution", "LIB1",
            "--branch", "CENTRAL", "--branch-name", "Central", "--currency", "eur",
        )
        self.assertEqual((code, err), (0, ""))
        self.assertIn("created", out)
        code, out, err = self.runCommand("db", "init", "--database", self.database)
        self.assertEqual(code, 0)
        self.assertIn("up to date", out)
        conn = self.open()
        self.assertEqual(
            conn.execute(
                "SELECT id, currency, default_branch FROM institutions"
            ).fetchall(),
            [("LIB1", "EUR", "CENTRAL")],
        )
        self.assertEqual(
            conn.execute("SELECT name FROM branches WHERE code = 'CENTRAL'").fetchone(),
            ("Central",),
        )

    def test_cliDemo(self):
        """
        C{db demo} loads the demo data, also after C{db init}, and refuses
        a database that has patrons.
        """
        self.runCommand("db", "init", "--database", self.database)
        code, out, err = self.runCommand("db", "demo", "--database", self.database)
        self.assertEqual((code, err), (0, ""))
        self.assertIn("P0001", out)
        code, out, err = self.runCommand("db", "demo", "--database", self.database)
        self.assertEqual(code, 1)
        self.assertIn("already has patrons", err)
        conn = self.open()
        self.assertEqual(conn.execute("SELECT count(*) FROM items").fetchone(), (21,))

    def test_cliImport(self):
        """
        C{db import} prints what it imported, or every bad line and exit
        code 1.
        """
        self.runCommand("db", "init", "--database", self.database)
        good = self.write("good.csv", "barcode,title\nI1,One\nI2,Two\n")
        code, out, err = self.runCommand(
            "db", "import", "items", good, "--database", self.database
        )
        self.assertEqual((code, err), (0, ""))
        self.assertIn("imported 2 items", out)
        bad = self.write("bad.csv", "barcode,title,status\nI3,Three,gone\n")
        code, out, err = self.runCommand(
            "db", "import", "items", bad, "--database", self.database
        )
        self.assertEqual(code, 1)
        self.assertIn("nothing imported", err)
        self.assertIn("line 2: bad status 'gone'", err)
        code, out, err = self.runCommand(
            "db", "import", "items", good, "--replace", "--database", self.database
        )
        self.assertEqual(code, 1)
