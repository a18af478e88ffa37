# -*- test-case-name: tests.test_ils_memory -*-
"""
The patron's other requests to the in-memory circulation system of
L{sip2acs.ils.memory}: renew all, holds, fee payments, card blocks.

L{MemoryRequests} is that part of L{MemoryILS
<sip2acs.ils.memory.MemoryILS>}; it relies on the lending and reading
methods the rest of C{MemoryILS} has.
"""

from decimal import Decimal
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, succeed

from sip2acs.ils.memory.state import (
    MemoryFee,
    MemoryHold,
    MemoryItem,
    MemoryPatron,
    MemoryViews,
    refused,
)
from sip2acs.ils.values import (
    FeeType,
    HoldRequest,
    HoldResult,
    Patron,
    Payment,
    PaymentResult,
    Reason,
    RenewAllResult,
    Terminal,
)

__all__ = ["MemoryRequests"]

_Result = TypeVar("_Result")


class MemoryRequests(MemoryViews):
    """
    Renew all (65), hold (15), fee paid (37), block patron (01) and patron
    enable (25) for a memory adapter.
    """

    def _known(self, kind: type[_Result], patronId: str,
               pin: str | None) -> tuple[Any, _Result | None]:
        # The patron, or a refusal of result class kind for who they are.
        # (The patron is Any: it is a MemoryPatron exactly when there is no
        # refusal, which mypy cannot follow through the unpacking.)
        patron = self.patrons.get(patronId)
        if patron is None:
            return None, refused(kind, Reason.UNKNOWN_PATRON, "Unknown patron.")
        if pin and not self._pinValid(patron, pin):
            return None, refused(kind, Reason.BAD_PIN, "Wrong PIN.")
        return patron, None

    def renewAll(self, terminal: Terminal, patronId: str, pin: str | None = None,
                 feeAcknowledged: bool = False) -> Deferred:
        self.calls.append(("renewAll", patronId))
        patron, refusal = self._known(RenewAllResult, patronId, pin)
        if refusal is None:
            block = self.blockReason(patron)
            if block is not None:
                refusal = refused(RenewAllResult, *block)
        if refusal is not None:
            return succeed(refusal)
        renewed, unrenewed = [], []
        for item in self.loansOf(patronId):
            result = self._renewed(patron, item, pin)
            if result.ok:
                renewed.append(item.itemId)
            else:
                unrenewed.append("%s %s" % (item.itemId, result.reason))
        return succeed(RenewAllResult(ok=True, renewed=tuple(renewed),
                                     unrenewed=tuple(unrenewed)))

    def _holdTarget(self, request: HoldRequest) -> MemoryItem | None:
        if request.itemId:
            return self.items.get(request.itemId)
        matches = [item for item in self.items.values()
                   if request.titleId in (item.titleKey, item.title)]
        onShelf = [item for item in matches
                   if item.borrower is None and item.status == "available"]
        return (onShelf or matches or [None])[0]

    def _patronsHold(self, patronId: str, item: MemoryItem,
                     titleLevel: bool) -> MemoryHold | None:
        for hold in self.holds:
            if hold.patronId != patronId:
                continue
            if (hold.itemId == item.itemId and not titleLevel) or (
                hold.itemId is None and hold.titleKey == item.titleKey
            ) or hold.titleKey == item.title:
                return hold
        return None

    def hold(self, terminal: Terminal, request: HoldRequest) -> Deferred:
        self.calls.append(("hold", request.mode, request.patronId, request.itemId))
        if request.mode not in ("add", "cancel", "alter"):
            return succeed(refused(HoldResult, Reason.UNSUPPORTED,
                                   "That kind of hold request is not supported."))
        patron, refusal = self._known(HoldResult, request.patronId, request.pin)
        if refusal is not None:
            return succeed(refusal)
        item = self._holdTarget(request)
        if item is None:
            return succeed(refused(HoldResult, Reason.UNKNOWN_ITEM, "Unknown item."))
        if request.expiration is not None and request.expiration < self.now():
            return succeed(refused(HoldResult, Reason.BAD_DATE,
                                   "A hold cannot expire in the past."))
        titleLevel = not request.itemId
        existing = self._patronsHold(patron.patronId, item, titleLevel)
        if request.mode == "add":
            return succeed(self._placeHold(patron, item, request, existing))
        if existing is None:
            return succeed(refused(HoldResult, Reason.NO_SUCH_HOLD,
                                   "You have no hold on this item."))
        if request.mode == "cancel":
            self.holds.remove(existing)
            return succeed(HoldResult(ok=True, itemId=existing.itemId, title=existing.title,
                                      screenMessages=("Hold cancelled.",)))
        existing.pickup = request.pickupLocation or existing.pickup
        existing.expiration = request.expiration or existing.expiration
        return succeed(HoldResult(
            ok=True, pickupLocation=existing.pickup, expiration=existing.expiration,
            itemId=existing.itemId, title=existing.title, screenMessages=("Hold changed.",),
        ))

    def _placeHold(self, patron: MemoryPatron, item: MemoryItem, request: HoldRequest,
                   existing: MemoryHold | None) -> HoldResult:
        block = self.blockReason(patron)
        if block is not None:
            return refused(HoldResult, *block)
        limit = self.limits(patron).holds
        held = [hold for hold in self.holds if hold.patronId == patron.patronId]
        notAllowed = (
            item.itemType in self.rules.notCirculating
            or existing is not None
            or item.borrower == patron.patronId
            or (limit is not None and len(held) >= limit)
        )
        if notAllowed:
            return refused(HoldResult, Reason.HOLD_NOT_ALLOWED,
                           "You cannot place a hold on this item.")
        titleLevel = not request.itemId
        hold = MemoryHold(
            patron.patronId,
            None if titleLevel else item.itemId,
            item.titleKey if titleLevel else item.title,
            item.title,
            request.pickupLocation or patron.homeBranch,
            self.now(),
            expiration=request.expiration,
        )
        self.holds.append(hold)
        return HoldResult(
            ok=True,
            available=item.borrower is None and item.status == "available",
            expiration=hold.expiration,
            queuePosition=len(self.holdsOn(item)),
            pickupLocation=hold.pickup,
            itemId=item.itemId,
            title=item.title,
            screenMessages=("Hold placed.",),
        )

    def feePaid(self, terminal: Terminal, payment: Payment) -> Deferred:
        self.calls.append(("feePaid", payment.patronId, payment.amount, payment.feeId))
        patron, refusal = self._known(PaymentResult, payment.patronId, payment.pin)
        if refusal is not None:
            return succeed(refusal)
        fees = [fee for fee in self.feesOf(patron.patronId)
                if payment.feeId is None or fee.feeId == payment.feeId]
        if payment.feeId is not None and not fees:
            return succeed(refused(PaymentResult, Reason.UNKNOWN_FEE, "Unknown fee."))
        if payment.amount <= 0:
            return succeed(refused(PaymentResult, Reason.BAD_AMOUNT,
                                   "The amount is not valid."))
        credit = not payment.writeoff and {"refused": False, "credit": True}.get(
            payment.overpayment or "", self.rules.allowOverpayment
        )
        if payment.amount > sum(fee.balance for fee in fees) and not credit:
            return succeed(refused(PaymentResult, Reason.OVERPAYMENT,
                                   "That is more than you owe."))
        left = payment.amount
        for fee in sorted(fees, key=lambda fee: fee.created):
            paid = min(left, fee.balance)
            fee.balance, left = fee.balance - paid, left - paid
        self.fees = [fee for fee in self.fees if fee.balance != Decimal(0)]
        if left > 0:
            self.fees.append(MemoryFee(patron.patronId, None, FeeType.OTHER, -left,
                                       "Credit from a payment", self.now()))
        self.payments.append(payment)
        return succeed(PaymentResult(
            accepted=True, transactionId=self._transaction(),
            screenMessages=(
                "Written off." if payment.writeoff else "Thank you for your payment.",
            ),
        ))

    def blockPatron(self, terminal: Terminal, patronId: str, cardRetained: bool,
                    reason: str) -> Deferred:
        self.calls.append(("blockPatron", patronId, cardRetained, reason))
        patron = self.patrons.get(patronId)
        if patron is None:
            return succeed(Patron(found=False, patronId=patronId,
                                  screenMessages=("Unknown patron.",)))
        patron.blocked, patron.blockNote = True, reason
        return succeed(self.patronView(patron))

    def enablePatron(self, terminal: Terminal, patronId: str,
                     pin: str | None = None) -> Deferred:
        self.calls.append(("enablePatron", patronId))
        patron = self.patrons.get(patronId)
        if patron is None:
            return succeed(Patron(found=False, patronId=patronId,
                                  screenMessages=("Unknown patron.",)))
        if self._pinValid(patron, pin) is not False:
            patron.blocked, patron.blockNote = False, None
        return succeed(self.patronView(patron, pin))
