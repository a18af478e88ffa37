"""
Regression tests for issue 9, items 2, 5, 9 and 15: what the server does
when its database is locked, missing, damaged, deleted or replaced, how it
logs a storm of failures, how it shuts down under load, and the modes of
the files it creates. Everything runs over real loopback sockets: an
in-process server with real listeners (L{tests.listeners}) or the real
C{twistd -n sip2acs} (L{tests.process}).
"""

import os
import signal
import sqlite3
import stat
import subprocess
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, gatherResults, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import Clock
from twisted.logger import LogLevel, formatEvent
from twisted.trial.unittest import TestCase

from sip2acs.acs.failurelog import REARM_INTERVAL, SUMMARY_INTERVAL
from sip2acs.ils.base import CheckoutRequest, ILSUnavailable
from sip2acs.ils.memory import MemoryILS
from sip2acs.ils.sqlite import DatabaseError, SQLiteILS, openDatabase, store as storeModule
from sip2acs.passwords import hashPassword
from sip2acs.tools import cli
from tests.library import makeLibrary, writeFile
from tests.listeners import ListenerHarness, waitFor
from tests.loopback import SIP2Client, captureLogs, login
from tests.process import runServer, startServer

WHEN = "20250314    101500"
NOT_AVAILABLE = "not available"

SERVER_CONFIG = """
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"

[[institution]]
id = "KT"
database = "%(database)s"

[[account]]
login = "kiosk"
password = "%(hash)s"
institution = "KT"
trace = "redacted"
"""


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


class DatabaseLock:
    """
    Another process holding the write lock of a database (C{BEGIN
    IMMEDIATE}) until L{release}.
    """

    def __init__(self, testCase, path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", LOCKER, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        testCase.addCleanup(self.release)
        assert self.process.stdout.readline() == b"locked\n"

    def release(self):
        if self.process.returncode is None:
            self.process.stdin.close()
            self.process.wait()
            self.process.stdout.close()


def checkout(item, patron="P0001"):
    return ("11NN%s%sAODEMO|AA%s|AB%s|AC|AD1234|" % (WHEN, " " * 18, patron, item)).encode()


def payment(transaction, patron="P0001"):
    return ("37%s0100USDBV0.01|AODEMO|AA%s|AD1234|BK%s|" % (WHEN, patron, transaction)).encode()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class SQLiteHarnessMixin:
    """
    The demo database in an L{SQLiteILS} behind a real listener.
    """

    @inlineCallbacks
    def startLibrary(self, ilsTimeout=None):
        self.path = os.path.abspath(self.mktemp())
        self.ils = SQLiteILS(self.path, reactor, demo=True, allowOverpayment=True)
        yield self.ils.startService()
        self.addCleanup(lambda: self.ils.running and self.ils.stopService())
        self.harness = ListenerHarness(self, adapter=self.ils)
        if ilsTimeout is not None:
            self.harness.server.ilsTimeout = ilsTimeout

    @inlineCallbacks
    def kiosk(self):
        client = yield self.harness.connect()
        reply = yield client.ask(login())
        self.assertTrue(reply.message.ok)
        return client

    def query(self, sql, *args):
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def lent(self):
        """
        The loans in the database, as (item barcode, loan id) pairs.
        """
        return set(self.query(
            "SELECT items.barcode, loans.id FROM loans"
            " JOIN items ON items.id = loans.item_id"))

    def queryOpenFile(self, sql, *args):
        """
        Query the file the adapter has open (even if unlinked), on its
        thread, past its checks.
        """
        return self.ils._defer(lambda: self.ils._conn.execute(sql, args).fetchall())


class RefusedNeverDoneTests(SQLiteHarnessMixin, TestCase):
    """
    Item 2: an operation the kiosk was told failed never takes effect.
    """

    timeout = 60

    @inlineCallbacks
    def test_refusedWhileLocked(self):
        """
        While another process holds the database lock longer than the ILS
        timeout, 37 payments and 11 checkouts from 48 kiosks are answered
        "not available", except one the SQLite thread may have already
        started alone, which gets its real (successful) answer once the
        lock is released. (Operations waiting together form one group whose
        calls start only once the group holds the lock, so all of them may
        be withdrawn.) None of the refused ones is in the database
        afterwards.
        """
        yield self.startLibrary(ilsTimeout=0.5)
        logs = captureLogs(self)
        kiosks = yield gatherResults([self.kiosk() for _ in range(48)])
        items = ["I%04d" % (n,) for n in (1, 2, 4, 5, 6, 7, 8, 11, 12, 14, 17)]
        frames = [payment("PAY-%02d" % (n,)) for n in range(37)]
        frames += [checkout(item) for item in items]
        loansBefore = self.query("SELECT count(*) FROM loans")[0][0]
        lentBefore = self.lent()
        lock = DatabaseLock(self, self.path)
        answers = [
            client.ask(frame, timeout=15) for client, frame in zip(kiosks, frames, strict=True)
        ]
        # Every refusal arrives while the lock is still held.
        refusedBy = Deferred()
        reactor.callLater(2.0, refusedBy.callback, None)
        yield refusedBy
        lock.release()
        replies = yield gatherResults(answers)

        messages = [reply.message for reply in replies]
        refused = [
            (f, m) for f, m in zip(frames, messages, strict=True)
            if NOT_AVAILABLE in "".join(m.screenMessage)
        ]
        started = [m for m in messages if NOT_AVAILABLE not in "".join(m.screenMessage)]
        # One the SQLite thread had started alone (if it took the first
        # before the others came) waited for the lock and answered for
        # real; the others were withdrawn.
        self.assertLessEqual(len(started), 1, messages)
        self.assertEqual(len(refused), 48 - len(started))

        # Wait for the SQLite thread to finish whatever it has.
        yield self.ils.healthCheck()
        payments = {p for (p,) in self.query("SELECT device_transaction_id FROM payments")}
        refusedPayments = {
            frame.split(b"BK")[1].rstrip(b"|").decode()
            for frame, _ in refused if frame.startswith(b"37")
        }
        self.assertEqual(refusedPayments & payments, set())
        refusedItems = {
            frame.split(b"AB")[1].split(b"|")[0].decode()
            for frame, _ in refused if frame.startswith(b"11")
        }
        lentNow = {barcode for barcode, _ in self.lent() - lentBefore}
        self.assertEqual(refusedItems & lentNow, set())
        loansAfter = self.query("SELECT count(*) FROM loans")[0][0]
        self.assertEqual(
            loansAfter - loansBefore,
            1 if started and started[0].code == "12" and started[0].ok else 0
        )
        paid = payments & {"PAY-%02d" % (n,) for n in range(37)}
        self.assertEqual(
            len(paid),
            1 if started and started[0].code == "38" and started[0].paymentAccepted else 0
        )
        self.assertEqual(
            any("had already started" in (e.get("log_format") or "") for e in logs),
            bool(started),
        )


class LockedDatabaseTests(SQLiteHarnessMixin, TestCase):
    """
    Item 9: a database held locked by another process is a reason the
    adapter gives in one sentence, not an unexplained SQLite error.
    """

    @inlineCallbacks
    def test_lockedIsExplained(self):
        self.patch(storeModule, "BUSY_TIMEOUT", 0.2)
        yield self.startLibrary()
        DatabaseLock(self, self.path)
        failure = yield self.assertFailure(
            self.ils.checkout(None, CheckoutRequest(patronId="P0001", itemId="I0001")),
            DatabaseError,
        )
        self.assertEqual(
            str(failure),
            "the database %s is locked by another process (waited 0.2 s)" % (self.path,),
        )


class MissingDatabaseTests(TestCase):
    """
    Item 5: a configured database that is missing, damaged or newer than
    this sip2acs stops the start-up with one line; one deleted or replaced
    while the server runs stops the writes.
    """

    timeout = 60

    def configure(self, database):
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        config = os.path.join(workdir, "sip2acs.toml")
        writeFile(config, SERVER_CONFIG % {
            "database": database, "hash": hashPassword("kiosk-pw", cost=4)})
        return config

    @inlineCallbacks
    def assertRefusesToStart(self, database, problem):
        output, code = yield runServer(self, ["--config", self.configure(database)])
        self.assertNotEqual(code, 0, output)
        self.assertNotIn("Traceback", output)
        self.assertNotIn("Unhandled", output)
        lines = [line for line in output.splitlines() if "cannot start" in line]
        self.assertEqual(len(lines), 1, output)
        self.assertIn("sqlite:%s cannot start: %s" % (database, problem), lines[0])
        return output

    @inlineCallbacks
    def test_missing(self):
        """
        A configured database that does not exist is not created: twistd
        exits non-zero with one line naming it.
        """
        database = os.path.abspath(self.mktemp())
        yield self.assertRefusesToStart(
            database, "the database %s does not exist" % (database,)
        )
        self.assertFalse(os.path.exists(database))

    @inlineCallbacks
    def test_notADatabase(self):
        """
        A file that is not a SQLite database stops the start-up.
        """
        database = os.path.abspath(self.mktemp())
        writeFile(database, "this is not a database\n" * 200)
        yield self.assertRefusesToStart(
            database,
            "the database %s is not a SQLite database or is damaged" % (database,),
        )

    @inlineCallbacks
    def test_newerSchema(self):
        """
        A database newer than this sip2acs stops the start-up.
        """
        database = os.path.abspath(self.mktemp())
        conn, _ = openDatabase(database)
        conn.execute("PRAGMA user_version = 999")
        conn.close()
        yield self.assertRefusesToStart(
            database, "%s: the database has schema version 999, newer" % (database,)
        )

    @inlineCallbacks
    def test_unreadable(self):
        """
        A database the server may not open stops the start-up.
        """
        if os.getuid() == 0:
            self.skipTest("root reads any file")
        database = os.path.abspath(self.mktemp())
        openDatabase(database)[0].close()
        os.chmod(database, 0)
        yield self.assertRefusesToStart(
            database, "cannot open the database %s: permission denied" % (database,)
        )


class LostDatabaseTests(SQLiteHarnessMixin, TestCase):
    """
    Item 5: a database file deleted or replaced while the server runs.
    """

    @inlineCallbacks
    def assertStopsWriting(self, reason):
        logs = captureLogs(self)
        client = yield self.kiosk()
        before = yield self.queryOpenFile("SELECT count(*) FROM payments")
        for n in range(3):
            reply = yield client.ask(payment("LOST-%d" % (n,)))
            self.assertFalse(reply.message.paymentAccepted)
            self.assertIn(NOT_AVAILABLE, reply.message.screenMessage[0])
        reply = yield client.ask(checkout("I0001"))
        self.assertFalse(reply.message.ok)
        after = yield self.queryOpenFile("SELECT count(*) FROM payments")
        self.assertEqual(after, before)
        loans = yield self.queryOpenFile(
            "SELECT count(*) FROM loans JOIN items ON items.id = item_id"
            " WHERE barcode = 'I0001'")
        self.assertEqual(loans, [(0,)])
        failure = yield self.assertFailure(self.ils.healthCheck(), DatabaseError)
        self.assertIn(reason, str(failure))
        # The adapter says it once; the session's lines about the refused
        # requests (one per operation) give the reason, with no traceback.
        said = [e for e in logs if reason in str(e.get("reason", ""))]
        self.assertEqual(len([e for e in said if e["log_format"] == "{reason}"]), 1)
        self.assertEqual([e for e in logs if "log_failure" in e], [])

    @inlineCallbacks
    def test_deleted(self):
        """
        Deleted: every request is refused "not available" without effect
        on the file the server has open, the health check fails with the
        reason, and the log says it once.
        """
        yield self.startLibrary()
        os.unlink(self.path)
        yield self.assertStopsWriting("was deleted while the server ran")

    @inlineCallbacks
    def test_replaced(self):
        """
        Replaced by another file: the same.
        """
        yield self.startLibrary()
        other = self.path + ".other"
        openDatabase(other)[0].close()
        os.replace(other, self.path)
        yield self.assertStopsWriting("was replaced while the server ran")


class FailingILS(MemoryILS):
    """
    A circulation system whose payments fail: by default with an error it
    does not explain (SQLite's own, as if the disk were full).
    """

    operations = MemoryILS.operations | {"feePaid"}

    def __init__(self, error=None):
        MemoryILS.__init__(self)
        self.error = error

    def feePaid(self, terminal, payment):
        return fail(self.error or sqlite3.OperationalError("database or disk is full"))


class FailureStormTests(TestCase):
    """
    Item 9: a storm of failed storage requests logs one traceback, then a
    summary line per interval.
    """

    @inlineCallbacks
    def test_storm(self):
        clock = Clock()
        harness = ListenerHarness(self, adapter=FailingILS(), clock=clock)
        logs = captureLogs(self)
        client = yield harness.connect()
        reply = yield client.ask(login())
        self.assertTrue(reply.message.ok)
        for n in range(50):
            reply = yield client.ask(payment("DISK-%d" % (n,)))
            self.assertFalse(reply.message.paymentAccepted)
        tracebacks = [e for e in logs if "log_failure" in e]
        self.assertEqual(len(tracebacks), 1)
        clock.advance(SUMMARY_INTERVAL)
        for n in range(5):
            yield client.ask(payment("DISK-%d" % (n,)))
        summaries = [e for e in logs if "more time(s)" in (e.get("log_format") or "")]
        self.assertEqual([e["count"] for e in summaries], [50])
        self.assertIn("OperationalError: database or disk is full", summaries[0]["error"])
        clock.advance(SUMMARY_INTERVAL)
        yield client.ask(payment("AGAIN"))
        summaries = [e for e in logs if "more time(s)" in (e.get("log_format") or "")]
        self.assertEqual([e["count"] for e in summaries], [50, 5])
        self.assertEqual(len([e for e in logs if "log_failure" in e]), 1)
        # One failure per interval is still the same storm: a summary.
        clock.advance(SUMMARY_INTERVAL)
        yield client.ask(payment("LATER"))
        summaries = [e for e in logs if "more time(s)" in (e.get("log_format") or "")]
        self.assertEqual([e["count"] for e in summaries], [50, 5, 1])
        self.assertEqual(len([e for e in logs if "log_failure" in e]), 1)
        # Quiet for REARM_INTERVAL: the next one is logged in full again.
        clock.advance(REARM_INTERVAL)
        client = yield harness.connect()
        self.assertTrue((yield client.ask(login())).message.ok)
        yield client.ask(payment("MUCH LATER"))
        self.assertEqual(len([e for e in logs if "log_failure" in e]), 2)
        self.flushLoggedErrors(sqlite3.OperationalError)

    @inlineCallbacks
    def test_refusalsCountedAsRefused(self):
        """
        A patron request the session refuses itself (the library system
        failed) is logged and counted as refused, though a 24 has no flag
        saying so; a good one after it is ok again.
        """
        ils = FailingILS(ILSUnavailable("the database is locked"))
        ils.lookupPatron = lambda *args: fail(ILSUnavailable("the database is locked"))
        harness = ListenerHarness(self, adapter=ils)
        logs = captureLogs(self)
        client = yield harness.connect()
        self.assertTrue((yield client.ask(login())).message.ok)
        yield client.ask(b"2300020250101    120000AODEMO|AAP1001|")
        yield client.ask(b"9900302.00")
        lines = [formatEvent(e) for e in logs if "->" in (e.get("log_format") or "")]
        self.assertIn("23->24 refused", lines[-2])
        self.assertIn("99->98 ok", lines[-1])
        messages = harness.server.metrics.messages
        self.assertEqual(messages.get(("23", "24", "refused")), 1)
        self.assertNotIn(("23", "24", "ok"), messages)

    @inlineCallbacks
    def test_explainedFailure(self):
        """
        A failure the adapter explains (L{ILSUnavailable}, e.g. the
        database locked by another process) is logged as one line with
        its reason, never with a traceback, then summarized.
        """
        clock = Clock()
        reason = "the database lib.sqlite3 is locked by another process (waited 10 s)"
        harness = ListenerHarness(
            self, adapter=FailingILS(ILSUnavailable(reason)), clock=clock
        )
        logs = captureLogs(self)
        client = yield harness.connect()
        self.assertTrue((yield client.ask(login())).message.ok)
        for n in range(20):
            reply = yield client.ask(payment("LOCKED-%d" % (n,)))
            self.assertIn(NOT_AVAILABLE, "".join(reply.message.screenMessage))
        clock.advance(SUMMARY_INTERVAL)
        yield client.ask(payment("LOCKED-LAST"))
        self.assertEqual([e for e in logs if "log_failure" in e], [])
        lines = [formatEvent(e) for e in logs if e.get("log_level") == LogLevel.error]
        self.assertEqual(len(lines), 2, lines)
        self.assertIn(reason, lines[0])
        self.assertIn("failed 20 more time(s)", lines[1])
        self.assertIn(reason, lines[1])


KIOSKS = 8


def connect(port):
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5)
    return connectProtocol(endpoint, SIP2Client(reactor))


class ShutdownTests(TestCase):
    """
    Item 9: SIGTERM stops accepting, answers the requests in flight, then
    stops the circulation system.
    """

    timeout = 60

    def makeLibrary(self, workdir):
        return makeLibrary(
            workdir,
            patrons=[("PK1", "Kiosk Tester")],
            items=[("K%02d" % (n,), "Book %d" % (n,)) for n in range(2 * KIOSKS)],
        )

    @inlineCallbacks
    def test_sigtermAnswersInFlight(self):
        """
        SIGTERM while every kiosk has a checkout in flight (queued behind a
        lock another process holds): each kiosk gets its real answer, then
        its connection closes; a request sent after that is not taken; the
        log has no traceback.
        """
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        database = self.makeLibrary(workdir)
        config = os.path.join(workdir, "sip2acs.toml")
        writeFile(config, SERVER_CONFIG % {
            "database": database, "hash": hashPassword("kiosk-pw", cost=4)})
        server = yield startServer(self, ["--config", config])
        kiosks = yield gatherResults([connect(server.port) for _ in range(KIOSKS)])
        for client in kiosks:
            self.addCleanup(lambda c=client: c.transport and c.transport.loseConnection())
            reply = yield client.ask(b"9300CNkiosk|COkiosk-pw|")
            self.assertTrue(reply.message.ok)

        lock = DatabaseLock(self, database)
        answers = [
            client.ask(("11NN%s%sAOKT|AAPK1|ABK%02d|AC|" % (WHEN, " " * 18, n)).encode(),
                       timeout=20)
            for n, client in enumerate(kiosks)
        ]
        yield waitFor(reactor, lambda: server.output.count(" in 11NN") == KIOSKS)
        server.transport.signalProcess("TERM")
        pause = Deferred()
        reactor.callLater(1.0, pause.callback, None)
        yield pause
        lock.release()
        replies = yield gatherResults(answers)
        for reply in replies:
            self.assertTrue(reply.message.ok, reply.message)
        # The connections close; a request sent now is not taken.
        for n, client in enumerate(kiosks):
            client.transport.write(
                ("11NN%s%sAOKT|AAPK1|ABK%02d|AC|\r" % (WHEN, " " * 18, KIOSKS + n)).encode())
        yield gatherResults([client.waitForClose(timeout=20) for client in kiosks])
        ended = yield server.proto.ended
        self.assertEqual(getattr(ended, "signal", None), signal.SIGTERM, server.output)
        self.assertNotIn("Traceback", server.output)
        self.assertNotIn("Unhandled", server.output)
        conn = sqlite3.connect(database)
        self.addCleanup(conn.close)
        lent = {b for (b,) in conn.execute(
            "SELECT items.barcode FROM loans JOIN items ON items.id = loans.item_id")}
        self.assertEqual(lent, {"K%02d" % (n,) for n in range(KIOSKS)})


class FileModeTests(TestCase):
    """
    Item 15: the database, its WAL files and the log are not readable by
    everyone.
    """

    timeout = 60

    def setUp(self):
        # What a distribution's default umask gives.
        previous = os.umask(0o022)
        self.addCleanup(os.umask, previous)

    @inlineCallbacks
    def test_demoRun(self):
        """
        The default demo run creates its database 0600, and SQLite gives
        the -wal and -shm files the same mode.
        """
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        database = os.path.join(workdir, "sip2acs.sqlite3")
        server = yield startServer(self, [
            "--sip", "tcp:0:interface=127.0.0.1", "--database", database,
            "--admin", "none"])
        client = yield connect(server.port)
        self.addCleanup(client.transport.loseConnection)
        yield client.ask(b"9300CNdemo|COdemo|")
        reply = yield client.ask(checkout("I0001"))
        self.assertTrue(reply.message.ok)
        for suffix in ("", "-wal", "-shm"):
            self.assertEqual(mode(database + suffix), 0o600, suffix)
        # The log is whole once the server has stopped (lines are buffered).
        client.transport.loseConnection()
        yield server.signal("TERM")
        self.assertIn("created the database %s" % (database,), server.output)

    def test_dbInit(self):
        """
        C{sip2acs db init} and C{db demo} create the database 0600.
        """
        for command in ("init", "demo"):
            database = os.path.abspath(self.mktemp())
            self.assertEqual(cli.main(["db", command, "--database", database]), 0)
            self.assertEqual(mode(database), 0o600, command)

    @inlineCallbacks
    def test_logFile(self):
        """
        twistd's C{--logfile} is created 0640 at most.
        """
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        logfile = os.path.join(workdir, "sip2acs.log")
        output, code = yield runServer(
            self,
            ["--config", MissingDatabaseTests.configure(self, os.path.join(workdir, "none"))],
            twistdArgs=("--logfile=%s" % (logfile,),),
        )
        self.assertNotEqual(code, 0)
        self.assertEqual(mode(logfile) & 0o037, 0, oct(mode(logfile)))

