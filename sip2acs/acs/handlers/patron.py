"""
The patron requests: 23 (patron status), 63 (patron information), 01
(block patron), 25 (patron enable) and 35 (end patron session).

A patron's personal data (name, amounts owed, item lists, addresses) is
left out of an answer to a request whose PIN is wrong, unless the account
allows it (see L{personal}).
"""

from typing import Any

from twisted.internet.defer import Deferred

from sip2acs.acs.handlers.common import Session, currencyOf, money, pin
from sip2acs.acs.refusals import UNKNOWN_PATRON_STATUS
from sip2acs.ils.values import Patron, SessionEnd
from sip2acs.sip import codec
from sip2acs.sip.spec import FIELDS, PATRON_STATUS_FLAGS, SUMMARY_FIELDS

__all__ = [
    "blockPatron",
    "endPatronSession",
    "patronEnable",
    "patronInformation",
    "patronStatus",
    "personal",
]


def _patronStatus(flags: Any) -> str:
    return "".join("Y" if name in flags else " " for name in PATRON_STATUS_FLAGS)


def personal(session: Session, patron: Any, message: Any) -> bool:
    """
    Whether an answer about C{patron} may carry the patron's personal
    data (name, address, e-mail, phone, birth date, amounts owed, the
    items on loan): not when the request carried a PIN that is not
    valid, unless the account's C{personal-data-on-wrong-pin} allows
    it. A request without a PIN keeps today's answers.
    """
    if not patron.found:
        return False
    if pin(message) is None or patron.pinValid:
        return True
    return bool(session.account.personalDataOnWrongPin)


def _patronFields(session: Session, patron: Any, message: Any) -> dict[str, Any]:
    """
    The identified fields shared by 24, 26 and 64 for C{patron}.
    """
    found = patron.found
    fields = dict(
        patronStatus=_patronStatus(patron.flags) if found else UNKNOWN_PATRON_STATUS,
        transactionDate=session.now(),
        institutionId=session.institution.id,
        patronIdentifier=patron.patronId or message.patronIdentifier or "",
        personalName=patron.name if personal(session, patron, message) else "",
        validPatron=found,
        screenMessage=patron.screenMessages,
        printLine=patron.printLines,
    )
    if found and pin(message) is not None:
        fields["validPatronPassword"] = bool(patron.pinValid)
    return fields


def _amountOwed(session: Session, patron: Any, message: Any) -> dict[str, Any]:
    if not personal(session, patron, message):
        return {}
    return dict(
        currencyType=currencyOf(session, patron.currency),
        feeAmount=money(patron.feeAmount or 0),
    )


def _itemList(session: Session, refs: Any, fines: bool = False) -> list[str]:
    byTitle = session.account.itemList == "title"
    entries = []
    for ref in refs:
        text = (ref.title or ref.itemId) if byTitle else (ref.itemId or ref.title)
        if fines and ref.amount is not None:
            text = "%s %s" % (text, money(ref.amount))
        entries.append(text)
    return entries


def patronStatus(session: Session, message: Any) -> "Deferred[Any]":
    """
    23: the patron's status and, with a right PIN, name and amount owed.
    """
    d = session.ils.lookupPatron(
        session.terminal, message.patronIdentifier or "", pin(message)
    )

    def answer(patron: Patron) -> codec.Message:
        return codec.PatronStatusResponse(
            language=message.language or "000",
            **_patronFields(session, patron, message),
            **_amountOwed(session, patron, message),
        )

    return d.addCallback(answer)


def patronInformation(session: Session, message: Any) -> "Deferred[Any]":
    """
    63: the patron's status, counts, limits, contact data and the one
    item list its summary asks for.
    """
    d = session.ils.lookupPatron(
        session.terminal, message.patronIdentifier or "", pin(message)
    )

    def answer(patron: Patron) -> codec.Message:
        lists = (
            patron.holdItems,
            patron.overdueItems,
            patron.chargedItems,
            patron.fineItems,
            patron.recallItems,
            patron.unavailableHoldItems,
        )
        fields = _patronFields(session, patron, message)
        fields.update(_amountOwed(session, patron, message))
        if patron.found and not personal(session, patron, message):
            # A wrong PIN: the patron's status, no personal data, no
            # item lists; the counts are "not supported" (four blanks).
            return codec.PatronInformationResponse(
                language=message.language or "000", **fields
            )
        summary = message.summary or ""
        if patron.found and "Y" in summary[:6]:
            position = summary.index("Y")
            start = max(message.startItem or 1, 1)
            end = message.endItem or len(lists[position])
            entries = _itemList(session, lists[position], fines=position == 3)
            name = FIELDS[SUMMARY_FIELDS[position]].name
            fields[name] = entries[start - 1 : end]
        if patron.found:
            fields.update(
                holdItemsLimit=patron.holdItemsLimit,
                overdueItemsLimit=patron.overdueItemsLimit,
                chargedItemsLimit=patron.chargedItemsLimit,
                feeLimit=money(patron.feeLimit),
                homeAddress=patron.homeAddress,
                emailAddress=patron.email,
                homePhoneNumber=patron.phone,
                birthDate=patron.birthDate.strftime("%Y%m%d")
                if patron.birthDate
                else None,
                patronClass=patron.patronClass,
            )
        return codec.PatronInformationResponse(
            language=message.language or "000",
            holdItemsCount=len(lists[0]),
            overdueItemsCount=len(lists[1]),
            chargedItemsCount=len(lists[2]),
            fineItemsCount=len(lists[3]),
            recallItemsCount=len(lists[4]),
            unavailableHoldsCount=len(lists[5]),
            **fields,
        )

    return d.addCallback(answer)


def blockPatron(session: Session, message: Any) -> "Deferred[Any]":
    """
    01: block the patron's card; answered with a 24.
    """
    d = session.ils.blockPatron(
        session.terminal,
        message.patronIdentifier or "",
        bool(message.cardRetained),
        message.blockedCardMessage or "",
    )

    def answer(patron: Patron) -> codec.Message:
        session.log.info(
            "{account}@{peer} blocked patron {patron}",
            account=session.account.login,
            peer=session.peer,
            patron=codec.maskSecrets(message.patronIdentifier or ""),
        )
        return codec.PatronStatusResponse(
            language="000", **_patronFields(session, patron, message)
        )

    return d.addCallback(answer)


def patronEnable(session: Session, message: Any) -> "Deferred[Any]":
    """
    25: lift the patron's block.
    """
    d = session.ils.enablePatron(
        session.terminal, message.patronIdentifier or "", pin(message)
    )

    def answer(patron: Patron) -> codec.Message:
        fields = _patronFields(session, patron, message)
        return codec.PatronEnableResponse(language=patron.language, **fields)

    return d.addCallback(answer)


def endPatronSession(session: Session, message: Any) -> "Deferred[Any]":
    """
    35: the patron is done at the SC.
    """
    d = session.ils.endPatronSession(
        session.terminal, message.patronIdentifier or "", pin(message)
    )

    def answer(result: SessionEnd) -> codec.Message:
        return codec.EndSessionResponse(
            endSession=result.ok,
            transactionDate=session.now(),
            institutionId=session.institution.id,
            patronIdentifier=message.patronIdentifier or "",
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )

    return d.addCallback(answer)
