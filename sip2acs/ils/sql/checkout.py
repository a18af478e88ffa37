# -*- test-case-name: tests.test_ils_sqlite -*-
"""
Checkouts (11): lending an item, a no-block (off-line) loan the kiosk
already made, renewing on checkout, and cancelling a checkin.

A checkout is refused when the patron is blocked (see
L{Patrons.state <sip2acs.ils.sql.patrons.Patrons.state>}) or the
account's policy sent with the request refuses it (lost items on loan,
an overdue loan, a blocked item type), the item is out to another
patron, lost, missing, does not circulate or is held for another
patron, a loan limit is reached, or a rental fee is not acknowledged.
A no-block checkout is never refused: an item still out to someone else
is checked in from them first.
"""

from __future__ import annotations

from datetime import datetime

from sip2acs.ils.sql.checkin import Checkins
from sip2acs.ils.sql.fees import Fees
from sip2acs.ils.sql.holds import Holds
from sip2acs.ils.sql.items import Items, itemFields
from sip2acs.ils.sql.patrons import Patrons, PatronState
from sip2acs.ils.sql.renewals import Renewals
from sip2acs.ils.sql.rules import (
    MAX_LOAN_PERIOD,
    MAX_OFFLINE_AGE,
    LoanRule,
    Rules,
    circulationRefusal,
    dueDate,
    refusalFor,
)
from sip2acs.ils.sql.store import Operation, Row, Store, fromCents
from sip2acs.ils.values import (
    CheckoutRequest,
    CirculationResult,
    FeeType,
    Reason,
)

__all__ = ["Checkouts"]


class Checkouts:
    """
    The checkout operation, on a L{Store}.
    """

    def __init__(self, store: Store, rules: Rules, patrons: Patrons,
                 items: Items, holds: Holds, fees: Fees, checkins: Checkins,
                 renewals: Renewals) -> None:
        self.store = store
        self.rules = rules
        self.patrons = patrons
        self.items = items
        self.holds = holds
        self.fees = fees
        self.checkins = checkins
        self.renewals = renewals

    def checkout(self, op: Operation, request: CheckoutRequest) -> CirculationResult:
        """
        Lend an item (11), renew it on checkout, accept an off-line
        (no-block) loan or cancel a checkin.
        """
        if request.noBlock:
            op.details.append("no-block")
        if request.cancel:
            op.details.append("cancel")
            return self._cancelCheckin(op, request)
        patron = self.patrons.row(request.patronId, balance=True)
        if patron is None:
            return circulationRefusal(Reason.UNKNOWN_PATRON, patronValid=False)
        pinValid = self.patrons.checkPin(patron, request.pin)
        if pinValid is False:
            return circulationRefusal(Reason.BAD_PIN, patronValid=True, pinValid=False)
        item, loan = self.items.withLoan(request.itemId)
        if item is None:
            return circulationRefusal(
                Reason.UNKNOWN_ITEM, patronValid=True, pinValid=pinValid
            )
        common = dict(itemFields(item), patronValid=True, pinValid=pinValid)
        if loan is not None and loan["patron_id"] == patron["id"]:
            if not (request.scRenewalPolicy or request.noBlock):
                return circulationRefusal(
                    Reason.RENEWAL_NOT_ALLOWED, renewal=True, **common
                )
            op.details.append("renewal")
            return self.renewals.renewLoan(
                op, patron, item, loan, request.noBlock, request.nbDueDate,
                request.feeAcknowledged, common,
            )
        rule = self.rules.rule(patron["patron_class"], item["item_type"])
        outAt = op.now
        if request.noBlock and request.transactionDate is not None:
            outAt = self.store.bounded(
                op, request.transactionDate, op.now - MAX_OFFLINE_AGE, op.now,
                "transaction date",
            ) or op.now
        # The item's hold queue, read once for the checks and the holds the
        # loan fills (the loan and item rows written between change no hold).
        queue = None
        if not request.noBlock:
            queue = self.items.holdQueue(item)
            refusal = self._checkoutRefusal(op, request, patron, item, loan, rule, queue)
            if refusal is not None:
                reason, message = refusal
                return circulationRefusal(reason, message, **common)
        elif loan is not None:
            self._implicitCheckin(op, item, loan, request, outAt)
        if rule.rentalFeeCents:
            if not (request.feeAcknowledged or request.noBlock):
                reason, message = refusalFor(
                    Reason.FEE_NOT_ACKNOWLEDGED, fee=op.money(rule.rentalFeeCents)
                )
                return circulationRefusal(
                    reason, message,
                    feeType=FeeType.RENTAL,
                    feeAmount=fromCents(rule.rentalFeeCents),
                    currency=op.institution.currency,
                    **common,
                )
        due = None
        if request.noBlock and request.nbDueDate is not None:
            due = self.store.bounded(
                op, request.nbDueDate, outAt, outAt + MAX_LOAN_PERIOD,
                "no-block due date",
            )
        if due is None:
            due = dueDate(op.now, rule.loanDays)
        branch = self.rules.thisBranch(op)
        loanId = self.store.insert(
            "INSERT INTO loans (item_id, patron_id, branch, out_at, due_at,"
            " no_block) VALUES (?, ?, ?, ?, ?, ?)",
            (item["id"], patron["id"], branch, self.store.stamp(outAt), self.store.stamp(due),
             1 if request.noBlock else 0),
        )
        self.store.execute(
            "UPDATE items SET status = 'charged', current_branch = ?,"
            " destination = NULL WHERE id = ?",
            (branch or item["current_branch"], item["id"]),
        )
        self._settleHoldsAtCheckout(op, patron, item, loanId, queue)
        fee = self.fees.chargeRental(op, patron, item, loanId, rule)
        result = dict(common)
        if fee:
            result.update(
                feeType=FeeType.RENTAL,
                feeAmount=fromCents(fee),
                currency=op.institution.currency,
            )
        return CirculationResult(ok=True, desensitize=True, dueDate=due, **result)

    def _checkoutRefusal(self, op: Operation, request: CheckoutRequest, patron: Row,
                         item: Row, loan: Row | None, rule: LoanRule,
                         queue: list[Row]) -> tuple[str, str] | None:
        """
        Why C{patron} may not borrow C{item} now, as C{(reason, message)},
        or L{None}: the patron's blocks, then the account's policy (the
        request's lost items limit, overdue loans, blocked item types),
        then the item's.
        """
        # No fee was written since the patron row (and its balance) was read.
        state = self.patrons.state(op, patron, patron["balance_now"])
        if state.blocks:
            return state.blocks[0]
        refusal = self._policyRefusal(request, state, item)
        if refusal is not None:
            return refusal
        if loan is not None:
            return refusalFor(Reason.OUT_TO_OTHER)
        if item["status"] == "lost":
            return refusalFor(Reason.ITEM_LOST)
        if item["status"] == "missing":
            return refusalFor(Reason.ITEM_MISSING)
        if not rule.circulates:
            return refusalFor(Reason.NOT_CIRCULATING)
        for hold in queue:
            if hold["patron_id"] == patron["id"]:
                continue
            if hold["trapped_item_id"] == item["id"] or (
                hold["status"] == "waiting" and hold["item_id"] == item["id"]
            ):
                return refusalFor(Reason.ON_HOLD_FOR_OTHER)
        total = state.rule.maxLoans
        if total is not None and len(state.loans) >= total:
            return refusalFor(Reason.LOAN_LIMIT, limit=total)
        if rule.itemType != "*" and rule.maxLoans is not None:
            sameType = [
                loan for loan in state.loans
                if loan["item_type"] == item["item_type"]
            ]
            if len(sameType) >= rule.maxLoans:
                return refusalFor(Reason.LOAN_LIMIT, limit=rule.maxLoans)
        return None

    def _policyRefusal(self, request: CheckoutRequest, state: PatronState,
                       item: Row) -> tuple[str, str] | None:
        """
        Why the account's policy, sent with C{request}, refuses this
        checkout, or L{None}.
        """
        limit = request.lostItemsLimit
        if limit is not None:
            lost = sum(1 for loan in state.loans if loan["item_status"] == "lost")
            if lost >= limit:
                return refusalFor(Reason.TOO_MANY_LOST, count=lost)
        if request.refuseIfOverdue and state.overdue:
            return refusalFor(Reason.TOO_MANY_OVERDUE, count=len(state.overdue))
        if item["item_type"] in request.blockedItemTypes:
            return refusalFor(Reason.ITEM_TYPE_BLOCKED)
        return None

    def _settleHoldsAtCheckout(self, op: Operation, patron: Row, item: Row,
                               loanId: int, queue: list[Row] | None = None) -> None:
        """
        The patron's own hold on the item (or its title) is filled; a hold
        of another patron that had trapped it (no-block checkouts only)
        goes back to the queue.
        """
        filled = False
        for hold in self.items.holdQueue(item) if queue is None else queue:
            if hold["patron_id"] == patron["id"] and not filled:
                self.store.execute(
                    "UPDATE holds SET status = 'filled', filled_loan_id = ?,"
                    " trapped_item_id = ?, closed_at = ? WHERE id = ?",
                    (loanId, item["id"], self.store.stamp(op.now), hold["id"]),
                )
                op.details.append("filled hold %d" % (hold["id"],))
                filled = True
            elif hold["trapped_item_id"] == item["id"]:
                self.holds.untrap(hold)
                op.details.append("hold %d back in the queue" % (hold["id"],))

    def _implicitCheckin(self, op: Operation, item: Row, loan: Row,
                         request: CheckoutRequest, outAt: datetime) -> None:
        returned = self.checkins.returnTime(op, outAt, loan)
        fine = self.checkins.closeLoan(op, item, loan, returned, self.rules.thisBranch(op))
        self.store.journal(
            op.now, "checkin", terminal=op.terminal,
            patron=loan["patron_barcode"], item=item["barcode"],
            amountCents=fine or None,
            detail="implicit, before a no-block checkout to %s" % (request.patronId,),
        )
        op.details.append("checked in from %s first" % (loan["patron_barcode"],))
        op.amountCents = None

    def _cancelCheckin(self, op: Operation, request: CheckoutRequest) -> CirculationResult:
        """
        Undo the last checkin of the item: its loan is open again, its
        overdue fine voided and any hold it trapped back in the queue.
        """
        item = self.items.row(request.itemId)
        if item is None:
            return circulationRefusal(Reason.UNKNOWN_ITEM)
        common = itemFields(item)
        current = self.items.openLoan(item["id"])
        if current is not None:
            if request.patronId and current["patron_barcode"] != request.patronId:
                return circulationRefusal(Reason.OUT_TO_OTHER, **common)
            return CirculationResult(
                ok=True, desensitize=True,
                dueDate=self.store.time(current["due_at"], "loans.due_at"),
                patronValid=True,
                screenMessages=["This item is already checked out to you."],
                **common,
            )
        last = self.store.row(
            "SELECT loans.*, patrons.barcode AS patron_barcode FROM loans"
            " JOIN patrons ON patrons.id = loans.patron_id"
            " WHERE loans.item_id = ? AND loans.cancelled = 0"
            " ORDER BY loans.returned_at DESC, loans.id DESC LIMIT 1",
            (item["id"],),
        )
        if last is None or (
            request.patronId and last["patron_barcode"] != request.patronId
        ):
            return circulationRefusal(Reason.NOT_ON_LOAN, **common)
        op.patron = last["patron_barcode"]
        self.store.execute(
            "UPDATE loans SET returned_at = NULL, checked_in_at = NULL,"
            " checkin_branch = NULL WHERE id = ?",
            (last["id"],),
        )
        self.store.execute(
            "UPDATE fees SET voided_at = ?, balance_cents = 0"
            " WHERE loan_id = ? AND fee_type = ? AND voided_at IS NULL"
            " AND created_at >= ?",
            (self.store.stamp(op.now), last["id"], FeeType.OVERDUE, last["checked_in_at"]),
        )
        for hold in self.items.holdQueue(item):
            if hold["trapped_item_id"] == item["id"] and (
                hold["trapped_at"] or ""
            ) >= (last["checked_in_at"] or ""):
                self.holds.untrap(hold)
                op.details.append("hold %d back in the queue" % (hold["id"],))
        self.store.execute(
            "UPDATE items SET status = 'charged', destination = NULL WHERE id = ?",
            (item["id"],),
        )
        op.details.append("loan %d reopened" % (last["id"],))
        return CirculationResult(
            ok=True, desensitize=True,
            dueDate=self.store.time(last["due_at"], "loans.due_at"),
            patronValid=True, **common,
        )
