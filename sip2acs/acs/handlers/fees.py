"""
The fee request: 37 (fee paid). An amount that is not a valid one (see
L{feeAmount <sip2acs.acs.handlers.common.feeAmount>}) is refused without
asking the adapter. The account's options go with the L{Payment}: what
to do with an overpayment, whether its payment type is a write-off, and
its cash register.
"""

from typing import Any

from twisted.internet.defer import Deferred, succeed

from sip2acs.acs.behaviour import Behaviour
from sip2acs.acs.handlers.common import Session, behaviourOf, feeAmount, pin, withExtra
from sip2acs.ils.values import Payment, PaymentResult
from sip2acs.sip import codec

__all__ = ["feePaid"]


def _options(behaviour: Behaviour, paymentType: str) -> dict[str, Any]:
    """
    The L{Payment} fields the account's options set: C{overpayment}
    (unless the adapter's own setting applies), C{writeoff} for a payment
    type mapped to a write-off, and C{register}.
    """
    options: dict[str, Any] = {}
    if behaviour.overpayment != "default":
        options["overpayment"] = behaviour.overpayment
    if behaviour.paymentKind(paymentType) == "writeoff":
        options["writeoff"] = True
    if behaviour.registerId is not None:
        options["register"] = behaviour.registerId
    return options


def feePaid(session: Session, message: Any) -> "Deferred[Any]":
    """
    37: pay (part of) what a patron owes.
    """
    amount = feeAmount(message.feeAmount or "")
    if amount is None:
        return succeed(
            session.refuse(message.code, message, "The amount is not valid.")
        )
    paymentType = message.paymentType or "00"
    payment = Payment(
        patronId=message.patronIdentifier or "",
        amount=amount,
        pin=pin(message),
        currency=(message.currencyType or "").strip() or None,
        feeType=message.feeType or "01",
        paymentType=paymentType,
        feeId=message.feeIdentifier,
        transactionId=message.transactionId,
        **_options(behaviourOf(session), paymentType),
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
