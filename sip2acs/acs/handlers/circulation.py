"""
The circulation requests: 11 (checkout), 29 (renew), 65 (renew all) and
09 (checkin). Dates from the kiosk are converted to the institution's zone
for the adapter, and the adapter's dates back to its wall time.
"""

from typing import Any

from twisted.internet.defer import Deferred

from sip2acs.acs.handlers.common import Session, currencyOf, money, pin, withExtra, yn
from sip2acs.ils.values import (
    CheckinRequest,
    CheckinResult,
    CheckoutRequest,
    RenewAllResult,
    RenewRequest,
)
from sip2acs.sip import codec

__all__ = ["checkin", "checkout", "renew", "renewAll"]


def _circulationResponse(session: Session, cls: Any, result: Any, message: Any) -> Any:
    """
    The 12 or 30 answering a checkout or renewal with C{result}.
    """
    response = cls(
        ok=result.ok,
        renewalOk=result.renewal,
        magneticMedia=result.magneticMedia,
        desensitize=result.desensitize if result.ok else False,
        transactionDate=session.now(),
        institutionId=session.institution.id,
        patronIdentifier=message.patronIdentifier or "",
        itemIdentifier=message.itemIdentifier or "",
        titleIdentifier=result.title or "",
        dueDate=codec.formatDate(session.toWire(result.dueDate))
        if result.ok and result.dueDate
        else "",
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
    return withExtra(response, result.extra)


def checkout(session: Session, message: Any) -> "Deferred[Any]":
    """
    11: lend an item to a patron.
    """
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
    )
    d = session.ils.checkout(session.terminal, request)
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
    request = CheckinRequest(
        itemId=message.itemIdentifier or "",
        currentLocation=message.currentLocation or None,
        returnDate=session.fromWire(message.returnDate),
        noBlock=bool(message.noBlock),
        cancel=bool(message.cancel),
        itemProperties=message.itemProperties,
        transactionDate=session.fromWire(message.transactionDate),
    )
    d = session.ils.checkin(session.terminal, request)

    def answer(result: CheckinResult) -> codec.Message:
        response = codec.CheckinResponse(
            ok=result.ok,
            resensitize=result.resensitize,
            magneticMedia=result.magneticMedia,
            alert=result.alert,
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
            destinationLocation=result.destination,
            alertType=result.alertType,
            holdPatronId=result.holdPatronId,
            holdPatronName=result.holdPatronName,
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )
        return withExtra(response, result.extra)

    return d.addCallback(answer)
