# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
Fees and payments (37): the rental fee of a loan, the overdue fine of a
return, and paying them.

Money is kept in integer cents (see L{sip2acs.ils.sql.store.toCents}).
A payment settles the oldest fees first, or the one fee it names; with
C{allow-overpayment} (or a payment asking for it, L{Payment.overpayment
<sip2acs.ils.values.Payment.overpayment>} C{"credit"}), what is paid over
them becomes a credit (a fee of a negative amount). A write-off
(L{Payment.writeoff <sip2acs.ils.values.Payment.writeoff>}) settles the
fees the same way, never more than is owed, and is recorded with kind
C{writeoff}; the register a
payment names is recorded with it.
"""

from __future__ import annotations

from sip2acs.ils.sql.patrons import Patrons
from sip2acs.ils.sql.rules import MESSAGES, LoanRule, refusalFor
from sip2acs.ils.sql.store import Operation, Row, Store, toCents
from sip2acs.ils.values import FeeType, Payment, PaymentResult, Reason

__all__ = ["Fees"]


def _paymentRefusal(reason: str, message: str | None = None) -> PaymentResult:
    return PaymentResult(
        accepted=False, reason=reason,
        screenMessages=[message or MESSAGES[reason]],
    )


class Fees:
    """
    Charging fees and taking payments, on a L{Store}.

    @ivar allowOverpayment: Whether a payment over what is owed is accepted
        (the rest becomes a credit) instead of refused.
    """

    def __init__(self, store: Store, patrons: Patrons,
                 allowOverpayment: bool = False) -> None:
        self.store = store
        self.patrons = patrons
        self.allowOverpayment = allowOverpayment

    def chargeRental(self, op: Operation, patron: Row, item: Row, loanId: int,
                     rule: LoanRule) -> int:
        """
        Charge the rule's rental fee, if any, for a loan or renewal.

        @return: The fee in cents (0 for none).
        """
        fee = rule.rentalFeeCents
        if fee:
            self.store.execute(
                "INSERT INTO fees (patron_id, item_id, loan_id, fee_type,"
                " description, amount_cents, balance_cents, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (patron["id"], item["id"], loanId, FeeType.RENTAL,
                 "Rental: " + item["title"], fee, fee, self.store.stamp(op.now)),
            )
            op.amountCents = fee
            op.details.append("rental fee %s" % (op.money(fee),))
        return fee

    def chargeOverdue(self, op: Operation, loan: Row, item: Row, days: int,
                      fine: int) -> None:
        """
        Charge the overdue fine of a loan returned C{days} days late.
        """
        self.store.execute(
            "INSERT INTO fees (patron_id, item_id, loan_id, fee_type,"
            " description, amount_cents, balance_cents, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (loan["patron_id"], item["id"], loan["id"], FeeType.OVERDUE,
             "Overdue %d days: %s" % (days, item["title"]), fine, fine,
             self.store.stamp(op.now)),
        )
        op.amountCents = fine
        op.details.append("overdue fine %s" % (op.money(fine),))

    def pay(self, op: Operation, payment: Payment) -> PaymentResult:
        """
        Record a payment (37): oldest fees first, or the one fee asked for;
        what is paid over them becomes a credit, when allowed.
        """
        patron = self.patrons.row(payment.patronId)
        if patron is None:
            return _paymentRefusal(Reason.UNKNOWN_PATRON)
        if self.patrons.checkPin(patron, payment.pin) is False:
            return _paymentRefusal(Reason.BAD_PIN)
        try:
            cents = toCents(payment.amount)
        except ValueError:
            cents = 0
        if cents <= 0:
            return _paymentRefusal(Reason.BAD_AMOUNT)
        currency = op.institution.currency
        if payment.currency and payment.currency.strip() and (
            payment.currency.strip().upper() != currency
        ):
            return _paymentRefusal(
                Reason.BAD_AMOUNT, "Payments are taken in %s only." % (currency,)
            )
        op.amountCents = cents
        query = (
            "SELECT * FROM fees WHERE patron_id = ? AND voided_at IS NULL"
            " AND balance_cents > 0"
        )
        params: tuple[object, ...] = (patron["id"],)
        if payment.feeId:
            query += " AND CAST(id AS TEXT) = ?"
            params += (str(payment.feeId).strip(),)
        fees = self.store.rows(query + " ORDER BY created_at, id", params)
        if payment.feeId and not fees:
            return _paymentRefusal(Reason.UNKNOWN_FEE)
        owed = sum(fee["balance_cents"] for fee in fees)
        allowed = not payment.writeoff and {"refused": False, "credit": True}.get(
            payment.overpayment or "", self.allowOverpayment
        )
        if cents > owed and not allowed:
            reason, message = refusalFor(
                Reason.OVERPAYMENT, paid=op.money(cents), owed=op.money(owed)
            )
            return _paymentRefusal(reason, message)
        kind = "writeoff" if payment.writeoff else "payment"
        paymentId = self.store.insert(
            "INSERT INTO payments (patron_id, amount_cents, fee_type, payment_type,"
            " currency, device_transaction_id, paid_at, terminal, kind, register)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (patron["id"], cents, payment.feeType, payment.paymentType, currency,
             payment.transactionId, self.store.stamp(op.now),
             op.terminal.account if op.terminal else None, kind, payment.register),
        )
        left = cents
        for fee in fees:
            if left == 0:
                break
            part = min(left, fee["balance_cents"])
            self.store.execute(
                "UPDATE fees SET balance_cents = balance_cents - ? WHERE id = ?",
                (part, fee["id"]),
            )
            self.store.execute(
                "INSERT INTO payment_lines (payment_id, fee_id, amount_cents)"
                " VALUES (?, ?, ?)",
                (paymentId, fee["id"], part),
            )
            left -= part
        op.details.append(
            "%s %d" % ("write-off" if payment.writeoff else "payment", paymentId)
        )
        if payment.register:
            op.details.append("register %s" % (payment.register,))
        if payment.transactionId:
            op.details.append("device transaction %s" % (payment.transactionId,))
        if left:
            self.store.execute(
                "INSERT INTO fees (patron_id, fee_type, description, amount_cents,"
                " balance_cents, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (patron["id"], FeeType.OTHER, "Credit from payment %d" % (paymentId,),
                 -left, -left, self.store.stamp(op.now)),
            )
            self.store.execute(
                "UPDATE payments SET credit_cents = ? WHERE id = ?", (left, paymentId)
            )
            op.details.append("credit %s" % (op.money(left),))
        balance = self.store.row(
            "SELECT coalesce(sum(balance_cents), 0) FROM fees"
            " WHERE patron_id = ? AND voided_at IS NULL",
            (patron["id"],),
        )[0]
        if payment.writeoff:
            message = "%s written off; balance %s." % (op.money(cents), op.money(balance))
        else:
            message = "Thank you. Payment of %s received; balance %s." % (
                op.money(cents), op.money(balance)
            )
        return PaymentResult(accepted=True, screenMessages=[message])
