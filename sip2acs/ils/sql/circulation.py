# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
The circulation operations of the SQL circulation systems, on one
L{Store}: L{Circulation}, the facade the adapters (L{SQLiteILS
<sip2acs.ils.sqlite.adapter.SQLiteILS>}, L{PostgresILS
<sip2acs.ils.postgres.adapter.PostgresILS>}) call on their worker threads.

Each public method is one operation of L{IILS
<sip2acs.ils.interfaces.IILS>}: one transaction (L{Store.atomically}) that
ends with a row in the append-only C{transaction_log} table and commits
before the method returns (a lookup is a read-only transaction and is not
logged). Refusals are results (C{ok} false, a L{Reason
<sip2acs.ils.values.Reason>} and a screen message), never exceptions; an
exception means the database failed, and rolls the whole operation back.

The work is done by one collaborator per concern, sharing the L{Store}:
L{Rules} (reference rows), L{Patrons}, L{Items}, L{Holds}, L{Fees},
L{Checkins}, L{Renewals}, L{Checkouts}. This class only says which
operation is which transaction.

Times are aware, in the institution's zone (see L{sip2acs.ils.zones} for
the time model); the database keeps the zone's wall time as text (see
L{sip2acs.ils.sql.store}). Reading a row never fails on its contents:
a time or date that cannot be read (written by hand, or by an older
version) is logged once and read as unknown (L{None}): a loan with an
unknown due date is not overdue, and is fined nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any, TypeVar

import attrs

from sip2acs.ils.sql.checkin import Checkins
from sip2acs.ils.sql.checkout import Checkouts
from sip2acs.ils.sql.fees import Fees
from sip2acs.ils.sql.holds import Holds
from sip2acs.ils.sql.items import Items
from sip2acs.ils.sql.patrons import Patrons
from sip2acs.ils.sql.renewals import Renewals
from sip2acs.ils.sql.rules import Rules, SortBins
from sip2acs.ils.sql.store import Operation, Store
from sip2acs.ils.values import (
    CheckinRequest,
    CheckinResult,
    CheckoutRequest,
    CirculationResult,
    HoldRequest,
    HoldResult,
    Item,
    ItemStatusResult,
    Patron,
    Payment,
    PaymentResult,
    RenewAllResult,
    RenewRequest,
    SessionEnd,
    Terminal,
)

__all__ = ["Circulation"]

_R = TypeVar("_R")


def _outcome(result: object) -> tuple[bool, str | None]:
    """
    Whether C{result} succeeded, and its reason, for the journal row.
    """
    for attribute in ("ok", "accepted", "found"):
        if hasattr(result, attribute):
            return getattr(result, attribute), getattr(result, "reason", None)
    return True, None


class Circulation:
    """
    The circulation operations on one L{Store}.

    @ivar store: The connection, as the collaborators share it.
    """

    def __init__(self, store: Store,
                 sortBins: SortBins | Mapping[str, str] | None = None,
                 allowOverpayment: bool = False) -> None:
        """
        @param store: The database session (see L{sip2acs.ils.sql.store});
            used only from one thread at a time.
        @param sortBins: The checkin sort bins, or a mapping for them.
        @param allowOverpayment: Whether a payment over what is owed is
            accepted (the rest becomes a credit) instead of refused.
        """
        if not isinstance(sortBins, SortBins):
            sortBins = SortBins(sortBins)
        self.store = store
        self.rules = rules = Rules(store)
        self.patrons = patrons = Patrons(store, rules)
        self.items = items = Items(store, rules)
        self.holds = holds = Holds(store, rules, patrons, items)
        self.fees = fees = Fees(store, patrons, allowOverpayment)
        self.checkins = checkins = Checkins(store, rules, items, holds, fees, sortBins)
        self.renewals = renewals = Renewals(store, rules, patrons, items, fees)
        self.checkouts = Checkouts(
            store, rules, patrons, items, holds, fees, checkins, renewals
        )

    @property
    def zone(self) -> tzinfo:
        """
        The institution's time zone.
        """
        return self.store.zone

    @property
    def allowOverpayment(self) -> bool:
        """
        Whether a payment over what is owed is accepted.
        """
        return self.fees.allowOverpayment

    def currency(self, institution: str) -> str:
        """
        The currency the database keeps C{institution}'s amounts in.
        """
        return self.store.atomically(
            lambda: self.rules.institutionNamed(institution).currency, write=False
        )

    def _operation(self, terminal: Terminal | None, patronId: str | None,
                   itemId: str | None) -> Operation:
        return Operation(
            terminal=terminal,
            now=self.store.now(),
            institution=self.rules.institution(terminal),
            patron=patronId,
            item=itemId,
        )

    def _read(self, terminal: Terminal | None, patronId: str | None,
              itemId: str | None, body: Callable[..., _R], *args: Any) -> _R:
        """
        Run C{body(op, *args)} in a read-only transaction: a lookup, which
        changes nothing and so is not logged.
        """
        return self.store.atomically(
            lambda: body(self._operation(terminal, patronId, itemId), *args),
            write=False,
        )

    def _perform(self, name: str, terminal: Terminal | None, patronId: str | None,
                 itemId: str | None, body: Callable[..., _R],
                 *args: Any) -> tuple[_R, str]:
        """
        Run C{body(op, *args)} as one logged transaction.

        @return: C{(result, transaction id)}.
        """
        def attempt() -> tuple[_R, str]:
            op = self._operation(terminal, patronId, itemId)
            result = body(op, *args)
            ok, reason = _outcome(result)
            return result, str(self.store.appendLog(op, name, ok, reason))

        return self.store.atomically(attempt)

    # IILS operations

    def lookupPatron(self, terminal: Terminal | None, patronId: str,
                     pin: str | None = None) -> Patron:
        """
        Look up a patron (23, 63). See L{IILS.lookupPatron}.
        """
        return self._read(terminal, patronId, None, self.patrons.lookup, pin)

    def lookupItem(self, terminal: Terminal | None, itemId: str) -> Item:
        """
        Look up an item (17).
        """
        return self._read(terminal, None, itemId, self.items.lookup)

    def checkout(self, terminal: Terminal | None,
                 request: CheckoutRequest) -> CirculationResult:
        """
        Lend an item (11), renew it on checkout, accept an off-line
        (no-block) loan or cancel a checkin.
        """
        result, transactionId = self._perform(
            "checkout", terminal, request.patronId, request.itemId,
            self.checkouts.checkout, request,
        )
        if result.ok:
            result = attrs.evolve(result, transactionId=transactionId)
        return result

    def renew(self, terminal: Terminal | None,
              request: RenewRequest) -> CirculationResult:
        """
        Renew one loan (29), by item barcode or title.
        """
        result, transactionId = self._perform(
            "renew", terminal, request.patronId, request.itemId or request.titleId,
            self.renewals.renew, request,
        )
        if result.ok:
            result = attrs.evolve(result, transactionId=transactionId)
        return result

    def renewAll(self, terminal: Terminal | None, patronId: str,
                 pin: str | None = None,
                 feeAcknowledged: bool = False) -> RenewAllResult:
        """
        Renew every loan of a patron (65).
        """
        return self._perform(
            "renewAll", terminal, patronId, None, self.renewals.renewAll, pin,
            feeAcknowledged,
        )[0]

    def checkin(self, terminal: Terminal | None,
                request: CheckinRequest) -> CheckinResult:
        """
        Return an item (09), or cancel a checkout.
        """
        return self._perform(
            "checkin", terminal, None, request.itemId, self.checkins.checkin, request
        )[0]

    def hold(self, terminal: Terminal | None, request: HoldRequest) -> HoldResult:
        """
        Place, cancel or change a hold (15).
        """
        return self._perform(
            "hold", terminal, request.patronId, request.itemId or request.titleId,
            self.holds.hold, request,
        )[0]

    def feePaid(self, terminal: Terminal | None, payment: Payment) -> PaymentResult:
        """
        Record a payment (37): oldest fees first, or the one fee asked for.
        """
        result, transactionId = self._perform(
            "feePaid", terminal, payment.patronId, None, self.fees.pay, payment
        )
        if result.accepted:
            result = attrs.evolve(result, transactionId=transactionId)
        return result

    def blockPatron(self, terminal: Terminal | None, patronId: str,
                    cardRetained: bool, reason: str | None) -> Patron:
        """
        Block a card at the SC's request (01), keeping its note.
        """
        return self._perform(
            "blockPatron", terminal, patronId, None, self.patrons.block,
            cardRetained, reason,
        )[0]

    def enablePatron(self, terminal: Terminal | None, patronId: str,
                     pin: str | None = None) -> Patron:
        """
        Lift a block placed by L{blockPatron} (25).
        """
        return self._perform(
            "enablePatron", terminal, patronId, None, self.patrons.enable, pin
        )[0]

    def updateItemStatus(self, terminal: Terminal | None, itemId: str,
                         properties: str | None) -> ItemStatusResult:
        """
        Store item properties sent by the SC (19).
        """
        return self._perform(
            "updateItemStatus", terminal, None, itemId, self.items.updateStatus,
            properties,
        )[0]

    def endPatronSession(self, terminal: Terminal | None, patronId: str,
                         pin: str | None = None) -> SessionEnd:
        """
        The patron is done (35); only logged.
        """
        return self._perform(
            "endPatronSession", terminal, patronId, None,
            lambda op: SessionEnd(ok=True, screenMessages=["Thank you!"]),
        )[0]
