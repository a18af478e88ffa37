"""
The fee request: 37 (fee paid). An amount that is not a valid one (see
L{feeAmount <sip2acs.acs.handlers.common.feeAmount>}) is refused without
asking the adapter.
"""

from typing import Any

from twisted.internet.defer import Deferred, succeed

from sip2acs.acs.handlers.common import Session, feeAmount, pin, withExtra
from sip2acs.ils.values import Payment, PaymentResult
from sip2acs.sip import codec

__all__ = ["feePaid"]


def feePaid(session: Session, message: Any) -> "Deferred[Any]":
    """
    37: pay (part of) what a patron owes.
    """
    amount = feeAmount(message.feeAmount or "")
    if amount is None:
        return succeed(
            session.refuse(message.code, message, "The amount is not valid.")
        )
    payment = Payment(
        patronId=message.patronIdentifier or "",
        amount=amount,
        pin=pin(message),
        currency=(message.currencyType or "").strip() or None,
        feeType=message.feeType or "01",
        paymentType=message.paymentType or "00",
        feeId=message.feeIdentifier,
        transactionId=message.transactionId,
    )
    d = session.ils.feePaid(session.terminal, payment)

    def answer(result: PaymentResult) -> codec.Message:
        response = codec.FeePaidResponse(
            paymentAccepted=result.accepted,
            transactionDate=session.now(),
            institutionId=session.institution.id,
            patronIdentifier=message.patronIdentifier or "",
            transactionId=result.transactionId,
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )
        return withExtra(response, result.extra)

    return d.addCallback(answer)
