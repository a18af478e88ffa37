# -*- test-case-name: tests.test_session -*-
"""
The base of every adapter: L{ILSBase}, which refuses every operation a
subclass does not implement, and the two errors an adapter raises
(L{UnsupportedOperation}, L{ILSUnavailable}).

The values adapters exchange live in L{sip2acs.ils.values} and the time
model in L{sip2acs.ils.zones}; this module re-exports both, under the names
it has always offered.
"""

from collections.abc import Iterable
from typing import Any

from twisted.internet.defer import Deferred, fail
from zope.interface import implementer

from sip2acs.ils import values, zones
from sip2acs.ils.interfaces import IILS, SESSION_OPERATIONS
from sip2acs.ils.values import *  # noqa: F403 (re-exported, see __all__)
from sip2acs.ils.zones import *  # noqa: F403 (re-exported, see __all__)

__all__ = ["UnsupportedOperation", "ILSUnavailable", "UnknownSettings", "ILSBase"]
__all__ += zones.__all__
__all__ += values.__all__


class UnsupportedOperation(NotImplementedError):
    """
    The adapter does not implement this operation.
    """


class UnknownSettings(ValueError):
    """
    An adapter was given settings it does not know (a misspelt key, most
    often): the configuration places each on its line and suggests the
    known one it resembles.

    @ivar adapter: The adapter's name in messages (C{"sqlite ILS"}).
    @ivar keys: The unknown keys, sorted.
    @ivar known: The keys it knows, sorted.
    """

    def __init__(self, adapter: str, keys: Iterable[str], known: Iterable[str]) -> None:
        self.adapter = adapter
        self.keys = sorted(keys)
        self.known = sorted(known)
        ValueError.__init__(
            self,
            "unknown %s settings: %s (known: %s)"
            % (adapter, ", ".join(self.keys), ", ".join(self.known)),
        )


class ILSUnavailable(Exception):
    """
    The circulation system cannot serve requests now, for a reason the
    adapter knows and its message says in one sentence (the database is
    locked by another process, its disk is full, its file was deleted).
    The SC gets "not available"; the log gets that sentence, without a
    traceback, since there is no bug to find.
    """


@implementer(IILS)
class ILSBase:
    """
    Base class for adapters: every operation fails with
    L{UnsupportedOperation} until a subclass implements it, and
    L{supports} answers from the class attribute C{operations}.

    @cvar operations: The operation names (from
        L{sip2acs.ils.interfaces.OPERATIONS}) the subclass implements.
    """

    name = "ils"
    operations: frozenset[str] = frozenset()

    def supports(self, operation: str) -> bool:
        return operation in SESSION_OPERATIONS or operation in self.operations

    def _unsupported(self, operation: str) -> Deferred[Any]:
        return fail(UnsupportedOperation(operation))

    def lookupPatron(
        self,
        terminal: values.Terminal,
        patronId: str,
        pin: str | None = None,
        summary: values.Summary | None = None,
    ) -> Deferred[values.Patron]:
        return self._unsupported("patronInformation")

    def lookupItem(self, terminal: values.Terminal, itemId: str) -> Deferred[values.Item]:
        return self._unsupported("itemInformation")

    def checkout(
        self, terminal: values.Terminal, request: values.CheckoutRequest
    ) -> Deferred[values.CirculationResult]:
        return self._unsupported("checkout")

    def checkin(
        self, terminal: values.Terminal, request: values.CheckinRequest
    ) -> Deferred[values.CheckinResult]:
        return self._unsupported("checkin")

    def renew(
        self, terminal: values.Terminal, request: values.RenewRequest
    ) -> Deferred[values.CirculationResult]:
        return self._unsupported("renew")

    def renewAll(
        self,
        terminal: values.Terminal,
        patronId: str,
        pin: str | None = None,
        feeAcknowledged: bool = False,
    ) -> Deferred[values.RenewAllResult]:
        return self._unsupported("renewAll")

    def hold(
        self, terminal: values.Terminal, request: values.HoldRequest
    ) -> Deferred[values.HoldResult]:
        return self._unsupported("hold")

    def feePaid(
        self, terminal: values.Terminal, payment: values.Payment
    ) -> Deferred[values.PaymentResult]:
        return self._unsupported("feePaid")

    def blockPatron(
        self, terminal: values.Terminal, patronId: str, cardRetained: bool, reason: str
    ) -> Deferred[values.Patron]:
        return self._unsupported("blockPatron")

    def enablePatron(
        self, terminal: values.Terminal, patronId: str, pin: str | None = None
    ) -> Deferred[values.Patron]:
        return self._unsupported("patronEnable")

    def updateItemStatus(
        self, terminal: values.Terminal, itemId: str, properties: str
    ) -> Deferred[values.ItemStatusResult]:
        return self._unsupported("itemStatusUpdate")

    def endPatronSession(
        self, terminal: values.Terminal, patronId: str, pin: str | None = None
    ) -> Deferred[values.SessionEnd]:
        return self._unsupported("endPatronSession")
