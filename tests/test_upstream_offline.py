"""
Tests for the gateway's offline queue (L{sip2acs.ils.upstream.offline})
and the C{sip2acs offline} command (L{sip2acs.tools.offlinecli}), on real
SQLite files in the test's temporary directory.
"""

import contextlib
import io
import os
import sqlite3
import stat
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.ils import values
from sip2acs.ils.sqlite.store import openDatabase
from sip2acs.ils.upstream.offline import (
    CHECKIN,
    CHECKOUT,
    OfflineLimitReached,
    OfflineQueue,
    OfflineQueueError,
    QueuedOperation,
    ReplayRefusal,
    ReplayReport,
    describeOperation,
    describeRefusal,
)
from sip2acs.tools import cli

ZONE = ZoneInfo("America/Chicago")
START = datetime(2024, 5, 1, 14, 3, 22, tzinfo=ZONE)
KIOSK = values.Terminal("kiosk3", "LIB", "MAIN", "192.0.2.7")
OTHER = values.Terminal("kiosk4", "LIB")


class FakeClock:
    """
    The time now, moved on by hand.
    """

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Upstream:
    """
    A C{send} for L{OfflineQueue.replay}: records what it is sent and
    answers with what the test asks (by default C{ok}).

    @ivar answers: Item id -> a result, an exception (the send fails), or
        a Deferred to return.
    """

    def __init__(self) -> None:
        self.sent: list[QueuedOperation] = []
        self.answers: dict[str, Any] = {}

    def __call__(self, entry: QueuedOperation) -> Deferred[object]:
        self.sent.append(entry)
        answer = self.answers.get(entry.itemId)
        if isinstance(answer, Deferred):
            return answer
        if isinstance(answer, BaseException):
            return fail(answer)
        if answer is not None:
            return succeed(answer)
        if entry.operation == CHECKIN:
            return succeed(values.CheckinResult(ok=True))
        return succeed(values.CirculationResult(ok=True))

    def items(self) -> list[str]:
        return [entry.itemId for entry in self.sent]


def checkin(itemId: str, **fields: Any) -> values.CheckinRequest:
    return values.CheckinRequest(itemId, **fields)


def checkout(patronId: str, itemId: str, **fields: Any) -> values.CheckoutRequest:
    return values.CheckoutRequest(patronId, itemId, **fields)


class QueueTestCase(TestCase):
    """
    Makes started queues on a file of the test's, stopped at the end.
    """

    def setUp(self) -> None:
        self.path = self.mktemp()
        self.clock = FakeClock()

    async def makeQueue(self, path: str | None = None) -> OfflineQueue:
        queue = OfflineQueue(path or self.path, reactor, zone=ZONE, clock=self.clock)
        await queue.startService()
        self.addCleanup(self.stopQueue, queue)
        return queue

    def stopQueue(self, queue: OfflineQueue) -> Deferred[None] | None:
        if queue.running:
            return queue.stopService()
        return None

    async def fill(self, queue: OfflineQueue, *requests: Any) -> list[QueuedOperation]:
        added = []
        for request in requests:
            added.append(await queue.add(KIOSK, request))
            self.clock.advance(60)
        return added


class AddTests(QueueTestCase):
    """
    L{OfflineQueue.add} and what it stores.
    """

    async def test_checkinStored(self) -> None:
        """
        A checkin is stored with C{noBlock}, the moment it was taken as its
        transaction and return dates (the kiosk sent neither), its
        terminal, and the time it was queued.
        """
        queue = await self.makeQueue()
        entry = await queue.add(KIOSK, checkin("I1", currentLocation="EAST"))
        self.assertEqual(entry.operation, CHECKIN)
        self.assertEqual(entry.terminal(), KIOSK)
        self.assertEqual(entry.queuedAt, START)
        self.assertEqual(
            entry.request(),
            checkin("I1", currentLocation="EAST", noBlock=True, transactionDate=START,
                    returnDate=START),
        )
        self.assertEqual(entry.itemId, "I1")
        self.assertIsNone(entry.patronId)
        self.assertEqual(await queue.pending(), [entry])

    async def test_originalDatesKept(self) -> None:
        """
        Dates the kiosk sent are kept (a return date defaults to the
        transaction date); given in another zone they come back as the
        same instant in the institution's zone.
        """
        queue = await self.makeQueue()
        taken = datetime(2024, 5, 1, 18, 0, 5, tzinfo=timezone.utc)
        returned = datetime(2024, 4, 30, 9, 0, tzinfo=ZONE)
        await queue.add(KIOSK, checkin("I1", transactionDate=taken))
        await queue.add(KIOSK, checkin("I2", transactionDate=taken, returnDate=returned))
        first, second = await queue.pending()
        self.assertEqual(first.request().transactionDate, taken)
        self.assertEqual(first.request().transactionDate.tzinfo, ZONE)
        self.assertEqual(first.request().transactionDate.hour, 13)
        self.assertEqual(first.request().returnDate, taken)
        self.assertEqual(second.request().returnDate, returned)

    async def test_checkoutStored(self) -> None:
        """
        A checkout keeps its fields, C{noBlock} set, without its PIN.
        """
        queue = await self.makeQueue()
        due = datetime(2024, 5, 22, 23, 59, tzinfo=ZONE)
        entry = await queue.add(KIOSK, checkout(
            "P1", "I1", pin="4321", nbDueDate=due, feeAcknowledged=True,
            itemProperties="props",
        ))
        expected = checkout("P1", "I1", noBlock=True, nbDueDate=due, feeAcknowledged=True,
                            itemProperties="props", transactionDate=START)
        self.assertEqual(entry.operation, CHECKOUT)
        self.assertEqual(entry.patronId, "P1")
        self.assertEqual(entry.request(), expected)
        (stored,) = await queue.pending()
        self.assertEqual(stored.request(), expected)

    async def test_pinNeverStored(self) -> None:
        """
        No byte of a checkout's PIN reaches the file (nor its write-ahead
        log), while the queue runs or after it stopped.
        """
        queue = await self.makeQueue()
        await queue.add(KIOSK, checkout("P1", "I1", pin="PIN-5z9q7w"))

        def everything() -> bytes:
            found = b""
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    with open(self.path + suffix, "rb") as f:
                        found += f.read()
            return found

        self.assertIn(b"P1", everything())
        self.assertNotIn(b"PIN-5z9q7w", everything())
        await queue.stopService()
        self.assertNotIn(b"PIN-5z9q7w", everything())

    async def test_orderOfCalls(self) -> None:
        """
        Adds made at once, without waiting, are queued in the order of the
        calls.
        """
        queue = await self.makeQueue()
        adds = []
        for number in range(30):
            request: Any = (checkout("P%d" % (number % 3,), "I%d" % (number,))
                            if number % 4 == 0 else checkin("I%d" % (number,)))
            adds.append(queue.add(KIOSK, request))
        added = [await d for d in adds]
        pending = await queue.pending()
        self.assertEqual(pending, added)
        self.assertEqual([entry.itemId for entry in pending],
                         ["I%d" % (number,) for number in range(30)])
        self.assertEqual([entry.id for entry in pending],
                         sorted(entry.id for entry in pending))

    async def test_durable(self) -> None:
        """
        What was added is there, unchanged and in order, when the file is
        opened again.
        """
        queue = await self.makeQueue()
        added = await self.fill(queue, checkin("I1"), checkout("P1", "I2", pin="1"),
                                checkin("I3"))
        await queue.stopService()
        again = await self.makeQueue()
        self.assertEqual(await again.pending(), added)
        (fourth,) = await self.fill(again, checkin("I4"))
        self.assertGreater(fourth.id, added[-1].id)

    async def test_fileMode(self) -> None:
        """
        A new queue file and its write-ahead log are readable and writable
        by their owner only, whatever the umask.
        """
        old = os.umask(0)
        try:
            queue = await self.makeQueue()
        finally:
            os.umask(old)
        await queue.add(KIOSK, checkin("I1"))
        for suffix in ("", "-wal", "-shm"):
            mode = stat.S_IMODE(os.stat(self.path + suffix).st_mode)
            self.assertEqual(mode, 0o600, suffix)

    async def test_walAndFullSync(self) -> None:
        """
        The file is in WAL mode; the queue's connection syncs fully.
        """
        queue = await self.makeQueue()
        await queue.add(KIOSK, checkin("I1"))
        synchronous = await queue._submit(
            lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]
        )
        self.assertEqual(synchronous, 2)
        conn = sqlite3.connect(self.path)
        self.addCleanup(conn.close)
        self.assertEqual(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal")

    async def test_loansFor(self) -> None:
        """
        C{loansFor} counts a patron's queued checkouts (not checkins, not
        other patrons'), and forgets them once replayed.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkout("P1", "I1"), checkin("I2"),
                        checkout("P2", "I3"), checkout("P1", "I4"))
        self.assertEqual(await queue.loansFor("P1"), 2)
        self.assertEqual(await queue.loansFor("P2"), 1)
        self.assertEqual(await queue.loansFor("P9"), 0)
        await queue.replay(Upstream())
        self.assertEqual(await queue.loansFor("P1"), 0)

    async def test_loanLimit(self) -> None:
        """
        With a limit, a checkout past it is refused and not queued;
        checkins and other patrons are not affected.
        """
        queue = await self.makeQueue()
        await queue.add(KIOSK, checkout("P1", "I1"), loanLimit=2)
        await queue.add(KIOSK, checkout("P1", "I2"), loanLimit=2)
        error = await self.assertFailure(
            queue.add(KIOSK, checkout("P1", "I3"), loanLimit=2), OfflineLimitReached
        )
        self.assertEqual((error.patronId, error.limit), ("P1", 2))
        await queue.add(KIOSK, checkout("P2", "I3"), loanLimit=2)
        await queue.add(KIOSK, checkin("I4"), loanLimit=0)
        self.assertEqual([entry.itemId for entry in await queue.pending()],
                         ["I1", "I2", "I3", "I4"])

    async def test_onlyCirculation(self) -> None:
        """
        Only checkins and checkouts can be queued.
        """
        queue = await self.makeQueue()
        await self.assertFailure(
            queue.add(KIOSK, values.RenewRequest("P1", "I1")),  # type: ignore[arg-type]
            TypeError,
        )
        self.assertEqual(await queue.pending(), [])

    async def test_notRunning(self) -> None:
        """
        A queue that is not running fails its calls with a sentence.
        """
        queue = OfflineQueue(self.path, reactor)
        error = await self.assertFailure(queue.pending(), OfflineQueueError)
        self.assertIn("is not running", str(error))

    def test_oneThread(self) -> None:
        """
        The queue runs on one thread: it keeps the order of arrival.
        """
        self.assertRaises(ValueError, OfflineQueue, self.path, reactor, 2)


class FileTests(QueueTestCase):
    """
    Files that cannot be a queue.
    """

    async def test_circulationDatabase(self) -> None:
        """
        The circulation database is not taken for a queue.
        """
        conn, _ = openDatabase(self.path)
        conn.close()
        queue = OfflineQueue(self.path, reactor)
        error = await self.assertFailure(queue.startService(), OfflineQueueError)
        await queue.stopService()
        self.assertEqual(
            str(error), "%s is a SQLite database but not a sip2acs offline queue"
            % (self.path,),
        )

    async def test_newerVersion(self) -> None:
        """
        A queue written by a newer sip2acs is refused, saying so.
        """
        queue = await self.makeQueue()
        await queue.stopService()
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
        queue = OfflineQueue(self.path, reactor)
        error = await self.assertFailure(queue.startService(), OfflineQueueError)
        await queue.stopService()
        self.assertEqual(str(error), "the offline queue %s has version 99, newer than"
                         " this sip2acs knows (1)" % (self.path,))

    async def test_notSQLite(self) -> None:
        """
        A file that is not a SQLite database is refused, saying so.
        """
        with open(self.path, "wb") as f:
            f.write(b"not a database at all" * 100)
        queue = OfflineQueue(self.path, reactor)
        error = await self.assertFailure(queue.startService(), OfflineQueueError)
        await queue.stopService()
        self.assertIn("is damaged or not a SQLite database (file is not a database)", str(error))

    async def test_missingDirectory(self) -> None:
        """
        A file that cannot be created is refused, saying why.
        """
        path = os.path.join(self.mktemp(), "queue.sqlite3")
        queue = OfflineQueue(path, reactor)
        error = await self.assertFailure(queue.startService(), OfflineQueueError)
        await queue.stopService()
        self.assertEqual(str(error), "cannot create the offline queue %s: its directory"
                         " does not exist" % (path,))


class ReplayTests(QueueTestCase):
    """
    L{OfflineQueue.replay}.
    """

    async def test_success(self) -> None:
        """
        Every entry is sent, in order, with C{noBlock} and its dates, and
        removed.
        """
        queue = await self.makeQueue()
        added = await self.fill(queue, checkin("I1"), checkout("P1", "I2"),
                                checkin("I3"))
        upstream = Upstream()
        report = await queue.replay(upstream)
        self.assertEqual(report, ReplayReport(replayed=3, refused=0, remaining=0))
        self.assertEqual(upstream.sent, added)
        self.assertTrue(all(entry.request().noBlock for entry in upstream.sent))
        self.assertEqual(await queue.pending(), [])
        self.assertEqual(await queue.refusals(), [])

    async def test_empty(self) -> None:
        """
        Replaying an empty queue sends nothing.
        """
        queue = await self.makeQueue()
        upstream = Upstream()
        self.assertEqual(await queue.replay(upstream), ReplayReport(0, 0, 0))
        self.assertEqual(upstream.sent, [])

    async def test_refusal(self) -> None:
        """
        An entry the upstream refuses moves to the refusals with its screen
        messages; the replay goes on.
        """
        queue = await self.makeQueue()
        added = await self.fill(queue, checkin("I1"), checkout("P1", "I2"),
                                checkin("I3"))
        upstream = Upstream()
        upstream.answers["I2"] = values.CirculationResult(
            ok=False, reason=values.Reason.CARD_BLOCKED,
            screenMessages=("Card blocked", "See the desk"),
        )
        self.clock.advance(3600)
        report = await queue.replay(upstream)
        self.assertEqual(report, ReplayReport(replayed=2, refused=1, remaining=0))
        self.assertEqual(upstream.items(), ["I1", "I2", "I3"])
        self.assertEqual(await queue.pending(), [])
        (refusal,) = await queue.refusals()
        self.assertEqual(refusal, ReplayRefusal(
            refusal.id, CHECKOUT, "I2", "P1", added[1].queuedAt, self.clock.now,
            ("Card blocked", "See the desk"), "kiosk3", "LIB", values.Reason.CARD_BLOCKED,
        ))
        self.assertEqual(refusal.refusedAt.tzinfo, ZONE)

    async def test_failureMidway(self) -> None:
        """
        A failed send stops the replay: that entry and all after it stay
        queued, in order, and the next replay sends them, in order.
        """
        queue = await self.makeQueue()
        added = await self.fill(queue, *(checkin("I%d" % (n,)) for n in range(1, 6)))
        upstream = Upstream()
        upstream.answers["I3"] = ConnectionError("upstream gone")
        report = await queue.replay(upstream)
        self.assertEqual(report, ReplayReport(replayed=2, refused=0, remaining=3))
        self.assertEqual(upstream.items(), ["I1", "I2", "I3"])
        self.assertEqual(await queue.pending(), added[2:])
        self.assertEqual(await queue.refusals(), [])

        upstream = Upstream()
        self.assertEqual(await queue.replay(upstream), ReplayReport(3, 0, 0))
        self.assertEqual(upstream.sent, added[2:])

    async def test_unavailableStops(self) -> None:
        """
        A result saying the system is unavailable is not a refusal for
        staff: it stops the replay like a failure.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkin("I1"), checkin("I2"))
        upstream = Upstream()
        upstream.answers["I1"] = values.CheckinResult(
            ok=False, reason=values.Reason.UNAVAILABLE)
        self.assertEqual(await queue.replay(upstream), ReplayReport(0, 0, 2))
        self.assertEqual(upstream.items(), ["I1"])
        self.assertEqual(await queue.refusals(), [])

    async def test_sendRaises(self) -> None:
        """
        A send that raises instead of failing its Deferred stops the
        replay the same way.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkin("I1"))

        def send(entry: QueuedOperation) -> Deferred[object]:
            raise RuntimeError("no connection")

        self.assertEqual(await queue.replay(send), ReplayReport(0, 0, 1))
        self.flushLoggedErrors()

    async def test_concurrent(self) -> None:
        """
        A replay asked for while one runs starts nothing and gets the
        running one's report; each entry is sent once.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkin("I1"), checkin("I2"))
        upstream = Upstream()
        answer: Deferred[object] = Deferred()
        upstream.answers["I1"] = answer
        first = queue.replay(upstream)
        await self.waitFor(lambda: upstream.sent)
        second = queue.replay(Upstream())
        status = await queue.status()
        self.assertTrue(status.replaying)
        self.assertNoResult(first)
        self.assertNoResult(second)
        answer.callback(values.CheckinResult(ok=True))
        reports = [await first, await second]
        self.assertEqual(reports, [ReplayReport(2, 0, 0)] * 2)
        self.assertEqual(upstream.items(), ["I1", "I2"])
        self.assertEqual(await queue.replay(upstream), ReplayReport(0, 0, 0))

    async def test_addedDuringReplay(self) -> None:
        """
        Entries added while a replay runs are sent too, after the others.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkin("I1"))
        upstream = Upstream()
        answer: Deferred[object] = Deferred()
        upstream.answers["I1"] = answer
        replaying = queue.replay(upstream)
        await self.waitFor(lambda: upstream.sent)
        await queue.add(OTHER, checkin("I2"))
        answer.callback(values.CheckinResult(ok=True))
        self.assertEqual(await replaying, ReplayReport(2, 0, 0))
        self.assertEqual(upstream.items(), ["I1", "I2"])
        self.assertEqual(upstream.sent[1].terminal(), OTHER)

    async def test_stopDuringReplay(self) -> None:
        """
        Stopping waits for the entry in flight, settles it and sends no
        more; the rest are there when the queue is opened again.
        """
        queue = await self.makeQueue()
        added = await self.fill(queue, checkin("I1"), checkin("I2"))
        upstream = Upstream()
        answer: Deferred[object] = Deferred()
        upstream.answers["I1"] = answer
        replaying = queue.replay(upstream)
        await self.waitFor(lambda: upstream.sent)
        stopped = queue.stopService()
        self.assertNoResult(stopped)
        answer.callback(values.CheckinResult(ok=True))
        self.assertEqual(await replaying, ReplayReport(1, 0, 1))
        await stopped
        self.assertEqual(upstream.items(), ["I1"])
        again = await self.makeQueue()
        self.assertEqual(await again.pending(), added[1:])

    async def test_clearRefusal(self) -> None:
        """
        A cleared refusal is gone; clearing it again does nothing.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkin("I1"), checkin("I2"))
        upstream = Upstream()
        upstream.answers["I1"] = upstream.answers["I2"] = values.CheckinResult(
            ok=False, screenMessages=("Not checked out",))
        self.assertEqual(await queue.replay(upstream), ReplayReport(0, 2, 0))
        first, second = await queue.refusals()
        await queue.clearRefusal(first.id)
        await queue.clearRefusal(first.id)
        self.assertEqual(await queue.refusals(), [second])

    async def test_status(self) -> None:
        """
        C{status} counts what waits and what was refused, and remembers the
        last replay.
        """
        queue = await self.makeQueue()
        status = await queue.status()
        self.assertEqual((status.pending, status.checkouts, status.oldest,
                          status.refusals, status.replaying, status.lastReplay),
                         (0, 0, None, 0, False, None))
        added = await self.fill(queue, checkin("I1"), checkout("P1", "I2"),
                                checkin("I3"))
        status = await queue.status()
        self.assertEqual((status.pending, status.checkouts, status.oldest),
                         (3, 1, added[0].queuedAt))
        upstream = Upstream()
        upstream.answers["I1"] = values.CheckinResult(ok=False)
        upstream.answers["I3"] = ConnectionError("gone")
        await queue.replay(upstream)
        status = await queue.status()
        self.assertEqual((status.pending, status.checkouts, status.refusals),
                         (1, 0, 1))
        self.assertEqual(status.lastReplay, ReplayReport(1, 1, 1))
        self.assertEqual(status.lastReplayAt, self.clock.now)
        self.assertEqual(status.path, self.path)

    async def waitFor(self, condition: Callable[[], object]) -> None:
        """
        Let the reactor run until C{condition()} is true (the queue's
        thread answering).
        """
        while not condition():
            d: Deferred[None] = Deferred()
            reactor.callLater(0.001, d.callback, None)  # type: ignore[attr-defined]
            await d


class DescribeTests(SynchronousTestCase):
    """
    The lines staff read.
    """

    def test_operation(self) -> None:
        entry = QueuedOperation(12, CHECKOUT, "kiosk3", "LIB", None, None,
                                checkout("P1", "I1"), START)
        self.assertEqual(describeOperation(entry),
                         "queued 12: checkout of item I1 to patron P1 at"
                         " 2024-05-01 14:03:22 by kiosk3 (institution LIB)")

    def test_refusal(self) -> None:
        refusal = ReplayRefusal(3, CHECKIN, "I1", None, START,
                                START + timedelta(hours=1), ("Not checked out", ""),
                                "kiosk3", "LIB")
        self.assertEqual(describeRefusal(refusal),
                         "refusal 3: checkin of item I1 taken 2024-05-01 14:03:22 by"
                         " kiosk3, refused 2024-05-01 15:03:22: Not checked out")

    def test_refusalWithoutMessage(self) -> None:
        refusal = ReplayRefusal(3, CHECKIN, "I1", None, START, START, (), "kiosk3",
                                "LIB", values.Reason.NOT_ON_LOAN)
        self.assertTrue(describeRefusal(refusal).endswith(": not-on-loan"))


def runOffline(*argv: str) -> tuple[int, str, str]:
    """
    Run C{sip2acs offline ARGV...}.

    @return: The exit code, and what it printed to stdout and stderr.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["offline", *argv])
    return code, out.getvalue(), err.getvalue()


class CommandTests(QueueTestCase):
    """
    C{sip2acs offline show} and C{clear}.
    """

    async def test_show(self) -> None:
        """
        C{show} lists the entries waiting, then the refusals, one line each.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkin("I1"), checkout("P1", "I2", pin="1234"),
                        checkin("I3"))
        upstream = Upstream()
        upstream.answers["I1"] = values.CheckinResult(
            ok=False, screenMessages=("Item not checked out",))
        upstream.answers["I2"] = ConnectionError("gone")
        await queue.replay(upstream)
        (refusal,) = await queue.refusals()
        first, second = await queue.pending()
        code, out, err = runOffline("show", self.path)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "%s: 2 waiting to be replayed, 1 refused by the upstream." % (self.path,),
            "queued %d: checkout of item I2 to patron P1 at 2024-05-01 14:04:22 by"
            " kiosk3 (institution LIB)" % (first.id,),
            "queued %d: checkin of item I3 at 2024-05-01 14:05:22 by kiosk3"
            " (institution LIB)" % (second.id,),
            "refusal %d: checkin of item I1 taken 2024-05-01 14:03:22 by kiosk3,"
            " refused 2024-05-01 14:06:22: Item not checked out" % (refusal.id,),
        ])
        self.assertNotIn("1234", out)

    async def test_showEmpty(self) -> None:
        await self.makeQueue()
        self.assertEqual(
            runOffline("show", self.path),
            (0, "%s: 0 waiting to be replayed, 0 refused by the upstream.\n"
             % (self.path,), ""),
        )

    def test_showMissing(self) -> None:
        """
        A missing file is one line on standard error, and not created.
        """
        self.assertEqual(
            runOffline("show", self.path),
            (1, "", "sip2acs offline show: error: the offline queue %s does not"
             " exist\n" % (self.path,)),
        )
        self.assertFalse(os.path.exists(self.path))

    async def test_clear(self) -> None:
        """
        C{clear} forgets a refusal, while the server has the queue open.
        """
        queue = await self.makeQueue()
        await self.fill(queue, checkin("I1"), checkin("I2"))
        upstream = Upstream()
        upstream.answers["I1"] = upstream.answers["I2"] = values.CheckinResult(ok=False)
        await queue.replay(upstream)
        first, second = await queue.refusals()
        self.assertEqual(
            runOffline("clear", self.path, str(first.id)),
            (0, "%s: refusal %d cleared.\n" % (self.path, first.id), ""),
        )
        self.assertEqual(await queue.refusals(), [second])

    async def test_clearUnknown(self) -> None:
        await self.makeQueue()
        self.assertEqual(
            runOffline("clear", self.path, "7"),
            (1, "", "sip2acs offline clear: error: %s holds no refusal 7 (sip2acs"
             " offline show lists them)\n" % (self.path,)),
        )
