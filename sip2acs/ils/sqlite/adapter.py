# -*- test-case-name: tests.test_ils_sqlite -*-
"""
The adapter of the embedded circulation system: an L{IILS
<sip2acs.ils.interfaces.IILS>} on one SQLite file, good enough for a small
library's kiosks.

L{SQLiteILS} is a L{Service}: C{startService} starts one worker thread
(L{SerialWorker}, named C{PoolThread-sip2acs-sqlite-0}) and opens, checks
and migrates the database on that thread (creating it, mode 0600, only when
asked: the demo configuration); every operation then runs entirely on it (see
L{sip2acs.ils.sqlite.circulation}), committed before its Deferred fires.
Nothing touches SQLite from the reactor thread.

Group commit: the operations waiting together for the thread (at most
L{MAX_GROUP <sip2acs.ils.worker.MAX_GROUP>}) run in one C{BEGIN IMMEDIATE}
transaction, each in its own savepoint (its C{transaction()} becomes one:
see L{Store.group <sip2acs.ils.sql.store.Store.group>}; a lookup, which
writes nothing, needs none), so one that raises undoes only its own
changes; the group then commits once (one fsync of the WAL), and only
after that commit returns are the results of the
whole group handed to the reactor: no answer leaves before its change is
on the disk. If the commit fails, every operation of the group fails and
nothing of it is in the database. The operations of a group start only
once it holds the write lock (L{Batch.start
<sip2acs.ils.worker.Batch.start>}): while another process (an import)
holds it, each can still be withdrawn by the server's ILS timeout, as a
waiting call can. A lone operation is a group of one. The
database file check (L{SQLiteILS._checkFileSync}) and the reference rows'
C{PRAGMA data_version} are done once per group; each operation's own
SQLite error is explained to it (L{explained}).

The lookups run inside the group too, in their turn: they see the changes
of the operations before them in the group, as they would one after
another, and their answers wait for the commit, so no answer ever shows a
change that a failed commit then undid (a group of lookups alone writes
nothing, and its commit costs no fsync).

The database runs in WAL mode with foreign keys on. C{synchronous="full"}
(the default) syncs the WAL to the disk at each commit: an acknowledged
change survives a power cut. C{"normal"} survives a crash (a kill) of the
process, not a power cut or a crash of the operating system, and saves an
fsync per group.

Opening, checking and migrating the file, and explaining SQLite's errors,
is L{sip2acs.ils.sqlite.store}'s; the schema lives in
C{sip2acs/ils/sqlite/schema/NNNN_name.sql}.
"""

import os
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any, cast

from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

from sip2acs.ils.base import ILSBase, UnknownSettings
from sip2acs.ils.interfaces import OPERATIONS, SESSION_OPERATIONS
from sip2acs.ils.sql.circulation import Circulation as SQLCirculation
from sip2acs.ils.sql.rules import SortBins
from sip2acs.ils.sql.service import CirculationCalls
from sip2acs.ils.sqlite.circulation import Circulation
from sip2acs.ils.sqlite.demo import loadDemo
from sip2acs.ils.sqlite.store import (
    SYNCHRONOUS,
    DatabaseError,
    explained,
    fileIdentity,
    openDatabase,
)
from sip2acs.ils.worker import Batch, Outcome, SerialWorker, runEach
from sip2acs.ils.zones import HOST_ZONE

__all__ = ["SQLiteILS", "POOL_NAME"]

POOL_NAME = "sip2acs-sqlite"
POOL_THREAD = "PoolThread-sip2acs-sqlite-0"
"""
The name of the one SQLite thread (a L{SerialWorker}).
"""


READ_ONLY = frozenset({
    SQLCirculation.lookupPatron, SQLCirculation.lookupItem, SQLCirculation.currency,
})
"""
The operations that only read: a group of nothing else is a read
transaction.
"""


class SQLiteILS(CirculationCalls, ILSBase, Service):
    """
    The embedded SQLite circulation system, as a service.

    @ivar path: The database file.
    """

    log = Logger()
    # Service.name is unannotated in Twisted (so typed None); IService
    # documents it as a str or None, and ours is always a str.
    name: str  # type: ignore[assignment]

    operations = frozenset(OPERATIONS) - SESSION_OPERATIONS

    def __init__(self, path: str | os.PathLike[str],
                 reactor: IReactorFromThreads | None = None, *, demo: bool = False,
                 allowOverpayment: bool = False, synchronous: str = "full",
                 sortBins: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 zone: tzinfo | None = None, create: bool = True,
                 groupCommit: bool = True) -> None:
        """
        @param path: The database file.
        @param reactor: The reactor the results are delivered on.
        @param demo: Load the demo data (L{sip2acs.ils.sqlite.demo}) into a new
            database.
        @param allowOverpayment: Accept payments over what is owed, keeping
            the rest as a credit.
        @param synchronous: C{"full"} (an acknowledged change survives a
            power cut: the WAL is synced at each commit) or C{"normal"}
            (survives a kill of the process, not a power cut).
        @param sortBins: The checkin sort bin mapping, see L{SortBins}.
        @param clock: A function returning the time now (aware, or naive
            wall time in C{zone}); the real time in C{zone} by default.
        @param zone: The institution's time zone (see L{sip2acs.ils.zones}):
            every time this adapter takes and gives is aware, in it; the
            host's local zone by default.
        @type zone: L{datetime.tzinfo}
        @param create: Create the database when the file is missing (the
            log says so); if false, a missing file fails C{startService}.
        @param groupCommit: Run the operations waiting together in one
            transaction (see the module docstring); if false, each runs
            and commits alone.
        @raise ValueError: On a bad C{synchronous} or C{sortBins}.
        """
        if reactor is None:
            from twisted.internet import reactor as installed

            reactor = cast(IReactorFromThreads, installed)
        if synchronous not in SYNCHRONOUS:
            raise ValueError(
                "synchronous must be one of %s, not %r"
                % (", ".join(SYNCHRONOUS), synchronous)
            )
        self.path = str(path)
        self.name = "sqlite:%s" % (self.path,)
        self._reactor = reactor
        self._demo = demo
        self._allowOverpayment = allowOverpayment
        self._synchronous = synchronous
        self._sortBins = SortBins(sortBins)
        self._zone = zone if zone is not None else HOST_ZONE
        # None for the real clock, which the store reads cheaply.
        self._clock = clock
        self._create = create
        self._groupCommit = groupCommit
        self._pool: SerialWorker | None = None
        self._conn: sqlite3.Connection | None = None
        self._circulation: Circulation | None = None
        self._identity: tuple[int, int] | None = None
        self._lost: str | None = None
        # Whether _groupSync is running a group (on the SQLite thread).
        self._grouping = False
        # The database the demo library was loaded into by this start
        # (for the start-up banner), else None.
        self.demoCreated: str | None = None

    @classmethod
    def fromConfig(cls, config: Mapping[str, Any], reactor: Any,
                   zone: tzinfo | None = None) -> "SQLiteILS":
        """
        Build from an institution's adapter options (the keys of its
        configuration table that the server does not use itself).

        Keys: C{database} (path, default C{sip2acs.sqlite3}), C{demo}
        (bool: create a missing database and load the demo data into it;
        without it a missing database is an error), C{allow-overpayment}
        (bool), C{synchronous} (C{"full"}, the default, or C{"normal"}), C{sort-bins}
        (table, see L{SortBins}). C{type} is ignored; other keys are errors.

        @type config: L{dict}
        @param reactor: The reactor the results are delivered on (its
            L{IReactorFromThreads} side; typed C{Any} because
            L{sip2acs.acs.server.makeAdapter} hands every adapter factory
            the reactor it has).
        @param zone: The institution's time zone (its C{timezone} setting).
        @raise ValueError: On an unknown key or a bad value.
        """
        known = {"type", "database", "demo", "allow-overpayment", "synchronous",
                 "sort-bins"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise UnknownSettings("sqlite ILS", unknown, known - {"type"})
        for key in ("demo", "allow-overpayment"):
            if not isinstance(config.get(key, False), bool):
                raise ValueError("%s must be true or false" % (key,))
        sortBins = config.get("sort-bins", {})
        if not isinstance(sortBins, dict):
            raise ValueError("sort-bins must be a table")
        return cls(
            config.get("database", "sip2acs.sqlite3"),
            reactor,
            demo=config.get("demo", False),
            allowOverpayment=config.get("allow-overpayment", False),
            synchronous=config.get("synchronous", "full"),
            sortBins=sortBins,
            zone=zone,
            create=config.get("demo", False),
        )

    def startService(self) -> Deferred[None]:
        """
        Start the SQLite thread and open the database on it.

        @return: A Deferred firing when the database is ready, or failing
            with L{DatabaseError} (whose message names the file and the
            problem) if it cannot be used. Operations called meanwhile wait
            for it.
        """
        Service.startService(self)
        self._pool = SerialWorker(
            self._reactor, POOL_THREAD,
            group=self._groupSync if self._groupCommit else None,
        )
        self._pool.start()
        return self._defer(self._openSync)

    def stopService(self) -> Deferred[None]:
        """
        Close the database on its thread, then stop the thread.

        @return: A Deferred firing when both are done.
        """
        Service.stopService(self)
        pool, self._pool = self._pool, None
        if pool is None:
            return succeed(None)
        d = pool.submit(self._closeSync)
        return d.addBoth(lambda result: pool.stop().addCallback(lambda _: result))

    def _openSync(self) -> None:
        created: list[bool] = []
        conn, found = openDatabase(
            self.path, self._synchronous, create=self._create, created=created
        )
        if created:
            self._reactor.callFromThread(
                self.log.info, "created the database {path}", path=self.path
            )
        try:
            self._identity = fileIdentity(self.path)
            if self._demo and found == 0:
                now = self._clock() if self._clock is not None else datetime.now(self._zone)
                loadDemo(conn, now.replace(microsecond=0))
                self.demoCreated = self.path
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._circulation = Circulation(
            conn, self._clock, self._sortBins, self._allowOverpayment,
            zone=self._zone,
        )

    def _closeSync(self) -> None:
        conn, self._conn, self._circulation = self._conn, None, None
        if conn is not None:
            conn.close()

    def _defer(self, function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        if self._pool is None:
            return fail(DatabaseError("the SQLite ILS is not running"))
        return self._pool.submit(function, *args)

    def _run(self, method: Any, *args: Any) -> Deferred[Any]:
        """
        Call C{method} of the L{Circulation} on the SQLite thread, in one
        group transaction with the operations waiting next to it (see
        L{_groupSync}).
        """
        if self._pool is None:
            return fail(DatabaseError("the SQLite ILS is not running"))
        return self._pool.submitGrouped(self._callSync, method, args)

    def _callSync(self, method: Any, args: tuple[Any, ...]) -> Any:
        """
        One operation (alone, or inside the group transaction when
        L{_groupSync} runs it), with SQLite's known errors explained.
        """
        if not self._grouping:
            self._checkFileSync()
        try:
            return method(self._circulation, *args)
        except sqlite3.OperationalError as e:
            raise self._explained(e) from e

    def _explained(self, error: sqlite3.OperationalError) -> Exception:
        """
        The L{DatabaseError} that says why SQLite failed, or C{error}
        itself when it is not one of those.
        """
        known = explained(error, self.path)
        return error if known is None else known

    def _groupSync(self, batch: Batch) -> list[Outcome]:
        """
        The worker's group function: run a batch of operations in one
        transaction, committed once (see the module docstring).

        @return: Each call's outcome, once the transaction is committed.
        @raise DatabaseError: The database file is gone, the transaction
            cannot begin or commit (every call then fails with it).
        """
        if len(batch.calls) == 1:
            # A group of one: the operation's own transaction, as without
            # group commit (no savepoint to pay for).
            return runEach(batch.start())
        self._checkFileSync()
        store = cast(Circulation, self._circulation).store
        # Lookups alone read: no write lock, as when they ran alone.
        write = any(call.args[0] not in READ_ONLY for call in batch.calls)
        self._grouping = True
        try:
            with store.group(write):
                # The write lock is ours: the operations not cancelled while
                # it was awaited start now, and report their real outcome.
                outcomes = runEach(batch.start())
        except sqlite3.OperationalError as e:
            raise self._explained(e) from e
        finally:
            self._grouping = False
        return outcomes

    def _checkFileSync(self) -> None:
        """
        Before each operation and health check, on the SQLite thread: the
        database is open and its path still names the file opened (a
        C{stat}, about a microsecond).

        A database file deleted or replaced while the server runs would
        take writes that nobody will ever see again (an unlinked file) or
        hide the new file from this process. From the first time that is
        noticed, every operation and health check fails with
        L{DatabaseError} saying why (the kiosks get "not available", and
        nothing is written), and the log says so once; a restart opens
        what the path names then.

        @raise DatabaseError: The database is not open or its file is gone.
        """
        if self._circulation is None:
            raise DatabaseError("the database %s is not open" % (self.path,))
        if self._lost is None:
            identity = fileIdentity(self.path)
            if identity == self._identity:
                return
            self._lost = (
                "the database file %s was %s while the server ran; refusing"
                " every request until sip2acs is restarted"
                % (self.path, "deleted" if identity is None else "replaced")
            )
            self._reactor.callFromThread(self.log.error, "{reason}", reason=self._lost)
        raise DatabaseError(self._lost)

    def healthCheck(self) -> Deferred[None]:
        """
        Whether the database answers: a C{SELECT 1} on the SQLite thread,
        queued behind the operations already submitted.

        @return: A Deferred firing with L{None}, or failing (with
            L{DatabaseError} when the adapter is not running, the database
            is not open, or its file was deleted or replaced).
        """
        return self._defer(self._healthSync)

    def _healthSync(self) -> None:
        self._checkFileSync()
        # Open: _conn is set and cleared with _circulation, which
        # _checkFileSync has just found set.
        conn = cast(sqlite3.Connection, self._conn)
        conn.execute("SELECT 1").fetchone()
