# -*- test-case-name: tests.test_ils_sqlite -*-
"""
Everything about the embedded circulation system that is SQLite's own.

Opening a database file (created mode 0600 when asked), checking it,
switching it to WAL and applying the migrations (L{openDatabase},
L{migrate}, L{migrations}: the scripts in C{schema/NNNN_name.sql} next to
this module, C{PRAGMA user_version} counting those applied); explaining the
SQLite errors that say why the database cannot serve (L{explained}).

L{Store} is one connection as the circulation modules see it: rows,
C{BEGIN IMMEDIATE} transactions, the cache of reference rows (dropped when
another connection commits), the stored form of times (L{writeTime},
L{readTime}: the institution's wall time as text) and of money (integer
cents: L{toCents}, L{fromCents}), and the append-only journal
(L{appendLog}). An L{Operation} is what one logged operation is doing.

A circulation store on another database would replace this module; the
rules and the SQL in the concern modules (C{checkout}, C{checkin},
C{renewals}, C{holds}, C{fees}, C{patrons}, C{items}) would stay.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any
from urllib.parse import quote

import attrs
from sqlite_utils import Database
from twisted.logger import Logger

from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.values import Terminal
from sip2acs.ils.zones import HOST_ZONE, inZone

__all__ = [
    "DatabaseError",
    "Store",
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

TIMESTAMP = "%Y-%m-%d %H:%M:%S"
"""
How times are stored: the institution's wall time, to the second, every
field zero-padded (the year always has four digits). See L{writeTime}.
"""

_TIMESTAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)")

MAX_AMOUNT = Decimal("1000000.00")
"""
The largest money amount, either way, that is taken (a payment) or stored
(fees, rule amounts from an import): one million in the currency.
"""

CENT = Decimal("0.01")


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
    The schema migrations shipped with sip2acs, in order.

    @return: C{(file name, SQL script)} pairs from the C{schema} folder of
        this package.
    """
    folder = resources.files(__package__) / "schema"
    names = sorted(
        entry.name for entry in folder.iterdir() if entry.name.endswith(".sql")
    )
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


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


# Stored values: money and times


def toCents(amount: object) -> int:
    """
    Convert a money amount to integer cents, exactly.

    @param amount: A L{Decimal}, L{int} or decimal string such as C{"2.50"}.
    @raise ValueError: If it is not a finite amount of whole cents of at
        most L{MAX_AMOUNT} either way. Nothing else: any input, however
        absurd (C{"1E+999999"}, C{"NaN"}), gives a value or this.
    """
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("not an amount: %.40r" % (amount,)) from None
    if not value.is_finite():
        raise ValueError("not an amount: %.40r" % (amount,))
    if abs(value) > MAX_AMOUNT:
        raise ValueError("more than %s either way: %.40r" % (MAX_AMOUNT, amount))
    if value != value.quantize(CENT):
        raise ValueError("more than two decimals: %.40r" % (amount,))
    return int(value.quantize(CENT).scaleb(2))


def fromCents(cents: int) -> Decimal:
    """
    Convert integer cents to a L{Decimal} with two places.
    """
    return (Decimal(cents) / 100).quantize(CENT)


def writeTime(value: datetime | None, zone: tzinfo | None = None) -> str | None:
    """
    The stored form of a time: converted to C{zone} (when aware and a zone
    is given; a naive value is taken as wall time there already), then
    written as C{YYYY-MM-DD HH:MM:SS} with every field zero-padded.

    @return: The text, or L{None} for L{None}.
    """
    if value is None:
        return None
    if zone is not None and value.utcoffset() is not None:
        value = value.astimezone(zone)
    return "%04d-%02d-%02d %02d:%02d:%02d" % (
        value.year, value.month, value.day, value.hour, value.minute, value.second
    )


def readTime(text: str | None, zone: tzinfo) -> datetime | None:
    """
    Read a time written by L{writeTime}, as an aware time in C{zone}.

    @return: The time, or L{None} for L{None}.
    @raise ValueError: If C{text} is not such a time.
    """
    if text is None:
        return None
    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("not a stored time: %.40r" % (text,))
    year, month, day, hour, minute, second = map(int, match.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


# The journal


def appendLog(conn: sqlite3.Connection, at: datetime, operation: str, *,
              terminal: Terminal | None = None, patron: str | None = None,
              item: str | None = None, ok: bool = True, reason: str | None = None,
              amountCents: int | None = None, detail: str | None = None) -> int:
    """
    Append one row to the transaction log, in the caller's transaction.

    @param conn: The sqlite3 connection.
    @param at: When (internal times are already in the institution's zone).
    @param operation: The operation name (an L{IILS} method, or C{import}).
    @param terminal: The L{Terminal <sip2acs.ils.values.Terminal>}, or
        L{None} for the command line.
    @return: The row id: the transaction id reported to the SC.
    """
    cursor = conn.execute(
        "INSERT INTO transaction_log (at, terminal, institution, location,"
        " peer, operation, patron, item, ok, reason, amount_cents, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            writeTime(at),
            terminal.account if terminal else "cli",
            terminal.institution if terminal else None,
            terminal.location if terminal else None,
            terminal.peer if terminal else None,
            operation,
            patron,
            item,
            1 if ok else 0,
            reason,
            amountCents,
            detail,
        ),
    )
    return cursor.lastrowid  # type: ignore[return-value]


@attrs.frozen
class Institution:
    """
    An institution's row, as the operations use it.
    """

    id: str | None
    currency: str = "USD"
    defaultBranch: str | None = None
    holdShelfDays: int = 7


@attrs.define
class Operation:
    """
    What one operation is doing, for its transaction log row.

    @ivar details: Phrases joined into the row's C{detail}.
    """

    terminal: Terminal | None
    now: datetime
    institution: Institution
    patron: str | None = None
    item: str | None = None
    amountCents: int | None = None
    details: list[str] = attrs.Factory(list)

    def money(self, cents: int) -> str:
        """
        C{cents} written for a screen message or the log: C{"2.50 USD"}.
        """
        return "%s %s" % (fromCents(cents), self.institution.currency)


Row = Any
"""
A row as the operations read it: a L{sqlite3.Row}, its columns read by
name (typed C{Any}, as what a column holds is the schema's business).
"""


class Store:
    """
    One sqlite3 connection, as the circulation operations use it.

    @ivar conn: The connection (used only from the thread that made it).
    @ivar zone: The institution's time zone: stored times are wall times
        in it.
    """

    log = Logger()

    MAX_UNREADABLE = 1000
    """
    How many distinct unreadable stored values are remembered, so that each
    is logged once.
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
        self.conn = conn
        self.zone = zone if zone is not None else HOST_ZONE
        self._clock = clock if clock is not None else (
            lambda: datetime.now(self.zone)
        )
        self._unreadable: set[tuple[str, object]] = set()
        self._reference: dict[tuple[Any, ...], Any] = {}
        self._dataVersion: int | None = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """
        Every row C{sql} selects, as L{sqlite3.Row}s.
        """
        cursor = self.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()

    def row(self, sql: str, params: Sequence[Any] = ()) -> Row:
        """
        The first row C{sql} selects, or L{None}.
        """
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """
        Run one statement.
        """
        return self.conn.execute(sql, params)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """
        Run one C{INSERT}.

        @return: The new row's id.
        """
        rowId = self.conn.execute(sql, params).lastrowid
        assert rowId is not None
        return rowId

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[None]:
        """
        One transaction: C{BEGIN IMMEDIATE} (or C{BEGIN} to only read),
        committed when the block ends, rolled back when it raises.
        """
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._dataVersion:
            # Another connection (sip2acs db import) committed: reference
            # rows may have changed.
            self._dataVersion = version
            self._reference.clear()
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()

    def cached(self, key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
        """
        A reference row (institution, branch, loan rule), read once per
        change of the database by another connection.
        """
        try:
            return self._reference[key]
        except KeyError:
            value = self._reference[key] = load()
            return value

    def appendLog(self, op: Operation, name: str, ok: bool,
                  reason: str | None) -> int:
        """
        The journal row of C{op}, named C{name}, in its transaction.

        @return: The row id.
        """
        return appendLog(
            self.conn,
            op.now,
            name,
            terminal=op.terminal,
            patron=op.patron,
            item=op.item,
            ok=ok,
            reason=reason,
            amountCents=op.amountCents,
            detail="; ".join(op.details) or None,
        )

    # Times

    def now(self) -> datetime:
        """
        The time now in the institution's zone, to the second.
        """
        now = inZone(self._clock(), self.zone)
        return now.replace(microsecond=0)  # type: ignore[union-attr]

    def local(self, value: datetime | None) -> datetime | None:
        """
        A request's time in the institution's zone, to the second, or
        L{None} (none given, or not representable).
        """
        value = inZone(value, self.zone)
        return None if value is None else value.replace(microsecond=0)

    def stamp(self, value: datetime | None) -> str | None:
        """
        The stored form of an internal time (already in the institution's
        zone), or L{None}.
        """
        return writeTime(value)

    def _unreadableValue(self, column: str, text: object) -> Any:
        key = (column, text)
        if key not in self._unreadable and len(self._unreadable) < self.MAX_UNREADABLE:
            self._unreadable.add(key)
            self.log.warn(
                "The stored {column} {text!r} cannot be read as a date and is"
                " treated as unknown.",
                column=column,
                text=str(text)[:40],
            )
        return None

    def time(self, text: str | None, column: str) -> datetime | None:
        """
        Read a stored time; an unreadable one is logged once and is L{None}.
        """
        try:
            return readTime(text, self.zone)
        except ValueError:
            return self._unreadableValue(column, text)

    def date(self, text: str | None, column: str) -> date | None:
        """
        Read a stored C{YYYY-MM-DD} date; an unreadable one is logged once
        and is L{None}.
        """
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except (TypeError, ValueError):
            return self._unreadableValue(column, text)

    def bounded(self, op: Operation, value: datetime | None,
                earliest: datetime | None, latest: datetime | None,
                what: str) -> datetime | None:
        """
        A kiosk's time, in the institution's zone, if it lies between
        C{earliest} and C{latest} (either may be L{None}: no bound); else
        L{None}, and the log detail says it was not used.
        """
        local = self.local(value)
        if local is not None and (earliest is None or local >= earliest) and (
            latest is None or local <= latest
        ):
            return local
        op.details.append(
            "%s %s out of bounds, not used"
            % (what, writeTime(local) if local is not None else "unrepresentable")
        )
        return None

