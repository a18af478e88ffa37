# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
Renewals: one loan (29, or a checkout of an item the patron already has),
and all of a patron's loans (65).

A renewal is refused when the patron is blocked, the loan has been renewed
as often as its rule allows, another patron waits for the item, or a
rental fee is not acknowledged; a no-block renewal is never refused. The
new due date is the rule's from now, never earlier than the old one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sip2acs.ils.sql.fees import Fees
from sip2acs.ils.sql.items import Items, itemFields
from sip2acs.ils.sql.patrons import Patrons
from sip2acs.ils.sql.rules import (
    MAX_LOAN_PERIOD,
    MESSAGES,
    Rules,
    circulationRefusal,
    dueDate,
    refusalFor,
)
from sip2acs.ils.sql.store import Operation, Row, Store, fromCents
from sip2acs.ils.values import (
    CirculationResult,
    FeeType,
    Reason,
    RenewAllResult,
    RenewRequest,
)

__all__ = ["Renewals"]


class Renewals:
    """
    The renewal operations, on a L{Store}.
    """

    def __init__(self, store: Store, rules: Rules, patrons: Patrons,
                 items: Items, fees: Fees) -> None:
        self.store = store
        self.rules = rules
        self.patrons = patrons
        self.items = items
        self.fees = fees

    def renew(self, op: Operation, request: RenewRequest) -> CirculationResult:
        """
        Renew one loan (29), by item barcode or title.
        """
        patron = self.patrons.row(request.patronId)
        if patron is None:
            return circulationRefusal(Reason.UNKNOWN_PATRON, patronValid=False)
        pinValid = self.patrons.checkPin(patron, request.pin)
        if pinValid is False:
            return circulationRefusal(Reason.BAD_PIN, patronValid=True, pinValid=False)
        if request.itemId:
            item = self.items.row(request.itemId)
            if item is None:
                return circulationRefusal(
                    Reason.UNKNOWN_ITEM, patronValid=True, pinValid=pinValid
                )
        else:
            items = self.items.forTitle(request.titleId)
            if not items:
                return circulationRefusal(
                    Reason.UNKNOWN_ITEM, patronValid=True, pinValid=pinValid
                )
            mine = [
                row for row in items
                if (loan := self.items.openLoan(row["id"])) is not None
                and loan["patron_id"] == patron["id"]
            ]
            item = (mine or items)[0]
            op.item = item["barcode"]
        common = dict(itemFields(item), patronValid=True, pinValid=pinValid)
        loan = self.items.openLoan(item["id"])
        if loan is None:
            return circulationRefusal(
                Reason.NOT_ON_LOAN, "This item is not checked out.", **common
            )
        if loan["patron_id"] != patron["id"]:
            if not request.thirdPartyAllowed:
                return circulationRefusal(Reason.NOT_ON_LOAN, **common)
            patron = self.store.row(
                "SELECT * FROM patrons WHERE id = ?", (loan["patron_id"],)
            )
            op.details.append("third party, for %s" % (patron["barcode"],))
        return self.renewLoan(
            op, patron, item, loan, request.noBlock, request.nbDueDate,
            request.feeAcknowledged, common,
        )

    def renewLoan(self, op: Operation, patron: Row, item: Row, loan: Row,
                  noBlock: bool, nbDueDate: datetime | None,
                  feeAcknowledged: bool, common: dict[str, Any]) -> CirculationResult:
        """
        Renew C{loan} of C{patron}, or refuse.

        @rtype: L{CirculationResult}
        """
        rule = self.rules.rule(patron["patron_class"], item["item_type"])
        if not noBlock:
            state = self.patrons.state(op, patron)
            if state.blocks:
                reason, message = state.blocks[0]
                return circulationRefusal(reason, message, renewal=True, **common)
            if loan["renewals"] >= rule.maxRenewals:
                reason, message = refusalFor(
                    Reason.RENEWAL_LIMIT, limit=rule.maxRenewals
                )
                return circulationRefusal(reason, message, renewal=True, **common)
            for hold in self.items.holdQueue(item):
                if hold["patron_id"] != patron["id"] and hold["status"] == "waiting":
                    return circulationRefusal(
                        Reason.HOLDS_WAITING, renewal=True, **common
                    )
            if rule.rentalFeeCents and not feeAcknowledged:
                reason, message = refusalFor(
                    Reason.FEE_NOT_ACKNOWLEDGED, fee=op.money(rule.rentalFeeCents)
                )
                return circulationRefusal(
                    reason, message, renewal=True,
                    feeType=FeeType.RENTAL,
                    feeAmount=fromCents(rule.rentalFeeCents),
                    currency=op.institution.currency,
                    **common,
                )
        due = None
        if noBlock and nbDueDate is not None:
            due = self.store.bounded(
                op, nbDueDate, self.store.time(loan["out_at"], "loans.out_at"),
                op.now + MAX_LOAN_PERIOD, "no-block due date",
            )
        if due is None:
            due = dueDate(op.now, rule.loanDays)
            oldDue = self.store.time(loan["due_at"], "loans.due_at")
            if oldDue is not None:
                due = max(oldDue, due)
        self.store.execute(
            "UPDATE loans SET due_at = ?, renewals = renewals + 1,"
            " last_renewed_at = ? WHERE id = ?",
            (self.store.stamp(due), self.store.stamp(op.now), loan["id"]),
        )
        op.details.append("renewal %d of %s" % (loan["renewals"] + 1, item["barcode"]))
        fee = self.fees.chargeRental(op, patron, item, loan["id"], rule)
        extra: dict[str, Any] = {}
        if fee:
            extra = dict(
                feeType=FeeType.RENTAL,
                feeAmount=fromCents(fee),
                currency=op.institution.currency,
            )
        return CirculationResult(
            ok=True, renewal=True, desensitize=True, dueDate=due, **common, **extra
        )

    def renewAll(self, op: Operation, pin: str | None,
                 feeAcknowledged: bool) -> RenewAllResult:
        """
        Renew every loan of C{op.patron} (65).
        """
        patron = self.patrons.row(op.patron)
        if patron is None:
            return RenewAllResult(
                ok=False, reason=Reason.UNKNOWN_PATRON,
                screenMessages=[MESSAGES[Reason.UNKNOWN_PATRON]],
            )
        if self.patrons.checkPin(patron, pin) is False:
            return RenewAllResult(
                ok=False, reason=Reason.BAD_PIN,
                screenMessages=[MESSAGES[Reason.BAD_PIN]],
            )
        state = self.patrons.state(op, patron)
        if state.blocks:
            reason, message = state.blocks[0]
            return RenewAllResult(
                ok=False, reason=reason,
                unrenewed=[loan["barcode"] for loan in state.loans],
                screenMessages=[message],
            )
        renewed, unrenewed = [], []
        for loan in state.loans:
            item = self.items.byId(loan["item_id"])
            result = self.renewLoan(
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
