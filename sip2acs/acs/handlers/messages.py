# -*- test-case-name: tests.test_behaviour_messages -*-
"""
Screen messages an account's options add to circulation answers, with no
change in the circulation system:

  - C{show-outstanding-amount} (Koha's C{show_outstanding_amount}): a
    checkout refused for the patron's fines says what the patron owes; a
    checkin of a loan says what the patron owes in overdue fines for that
    item. Each asks the adapter for the patron (L{IILS.lookupPatron
    <sip2acs.ils.interfaces.IILS.lookupPatron>}) once more, and only with
    the option on;
  - C{show-checkin-message} (Koha's C{show_checkin_message}): a checkin
    of a loan says the item was checked in, and where it belongs.

A lookup that fails leaves the answer as the circulation system gave it
(the checkout or checkin is done either way): the failure is logged.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import attrs
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.python.failure import Failure

from sip2acs.acs.handlers.common import Session, behaviourOf, currencyOf, money
from sip2acs.ils.values import CheckinResult, CirculationResult, FeeType, Patron, Reason

__all__ = ["checkinMessages", "checkoutMessages"]


_R = TypeVar("_R", CheckinResult, CirculationResult)


def _withScreens(result: _R, texts: list[str]) -> _R:
    """
    C{result} with C{texts} after its own screen messages.
    """
    if not texts:
        return result
    return attrs.evolve(result, screenMessages=(*result.screenMessages, *texts))


def _owed(
    session: Session, patronId: str, amountOf: Callable[[Patron], Decimal | None]
) -> "Deferred[str | None]":
    """
    What patron C{patronId} owes, by C{amountOf} the patron the adapter
    gives, written for a screen message (C{"2.50 USD"}); L{None} when
    nothing is owed, the patron is not found or the lookup fails.
    """

    def text(patron: Patron) -> str | None:
        if not patron.found:
            return None
        amount = amountOf(patron)
        if amount is None or amount <= 0:
            return None
        return "%s %s" % (money(amount), currencyOf(session, patron.currency))

    def failed(failure: Failure) -> None:
        session.log.warn(
            "show-outstanding-amount: the patron's fees could not be read;"
            " answered without them: {error}",
            error=failure.getErrorMessage(),
        )
        return None

    d = maybeDeferred(session.ils.lookupPatron, session.terminal, patronId)
    return d.addCallback(text).addErrback(failed)


def checkoutMessages(
    session: Session, patronId: str, result: CirculationResult
) -> "Deferred[CirculationResult]":
    """
    C{result} of a checkout with the account's added screen messages: with
    C{show-outstanding-amount}, a refusal for the patron's fines says what
    the patron owes in all.
    """
    behaviour = behaviourOf(session)
    if not (
        behaviour.showOutstandingAmount
        and not result.ok
        and result.reason == Reason.EXCESSIVE_FINES
    ):
        return succeed(result)
    d = _owed(session, patronId, lambda patron: patron.feeAmount)

    def add(owed: str | None) -> CirculationResult:
        texts = [] if owed is None else ["Amount owed: %s." % (owed,)]
        return _withScreens(result, texts)

    return d.addCallback(add)


def _overdueFor(itemId: str) -> Callable[[Patron], Decimal | None]:
    """
    What a patron owes in overdue fines for item C{itemId}.
    """

    def amount(patron: Patron) -> Decimal | None:
        return sum(
            (
                ref.amount
                for ref in patron.fineItems
                if ref.itemId == itemId
                and ref.feeType == FeeType.OVERDUE
                and ref.amount is not None
            ),
            Decimal(0),
        )

    return amount


def _checkinText(result: CheckinResult) -> str:
    """
    The C{show-checkin-message} text: the item checked in, with its
    permanent location and collection where the system tells them.
    """
    where = ", ".join(
        part for part in (result.permanentLocation, result.collectionCode) if part
    )
    return "Item checked in (%s)." % (where,) if where else "Item checked in."


def checkinMessages(
    session: Session, itemId: str, result: CheckinResult
) -> "Deferred[CheckinResult]":
    """
    C{result} of a checkin with the account's added screen messages: for
    an item that was on loan, C{show-checkin-message}'s, then
    C{show-outstanding-amount}'s overdue fines owed for it (by the patron
    who had it).
    """
    behaviour = behaviourOf(session)
    wasOut = (
        result.ok and result.patronId is not None and result.reason != Reason.NOT_ON_LOAN
    )
    if not wasOut or not (behaviour.showCheckinMessage or behaviour.showOutstandingAmount):
        return succeed(result)
    texts = [_checkinText(result)] if behaviour.showCheckinMessage else []
    if not behaviour.showOutstandingAmount or not itemId or result.patronId is None:
        return succeed(_withScreens(result, texts))
    d = _owed(session, result.patronId, _overdueFor(itemId))

    def add(owed: str | None) -> CheckinResult:
        if owed is not None:
            texts.append("Overdue fines owed for this item: %s." % (owed,))
        return _withScreens(result, texts)

    return d.addCallback(add)
