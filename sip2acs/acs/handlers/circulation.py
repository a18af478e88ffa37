"""
The circulation requests: 11 (checkout), 29 (renew), 65 (renew all) and
09 (checkin). Dates from the kiosk are converted to the institution's zone
for the adapter, and the adapter's dates back to its wall time.

The account's L{Behaviour <sip2acs.acs.behaviour.Behaviour>} shapes the
answers: the due date's format, the desensitize of a renewal, the
security flags of a refusal for an unknown item, and, in a checkin, how
an item that was not on loan is answered, the alert flag and type, C{CT},
a hold blocking the checkin and the hold patron's name (C{DA}). The
account's circulation policy goes to the adapter with the request: what
refuses a checkout (lost items, overdue loans, item types) and whether a
checkin traps a hold. The screen messages the account's options add are
L{sip2acs.acs.handlers.messages}'.
"""

from typing import Any

from twisted.internet.defer import Deferred

from sip2acs.acs.behaviour import Behaviour
from sip2acs.acs.handlers.common import (
    Session,
    behaviourOf,
    currencyOf,
    dueDateText,
    money,
    pin,
    renderedFields,
    withExtra,
    yn,
)
from sip2acs.acs.handlers.messages import checkinMessages, checkoutMessages
from sip2acs.acs.templates import itemContext, patronContext
from sip2acs.ils.values import (
    AlertType,
    CheckinRequest,
    CheckinResult,
    CheckoutRequest,
    Item,
    Patron,
    Reason,
    RenewAllResult,
    RenewRequest,
)
from sip2acs.sip import codec

__all__ = ["checkin", "checkout", "renew", "renewAll"]


_HELD = frozenset({Reason.ON_HOLD_FOR_OTHER, Reason.HOLD_WAITING})
"""
The reasons of an adapter refusing a checkin because a hold waits for
the item (C{holds-block-checkin}).
"""


def _itemFields(
    behaviour: Behaviour, message: Any, result: Any, **known: Any
) -> list[tuple[str, str]]:
    """
    The account's C{item-fields} for the item of a successful 12, 30 or
    10: what C{result} says of it, and C{known} (more L{Item} fields).
    """
    if not behaviour.itemFields or not result.ok:
        return []
    item = Item(
        found=True,
        itemId=message.itemIdentifier or "",
        title=result.title or "",
        mediaType=result.mediaType,
        properties=result.itemProperties,
        **known,
    )
    return renderedFields(behaviour.itemFields, item=itemContext(item))


def _desensitize(behaviour: Behaviour, cls: Any, result: Any) -> bool | None:
    """
    The desensitize flag of a 12 or 30: the adapter's for a success (N
    for a renewal when the account's C{renewal-desensitize} is off), N
    for a refusal, U for a refusal of an unknown item when the account's
    C{unknown-item-security} says so.
    """
    if not result.ok:
        unknown = result.reason == Reason.UNKNOWN_ITEM
        return None if unknown and behaviour.unknownItemSecurity == "U" else False
    if cls is codec.RenewResponse and not behaviour.renewalDesensitize:
        return False
    return bool(result.desensitize)


def _circulationResponse(session: Session, cls: Any, result: Any, message: Any) -> Any:
    """
    The 12 or 30 answering a checkout or renewal with C{result}.
    """
    behaviour = behaviourOf(session)
    response = cls(
        ok=result.ok,
        renewalOk=result.renewal,
        magneticMedia=result.magneticMedia,
        desensitize=_desensitize(behaviour, cls, result),
        transactionDate=session.now(),
        institutionId=session.institution.id,
        patronIdentifier=message.patronIdentifier or "",
        itemIdentifier=message.itemIdentifier or "",
        titleIdentifier=result.title or "",
        dueDate=(dueDateText(session, result.dueDate) if result.ok else None) or "",
        feeType=result.feeType,
        securityInhibit=yn(result.securityInhibit),
        currencyType=currencyOf(session, result.currency)
        if result.feeAmount is not None
        else None,
        feeAmount=money(result.feeAmount),
        mediaType=result.mediaType,
        itemProperties=result.itemProperties,
        transactionId=result.transactionId,
        screenMessage=result.screenMessages,
        printLine=result.printLines,
        **(
            dict(validPatron=yn(result.patronValid), validPatronPassword=yn(
                result.pinValid))
            if cls is codec.CheckoutResponse
            else {}
        ),
    )
    added = _itemFields(behaviour, message, result, dueDate=result.dueDate)
    return withExtra(response, [*added, *result.extra])


def checkout(session: Session, message: Any) -> "Deferred[Any]":
    """
    11: lend an item to a patron, with the account's policy (lost items,
    overdue loans, blocked item types) for the adapter to apply.
    """
    behaviour = behaviourOf(session)
    request = CheckoutRequest(
        patronId=message.patronIdentifier or "",
        itemId=message.itemIdentifier or "",
        pin=pin(message),
        scRenewalPolicy=bool(message.scRenewalPolicy),
        noBlock=bool(message.noBlock),
        nbDueDate=session.fromWire(message.nbDueDate),
        feeAcknowledged=bool(message.feeAcknowledged),
        cancel=bool(message.cancel),
        itemProperties=message.itemProperties,
        transactionDate=session.fromWire(message.transactionDate),
        lostItemsLimit=behaviour.lostItemsBlockCheckout,
        refuseIfOverdue=behaviour.overduesBlockCheckout,
        blockedItemTypes=behaviour.blockedItemTypes,
    )
    d = session.ils.checkout(session.terminal, request)
    d.addCallback(lambda result: checkoutMessages(session, request.patronId, result))
    return d.addCallback(
        lambda result: _circulationResponse(
            session, codec.CheckoutResponse, result, message
        )
    )


def renew(session: Session, message: Any) -> "Deferred[Any]":
    """
    29: renew one loan.
    """
    request = RenewRequest(
        patronId=message.patronIdentifier or "",
        itemId=message.itemIdentifier,
        titleId=message.titleIdentifier,
        pin=pin(message),
        thirdPartyAllowed=bool(message.thirdPartyAllowed),
        noBlock=bool(message.noBlock),
        nbDueDate=session.fromWire(message.nbDueDate),
        feeAcknowledged=bool(message.feeAcknowledged),
        itemProperties=message.itemProperties,
    )
    d = session.ils.renew(session.terminal, request)
    return d.addCallback(
        lambda result: _circulationResponse(
            session, codec.RenewResponse, result, message
        )
    )


def renewAll(session: Session, message: Any) -> "Deferred[Any]":
    """
    65: renew every loan of a patron.
    """
    d = session.ils.renewAll(
        session.terminal,
        message.patronIdentifier or "",
        pin(message),
        bool(message.feeAcknowledged),
    )

    def answer(result: RenewAllResult) -> codec.Message:
        response = codec.RenewAllResponse(
            ok=result.ok,
            renewedCount=len(result.renewed),
            unrenewedCount=len(result.unrenewed),
            transactionDate=session.now(),
            institutionId=session.institution.id,
            renewedItems=result.renewed,
            unrenewedItems=result.unrenewed,
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )
        return withExtra(response, result.extra)

    return d.addCallback(answer)


def checkin(session: Session, message: Any) -> "Deferred[Any]":
    """
    09: return an item.
    """
    behaviour = behaviourOf(session)
    request = CheckinRequest(
        itemId=message.itemIdentifier or "",
        currentLocation=message.currentLocation or None,
        returnDate=session.fromWire(message.returnDate),
        noBlock=bool(message.noBlock),
        cancel=bool(message.cancel),
        itemProperties=message.itemProperties,
        transactionDate=session.fromWire(message.transactionDate),
        refuseIfHeld=behaviour.holdsBlockCheckin,
        trapHolds=behaviour.holdsCapture,
    )
    d = session.ils.checkin(session.terminal, request)
    d.addCallback(lambda result: checkinMessages(session, request.itemId, result))

    def answer(result: CheckinResult) -> codec.Message:
        shaped = _shapedCheckin(behaviour, result)
        response = codec.CheckinResponse(
            ok=shaped["ok"],
            resensitize=shaped["resensitize"],
            magneticMedia=result.magneticMedia,
            alert=shaped["alert"],
            transactionDate=session.now(),
            institutionId=session.institution.id,
            itemIdentifier=message.itemIdentifier or "",
            permanentLocation=result.permanentLocation or "",
            titleIdentifier=result.title or "",
            sortBin=result.sortBin,
            patronIdentifier=result.patronId,
            mediaType=result.mediaType,
            itemProperties=result.itemProperties,
            collectionCode=result.collectionCode,
            callNumber=result.callNumber,
            destinationLocation=shaped["destination"],
            alertType=shaped["alertType"],
            holdPatronId=result.holdPatronId,
            holdPatronName=_holdPatronName(behaviour, result),
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )
        added = _itemFields(
            behaviour, message, result,
            permanentLocation=result.permanentLocation or None,
            callNumber=result.callNumber,
            collectionCode=result.collectionCode,
            destination=result.destination,
        )
        return withExtra(response, [*added, *result.extra])

    return d.addCallback(answer)


def _shapedCheckin(behaviour: Behaviour, result: CheckinResult) -> dict[str, Any]:
    """
    The fixed flags, C{CV} and C{CT} of the 10 answering C{result}, as
    the account's options want them.
    """
    ok = result.ok
    alert = result.alert
    alertType = result.alertType
    resensitize: bool | None = result.resensitize
    destination = result.destination
    notOut = ok and (result.patronId is None or result.reason == Reason.NOT_ON_LOAN)
    if notOut and behaviour.checkinNotOut == "refused":
        ok = False
    if not ok and behaviour.holdsBlockCheckin and result.reason in _HELD:
        alert = True
        alertType = alertType or AlertType.HOLD_HERE
    if result.reason == Reason.UNKNOWN_ITEM and behaviour.unknownItemSecurity == "U":
        resensitize = None
    if behaviour.alertOnlyWithCV:
        alert = alertType is not None
    if behaviour.cvOnSuccess and ok and alertType is None:
        alertType = AlertType.UNKNOWN
    if behaviour.alwaysSendCT and destination is None:
        destination = ""
    return dict(
        ok=ok, alert=alert, alertType=alertType, resensitize=resensitize,
        destination=destination,
    )


def _holdPatronName(behaviour: Behaviour, result: CheckinResult) -> str | None:
    """
    C{DA}: the hold patron's name, or the account's C{da-template}
    rendered for that patron.
    """
    template = behaviour.daTemplate
    if template is None or not (result.holdPatronId or result.holdPatronName):
        return result.holdPatronName
    patron = Patron(
        found=True, patronId=result.holdPatronId or "", name=result.holdPatronName or ""
    )
    return template.render(patron=patronContext(patron)) or result.holdPatronName
