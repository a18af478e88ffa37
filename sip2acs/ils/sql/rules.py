# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
The circulation rules: loan rules and limits, sort bins, refusal messages.

Rules (table C{loan_rules}) are looked up per patron class and item type,
the most specific row winning: (class, type), then (C{*}, type), then
(class, C{*}), then (C{*}, C{*}). Patron-wide limits (total loans, fee
limit, overdue items, holds) come from (class, C{*}), else (C{*}, C{*}).
L{Rules} reads them, the institution and the branch codes through the
store's cache of reference rows.

Dates a kiosk sends are bounded before they are stored:

  - a no-block checkout's transaction date (when the kiosk lent the item
    off line) must not be in the future nor more than L{MAX_OFFLINE_AGE}
    before now;
  - a no-block due date must not be before the loan began (the checkout,
    or the loan's start for a renewal) nor more than L{MAX_LOAN_PERIOD}
    after it (after now, for a renewal);
  - a return date must not be in the future nor before the loan began.

The kiosk already lent or took back the item, so refusing would lose the
record: a date out of bounds is replaced by now (or, for a due date, by the
rule's due date), and the transaction log detail says so. A hold
expiration must be after now and at most L{MAX_HOLD_PERIOD} ahead; a hold
request with another is refused (L{Reason.BAD_DATE
<sip2acs.ils.values.Reason.BAD_DATE>}).

"This branch", where a checkin happens, is the checkin's current location
(C{AP}) if it is a branch code, else the terminal's location (C{CP}) if it
is one, else the institution's default branch (L{Rules.thisBranch}).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

import attrs

from sip2acs.ils.sql.store import Institution, Operation, Row, Store
from sip2acs.ils.values import AlertType, CirculationResult, Reason, Terminal

__all__ = [
    "LoanRule",
    "SortBins",
    "Rules",
    "MESSAGES",
    "refusalFor",
    "circulationRefusal",
    "dueDate",
    "ACTIVE_HOLD",
    "MAX_OFFLINE_AGE",
    "MAX_LOAN_PERIOD",
    "MAX_HOLD_PERIOD",
]

MAX_OFFLINE_AGE = timedelta(days=90)
"""
How long before now a no-block checkout may have happened.
"""

MAX_LOAN_PERIOD = timedelta(days=731)
"""
How far after its start a no-block due date may be: two years.
"""

MAX_HOLD_PERIOD = timedelta(days=731)
"""
How far ahead a hold may expire: two years.
"""

DUE_TIME = time(23, 59)
"""
Loans fall due at this time of their last day.
"""

ACTIVE_HOLD = "('waiting', 'in_transit', 'ready')"
"""
The hold statuses of a hold still to be filled, as an SQL list.
"""

MESSAGES = {
    Reason.UNKNOWN_PATRON: "Your library card was not recognized. Please see the desk.",
    Reason.BAD_PIN: "Your PIN is incorrect.",
    Reason.CARD_EXPIRED: "Your card has expired. Please see the desk.",
    Reason.CARD_LOST: "This card has been reported lost. Please see the desk.",
    Reason.CARD_BLOCKED: "Your card is blocked. Please see the desk.",
    Reason.EXCESSIVE_FINES: (
        "You owe {owed}, over the limit of {limit}. Please pay to borrow."
    ),
    Reason.TOO_MANY_OVERDUE: (
        "You have {count} overdue items. Please return them to borrow more."
    ),
    Reason.LOAN_LIMIT: "You have reached your limit of {limit} loans.",
    Reason.UNKNOWN_ITEM: "This item was not recognized. Please see the desk.",
    Reason.NOT_CIRCULATING: "This item is for use in the library only.",
    Reason.ITEM_LOST: "This item is marked lost. Please see the desk.",
    Reason.ITEM_MISSING: "This item is marked missing. Please see the desk.",
    Reason.OUT_TO_OTHER: (
        "This item is checked out to another patron. Please see the desk."
    ),
    Reason.ON_HOLD_FOR_OTHER: "This item is on hold for another patron.",
    Reason.RENEWAL_LIMIT: "This item has already been renewed {limit} times.",
    Reason.HOLDS_WAITING: (
        "This item cannot be renewed: another patron is waiting for it."
    ),
    Reason.NOT_ON_LOAN: "This item is not checked out to you.",
    Reason.RENEWAL_NOT_ALLOWED: "This item is already checked out to you.",
    Reason.FEE_NOT_ACKNOWLEDGED: "This item has a rental fee of {fee}.",
    Reason.OVERPAYMENT: "You paid {paid} but owe only {owed}.",
    Reason.BAD_AMOUNT: "That payment amount is not valid.",
    Reason.NO_SUCH_HOLD: "You have no hold on this item.",
    Reason.HOLD_NOT_ALLOWED: "This item cannot be placed on hold.",
    Reason.UNKNOWN_FEE: "That fee was not found.",
    Reason.BAD_DATE: "A hold must expire in the future and within two years.",
    Reason.HOLD_WAITING: (
        "This item is on hold for a patron. Please take it to the desk."
    ),
    Reason.TOO_MANY_LOST: (
        "You have {count} lost items on your card. Please see the desk."
    ),
    Reason.ITEM_TYPE_BLOCKED: "This kind of item cannot be checked out here.",
    Reason.UNSUPPORTED: "This request is not supported.",
}
"""
Screen messages for refusals, by reason; some take C{str.format} fields.
"""

def dueDate(start: datetime, days: int) -> datetime:
    """
    The due date of a loan of C{days} days starting at C{start}: 23:59 on
    the last day, in C{start}'s zone.
    """
    return datetime.combine(
        start.date() + timedelta(days=days), DUE_TIME, tzinfo=start.tzinfo
    )


def refusalFor(reason: str, **fields: Any) -> tuple[str, str]:
    """
    C{(reason, its screen message)}, the message's fields filled in.
    """
    message = MESSAGES[reason].format(**fields)
    return reason, message


def circulationRefusal(reason: str, message: str | None = None,
                       **fields: Any) -> CirculationResult:
    """
    A refused checkout or renewal: C{reason}, with C{message} or the
    reason's own.
    """
    return CirculationResult(
        ok=False,
        reason=reason,
        screenMessages=[message or MESSAGES[reason]],
        **fields,
    )


@attrs.frozen
class LoanRule:
    """
    One row of C{loan_rules}: what a patron class may do with an item type.

    @ivar loanDays: Loan period; 0 means the item does not circulate.
    @ivar maxLoans: Loan limit (total on a C{*} item type row, per type on
        a specific one), or L{None} for none.
    @ivar feeLimitCents: Fines and fees over this block the card.
    @ivar maxOverdue: More overdue items than this block the card.
    """

    patronClass: str = "*"
    itemType: str = "*"
    loanDays: int = 21
    maxLoans: int | None = None
    maxRenewals: int = 2
    finePerDayCents: int = 0
    fineCapCents: int | None = None
    rentalFeeCents: int = 0
    feeLimitCents: int | None = None
    maxOverdue: int | None = None
    maxHolds: int | None = None

    COLUMNS = {
        "patron_class": "patronClass",
        "item_type": "itemType",
        "loan_days": "loanDays",
        "max_loans": "maxLoans",
        "max_renewals": "maxRenewals",
        "fine_per_day_cents": "finePerDayCents",
        "fine_cap_cents": "fineCapCents",
        "rental_fee_cents": "rentalFeeCents",
        "fee_limit_cents": "feeLimitCents",
        "max_overdue": "maxOverdue",
        "max_holds": "maxHolds",
    }

    @classmethod
    def fromRow(cls, row: Row | None) -> LoanRule:
        """
        Build a rule from a C{loan_rules} row, or the built-in default for
        L{None}.
        """
        if row is None:
            return cls()
        return cls(**{attr: row[column] for column, attr in cls.COLUMNS.items()})

    @property
    def circulates(self) -> bool:
        """
        Whether items under this rule may leave the library.
        """
        return self.loanDays > 0

    def fineCents(self, daysOverdue: int) -> int:
        """
        The overdue fine for C{daysOverdue} days, capped.
        """
        fine = max(daysOverdue, 0) * self.finePerDayCents
        if self.fineCapCents is not None:
            fine = min(fine, self.fineCapCents)
        return fine


class SortBins:
    """
    The checkin sort bin (C{CL}) mapping.

    Keys, tried in this order; the first present one gives the bin:

      - C{hold}: the item goes on this branch's hold shelf (alert 01);
      - C{branch:CODE}: the item must go to branch C{CODE} (a hold there,
        alert 02, or home, alert 04);
      - C{transit}: the item must go to any other branch;
      - C{type:CODE}: items of this item type;
      - C{collection:CODE}: items of this collection code;
      - C{location:NAME}: items of this shelving location;
      - C{media:NNN}: items of this SIP2 media type;
      - C{default}: everything else.

    With no match, no bin is reported.
    """

    WORDS = ("hold", "transit", "default")
    PREFIXES = ("branch", "type", "collection", "location", "media")

    def __init__(self, mapping: Mapping[Any, Any] | None = None) -> None:
        """
        @param mapping: Keys as above to bin names.
        @raise ValueError: On an unknown key or a non-string bin.
        """
        self.mapping: dict[str, str] = {}
        for key, value in (mapping or {}).items():
            key = str(key)
            prefix, colon, rest = key.partition(":")
            if not (key in self.WORDS or (colon and rest and prefix in self.PREFIXES)):
                raise ValueError(
                    "unknown sort bin key %r: use hold, transit, default or"
                    " branch:/type:/collection:/location:/media: followed by a"
                    " code" % (key,)
                )
            if not isinstance(value, (str, int)) or str(value) == "":
                raise ValueError("sort bin for %r must be a non-empty string" % (key,))
            self.mapping[key] = str(value)

    def binFor(self, item: Row, alertType: str | None, destination: str | None,
               leaving: bool) -> str | None:
        """
        The bin for a checked-in item.

        @param item: The C{items} row (with C{effective_media}).
        @param alertType: The checkin's alert type, or L{None}.
        @param destination: Where the item must go, or L{None}.
        @param leaving: Whether it goes to another branch.
        @rtype: L{str} or L{None}
        """
        keys = []
        if alertType == AlertType.HOLD_HERE:
            keys.append("hold")
        if leaving:
            keys += ["branch:%s" % (destination,), "transit"]
        for prefix, column in (
            ("type", "item_type"),
            ("collection", "collection_code"),
            ("location", "shelving_location"),
            ("media", "effective_media"),
        ):
            if item[column] is not None:
                keys.append("%s:%s" % (prefix, item[column]))
        keys.append("default")
        for key in keys:
            if key in self.mapping:
                return self.mapping[key]
        return None


class Rules:
    """
    The reference rows the operations consult: the institution, the branch
    codes, the loan rules; each read once per change of the database by
    another connection (see L{Store.cached}).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def institution(self, terminal: Terminal | None) -> Institution:
        """
        The institution a terminal serves (the first one for none).
        """
        return self.institutionNamed(terminal.institution if terminal else None)

    def institutionNamed(self, institution: str | None) -> Institution:
        """
        The institution C{institution} (the first one for L{None}, or when
        the database has no such institution).
        """
        return self.store.cached(
            ("institution", institution), lambda: self._loadInstitution(institution)
        )

    def _loadInstitution(self, institution: str | None) -> Institution:
        row = self.store.row(
            "SELECT * FROM institutions ORDER BY id = ? DESC, rowid LIMIT 1",
            (institution,),
        )
        if row is None:
            branch = self.store.row("SELECT code FROM branches ORDER BY rowid LIMIT 1")
            return Institution(id=None, defaultBranch=branch[0] if branch else None)
        return Institution(
            id=row["id"],
            currency=row["currency"],
            defaultBranch=row["default_branch"],
            holdShelfDays=row["hold_shelf_days"],
        )

    def isBranch(self, code: str | None) -> bool:
        """
        Whether C{code} is a branch code.
        """
        # The set of all branch codes is cached, not an answer per code: a
        # kiosk's location (AP, CP) is any text it likes, and a cache entry
        # per made-up code would grow without bound.
        return bool(code) and code in self.store.cached(
            ("branches",),
            lambda: frozenset(row[0] for row in self.store.rows("SELECT code FROM branches")),
        )

    def thisBranch(self, op: Operation, currentLocation: str | None = None) -> str | None:
        """
        "This branch": C{currentLocation} if it is a branch code, else the
        terminal's location if it is one, else the default branch.
        """
        for code in (currentLocation, op.terminal.location if op.terminal else None):
            if self.isBranch(code):
                return code
        return op.institution.defaultBranch

    def rule(self, patronClass: str, itemType: str) -> LoanRule:
        """
        The rule for C{patronClass} borrowing C{itemType}: the most
        specific row.
        """
        return self.store.cached(
            ("rule", patronClass, itemType),
            lambda: self._loadRule(patronClass, itemType),
        )

    def _loadRule(self, patronClass: str, itemType: str) -> LoanRule:
        return LoanRule.fromRow(
            self.store.row(
                "SELECT * FROM loan_rules"
                " WHERE patron_class IN (?, '*') AND item_type IN (?, '*')"
                " ORDER BY CASE WHEN item_type <> '*' THEN 2 ELSE 0 END"
                " + CASE WHEN patron_class <> '*' THEN 1 ELSE 0 END DESC"
                " LIMIT 1",
                (patronClass, itemType),
            )
        )

    def patronRule(self, patronClass: str) -> LoanRule:
        """
        The patron-wide limits of C{patronClass}: its C{*} item type row.
        """
        return self.store.cached(
            ("patronRule", patronClass), lambda: self._loadPatronRule(patronClass)
        )

    def _loadPatronRule(self, patronClass: str) -> LoanRule:
        return LoanRule.fromRow(
            self.store.row(
                "SELECT * FROM loan_rules"
                " WHERE patron_class IN (?, '*') AND item_type = '*'"
                " ORDER BY patron_class <> '*' DESC LIMIT 1",
                (patronClass,),
            )
        )
