# -*- test-case-name: tests.test_ils_memory,tests.test_ils_sqlite -*-
"""
What every part of the adapter contract shares: the fixture hook
(L{ContractCase.makeILS}), the terminals, and helpers that make one
request each and check a refusal.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, maybeDeferred

from sip2acs.ils.interfaces import IILS
from sip2acs.ils.testing.library import (
    CONTRACT_NOW,
    CONTRACT_ZONE,
    ContractLibrary,
    contractLibrary,
)
from sip2acs.ils.values import (
    CheckinRequest,
    CheckinResult,
    CheckoutRequest,
    CirculationResult,
    HoldRequest,
    HoldResult,
    Item,
    Patron,
    Payment,
    PaymentResult,
    RenewRequest,
    Terminal,
)

__all__ = ["ContractCase", "DENIED"]

if TYPE_CHECKING:
    from twisted.trial.unittest import TestCase as _Base
else:
    _Base = object

DENIED = {
    "chargePrivilegesDenied",
    "renewalPrivilegesDenied",
    "recallPrivilegesDenied",
    "holdPrivilegesDenied",
}
"""
The patron status flags of a card that may not be used.
"""


class ContractCase(_Base):
    """
    The fixture hook and helpers, for a L{twisted.trial.unittest.TestCase}
    subclass: C{setUp} builds the contract library and asks L{makeILS} for
    an adapter holding it, as C{self.ils}.

    @cvar ZONE: The institution's time zone the adapter works in.
    @cvar NOW: The pinned time of the adapter's clock and of the library.
    @ivar library: The L{ContractLibrary} the adapter was loaded with.
    """

    ZONE = CONTRACT_ZONE
    NOW = CONTRACT_NOW

    terminal = Terminal(
        account="kiosk1", institution="DEMO", location="MAIN", peer="192.0.2.10"
    )
    eastTerminal = Terminal(
        account="kiosk2", institution="DEMO", location="EAST", peer="192.0.2.20"
    )

    ils: IILS
    library: ContractLibrary

    def makeILS(self, library: ContractLibrary) -> Any:
        """
        Return (or a Deferred firing with) a fresh, started adapter holding
        C{library} and nothing else, its clock pinned at C{library.now},
        working in C{library.zone}. Stopping it is the subclass's business
        (C{addCleanup}).
        """
        raise NotImplementedError("%s must implement makeILS" % (type(self),))

    def setUp(self) -> Deferred[None]:  # type: ignore[override]
        self.library = contractLibrary(self.NOW)
        d = maybeDeferred(self.makeILS, self.library)

        def _cbStore(ils: IILS) -> None:
            self.ils = ils

        return d.addCallback(_cbStore)

    def due(self, days: int) -> datetime:
        """
        The due date of a loan of C{days} days made now.
        """
        return datetime.combine(
            self.NOW.date() + timedelta(days=days), time(23, 59), tzinfo=self.ZONE
        )

    def patron(self, patronId: str, pin: str | None = None,
               terminal: Terminal | None = None) -> Deferred[Patron]:
        return self.ils.lookupPatron(terminal or self.terminal, patronId, pin)

    def item(self, itemId: str) -> Deferred[Item]:
        return self.ils.lookupItem(self.terminal, itemId)

    def checkout(self, patronId: str, itemId: str, terminal: Terminal | None = None,
                 **kw: Any) -> Deferred[CirculationResult]:
        return self.ils.checkout(
            terminal or self.terminal, CheckoutRequest(patronId, itemId, **kw)
        )

    def checkin(self, itemId: str, terminal: Terminal | None = None,
                **kw: Any) -> Deferred[CheckinResult]:
        return self.ils.checkin(terminal or self.terminal, CheckinRequest(itemId, **kw))

    def renew(self, patronId: str, itemId: str | None = None,
              **kw: Any) -> Deferred[CirculationResult]:
        return self.ils.renew(self.terminal, RenewRequest(patronId, itemId, **kw))

    def hold(self, mode: str, patronId: str, **kw: Any) -> Deferred[HoldResult]:
        return self.ils.hold(self.terminal, HoldRequest(mode, patronId, **kw))

    def pay(self, patronId: str, amount: str, **kw: Any) -> Deferred[PaymentResult]:
        return self.ils.feePaid(
            self.terminal, Payment(patronId, Decimal(amount), **kw)
        )

    async def chargedTo(self, patronId: str) -> set[str]:
        """
        The barcodes of the items out to C{patronId}.
        """
        patron = await self.patron(patronId)
        return {ref.itemId for ref in patron.chargedItems}

    def assertRefused(self, result: Any, reason: str) -> None:
        """
        C{result} is a refusal for C{reason} with a screen message.
        """
        ok = getattr(result, "ok", getattr(result, "accepted", None))
        self.assertIs(ok, False, result)
        self.assertEqual(result.reason, reason, result)
        self.assertTrue(result.screenMessages, "no screen message: %r" % (result,))
        self.assertTrue(all(m.strip() for m in result.screenMessages))

