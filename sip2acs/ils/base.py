# -*- test-case-name: tests.test_session -*-
"""
Values exchanged with an L{IILS <sip2acs.ils.interfaces.IILS>} adapter, and a
base class that refuses every operation it does not implement.

These are circulation terms, not SIP2 fields. Where SIP2 has a code table
that is also the natural vocabulary of a circulation system (circulation
status, media type, alert type, fee type) the constants below carry the
SIP2 code as their value, so adapters need no second mapping.

Time
====

Every institution has a time zone: its C{timezone} setting (an IANA name
such as C{America/Chicago}), by default the host's local zone
(L{HOST_ZONE}, which follows the host's clock, daylight saving included).
One model holds everywhere:

  - Every L{datetime} crossing the adapter boundary, in a request (due
    dates, transaction and return dates, hold expirations) or in a result,
    is I{aware}, in the institution's zone. Adapters are built with that
    zone (L{sip2acs.acs.server.makeAdapter}) and compute with aware times only.
  - The session converts at the wire. A SIP2 date with a blank zone is the
    ACS's local time, that is the institution's zone: the zone is attached.
    A date with a zone letter (C{Z} for UTC) is converted to the
    institution's zone. Dates the session sends go out as the institution's
    local wall time with a blank zone (L{wallTime}).
  - The embedded SQLite system stores the institution's local wall time as
    text, C{YYYY-MM-DD HH:MM:SS} (see L{sip2acs.ils.sqlite.store.writeTime}
    and L{sip2acs.ils.sqlite.store.readTime}).

L{inZone} and L{wallTime} are the two conversions; L{zoneNamed} reads a
zone setting. A date is a calendar date (L{date}) and has no zone.
"""

import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from twisted.internet.defer import fail
from zope.interface import implementer

from sip2acs.ils.interfaces import IILS, SESSION_OPERATIONS

_EPOCH = datetime(1970, 1, 1)


class HostZone(tzinfo):
    """
    The host's local time zone as the C library sees it (C{TZ}, else
    C{/etc/localtime}), daylight saving included: each offset is asked of
    C{time.localtime} for the moment in question, so this zone always
    agrees with the host's clock. Outside the range the C library can
    convert, the standard offset is used.
    """

    def _stamp(self, dt):
        # The POSIX time of the wall time dt (honouring fold), or None.
        try:
            return dt.replace(tzinfo=None).timestamp()
        except (OverflowError, OSError, ValueError):
            return None

    def _local(self, dt):
        stamp = self._stamp(dt)
        if stamp is None:
            return None
        try:
            return time.localtime(stamp)
        except (OverflowError, OSError, ValueError):
            return None

    def utcoffset(self, dt):
        if dt is None:
            return None
        local = self._local(dt)
        return timedelta(
            seconds=local.tm_gmtoff if local is not None else -time.timezone
        )

    def dst(self, dt):
        if dt is None:
            return None
        local = self._local(dt)
        if local is None or local.tm_isdst <= 0:
            return timedelta(0)
        return timedelta(seconds=local.tm_gmtoff + time.timezone)

    def tzname(self, dt):
        local = self._local(dt) if dt is not None else None
        return local.tm_zone if local is not None else time.tzname[0]

    def fromutc(self, dt):
        if not isinstance(dt, datetime) or dt.tzinfo is not self:
            raise ValueError("fromutc: dt.tzinfo is not self")
        naive = dt.replace(tzinfo=None)
        try:
            local = datetime.fromtimestamp((naive - _EPOCH).total_seconds())
        except (OverflowError, OSError, ValueError):
            return (naive + timedelta(seconds=-time.timezone)).replace(tzinfo=self)
        return local.replace(tzinfo=self)

    def __eq__(self, other):
        return isinstance(other, HostZone)

    def __hash__(self):
        return hash(HostZone)

    def __repr__(self):
        return "HostZone()"

    def __str__(self):
        return "local"


HOST_ZONE = HostZone()
"""
The host's local zone: the default zone of an institution.
"""


def zoneNamed(name: str | None) -> tzinfo:
    """
    The time zone an institution's C{timezone} setting names.

    @param name: An IANA zone name such as C{"America/Chicago"}, or
        L{None} for the host's local zone.
    @raise ValueError: If the name is not a known zone.
    """
    if name is None:
        return HOST_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            "%r is not a known time zone (use an IANA name such as"
            " \"America/Chicago\")" % (name,)
        ) from None


def zoneName(zone: tzinfo) -> str:
    """
    The setting that names C{zone}: its IANA key, or C{"local"} for
    L{HOST_ZONE}.
    """
    return getattr(zone, "key", None) or str(zone)


def inZone(value: datetime | None, zone: tzinfo) -> datetime | None:
    """
    C{value} as an aware time in C{zone}: a naive value is taken as wall
    time there, an aware one converted.

    @return: The aware time, or L{None} for L{None} or a time that cannot
        be represented in C{zone} (at the very ends of the calendar).
    """
    if value is None:
        return None
    if value.utcoffset() is None:
        return value.replace(tzinfo=zone)
    try:
        return value.astimezone(zone)
    except (OverflowError, ValueError):
        return None


def wallTime(value: datetime | None, zone: tzinfo) -> datetime | None:
    """
    C{value} as a naive wall time in C{zone}: what the session sends as a
    SIP2 date with a blank zone. A naive value is returned as it is.

    @return: The naive time, or L{None} for L{None} or a time that cannot
        be represented in C{zone}.
    """
    value = inZone(value, zone)
    return None if value is None else value.replace(tzinfo=None)


def toTuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """
    The converter of a result's sequence fields: lists given by adapters
    are stored as tuples, so results stay immutable and comparable.
    """
    return tuple(value)


def toFlags(value: Iterable[str]) -> frozenset[str]:
    """
    The converter of a patron's L{flags <Patron.flags>}.
    """
    return frozenset(value)


class CirculationStatus:
    """
    Item circulation status (SIP2 spec 4.1).
    """

    OTHER = "01"
    ON_ORDER = "02"
    AVAILABLE = "03"
    CHARGED = "04"
    CHARGED_NOT_RECALLABLE = "05"
    IN_PROCESS = "06"
    RECALLED = "07"
    ON_HOLD_SHELF = "08"
    WAITING_RESHELVING = "09"
    IN_TRANSIT = "10"
    CLAIMED_RETURNED = "11"
    LOST = "12"
    MISSING = "13"


class AlertType:
    """
    Why a checkin raised the alert (3M extension C{CV}, spec 4.10).
    """

    UNKNOWN = "00"
    HOLD_HERE = "01"
    HOLD_OTHER_BRANCH = "02"
    HOLD_ILL = "03"
    TRANSIT = "04"
    OTHER = "99"


class FeeType:
    """
    Fee types (spec 4.3).
    """

    OTHER = "01"
    ADMINISTRATIVE = "02"
    DAMAGE = "03"
    OVERDUE = "04"
    PROCESSING = "05"
    RENTAL = "06"
    REPLACEMENT = "07"
    COMPUTER_ACCESS = "08"
    HOLD = "09"


class Reason:
    """
    Machine-readable refusal reasons. Every refusal carries one, besides
    the screen message meant for the patron, so that the session, the logs
    and the adapter contract tests can tell refusals apart.
    """

    UNKNOWN_PATRON = "unknown-patron"
    BAD_PIN = "bad-pin"
    CARD_EXPIRED = "card-expired"
    CARD_LOST = "card-lost"
    CARD_BLOCKED = "card-blocked"
    EXCESSIVE_FINES = "excessive-fines"
    TOO_MANY_OVERDUE = "too-many-overdue"
    LOAN_LIMIT = "loan-limit"
    UNKNOWN_ITEM = "unknown-item"
    NOT_CIRCULATING = "not-circulating"
    ITEM_LOST = "item-lost"
    ITEM_MISSING = "item-missing"
    OUT_TO_OTHER = "out-to-other-patron"
    ON_HOLD_FOR_OTHER = "on-hold-for-other-patron"
    RENEWAL_LIMIT = "renewal-limit"
    HOLDS_WAITING = "others-waiting"
    NOT_ON_LOAN = "not-on-loan"
    RENEWAL_NOT_ALLOWED = "renewal-not-allowed"
    FEE_NOT_ACKNOWLEDGED = "fee-not-acknowledged"
    OVERPAYMENT = "overpayment"
    BAD_AMOUNT = "bad-amount"
    UNKNOWN_FEE = "unknown-fee"
    NO_SUCH_HOLD = "no-such-hold"
    HOLD_NOT_ALLOWED = "hold-not-allowed"
    BAD_DATE = "bad-date"
    UNSUPPORTED = "unsupported"
    UNAVAILABLE = "system-unavailable"


@attrs.frozen
class Terminal:
    """
    Who is asking: the SC account and where it is.

    @ivar account: The SC's login id (C{CN} or the telnet login).
    @ivar institution: The institution id the account belongs to.
    @ivar location: The SC's location code (C{CP}), or L{None}.
    @ivar peer: The SC's network address, or L{None}.
    """

    account: str
    institution: str
    location: str | None = None
    peer: str | None = None


@attrs.frozen
class ItemRef:
    """
    An entry of a patron's item lists (holds, loans, fines...).

    @ivar itemId: The item barcode (may be empty for a title-level hold).
    @ivar title: The title.
    @ivar amount: For fines, the amount owed.
    @ivar dueDate: For loans, the due date.
    """

    itemId: str
    title: str = ""
    amount: Decimal | None = None
    dueDate: datetime | None = None


@attrs.frozen
class Patron:
    """
    A patron as the ACS reports it (23, 63, 01, 25).

    @ivar flags: The names (from L{sip2acs.sip.spec.PATRON_STATUS_FLAGS}) of the
        patron status conditions that are true; an empty set means a patron
        in good standing.
    @ivar pinValid: Whether the PIN given matched; L{None} when no PIN was
        given.
    @ivar holdItems: Holds ready or waiting (C{AS}).
    @ivar unavailableHoldItems: Holds not yet available (C{CD}).
    """

    found: bool
    patronId: str
    name: str = ""
    pinValid: bool | None = None
    flags: frozenset[str] = attrs.field(default=frozenset(), converter=toFlags)
    language: str = "000"
    holdItems: tuple = attrs.field(default=(), converter=toTuple)
    overdueItems: tuple = attrs.field(default=(), converter=toTuple)
    chargedItems: tuple = attrs.field(default=(), converter=toTuple)
    fineItems: tuple = attrs.field(default=(), converter=toTuple)
    recallItems: tuple = attrs.field(default=(), converter=toTuple)
    unavailableHoldItems: tuple = attrs.field(default=(), converter=toTuple)
    holdItemsLimit: int | None = None
    overdueItemsLimit: int | None = None
    chargedItemsLimit: int | None = None
    feeAmount: Decimal | None = None
    feeLimit: Decimal | None = None
    currency: str | None = None
    homeAddress: str | None = None
    email: str | None = None
    phone: str | None = None
    birthDate: date | None = None
    patronClass: str | None = None
    homeLibrary: str | None = None
    expires: date | None = None
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class Item:
    """
    An item as the ACS reports it (17).
    """

    found: bool
    itemId: str
    title: str = ""
    circulationStatus: str = CirculationStatus.OTHER
    securityMarker: str = "02"
    feeType: str = FeeType.OTHER
    feeAmount: Decimal | None = None
    currency: str | None = None
    dueDate: datetime | None = None
    recallDate: datetime | None = None
    holdPickupDate: datetime | None = None
    holdQueueLength: int | None = None
    owner: str | None = None
    mediaType: str | None = None
    magneticMedia: bool | None = None
    permanentLocation: str | None = None
    currentLocation: str | None = None
    destination: str | None = None
    callNumber: str | None = None
    collectionCode: str | None = None
    properties: str | None = None
    holdPatronId: str | None = None
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class CheckoutRequest:
    """
    A checkout (11). C{noBlock} marks a loan the SC made while the ACS was
    off line, to be accepted with C{nbDueDate}; C{cancel} undoes a checkin.
    """

    patronId: str
    itemId: str
    pin: str | None = None
    scRenewalPolicy: bool = False
    noBlock: bool = False
    nbDueDate: datetime | None = None
    feeAcknowledged: bool = False
    cancel: bool = False
    itemProperties: str | None = None
    transactionDate: datetime | None = None


@attrs.frozen
class CheckinRequest:
    """
    A checkin (09). C{returnDate} back-dates the return; C{cancel} undoes a
    checkout.
    """

    itemId: str
    currentLocation: str | None = None
    returnDate: datetime | None = None
    noBlock: bool = False
    cancel: bool = False
    itemProperties: str | None = None
    transactionDate: datetime | None = None


@attrs.frozen
class RenewRequest:
    """
    A renewal of one loan (29), by item barcode or title.
    """

    patronId: str
    itemId: str | None = None
    titleId: str | None = None
    pin: str | None = None
    thirdPartyAllowed: bool = False
    noBlock: bool = False
    nbDueDate: datetime | None = None
    feeAcknowledged: bool = False
    itemProperties: str | None = None


@attrs.frozen
class CirculationResult:
    """
    The outcome of a checkout or a renewal (12, 30).

    @ivar renewal: The item was already out to this patron and this was a
        renewal (C{renewal ok}).
    @ivar desensitize: Whether the SC should desensitize the item (N for
        in-library use).
    @ivar patronValid: Whether the patron exists (C{BL}); L{None} unknown.
    @ivar pinValid: Whether the PIN matched (C{CQ}); L{None} if unchecked.
    """

    ok: bool
    reason: str | None = None
    renewal: bool = False
    magneticMedia: bool | None = None
    desensitize: bool = False
    title: str = ""
    dueDate: datetime | None = None
    feeType: str | None = None
    feeAmount: Decimal | None = None
    currency: str | None = None
    securityInhibit: bool | None = None
    mediaType: str | None = None
    itemProperties: str | None = None
    transactionId: str | None = None
    patronValid: bool | None = None
    pinValid: bool | None = None
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class CheckinResult:
    """
    The outcome of a checkin (10), with what sorters and hold-slip printers
    need.

    @ivar alertType: One of L{AlertType}, with C{alert} true.
    @ivar destination: Where the item must go (hold pickup or home branch).
    @ivar patronId: The patron who had the item.
    """

    ok: bool
    reason: str | None = None
    resensitize: bool = True
    magneticMedia: bool | None = None
    alert: bool = False
    alertType: str | None = None
    title: str = ""
    permanentLocation: str = ""
    sortBin: str | None = None
    patronId: str | None = None
    mediaType: str | None = None
    itemProperties: str | None = None
    collectionCode: str | None = None
    callNumber: str | None = None
    destination: str | None = None
    holdPatronId: str | None = None
    holdPatronName: str | None = None
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class RenewAllResult:
    """
    The outcome of renewing every loan (66). C{unrenewed} entries may carry
    the reason after the barcode.
    """

    ok: bool
    reason: str | None = None
    renewed: tuple = attrs.field(default=(), converter=toTuple)
    unrenewed: tuple = attrs.field(default=(), converter=toTuple)
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class HoldRequest:
    """
    A hold request (15). C{mode} is C{"add"}, C{"cancel"} or C{"alter"}
    (SIP2 C{+}, C{-}, C{*}); the target is C{itemId} (copy-level) or
    C{titleId} (title-level).
    """

    mode: str
    patronId: str
    itemId: str | None = None
    titleId: str | None = None
    pin: str | None = None
    expiration: datetime | None = None
    pickupLocation: str | None = None
    holdType: str | None = None
    feeAcknowledged: bool = False


@attrs.frozen
class HoldResult:
    """
    The outcome of a hold request (16). C{available}: the item can be had
    now.
    """

    ok: bool
    reason: str | None = None
    available: bool = False
    expiration: datetime | None = None
    queuePosition: int | None = None
    pickupLocation: str | None = None
    itemId: str | None = None
    title: str | None = None
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class Payment:
    """
    A payment taken by the SC (37).

    @ivar amount: The amount paid, exact.
    @ivar feeId: Which fee (C{CG}), or L{None} to pay the oldest first.
    @ivar transactionId: The payment device's id (C{BK}).
    """

    patronId: str
    amount: Decimal
    pin: str | None = None
    currency: str | None = None
    feeType: str = FeeType.OTHER
    paymentType: str = "00"
    feeId: str | None = None
    transactionId: str | None = None


@attrs.frozen
class PaymentResult:
    """
    The outcome of a payment (38). C{transactionId} is the ACS's own
    record of it.
    """

    accepted: bool
    reason: str | None = None
    transactionId: str | None = None
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class ItemStatusResult:
    """
    The outcome of an item status update (20).
    """

    ok: bool
    reason: str | None = None
    title: str | None = None
    properties: str | None = None
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class SessionEnd:
    """
    The outcome of an end patron session (36).
    """

    ok: bool = True
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)


class UnsupportedOperation(NotImplementedError):
    """
    The adapter does not implement this operation.
    """


class ILSUnavailable(Exception):
    """
    The circulation system cannot serve requests now, for a reason the
    adapter knows and its message says in one sentence (the database is
    locked by another process, its disk is full, its file was deleted).
    The SC gets "not available"; the log gets that sentence, without a
    traceback, since there is no bug to find.
    """


@implementer(IILS)
class ILSBase:
    """
    Base class for adapters: every operation fails with
    L{UnsupportedOperation} until a subclass implements it, and
    L{supports} answers from the class attribute C{operations}.

    @cvar operations: The operation names (from
        L{sip2acs.ils.interfaces.OPERATIONS}) the subclass implements.
    """

    name = "ils"
    operations: frozenset[str] = frozenset()

    def supports(self, operation):
        return operation in SESSION_OPERATIONS or operation in self.operations

    def _unsupported(self, operation):
        return fail(UnsupportedOperation(operation))

    def lookupPatron(self, terminal, patronId, pin=None):
        return self._unsupported("patronInformation")

    def lookupItem(self, terminal, itemId):
        return self._unsupported("itemInformation")

    def checkout(self, terminal, request):
        return self._unsupported("checkout")

    def checkin(self, terminal, request):
        return self._unsupported("checkin")

    def renew(self, terminal, request):
        return self._unsupported("renew")

    def renewAll(self, terminal, patronId, pin=None, feeAcknowledged=False):
        return self._unsupported("renewAll")

    def hold(self, terminal, request):
        return self._unsupported("hold")

    def feePaid(self, terminal, payment):
        return self._unsupported("feePaid")

    def blockPatron(self, terminal, patronId, cardRetained, reason):
        return self._unsupported("blockPatron")

    def enablePatron(self, terminal, patronId, pin=None):
        return self._unsupported("patronEnable")

    def updateItemStatus(self, terminal, itemId, properties):
        return self._unsupported("itemStatusUpdate")

    def endPatronSession(self, terminal, patronId, pin=None):
        return self._unsupported("endPatronSession")
