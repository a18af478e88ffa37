# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
Checkins (09): ending the loan (with its overdue fine), routing the item,
and cancelling a checkout the kiosk could not complete.

Routing: a returned item goes to the hold that trapped it before, else to
the first waiting hold (on this branch's hold shelf, or in transit to the
pickup branch), else home if this is not its home branch, else back on the
shelf; the sort bin (C{CL}) follows from L{SortBins}. "This branch" is
L{Rules.thisBranch <sip2acs.ils.sql.rules.Rules.thisBranch>}.

A checkin that does not L{trap holds
<sip2acs.ils.values.CheckinRequest.trapHolds>} returns the item as if no
hold wanted it and names the hold in its answer. A checkin asking
L{refuseIfHeld
<sip2acs.ils.values.CheckinRequest.refuseIfHeld>} of an item that a hold
would take is refused (L{Reason.HOLD_WAITING}) and changes nothing: the
item stays out, for staff to check in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sip2acs.ils.sql.fees import Fees
from sip2acs.ils.sql.holds import Holds
from sip2acs.ils.sql.items import Items
from sip2acs.ils.sql.rules import MESSAGES, Rules, SortBins, dueDate
from sip2acs.ils.sql.store import Operation, Row, Store
from sip2acs.ils.values import (
    AlertType,
    CheckinRequest,
    CheckinResult,
    FeeType,
    Reason,
)

__all__ = ["Checkins"]


def _holdNamed(hold: Row, here: str | None) -> dict[str, Any]:
    """
    What a checkin answer says of C{hold}, waiting for the item at branch
    C{here}: the alert type (01 for a pickup here, else 02), the pickup
    branch as destination, the hold's patron.
    """
    pickup = hold["pickup_branch"]
    return dict(
        alertType=(
            AlertType.HOLD_HERE if here is None or pickup == here
            else AlertType.HOLD_OTHER_BRANCH
        ),
        destination=pickup,
        holdPatronId=hold["patron_barcode"],
        holdPatronName=hold["patron_name"],
    )


class Checkins:
    """
    The checkin operation, on a L{Store}.

    @ivar sortBins: The sort bin mapping.
    """

    def __init__(self, store: Store, rules: Rules, items: Items, holds: Holds,
                 fees: Fees, sortBins: SortBins) -> None:
        self.store = store
        self.rules = rules
        self.items = items
        self.holds = holds
        self.fees = fees
        self.sortBins = sortBins

    def returnTime(self, op: Operation, value: datetime | None, loan: Row) -> datetime:
        """
        When C{loan} ended: C{value} (a kiosk's return date) if it is not in
        the future nor before the loan began, else now.
        """
        if value is None:
            return op.now
        start = self.store.time(loan["out_at"], "loans.out_at")
        returned = self.store.bounded(op, value, start, op.now, "return date")
        return op.now if returned is None else returned

    def closeLoan(self, op: Operation, item: Row, loan: Row, returned: datetime,
                  branch: str | None) -> int:
        """
        End a loan at C{returned}, charging the overdue fine.

        @return: The fine in cents.
        """
        self.store.execute(
            "UPDATE loans SET returned_at = ?, checked_in_at = ?,"
            " checkin_branch = ? WHERE id = ?",
            (self.store.stamp(returned), self.store.stamp(op.now), branch, loan["id"]),
        )
        due = self.store.time(loan["due_at"], "loans.due_at")
        days = (
            (returned.date() - due.date()).days
            if due is not None and returned > due else 0
        )
        if "patron_class" in loan.keys():
            patronClass = loan["patron_class"]  # read with the loan (Items.openLoan)
        else:
            patronClass = self.store.row(
                "SELECT patron_class FROM patrons WHERE id = ?", (loan["patron_id"],)
            )["patron_class"]
        fine = self.rules.rule(patronClass, item["item_type"]).fineCents(days)
        if fine:
            self.fees.chargeOverdue(op, loan, item, days, fine)
        return fine

    def checkin(self, op: Operation, request: CheckinRequest) -> CheckinResult:
        """
        Return an item (09), or cancel a checkout.
        """
        item, loan = self.items.withLoan(request.itemId)
        if item is None:
            return CheckinResult(
                ok=False,
                reason=Reason.UNKNOWN_ITEM,
                alert=True,
                alertType=AlertType.OTHER,
                screenMessages=[MESSAGES[Reason.UNKNOWN_ITEM]],
            )
        here = self.rules.thisBranch(op, request.currentLocation)
        common = dict(
            title=item["title"],
            permanentLocation=item["home_branch"] or "",
            magneticMedia=bool(item["effective_magnetic"]),
            mediaType=item["effective_media"],
            collectionCode=item["collection_code"],
            callNumber=item["call_number"],
            itemProperties=item["properties"],
        )
        if request.cancel:
            op.details.append("cancel")
            return self._cancelCheckout(op, item, loan, common)
        if request.refuseIfHeld:
            hold = self.items.trappedHold(item) or self.holds.nextWaiting(op, item)
            if hold is not None:
                return self._heldRefusal(op, hold, here, common)
        messages = []
        patronId = None
        if loan is not None:
            patronId = op.patron = loan["patron_barcode"]
            returned = self.returnTime(op, request.returnDate, loan)
            if returned != op.now:
                op.details.append("returned %s" % (self.store.stamp(returned),))
            fine = self.closeLoan(op, item, loan, returned, here)
            if fine:
                messages.append("Overdue fine: %s." % (op.money(fine),))
        else:
            messages.append("This item was not checked out.")
        if item["status"] in ("lost", "missing", "claimed_returned"):
            op.details.append("was %s" % (item["status"],))
            messages.append("This item was marked %s and is now found."
                            % (item["status"].replace("_", " "),))
        routing = self._route(op, item, here, request.trapHolds)
        leaving = routing["destination"] not in (None, here)
        sortBin = self.sortBins.binFor(
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

    def _heldRefusal(self, op: Operation, hold: Row, here: str | None,
                     common: dict[str, Any]) -> CheckinResult:
        """
        The refusal of a checkin (asking L{refuseIfHeld
        <CheckinRequest.refuseIfHeld>}) of an item C{hold} waits for.
        """
        op.details.append(
            "refused: hold %d for %s at %s"
            % (hold["id"], hold["patron_barcode"], hold["pickup_branch"])
        )
        return CheckinResult(
            ok=False,
            reason=Reason.HOLD_WAITING,
            resensitize=False,
            alert=True,
            screenMessages=[MESSAGES[Reason.HOLD_WAITING]],
            **_holdNamed(hold, here),
            **common,
        )

    def _route(self, op: Operation, item: Row, here: str | None,
               trap: bool = True) -> dict[str, Any]:
        """
        Where a returned item goes: a hold (trapped now or before), its home
        branch, or the shelf here. Updates the item and the hold.

        @param trap: Whether a waiting hold traps the item (see
            L{CheckinRequest.trapHolds}); if not, the item goes home or to
            the shelf and the answer names the hold that wants it.
        @return: C{alertType}, C{destination}, C{holdPatronId},
            C{holdPatronName} for L{CheckinResult}.
        """
        queue = self.items.holdQueue(item)
        hold = self.items.trappedHold(item, queue)
        if hold is None and not trap:
            waiting = self.holds.nextWaiting(op, item, queue)
            if waiting is not None:
                self._routeHome(op, item, here)
                op.details.append(
                    "hold %d for %s at %s not trapped"
                    % (waiting["id"], waiting["patron_barcode"], waiting["pickup_branch"])
                )
                return _holdNamed(waiting, here)
        hold = hold or self.holds.nextWaiting(op, item, queue)
        if hold is not None:
            pickup = hold["pickup_branch"]
            if here is None or pickup == here:
                shelfExpires = dueDate(op.now, op.institution.holdShelfDays)
                self.store.execute(
                    "UPDATE holds SET trapped_item_id = ?,"
                    " trapped_at = coalesce(trapped_at, ?),"
                    " shelf_expires_at = CASE status WHEN 'ready'"
                    " THEN shelf_expires_at ELSE ? END, status = 'ready'"
                    " WHERE id = ?",
                    (item["id"], self.store.stamp(op.now),
                     self.store.stamp(shelfExpires), hold["id"]),
                )
                status, alertType = "on_hold_shelf", AlertType.HOLD_HERE
            else:
                self.store.execute(
                    "UPDATE holds SET status = 'in_transit', trapped_item_id = ?,"
                    " trapped_at = coalesce(trapped_at, ?) WHERE id = ?",
                    (item["id"], self.store.stamp(op.now), hold["id"]),
                )
                status, alertType = "in_transit", AlertType.HOLD_OTHER_BRANCH
            self.store.execute(
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
        return self._routeHome(op, item, here)

    def _routeHome(self, op: Operation, item: Row, here: str | None) -> dict[str, Any]:
        """
        Where a returned item no hold takes goes: home if this is not its
        home branch, else the shelf here. Updates the item.
        """
        home = item["home_branch"]
        if here is not None and home != here:
            self.store.execute(
                "UPDATE items SET status = 'in_transit', current_branch = ?,"
                " destination = ? WHERE id = ?",
                (here, home, item["id"]),
            )
            op.details.append("transit to %s" % (home,))
            return dict(
                alertType=AlertType.TRANSIT, destination=home,
                holdPatronId=None, holdPatronName=None,
            )
        self.store.execute(
            "UPDATE items SET status = 'available', current_branch = ?,"
            " destination = NULL WHERE id = ?",
            (here or item["current_branch"], item["id"]),
        )
        return dict(
            alertType=None, destination=None, holdPatronId=None, holdPatronName=None
        )

    def _cancelCheckout(self, op: Operation, item: Row, loan: Row | None,
                        common: dict[str, Any]) -> CheckinResult:
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
        self.store.execute(
            "UPDATE loans SET returned_at = out_at, checked_in_at = ?,"
            " cancelled = 1 WHERE id = ?",
            (self.store.stamp(op.now), loan["id"]),
        )
        self.store.execute(
            "UPDATE fees SET voided_at = ?, balance_cents = 0"
            " WHERE loan_id = ? AND fee_type = ? AND voided_at IS NULL",
            (self.store.stamp(op.now), loan["id"], FeeType.RENTAL),
        )
        hold = self.store.row(
            "SELECT * FROM holds WHERE filled_loan_id = ?", (loan["id"],)
        )
        status = "available"
        if hold is not None:
            self.store.execute(
                "UPDATE holds SET status = 'ready', filled_loan_id = NULL,"
                " closed_at = NULL WHERE id = ?",
                (hold["id"],),
            )
            status = "on_hold_shelf"
        self.store.execute(
            "UPDATE items SET status = ? WHERE id = ?", (status, item["id"])
        )
        op.details.append("loan %d cancelled" % (loan["id"],))
        return CheckinResult(ok=True, patronId=loan["patron_barcode"], **common)
