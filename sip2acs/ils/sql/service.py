# -*- test-case-name: tests.test_ils_sqlite,tests.test_ils_postgres -*-
"""
The IILS operations of the SQL adapters, each handed to the shared
L{Circulation <sip2acs.ils.sql.circulation.Circulation>} on a worker
thread: L{CirculationCalls}, mixed into L{SQLiteILS
<sip2acs.ils.sqlite.adapter.SQLiteILS>} and L{PostgresILS
<sip2acs.ils.postgres.adapter.PostgresILS>}, which say how a call reaches
its thread (C{_run}).
"""

from typing import Any

from twisted.internet.defer import Deferred

from sip2acs.ils import values
from sip2acs.ils.sql.circulation import Circulation

__all__ = ["CirculationCalls"]


class CirculationCalls:
    """
    The L{IILS <sip2acs.ils.interfaces.IILS>} operations as calls of a
    L{Circulation} method, through C{self._run(method, *args)}.
    """

    def _run(self, method: Any, *args: Any) -> Deferred:
        """
        Call C{method(circulation, *args)} on a worker thread.
        """
        raise NotImplementedError

    def currency(self, institution: str) -> Deferred[str]:
        """
        The currency the database keeps C{institution}'s amounts in (set
        by C{sip2acs db init --currency}): what the answers' C{BH} says,
        whatever the institution's C{currency} setting.

        @return: A Deferred firing with the ISO 4217 code.
        """
        return self._run(Circulation.currency, institution)

    def lookupPatron(self, terminal: values.Terminal | None, patronId: str,
                     pin: str | None = None,
                     summary: values.Summary | None = None) -> Deferred[values.Patron]:
        """
        L{IILS.lookupPatron <sip2acs.ils.interfaces.IILS.lookupPatron>}
        on a worker thread. Every list is returned whole: C{summary} is
        not needed.
        """
        return self._run(Circulation.lookupPatron, terminal, patronId, pin)

    def lookupItem(self, terminal: values.Terminal | None, itemId: str) -> Deferred[values.Item]:
        """
        L{IILS.lookupItem <sip2acs.ils.interfaces.IILS.lookupItem>}
        on a worker thread.
        """
        return self._run(Circulation.lookupItem, terminal, itemId)

    def checkout(self, terminal: values.Terminal | None,
                 request: values.CheckoutRequest) -> Deferred[values.CirculationResult]:
        """
        L{IILS.checkout <sip2acs.ils.interfaces.IILS.checkout>}
        on a worker thread.
        """
        return self._run(Circulation.checkout, terminal, request)

    def checkin(self, terminal: values.Terminal | None,
                request: values.CheckinRequest) -> Deferred[values.CheckinResult]:
        """
        L{IILS.checkin <sip2acs.ils.interfaces.IILS.checkin>}
        on a worker thread.
        """
        return self._run(Circulation.checkin, terminal, request)

    def renew(self, terminal: values.Terminal | None,
              request: values.RenewRequest) -> Deferred[values.CirculationResult]:
        """
        L{IILS.renew <sip2acs.ils.interfaces.IILS.renew>}
        on a worker thread.
        """
        return self._run(Circulation.renew, terminal, request)

    def renewAll(self, terminal: values.Terminal | None, patronId: str, pin: str | None = None,
                 feeAcknowledged: bool = False) -> Deferred[values.RenewAllResult]:
        """
        L{IILS.renewAll <sip2acs.ils.interfaces.IILS.renewAll>}
        on a worker thread.
        """
        return self._run(
            Circulation.renewAll, terminal, patronId, pin, feeAcknowledged
        )

    def hold(self, terminal: values.Terminal | None,
             request: values.HoldRequest) -> Deferred[values.HoldResult]:
        """
        L{IILS.hold <sip2acs.ils.interfaces.IILS.hold>}
        on a worker thread.
        """
        return self._run(Circulation.hold, terminal, request)

    def feePaid(self, terminal: values.Terminal | None,
                payment: values.Payment) -> Deferred[values.PaymentResult]:
        """
        L{IILS.feePaid <sip2acs.ils.interfaces.IILS.feePaid>}
        on a worker thread.
        """
        return self._run(Circulation.feePaid, terminal, payment)

    def blockPatron(self, terminal: values.Terminal | None, patronId: str, cardRetained: bool,
                    reason: str) -> Deferred[values.Patron]:
        """
        L{IILS.blockPatron <sip2acs.ils.interfaces.IILS.blockPatron>}
        on a worker thread.
        """
        return self._run(
            Circulation.blockPatron, terminal, patronId, cardRetained, reason
        )

    def enablePatron(self, terminal: values.Terminal | None, patronId: str,
                     pin: str | None = None) -> Deferred[values.Patron]:
        """
        L{IILS.enablePatron <sip2acs.ils.interfaces.IILS.enablePatron>}
        on a worker thread.
        """
        return self._run(Circulation.enablePatron, terminal, patronId, pin)

    def updateItemStatus(self, terminal: values.Terminal | None, itemId: str,
                         properties: str) -> Deferred[values.ItemStatusResult]:
        """
        L{IILS.updateItemStatus <sip2acs.ils.interfaces.IILS.updateItemStatus>}
        on a worker thread.
        """
        return self._run(Circulation.updateItemStatus, terminal, itemId, properties)

    def endPatronSession(self, terminal: values.Terminal | None, patronId: str,
                         pin: str | None = None) -> Deferred[values.SessionEnd]:
        """
        L{IILS.endPatronSession <sip2acs.ils.interfaces.IILS.endPatronSession>}
        on a worker thread.
        """
        return self._run(Circulation.endPatronSession, terminal, patronId, pin)
