# -*- test-case-name: tests.test_success -*-
"""
The one rule for whether a SIP2 response says its request succeeded.

A response shows success or failure with its flag (C{ok} in 94, 12, 10,
16, 30, 66; the on-line status of 98; C{itemPropertiesOk} in 20;
C{endSession} in 36; C{paymentAccepted} in 38); patron answers (24, 26, 64)
by whether the patron is known (C{BL}) and the PIN right (C{CQ}), and a 24
answering a Block Patron by its charge-privileges-denied flag; an 18 by
whether the item is known (a title).

There are two readings of those marks, which differ where a response
leaves them out:

 - strict (the default), for a tool judging a server it does not know
   (C{sip2acs client}'s exit status): a response must show success. A
   missing flag is a failure; a patron without C{BL} is known when the
   answer carries a name; an 18 without a title counts as found when its
   circulation status is not C{01} (other, what servers send for an
   unknown item); any other message (a 96) is no success.
 - lenient, for the ACS reading its own answers (its log line and
   transaction metrics): a response is a success unless it shows failure.
   A missing flag or C{BL} decides nothing; an 18 without a title is a
   refusal whatever its status; any other message is a success. The
   Block Patron flag is not read (the ACS passes no request).
"""

from sip2acs.sip import codec, spec

__all__ = ["succeeded"]

FLAGS = ("ok", "paymentAccepted", "endSession", "itemPropertiesOk", "onlineStatus")
"""
The field of each flagged response that says whether it succeeded; each
response has at most one of them.
"""

_FLAG_OF: dict[type, str | None] = {
    cls: next((name for name in FLAGS if hasattr(cls, name)), None)
    for cls in (codec.messageClass(message.code) for message in spec.MESSAGES)
}
"""
The flag of L{FLAGS} each message class has, or L{None}.
"""

_PATRON_ANSWERS = (
    codec.PatronStatusResponse,
    codec.PatronInformationResponse,
    codec.PatronEnableResponse,
)


def succeeded(
    response: codec.Message,
    request: codec.Message | None = None,
    *,
    lenient: bool = False,
) -> bool:
    """
    Whether C{response} says its request succeeded.

    @param response: The decoded (or built) response.
    @param request: The request it answers, when known: a 24 answering an
        01 succeeds when it says charge privileges are denied.
    @param lenient: Read the response as the ACS reads its own answers (a
        success unless it shows failure) rather than strictly (it must
        show success); see the module docstring for the differences.
    """
    cls = type(response)
    if cls in _FLAG_OF:
        flag = _FLAG_OF[cls]
    else:
        # Not a class of the table (a stand-in): look at the object itself.
        flag = next((name for name in FLAGS if hasattr(response, name)), None)
    if flag is not None:
        value = getattr(response, flag)
        if value is not None or not lenient:
            return bool(value)

    def field(name: str) -> object:
        # The message classes are built from the table: fields by name.
        return getattr(response, name, None)

    if isinstance(response, codec.ItemInformationResponse):
        if field("titleIdentifier"):
            return True
        return not lenient and field("circulationStatus") not in ("01", None)
    if lenient:
        return field("validPatron") is not False and field("validPatronPassword") is not False
    if not isinstance(response, _PATRON_ANSWERS):
        return False
    known = field("validPatron")
    if known is None:
        known = bool(field("personalName"))
    if not known or field("validPatronPassword") is False:
        return False
    if isinstance(request, codec.BlockPatron):
        return str(field("patronStatus") or "")[:1] == "Y"
    return True
