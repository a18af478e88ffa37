# -*- test-case-name: tests.test_upstream_offline -*-
"""
The gateway's offline queue: checkins (and, where an institution allows
it, checkouts) taken while the upstream ILS is down, kept in a SQLite file
and replayed upstream, in order, when it returns.

L{OfflineQueue} is a L{Service}: C{startService} starts one worker thread
(L{SerialWorker}) and opens the file on it (created mode 0600 when
missing, WAL, C{synchronous=FULL}); every read and write then runs on that
thread, one after another, so nothing touches SQLite on the reactor
thread, and the order of L{OfflineQueue.add} calls is the order of the
queue. C{stopService} lets a replay finish the entry in flight, closes the
file and ends the thread.

  - L{OfflineQueue.add} stores an operation and fires once it is
    committed: an acknowledged offline checkin survives a power cut. The
    stored request has C{noBlock} set, its original transaction date (the
    moment it was queued when the kiosk sent none) and, for a checkin, a
    return date (the transaction date when the kiosk sent none). A PIN is
    never stored.
  - L{OfflineQueue.replay} sends the entries upstream one at a time, in
    order, through a function the adapter gives. An entry the upstream
    accepts is removed; one it refuses moves to the refusals, with its
    screen messages, for staff (L{OfflineQueue.refusals},
    L{OfflineQueue.clearRefusal}, C{sip2acs offline show|clear}); a
    failure (the upstream is down again) stops the replay, leaving that
    entry and every later one queued, in order, for the next replay.
    Delivery is at least once: if the process dies between the upstream's
    answer and the removal of the entry, the entry is sent again by the
    next replay (a second checkin of a returned item is harmless, and a
    refusal of it lands with staff).
  - L{OfflineQueue.status} is what the status page shows;
    L{describeOperation} and L{describeRefusal} are the one-line forms the
    command line and the status page print.

Times are aware datetimes in the institution's zone (see
L{sip2acs.ils.zones}), stored as ISO 8601 text with their UTC offset, and
given back in the queue's zone.

The functions L{openQueueFile}, L{readPending}, L{readRefusals} and
L{deleteRefusal} work on an open file in the calling thread: the queue
runs them on its worker thread, the C{sip2acs offline} command in its
own (it may run while the server does; SQLite's locking keeps both
right).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Generator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, TypeVar, cast
from urllib.parse import quote

import attrs
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, inlineCallbacks, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from sip2acs.ils import values
from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.sqlite.store import BUSY_TIMEOUT, createDatabaseFile
from sip2acs.ils.worker import SerialWorker
from sip2acs.ils.zones import HOST_ZONE, inZone

__all__ = [
    "OfflineQueue",
    "QueuedOperation",
    "ReplayReport",
    "ReplayRefusal",
    "QueueStatus",
    "OfflineQueueError",
    "OfflineLimitReached",
    "CHECKIN",
    "CHECKOUT",
    "openQueueFile",
    "readPending",
    "readRefusals",
    "deleteRefusal",
    "describeOperation",
    "describeRefusal",
]

CHECKIN = "checkin"
CHECKOUT = "checkout"

APPLICATION_ID = 0x73326F71
"""
C{PRAGMA application_id} of an offline queue file (C{"s2oq"}): a file
holding anything else (say, the circulation database) is refused.
"""

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL CHECK (operation IN ('checkin', 'checkout')),
    account TEXT NOT NULL,
    institution TEXT NOT NULL,
    location TEXT,
    peer TEXT,
    item_id TEXT NOT NULL,
    patron_id TEXT,
    request TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
CREATE INDEX queue_patron ON queue (patron_id) WHERE operation = 'checkout';
CREATE TABLE refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    account TEXT NOT NULL,
    institution TEXT NOT NULL,
    item_id TEXT NOT NULL,
    patron_id TEXT,
    reason TEXT,
    screen_messages TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    refused_at TEXT NOT NULL
);
"""
"""
The queue's tables. C{AUTOINCREMENT}: ids only grow, never reused, so the
order of the ids is the order of arrival.
"""

_T = TypeVar("_T")


class OfflineQueueError(ILSUnavailable):
    """
    The offline queue cannot be used: its file cannot be opened or is not
    an offline queue, or the queue is not running. The message is one
    sentence naming the file.
    """


class OfflineLimitReached(Exception):
    """
    L{OfflineQueue.add} refused a checkout: the patron already has as many
    queued checkouts as the limit given.

    @ivar patronId: The patron.
    @ivar limit: The limit.
    """

    def __init__(self, patronId: str, limit: int) -> None:
        Exception.__init__(
            self, "patron %s already has %d checkout(s) queued offline, the limit"
            % (patronId, limit)
        )
        self.patronId = patronId
        self.limit = limit


@attrs.frozen
class QueuedOperation:
    """
    One operation waiting in the queue.

    @ivar id: Its place in the queue (ids grow in order of arrival).
    @ivar operation: L{CHECKIN} or L{CHECKOUT}.
    @ivar account: The SC account that took it (L{values.Terminal.account}).
    @ivar institution: Its institution.
    @ivar location: The SC's location code, or L{None}.
    @ivar peer: The SC's network address, or L{None}.
    @ivar queuedAt: When it was queued (aware, in the institution's zone).
    """

    id: int
    operation: str
    account: str
    institution: str
    location: str | None
    peer: str | None
    _request: values.CheckinRequest | values.CheckoutRequest
    queuedAt: datetime

    def request(self) -> values.CheckinRequest | values.CheckoutRequest:
        """
        The request to send upstream: the one the kiosk made, without its
        PIN, with C{noBlock} set and its original transaction date (and,
        for a checkin, its return date).
        """
        return self._request

    def terminal(self) -> values.Terminal:
        """
        The terminal that took it.
        """
        return values.Terminal(self.account, self.institution, self.location, self.peer)

    @property
    def itemId(self) -> str:
        """
        The item's barcode.
        """
        return self._request.itemId

    @property
    def patronId(self) -> str | None:
        """
        The patron of a checkout; L{None} for a checkin.
        """
        return getattr(self._request, "patronId", None)


@attrs.frozen
class ReplayReport:
    """
    What one replay did.

    @ivar replayed: Entries the upstream accepted (removed from the queue).
    @ivar refused: Entries the upstream refused (moved to the refusals).
    @ivar remaining: Entries still queued when the replay ended (after a
        failure, the one that failed and those after it).
    """

    replayed: int
    refused: int
    remaining: int


@attrs.frozen
class ReplayRefusal:
    """
    An operation the upstream refused on replay, kept for staff until
    cleared.

    @ivar id: The refusal's number (for L{OfflineQueue.clearRefusal} and
        C{sip2acs offline clear}).
    @ivar operation: L{CHECKIN} or L{CHECKOUT}.
    @ivar itemId: The item's barcode.
    @ivar patronId: The patron of a checkout; L{None} for a checkin.
    @ivar queuedAt: When it was taken offline.
    @ivar refusedAt: When the upstream refused it.
    @ivar screenMessages: The upstream's screen messages, in order.
    @ivar account: The SC account that took it.
    @ivar institution: Its institution.
    @ivar reason: The refusal's reason code (L{values.Reason}), if any.
    """

    id: int
    operation: str
    itemId: str
    patronId: str | None
    queuedAt: datetime
    refusedAt: datetime
    screenMessages: tuple[str, ...] = attrs.field(converter=values.toTuple)
    account: str = ""
    institution: str = ""
    reason: str | None = None


@attrs.frozen
class QueueStatus:
    """
    What the status page shows of an offline queue.

    @ivar path: The queue's file.
    @ivar pending: Entries waiting.
    @ivar checkouts: How many of them are checkouts.
    @ivar oldest: When the oldest waiting entry was queued, or L{None}.
    @ivar refusals: Refusals not yet cleared by staff.
    @ivar replaying: Whether a replay is running.
    @ivar lastReplay: What the last finished replay did, or L{None}.
    @ivar lastReplayAt: When it finished, or L{None}.
    """

    path: str
    pending: int
    checkouts: int
    oldest: datetime | None
    refusals: int
    replaying: bool
    lastReplay: ReplayReport | None
    lastReplayAt: datetime | None


# The stored form of a request


def _encode(value: Any) -> Any:
    """
    A request field's value as JSON data: times as ISO 8601 text with their
    offset (aware only), dates, decimals and tuples tagged.

    @raise TypeError: A value of another kind, or a naive time.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise TypeError("a naive time cannot be queued: %r" % (value,))
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, (tuple, list)):
        return {"tuple": [_encode(each) for each in value]}
    raise TypeError("a request field of type %s cannot be queued" % (type(value).__name__,))


def _decode(value: Any, zone: tzinfo | None) -> Any:
    """
    The inverse of L{_encode}; times come back aware, in C{zone} when one
    is given (else with the offset stored).
    """
    if not isinstance(value, dict):
        return value
    ((kind, data),) = value.items()
    if kind == "datetime":
        moment = datetime.fromisoformat(data)
        return moment if zone is None else inZone(moment, zone)
    if kind == "date":
        return date.fromisoformat(data)
    if kind == "decimal":
        return Decimal(data)
    return tuple(_decode(each, zone) for each in data)


_KINDS: dict[str, type[values.CheckinRequest] | type[values.CheckoutRequest]] = {
    CHECKIN: values.CheckinRequest,
    CHECKOUT: values.CheckoutRequest,
}


def _storedRequest(request: values.CheckinRequest | values.CheckoutRequest) -> str:
    """
    The JSON text stored for C{request}: every field but the PIN.
    """
    fields = {
        field.name: _encode(getattr(request, field.name))
        for field in attrs.fields(type(request))
        if field.name != "pin"
    }
    return json.dumps(fields, sort_keys=True)


def _readRequest(operation: str, text: str,
                 zone: tzinfo | None) -> values.CheckinRequest | values.CheckoutRequest:
    """
    The request stored as C{text}. Fields this version does not know are
    left out; those missing take their defaults.
    """
    kind = _KINDS[operation]
    known = {field.name for field in attrs.fields(kind)} - {"pin"}
    stored = json.loads(text)
    return kind(**{name: _decode(value, zone) for name, value in stored.items()
                   if name in known})


def _writeTime(value: datetime) -> str:
    return value.isoformat()


def _readTime(text: str, zone: tzinfo | None) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if zone is None else cast(datetime, inZone(moment, zone))


# Working on an open file, in the calling thread


def openQueueFile(path: str, create: bool = True) -> sqlite3.Connection:
    """
    Open an offline queue file in the calling thread, creating it (mode
    0600, whatever the umask) and its tables when asked; WAL,
    C{synchronous=FULL}.

    @param create: Create a missing file; if false, a missing file is an
        error.
    @return: A connection in autocommit mode, belonging to the calling
        thread.
    @raise OfflineQueueError: The file is missing (and C{create} is false),
        cannot be opened, or is not an offline queue of this version.
    """
    try:
        if create:
            createDatabaseFile(path)
        # A clear reason (missing, permission denied) before SQLite's
        # "unable to open database file".
        os.close(os.open(path, os.O_RDWR))
        conn = sqlite3.connect("file:%s?mode=rw" % (quote(os.path.abspath(path)),),
                               timeout=BUSY_TIMEOUT, isolation_level=None, uri=True)
    except FileNotFoundError as e:
        if create:
            raise OfflineQueueError(
                "cannot create the offline queue %s: its directory does not exist"
                % (path,)
            ) from e
        raise OfflineQueueError("the offline queue %s does not exist" % (path,)) from e
    except (OSError, sqlite3.Error) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise OfflineQueueError(
            "cannot open the offline queue %s: %s" % (path, reason.lower())
        ) from e
    try:
        _prepare(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection, path: str) -> None:
    """
    Check the file just opened, create its tables if it is new, and set
    WAL and C{synchronous=FULL}.
    """
    try:
        check, application, version, tables = conn.execute(
            "SELECT (SELECT quick_check FROM pragma_quick_check(1)),"
            " (SELECT application_id FROM pragma_application_id),"
            " (SELECT user_version FROM pragma_user_version),"
            " (SELECT count(*) FROM sqlite_master)"
        ).fetchone()
    except sqlite3.DatabaseError as e:
        check = str(e)
    if check != "ok":
        raise OfflineQueueError(
            "the offline queue %s is damaged or not a SQLite database (%s)" % (path, check)
        )
    if application != APPLICATION_ID and (tables or version or application):
        raise OfflineQueueError(
            "%s is a SQLite database but not a sip2acs offline queue" % (path,)
        )
    if version > SCHEMA_VERSION:
        raise OfflineQueueError(
            "the offline queue %s has version %d, newer than this sip2acs knows (%d)"
            % (path, version, SCHEMA_VERSION)
        )
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode.lower() != "wal":
        raise OfflineQueueError(
            "the offline queue %s cannot use write-ahead logging (journal mode %s)"
            % (path, mode)
        )
    conn.execute("PRAGMA synchronous = FULL")
    if version == 0:
        _atomically(conn, lambda: _create(conn))


def _create(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA application_id = %d" % (APPLICATION_ID,))
    conn.execute("PRAGMA user_version = %d" % (SCHEMA_VERSION,))


def _atomically(conn: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    """
    Run C{work} in one C{BEGIN IMMEDIATE} transaction, committed before
    this returns (and, with C{synchronous=FULL}, on the disk).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


_QUEUE_COLUMNS = (
    "id, operation, account, institution, location, peer, request, queued_at"
)


def _queued(row: Sequence[Any], zone: tzinfo | None) -> QueuedOperation:
    id, operation, account, institution, location, peer, request, queuedAt = row
    return QueuedOperation(
        id, operation, account, institution, location, peer,
        _readRequest(operation, request, zone), _readTime(queuedAt, zone),
    )


def readPending(conn: sqlite3.Connection, zone: tzinfo | None = None,
                after: int = 0, limit: int = -1) -> list[QueuedOperation]:
    """
    The entries waiting, in order of arrival.

    @param zone: The zone the times are given in; by default each keeps
        the offset it was stored with.
    @param after: Only entries whose id is greater.
    @param limit: At most this many (-1: all).
    """
    rows = conn.execute(
        "SELECT %s FROM queue WHERE id > ? ORDER BY id LIMIT ?" % (_QUEUE_COLUMNS,),
        (after, limit),
    ).fetchall()
    return [_queued(row, zone) for row in rows]


def readRefusals(conn: sqlite3.Connection,
                 zone: tzinfo | None = None) -> list[ReplayRefusal]:
    """
    The refusals not yet cleared, oldest first.

    @param zone: As for L{readPending}.
    """
    rows = conn.execute(
        "SELECT id, operation, item_id, patron_id, queued_at, refused_at,"
        " screen_messages, account, institution, reason FROM refusals ORDER BY id"
    ).fetchall()
    return [
        ReplayRefusal(
            id, operation, itemId, patronId, _readTime(queuedAt, zone),
            _readTime(refusedAt, zone), json.loads(messages), account, institution,
            reason,
        )
        for (id, operation, itemId, patronId, queuedAt, refusedAt, messages, account,
             institution, reason) in rows
    ]


def deleteRefusal(conn: sqlite3.Connection, id: int) -> bool:
    """
    Remove refusal C{id} (staff dealt with it).

    @return: Whether there was one.
    """
    return _atomically(
        conn, lambda: conn.execute("DELETE FROM refusals WHERE id = ?", (id,)).rowcount > 0
    )


def _insert(conn: sqlite3.Connection, operation: str, terminal: values.Terminal,
            request: values.CheckinRequest | values.CheckoutRequest, queuedAt: datetime,
            loanLimit: int | None) -> int:
    """
    Queue one operation, in its own transaction (the limit checked in it).

    @return: Its id.
    """
    patronId = getattr(request, "patronId", None)

    def insert() -> int:
        if operation == CHECKOUT and loanLimit is not None:
            assert patronId is not None
            if _loansFor(conn, patronId) >= loanLimit:
                raise OfflineLimitReached(patronId, loanLimit)
        cursor = conn.execute(
            "INSERT INTO queue (operation, account, institution, location, peer,"
            " item_id, patron_id, request, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (operation, terminal.account, terminal.institution, terminal.location,
             terminal.peer, request.itemId, patronId, _storedRequest(request),
             _writeTime(queuedAt)),
        )
        return cast(int, cursor.lastrowid)

    return _atomically(conn, insert)


def _loansFor(conn: sqlite3.Connection, patronId: str) -> int:
    (count,) = conn.execute(
        "SELECT count(*) FROM queue WHERE operation = 'checkout' AND patron_id = ?",
        (patronId,),
    ).fetchone()
    return cast(int, count)


def _settle(conn: sqlite3.Connection, entry: QueuedOperation,
            refusal: tuple[str | None, tuple[str, ...], datetime] | None) -> None:
    """
    Remove C{entry} from the queue, moving it to the refusals when
    C{refusal} (reason, screen messages, when) is given, in one
    transaction.
    """
    def settle() -> None:
        if refusal is not None:
            reason, messages, refusedAt = refusal
            conn.execute(
                "INSERT INTO refusals (operation, account, institution, item_id,"
                " patron_id, reason, screen_messages, queued_at, refused_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.operation, entry.account, entry.institution, entry.itemId,
                 entry.patronId, reason, json.dumps(list(messages)),
                 _writeTime(entry.queuedAt), _writeTime(refusedAt)),
            )
        conn.execute("DELETE FROM queue WHERE id = ?", (entry.id,))

    _atomically(conn, settle)


def _counts(conn: sqlite3.Connection,
            zone: tzinfo | None) -> tuple[int, int, datetime | None, int]:
    """
    C{(pending, queued checkouts, oldest queuedAt, refusals)}.
    """
    pending, checkouts, oldest = conn.execute(
        "SELECT count(*), coalesce(sum(operation = 'checkout'), 0),"
        " (SELECT queued_at FROM queue ORDER BY id LIMIT 1) FROM queue"
    ).fetchone()
    (refusals,) = conn.execute("SELECT count(*) FROM refusals").fetchone()
    return (pending, checkouts, None if oldest is None else _readTime(oldest, zone),
            refusals)


# What staff read


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def describeOperation(entry: QueuedOperation) -> str:
    """
    One line for staff about a waiting entry, e.g. C{queued 12: checkin of
    item I0001 at 2024-05-01 14:03:22 by kiosk3 (institution LIB)}.
    """
    what = "%s of item %s" % (entry.operation, entry.itemId)
    if entry.patronId is not None:
        what += " to patron %s" % (entry.patronId,)
    return "queued %d: %s at %s by %s (institution %s)" % (
        entry.id, what, _when(entry.queuedAt), entry.account, entry.institution,
    )


def describeRefusal(refusal: ReplayRefusal) -> str:
    """
    One line for staff about a refusal, e.g. C{refusal 3: checkin of item
    I0001 taken 2024-05-01 14:03:22 by kiosk3, refused 2024-05-01 15:10:00:
    Item not checked out}.
    """
    what = "%s of item %s" % (refusal.operation, refusal.itemId)
    if refusal.patronId is not None:
        what += " to patron %s" % (refusal.patronId,)
    why = " / ".join(message for message in refusal.screenMessages if message)
    if not why:
        why = refusal.reason or "no reason given"
    return "refusal %d: %s taken %s by %s, refused %s: %s" % (
        refusal.id, what, _when(refusal.queuedAt), refusal.account or "?",
        _when(refusal.refusedAt), why,
    )


# The service


class OfflineQueue(Service):
    """
    The durable offline queue of one gateway institution, as a service
    (start it before use: calls made while it opens wait for it).

    Only one replay runs at a time: L{replay} called while one runs starts
    nothing and returns a Deferred firing with the running replay's
    report (or failure) when it ends.

    @ivar path: The queue's file.
    """

    log = Logger()
    name: str  # type: ignore[assignment]

    def __init__(self, path: str | os.PathLike[str],
                 reactor: IReactorFromThreads | None = None, threads: int = 1, *,
                 zone: tzinfo | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        """
        @param path: The SQLite file (created, mode 0600, when missing).
        @param reactor: The reactor the results are delivered on.
        @param threads: The worker threads: 1, the only value accepted,
            since one thread writing in call order is what keeps the queue
            in order of arrival.
        @param zone: The institution's zone: times are taken and given
            in it (the host's zone by default).
        @param clock: A function returning the time now (aware, or naive
            wall time in C{zone}); the real time by default.
        @raise ValueError: C{threads} is not 1.
        """
        if threads != 1:
            raise ValueError("the offline queue runs on exactly one thread, not %d"
                             % (threads,))
        if reactor is None:
            from twisted.internet import reactor as installed

            reactor = cast(IReactorFromThreads, installed)
        self.path = str(path)
        self.name = "offline:%s" % (self.path,)
        self._reactor = reactor
        self._zone = zone if zone is not None else HOST_ZONE
        self._clock = clock if clock is not None else (lambda: datetime.now(self._zone))
        self._worker: SerialWorker | None = None
        self._conn: sqlite3.Connection | None = None
        self._replaying: Deferred[ReplayReport] | None = None
        self._waiters: list[Deferred[ReplayReport]] = []
        self._lastReplay: ReplayReport | None = None
        self._lastReplayAt: datetime | None = None

    def _now(self) -> datetime:
        return cast(datetime, inZone(self._clock(), self._zone))

    # Starting and stopping

    def startService(self) -> Deferred[None]:
        """
        Start the worker thread and open the file on it.

        @return: A Deferred firing when the queue is ready, or failing with
            L{OfflineQueueError} saying why the file cannot be used.
        """
        Service.startService(self)
        self._worker = SerialWorker(self._reactor, "sip2acs-offline")
        self._worker.start()
        return self._worker.submit(self._openSync)

    def _openSync(self) -> None:
        self._conn = openQueueFile(self.path)

    def stopService(self) -> Deferred[None]:
        """
        Let a running replay finish the entry in flight (it sends no more),
        close the file and end the thread.

        @return: A Deferred firing when all that is done.
        """
        Service.stopService(self)
        if self._worker is None:
            return succeed(None)
        replaying: Deferred[Any] = Deferred()
        if self._replaying is not None:
            self._waiters.append(replaying)
        else:
            replaying.callback(None)

        def close(_: object) -> Deferred[None]:
            worker, self._worker = self._worker, None
            if worker is None:
                return succeed(None)
            d = worker.submit(self._closeSync)
            return d.addBoth(lambda result: worker.stop().addCallback(lambda _: result))

        return replaying.addBoth(close)

    def _closeSync(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _submit(self, function: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """
        Run C{function(connection, *args)} on the worker thread.
        """
        worker = self._worker
        if worker is None:
            return fail(OfflineQueueError("the offline queue %s is not running" % (self.path,)))
        return worker.submit(self._callSync, function, args)

    def _callSync(self, function: Callable[..., _T], args: tuple[Any, ...]) -> _T:
        if self._conn is None:
            raise OfflineQueueError("the offline queue %s is not open" % (self.path,))
        try:
            return function(self._conn, *args)
        except sqlite3.Error as e:
            raise OfflineQueueError(
                "the offline queue %s failed: %s" % (self.path, e)
            ) from e

    # Queueing

    def add(self, terminal: values.Terminal,
            request: values.CheckinRequest | values.CheckoutRequest,
            loanLimit: int | None = None) -> Deferred[QueuedOperation]:
        """
        Queue a checkin or checkout taken while the upstream is down.

        What is stored: the request without its PIN, with C{noBlock} set,
        its transaction date (now when the kiosk sent none) and, for a
        checkin, its return date (the transaction date when the kiosk sent
        none); every time aware, in the queue's zone.

        @param loanLimit: For a checkout, the most queued checkouts the
            patron may have: the count and the insert are one transaction,
            so two kiosks cannot both take the last one.
        @return: A Deferred firing with the entry once it is on the disk,
            or failing with L{OfflineLimitReached}, L{OfflineQueueError},
            or L{TypeError} for a request it cannot store.
        """
        if not isinstance(request, (values.CheckoutRequest, values.CheckinRequest)):
            return fail(TypeError("only checkins and checkouts can be queued, not %s"
                                  % (type(request).__name__,)))
        now = self._now()
        transactionDate = inZone(request.transactionDate, self._zone) or now
        stored: values.CheckinRequest | values.CheckoutRequest
        if isinstance(request, values.CheckoutRequest):
            operation = CHECKOUT
            stored = attrs.evolve(
                request, pin=None, noBlock=True, transactionDate=transactionDate,
                nbDueDate=inZone(request.nbDueDate, self._zone),
            )
        else:
            operation = CHECKIN
            stored = attrs.evolve(
                request, noBlock=True, transactionDate=transactionDate,
                returnDate=inZone(request.returnDate, self._zone) or transactionDate,
            )
        d = self._submit(_insert, operation, terminal, stored, now, loanLimit)
        return d.addCallback(
            lambda id: QueuedOperation(
                id, operation, terminal.account, terminal.institution,
                terminal.location, terminal.peer, stored, now,
            )
        )

    def pending(self) -> Deferred[list[QueuedOperation]]:
        """
        The entries waiting, in order of arrival.
        """
        return self._submit(readPending, self._zone)

    def loansFor(self, patronId: str) -> Deferred[int]:
        """
        How many checkouts to C{patronId} wait in the queue.
        """
        return self._submit(_loansFor, patronId)

    def refusals(self) -> Deferred[list[ReplayRefusal]]:
        """
        The refusals staff have not cleared, oldest first.
        """
        return self._submit(readRefusals, self._zone)

    def clearRefusal(self, id: int) -> Deferred[None]:
        """
        Forget refusal C{id}: staff dealt with it. Clearing one that is not
        there (already cleared) does nothing.
        """
        return self._submit(deleteRefusal, id).addCallback(lambda _: None)

    def status(self) -> Deferred[QueueStatus]:
        """
        What the status page shows of this queue.
        """
        def build(counts: tuple[int, int, datetime | None, int]) -> QueueStatus:
            pending, checkouts, oldest, refusals = counts
            return QueueStatus(
                self.path, pending, checkouts, oldest, refusals,
                self._replaying is not None, self._lastReplay, self._lastReplayAt,
            )

        return self._submit(_counts, self._zone).addCallback(build)

    # Replaying

    def replay(self, send: Callable[[QueuedOperation], Deferred[object]]
               ) -> Deferred[ReplayReport]:
        """
        Send the waiting entries upstream, one at a time, in order, until
        the queue is empty (entries added meanwhile are sent too, after
        the others) or a send fails.

        @param send: Sends one entry's L{request <QueuedOperation.request>}
            upstream (as its L{terminal <QueuedOperation.terminal>}) and
            returns a Deferred firing with the upstream's result
            (L{values.CheckinResult} or L{values.CirculationResult}): with
            C{ok} true the entry is removed; with C{ok} false it moves to
            the refusals with the result's screen messages and reason. A
            failed Deferred (or a result whose reason is
            L{values.Reason.UNAVAILABLE}) means the upstream is down again:
            the replay stops, and that entry and all after it stay queued.
        @return: A Deferred firing with the L{ReplayReport}; failing only
            when the queue itself fails (L{OfflineQueueError}). Called
            while a replay runs, it starts nothing and fires with that
            replay's report.
        """
        waiter: Deferred[ReplayReport] = Deferred()
        self._waiters.append(waiter)
        if self._replaying is None:
            self._replaying = self._replay(send)
            self._replaying.addBoth(self._replayed)
        return waiter

    def _replayed(self, result: ReplayReport | Failure) -> None:
        self._replaying = None
        if isinstance(result, ReplayReport):
            self._lastReplay = result
            self._lastReplayAt = self._now()
        else:
            self.log.failure("offline queue {path}: the replay failed", result,
                             path=self.path)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)

    @inlineCallbacks
    def _replay(self, send: Callable[[QueuedOperation], Deferred[object]]
                ) -> Generator[Deferred[Any], Any, ReplayReport]:
        replayed = refused = 0
        after = 0
        while self.running:
            entries = yield self._submit(readPending, self._zone, after, 1)
            if not entries:
                break
            (entry,) = entries
            try:
                result = yield maybeDeferred(send, entry)
            except Exception as e:
                self.log.warn(
                    "offline queue {path}: replay stopped at entry {id} ({operation}"
                    " of item {itemId}), the upstream failed: {error}",
                    path=self.path, id=entry.id, operation=entry.operation,
                    itemId=entry.itemId, error=e,
                )
                break
            reason = getattr(result, "reason", None)
            if getattr(result, "ok", False):
                yield self._submit(_settle, entry, None)
                replayed += 1
            elif reason == values.Reason.UNAVAILABLE:
                self.log.warn(
                    "offline queue {path}: replay stopped at entry {id}, the upstream"
                    " is unavailable", path=self.path, id=entry.id,
                )
                break
            else:
                messages = tuple(getattr(result, "screenMessages", ()))
                yield self._submit(_settle, entry, (reason, messages, self._now()))
                refused += 1
                self.log.warn(
                    "offline queue {path}: the upstream refused the {operation} of item"
                    " {itemId} queued at {queuedAt} by {account}: {messages}",
                    path=self.path, operation=entry.operation, itemId=entry.itemId,
                    queuedAt=entry.queuedAt.isoformat(), account=entry.account,
                    messages=" / ".join(messages) or reason or "no reason given",
                )
            after = entry.id
        counts = yield self._submit(_counts, self._zone)
        report = ReplayReport(replayed, refused, counts[0])
        if replayed or refused:
            self.log.info(
                "offline queue {path}: replayed {replayed}, refused {refused},"
                " {remaining} remaining", path=self.path, replayed=replayed,
                refused=refused, remaining=report.remaining,
            )
        return report
