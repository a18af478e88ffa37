# -*- test-case-name: tests.test_session,tests.test_ils_memory -*-
"""
The values exchanged with an L{IILS <sip2acs.ils.interfaces.IILS>}
adapter: the code tables (L{CirculationStatus}, L{AlertType}, L{FeeType},
L{Reason}), who is asking (L{Terminal}), what is reported (L{Patron},
L{Item}, L{ItemRef}), the requests (L{CheckoutRequest}, L{CheckinRequest},
L{RenewRequest}, L{HoldRequest}, L{Payment}) and their results, and the
list window a 63 asks for (L{Summary}).

These are circulation terms, not SIP2 fields. Where SIP2 has a code table
that is also the natural vocabulary of a circulation system (circulation
status, media type, alert type, fee type) the constants below carry the
SIP2 code as their value, so adapters need no second mapping.

Every result that becomes a response (L{Patron}, L{Item},
L{CirculationResult}, L{CheckinResult}, L{RenewAllResult}, L{HoldResult},
L{PaymentResult}, L{ItemStatusResult}, L{SessionEnd}) has C{extra}: SIP2
identified fields, as C{(id, raw text)} pairs, that the response carries
as they are, in order, after the fields the handler builds. It is for an
adapter that relays another SIP2 server (vendor extensions, fields
sip2acs does not model). An adapter puts there only fields the handler
does not set: the handler drops an C{extra} field whose id the response
already carries (see L{sip2acs.acs.handlers.common.withExtra}). An extra
field whose id is one of the response's own fields, left empty by the
handler, goes where the codec puts that field; the others follow the
handler's fields. A 24, 26 or 64 that withholds a patron's personal data
(a wrong PIN) carries none of the patron's C{extra}, which may be
personal.

Every time in these values is aware, in the institution's zone (see
L{sip2acs.ils.zones}).
"""

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "toTuple",
    "toFlags",
    "CirculationStatus",
    "AlertType",
    "FeeType",
    "Reason",
    "Terminal",
    "ItemRef",
    "Patron",
    "Item",
    "CheckoutRequest",
    "CheckinRequest",
    "RenewRequest",
    "CirculationResult",
    "CheckinResult",
    "RenewAllResult",
    "HoldRequest",
    "HoldResult",
    "Payment",
    "PaymentResult",
    "ItemStatusResult",
    "SessionEnd",
    "Summary",
    "toCounts",
    "toFields",
    "FrozenMap",
    "toMap",
]


def toTuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """
    The converter of a result's sequence fields: lists given by adapters
    are stored as tuples, so results stay immutable and comparable.
    """
    return tuple(value)


def toFields(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """
    The converter of a result's L{extra <Patron.extra>} fields: C{(id,
    text)} pairs, given in any iterable, stored as a tuple of 2-tuples.
    """
    return tuple((fid, text) for fid, text in value)


def toCounts(value: Iterable[int | None] | None) -> tuple[int | None, ...] | None:
    """
    The converter of L{Patron.itemCounts}: a tuple, or L{None}.
    """
    return None if value is None else tuple(value)


class FrozenMap(Mapping[str, str]):
    """
    An immutable, hashable mapping of text to text, in the order given: a
    patron's L{attributes <Patron.attributes>}, an item's L{fields
    <Item.fields>}. Equal to any mapping with the same pairs.
    """

    __slots__ = ("_pairs", "_index")

    def __init__(self, pairs: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        index: dict[str, str] = {}
        for key, value in items:
            index[str(key)] = str(value)
        self._index = index
        self._pairs = tuple(index.items())

    def __getitem__(self, key: str) -> str:
        return self._index[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._pairs)

    def __hash__(self) -> int:
        return hash(frozenset(self._pairs))

    def __repr__(self) -> str:
        return "FrozenMap(%r)" % (self._index,)


def toMap(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> FrozenMap:
    """
    The converter of L{Patron.attributes} and L{Item.fields}: a mapping or
    C{(key, value)} pairs (or L{None}, for none), stored as a L{FrozenMap}.
    """
    if isinstance(value, FrozenMap):
        return value
    return FrozenMap(() if value is None else value)


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
    HOLD_WAITING = "hold-waiting"
    TOO_MANY_LOST = "too-many-lost"
    ITEM_TYPE_BLOCKED = "item-type-blocked"
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
    @ivar feeId: For fines, the fee's id (what a 37's C{CG} names).
    @ivar feeType: For fines, the fee type (one of L{FeeType}).
    @ivar date: For fines, when the fee was charged.
    """

    itemId: str
    title: str = ""
    amount: Decimal | None = None
    dueDate: datetime | None = None
    feeId: str | None = None
    feeType: str | None = None
    date: datetime | None = None


@attrs.frozen
class Summary:
    """
    The item list a 63 asks for: the C{Y} of its summary and the window
    C{BP}..C{BQ}. The 63 handler gives it to L{IILS.lookupPatron
    <sip2acs.ils.interfaces.IILS.lookupPatron>}, so that an adapter asking
    another system can ask for the same list.

    @ivar position: The index (0 to 5) of the C{Y} in the summary: hold
        items, overdue items, charged items, fine items, recall items,
        unavailable holds (the order of L{sip2acs.sip.spec.SUMMARY_FIELDS}).
    @ivar start: The first item wanted (C{BP}, 1-based), as sent, or
        L{None}.
    @ivar end: The last item wanted (C{BQ}, inclusive), as sent, or
        L{None}.
    """

    position: int
    start: int | None = None
    end: int | None = None


@attrs.frozen
class Patron:
    """
    A patron as the ACS reports it (23, 63, 01, 25).

    @ivar flags: The names (from L{sip2acs.sip.spec.PATRON_STATUS_FLAGS}) of the
        patron status conditions that are true; an empty set means a patron
        in good standing.
    @ivar pinValid: Whether the PIN given matched; L{None} when no PIN was
        given.
    @ivar hasPin: Whether the patron has a PIN at all (L{None}: the
        adapter cannot say). An account with C{empty-pin = "accepted"}
        accepts an empty PIN only from a patron who has none.
    @ivar holdItems: Holds ready or waiting (C{AS}).
    @ivar unavailableHoldItems: Holds not yet available (C{CD}).
    @ivar itemCounts: The six counts of a 64 (holds, overdue, charged,
        fines, recalls, unavailable holds; L{None} for a count not known,
        sent as four blanks), when the adapter knows them better than the
        lengths of the lists: then the list a L{Summary} asked for is
        already the window it wanted, and is sent as it is. L{None}: the
        counts are the lengths of the lists, and the handler cuts the
        window itself.
    @ivar patronClass: The patron class as shown: its name where the
        system has one, else its code.
    @ivar patronClassCode: The patron class's code, where the system
        tells it apart from the name (L{None}: only L{patronClass} is
        known).
    @ivar internetPrivileges: The patron's internet access profile
        (Evergreen's C{PI}), or L{None}.
    @ivar attributes: The patron's extra attributes, code to value (Koha's
        patron attributes), for templates and extra fields.
    @ivar extra: Identified fields the answer carries as they are (see
        the module's docstring).
    """

    found: bool
    patronId: str
    name: str = ""
    pinValid: bool | None = None
    hasPin: bool | None = None
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
    patronClassCode: str | None = None
    internetPrivileges: str | None = None
    attributes: FrozenMap = attrs.field(default=FrozenMap(), converter=toMap)
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)
    itemCounts: tuple[int | None, ...] | None = attrs.field(
        default=None, converter=toCounts
    )
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


@attrs.frozen
class Item:
    """
    An item as the ACS reports it (17).

    @ivar fields: The item's extra fields, code to value, for templates
        and extra fields.
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
    fields: FrozenMap = attrs.field(default=FrozenMap(), converter=toMap)
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


@attrs.frozen
class CheckoutRequest:
    """
    A checkout (11). C{noBlock} marks a loan the SC made while the ACS was
    off line, to be accepted with C{nbDueDate}; C{cancel} undoes a checkin.

    The account's circulation policy comes with the request; a no-block
    checkout, a renewal on checkout and a cancel are never refused for it:

    @ivar lostItemsLimit: Refuse (L{Reason.TOO_MANY_LOST}) a patron who
        has this many or more loans of items marked lost; L{None}: no
        such limit.
    @ivar refuseIfOverdue: Refuse (L{Reason.TOO_MANY_OVERDUE}) a patron
        with any overdue loan.
    @ivar blockedItemTypes: Item types (the system's item type codes) not
        lent here (L{Reason.ITEM_TYPE_BLOCKED}).
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
    lostItemsLimit: int | None = None
    refuseIfOverdue: bool = False
    blockedItemTypes: tuple[str, ...] = attrs.field(default=(), converter=toTuple)


@attrs.frozen
class CheckinRequest:
    """
    A checkin (09). C{returnDate} back-dates the return; C{cancel} undoes a
    checkout.

    @ivar refuseIfHeld: Refuse the checkin of an item a hold waits for
        (one the checkin would trap, or has trapped): the result is
        C{ok} false with L{Reason.HOLD_WAITING}, C{resensitize} false (the
        item is still out), the alert and its type (L{AlertType.HOLD_HERE},
        or L{AlertType.HOLD_OTHER_BRANCH} for a pickup elsewhere) and the
        hold's patron, and nothing changes.
    @ivar trapHolds: A returned item a waiting hold wants is trapped for
        it (put on the hold shelf, or in transit to the pickup branch).
        False: the item is returned as if no hold wanted it (staff trap
        it later), the hold stays in the queue, and the result still
        reports the hold (its alert type, pickup branch as destination,
        and patron). A hold that had trapped the item before is kept.
    """

    itemId: str
    currentLocation: str | None = None
    returnDate: datetime | None = None
    noBlock: bool = False
    cancel: bool = False
    itemProperties: str | None = None
    transactionDate: datetime | None = None
    refuseIfHeld: bool = False
    trapHolds: bool = True


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
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


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
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


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
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


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
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


@attrs.frozen
class Payment:
    """
    A payment taken by the SC (37).

    @ivar amount: The amount paid, exact.
    @ivar feeId: Which fee (C{CG}), or L{None} to pay the oldest first.
    @ivar transactionId: The payment device's id (C{BK}).
    @ivar overpayment: What to do with a payment over what is owed:
        C{"refused"} (L{Reason.OVERPAYMENT}), C{"credit"} (accepted, the
        rest kept as the patron's credit), or L{None}: the adapter's own
        setting.
    @ivar writeoff: The amount is written off (forgiven by the library),
        not paid; it settles the fees the same way, is recorded as a
        write-off, and is never more than is owed (L{Reason.OVERPAYMENT}).
    @ivar register: The cash register the payment is recorded against,
        or L{None}.
    """

    patronId: str
    amount: Decimal
    pin: str | None = None
    currency: str | None = None
    feeType: str = FeeType.OTHER
    paymentType: str = "00"
    feeId: str | None = None
    transactionId: str | None = None
    overpayment: str | None = None
    writeoff: bool = False
    register: str | None = None


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
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


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
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)


@attrs.frozen
class SessionEnd:
    """
    The outcome of an end patron session (36).
    """

    ok: bool = True
    screenMessages: tuple = attrs.field(default=(), converter=toTuple)
    printLines: tuple = attrs.field(default=(), converter=toTuple)
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=toFields)
