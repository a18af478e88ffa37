# -*- test-case-name: tests.test_sqlite_package,tests.test_ils_postgres -*-
"""
The store seam: what the circulation rules need of a database, and what
every SQL database gives them the same way.

The concern modules (C{checkout}, C{checkin}, C{renewals}, C{holds},
C{fees}, C{patrons}, C{items}, C{rules}) speak to a L{Store}: rows by
SQL with C{?} placeholders, one transaction per operation, the cache of
reference rows, the stored form of times (L{writeTime}, L{readTime}: the
institution's wall time as C{YYYY-MM-DD HH:MM:SS} text, which sorts as
time) and of money (integer cents: L{toCents}, L{fromCents}), and the
append-only journal. An L{Operation} is what one logged operation is
doing.

What differs between databases is a subclass's (the dialect):

  - L{Store.rows}, L{Store.execute}, L{Store.insert}: running a statement
    (placeholders, how the new row's id comes back);
  - L{Store._begin}, L{Store._commit}, L{Store._rollback}: the
    transaction (C{BEGIN IMMEDIATE} on SQLite, a serializable
    transaction on PostgreSQL);
  - L{Store._referenceVersion}: what says reference rows may have
    changed since they were cached;
  - L{Store.atomically}: running one operation, retried where the
    database may ask for that (a serialization failure);
  - for the C{sip2acs db} commands (loading and copying whole tables):
    L{Store.executemany}, L{Store.integrityErrors} (the errors of a row
    the database refuses), L{Store.tables}, L{Store.columns},
    L{Store.followIds} (new ids after rows inserted with explicit ones).

L{sip2acs.ils.sqlite.store} and L{sip2acs.ils.postgres.store} are the two.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, TypeVar

import attrs
from twisted.logger import Logger

from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.values import Terminal
from sip2acs.ils.zones import HOST_ZONE, inZone

__all__ = [
    "DatabaseError",
    "isPostgresURL",
    "Store",
    "Operation",
    "Institution",
    "journalRow",
    "schemaScripts",
    "toCents",
    "fromCents",
    "writeTime",
    "readTime",
    "TIMESTAMP",
    "MAX_AMOUNT",
    "Row",
]

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

_R = TypeVar("_R")


SCHEMES = ("postgresql", "postgres")


def isPostgresURL(database: object) -> bool:
    """
    Whether an institution's C{database} setting names a PostgreSQL
    database (a C{postgresql://} URL) rather than a SQLite file.
    """
    return isinstance(database, str) and database.partition("://")[0] in SCHEMES


class DatabaseError(ILSUnavailable):
    """
    The database cannot be used: not open, not reachable, or newer than
    this program.
    """


def schemaScripts(package: str) -> list[tuple[str, str]]:
    """
    The schema migrations shipped in the C{schema} folder of C{package},
    in order.

    @return: C{(file name, SQL script)} pairs.
    """
    folder = resources.files(package) / "schema"
    names = sorted(
        entry.name for entry in folder.iterdir() if entry.name.endswith(".sql")
    )
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


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


def journalRow(at: datetime, operation: str, *,
               terminal: Terminal | None = None, patron: str | None = None,
               item: str | None = None, ok: bool = True, reason: str | None = None,
               amountCents: int | None = None,
               detail: str | None = None) -> tuple[str, tuple[Any, ...]]:
    """
    The C{INSERT} of one transaction log row, with C{?} placeholders.

    @param at: When (internal times are already in the institution's zone).
    @param operation: The operation name (an L{IILS} method, or C{import}).
    @param terminal: The L{Terminal <sip2acs.ils.values.Terminal>}, or
        L{None} for the command line.
    @return: C{(statement, parameters)}.
    """
    return (
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
A row as the operations read it: its columns read by name or position
(typed C{Any}, as what a column holds is the schema's business).
"""


class Store:
    """
    One database session as the circulation operations use it; a
    subclass says how to talk to its database (see the module docstring).

    @ivar zone: The institution's time zone: stored times are wall times
        in it.
    """

    log = Logger()

    MAX_UNREADABLE = 1000
    """
    How many distinct unreadable stored values are remembered, so that each
    is logged once.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None,
                 zone: tzinfo | None = None) -> None:
        """
        @param clock: A function returning the time now: aware (converted
            to C{zone}) or naive (wall time in C{zone}).
        @param zone: The institution's time zone; the host's by default.
        """
        self.zone = zone if zone is not None else HOST_ZONE
        self._clock = clock
        # The real clock's last second, and the time then (see now()).
        self._second: int | None = None
        self._secondNow: datetime | None = None
        # The last time stamped, and its stored form (see stamp()).
        self._stamped: tuple[datetime | None, str | None] = (None, None)
        self._unreadable: set[tuple[str, object]] = set()
        self._reference: dict[tuple[Any, ...], Any] = {}
        self._dataVersion: object = None
        self._grouped = False
        # Set when an operation of the open group could not be undone.
        self.groupBroken = False

    # The dialect

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """
        Every row C{sql} (with C{?} placeholders) selects.
        """
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """
        Run one statement.
        """
        raise NotImplementedError

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """
        Run one C{INSERT} into a table with an C{id} column.

        @return: The new row's id.
        """
        raise NotImplementedError

    def _begin(self, write: bool) -> None:
        """
        Start a transaction (one that only reads when C{write} is false).
        """
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def _referenceVersion(self) -> object:
        """
        Inside a transaction: a value that changes whenever reference rows
        (institutions, branches, rules) may have changed.
        """
        raise NotImplementedError

    def atomically(self, body: Callable[[], _R], write: bool = True) -> _R:
        """
        Run C{body()} in one L{transaction}. A dialect whose database may
        ask for a transaction to be run again does so here.
        """
        with self.transaction(write):
            return body()

    # Shared

    def row(self, sql: str, params: Sequence[Any] = ()) -> Row:
        """
        The first row C{sql} selects, or L{None}.
        """
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[None]:
        """
        One transaction (only reading, when C{write} is false), committed
        when the block ends, rolled back when it raises.

        Inside a group transaction (L{group}) it is a savepoint instead:
        what the block did is undone when it raises, and kept, for the
        group's commit, when it ends. A block that only reads (C{write}
        false: it must write nothing) needs none: it has nothing to undo.
        """
        if self._grouped:
            if write:
                with self._operationSavepoint():
                    yield
            else:
                with self._groupRead():
                    yield
            return
        self._begin(write)
        try:
            self._checkReferenceVersion()
            yield
        except BaseException:
            self._rollback()
            raise
        else:
            self._commit()

    def _checkReferenceVersion(self) -> None:
        """
        At the start of a transaction: forget the cached reference rows if
        another connection may have changed them.
        """
        version = self._referenceVersion()
        if version != self._dataVersion:
            # Another connection committed reference rows: the cache
            # may be stale.
            self._dataVersion = version
            self._reference.clear()

    @contextmanager
    def group(self, write: bool = True) -> Iterator[None]:
        """
        One transaction for a group of operations (group commit):
        each operation's own L{transaction} is a savepoint in it, so one
        that raises undoes only its own changes; the group commits once,
        when the block ends, and is rolled back whole when the block
        raises, or when an operation's savepoint could not be undone (see
        L{groupBroken}): the block must check that before it ends, as a
        commit would keep that operation's half-done changes.
        The reference rows are checked once, at the start.

        @param write: Whether any operation of the group may write (a
            group of lookups is a read transaction).
        """
        self._begin(write)
        self._grouped = True
        self.groupBroken = False
        try:
            self._checkReferenceVersion()
            yield
            if self.groupBroken:
                raise DatabaseError("an operation of the group could not be undone")
        except BaseException:
            self._grouped = False
            self._rollback()
            raise
        self._grouped = False
        try:
            self._commit()
        except BaseException:
            # A commit refused (a deferred constraint, a full disk) may
            # leave the transaction open: none of the group is kept.
            self._rollbackQuietly()
            raise

    def _rollbackQuietly(self) -> None:
        """
        Roll back after a failed commit, keeping the commit's error as the
        one reported (a rollback with no transaction open does nothing).
        """
        try:
            self._rollback()
        except Exception as e:
            self.log.warn("Rolling back after a failed commit failed too: {error}",
                          error=self.refusal(e))

    @contextmanager
    def _operationSavepoint(self) -> Iterator[None]:
        """
        One operation's savepoint in a group: undone when the block raises.
        Should undoing it fail, the group is broken (L{groupBroken}) and
        every later operation of it fails at once.
        """
        if self.groupBroken:
            raise DatabaseError("an earlier operation of the group could not be undone")
        try:
            self.execute("SAVEPOINT operation")
        except BaseException:
            self.groupBroken = True
            raise
        try:
            yield
        except BaseException:
            try:
                self.execute("ROLLBACK TO SAVEPOINT operation")
                self.execute("RELEASE SAVEPOINT operation")
            except BaseException:
                self.groupBroken = True
            raise
        try:
            self.execute("RELEASE SAVEPOINT operation")
        except BaseException:
            self.groupBroken = True
            raise

    @contextmanager
    def _groupRead(self) -> Iterator[None]:
        """
        One operation that only reads, in a group: nothing to undo when it
        raises, unless the database ended the group's transaction with the
        error (a full disk, an I/O error), which breaks the group (see
        L{groupBroken}).
        """
        if self.groupBroken:
            raise DatabaseError("an earlier operation of the group could not be undone")
        try:
            yield
        except BaseException:
            if not self._inTransaction():
                self.groupBroken = True
            raise

    def _inTransaction(self) -> bool:
        """
        Whether a transaction is open (a dialect that cannot tell says
        no, so that a group whose read failed is given up).
        """
        return False

    def cached(self, key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
        """
        A reference row (institution, branch, loan rule), read once per
        change of the reference rows by another connection.
        """
        try:
            return self._reference[key]
        except KeyError:
            value = self._reference[key] = load()
            return value

    def journal(self, at: datetime, operation: str, **fields: Any) -> int:
        """
        Append one row to the transaction log, in this transaction (see
        L{journalRow} for C{fields}).

        @return: The row id: the transaction id reported to the SC.
        """
        return self.insert(*journalRow(at, operation, **fields))

    def appendLog(self, op: Operation, name: str, ok: bool,
                  reason: str | None) -> int:
        """
        The journal row of C{op}, named C{name}, in its transaction.

        @return: The row id.
        """
        return self.journal(
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

        On the real clock (no C{clock} given) the time is worked out once
        per second: the operations of one second share it.
        """
        if self._clock is None:
            second = int(time.time())
            if second != self._second or self._secondNow is None:
                self._secondNow = datetime.fromtimestamp(second, self.zone)
                self._second = second
            return self._secondNow
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
        # An operation stamps its time now several times over.
        stamped, text = self._stamped
        if value is stamped:
            return text
        text = writeTime(value)
        self._stamped = (value, text)
        return text

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

    # Loading and copying whole tables (the sip2acs db commands)

    integrityErrors: tuple[type[Exception], ...] = ()
    """
    The errors the database raises for a row it refuses (a constraint, a
    trigger), as opposed to one that cannot serve.
    """

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """
        Run one statement (with C{?} placeholders) once for each parameter
        sequence.
        """
        raise NotImplementedError

    def tables(self) -> list[str]:
        """
        The names of the tables in the database, sorted.
        """
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        """
        The columns of C{table} a row may be inserted with, in their order:
        neither generated (C{items.title_key}) nor an identity always
        generated (PostgreSQL's C{rowid} of branches and institutions).
        """
        raise NotImplementedError

    def followIds(self, table: str) -> None:
        """
        After rows were inserted into C{table} with explicit C{id}s, make
        the ids of rows inserted later follow the largest (PostgreSQL's
        identity sequences do not see explicit ids; SQLite's do).
        """
        raise NotImplementedError

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """
        A savepoint inside the transaction: what the block did is undone
        when it raises (and the transaction can go on), kept when it ends.
        """
        self.execute("SAVEPOINT %s" % (name,))
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK TO SAVEPOINT %s" % (name,))
            self.execute("RELEASE SAVEPOINT %s" % (name,))
            raise
        self.execute("RELEASE SAVEPOINT %s" % (name,))

    @staticmethod
    def refusal(error: BaseException) -> str:
        """
        The sentence of an error the database raised, without the detail
        lines (PostgreSQL's C{DETAIL} shows the row, which may hold a PIN
        hash).
        """
        lines = str(error).strip().splitlines()
        return lines[0] if lines else type(error).__name__
