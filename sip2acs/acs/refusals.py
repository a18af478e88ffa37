# -*- test-case-name: tests.test_handlers -*-
"""
Refusals: the well-formed negative answer to each request the adapter
answers, for when the session cannot ask the adapter (the service is not
supported, the request is malformed), the adapter fails or is too slow.

L{ADAPTER_OPERATIONS} says which requests go to the adapter (from the one
table L{sip2acs.sip.spec.OPERATIONS}); L{NEGATIVE} gives the negative
values of each one's refusal, and L{refusal} builds it.
"""

from datetime import datetime
from typing import Any

from sip2acs.sip import codec
from sip2acs.sip.spec import FIELDS, OPERATIONS, RESPONSE_TO

__all__ = ["ADAPTER_OPERATIONS", "NEGATIVE", "UNKNOWN_PATRON_STATUS", "refusal"]

UNKNOWN_PATRON_STATUS = "YYYY" + " " * 10
"""
The patron status of a patron the library does not know: every privilege
denied.
"""

ADAPTER_OPERATIONS = {
    operation.request: operation.name
    for operation in OPERATIONS
    if operation.method is not None
}
"""
The adapter operation each request needs (see L{IILS.supports}), from the
one table L{sip2acs.sip.spec.OPERATIONS}: the requests the session does not
answer itself.
"""

_UNKNOWN_PATRON = dict(patronStatus=UNKNOWN_PATRON_STATUS, personalName="")
_NOT_LENT = dict(
    ok=False,
    renewalOk=False,
    magneticMedia=None,
    desensitize=False,
    titleIdentifier="",
    dueDate="",
)
NEGATIVE: dict[str, dict[str, Any]] = {
    "23": _UNKNOWN_PATRON,
    "01": _UNKNOWN_PATRON,
    "63": _UNKNOWN_PATRON,
    "25": _UNKNOWN_PATRON,
    "11": _NOT_LENT,
    "29": _NOT_LENT,
    # A failed checkin re-arms the item and asks the sorter to set it aside.
    "09": dict(
        ok=False,
        resensitize=True,
        magneticMedia=None,
        alert=True,
        alertType="99",
        permanentLocation="",
        titleIdentifier="",
    ),
    "17": dict(circulationStatus="01", securityMarker="01", feeType="01", titleIdentifier=""),
    "19": dict(itemPropertiesOk=False),
    "15": dict(ok=False, available=False),
    "65": dict(ok=False, renewedCount=0, unrenewedCount=0),
    "35": dict(endSession=False),
    "37": dict(paymentAccepted=False),
}
"""
For each request the adapter answers (every key of L{ADAPTER_OPERATIONS}),
the negative values of its refusal; L{refusal} fills in the date, the
screen message and the identifiers the response carries (institution,
patron, item, language).
"""

REFUSALS = {
    code: (codec.messageClass(RESPONSE_TO[code]), negative)
    for code, negative in NEGATIVE.items()
}
"""
For each request in L{NEGATIVE}, the response class of a refusal (the
response L{sip2acs.sip.spec.OPERATIONS} gives it) and its negative values.
"""

_FIELD_NAMES = {
    cls: {f.name for f in cls.spec.fixed} | {FIELDS[fid].name for fid in cls.spec.fields}
    for cls, _ in REFUSALS.values()
}


def refusal(
    code: str, request: Any, text: str, now: datetime, institutionId: str
) -> codec.Message:
    """
    A well-formed negative answer to request C{code}.

    @param code: The request's command identifier, a key of L{NEGATIVE}.
    @param request: The decoded request, to echo its identifiers, or
        L{None} when it could not be decoded.
    @param text: The screen message saying why.
    @param now: The transaction date.
    @param institutionId: The SC's institution, or C{""} before login.
    @return: The response message.
    """
    cls, negative = REFUSALS[code]
    values = dict(negative, transactionDate=now, screenMessage=(text,))
    echoed = dict(
        language=getattr(request, "language", None) or "000",
        institutionId=institutionId,
        patronIdentifier=getattr(request, "patronIdentifier", None) or "",
        itemIdentifier=getattr(request, "itemIdentifier", None) or "",
    )
    names = _FIELD_NAMES[cls]
    for name, value in echoed.items():
        if name in names:
            values.setdefault(name, value)
    return cls(**values)
