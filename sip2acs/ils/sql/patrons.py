# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
Patrons: looking them up (23, 63), their standing (loans, balance, the
blocks that stop them borrowing), blocking (01) and enabling (25) cards.

PINs are checked against the stored hash through a
L{VerifiedCache <sip2acs.passwords.VerifiedCache>}, so a kiosk asking again
with the same PIN costs no second hash.
"""

from __future__ import annotations

import attrs

from sip2acs.ils.sql.rules import ACTIVE_HOLD, MESSAGES, LoanRule, Rules, refusalFor
from sip2acs.ils.sql.store import Operation, Row, Store, fromCents
from sip2acs.ils.values import ItemRef, Patron, Reason
from sip2acs.passwords import VerifiedCache

__all__ = ["Patrons", "PatronState", "PRIVILEGES_DENIED"]

PRIVILEGES_DENIED = frozenset(
    {
        "chargePrivilegesDenied",
        "renewalPrivilegesDenied",
        "recallPrivilegesDenied",
        "holdPrivilegesDenied",
    }
)
"""
The flags of a patron whose card is blocked for any reason.
"""


@attrs.define
class PatronState:
    """
    A patron's loans, balance and blocks, as of now.
    """

    rule: LoanRule
    loans: list[Row]
    overdue: list[Row]
    balanceCents: int
    blocks: list[tuple[str, str]]


def _unknown(op: Operation) -> Patron:
    """
    The answer for a patron barcode that is not in the database.
    """
    return Patron(
        found=False,
        patronId=op.patron or "",
        screenMessages=[MESSAGES[Reason.UNKNOWN_PATRON]],
    )


class Patrons:
    """
    Patron lookups and card blocks, on a L{Store}.
    """

    def __init__(self, store: Store, rules: Rules) -> None:
        self.store = store
        self.rules = rules
        self._pins = VerifiedCache()

    _SELECT = (
        "SELECT patrons.*, classes.name AS class_name%s FROM patrons"
        " LEFT JOIN patron_classes classes ON classes.code = patrons.patron_class"
        " WHERE patrons.barcode = ?"
    )
    _ROW = _SELECT % ("",)
    _ROW_WITH_BALANCE = _SELECT % (
        ", (SELECT coalesce(sum(fees.balance_cents), 0) FROM fees"
        " WHERE fees.patron_id = patrons.id AND fees.voided_at IS NULL)"
        " AS balance_now",
    )

    def row(self, barcode: str | None, balance: bool = False) -> Row | None:
        """
        The patron with this barcode, with the name of its class
        (C{class_name}), or L{None}.

        @param balance: Whether to read the patron's balance with the row
            (C{balance_now}, as L{state} reads it: give it to L{state} or
            L{result} when no fee changed since).
        """
        return self.store.row(
            self._ROW_WITH_BALANCE if balance else self._ROW, (barcode,)
        )

    def checkPin(self, patron: Row, pin: str | None) -> bool | None:
        """
        Whether C{pin} is the patron's; L{None} when none was given.
        """
        if pin is None or pin == "":
            return None
        return self._pins.verify(pin, patron["pin_hash"])

    def state(self, op: Operation, patron: Row,
              balance: int | None = None) -> PatronState:
        """
        The patron's loans, balance and blocks as of C{op.now}.

        @param balance: The patron's balance in cents, when the caller has
            just read it (see L{row}); read here otherwise.
        """
        rule = self.rules.patronRule(patron["patron_class"])
        loans = self.store.rows(
            "SELECT loans.*, items.barcode, items.title, items.item_type,"
            " items.status AS item_status"
            " FROM loans JOIN items ON items.id = loans.item_id"
            " WHERE loans.patron_id = ? AND loans.returned_at IS NULL"
            " ORDER BY loans.due_at, loans.id",
            (patron["id"],),
        )
        now = self.store.stamp(op.now)
        overdue = [loan for loan in loans if loan["due_at"] < now]
        if balance is None:
            balance = self.store.row(
                "SELECT coalesce(sum(balance_cents), 0) FROM fees"
                " WHERE patron_id = ? AND voided_at IS NULL",
                (patron["id"],),
            )[0]
        blocks = []
        expires = self.store.date(patron["expires"], "patrons.expires")
        if patron["card_lost"]:
            blocks.append(refusalFor(Reason.CARD_LOST))
        if patron["blocked"]:
            blocks.append(refusalFor(Reason.CARD_BLOCKED))
        if expires is not None and expires < op.now.date():
            blocks.append(refusalFor(Reason.CARD_EXPIRED))
        if rule.feeLimitCents is not None and balance > rule.feeLimitCents:
            blocks.append(
                refusalFor(
                    Reason.EXCESSIVE_FINES,
                    owed=op.money(balance),
                    limit=op.money(rule.feeLimitCents),
                )
            )
        if rule.maxOverdue is not None and len(overdue) > rule.maxOverdue:
            blocks.append(refusalFor(Reason.TOO_MANY_OVERDUE, count=len(overdue)))
        return PatronState(rule, loans, overdue, balance, blocks)

    def result(self, op: Operation, patron: Row, pinValid: bool | None,
               balance: int | None = None) -> Patron:
        """
        What a patron lookup (23, 63) reports of C{patron} (a L{row}).

        @param balance: As for L{state}.
        """
        state = self.state(op, patron, balance)
        rule = state.rule
        reasons = {reason for reason, _ in state.blocks}
        flags: set[str] = set()
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

        holds = self.store.rows(
            "SELECT holds.*, coalesce(t.barcode, c.barcode, '') AS barcode"
            " FROM holds LEFT JOIN items t ON t.id = holds.trapped_item_id"
            " LEFT JOIN items c ON c.id = holds.item_id"
            " WHERE holds.patron_id = ? AND holds.status IN " + ACTIVE_HOLD +
            " ORDER BY holds.placed_at, holds.id",
            (patron["id"],),
        )
        fees = self.store.rows(
            "SELECT fees.*, items.barcode, items.title FROM fees"
            " LEFT JOIN items ON items.id = fees.item_id"
            " WHERE fees.patron_id = ? AND fees.voided_at IS NULL"
            " AND fees.balance_cents > 0 ORDER BY fees.created_at, fees.id",
            (patron["id"],),
        )

        def loanRef(loan: Row) -> ItemRef:
            return ItemRef(
                itemId=loan["barcode"],
                title=loan["title"],
                dueDate=self.store.time(loan["due_at"], "loans.due_at"),
            )

        return Patron(
            found=True,
            patronId=patron["barcode"],
            name=patron["name"],
            pinValid=pinValid,
            hasPin=patron["pin_hash"] is not None,
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
                    feeId=str(fee["id"]),
                    feeType=fee["fee_type"],
                    date=self.store.time(fee["created_at"], "fees.created_at"),
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
            birthDate=self.store.date(patron["birth_date"], "patrons.birth_date"),
            patronClass=patron["class_name"] or patron["patron_class"],
            patronClassCode=patron["patron_class"],
            homeLibrary=patron["home_branch"],
            expires=self.store.date(patron["expires"], "patrons.expires"),
            internetPrivileges=patron["internet_privileges"],
            attributes=self.attributes(patron),
            screenMessages=messages,
        )

    def className(self, code: str) -> str:
        """
        The name of the patron class C{code}, or the code itself when the
        class has no name.
        """
        row = self.store.row("SELECT name FROM patron_classes WHERE code = ?", (code,))
        return row["name"] if row is not None and row["name"] else code

    def attributes(self, patron: Row) -> list[tuple[str, str]]:
        """
        The patron's extra attributes, C{(code, value)} by code.
        """
        return [
            (row["code"], row["value"]) for row in self.store.rows(
                "SELECT code, value FROM patron_attributes WHERE patron_id = ?"
                " ORDER BY code",
                (patron["id"],),
            )
        ]

    def lookup(self, op: Operation, pin: str | None) -> Patron:
        """
        Look up C{op.patron} (23, 63).
        """
        patron = self.row(op.patron, balance=True)
        if patron is None:
            return _unknown(op)
        return self.result(
            op, patron, self.checkPin(patron, pin), patron["balance_now"]
        )

    def block(self, op: Operation, cardRetained: bool, reason: str | None) -> Patron:
        """
        Block C{op.patron}'s card (01), keeping the note.
        """
        patron = self.row(op.patron)
        if patron is None:
            return _unknown(op)
        note = (reason or "").strip() or "Blocked by a self-check"
        if cardRetained:
            note += " (card retained)"
        self.store.execute(
            "UPDATE patrons SET blocked = 1, block_note = ?, blocked_at = ?"
            " WHERE id = ?",
            (note, self.store.stamp(op.now), patron["id"]),
        )
        op.details.append(note)
        return self.result(op, self.row(op.patron), None)

    def enable(self, op: Operation, pin: str | None) -> Patron:
        """
        Lift a block (25).
        """
        patron = self.row(op.patron)
        if patron is None:
            return _unknown(op)
        pinValid = self.checkPin(patron, pin)
        if pinValid is not False:
            self.store.execute(
                "UPDATE patrons SET blocked = 0, block_note = NULL,"
                " blocked_at = NULL WHERE id = ?",
                (patron["id"],),
            )
            patron = self.row(op.patron)
        return self.result(op, patron, pinValid)
