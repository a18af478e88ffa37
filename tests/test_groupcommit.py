"""
Tests for the SQLite adapter's group commit (L{sip2acs.ils.sqlite.adapter}):
the operations waiting together run in one transaction, each in its own
savepoint, committed once before any of their answers.
"""

import sqlite3
import threading

from twisted.trial.unittest import TestCase

from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.testing import PIN
from sip2acs.ils.values import CheckinRequest, CheckoutRequest, Terminal
from tests.test_ils_sqlite import SQLiteTestMixin

TIMEOUT = 5.0


def terminal():
    return Terminal("kiosk1", institution="DEMO", peer="192.0.2.10")


class GroupCommitTests(SQLiteTestMixin, TestCase):
    async def startGrouping(self, **kw):
        """
        Start the adapter with its group function recording the size of
        each group.
        """
        ils = await self.startILS(**kw)
        self.groups = []
        group = ils._pool._group

        def recording(batch):
            self.groups.append(len(batch.calls))
            return group(batch)

        ils._pool._group = recording
        return ils

    def hold(self, ils):
        """
        Keep the SQLite thread busy until the returned event is set, so
        that the operations called meanwhile wait together.
        """
        release = threading.Event()
        held = ils._pool.submit(release.wait, TIMEOUT)
        self.addCleanup(release.set)
        return release, held

    def breakCheckin(self, ils, sql):
        """
        Make every checkin write a journal row, run C{sql}, then raise
        L{RuntimeError}.
        """
        store = ils._circulation.store

        def broken(op, request):
            store.journal(op.now, "forced", item=request.itemId)
            store.execute(sql)
            raise RuntimeError("forced")

        ils._circulation.checkins.checkin = broken

    async def together(self, ils, *operations):
        """
        Call C{operations} (each a function of the terminal) while the
        SQLite thread is held, so that they wait, and then run, together.

        @return: Their Deferreds, once the thread is released.
        """
        release, held = self.hold(ils)
        t = terminal()
        calls = [operation(t) for operation in operations]
        release.set()
        await held
        return calls

    def journal(self, path, since=0):
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        return conn.execute(
            "SELECT operation, patron, item, ok FROM transaction_log"
            " WHERE operation <> 'demo' AND id > ? ORDER BY id", (since,)).fetchall()

    def openLoans(self, path):
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        return {barcode for (barcode,) in conn.execute(
            "SELECT items.barcode FROM loans JOIN items ON items.id = loans.item_id"
            " WHERE loans.checked_in_at IS NULL")}

    async def test_failingOperationUndoneAlone(self):
        """
        In a group, an operation that raises after writing undoes only its
        own savepoint, and one that is refused is a result (logged): the
        others of the group are committed with their journal rows.
        """
        ils = await self.startGrouping()
        before = self.openLoans(ils.path)
        self.breakCheckin(ils, "DELETE FROM loans")
        calls = await self.together(
            ils,
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0001", pin=PIN)),
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "NO-SUCH-ITEM", pin=PIN)),
            lambda t: ils.checkin(t, CheckinRequest("I0015")),
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0002", pin=PIN)),
        )
        first = await calls[0]
        unknown = await calls[1]
        await self.assertFailure(calls[2], RuntimeError)
        last = await calls[3]
        self.assertEqual(self.groups, [4])
        self.assertEqual((first.ok, unknown.ok, last.ok), (True, False, True))
        await ils.stopService()
        self.assertEqual(self.journal(ils.path), [
            ("checkout", "P0001", "I0001", 1),
            ("checkout", "P0001", "NO-SUCH-ITEM", 0),
            ("checkout", "P0001", "I0002", 1),
        ])
        self.assertEqual(self.openLoans(ils.path), before | {"I0001", "I0002"})

    async def test_commitFailureFailsGroup(self):
        """
        When the group's COMMIT itself fails (here a foreign key checked at
        the commit), every operation of the group fails, those that
        succeeded included, and nothing of the group is in the database.
        """
        ils = await self.startGrouping()
        before = self.openLoans(ils.path)
        store = ils._circulation.store
        checkin = ils._circulation.checkins.checkin

        def dangling(op, request):
            store.execute("PRAGMA defer_foreign_keys = ON")
            store.execute(
                "INSERT INTO loans (item_id, patron_id, out_at, due_at)"
                " VALUES (999999, 999999, '2025-01-01 00:00:00', '2025-01-15 00:00:00')")
            return checkin(op, request)

        ils._circulation.checkins.checkin = dangling
        calls = await self.together(
            ils,
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0001", pin=PIN)),
            lambda t: ils.checkin(t, CheckinRequest("I0015")),
            lambda t: ils.lookupItem(t, "I0001"),
        )
        for d in calls:
            failure = await self.assertFailure(d, sqlite3.IntegrityError)
            self.assertEqual(str(failure), "FOREIGN KEY constraint failed")
        self.assertEqual(self.groups, [3])
        # The connection is usable again: the next group commits.
        ils._circulation.checkins.checkin = checkin
        after = await ils.checkout(terminal(), CheckoutRequest("P0001", "I0002", pin=PIN))
        self.assertTrue(after.ok)
        await ils.stopService()
        self.assertEqual(self.journal(ils.path), [("checkout", "P0001", "I0002", 1)])
        self.assertEqual(self.openLoans(ils.path), before | {"I0002"})

    async def test_savepointNotUndone(self):
        """
        When an operation's savepoint cannot be undone (here the operation
        released it itself before raising, so its change joined the group
        transaction), the group is not committed: every operation of it
        fails, and nothing of it is in the database.
        """
        ils = await self.startGrouping()
        self.breakCheckin(ils, "RELEASE SAVEPOINT operation")
        calls = await self.together(
            ils,
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0001", pin=PIN)),
            lambda t: ils.checkin(t, CheckinRequest("I0015")),
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0002", pin=PIN)),
        )
        for d in calls:
            failure = await self.assertFailure(d, ILSUnavailable)
            self.assertEqual(str(failure), "an operation of the group could not be undone")
        await ils.stopService()
        self.assertEqual(self.journal(ils.path), [])

    async def test_lookupsWithoutSavepoint(self):
        """
        In a group, a lookup (which writes nothing) runs without a
        savepoint; one that raises fails alone, and the changes of the
        others, before and after it, are committed.
        """
        ils = await self.startGrouping()
        statements = []
        conn = ils._circulation.store.conn
        await ils._pool.submit(conn.set_trace_callback, statements.append)
        lookupItem = ils._circulation.items.lookup

        def broken(op):
            lookupItem(op)
            raise RuntimeError("forced")

        calls = await self.together(
            ils,
            lambda t: ils.lookupPatron(t, "P0001", PIN),
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0001", pin=PIN)),
            lambda t: ils.lookupItem(t, "I0001"),
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0002", pin=PIN)),
        )
        patron = await calls[0]
        first = await calls[1]
        item = await calls[2]
        last = await calls[3]
        self.assertEqual(self.groups, [4])
        self.assertEqual((patron.found, first.ok, item.found, last.ok),
                         (True, True, True, True))
        self.assertEqual(statements.count("SAVEPOINT operation"), 2)
        self.assertEqual(statements.count("RELEASE SAVEPOINT operation"), 2)
        ils._circulation.items.lookup = broken
        calls = await self.together(
            ils,
            lambda t: ils.checkin(t, CheckinRequest("I0001")),
            lambda t: ils.lookupItem(t, "I0001"),
            lambda t: ils.checkin(t, CheckinRequest("I0002")),
        )
        first = await calls[0]
        await self.assertFailure(calls[1], RuntimeError)
        last = await calls[2]
        self.assertEqual((first.ok, last.ok), (True, True))
        self.assertEqual(self.groups, [4, 3])
        await ils.stopService()
        self.assertEqual([row[0] for row in self.journal(ils.path)],
                         ["checkout", "checkout", "checkin", "checkin"])

    async def test_lookupEndingTransactionBreaksGroup(self):
        """
        A lookup whose error ended the group's transaction (as SQLite does
        on some I/O errors) fails the group: the operations after it fail
        too and nothing of the group is kept.
        """
        ils = await self.startGrouping()
        store = ils._circulation.store

        def ending(op):
            store.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("disk I/O error")

        ils._circulation.items.lookup = ending
        calls = await self.together(
            ils,
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0001", pin=PIN)),
            lambda t: ils.lookupItem(t, "I0001"),
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0002", pin=PIN)),
        )
        for d in calls:
            await self.assertFailure(d, ILSUnavailable)
        self.assertEqual(self.groups, [3])
        await ils.stopService()
        self.assertEqual(self.journal(ils.path), [])

    async def test_commitErrorExplained(self):
        """
        A commit failing with one of SQLite's known errors fails every
        operation of the group with the sentence that explains it.
        """
        ils = await self.startGrouping()
        store = ils._circulation.store

        def failing():
            raise sqlite3.OperationalError("disk I/O error")

        store._commit = failing
        self.addCleanup(lambda: store.__dict__.pop("_commit", None))
        calls = await self.together(
            ils,
            lambda t: ils.checkout(t, CheckoutRequest("P0001", "I0001", pin=PIN)),
            lambda t: ils.checkin(t, CheckinRequest("I0015")),
        )
        for d in calls:
            failure = await self.assertFailure(d, ILSUnavailable)
            self.assertEqual(
                str(failure),
                "the disk failed reading or writing the database %s" % (ils.path,))
        del store._commit
        await ils.stopService()
        self.assertEqual(self.journal(ils.path), [])

    async def test_lookupsTakeNoWriteLock(self):
        """
        A group of lookups alone is a read transaction: it answers while
        another connection (an import) holds the write lock.
        """
        ils = await self.startGrouping()
        other = sqlite3.connect(ils.path, isolation_level=None, timeout=0)
        self.addCleanup(other.close)
        other.execute("BEGIN IMMEDIATE")
        self.addCleanup(lambda: other.in_transaction and other.execute("ROLLBACK"))
        calls = await self.together(
            ils,
            lambda t: ils.lookupItem(t, "I0001"),
            lambda t: ils.lookupPatron(t, "P0001", PIN),
        )
        item = await calls[0]
        patron = await calls[1]
        self.assertEqual((item.itemId, patron.patronId), ("I0001", "P0001"))
        self.assertEqual(self.groups, [2])

    async def test_fileCheckedOncePerGroup(self):
        """
        The database file is checked once per group, and the lone call is
        a group of one.
        """
        ils = await self.startGrouping()
        checks = []
        check = ils._checkFileSync

        def counting():
            checks.append(1)
            check()

        ils._checkFileSync = counting
        calls = await self.together(ils, *[lambda t: ils.lookupItem(t, "I0001")] * 5)
        for d in calls:
            await d
        await ils.lookupItem(terminal(), "I0002")
        self.assertEqual(self.groups, [5, 1])
        self.assertEqual(len(checks), 2)

    async def test_withoutGroupCommit(self):
        """
        With C{groupCommit=False} each operation commits alone.
        """
        ils = await self.startILS(groupCommit=False)
        self.assertIsNone(ils._pool._group)
        result = await ils.checkout(terminal(), CheckoutRequest("P0001", "I0001", pin=PIN))
        self.assertTrue(result.ok)


