# -*- test-case-name: tests.test_ils_sqlite -*-
"""
The embedded circulation system: an L{IILS <sip2acs.ils.interfaces.IILS>} on
one SQLite file, good enough for a small library's kiosks.

L{SQLiteILS} is a L{Service}: C{startService} starts one worker thread
(L{SerialWorker}, named C{PoolThread-sip2acs-sqlite-0}) and opens, checks
and migrates the database on that thread (creating it, mode 0600, only when
asked: the demo configuration); every operation then runs entirely on it (see
L{sip2acs.ils.circulation}) as one transaction, committed before its
Deferred fires. Nothing touches SQLite from the reactor thread.

The database runs in WAL mode with foreign keys on. C{synchronous="normal"}
survives a crash of the process; C{"full"} also survives a power loss, at
the cost of an fsync per transaction.

The schema lives in C{sip2acs/schema/NNNN_name.sql}, applied in order by
L{migrate}; C{PRAGMA user_version} is the number of migrations applied.
"""

import os
import sqlite3
from datetime import datetime
from importlib import resources
from urllib.parse import quote

from sqlite_utils import Database
from twisted.application.service import Service
from twisted.internet.defer import fail, succeed
from twisted.logger import Logger

from sip2acs.ils.base import HOST_ZONE, ILSBase, ILSUnavailable
from sip2acs.ils.circulation import Circulation, SortBins
from sip2acs.ils.demo import loadDemo
from sip2acs.ils.interfaces import OPERATIONS, SESSION_OPERATIONS
from sip2acs.ils.worker import SerialWorker

__all__ = [
    "SQLiteILS",
    "DatabaseError",
    "createDatabaseFile",
    "openDatabase",
    "migrate",
    "migrations",
    "POOL_NAME",
]

POOL_NAME = "sip2acs-sqlite"
POOL_THREAD = "PoolThread-sip2acs-sqlite-0"
"""
The name of the one SQLite thread (a L{SerialWorker}).
"""

SYNCHRONOUS = ("normal", "full")

BUSY_TIMEOUT = 10.0
"""
Seconds to wait for another process (C{sip2acs db import}) holding the
write lock.
"""


class DatabaseError(ILSUnavailable):
    """
    The database cannot be used: not open, or newer than this program.
    """


_OPERATIONAL = {
    "database is locked": "the database %(path)s is locked by another process"
    " (waited %(wait)g s)",
    "database or disk is full": "the disk holding the database %(path)s is full",
    "attempt to write a readonly database": "the database %(path)s is read-only",
    "disk I/O error": "the disk failed reading or writing the database %(path)s",
}
"""
SQLite errors that say why the database cannot serve now, and the sentence
logged for each (see L{ILSUnavailable}).
"""


def explained(error, path):
    """
    The L{DatabaseError} that explains a known C{sqlite3.OperationalError},
    or L{None} for any other error.
    """
    text = _OPERATIONAL.get(str(error))
    return None if text is None else DatabaseError(
        text % dict(path=path, wait=BUSY_TIMEOUT)
    )


def migrations():
    """
    The schema migrations shipped with sip2acs, in order.

    @return: C{(file name, SQL script)} pairs from C{sip2acs/schema}.
    @rtype: L{list} of L{tuple}
    """
    folder = resources.files("sip2acs") / "schema"
    names = sorted(
        entry.name for entry in folder.iterdir() if entry.name.endswith(".sql")
    )
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


def migrate(conn):
    """
    Bring the schema up to date, one transaction per migration.

    @param conn: A connection in autocommit mode (C{isolation_level=None}).
    @return: The schema version found before migrating (0 for a new
        database).
    @rtype: L{int}
    @raise DatabaseError: If the database is newer than this sip2acs.
    """
    scripts = migrations()
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > len(scripts):
        raise DatabaseError(
            "the database has schema version %d, newer than this sip2acs"
            " knows (%d)" % (found, len(scripts))
        )
    for version, (_, script) in enumerate(scripts[found:], start=found + 1):
        try:
            conn.executescript(
                "BEGIN IMMEDIATE;\n%s\nPRAGMA user_version = %d;\nCOMMIT;"
                % (script, version)
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return found


def createDatabaseFile(path):
    """
    Create an empty database file readable and writable by its owner only
    (0600), whatever the umask; SQLite gives its C{-wal} and C{-shm} files
    the same mode.

    @return: Whether the file was created (C{False}: it existed).
    @raise OSError: It cannot be created (e.g. its directory is missing).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _describe(error):
    """
    The reason in an L{OSError} or L{sqlite3.Error}, without the file name.
    """
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error)


def openDatabase(path, synchronous="normal", create=True, created=None):
    """
    Open (creating it if asked and missing), check and migrate a database,
    in the calling thread.

    The connection is in autocommit mode: callers run C{BEGIN IMMEDIATE}
    themselves. It belongs to the calling thread.

    @param path: The database file.
    @param synchronous: C{"normal"} or C{"full"}.
    @param create: Create the file (mode 0600) when it is missing; if
        false, a missing file is an error.
    @param created: A list; C{True} is appended to it when the file was
        created.
    @return: C{(connection, the schema version found before migrating)}.
    @rtype: L{tuple}
    @raise DatabaseError: The file is missing (and C{create} is false),
        cannot be opened, is not an intact SQLite database, or is newer
        than this sip2acs; the message names the file and the problem.
    """
    if synchronous not in SYNCHRONOUS:
        raise ValueError("synchronous must be one of %s" % (", ".join(SYNCHRONOUS),))
    path = str(path)
    try:
        if create and createDatabaseFile(path) and created is not None:
            created.append(True)
        # A clear reason (missing, permission denied, a directory) before
        # SQLite's "unable to open database file".
        os.close(os.open(path, os.O_RDWR))
    except OSError as e:
        if isinstance(e, FileNotFoundError) and not create:
            raise DatabaseError("the database %s does not exist" % (path,)) from e
        raise DatabaseError("cannot open the database %s: %s" % (path, _describe(e))) from e
    uri = "file:%s?mode=rw" % (quote(os.path.abspath(path)),)
    try:
        conn = sqlite3.connect(uri, timeout=BUSY_TIMEOUT, isolation_level=None, uri=True)
    except sqlite3.Error as e:
        raise DatabaseError("cannot open the database %s: %s" % (path, e)) from e
    try:
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            (check,) = conn.execute("PRAGMA quick_check(1)").fetchone()
        except sqlite3.DatabaseError as e:
            raise DatabaseError(
                "the database %s is not a SQLite database or is damaged: %s" % (path, e)
            ) from e
        if check != "ok":
            raise DatabaseError(
                "the database %s is damaged (quick_check: %s)" % (path, check)
            )
        db = Database(conn, execute_plugins=False)
        db.enable_wal()
        conn.execute("PRAGMA synchronous = %s" % (synchronous.upper(),))
        try:
            found = migrate(conn)
        except DatabaseError as e:
            raise DatabaseError("%s: %s" % (path, e)) from e
    except sqlite3.Error as e:
        conn.close()
        raise DatabaseError("cannot use the database %s: %s" % (path, e)) from e
    except BaseException:
        conn.close()
        raise
    return conn, found


def fileIdentity(path):
    """
    The identity of the file at C{path}: C{(st_dev, st_ino)}, or L{None}
    if there is none.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino)


class SQLiteILS(ILSBase, Service):
    """
    The embedded SQLite circulation system, as a service.

    @ivar path: The database file.
    """

    log = Logger()
    # Service.name is unannotated in Twisted (so typed None); IService
    # documents it as a str or None, and ours is always a str.
    name: str  # type: ignore[assignment]

    operations = frozenset(OPERATIONS) - SESSION_OPERATIONS

    def __init__(self, path, reactor=None, *, demo=False, allowOverpayment=False,
                 synchronous="normal", sortBins=None, clock=None, zone=None,
                 create=True):
        """
        @param path: The database file.
        @param reactor: The reactor the results are delivered on.
        @param demo: Load the demo data (L{sip2acs.ils.demo}) into a new
            database.
        @param allowOverpayment: Accept payments over what is owed, keeping
            the rest as a credit.
        @param synchronous: C{"normal"} (survives a process kill) or
            C{"full"} (also survives a power loss).
        @param sortBins: The checkin sort bin mapping, see L{SortBins}.
        @param clock: A function returning the time now (aware, or naive
            wall time in C{zone}); the real time in C{zone} by default.
        @param zone: The institution's time zone (see L{sip2acs.ils.base}):
            every time this adapter takes and gives is aware, in it; the
            host's local zone by default.
        @type zone: L{datetime.tzinfo}
        @param create: Create the database when the file is missing (the
            log says so); if false, a missing file fails C{startService}.
        @raise ValueError: On a bad C{synchronous} or C{sortBins}.
        """
        if reactor is None:
            from twisted.internet import reactor
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
        self._clock = clock if clock is not None else (
            lambda: datetime.now(self._zone)
        )
        self._create = create
        self._pool = None
        self._conn = None
        self._circulation = None
        self._identity = None
        self._lost = None

    @classmethod
    def fromConfig(cls, config, reactor, zone=None):
        """
        Build from an institution's adapter options (the keys of its
        configuration table that the server does not use itself).

        Keys: C{database} (path, default C{sip2acs.sqlite3}), C{demo}
        (bool: create a missing database and load the demo data into it;
        without it a missing database is an error), C{allow-overpayment}
        (bool), C{synchronous} (C{"normal"} or C{"full"}), C{sort-bins}
        (table, see L{SortBins}). C{type} is ignored; other keys are errors.

        @type config: L{dict}
        @param zone: The institution's time zone (its C{timezone} setting).
        @raise ValueError: On an unknown key or a bad value.
        """
        known = {"type", "database", "demo", "allow-overpayment", "synchronous",
                 "sort-bins"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(
                "unknown sqlite ILS settings: %s (known: %s)"
                % (", ".join(unknown), ", ".join(sorted(known - {"type"})))
            )
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
            synchronous=config.get("synchronous", "normal"),
            sortBins=sortBins,
            zone=zone,
            create=config.get("demo", False),
        )

    def startService(self):
        """
        Start the SQLite thread and open the database on it.

        @return: A Deferred firing when the database is ready, or failing
            with L{DatabaseError} (whose message names the file and the
            problem) if it cannot be used. Operations called meanwhile wait
            for it.
        """
        Service.startService(self)
        self._pool = SerialWorker(self._reactor, POOL_THREAD)
        self._pool.start()
        return self._defer(self._openSync)

    def stopService(self):
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

    def _openSync(self):
        created = []
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
                loadDemo(conn, self._clock().replace(microsecond=0))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._circulation = Circulation(
            conn, self._clock, self._sortBins, self._allowOverpayment,
            zone=self._zone,
        )

    def _closeSync(self):
        conn, self._conn, self._circulation = self._conn, None, None
        if conn is not None:
            conn.close()

    def _defer(self, function, *args):
        if self._pool is None:
            return fail(DatabaseError("the SQLite ILS is not running"))
        return self._pool.submit(function, *args)

    def _run(self, method, *args):
        """
        Call C{method} of the L{Circulation} on the SQLite thread.
        """
        return self._defer(self._callSync, method, args)

    def _callSync(self, method, args):
        self._checkFileSync()
        try:
            return method(self._circulation, *args)
        except sqlite3.OperationalError as e:
            known = explained(e, self.path)
            if known is None:
                raise
            raise known from e

    def _checkFileSync(self):
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

    def healthCheck(self):
        """
        Whether the database answers: a C{SELECT 1} on the SQLite thread,
        queued behind the operations already submitted.

        @return: A Deferred firing with L{None}, or failing (with
            L{DatabaseError} when the adapter is not running, the database
            is not open, or its file was deleted or replaced).
        """
        return self._defer(self._healthSync)

    def _healthSync(self):
        self._checkFileSync()
        self._conn.execute("SELECT 1").fetchone()

    def lookupPatron(self, terminal, patronId, pin=None):
        """
        L{IILS.lookupPatron <sip2acs.ils.interfaces.IILS.lookupPatron>}
        on the SQLite thread.
        """
        return self._run(Circulation.lookupPatron, terminal, patronId, pin)

    def lookupItem(self, terminal, itemId):
        """
        L{IILS.lookupItem <sip2acs.ils.interfaces.IILS.lookupItem>}
        on the SQLite thread.
        """
        return self._run(Circulation.lookupItem, terminal, itemId)

    def checkout(self, terminal, request):
        """
        L{IILS.checkout <sip2acs.ils.interfaces.IILS.checkout>}
        on the SQLite thread.
        """
        return self._run(Circulation.checkout, terminal, request)

    def checkin(self, terminal, request):
        """
        L{IILS.checkin <sip2acs.ils.interfaces.IILS.checkin>}
        on the SQLite thread.
        """
        return self._run(Circulation.checkin, terminal, request)

    def renew(self, terminal, request):
        """
        L{IILS.renew <sip2acs.ils.interfaces.IILS.renew>}
        on the SQLite thread.
        """
        return self._run(Circulation.renew, terminal, request)

    def renewAll(self, terminal, patronId, pin=None, feeAcknowledged=False):
        """
        L{IILS.renewAll <sip2acs.ils.interfaces.IILS.renewAll>}
        on the SQLite thread.
        """
        return self._run(
            Circulation.renewAll, terminal, patronId, pin, feeAcknowledged
        )

    def hold(self, terminal, request):
        """
        L{IILS.hold <sip2acs.ils.interfaces.IILS.hold>}
        on the SQLite thread.
        """
        return self._run(Circulation.hold, terminal, request)

    def feePaid(self, terminal, payment):
        """
        L{IILS.feePaid <sip2acs.ils.interfaces.IILS.feePaid>}
        on the SQLite thread.
        """
        return self._run(Circulation.feePaid, terminal, payment)

    def blockPatron(self, terminal, patronId, cardRetained, reason):
        """
        L{IILS.blockPatron <sip2acs.ils.interfaces.IILS.blockPatron>}
        on the SQLite thread.
        """
        return self._run(
            Circulation.blockPatron, terminal, patronId, cardRetained, reason
        )

    def enablePatron(self, terminal, patronId, pin=None):
        """
        L{IILS.enablePatron <sip2acs.ils.interfaces.IILS.enablePatron>}
        on the SQLite thread.
        """
        return self._run(Circulation.enablePatron, terminal, patronId, pin)

    def updateItemStatus(self, terminal, itemId, properties):
        """
        L{IILS.updateItemStatus <sip2acs.ils.interfaces.IILS.updateItemStatus>}
        on the SQLite thread.
        """
        return self._run(Circulation.updateItemStatus, terminal, itemId, properties)

    def endPatronSession(self, terminal, patronId, pin=None):
        """
        L{IILS.endPatronSession <sip2acs.ils.interfaces.IILS.endPatronSession>}
        on the SQLite thread.
        """
        return self._run(Circulation.endPatronSession, terminal, patronId, pin)
