"""
The hold request: 15 (add, cancel or alter a hold, by C{BI} mode).
"""

from typing import Any

from twisted.internet.defer import Deferred, succeed

from sip2acs.acs.handlers.common import Session, pin, withExtra
from sip2acs.ils.values import HoldRequest, HoldResult
from sip2acs.sip import codec

__all__ = ["hold"]

_HOLD_MODES = {"+": "add", "-": "cancel", "*": "alter"}


def hold(session: Session, message: Any) -> "Deferred[Any]":
    """
    15: place, cancel or change a hold; an unknown mode is refused.
    """
    mode = _HOLD_MODES.get(message.holdMode)
    if mode is None:
        return succeed(
            session.refuse(message.code, message, "Unknown hold mode.")
        )
    request = HoldRequest(
        mode=mode,
        patronId=message.patronIdentifier or "",
        itemId=message.itemIdentifier or None,
        titleId=message.titleIdentifier or None,
        pin=pin(message),
        expiration=session.fromWire(message.expirationDate),
        pickupLocation=message.pickupLocation or None,
        holdType=message.holdType or None,
        feeAcknowledged=bool(message.feeAcknowledged),
    )
    d = session.ils.hold(session.terminal, request)

    def answer(result: HoldResult) -> codec.Message:
        response = codec.HoldResponse(
            ok=result.ok,
            available=result.available,
            transactionDate=session.now(),
            expirationDate=session.toWire(result.expiration),
            queuePosition=result.queuePosition,
            pickupLocation=result.pickupLocation,
            institutionId=session.institution.id,
            patronIdentifier=message.patronIdentifier or "",
            itemIdentifier=result.itemId,
            titleIdentifier=result.title,
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )
        return withExtra(response, result.extra)

    return d.addCallback(answer)
