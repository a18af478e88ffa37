# -*- test-case-name: tests.test_session -*-
"""
The seams of sip2acs, as zope interfaces.

L{IILS} is the contract between the SIP2 session and a library's
circulation system. It speaks in patrons, items, loans and payments, never
in SIP2 frames: the session turns its results (the attrs classes in
L{sip2acs.ils.values}) into responses.
"""

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

from sip2acs.ils import values
from sip2acs.sip import spec

OPERATIONS = tuple(operation.name for operation in spec.OPERATIONS)
"""
Operation names for L{IILS.supports}, in the order of the 98 C{BX} field,
from the one table L{sip2acs.sip.spec.OPERATIONS}.
"""

SESSION_OPERATIONS = frozenset(
    operation.name for operation in spec.OPERATIONS if operation.method is None
)
"""
The operations the session answers itself (C{scStatus}, C{resend} and
C{login}): every adapter supports them.
"""


def optionalFlag(adapter: object, name: str) -> bool:
    """
    What an adapter's optional flag method C{name} (C{online} or C{ready},
    see L{IILS}) says; true for an adapter without it.
    """
    method = getattr(adapter, name, None)
    return True if method is None else bool(method())


class IILS(Interface):
    """
    A circulation system behind the ACS.

    Every method but L{supports} returns a L{Deferred
    <twisted.internet.defer.Deferred>}; none may block the reactor thread.
    C{terminal} is the L{Terminal <sip2acs.ils.values.Terminal>} asking: the
    SC account, its institution, location and network address.

    Refusals are results with C{ok} false, a C{reason} code from
    L{sip2acs.ils.values.Reason} and a screen message for the patron; a
    failed Deferred means the system itself failed (the session then
    answers with a refusal saying the library system is unavailable).

    Optionally, a provider may have a C{healthCheck()} method (not part of
    the interface, so adapters without it still provide it): it returns a
    Deferred firing when the circulation system answers a cheap request
    and failing when it does not. The admin listener's C{/health} calls
    it, bounded by a timeout (see L{sip2acs.ops.admin}); adapters without it
    count as healthy.

    Two more optional methods, for adapters in front of a system that can
    be away (the gateway, L{sip2acs.ils.upstream}): C{online()}, whether
    the system answers now (the online status of 98), and C{ready()},
    whether kiosks should be sent to this server (C{/ready}: false when
    the system is away and nothing can be taken in its absence). Adapters
    without them are always online and ready.
    """

    name = Attribute("A short name for logs, e.g. C{sqlite:/path/db}.")

    def supports(operation: str) -> bool:
        """
        Whether this system implements C{operation}, one of L{OPERATIONS}.
        Drives the C{BX} field of 98 and the refusal of unsupported
        requests.

        @rtype: L{bool}
        """

    def lookupPatron(
        terminal: values.Terminal,
        patronId: str,
        pin: str | None = None,
        summary: values.Summary | None = None,
    ) -> Deferred[values.Patron]:
        """
        Look up a patron for 23, 63 and the patron part of other answers.

        @param pin: The PIN the patron typed, or L{None} when none was sent.
            It is checked in constant time against a salted hash.
        @param summary: For a 63 whose summary asks for an item list, which
            list and which window of it (a L{Summary
            <sip2acs.ils.values.Summary>}); L{None} otherwise, and always
            for the other requests. An adapter that returns every list
            whole may ignore it. One that asks another system for that
            window only returns the window as the list and the real
            counts in L{Patron.itemCounts <sip2acs.ils.values.Patron>}.
        @return: Deferred firing with a L{Patron <sip2acs.ils.values.Patron>}
            (C{found} false for an unknown patron; C{pinValid} L{None}
            when no PIN was given).
        """

    def lookupItem(terminal: values.Terminal, itemId: str) -> Deferred[values.Item]:
        """
        Look up an item for 17.

        @return: Deferred firing with an L{Item <sip2acs.ils.values.Item>}
            (C{found} false for an unknown item).
        """

    def checkout(
        terminal: values.Terminal, request: values.CheckoutRequest
    ) -> Deferred[values.CirculationResult]:
        """
        Lend an item (11), or renew it when it is already out to the same
        patron and C{request.scRenewalPolicy} allows.

        @type request: L{CheckoutRequest <sip2acs.ils.values.CheckoutRequest>}
        @return: Deferred firing with a L{CirculationResult
            <sip2acs.ils.values.CirculationResult>}, after the loan is durable.
        """

    def checkin(
        terminal: values.Terminal, request: values.CheckinRequest
    ) -> Deferred[values.CheckinResult]:
        """
        Return an item (09).

        @type request: L{CheckinRequest <sip2acs.ils.values.CheckinRequest>}
        @return: Deferred firing with a L{CheckinResult
            <sip2acs.ils.values.CheckinResult>}, after the return is durable.
        """

    def renew(
        terminal: values.Terminal, request: values.RenewRequest
    ) -> Deferred[values.CirculationResult]:
        """
        Renew one loan (29).

        @type request: L{RenewRequest <sip2acs.ils.values.RenewRequest>}
        @return: Deferred firing with a L{CirculationResult
            <sip2acs.ils.values.CirculationResult>}.
        """

    def renewAll(
        terminal: values.Terminal, patronId: str, pin: str | None = None,
        feeAcknowledged: bool = False,
    ) -> Deferred[values.RenewAllResult]:
        """
        Renew every loan of a patron (65).

        @return: Deferred firing with a L{RenewAllResult
            <sip2acs.ils.values.RenewAllResult>}.
        """

    def hold(
        terminal: values.Terminal, request: values.HoldRequest
    ) -> Deferred[values.HoldResult]:
        """
        Place, cancel or change a hold (15).

        @type request: L{HoldRequest <sip2acs.ils.values.HoldRequest>}
        @return: Deferred firing with a L{HoldResult
            <sip2acs.ils.values.HoldResult>}.
        """

    def feePaid(
        terminal: values.Terminal, payment: values.Payment
    ) -> Deferred[values.PaymentResult]:
        """
        Record a payment taken by the SC (37).

        @type payment: L{Payment <sip2acs.ils.values.Payment>}
        @return: Deferred firing with a L{PaymentResult
            <sip2acs.ils.values.PaymentResult>}, after the payment is durable.
        """

    def blockPatron(
        terminal: values.Terminal, patronId: str, cardRetained: bool, reason: str
    ) -> Deferred[values.Patron]:
        """
        Block a patron's card at the SC's request (01).

        @param reason: The SC's explanation (C{AL}), kept as a note.
        @return: Deferred firing with the L{Patron <sip2acs.ils.values.Patron>}
            as it is after the block.
        """

    def enablePatron(
        terminal: values.Terminal, patronId: str, pin: str | None = None
    ) -> Deferred[values.Patron]:
        """
        Lift a block placed by L{blockPatron} (25).

        @return: Deferred firing with the L{Patron
            <sip2acs.ils.values.Patron>} as it is afterwards.
        """

    def updateItemStatus(
        terminal: values.Terminal, itemId: str, properties: str
    ) -> Deferred[values.ItemStatusResult]:
        """
        Store item properties sent by the SC (19).

        @return: Deferred firing with an L{ItemStatusResult
            <sip2acs.ils.values.ItemStatusResult>}.
        """

    def endPatronSession(
        terminal: values.Terminal, patronId: str, pin: str | None = None
    ) -> Deferred[values.SessionEnd]:
        """
        The patron is done at the SC (35).

        @return: Deferred firing with a L{SessionEnd
            <sip2acs.ils.values.SessionEnd>}.
        """
