# -*- test-case-name: tests.test_ils_sqlite -*-
"""
The circulation logic of the embedded SQLite system, on one connection.

L{Circulation} is synchronous: L{SQLiteILS <sip2acs.ils.sqlite.SQLiteILS>}
calls it on its one SQLite thread. Each public method is one operation of
L{IILS <sip2acs.ils.interfaces.IILS>}: one C{BEGIN IMMEDIATE} transaction that
ends with a row in the append-only C{transaction_log} table and commits
before the method returns. Refusals are results (C{ok} false, a
L{Reason <sip2acs.ils.base.Reason>} and a screen message), never
exceptions; an exception means the database failed, and rolls the whole
operation back.

Rules (table C{loan_rules}) are looked up per patron class and item type,
the most specific row winning: (class, type), then (C{*}, type), then
(class, C{*}), then (C{*}, C{*}). Patron-wide limits (total loans, fee
limit, overdue items, holds) come from (class, C{*}), else (C{*}, C{*}).
Money is kept in integer cents; an amount is at most L{MAX_AMOUNT} either
way (a payment, a fee, a rule's fine).

Times are aware, in the institution's zone (see L{sip2acs.ils.base} for
the time model); the database keeps the zone's wall time as text, written
by L{writeTime} and read back by L{readTime}. Reading a row never fails on
its contents: a time or date that cannot be read (written by hand, or by an
older version) is logged once and read as unknown (L{None}): a loan with an
unknown due date is not overdue, and is fined nothing.

Dates a kiosk sends are bounded before they are stored:

  - a no-block checkout's transaction date (when the kiosk lent the item
    off line) must not be in the future nor more than L{MAX_OFFLINE_AGE}
    before now;
  - a no-block due date must not be before the loan began (the checkout,
    or the loan's start for a renewal) nor more than L{MAX_LOAN_PERIOD}
    after it (after now, for a renewal);
  - a return date must not be in the future nor before the loan began.

The kiosk already lent or took back the item, so refusing would lose the
record: a date out of bounds is replaced by now (or, for a due date, by the
rule's due date), and the transaction log detail says so. A hold
expiration must be after now and at most L{MAX_HOLD_PERIOD} ahead; a hold
request with another is refused (L{Reason.BAD_DATE
<sip2acs.ils.base.Reason.BAD_DATE>}).

"This branch", where a checkin happens, is the checkin's current location
(C{AP}) if it is a branch code, else the terminal's location (C{CP}) if it
is one, else the institution's default branch.
"""

import re
import sqlite3
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

import attrs
from twisted.logger import Logger

from sip2acs.ils.base import (
    HOST_ZONE,
    AlertType,
    CheckinResult,
    CirculationResult,
    CirculationStatus,
    FeeType,
    HoldResult,
    Item,
    ItemRef,
    ItemStatusResult,
    Patron,
    PaymentResult,
    Reason,
    RenewAllResult,
    SessionEnd,
    inZone,
)
from sip2acs.passwords import VerifiedCache

__all__ = [
    "Circulation",
    "LoanRule",
    "SortBins",
    "appendLog",
    "toCents",
    "fromCents",
    "dueDate",
    "writeTime",
    "readTime",
    "TIMESTAMP",
    "MAX_AMOUNT",
    "MAX_OFFLINE_AGE",
    "MAX_LOAN_PERIOD",
    "MAX_HOLD_PERIOD",
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

MAX_OFFLINE_AGE = timedelta(days=90)
"""
How long before now a no-block checkout may have happened.
"""

MAX_LOAN_PERIOD = timedelta(days=731)
"""
How far after its start a no-block due date may be: two years.
"""

MAX_HOLD_PERIOD = timedelta(days=731)
"""
How far ahead a hold may expire: two years.
"""

DUE_TIME = time(23, 59)
"""
Loans fall due at this time of their last day.
"""

CENT = Decimal("0.01")

ACTIVE_HOLD = "('waiting', 'in_transit', 'ready')"

PRIVILEGES_DENIED = frozenset(
    {
        "chargePrivilegesDenied",
        "renewalPrivilegesDenied",
        "recallPrivilegesDenied",
        "holdPrivilegesDenied",
    }
)

_STATUS_CODES = {
    "available": CirculationStatus.AVAILABLE,
    "charged": CirculationStatus.CHARGED,
    "on_hold_shelf": CirculationStatus.ON_HOLD_SHELF,
    "in_transit": CirculationStatus.IN_TRANSIT,
    "lost": CirculationStatus.LOST,
    "missing": CirculationStatus.MISSING,
    "in_process": CirculationStatus.IN_PROCESS,
    "on_order": CirculationStatus.ON_ORDER,
    "claimed_returned": CirculationStatus.CLAIMED_RETURNED,
    "reshelving": CirculationStatus.WAITING_RESHELVING,
    "other": CirculationStatus.OTHER,
}

MESSAGES = {
    Reason.UNKNOWN_PATRON: "Your library card was not recognized. Please see the desk.",
    Reason.BAD_PIN: "Your PIN is incorrect.",
    Reason.CARD_EXPIRED: "Your card has expired. Please see the desk.",
    Reason.CARD_LOST: "This card has been reported lost. Please see the desk.",
    Reason.CARD_BLOCKED: "Your card is blocked. Please see the desk.",
    Reason.EXCESSIVE_FINES: (
        "You owe {owed}, over the limit of {limit}. Please pay to borrow."
    ),
    Reason.TOO_MANY_OVERDUE: (
        "You have {count} overdue items. Please return them to borrow more."
    ),
    Reason.LOAN_LIMIT: "You have reached your limit of {limit} loans.",
    Reason.UNKNOWN_ITEM: "This item was not recognized. Please see the desk.",
    Reason.NOT_CIRCULATING: "This item is for use in the library only.",
    Reason.ITEM_LOST: "This item is marked lost. Please see the desk.",
    Reason.ITEM_MISSING: "This item is marked missing. Please see the desk.",
    Reason.OUT_TO_OTHER: (
        "This item is checked out to another patron. Please see the desk."
    ),
    Reason.ON_HOLD_FOR_OTHER: "This item is on hold for another patron.",
    Reason.RENEWAL_LIMIT: "This item has already been renewed {limit} times.",
    Reason.HOLDS_WAITING: (
        "This item cannot be renewed: another patron is waiting for it."
    ),
    Reason.NOT_ON_LOAN: "This item is not checked out to you.",
    Reason.RENEWAL_NOT_ALLOWED: "This item is already checked out to you.",
    Reason.FEE_NOT_ACKNOWLEDGED: "This item has a rental fee of {fee}.",
    Reason.OVERPAYMENT: "You paid {paid} but owe only {owed}.",
    Reason.BAD_AMOUNT: "That payment amount is not valid.",
    Reason.NO_SUCH_HOLD: "You have no hold on this item.",
    Reason.HOLD_NOT_ALLOWED: "This item cannot be placed on hold.",
    Reason.UNKNOWN_FEE: "That fee was not found.",
    Reason.BAD_DATE: "A hold must expire in the future and within two years.",
    Reason.UNSUPPORTED: "This request is not supported.",
}
"""
Screen messages for refusals, by reason; some take C{str.format} fields.
"""


def toCents(amount):
    """
    Convert a money amount to integer cents, exactly.

    @param amount: A L{Decimal}, L{int} or decimal string such as C{"2.50"}.
    @raise ValueError: If it is not a finite amount of whole cents of at
        most L{MAX_AMOUNT} either way. Nothing else: any input, however
        absurd (C{"1E+999999"}, C{"NaN"}), gives a value or this.
    @rtype: L{int}
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


def fromCents(cents):
    """
    Convert integer cents to a L{Decimal} with two places.

    @rtype: L{Decimal}
    """
    return (Decimal(cents) / 100).quantize(CENT)


def dueDate(start, days):
    """
    The due date of a loan of C{days} days starting at C{start}: 23:59 on
    the last day, in C{start}'s zone.

    @type start: L{datetime}
    @rtype: L{datetime}
    """
    return datetime.combine(
        start.date() + timedelta(days=days), DUE_TIME, tzinfo=start.tzinfo
    )


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


def _ts(value):
    # Internal times are already in the institution's zone.
    return writeTime(value)


def appendLog(conn, at, operation, *, terminal=None, patron=None, item=None,
              ok=True, reason=None, amountCents=None, detail=None):
    """
    Append one row to the transaction log, in the caller's transaction.

    @param conn: The sqlite3 connection.
    @type at: L{datetime}
    @param operation: The operation name (an L{IILS} method, or C{import}).
    @param terminal: The L{Terminal <sip2acs.ils.base.Terminal>}, or
        L{None} for the command line.
    @return: The row id: the transaction id reported to the SC.
    @rtype: L{int}
    """
    cursor = conn.execute(
        "INSERT INTO transaction_log (at, terminal, institution, location,"
        " peer, operation, patron, item, ok, reason, amount_cents, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            _ts(at),
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
    return cursor.lastrowid


@attrs.frozen
class LoanRule:
    """
    One row of C{loan_rules}: what a patron class may do with an item type.

    @ivar loanDays: Loan period; 0 means the item does not circulate.
    @ivar maxLoans: Loan limit (total on a C{*} item type row, per type on
        a specific one), or L{None} for none.
    @ivar feeLimitCents: Fines and fees over this block the card.
    @ivar maxOverdue: More overdue items than this block the card.
    """

    patronClass: str = "*"
    itemType: str = "*"
    loanDays: int = 21
    maxLoans: int | None = None
    maxRenewals: int = 2
    finePerDayCents: int = 0
    fineCapCents: int | None = None
    rentalFeeCents: int = 0
    feeLimitCents: int | None = None
    maxOverdue: int | None = None
    maxHolds: int | None = None

    COLUMNS = {
        "patron_class": "patronClass",
        "item_type": "itemType",
        "loan_days": "loanDays",
        "max_loans": "maxLoans",
        "max_renewals": "maxRenewals",
        "fine_per_day_cents": "finePerDayCents",
        "fine_cap_cents": "fineCapCents",
        "rental_fee_cents": "rentalFeeCents",
        "fee_limit_cents": "feeLimitCents",
        "max_overdue": "maxOverdue",
        "max_holds": "maxHolds",
    }

    @classmethod
    def fromRow(cls, row):
        """
        Build a rule from a C{loan_rules} row, or the built-in default for
        L{None}.
        """
        if row is None:
            return cls()
        return cls(**{attr: row[column] for column, attr in cls.COLUMNS.items()})

    @property
    def circulates(self):
        """
        Whether items under this rule may leave the library.
        """
        return self.loanDays > 0

    def fineCents(self, daysOverdue):
        """
        The overdue fine for C{daysOverdue} days, capped.
        """
        fine = max(daysOverdue, 0) * self.finePerDayCents
        if self.fineCapCents is not None:
            fine = min(fine, self.fineCapCents)
        return fine


class SortBins:
    """
    The checkin sort bin (C{CL}) mapping.

    Keys, tried in this order; the first present one gives the bin:

      - C{hold}: the item goes on this branch's hold shelf (alert 01);
      - C{branch:CODE}: the item must go to branch C{CODE} (a hold there,
        alert 02, or home, alert 04);
      - C{transit}: the item must go to any other branch;
      - C{type:CODE}: items of this item type;
      - C{collection:CODE}: items of this collection code;
      - C{location:NAME}: items of this shelving location;
      - C{media:NNN}: items of this SIP2 media type;
      - C{default}: everything else.

    With no match, no bin is reported.
    """

    WORDS = ("hold", "transit", "default")
    PREFIXES = ("branch", "type", "collection", "location", "media")

    def __init__(self, mapping=None):
        """
        @param mapping: Keys as above to bin names.
        @type mapping: L{dict} or L{None}
        @raise ValueError: On an unknown key or a non-string bin.
        """
        self.mapping = {}
        for key, value in (mapping or {}).items():
            key = str(key)
            prefix, colon, rest = key.partition(":")
            if not (key in self.WORDS or (colon and rest and prefix in self.PREFIXES)):
                raise ValueError(
                    "unknown sort bin key %r: use hold, transit, default or"
                    " branch:/type:/collection:/location:/media: followed by a"
                    " code" % (key,)
                )
            if not isinstance(value, (str, int)) or str(value) == "":
                raise ValueError("sort bin for %r must be a non-empty string" % (key,))
            self.mapping[key] = str(value)

    def binFor(self, item, alertType, destination, leaving):
        """
        The bin for a checked-in item.

        @param item: The C{items} row (with C{effective_media}).
        @param alertType: The checkin's alert type, or L{None}.
        @param destination: Where the item must go, or L{None}.
        @param leaving: Whether it goes to another branch.
        @rtype: L{str} or L{None}
        """
        keys = []
        if alertType == AlertType.HOLD_HERE:
            keys.append("hold")
        if leaving:
            keys += ["branch:%s" % (destination,), "transit"]
        for prefix, column in (
            ("type", "item_type"),
            ("collection", "collection_code"),
            ("location", "shelving_location"),
            ("media", "effective_media"),
        ):
            if item[column] is not None:
                keys.append("%s:%s" % (prefix, item[column]))
        keys.append("default")
        for key in keys:
            if key in self.mapping:
                return self.mapping[key]
        return None


@attrs.frozen
class _Institution:
    id: str | None
    currency: str = "USD"
    defaultBranch: str | None = None
    holdShelfDays: int = 7


@attrs.define
class _Operation:
    """
    What one operation is doing, for its transaction log row.
    """

    terminal: object
    now: datetime
    institution: _Institution
    patron: str | None = None
    item: str | None = None
    amountCents: int | None = None
    details: list = attrs.Factory(list)

    def money(self, cents):
        return "%s %s" % (fromCents(cents), self.institution.currency)


@attrs.define
class _PatronState:
    """
    A patron's loans, balance and blocks, as of now.
    """

    rule: LoanRule
    loans: list
    overdue: list
    balanceCents: int
    blocks: list


def _itemFields(item):
    """
    What every checkout, renewal and cancelled checkin reports of the item:
    title, media type, magnetic media.
    """
    return dict(
        title=item["title"],
        mediaType=item["effective_media"],
        magneticMedia=bool(item["effective_magnetic"]),
    )


def _refusal(reason, **fields):
    message = MESSAGES[reason].format(**fields)
    return reason, message


def _outcome(result):
    for attribute in ("ok", "accepted", "found"):
        if hasattr(result, attribute):
            return getattr(result, attribute), getattr(result, "reason", None)
    return True, None


class Circulation:
    """
    The circulation operations on one sqlite3 connection.

    @ivar allowOverpayment: Whether a payment over what is owed is accepted
        (the rest becomes a credit) instead of refused.
    """

    log = Logger()

    MAX_UNREADABLE = 1000
    """
    How many distinct unreadable stored values are remembered, so that each
    is logged once.
    """

    def __init__(self, conn, clock=None, sortBins=None, allowOverpayment=False,
                 zone=None):
        """
        @param conn: A migrated sqlite3 connection (see
            L{sip2acs.ils.sqlite.openDatabase}); used only from the thread
            that created it.
        @param clock: A function returning the time now: aware (converted
            to C{zone}) or naive (wall time in C{zone}).
        @type sortBins: L{SortBins}, a mapping for it, or L{None}.
        @param zone: The institution's time zone; the host's by default.
        @type zone: L{tzinfo}
        """
        self._conn = conn
        self.zone = zone if zone is not None else HOST_ZONE
        self._clock = clock if clock is not None else (
            lambda: datetime.now(self.zone)
        )
        self._unreadable = set()
        if not isinstance(sortBins, SortBins):
            sortBins = SortBins(sortBins)
        self._sortBins = sortBins
        self.allowOverpayment = allowOverpayment
        self._pins = VerifiedCache()
        self._reference = {}
        self._dataVersion = None

    # Database plumbing

    def _rows(self, sql, params=()):
        cursor = self._conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()

    def _row(self, sql, params=()):
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _execute(self, sql, params=()):
        return self._conn.execute(sql, params)

    @contextmanager
    def _transaction(self, write=True):
        self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._dataVersion:
            # Another connection (sip2acs db import) committed: reference
            # rows may have changed.
            self._dataVersion = version
            self._reference.clear()
        try:
            yield
        except BaseException:
            self._conn.rollback()
            raise
        else:
            self._conn.commit()

    def _read(self, terminal, patronId, itemId, body, *args):
        """
        Run C{body(op, *args)} in a read-only transaction: a lookup, which
        changes nothing and so is not logged.
        """
        with self._transaction(write=False):
            op = _Operation(
                terminal=terminal,
                now=self._now(),
                institution=self._institution(terminal),
                patron=patronId,
                item=itemId,
            )
            return body(op, *args)

    def _now(self):
        return inZone(self._clock(), self.zone).replace(microsecond=0)

    def _local(self, value):
        """
        A request's time in the institution's zone, to the second, or
        L{None} (none given, or not representable).
        """
        value = inZone(value, self.zone)
        return None if value is None else value.replace(microsecond=0)

    def _unreadableValue(self, column, text):
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

    def _time(self, text, column):
        """
        Read a stored time; an unreadable one is logged once and is L{None}.
        """
        try:
            return readTime(text, self.zone)
        except ValueError:
            return self._unreadableValue(column, text)

    def _date(self, text, column):
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

    def _bounded(self, op, value, earliest, latest, what):
        """
        A kiosk's time, in the institution's zone, if it lies between
        C{earliest} and C{latest} (either may be L{None}: no bound); else
        L{None}, and the log detail says it was not used.
        """
        local = self._local(value)
        if local is not None and (earliest is None or local >= earliest) and (
            latest is None or local <= latest
        ):
            return local
        op.details.append(
            "%s %s out of bounds, not used"
            % (what, writeTime(local) if local is not None else "unrepresentable")
        )
        return None

    def _returnTime(self, op, value, loan):
        """
        When C{loan} ended: C{value} (a kiosk's return date) if it is not in
        the future nor before the loan began, else now.
        """
        if value is None:
            return op.now
        start = self._time(loan["out_at"], "loans.out_at")
        returned = self._bounded(op, value, start, op.now, "return date")
        return op.now if returned is None else returned

    def _cached(self, key, load):
        """
        A reference row (institution, branch, loan rule), read once per
        change of the database by another connection.
        """
        try:
            return self._reference[key]
        except KeyError:
            value = self._reference[key] = load()
            return value

    def _perform(self, name, terminal, patronId, itemId, body, *args):
        """
        Run C{body(op, *args)} as one logged transaction.

        @return: C{(result, transaction id)}.
        """
        with self._transaction():
            op = _Operation(
                terminal=terminal,
                now=self._now(),
                institution=self._institution(terminal),
                patron=patronId,
                item=itemId,
            )
            result = body(op, *args)
            ok, reason = _outcome(result)
            logId = appendLog(
                self._conn,
                op.now,
                name,
                terminal=terminal,
                patron=op.patron,
                item=op.item,
                ok=ok,
                reason=reason,
                amountCents=op.amountCents,
                detail="; ".join(op.details) or None,
            )
        return result, str(logId)

    # Lookups

    def _institution(self, terminal):
        institution = terminal.institution if terminal else None
        return self._cached(
            ("institution", institution), lambda: self._loadInstitution(institution)
        )

    def _loadInstitution(self, institution):
        row = self._row(
            "SELECT * FROM institutions ORDER BY id = ? DESC, rowid LIMIT 1",
            (institution,),
        )
        if row is None:
            branch = self._row("SELECT code FROM branches ORDER BY rowid LIMIT 1")
            return _Institution(id=None, defaultBranch=branch[0] if branch else None)
        return _Institution(
            id=row["id"],
            currency=row["currency"],
            defaultBranch=row["default_branch"],
            holdShelfDays=row["hold_shelf_days"],
        )

    def _isBranch(self, code):
        # The set of all branch codes is cached, not an answer per code: a
        # kiosk's location (AP, CP) is any text it likes, and a cache entry
        # per made-up code would grow without bound.
        return bool(code) and code in self._cached(
            ("branches",),
            lambda: frozenset(row[0] for row in self._rows("SELECT code FROM branches")),
        )

    def _thisBranch(self, op, currentLocation=None):
        for code in (currentLocation, op.terminal.location if op.terminal else None):
            if self._isBranch(code):
                return code
        return op.institution.defaultBranch

    def _patronRow(self, barcode):
        return self._row("SELECT * FROM patrons WHERE barcode = ?", (barcode,))

    _ITEM_SELECT = (
        "SELECT items.*,"
        " coalesce(items.media_type, t.media_type, '001') AS effective_media,"
        " coalesce(items.magnetic, t.magnetic, 0) AS effective_magnetic"
        " FROM items LEFT JOIN item_types t ON t.code = items.item_type"
    )

    def _itemRow(self, barcode):
        if not barcode:
            return None
        return self._row(self._ITEM_SELECT + " WHERE items.barcode = ?", (barcode,))

    def _itemById(self, itemId):
        return self._row(self._ITEM_SELECT + " WHERE items.id = ?", (itemId,))

    def _itemsForTitle(self, titleId):
        if not titleId:
            return []
        return self._rows(
            self._ITEM_SELECT + " WHERE items.title_key = ? OR items.title = ?"
            " ORDER BY items.title_key = ? DESC, items.id",
            (titleId, titleId, titleId),
        )

    def _rule(self, patronClass, itemType):
        return self._cached(
            ("rule", patronClass, itemType),
            lambda: self._loadRule(patronClass, itemType),
        )

    def _loadRule(self, patronClass, itemType):
        return LoanRule.fromRow(
            self._row(
                "SELECT * FROM loan_rules"
                " WHERE patron_class IN (?, '*') AND item_type IN (?, '*')"
                " ORDER BY (item_type <> '*') * 2 + (patron_class <> '*') DESC"
                " LIMIT 1",
                (patronClass, itemType),
            )
        )

    def _patronRule(self, patronClass):
        return self._cached(
            ("patronRule", patronClass), lambda: self._loadPatronRule(patronClass)
        )

    def _loadPatronRule(self, patronClass):
        return LoanRule.fromRow(
            self._row(
                "SELECT * FROM loan_rules"
                " WHERE patron_class IN (?, '*') AND item_type = '*'"
                " ORDER BY patron_class <> '*' DESC LIMIT 1",
                (patronClass,),
            )
        )

    def _openLoan(self, itemId):
        return self._row(
            "SELECT loans.*, patrons.barcode AS patron_barcode FROM loans"
            " JOIN patrons ON patrons.id = loans.patron_id"
            " WHERE loans.item_id = ? AND loans.returned_at IS NULL",
            (itemId,),
        )

    def _checkPin(self, patron, pin):
        if pin is None or pin == "":
            return None
        return self._pins.verify(pin, patron["pin_hash"])

    def _patronState(self, op, patron):
        rule = self._patronRule(patron["patron_class"])
        loans = self._rows(
            "SELECT loans.*, items.barcode, items.title, items.item_type"
            " FROM loans JOIN items ON items.id = loans.item_id"
            " WHERE loans.patron_id = ? AND loans.returned_at IS NULL"
            " ORDER BY loans.due_at, loans.id",
            (patron["id"],),
        )
        now = _ts(op.now)
        overdue = [loan for loan in loans if loan["due_at"] < now]
        balance = self._row(
            "SELECT coalesce(sum(balance_cents), 0) FROM fees"
            " WHERE patron_id = ? AND voided_at IS NULL",
            (patron["id"],),
        )[0]
        blocks = []
        expires = self._date(patron["expires"], "patrons.expires")
        if patron["card_lost"]:
            blocks.append(_refusal(Reason.CARD_LOST))
        if patron["blocked"]:
            blocks.append(_refusal(Reason.CARD_BLOCKED))
        if expires is not None and expires < op.now.date():
            blocks.append(_refusal(Reason.CARD_EXPIRED))
        if rule.feeLimitCents is not None and balance > rule.feeLimitCents:
            blocks.append(
                _refusal(
                    Reason.EXCESSIVE_FINES,
                    owed=op.money(balance),
                    limit=op.money(rule.feeLimitCents),
                )
            )
        if rule.maxOverdue is not None and len(overdue) > rule.maxOverdue:
            blocks.append(_refusal(Reason.TOO_MANY_OVERDUE, count=len(overdue)))
        return _PatronState(rule, loans, overdue, balance, blocks)

    def _patronResult(self, op, patron, pinValid):
        state = self._patronState(op, patron)
        rule = state.rule
        reasons = {reason for reason, _ in state.blocks}
        flags = set()
        if reasons:
            flags |= PRIVILEGES_DENIED
        if patron["card_lost"]:
            flags.add("cardReportedLost")
        if rule.maxLoans is not None and len(state.loans) >= rule.maxLoans:
            flags.add("tooManyItemsCharged")
        if Reason.TOO_MANY_OVERDUE in reasons:
            flags.add("tooManyItemsOverdue")
        if Reason.EXCESSIVE_FINES in reasons:
            flags |= {"excessiveOutstandingFines", "excessiveOutstandingFees"}
        messages = [message for _, message in state.blocks]
        if rule.maxLoans is not None and len(state.loans) >= rule.maxLoans:
            messages.append(MESSAGES[Reason.LOAN_LIMIT].format(limit=rule.maxLoans))
        if pinValid is False:
            messages.insert(0, MESSAGES[Reason.BAD_PIN])

        holds = self._rows(
            "SELECT holds.*, coalesce(t.barcode, c.barcode, '') AS barcode"
            " FROM holds LEFT JOIN items t ON t.id = holds.trapped_item_id"
            " LEFT JOIN items c ON c.id = holds.item_id"
            " WHERE holds.patron_id = ? AND holds.status IN " + ACTIVE_HOLD +
            " ORDER BY holds.placed_at, holds.id",
            (patron["id"],),
        )
        fees = self._rows(
            "SELECT fees.*, items.barcode, items.title FROM fees"
            " LEFT JOIN items ON items.id = fees.item_id"
            " WHERE fees.patron_id = ? AND fees.voided_at IS NULL"
            " AND fees.balance_cents > 0 ORDER BY fees.created_at, fees.id",
            (patron["id"],),
        )

        def loanRef(loan):
            return ItemRef(
                itemId=loan["barcode"],
                title=loan["title"],
                dueDate=self._time(loan["due_at"], "loans.due_at"),
            )

        return Patron(
            found=True,
            patronId=patron["barcode"],
            name=patron["name"],
            pinValid=pinValid,
            flags=flags,
            language=patron["language"],
            holdItems=[ItemRef(h["barcode"], h["title"]) for h in holds],
            overdueItems=[loanRef(loan) for loan in state.overdue],
            chargedItems=[loanRef(loan) for loan in state.loans],
            fineItems=[
                ItemRef(
                    itemId=fee["barcode"] or "",
                    title=fee["title"] or fee["description"],
                    amount=fromCents(fee["balance_cents"]),
                )
                for fee in fees
            ],
            unavailableHoldItems=[
                ItemRef(h["barcode"], h["title"]) for h in holds
                if h["status"] != "ready"
            ],
            holdItemsLimit=rule.maxHolds,
            overdueItemsLimit=rule.maxOverdue,
            chargedItemsLimit=rule.maxLoans,
            feeAmount=fromCents(state.balanceCents),
            feeLimit=(
                None if rule.feeLimitCents is None else fromCents(rule.feeLimitCents)
            ),
            currency=op.institution.currency,
            homeAddress=patron["address"],
            email=patron["email"],
            phone=patron["phone"],
            birthDate=self._date(patron["birth_date"], "patrons.birth_date"),
            patronClass=patron["patron_class"],
            homeLibrary=patron["home_branch"],
            expires=self._date(patron["expires"], "patrons.expires"),
            screenMessages=messages,
        )

    def _holdQueue(self, item):
        """
        Active holds that could take C{item}, oldest first.
        """
        return self._rows(
            "SELECT holds.*, patrons.barcode AS patron_barcode,"
            " patrons.name AS patron_name FROM holds"
            " JOIN patrons ON patrons.id = holds.patron_id"
            " WHERE holds.status IN " + ACTIVE_HOLD +
            " AND (holds.item_id = ? OR holds.trapped_item_id = ?"
            " OR (holds.item_id IS NULL AND holds.trapped_item_id IS NULL"
            " AND holds.title_key = ?))"
            " ORDER BY holds.placed_at, holds.id",
            (item["id"], item["id"], item["title_key"]),
        )

    def _trappedHold(self, item):
        for hold in self._holdQueue(item):
            if hold["trapped_item_id"] == item["id"]:
                return hold
        return None

    def _nextWaitingHold(self, op, item):
        for hold in self._holdQueue(item):
            if hold["status"] != "waiting":
                continue
            if hold["expires_at"] is not None and hold["expires_at"] < _ts(op.now):
                self._execute(
                    "UPDATE holds SET status = 'expired', closed_at = ? WHERE id = ?",
                    (_ts(op.now), hold["id"]),
                )
                op.details.append("hold %d expired" % (hold["id"],))
                continue
            return hold
        return None

    def _itemResult(self, op, item):
        loan = self._openLoan(item["id"])
        queue = self._holdQueue(item)
        trapped = self._trappedHold(item)
        rule = self._rule("*", item["item_type"])
        rental = rule.rentalFeeCents
        messages = []
        if item["status"] in ("lost", "missing"):
            messages.append(MESSAGES[
                Reason.ITEM_LOST if item["status"] == "lost" else Reason.ITEM_MISSING
            ])
        if not rule.circulates:
            messages.append(MESSAGES[Reason.NOT_CIRCULATING])
        return Item(
            found=True,
            itemId=item["barcode"],
            title=item["title"],
            circulationStatus=_STATUS_CODES[item["status"]],
            feeType=FeeType.RENTAL if rental else FeeType.OTHER,
            feeAmount=fromCents(rental) if rental else None,
            currency=op.institution.currency if rental else None,
            dueDate=self._time(loan["due_at"], "loans.due_at") if loan else None,
            holdPickupDate=(
                self._time(trapped["shelf_expires_at"], "holds.shelf_expires_at")
                if trapped else None
            ),
            holdQueueLength=len(queue),
            owner=op.institution.id,
            mediaType=item["effective_media"],
            magneticMedia=bool(item["effective_magnetic"]),
            permanentLocation=item["home_branch"],
            currentLocation=item["current_branch"],
            destination=item["destination"],
            callNumber=item["call_number"],
            collectionCode=item["collection_code"],
            properties=item["properties"],
            holdPatronId=trapped["patron_barcode"] if trapped else None,
            screenMessages=messages,
        )

    # IILS operations

    def lookupPatron(self, terminal, patronId, pin=None):
        """
        Look up a patron (23, 63). See L{IILS.lookupPatron}.

        @rtype: L{Patron}
        """
        return self._read(terminal, patronId, None, self._lookupPatron, pin)

    def _lookupPatron(self, op, pin):
        patron = self._patronRow(op.patron)
        if patron is None:
            return Patron(
                found=False,
                patronId=op.patron,
                screenMessages=[MESSAGES[Reason.UNKNOWN_PATRON]],
            )
        return self._patronResult(op, patron, self._checkPin(patron, pin))

    def lookupItem(self, terminal, itemId):
        """
        Look up an item (17).

        @rtype: L{Item}
        """
        return self._read(terminal, None, itemId, self._lookupItem)

    def _lookupItem(self, op):
        item = self._itemRow(op.item)
        if item is None:
            return Item(
                found=False,
                itemId=op.item,
                screenMessages=[MESSAGES[Reason.UNKNOWN_ITEM]],
            )
        return self._itemResult(op, item)

    def checkout(self, terminal, request):
        """
        Lend an item (11), renew it on checkout, accept an off-line
        (no-block) loan or cancel a checkin.

        @type request: L{CheckoutRequest <sip2acs.ils.base.CheckoutRequest>}
        @rtype: L{CirculationResult}
        """
        result, transactionId = self._perform(
            "checkout", terminal, request.patronId, request.itemId,
            self._checkout, request,
        )
        if result.ok:
            result = attrs.evolve(result, transactionId=transactionId)
        return result

    def _checkout(self, op, request):
        if request.noBlock:
            op.details.append("no-block")
        if request.cancel:
            op.details.append("cancel")
            return self._cancelCheckin(op, request)
        patron = self._patronRow(request.patronId)
        if patron is None:
            return self._circRefusal(Reason.UNKNOWN_PATRON, patronValid=False)
        pinValid = self._checkPin(patron, request.pin)
        if pinValid is False:
            return self._circRefusal(Reason.BAD_PIN, patronValid=True, pinValid=False)
        item = self._itemRow(request.itemId)
        if item is None:
            return self._circRefusal(
                Reason.UNKNOWN_ITEM, patronValid=True, pinValid=pinValid
            )
        common = dict(_itemFields(item), patronValid=True, pinValid=pinValid)
        loan = self._openLoan(item["id"])
        if loan is not None and loan["patron_id"] == patron["id"]:
            if not (request.scRenewalPolicy or request.noBlock):
                return self._circRefusal(
                    Reason.RENEWAL_NOT_ALLOWED, renewal=True, **common
                )
            op.details.append("renewal")
            return self._renewLoan(
                op, patron, item, loan, request.noBlock, request.nbDueDate,
                request.feeAcknowledged, common,
            )
        rule = self._rule(patron["patron_class"], item["item_type"])
        outAt = op.now
        if request.noBlock and request.transactionDate is not None:
            outAt = self._bounded(
                op, request.transactionDate, op.now - MAX_OFFLINE_AGE, op.now,
                "transaction date",
            ) or op.now
        if not request.noBlock:
            refusal = self._checkoutRefusal(op, patron, item, loan, rule)
            if refusal is not None:
                reason, message = refusal
                return self._circRefusal(reason, message, **common)
        elif loan is not None:
            self._implicitCheckin(op, item, loan, request, outAt)
        if rule.rentalFeeCents:
            if not (request.feeAcknowledged or request.noBlock):
                reason, message = _refusal(
                    Reason.FEE_NOT_ACKNOWLEDGED, fee=op.money(rule.rentalFeeCents)
                )
                return self._circRefusal(
                    reason, message,
                    feeType=FeeType.RENTAL,
                    feeAmount=fromCents(rule.rentalFeeCents),
                    currency=op.institution.currency,
                    **common,
                )
        due = None
        if request.noBlock and request.nbDueDate is not None:
            due = self._bounded(
                op, request.nbDueDate, outAt, outAt + MAX_LOAN_PERIOD,
                "no-block due date",
            )
        if due is None:
            due = dueDate(op.now, rule.loanDays)
        branch = self._thisBranch(op)
        loanId = self._execute(
            "INSERT INTO loans (item_id, patron_id, branch, out_at, due_at,"
            " no_block) VALUES (?, ?, ?, ?, ?, ?)",
            (item["id"], patron["id"], branch, _ts(outAt), _ts(due),
             1 if request.noBlock else 0),
        ).lastrowid
        self._execute(
            "UPDATE items SET status = 'charged', current_branch = ?,"
            " destination = NULL WHERE id = ?",
            (branch or item["current_branch"], item["id"]),
        )
        self._settleHoldsAtCheckout(op, patron, item, loanId)
        fee = self._chargeRental(op, patron, item, loanId, rule)
        result = dict(common)
        if fee:
            result.update(
                feeType=FeeType.RENTAL,
                feeAmount=fromCents(fee),
                currency=op.institution.currency,
            )
        return CirculationResult(ok=True, desensitize=True, dueDate=due, **result)

    def _circRefusal(self, reason, message=None, **fields):
        return CirculationResult(
            ok=False,
            reason=reason,
            screenMessages=[message or MESSAGES[reason]],
            **fields,
        )

    def _checkoutRefusal(self, op, patron, item, loan, rule):
        """
        Why C{patron} may not borrow C{item} now, as C{(reason, message)},
        or L{None}.
        """
        state = self._patronState(op, patron)
        if state.blocks:
            return state.blocks[0]
        if loan is not None:
            return _refusal(Reason.OUT_TO_OTHER)
        if item["status"] == "lost":
            return _refusal(Reason.ITEM_LOST)
        if item["status"] == "missing":
            return _refusal(Reason.ITEM_MISSING)
        if not rule.circulates:
            return _refusal(Reason.NOT_CIRCULATING)
        for hold in self._holdQueue(item):
            if hold["patron_id"] == patron["id"]:
                continue
            if hold["trapped_item_id"] == item["id"] or (
                hold["status"] == "waiting" and hold["item_id"] == item["id"]
            ):
                return _refusal(Reason.ON_HOLD_FOR_OTHER)
        total = state.rule.maxLoans
        if total is not None and len(state.loans) >= total:
            return _refusal(Reason.LOAN_LIMIT, limit=total)
        if rule.itemType != "*" and rule.maxLoans is not None:
            sameType = [
                loan for loan in state.loans
                if loan["item_type"] == item["item_type"]
            ]
            if len(sameType) >= rule.maxLoans:
                return _refusal(Reason.LOAN_LIMIT, limit=rule.maxLoans)
        return None

    def _chargeRental(self, op, patron, item, loanId, rule):
        fee = rule.rentalFeeCents
        if fee:
            self._execute(
                "INSERT INTO fees (patron_id, item_id, loan_id, fee_type,"
                " description, amount_cents, balance_cents, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (patron["id"], item["id"], loanId, FeeType.RENTAL,
                 "Rental: " + item["title"], fee, fee, _ts(op.now)),
            )
            op.amountCents = fee
            op.details.append("rental fee %s" % (op.money(fee),))
        return fee

    def _settleHoldsAtCheckout(self, op, patron, item, loanId):
        """
        The patron's own hold on the item (or its title) is filled; a hold
        of another patron that had trapped it (no-block checkouts only)
        goes back to the queue.
        """
        filled = False
        for hold in self._holdQueue(item):
            if hold["patron_id"] == patron["id"] and not filled:
                self._execute(
                    "UPDATE holds SET status = 'filled', filled_loan_id = ?,"
                    " trapped_item_id = ?, closed_at = ? WHERE id = ?",
                    (loanId, item["id"], _ts(op.now), hold["id"]),
                )
                op.details.append("filled hold %d" % (hold["id"],))
                filled = True
            elif hold["trapped_item_id"] == item["id"]:
                self._untrap(hold)
                op.details.append("hold %d back in the queue" % (hold["id"],))

    def _untrap(self, hold):
        self._execute(
            "UPDATE holds SET status = 'waiting', trapped_item_id = NULL,"
            " trapped_at = NULL, shelf_expires_at = NULL WHERE id = ?",
            (hold["id"],),
        )

    def _closeLoan(self, op, item, loan, returned, branch):
        """
        End a loan at C{returned}, charging the overdue fine.

        @return: The fine in cents.
        """
        self._execute(
            "UPDATE loans SET returned_at = ?, checked_in_at = ?,"
            " checkin_branch = ? WHERE id = ?",
            (_ts(returned), _ts(op.now), branch, loan["id"]),
        )
        due = self._time(loan["due_at"], "loans.due_at")
        days = (
            (returned.date() - due.date()).days
            if due is not None and returned > due else 0
        )
        patron = self._row(
            "SELECT patron_class FROM patrons WHERE id = ?", (loan["patron_id"],)
        )
        fine = self._rule(patron["patron_class"], item["item_type"]).fineCents(days)
        if fine:
            self._execute(
                "INSERT INTO fees (patron_id, item_id, loan_id, fee_type,"
                " description, amount_cents, balance_cents, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (loan["patron_id"], item["id"], loan["id"], FeeType.OVERDUE,
                 "Overdue %d days: %s" % (days, item["title"]), fine, fine,
                 _ts(op.now)),
            )
            op.amountCents = fine
            op.details.append("overdue fine %s" % (op.money(fine),))
        return fine

    def _implicitCheckin(self, op, item, loan, request, outAt):
        returned = self._returnTime(op, outAt, loan)
        fine = self._closeLoan(op, item, loan, returned, self._thisBranch(op))
        appendLog(
            self._conn, op.now, "checkin", terminal=op.terminal,
            patron=loan["patron_barcode"], item=item["barcode"],
            amountCents=fine or None,
            detail="implicit, before a no-block checkout to %s" % (request.patronId,),
        )
        op.details.append("checked in from %s first" % (loan["patron_barcode"],))
        op.amountCents = None

    def _cancelCheckin(self, op, request):
        """
        Undo the last checkin of the item: its loan is open again, its
        overdue fine voided and any hold it trapped back in the queue.
        """
        item = self._itemRow(request.itemId)
        if item is None:
            return self._circRefusal(Reason.UNKNOWN_ITEM)
        common = _itemFields(item)
        current = self._openLoan(item["id"])
        if current is not None:
            if request.patronId and current["patron_barcode"] != request.patronId:
                return self._circRefusal(Reason.OUT_TO_OTHER, **common)
            return CirculationResult(
                ok=True, desensitize=True,
                dueDate=self._time(current["due_at"], "loans.due_at"),
                patronValid=True,
                screenMessages=["This item is already checked out to you."],
                **common,
            )
        last = self._row(
            "SELECT loans.*, patrons.barcode AS patron_barcode FROM loans"
            " JOIN patrons ON patrons.id = loans.patron_id"
            " WHERE loans.item_id = ? AND loans.cancelled = 0"
            " ORDER BY loans.returned_at DESC, loans.id DESC LIMIT 1",
            (item["id"],),
        )
        if last is None or (
            request.patronId and last["patron_barcode"] != request.patronId
        ):
            return self._circRefusal(Reason.NOT_ON_LOAN, **common)
        op.patron = last["patron_barcode"]
        self._execute(
            "UPDATE loans SET returned_at = NULL, checked_in_at = NULL,"
            " checkin_branch = NULL WHERE id = ?",
            (last["id"],),
        )
        self._execute(
            "UPDATE fees SET voided_at = ?, balance_cents = 0"
            " WHERE loan_id = ? AND fee_type = ? AND voided_at IS NULL"
            " AND created_at >= ?",
            (_ts(op.now), last["id"], FeeType.OVERDUE, last["checked_in_at"]),
        )
        for hold in self._holdQueue(item):
            if hold["trapped_item_id"] == item["id"] and (
                hold["trapped_at"] or ""
            ) >= (last["checked_in_at"] or ""):
                self._untrap(hold)
                op.details.append("hold %d back in the queue" % (hold["id"],))
        self._execute(
            "UPDATE items SET status = 'charged', destination = NULL WHERE id = ?",
            (item["id"],),
        )
        op.details.append("loan %d reopened" % (last["id"],))
        return CirculationResult(
            ok=True, desensitize=True,
            dueDate=self._time(last["due_at"], "loans.due_at"),
            patronValid=True, **common,
        )

    def renew(self, terminal, request):
        """
        Renew one loan (29), by item barcode or title.

        @type request: L{RenewRequest <sip2acs.ils.base.RenewRequest>}
        @rtype: L{CirculationResult}
        """
        result, transactionId = self._perform(
            "renew", terminal, request.patronId, request.itemId or request.titleId,
            self._renew, request,
        )
        if result.ok:
            result = attrs.evolve(result, transactionId=transactionId)
        return result

    def _renew(self, op, request):
        patron = self._patronRow(request.patronId)
        if patron is None:
            return self._circRefusal(Reason.UNKNOWN_PATRON, patronValid=False)
        pinValid = self._checkPin(patron, request.pin)
        if pinValid is False:
            return self._circRefusal(Reason.BAD_PIN, patronValid=True, pinValid=False)
        if request.itemId:
            item = self._itemRow(request.itemId)
            if item is None:
                return self._circRefusal(
                    Reason.UNKNOWN_ITEM, patronValid=True, pinValid=pinValid
                )
        else:
            items = self._itemsForTitle(request.titleId)
            if not items:
                return self._circRefusal(
                    Reason.UNKNOWN_ITEM, patronValid=True, pinValid=pinValid
                )
            mine = [
                row for row in items
                if (loan := self._openLoan(row["id"])) is not None
                and loan["patron_id"] == patron["id"]
            ]
            item = (mine or items)[0]
            op.item = item["barcode"]
        common = dict(_itemFields(item), patronValid=True, pinValid=pinValid)
        loan = self._openLoan(item["id"])
        if loan is None:
            return self._circRefusal(
                Reason.NOT_ON_LOAN, "This item is not checked out.", **common
            )
        if loan["patron_id"] != patron["id"]:
            if not request.thirdPartyAllowed:
                return self._circRefusal(Reason.NOT_ON_LOAN, **common)
            patron = self._row(
                "SELECT * FROM patrons WHERE id = ?", (loan["patron_id"],)
            )
            op.details.append("third party, for %s" % (patron["barcode"],))
        return self._renewLoan(
            op, patron, item, loan, request.noBlock, request.nbDueDate,
            request.feeAcknowledged, common,
        )

    def _renewLoan(self, op, patron, item, loan, noBlock, nbDueDate,
                   feeAcknowledged, common):
        """
        Renew C{loan} of C{patron}, or refuse.

        @rtype: L{CirculationResult}
        """
        rule = self._rule(patron["patron_class"], item["item_type"])
        if not noBlock:
            state = self._patronState(op, patron)
            if state.blocks:
                reason, message = state.blocks[0]
                return self._circRefusal(reason, message, renewal=True, **common)
            if loan["renewals"] >= rule.maxRenewals:
                reason, message = _refusal(
                    Reason.RENEWAL_LIMIT, limit=rule.maxRenewals
                )
                return self._circRefusal(reason, message, renewal=True, **common)
            for hold in self._holdQueue(item):
                if hold["patron_id"] != patron["id"] and hold["status"] == "waiting":
                    return self._circRefusal(
                        Reason.HOLDS_WAITING, renewal=True, **common
                    )
            if rule.rentalFeeCents and not feeAcknowledged:
                reason, message = _refusal(
                    Reason.FEE_NOT_ACKNOWLEDGED, fee=op.money(rule.rentalFeeCents)
                )
                return self._circRefusal(
                    reason, message, renewal=True,
                    feeType=FeeType.RENTAL,
                    feeAmount=fromCents(rule.rentalFeeCents),
                    currency=op.institution.currency,
                    **common,
                )
        due = None
        if noBlock and nbDueDate is not None:
            due = self._bounded(
                op, nbDueDate, self._time(loan["out_at"], "loans.out_at"),
                op.now + MAX_LOAN_PERIOD, "no-block due date",
            )
        if due is None:
            due = dueDate(op.now, rule.loanDays)
            oldDue = self._time(loan["due_at"], "loans.due_at")
            if oldDue is not None:
                due = max(oldDue, due)
        self._execute(
            "UPDATE loans SET due_at = ?, renewals = renewals + 1,"
            " last_renewed_at = ? WHERE id = ?",
            (_ts(due), _ts(op.now), loan["id"]),
        )
        op.details.append("renewal %d of %s" % (loan["renewals"] + 1, item["barcode"]))
        fee = self._chargeRental(op, patron, item, loan["id"], rule)
        extra = {}
        if fee:
            extra = dict(
                feeType=FeeType.RENTAL,
                feeAmount=fromCents(fee),
                currency=op.institution.currency,
            )
        return CirculationResult(
            ok=True, renewal=True, desensitize=True, dueDate=due, **common, **extra
        )

    def renewAll(self, terminal, patronId, pin=None, feeAcknowledged=False):
        """
        Renew every loan of a patron (65).

        @rtype: L{RenewAllResult}
        """
        return self._perform(
            "renewAll", terminal, patronId, None, self._renewAll, pin,
            feeAcknowledged,
        )[0]

    def _renewAll(self, op, pin, feeAcknowledged):
        patron = self._patronRow(op.patron)
        if patron is None:
            return RenewAllResult(
                ok=False, reason=Reason.UNKNOWN_PATRON,
                screenMessages=[MESSAGES[Reason.UNKNOWN_PATRON]],
            )
        if self._checkPin(patron, pin) is False:
            return RenewAllResult(
                ok=False, reason=Reason.BAD_PIN,
                screenMessages=[MESSAGES[Reason.BAD_PIN]],
            )
        state = self._patronState(op, patron)
        if state.blocks:
            reason, message = state.blocks[0]
            return RenewAllResult(
                ok=False, reason=reason,
                unrenewed=[loan["barcode"] for loan in state.loans],
                screenMessages=[message],
            )
        renewed, unrenewed = [], []
        for loan in state.loans:
            item = self._itemById(loan["item_id"])
            result = self._renewLoan(
                op, patron, item, loan, False, None, feeAcknowledged, {}
            )
            if result.ok:
                renewed.append(item["barcode"])
            else:
                unrenewed.append("%s %s" % (item["barcode"], result.reason))
        op.details.append("renewed %d, not renewed %d" % (len(renewed), len(unrenewed)))
        return RenewAllResult(
            ok=True,
            renewed=renewed,
            unrenewed=unrenewed,
            screenMessages=[
                "Renewed %d of %d items." % (len(renewed), len(state.loans))
            ],
        )

    def checkin(self, terminal, request):
        """
        Return an item (09), or cancel a checkout.

        @type request: L{CheckinRequest <sip2acs.ils.base.CheckinRequest>}
        @rtype: L{CheckinResult}
        """
        return self._perform(
            "checkin", terminal, None, request.itemId, self._checkin, request
        )[0]

    def _checkin(self, op, request):
        item = self._itemRow(request.itemId)
        if item is None:
            return CheckinResult(
                ok=False,
                reason=Reason.UNKNOWN_ITEM,
                alert=True,
                alertType=AlertType.OTHER,
                screenMessages=[MESSAGES[Reason.UNKNOWN_ITEM]],
            )
        here = self._thisBranch(op, request.currentLocation)
        common = dict(
            title=item["title"],
            permanentLocation=item["home_branch"] or "",
            magneticMedia=bool(item["effective_magnetic"]),
            mediaType=item["effective_media"],
            collectionCode=item["collection_code"],
            callNumber=item["call_number"],
            itemProperties=item["properties"],
        )
        loan = self._openLoan(item["id"])
        if request.cancel:
            op.details.append("cancel")
            return self._cancelCheckout(op, item, loan, common)
        messages = []
        patronId = None
        if loan is not None:
            patronId = op.patron = loan["patron_barcode"]
            returned = self._returnTime(op, request.returnDate, loan)
            if returned != op.now:
                op.details.append("returned %s" % (_ts(returned),))
            fine = self._closeLoan(op, item, loan, returned, here)
            if fine:
                messages.append("Overdue fine: %s." % (op.money(fine),))
        else:
            messages.append("This item was not checked out.")
        if item["status"] in ("lost", "missing", "claimed_returned"):
            op.details.append("was %s" % (item["status"],))
            messages.append("This item was marked %s and is now found."
                            % (item["status"].replace("_", " "),))
        routing = self._route(op, item, here)
        leaving = routing["destination"] not in (None, here)
        sortBin = self._sortBins.binFor(
            item, routing["alertType"], routing["destination"], leaving
        )
        return CheckinResult(
            ok=True,
            resensitize=True,
            alert=routing["alertType"] is not None,
            sortBin=sortBin,
            patronId=patronId,
            screenMessages=messages,
            **routing,
            **common,
        )

    def _route(self, op, item, here):
        """
        Where a returned item goes: a hold (trapped now or before), its home
        branch, or the shelf here. Updates the item and the hold.

        @return: C{alertType}, C{destination}, C{holdPatronId},
            C{holdPatronName} for L{CheckinResult}.
        """
        hold = self._trappedHold(item) or self._nextWaitingHold(op, item)
        if hold is not None:
            pickup = hold["pickup_branch"]
            if here is None or pickup == here:
                shelfExpires = dueDate(op.now, op.institution.holdShelfDays)
                self._execute(
                    "UPDATE holds SET trapped_item_id = ?,"
                    " trapped_at = coalesce(trapped_at, ?),"
                    " shelf_expires_at = CASE status WHEN 'ready'"
                    " THEN shelf_expires_at ELSE ? END, status = 'ready'"
                    " WHERE id = ?",
                    (item["id"], _ts(op.now), _ts(shelfExpires), hold["id"]),
                )
                status, alertType = "on_hold_shelf", AlertType.HOLD_HERE
            else:
                self._execute(
                    "UPDATE holds SET status = 'in_transit', trapped_item_id = ?,"
                    " trapped_at = coalesce(trapped_at, ?) WHERE id = ?",
                    (item["id"], _ts(op.now), hold["id"]),
                )
                status, alertType = "in_transit", AlertType.HOLD_OTHER_BRANCH
            self._execute(
                "UPDATE items SET status = ?, current_branch = ?, destination = ?"
                " WHERE id = ?",
                (status, here or item["current_branch"], pickup, item["id"]),
            )
            op.details.append(
                "hold %d for %s at %s" % (hold["id"], hold["patron_barcode"], pickup)
            )
            return dict(
                alertType=alertType,
                destination=pickup,
                holdPatronId=hold["patron_barcode"],
                holdPatronName=hold["patron_name"],
            )
        home = item["home_branch"]
        if here is not None and home != here:
            self._execute(
                "UPDATE items SET status = 'in_transit', current_branch = ?,"
                " destination = ? WHERE id = ?",
                (here, home, item["id"]),
            )
            op.details.append("transit to %s" % (home,))
            return dict(
                alertType=AlertType.TRANSIT, destination=home,
                holdPatronId=None, holdPatronName=None,
            )
        self._execute(
            "UPDATE items SET status = 'available', current_branch = ?,"
            " destination = NULL WHERE id = ?",
            (here or item["current_branch"], item["id"]),
        )
        return dict(
            alertType=None, destination=None, holdPatronId=None, holdPatronName=None
        )

    def _cancelCheckout(self, op, item, loan, common):
        """
        Undo a checkout that the SC could not complete: the loan is
        cancelled without a fine, its rental fee voided and the hold it
        filled restored.
        """
        if loan is None:
            return CheckinResult(
                ok=True, screenMessages=["This item was not checked out."], **common
            )
        op.patron = loan["patron_barcode"]
        self._execute(
            "UPDATE loans SET returned_at = out_at, checked_in_at = ?,"
            " cancelled = 1 WHERE id = ?",
            (_ts(op.now), loan["id"]),
        )
        self._execute(
            "UPDATE fees SET voided_at = ?, balance_cents = 0"
            " WHERE loan_id = ? AND fee_type = ? AND voided_at IS NULL",
            (_ts(op.now), loan["id"], FeeType.RENTAL),
        )
        hold = self._row(
            "SELECT * FROM holds WHERE filled_loan_id = ?", (loan["id"],)
        )
        status = "available"
        if hold is not None:
            self._execute(
                "UPDATE holds SET status = 'ready', filled_loan_id = NULL,"
                " closed_at = NULL WHERE id = ?",
                (hold["id"],),
            )
            status = "on_hold_shelf"
        self._execute(
            "UPDATE items SET status = ? WHERE id = ?", (status, item["id"])
        )
        op.details.append("loan %d cancelled" % (loan["id"],))
        return CheckinResult(ok=True, patronId=loan["patron_barcode"], **common)

    def hold(self, terminal, request):
        """
        Place, cancel or change a hold (15).

        @type request: L{HoldRequest <sip2acs.ils.base.HoldRequest>}
        @rtype: L{HoldResult}
        """
        return self._perform(
            "hold", terminal, request.patronId, request.itemId or request.titleId,
            self._hold, request,
        )[0]

    def _holdRefusal(self, reason, message=None):
        return HoldResult(
            ok=False, reason=reason, screenMessages=[message or MESSAGES[reason]]
        )

    def _hold(self, op, request):
        mode = {"+": "add", "-": "cancel", "*": "alter"}.get(request.mode, request.mode)
        op.details.append(mode)
        patron = self._patronRow(request.patronId)
        if patron is None:
            return self._holdRefusal(Reason.UNKNOWN_PATRON)
        if self._checkPin(patron, request.pin) is False:
            return self._holdRefusal(Reason.BAD_PIN)
        if mode not in ("add", "cancel", "alter"):
            return self._holdRefusal(Reason.UNSUPPORTED)
        if request.itemId:
            item = self._itemRow(request.itemId)
            items = [item] if item is not None else []
        else:
            item = None
            items = self._itemsForTitle(request.titleId)
        if not items:
            return self._holdRefusal(Reason.UNKNOWN_ITEM)
        titleKey = items[0]["title_key"]
        if mode == "add":
            return self._addHold(op, request, patron, item, items, titleKey)
        if item is not None:
            existing = self._row(
                "SELECT * FROM holds WHERE patron_id = ? AND status IN "
                + ACTIVE_HOLD + " AND (item_id = ? OR trapped_item_id = ?"
                " OR (item_id IS NULL AND title_key = ?)) ORDER BY id LIMIT 1",
                (patron["id"], item["id"], item["id"], titleKey),
            )
        else:
            existing = self._row(
                "SELECT * FROM holds WHERE patron_id = ? AND status IN "
                + ACTIVE_HOLD + " AND title_key = ? ORDER BY id LIMIT 1",
                (patron["id"], titleKey),
            )
        if existing is None:
            return self._holdRefusal(Reason.NO_SUCH_HOLD)
        if mode == "cancel":
            return self._cancelHold(op, existing)
        return self._alterHold(op, request, existing)

    def _holdExpiration(self, op, request):
        """
        The hold expiration asked for, in the institution's zone: after now
        and at most L{MAX_HOLD_PERIOD} ahead.

        @return: C{(expiration or None, refusal or None)}.
        """
        if request.expiration is None:
            return None, None
        expiration = self._local(request.expiration)
        if expiration is None or not (
            op.now < expiration <= op.now + MAX_HOLD_PERIOD
        ):
            return None, self._holdRefusal(Reason.BAD_DATE)
        return expiration, None

    def _addHold(self, op, request, patron, item, items, titleKey):
        expiration, refusal = self._holdExpiration(op, request)
        if refusal is not None:
            return refusal
        state = self._patronState(op, patron)
        if state.blocks:
            return self._holdRefusal(*state.blocks[0])
        active = self._row(
            "SELECT count(*) FROM holds WHERE patron_id = ? AND status IN "
            + ACTIVE_HOLD,
            (patron["id"],),
        )[0]
        if state.rule.maxHolds is not None and active >= state.rule.maxHolds:
            return self._holdRefusal(
                Reason.HOLD_NOT_ALLOWED,
                "You have reached your limit of %d holds." % (state.rule.maxHolds,),
            )
        circulating = [
            row for row in items
            if self._rule(patron["patron_class"], row["item_type"]).circulates
        ]
        if not circulating:
            return self._holdRefusal(
                Reason.HOLD_NOT_ALLOWED,
                "This item is for use in the library only and cannot be held.",
            )
        if item is not None and item["status"] in ("lost", "missing"):
            return self._holdRefusal(
                Reason.ITEM_LOST if item["status"] == "lost" else Reason.ITEM_MISSING
            )
        if self._row(
            "SELECT 1 FROM holds WHERE patron_id = ? AND title_key = ?"
            " AND status IN " + ACTIVE_HOLD,
            (patron["id"], titleKey),
        ):
            return self._holdRefusal(
                Reason.HOLD_NOT_ALLOWED, "You already have a hold on this title."
            )
        if any(loan["barcode"] in {row["barcode"] for row in items}
               for loan in state.loans):
            return self._holdRefusal(
                Reason.HOLD_NOT_ALLOWED, "You already have this item checked out."
            )
        pickup = request.pickupLocation or patron["home_branch"] or (
            op.institution.defaultBranch
        )
        if not self._isBranch(pickup):
            return self._holdRefusal(
                Reason.HOLD_NOT_ALLOWED,
                "%r is not a pickup location." % (pickup,) if pickup
                else "There is no pickup location.",
            )
        holdId = self._execute(
            "INSERT INTO holds (patron_id, item_id, title_key, title,"
            " pickup_branch, placed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (patron["id"], item["id"] if item is not None else None, titleKey,
             items[0]["title"], pickup, _ts(op.now), _ts(expiration)),
        ).lastrowid
        queue = self._holdQueue(item if item is not None else items[0])
        if item is None:
            queue = self._rows(
                "SELECT id FROM holds WHERE title_key = ? AND status IN "
                + ACTIVE_HOLD + " ORDER BY placed_at, id",
                (titleKey,),
            )
        position = [row["id"] for row in queue].index(holdId) + 1
        available = position == 1 and any(
            row["status"] == "available" for row in circulating
        )
        op.details.append("hold %d, position %d" % (holdId, position))
        return HoldResult(
            ok=True,
            available=available,
            expiration=expiration,
            queuePosition=position,
            pickupLocation=pickup,
            itemId=item["barcode"] if item is not None else None,
            title=items[0]["title"],
            screenMessages=[
                "Your hold was placed. You are number %d in the queue." % (position,)
            ],
        )

    def _cancelHold(self, op, hold):
        self._execute(
            "UPDATE holds SET status = 'cancelled', closed_at = ? WHERE id = ?",
            (_ts(op.now), hold["id"]),
        )
        if hold["status"] == "ready" and hold["trapped_item_id"] is not None:
            self._execute(
                "UPDATE items SET status = 'reshelving', destination = NULL"
                " WHERE id = ? AND status = 'on_hold_shelf'",
                (hold["trapped_item_id"],),
            )
        op.details.append("hold %d cancelled" % (hold["id"],))
        return HoldResult(
            ok=True,
            pickupLocation=hold["pickup_branch"],
            title=hold["title"],
            screenMessages=["Your hold was cancelled."],
        )

    def _alterHold(self, op, request, hold):
        pickup = request.pickupLocation or hold["pickup_branch"]
        if not self._isBranch(pickup):
            return self._holdRefusal(
                Reason.HOLD_NOT_ALLOWED, "%r is not a pickup location." % (pickup,)
            )
        expiration, refusal = self._holdExpiration(op, request)
        if refusal is not None:
            return refusal
        expires = (
            _ts(expiration) if expiration is not None else hold["expires_at"]
        )
        self._execute(
            "UPDATE holds SET pickup_branch = ?, expires_at = ? WHERE id = ?",
            (pickup, expires, hold["id"]),
        )
        op.details.append("hold %d now at %s" % (hold["id"], pickup))
        return HoldResult(
            ok=True,
            available=hold["status"] == "ready",
            expiration=self._time(expires, "holds.expires_at"),
            pickupLocation=pickup,
            title=hold["title"],
            screenMessages=["Your hold was changed."],
        )

    def feePaid(self, terminal, payment):
        """
        Record a payment (37): oldest fees first, or the one fee asked for.

        @type payment: L{Payment <sip2acs.ils.base.Payment>}
        @rtype: L{PaymentResult}
        """
        result, transactionId = self._perform(
            "feePaid", terminal, payment.patronId, None, self._feePaid, payment
        )
        if result.accepted:
            result = attrs.evolve(result, transactionId=transactionId)
        return result

    def _paymentRefusal(self, reason, message=None):
        return PaymentResult(
            accepted=False, reason=reason,
            screenMessages=[message or MESSAGES[reason]],
        )

    def _feePaid(self, op, payment):
        patron = self._patronRow(payment.patronId)
        if patron is None:
            return self._paymentRefusal(Reason.UNKNOWN_PATRON)
        if self._checkPin(patron, payment.pin) is False:
            return self._paymentRefusal(Reason.BAD_PIN)
        try:
            cents = toCents(payment.amount)
        except ValueError:
            cents = 0
        if cents <= 0:
            return self._paymentRefusal(Reason.BAD_AMOUNT)
        currency = op.institution.currency
        if payment.currency and payment.currency.strip() and (
            payment.currency.strip().upper() != currency
        ):
            return self._paymentRefusal(
                Reason.BAD_AMOUNT, "Payments are taken in %s only." % (currency,)
            )
        op.amountCents = cents
        query = (
            "SELECT * FROM fees WHERE patron_id = ? AND voided_at IS NULL"
            " AND balance_cents > 0"
        )
        params = (patron["id"],)
        if payment.feeId:
            query += " AND CAST(id AS TEXT) = ?"
            params += (str(payment.feeId).strip(),)
        fees = self._rows(query + " ORDER BY created_at, id", params)
        if payment.feeId and not fees:
            return self._paymentRefusal(Reason.UNKNOWN_FEE)
        owed = sum(fee["balance_cents"] for fee in fees)
        if cents > owed and not self.allowOverpayment:
            reason, message = _refusal(
                Reason.OVERPAYMENT, paid=op.money(cents), owed=op.money(owed)
            )
            return self._paymentRefusal(reason, message)
        paymentId = self._execute(
            "INSERT INTO payments (patron_id, amount_cents, fee_type, payment_type,"
            " currency, device_transaction_id, paid_at, terminal)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (patron["id"], cents, payment.feeType, payment.paymentType, currency,
             payment.transactionId, _ts(op.now),
             op.terminal.account if op.terminal else None),
        ).lastrowid
        left = cents
        for fee in fees:
            if left == 0:
                break
            part = min(left, fee["balance_cents"])
            self._execute(
                "UPDATE fees SET balance_cents = balance_cents - ? WHERE id = ?",
                (part, fee["id"]),
            )
            self._execute(
                "INSERT INTO payment_lines (payment_id, fee_id, amount_cents)"
                " VALUES (?, ?, ?)",
                (paymentId, fee["id"], part),
            )
            left -= part
        op.details.append("payment %d" % (paymentId,))
        if payment.transactionId:
            op.details.append("device transaction %s" % (payment.transactionId,))
        if left:
            self._execute(
                "INSERT INTO fees (patron_id, fee_type, description, amount_cents,"
                " balance_cents, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (patron["id"], FeeType.OTHER, "Credit from payment %d" % (paymentId,),
                 -left, -left, _ts(op.now)),
            )
            self._execute(
                "UPDATE payments SET credit_cents = ? WHERE id = ?", (left, paymentId)
            )
            op.details.append("credit %s" % (op.money(left),))
        balance = self._row(
            "SELECT coalesce(sum(balance_cents), 0) FROM fees"
            " WHERE patron_id = ? AND voided_at IS NULL",
            (patron["id"],),
        )[0]
        return PaymentResult(
            accepted=True,
            screenMessages=[
                "Thank you. Payment of %s received; balance %s."
                % (op.money(cents), op.money(balance))
            ],
        )

    def blockPatron(self, terminal, patronId, cardRetained, reason):
        """
        Block a card at the SC's request (01), keeping its note.

        @rtype: L{Patron}
        """
        return self._perform(
            "blockPatron", terminal, patronId, None, self._blockPatron,
            cardRetained, reason,
        )[0]

    def _blockPatron(self, op, cardRetained, reason):
        patron = self._patronRow(op.patron)
        if patron is None:
            return Patron(
                found=False, patronId=op.patron,
                screenMessages=[MESSAGES[Reason.UNKNOWN_PATRON]],
            )
        note = (reason or "").strip() or "Blocked by a self-check"
        if cardRetained:
            note += " (card retained)"
        self._execute(
            "UPDATE patrons SET blocked = 1, block_note = ?, blocked_at = ?"
            " WHERE id = ?",
            (note, _ts(op.now), patron["id"]),
        )
        op.details.append(note)
        return self._patronResult(op, self._patronRow(op.patron), None)

    def enablePatron(self, terminal, patronId, pin=None):
        """
        Lift a block placed by L{blockPatron} (25).

        @rtype: L{Patron}
        """
        return self._perform(
            "enablePatron", terminal, patronId, None, self._enablePatron, pin
        )[0]

    def _enablePatron(self, op, pin):
        patron = self._patronRow(op.patron)
        if patron is None:
            return Patron(
                found=False, patronId=op.patron,
                screenMessages=[MESSAGES[Reason.UNKNOWN_PATRON]],
            )
        pinValid = self._checkPin(patron, pin)
        if pinValid is not False:
            self._execute(
                "UPDATE patrons SET blocked = 0, block_note = NULL,"
                " blocked_at = NULL WHERE id = ?",
                (patron["id"],),
            )
            patron = self._patronRow(op.patron)
        return self._patronResult(op, patron, pinValid)

    def updateItemStatus(self, terminal, itemId, properties):
        """
        Store item properties sent by the SC (19).

        @rtype: L{ItemStatusResult}
        """
        return self._perform(
            "updateItemStatus", terminal, None, itemId, self._updateItemStatus,
            properties,
        )[0]

    def _updateItemStatus(self, op, properties):
        item = self._itemRow(op.item)
        if item is None:
            return ItemStatusResult(
                ok=False, reason=Reason.UNKNOWN_ITEM,
                screenMessages=[MESSAGES[Reason.UNKNOWN_ITEM]],
            )
        self._execute(
            "UPDATE items SET properties = ? WHERE id = ?", (properties, item["id"])
        )
        return ItemStatusResult(ok=True, title=item["title"], properties=properties)

    def endPatronSession(self, terminal, patronId, pin=None):
        """
        The patron is done (35); only logged.

        @rtype: L{SessionEnd}
        """
        return self._perform(
            "endPatronSession", terminal, patronId, None,
            lambda op: SessionEnd(ok=True, screenMessages=["Thank you!"]),
        )[0]
