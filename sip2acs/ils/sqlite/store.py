# -*- test-case-name: tests.test_ils_sqlite -*-
"""
Everything about the embedded circulation system that is SQLite's own: its
side of the store seam (L{sip2acs.ils.sql.store}).

Opening a database file (created mode 0600 when asked), checking it,
switching it to WAL and applying the migrations (L{openDatabase},
L{migrate}, L{migrations}: the scripts in C{schema/NNNN_name.sql} next to
this module, C{PRAGMA user_version} counting those applied); explaining the
SQLite errors that say why the database cannot serve (L{explained}).

L{SQLiteStore} (also named L{Store}) is one connection as the circulation
modules see it: C{BEGIN IMMEDIATE} transactions, the cache of reference
rows dropped when another connection commits (C{PRAGMA data_version}).
L{appendLog} writes a journal row on a bare connection (the import and
the demo data).

The stored values (L{toCents}, L{fromCents}, L{writeTime}, L{readTime}),
L{Operation} and L{Institution} live in L{sip2acs.ils.sql.store} and are
re-exported here under their old names.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from sip2acs.ils.sql.store import (
    MAX_AMOUNT,
    TIMESTAMP,
    DatabaseError,
    Institution,
    Operation,
    Row,
    Store as BaseStore,
    fromCents,
    journalRow,
    readTime,
    schemaScripts,
    toCents,
    writeTime,
)

__all__ = [
    "DatabaseError",
    "Store",
    "SQLiteStore",
    "Operation",
    "Institution",
    "BUSY_TIMEOUT",
    "SYNCHRONOUS",
    "explained",
    "migrations",
    "migrate",
    "createDatabaseFile",
    "openDatabase",
    "fileIdentity",
    "appendLog",
    "toCents",
    "fromCents",
    "writeTime",
    "readTime",
    "TIMESTAMP",
    "MAX_AMOUNT",
    "Row",
]

SYNCHRONOUS = ("normal", "full")

BUSY_TIMEOUT = 10.0
"""
Seconds to wait for another process (C{sip2acs db import}) holding the
write lock.
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


def explained(error: BaseException, path: str) -> DatabaseError | None:
    """
    The L{DatabaseError} that explains a known C{sqlite3.OperationalError},
    or L{None} for any other error.
    """
    text = _OPERATIONAL.get(str(error))
    return None if text is None else DatabaseError(
        text % dict(path=path, wait=BUSY_TIMEOUT)
    )


# Migrations and opening a file


def migrations() -> list[tuple[str, str]]:
    """
    The schema migrations shipped with sip2acs for SQLite, in order.

    @return: C{(file name, SQL script)} pairs from the C{schema} folder of
        this package.
    """
    return schemaScripts(__package__)


def migrate(conn: sqlite3.Connection) -> int:
    """
    Bring the schema up to date, one transaction per migration.

    @param conn: A connection in autocommit mode (C{isolation_level=None}).
    @return: The schema version found before migrating (0 for a new
        database).
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


def createDatabaseFile(path: str) -> bool:
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


def _describe(error: BaseException) -> str:
    """
    The reason in an L{OSError} or L{sqlite3.Error}, without the file name.
    """
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error)


def openDatabase(
    path: str | os.PathLike[str],
    synchronous: str = "normal",
    create: bool = True,
    created: list[bool] | None = None,
) -> tuple[sqlite3.Connection, int]:
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


def fileIdentity(path: str) -> tuple[int, int] | None:
    """
    The identity of the file at C{path}: C{(st_dev, st_ino)}, or L{None}
    if there is none.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino)


# The journal


def appendLog(conn: sqlite3.Connection, at: datetime, operation: str,
              **fields: Any) -> int:
    """
    Append one row to the transaction log, in the caller's transaction
    (see L{journalRow <sip2acs.ils.sql.store.journalRow>} for C{fields}).

    @param conn: The sqlite3 connection.
    @return: The row id: the transaction id reported to the SC.
    """
    cursor = conn.execute(*journalRow(at, operation, **fields))
    return cursor.lastrowid  # type: ignore[return-value]


class SQLiteStore(BaseStore):
    """
    One sqlite3 connection, as the circulation operations use it:
    C{BEGIN IMMEDIATE} transactions, C{lastrowid} for new ids, and
    C{PRAGMA data_version} to notice another connection's commits.

    @ivar conn: The connection (used only from the thread that made it).
    """

    def __init__(self, conn: sqlite3.Connection,
                 clock: Callable[[], datetime] | None = None,
                 zone: tzinfo | None = None) -> None:
        """
        @param conn: A migrated connection (see L{openDatabase}).
        @param clock: A function returning the time now: aware (converted
            to C{zone}) or naive (wall time in C{zone}).
        @param zone: The institution's time zone; the host's by default.
        """
        BaseStore.__init__(self, clock, zone)
        self.conn = conn
        # One cursor for every select (each is read whole before the next).
        self._cursor = conn.cursor()
        self._cursor.row_factory = sqlite3.Row

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """
        Every row C{sql} selects, as L{sqlite3.Row}s.
        """
        return self._cursor.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """
        Run one statement.
        """
        self.conn.execute(sql, params)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """
        Run one C{INSERT}.

        @return: The new row's id.
        """
        rowId = self.conn.execute(sql, params).lastrowid
        assert rowId is not None
        return rowId

    def _begin(self, write: bool) -> None:
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _commit(self) -> None:
        self.conn.commit()

    def _rollback(self) -> None:
        self.conn.rollback()

    def _inTransaction(self) -> bool:
        return self.conn.in_transaction

    def _referenceVersion(self) -> object:
        # Changes when another connection (sip2acs db import) commits.
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    # Loading and copying whole tables

    integrityErrors = (sqlite3.IntegrityError,)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """
        Run one statement once for each parameter sequence.
        """
        self.conn.executemany(sql, params)

    def tables(self) -> list[str]:
        """
        The tables, SQLite's own (C{sqlite_*}) left out.
        """
        return [row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )]

    def columns(self, table: str) -> list[str]:
        """
        The columns of C{table} that are not generated.
        """
        # hidden: 0 a plain column, 2 and 3 generated ones.
        return [row[1] for row in self.conn.execute(
            "SELECT * FROM pragma_table_xinfo(?)", (table,)
        ) if row[6] == 0]

    def followIds(self, table: str) -> None:
        """
        Nothing to do: a new rowid is one more than the largest.
        """


Store = SQLiteStore
"""
The name this class had before the dialect seam.
"""
