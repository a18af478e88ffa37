# -*- test-case-name: tests.test_ils_memory,tests.test_session -*-
"""
The records of the in-memory circulation system of L{sip2acs.ils.memory},
its simple rules, and the questions it asks of them (is this patron
blocked, which holds wait for this item, where does a returned item go).

L{MemoryViews} is the part of L{MemoryILS <sip2acs.ils.memory.MemoryILS>}
that reads and routes; it works on the attributes C{MemoryILS} sets
(C{patrons}, C{items}, C{holds}, C{fees}, C{rules}, C{now}, C{_loans}).
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, TypeVar

import attrs
from twisted.internet.defer import Deferred, succeed

from sip2acs.ils.values import (
    AlertType,
    CirculationResult,
    CirculationStatus,
    FeeType,
    Item,
    ItemRef,
    Patron,
    Reason,
)
from sip2acs.ils.zones import inZone

_Result = TypeVar("_Result")

__all__ = [
    "MemoryPatron",
    "MemoryItem",
    "MemoryHold",
    "MemoryFee",
    "MemoryLimits",
    "MemoryRules",
    "MemoryViews",
    "DENIED",
    "refused",
]

DENIED = frozenset(
    {
        "chargePrivilegesDenied",
        "renewalPrivilegesDenied",
        "recallPrivilegesDenied",
        "holdPrivilegesDenied",
    }
)
"""
The patron status flags of a card that may not be used.
"""

_FLAGS = {
    "lost": "cardReportedLost",
    "fines": "excessiveOutstandingFines",
    "overdue": "tooManyItemsOverdue",
}

_REFUSALS = {
    "expired": (Reason.CARD_EXPIRED, "Your card has expired."),
    "lost": (Reason.CARD_LOST, "This card was reported lost."),
    "blocked": (Reason.CARD_BLOCKED, "Your card is blocked; please see the desk."),
    "fines": (Reason.EXCESSIVE_FINES, "You owe too much; please see the desk."),
    "overdue": (Reason.TOO_MANY_OVERDUE, "You have too many overdue items."),
}
"""
Why a patron may not borrow, renew or place holds: the refusal and the
message for each problem L{MemoryViews.problems} names.
"""


@attrs.define
class MemoryPatron:
    """
    A patron. C{pin} L{None}: no PIN, so any PIN given is wrong.
    C{attributes}: extra attributes, code to value.
    """

    patronId: str
    name: str
    pin: str | None = None
    patronClass: str | None = None
    homeBranch: str | None = None
    expires: date | None = None
    cardLost: bool = False
    blocked: bool = False
    blockNote: str | None = None
    language: str = "000"
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    birthDate: date | None = None
    internetPrivileges: str | None = None
    attributes: dict = attrs.field(factory=dict)


@attrs.define
class MemoryItem:
    """
    An item, and its loan: C{borrower} and C{dueDate} are set while it is
    out. C{location} is its home branch, C{status} one of C{available},
    C{lost}, C{missing}, C{in_transit} (to C{destination}) or
    C{on_hold_shelf}. C{fields}: extra fields, code to value.
    """

    itemId: str
    title: str
    borrower: str | None = None
    dueDate: datetime | None = None
    location: str = "MAIN"
    titleId: str | None = None
    itemType: str = "BOOK"
    status: str = "available"
    destination: str | None = None
    mediaType: str = "001"
    magnetic: bool = False
    callNumber: str | None = None
    collectionCode: str | None = None
    properties: str | None = None
    renewals: int = 0
    fields: dict = attrs.field(factory=dict)

    @property
    def titleKey(self) -> str:
        """
        What title-level holds and renewals by title match: the record id,
        else the title.
        """
        return self.titleId or self.title


@attrs.define
class MemoryHold:
    """
    A hold, on one copy (C{itemId}) or on a title (C{titleKey} only).
    C{status} is C{waiting}, C{in_transit} or C{ready} (on the hold shelf
    until C{shelfExpires}); C{trapped} is the item caught for it.
    """

    patronId: str
    itemId: str | None
    titleKey: str
    title: str
    pickup: str | None
    placed: datetime
    status: str = "waiting"
    trapped: str | None = None
    expiration: datetime | None = None
    shelfExpires: datetime | None = None


@attrs.define
class MemoryFee:
    """
    An unpaid fee; C{balance} is what is left of C{amount}. A credit (what
    a payment left over) is a fee of a negative amount.
    """

    patronId: str
    itemId: str | None
    feeType: str
    amount: Decimal
    description: str
    created: datetime
    balance: Decimal = attrs.field()
    feeId: str = ""

    @balance.default
    def _wholeAmount(self) -> Decimal:
        return self.amount


@attrs.frozen
class MemoryLimits:
    """
    What a patron class may have: loans, fees owed (more blocks the card),
    overdue items (more block it) and holds; L{None}: no limit.
    """

    loans: int | None = None
    fees: Decimal | None = None
    overdue: int | None = None
    holds: int | None = None


@attrs.frozen
class MemoryRules:
    """
    The policy of a L{MemoryILS <sip2acs.ils.memory.MemoryILS>}.

    @ivar limits: L{MemoryLimits} by patron class; C{"*"} for any other.
    @ivar maxRenewals: How often a loan may be renewed; L{None}: always.
    @ivar notCirculating: Item types for use in the library only.
    @ivar rentalFees: What borrowing an item of a type costs.
    @ivar finePerDay: Charged per day overdue at checkin, up to C{fineCap}.
    @ivar classNames: The name of each patron class code (a class not
        named is shown by its code).
    @ivar allowOverpayment: Whether a payment over what is owed is kept
        as a credit (when the payment does not say) instead of refused.
    """

    limits: dict = attrs.field(factory=dict)
    maxRenewals: int | None = None
    notCirculating: frozenset = frozenset()
    rentalFees: dict = attrs.field(factory=dict)
    finePerDay: Decimal = Decimal("0.00")
    fineCap: Decimal | None = None
    holdShelfDays: int = 7
    currency: str | None = None
    classNames: dict = attrs.field(factory=dict)
    allowOverpayment: bool = False


def refused(kind: type[_Result], reason: str, text: str, **fields: Any) -> _Result:
    """
    A refusal of result class C{kind} for C{reason}, with C{text} for the
    patron.
    """
    ok = "accepted" if kind.__name__ == "PaymentResult" else "ok"
    make: Callable[..., _Result] = kind
    return make(**{ok: False}, reason=reason, screenMessages=(text,), **fields)


class MemoryViews:
    """
    Reading and routing over the records of a memory adapter.
    """

    patrons: dict
    items: dict
    holds: list
    fees: list
    rules: MemoryRules
    _loans: dict

    calls: list
    payments: list
    zone: tzinfo | None
    loanDays: int
    now: Callable[[], datetime]
    _transactions: int

    def _pinValid(self, patron: MemoryPatron, pin: str | None) -> bool | None:
        if not pin:
            return None
        return patron.pin is not None and patron.pin == pin

    def limits(self, patron: MemoryPatron) -> MemoryLimits:
        """
        The limits of C{patron}'s class.
        """
        return self.rules.limits.get(
            patron.patronClass, self.rules.limits.get("*", MemoryLimits())
        )

    def loansOf(self, patronId: str) -> list:
        return [self.items[i] for i in sorted(self._loans.get(patronId, ()))]

    def feesOf(self, patronId: str) -> list:
        """
        The fees C{patronId} owes (not their credits), oldest first.
        """
        return [fee for fee in self.fees if fee.patronId == patronId and fee.balance > 0]

    def balanceOf(self, patronId: str) -> Decimal:
        """
        What C{patronId} owes, less their credits.
        """
        return sum((fee.balance for fee in self.fees if fee.patronId == patronId),
                   Decimal("0.00"))

    def _overdue(self, patronId: str) -> list:
        now = self.now()
        return [item for item in self.loansOf(patronId)
                if item.dueDate is not None and item.dueDate < now]

    def problems(self, patron: MemoryPatron) -> list:
        """
        Why C{patron} may not borrow, as keys of the refusal tables: an
        empty list for a patron in good standing.
        """
        limits = self.limits(patron)
        owed = self.balanceOf(patron.patronId)
        checks = [
            ("expired", patron.expires is not None and patron.expires < self.now().date()),
            ("lost", patron.cardLost),
            ("blocked", patron.blocked),
            ("fines", limits.fees is not None and owed > limits.fees),
            ("overdue", limits.overdue is not None
             and len(self._overdue(patron.patronId)) > limits.overdue),
        ]
        return [name for name, true in checks if true]

    def patronView(self, patron: MemoryPatron, pin: str | None = None) -> Patron:
        """
        C{patron} as a L{Patron} result, its PIN checked against C{pin}.
        """
        problems = self.problems(patron)
        flags = set(DENIED) if problems else set()
        flags.update(_FLAGS[name] for name in problems if name in _FLAGS)
        limits = self.limits(patron)
        loans = self.loansOf(patron.patronId)
        if limits.loans is not None and len(loans) >= limits.loans:
            flags.add("tooManyItemsCharged")
        status: frozenset = frozenset(flags)
        pinValid = self._pinValid(patron, pin)
        messages = [_REFUSALS[name][1] for name in problems]
        if pinValid is False:
            messages.append("Wrong PIN.")
        fees = self.feesOf(patron.patronId)
        holds = [hold for hold in self.holds if hold.patronId == patron.patronId]

        def loanRef(item: MemoryItem) -> ItemRef:
            return ItemRef(item.itemId, item.title, dueDate=item.dueDate)

        def holdRef(hold: MemoryHold) -> ItemRef:
            return ItemRef(hold.trapped or hold.itemId or "", hold.title)

        return Patron(
            found=True,
            patronId=patron.patronId,
            name=patron.name,
            pinValid=pinValid,
            hasPin=patron.pin is not None,
            flags=status,
            language=patron.language,
            holdItems=tuple(holdRef(hold) for hold in holds),
            unavailableHoldItems=tuple(holdRef(h) for h in holds if h.status != "ready"),
            overdueItems=tuple(loanRef(item) for item in self._overdue(patron.patronId)),
            chargedItems=tuple(loanRef(item) for item in loans),
            fineItems=tuple(
                ItemRef(fee.itemId or "", fee.description, amount=fee.balance,
                        feeId=fee.feeId or None, feeType=fee.feeType, date=fee.created)
                for fee in fees
            ),
            holdItemsLimit=limits.holds,
            overdueItemsLimit=limits.overdue,
            chargedItemsLimit=limits.loans,
            feeAmount=self.balanceOf(patron.patronId),
            feeLimit=limits.fees,
            currency=self.rules.currency,
            homeAddress=patron.address,
            email=patron.email,
            phone=patron.phone,
            birthDate=patron.birthDate,
            patronClass=(
                self.rules.classNames.get(patron.patronClass) or patron.patronClass
            ),
            patronClassCode=patron.patronClass,
            homeLibrary=patron.homeBranch,
            expires=patron.expires,
            internetPrivileges=patron.internetPrivileges,
            attributes=patron.attributes,
            screenMessages=tuple(messages),
        )

    def holdsOn(self, item: MemoryItem) -> list:
        """
        The active holds that C{item} can fill, oldest first: on the copy,
        or on its title.
        """
        return [
            hold for hold in self.holds
            if hold.itemId == item.itemId or hold.trapped == item.itemId
            or (hold.itemId is None and hold.trapped is None
                and hold.titleKey == item.titleKey)
        ]

    def trappedHold(self, item: MemoryItem) -> MemoryHold | None:
        """
        The hold C{item} was caught for (in transit or on the shelf), if any.
        """
        for hold in self.holdsOn(item):
            if hold.trapped == item.itemId:
                return hold
        return None

    def itemView(self, item: MemoryItem) -> Item:
        """
        C{item} as an L{Item} result.
        """
        status = {
            "lost": CirculationStatus.LOST,
            "missing": CirculationStatus.MISSING,
            "in_transit": CirculationStatus.IN_TRANSIT,
            "on_hold_shelf": CirculationStatus.ON_HOLD_SHELF,
        }.get(item.status, CirculationStatus.AVAILABLE)
        if item.borrower:
            status = CirculationStatus.CHARGED
        trapped = self.trappedHold(item)
        rental = self.rules.rentalFees.get(item.itemType)
        return Item(
            found=True,
            itemId=item.itemId,
            title=item.title,
            circulationStatus=status,
            feeType=FeeType.RENTAL if rental else FeeType.OTHER,
            feeAmount=rental or None,
            dueDate=item.dueDate,
            holdPickupDate=trapped.shelfExpires if trapped else None,
            holdQueueLength=len(self.holdsOn(item)) if self.holds else None,
            mediaType=item.mediaType,
            magneticMedia=item.magnetic,
            permanentLocation=item.location,
            currentLocation=item.location,
            destination=item.destination,
            callNumber=item.callNumber,
            collectionCode=item.collectionCode,
            properties=item.properties,
            holdPatronId=trapped.patronId if trapped else None,
            fields=item.fields,
        )

    def loanNamed(self, patronId: str, itemId: str | None,
                  titleId: str | None) -> MemoryItem | None:
        """
        The item a renewal names: by barcode, or by title among the
        patron's loans first.
        """
        if itemId:
            return self.items.get(itemId)
        candidates = self.loansOf(patronId) + list(self.items.values())
        for item in candidates:
            if titleId and titleId in (item.titleKey, item.title):
                return item
        return None

    def renewalRefusal(self, patron: MemoryPatron, item: MemoryItem) -> tuple | None:
        """
        Why C{item}'s loan may not be renewed, as C{(reason, text)}.
        """
        limit = self.rules.maxRenewals
        if limit is not None and item.renewals >= limit:
            return Reason.RENEWAL_LIMIT, "This item cannot be renewed again."
        if any(hold.patronId != patron.patronId for hold in self.holdsOn(item)):
            return Reason.HOLDS_WAITING, "Another patron is waiting for this item."
        return None

    def chargeFine(self, item: MemoryItem, patronId: str,
                   returned: datetime | None) -> None:
        """
        Charge C{patronId} the fine for returning C{item} at C{returned}
        (now when L{None}): C{finePerDay} per day past the due date.
        """
        returned = returned or self.now()
        if item.dueDate is None or not self.rules.finePerDay:
            return
        days = (returned.date() - item.dueDate.date()).days
        if days <= 0:
            return
        amount = self.rules.finePerDay * days
        if self.rules.fineCap is not None:
            amount = min(amount, self.rules.fineCap)
        self.fees.append(MemoryFee(patronId, item.itemId, FeeType.OVERDUE, amount,
                                   "Overdue: " + item.title, self.now()))

    def holdFor(self, item: MemoryItem) -> MemoryHold | None:
        """
        The hold a returned C{item} goes to: the one it was caught for,
        else the first waiting.
        """
        hold = self.trappedHold(item)
        if hold is None:
            waiting = [h for h in self.holdsOn(item) if h.status == "waiting"]
            hold = waiting[0] if waiting else None
        return hold

    def route(self, item: MemoryItem, here: str | None, trap: bool = True) -> dict:
        """
        Where a returned C{item} goes from branch C{here}: the hold it
        fills (on the shelf here, or in transit to the pickup branch), else
        home. Updates the item and the hold.

        @param trap: Whether a waiting hold traps the item; if not, the
            item goes home or to the shelf, and the answer names the hold
            (see L{CheckinRequest.trapHolds
            <sip2acs.ils.values.CheckinRequest.trapHolds>}).
        @return: The L{CheckinResult <sip2acs.ils.values.CheckinResult>}
            fields saying so.
        """
        hold = self.holdFor(item)
        if hold is not None and not trap and self.trappedHold(item) is None:
            pickup = hold.pickup or here
            patron = self.patrons[hold.patronId]
            self._routeHome(item, here)
            return dict(
                alert=True,
                alertType=(
                    AlertType.HOLD_HERE if here is None or pickup == here
                    else AlertType.HOLD_OTHER_BRANCH
                ),
                destination=pickup, holdPatronId=patron.patronId,
                holdPatronName=patron.name,
            )
        if hold is not None:
            hold.trapped = item.itemId
            pickup = hold.pickup or here
            patron = self.patrons[hold.patronId]
            if here is None or pickup == here:
                hold.status, item.status = "ready", "on_hold_shelf"
                hold.shelfExpires = self.now() + timedelta(days=self.rules.holdShelfDays)
                alertType = AlertType.HOLD_HERE
            else:
                hold.status, item.status = "in_transit", "in_transit"
                alertType = AlertType.HOLD_OTHER_BRANCH
            item.destination = pickup
            return dict(alert=True, alertType=alertType, destination=pickup,
                        holdPatronId=patron.patronId, holdPatronName=patron.name)
        return self._routeHome(item, here)

    def _routeHome(self, item: MemoryItem, here: str | None) -> dict:
        """
        Where a returned C{item} no hold takes goes: home from another
        branch, else the shelf. Updates the item.
        """
        if here is not None and item.location != here:
            item.status, item.destination = "in_transit", item.location
            return dict(alert=True, alertType=AlertType.TRANSIT,
                        destination=item.location)
        item.status, item.destination = "available", None
        return {}

    # Lending, shared by the operations

    def _transaction(self) -> str:
        self._transactions += 1
        return "MEM-%d" % (self._transactions,)

    def _dueAfter(self, days: int) -> datetime:
        return (self.now() + timedelta(days=days)).replace(
            hour=23, minute=59, second=0, microsecond=0
        )

    def _inZone(self, value: datetime) -> datetime:
        zone = self.zone or self.now().tzinfo
        return value if zone is None else inZone(value, zone) or value

    def blockReason(self, patron: MemoryPatron) -> tuple[str, str] | None:
        """
        Why C{patron} may not borrow, renew or place holds, as C{(reason,
        text)}, or L{None}.
        """
        for problem in self.problems(patron):
            return _REFUSALS[problem]
        return None

    def _blockRefusal(self, patron: MemoryPatron, **fields: Any) -> CirculationResult | None:
        block = self.blockReason(patron)
        return None if block is None else refused(CirculationResult, *block, **fields)

    def _lend(self, patron: MemoryPatron, item: MemoryItem, due: datetime) -> None:
        if item.borrower is not None and item.borrower != patron.patronId:
            self._loans.get(item.borrower, set()).discard(item.itemId)
        if item.borrower != patron.patronId:
            item.renewals = 0
        item.borrower, item.dueDate = patron.patronId, due
        item.status, item.destination = "available", None
        self._loans.setdefault(patron.patronId, set()).add(item.itemId)
        for hold in self.holdsOn(item):
            if hold.patronId == patron.patronId:
                self.holds.remove(hold)

    def _lentResult(self, patron: MemoryPatron, item: MemoryItem, pin: str | None, *,
              renewal: bool = False) -> CirculationResult:
        return CirculationResult(
            ok=True,
            renewal=renewal,
            magneticMedia=item.magnetic,
            desensitize=True,
            title=item.title,
            dueDate=item.dueDate,
            mediaType=item.mediaType,
            transactionId=self._transaction(),
            patronValid=True,
            pinValid=self._pinValid(patron, pin),
        )

    def _lent(self, patron: MemoryPatron, item: MemoryItem, pin: str | None, *,
              renewal: bool = False) -> Deferred:
        return succeed(self._lentResult(patron, item, pin, renewal=renewal))

    def _renewed(self, patron: MemoryPatron, item: MemoryItem, pin: str | None, *,
                 fromNow: bool = False) -> CirculationResult:
        refusal = self.renewalRefusal(patron, item)
        if refusal is not None:
            return refused(CirculationResult, *refusal, renewal=True, title=item.title,
                           patronValid=True)
        if fromNow or item.dueDate is None:
            item.dueDate = self._dueAfter(self.loanDays)
        else:
            item.dueDate = item.dueDate + timedelta(days=self.loanDays)
        item.renewals += 1
        return self._lentResult(patron, item, pin, renewal=True)

    def _renewLoan(self, patron: MemoryPatron, item: MemoryItem, pin: str | None, *,
                   fromNow: bool = False) -> Deferred:
        return succeed(self._renewed(patron, item, pin, fromNow=fromNow))

    def _refuse(self, reason: str, text: str, **kw: Any) -> Deferred:
        return succeed(refused(CirculationResult, reason, text, **kw))
