# -*- test-case-name: tests.test_ils_memory,tests.test_session -*-
"""
An in-memory circulation system: the test double of sip2acs's own tests,
an example for people writing adapters (also importable as
L{sip2acs.testing}), and the second system the adapter contract of
L{sip2acs.ils.testing} runs against.

L{MemoryILS} keeps patrons (L{MemoryPatron}), items (L{MemoryItem}), loans
(on the items), holds (L{MemoryHold}) and fees (L{MemoryFee}) in
dictionaries and answers synchronously (already-fired Deferreds). Its
policy is deliberately simple (L{MemoryRules}): one loan period
(L{MemoryILS.loanDays}), limits by patron class, item types that do not
circulate or cost a rental fee, an optional flat fine per overdue day, one
hold queue per item or title. Checkin routes items between the
C{branches} it is given: to a hold's pickup branch, else home.

Built with patrons and items only, as the session tests build it, it is
the small double it always was: it advertises only patron status and
information, item information, checkout, checkin, renewal and end of
session (C{operations}), so tests can see both a working and an
unsupported operation. Pass C{operations=OPERATIONS} (as
L{MemoryILS.ALL_OPERATIONS}) for the full system. Subclasses may override
any operation; L{calls} records the operations called, in order.
"""

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo

from twisted.internet.defer import Deferred, succeed

from sip2acs.ils.base import ILSBase
from sip2acs.ils.interfaces import OPERATIONS
from sip2acs.ils.memory.requests import MemoryRequests
from sip2acs.ils.memory.state import (
    MemoryFee,
    MemoryHold,
    MemoryItem,
    MemoryLimits,
    MemoryPatron,
    MemoryRules,
    refused,
)
from sip2acs.ils.values import (
    AlertType,
    CheckinRequest,
    CheckinResult,
    CheckoutRequest,
    Item,
    ItemStatusResult,
    Patron,
    Payment,
    Reason,
    RenewRequest,
    SessionEnd,
    Summary,
    Terminal,
)

__all__ = [
    "MemoryILS",
    "MemoryPatron",
    "MemoryItem",
    "MemoryHold",
    "MemoryFee",
    "MemoryRules",
    "MemoryLimits",
]


class MemoryILS(MemoryRequests, ILSBase):
    """
    An in-memory adapter. Not durable; for tests and examples only.

    @ivar patrons: The patrons by barcode.
    @ivar items: The items by barcode; an item's C{borrower} and
        C{dueDate} are its loan.
    @ivar holds: The active holds, oldest first.
    @ivar fees: The unpaid fees, oldest first.
    @ivar calls: The operations called, in order, for tests to inspect.
    @ivar payments: The L{Payment}s accepted (and write-offs), in order,
        for tests to inspect.
    @cvar loanDays: The loan period: a loan made now is due at 23:59 this
        many days later; a renewal adds as many days to the due date.
    """

    name = "memory"
    operations = frozenset(
        {
            "patronStatus",
            "patronInformation",
            "itemInformation",
            "checkout",
            "checkin",
            "renew",
            "endPatronSession",
        }
    )
    ALL_OPERATIONS = frozenset(OPERATIONS)
    loanDays = 14

    def __init__(
        self,
        patrons: Iterable[MemoryPatron] = (),
        items: Iterable[MemoryItem] = (),
        now: Callable[[], datetime] = datetime.now,
        *,
        holds: Iterable[MemoryHold] = (),
        fees: Iterable[MemoryFee] = (),
        rules: MemoryRules | None = None,
        branches: Iterable[str] = (),
        defaultBranch: str | None = None,
        zone: tzinfo | None = None,
        operations: Iterable[str] | None = None,
        loanDays: int | None = None,
    ) -> None:
        self.patrons = {p.patronId: p for p in patrons}
        self.items = {i.itemId: i for i in items}
        self.holds = list(holds)
        self.fees = list(fees)
        self.rules = rules if rules is not None else MemoryRules()
        self.branches = frozenset(branches)
        self.defaultBranch = defaultBranch
        self.zone = zone
        self.now = now
        self.calls: list = []
        if operations is not None:
            self.operations = frozenset(operations)
        if loanDays is not None:
            self.loanDays = loanDays
        self.payments: list[Payment] = []
        self._loans: dict[str, set[str]] = {}
        self._returns: dict[str, tuple] = {}
        self._transactions = 0
        for item in self.items.values():
            if item.borrower is not None:
                self._loans.setdefault(item.borrower, set()).add(item.itemId)

    # IILS

    def lookupPatron(self, terminal: Terminal, patronId: str,
                     pin: str | None = None, summary: Summary | None = None) -> Deferred:
        self.calls.append(("lookupPatron", patronId))
        patron = self.patrons.get(patronId)
        if patron is None:
            return succeed(
                Patron(found=False, patronId=patronId, screenMessages=("Unknown patron.",))
            )
        return succeed(self.patronView(patron, pin))

    def lookupItem(self, terminal: Terminal, itemId: str) -> Deferred:
        self.calls.append(("lookupItem", itemId))
        item = self.items.get(itemId)
        if item is None:
            return succeed(Item(found=False, itemId=itemId))
        return succeed(self.itemView(item))

    def checkout(self, terminal: Terminal, request: CheckoutRequest) -> Deferred:
        self.calls.append(("checkout", request.patronId, request.itemId))
        patron = self.patrons.get(request.patronId)
        item = self.items.get(request.itemId)
        if patron is None:
            return self._refuse(Reason.UNKNOWN_PATRON, "Unknown patron.", patronValid=False)
        if request.pin is not None and not self._pinValid(patron, request.pin):
            return self._refuse(Reason.BAD_PIN, "Wrong PIN.", patronValid=True, pinValid=False)
        if item is None:
            return self._refuse(Reason.UNKNOWN_ITEM, "Unknown item.", patronValid=True)
        if request.cancel:
            return self._cancelCheckin(patron, item, request.pin)
        renewal = item.borrower == patron.patronId
        if request.noBlock:
            due = request.nbDueDate
            self._lend(patron, item, self._dueAfter(self.loanDays) if due is None
                       else self._inZone(due))
            return self._lent(patron, item, request.pin, renewal=renewal)
        refusal = self._blockRefusal(patron, patronValid=True)
        if refusal is not None:
            return succeed(refusal)
        if not renewal:
            policy = self._policyRefusal(patron, item, request)
            if policy is not None:
                return policy
        problem = self._itemProblem(patron, item, renewal, request)
        if problem is not None:
            return problem
        if renewal:
            return self._renewLoan(patron, item, request.pin, fromNow=True)
        rental = self.rules.rentalFees.get(item.itemType)
        if rental and not request.feeAcknowledged:
            return self._refuse(
                Reason.FEE_NOT_ACKNOWLEDGED, "This item costs %s to borrow." % (rental,),
                title=item.title, patronValid=True, feeType="06", feeAmount=rental,
                currency=self.rules.currency,
            )
        if rental:
            self.fees.append(MemoryFee(patron.patronId, item.itemId, "06", rental,
                                       "Rental: " + item.title, self.now()))
        self._lend(patron, item, self._dueAfter(self.loanDays))
        return self._lent(patron, item, request.pin)

    def _policyRefusal(self, patron: MemoryPatron, item: MemoryItem,
                       request: CheckoutRequest) -> Deferred | None:
        """
        The refusal of a checkout by the account's policy sent with
        C{request} (lost items on loan, an overdue loan, a blocked item
        type), or L{None}.
        """
        title = dict(title=item.title, patronValid=True)
        limit = request.lostItemsLimit
        if limit is not None:
            lost = sum(1 for loan in self.loansOf(patron.patronId) if loan.status == "lost")
            if lost >= limit:
                return self._refuse(
                    Reason.TOO_MANY_LOST, "You have %d lost items; please see the desk."
                    % (lost,), **title
                )
        if request.refuseIfOverdue and self._overdue(patron.patronId):
            return self._refuse(
                Reason.TOO_MANY_OVERDUE, "Please return your overdue items first.", **title
            )
        if item.itemType in request.blockedItemTypes:
            return self._refuse(
                Reason.ITEM_TYPE_BLOCKED, "This kind of item cannot be checked out here.",
                **title
            )
        return None

    def _itemProblem(self, patron: MemoryPatron, item: MemoryItem, renewal: bool,
                     request: CheckoutRequest) -> Deferred | None:
        title = dict(title=item.title, patronValid=True)
        if item.itemType in self.rules.notCirculating:
            return self._refuse(Reason.NOT_CIRCULATING, "This item is for use in the library.",
                                **title)
        if item.status in ("lost", "missing"):
            reason = Reason.ITEM_LOST if item.status == "lost" else Reason.ITEM_MISSING
            return self._refuse(reason, "This item is %s; please see the desk." % (item.status,),
                                **title)
        if item.borrower is not None and not renewal:
            return self._refuse(
                Reason.OUT_TO_OTHER, "This item is checked out to someone else.", **title
            )
        if renewal and not request.scRenewalPolicy:
            return self._refuse(
                Reason.RENEWAL_NOT_ALLOWED, "You already have this item.",
                renewal=True, **title,
            )
        trapped = self.trappedHold(item)
        if trapped is not None and trapped.patronId != patron.patronId:
            return self._refuse(
                Reason.ON_HOLD_FOR_OTHER, "This item is on hold for someone else.", **title
            )
        limit = self.limits(patron).loans
        if not renewal and limit is not None and len(self._loans.get(patron.patronId, ())) >= limit:
            return self._refuse(Reason.LOAN_LIMIT, "You have as many items as you may borrow.",
                                **title)
        return None

    def _cancelCheckin(self, patron: MemoryPatron, item: MemoryItem,
                       pin: str | None) -> Deferred:
        patronId, due = self._returns.pop(item.itemId, (patron.patronId, None))
        if patronId != patron.patronId or due is None:
            return self._refuse(Reason.NOT_ON_LOAN, "This item was not returned by you.",
                                title=item.title, patronValid=True)
        self._lend(patron, item, due)
        return self._lent(patron, item, pin)

    def checkin(self, terminal: Terminal, request: CheckinRequest) -> Deferred:
        self.calls.append(("checkin", request.itemId))
        item = self.items.get(request.itemId)
        if item is None:
            return succeed(
                CheckinResult(
                    ok=False, reason=Reason.UNKNOWN_ITEM, alert=True, alertType="99",
                    screenMessages=("Unknown item.",),
                )
            )
        if request.refuseIfHeld and not request.cancel:
            hold = self.holdFor(item)
            if hold is not None:
                return succeed(self._heldRefusal(terminal, request, item, hold))
        borrower, item.borrower = item.borrower, None
        if borrower is not None:
            self._returns[item.itemId] = (borrower, item.dueDate)
            self._loans.get(borrower, set()).discard(item.itemId)
            if not request.cancel:
                self.chargeFine(item, borrower, request.returnDate)
        item.dueDate = None
        messages = [] if borrower else ["This item was not checked out."]
        if item.status in ("lost", "missing"):
            messages.append("This item was marked %s and is found again." % (item.status,))
            item.status = "available"
        routing = {} if request.cancel else self.route(
            item, self._here(terminal, request), trap=request.trapHolds
        )
        return succeed(
            CheckinResult(
                ok=True,
                magneticMedia=item.magnetic,
                title=item.title,
                permanentLocation=item.location,
                patronId=borrower,
                mediaType=item.mediaType,
                screenMessages=tuple(messages),
                **routing,
            )
        )

    def _heldRefusal(self, terminal: Terminal, request: CheckinRequest,
                     item: MemoryItem, hold: MemoryHold) -> CheckinResult:
        here = self._here(terminal, request)
        pickup = hold.pickup or here
        return CheckinResult(
            ok=False,
            reason=Reason.HOLD_WAITING,
            resensitize=False,
            magneticMedia=item.magnetic,
            alert=True,
            alertType=(
                AlertType.HOLD_HERE if here is None or pickup == here
                else AlertType.HOLD_OTHER_BRANCH
            ),
            title=item.title,
            permanentLocation=item.location,
            mediaType=item.mediaType,
            destination=pickup,
            holdPatronId=hold.patronId,
            holdPatronName=self.patrons[hold.patronId].name,
            screenMessages=("This item is on hold for a patron; please take it to the desk.",),
        )

    def _here(self, terminal: Terminal, request: CheckinRequest) -> str | None:
        for place in (request.currentLocation, terminal.location):
            if place in self.branches:
                return place
        return self.defaultBranch

    def renew(self, terminal: Terminal, request: RenewRequest) -> Deferred:
        self.calls.append(("renew", request.patronId, request.itemId))
        patron = self.patrons.get(request.patronId)
        if patron is None:
            return self._refuse(Reason.UNKNOWN_PATRON, "Unknown patron.", patronValid=False)
        if request.pin and not self._pinValid(patron, request.pin):
            return self._refuse(Reason.BAD_PIN, "Wrong PIN.", patronValid=True, pinValid=False)
        item = self.loanNamed(request.patronId, request.itemId, request.titleId)
        if item is None:
            return self._refuse(Reason.UNKNOWN_ITEM, "Unknown item.", patronValid=True)
        if not request.noBlock:
            refusal = self._blockRefusal(patron, patronValid=True)
            if refusal is not None:
                return succeed(refusal)
        if item.borrower is None or (
            item.borrower != patron.patronId and not request.thirdPartyAllowed
        ):
            return self._refuse(Reason.NOT_ON_LOAN, "You do not have this item.")
        return self._renewLoan(self.patrons[item.borrower], item, request.pin)

    def updateItemStatus(self, terminal: Terminal, itemId: str,
                         properties: str) -> Deferred:
        self.calls.append(("updateItemStatus", itemId, properties))
        item = self.items.get(itemId)
        if item is None:
            return succeed(refused(ItemStatusResult, Reason.UNKNOWN_ITEM, "Unknown item."))
        item.properties = properties
        return succeed(ItemStatusResult(ok=True, title=item.title, properties=properties))

    def endPatronSession(self, terminal: Terminal, patronId: str,
                         pin: str | None = None) -> Deferred:
        self.calls.append(("endPatronSession", patronId))
        return succeed(SessionEnd(ok=True, screenMessages=("Thank you!",)))

