"""
The patron requests: 23 (patron status), 63 (patron information), 01
(block patron), 25 (patron enable) and 35 (end patron session).

A patron's personal data (name, amounts owed, item lists, addresses) is
left out of an answer to a request whose PIN is wrong, unless the account
allows it (see L{personal}); so are the adapter's C{extra} fields, which
may be personal too.
"""

from typing import Any

from twisted.internet.defer import Deferred

from sip2acs.acs.handlers.common import Session, currencyOf, money, pin, withExtra
from sip2acs.acs.refusals import UNKNOWN_PATRON_STATUS
from sip2acs.ils.values import Patron, SessionEnd, Summary
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


def _withPatronExtra(session: Session, patron: Any, message: Any, response: Any) -> Any:
    """
    C{response} about C{patron} with the adapter's C{extra} fields, unless
    it withholds the patron's personal data (a wrong PIN): they may be
    personal too.
    """
    if patron.found and not personal(session, patron, message):
        return response
    return withExtra(response, patron.extra)


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


_COUNT_FIELDS = (
    "holdItemsCount",
    "overdueItemsCount",
    "chargedItemsCount",
    "fineItemsCount",
    "recallItemsCount",
    "unavailableHoldsCount",
)
"""
The six counts of a 64, in the order of the 63 summary's positions.
"""


def _summary(message: Any) -> Summary | None:
    """
    The item list a 63 asks for, or L{None} when its summary has no C{Y}
    in the six positions that name a list.
    """
    summary = message.summary or ""
    if "Y" not in summary[:6]:
        return None
    return Summary(summary.index("Y"), message.startItem, message.endItem)


def _itemCounts(patron: Any, lists: Any) -> dict[str, int | None]:
    """
    The six counts of a 64: the adapter's own (L{None}, four blanks, for
    one it does not know), or else the lengths of C{lists}.
    """
    counts: list[int | None]
    if patron.itemCounts is None:
        counts = [len(refs) for refs in lists]
    else:
        counts = list(patron.itemCounts)[:6]
        counts += [None] * (6 - len(counts))
    return dict(zip(_COUNT_FIELDS, counts, strict=True))


def patronStatus(session: Session, message: Any) -> "Deferred[Any]":
    """
    23: the patron's status and, with a right PIN, name and amount owed.
    """
    d = session.ils.lookupPatron(
        session.terminal, message.patronIdentifier or "", pin(message)
    )

    def answer(patron: Patron) -> codec.Message:
        response = codec.PatronStatusResponse(
            language=message.language or "000",
            **_patronFields(session, patron, message),
            **_amountOwed(session, patron, message),
        )
        return _withPatronExtra(session, patron, message, response)

    return d.addCallback(answer)


def patronInformation(session: Session, message: Any) -> "Deferred[Any]":
    """
    63: the patron's status, counts, limits, contact data and the one
    item list its summary asks for: the window C{BP}..C{BQ} of it, or,
    when the adapter reports its own counts (L{Patron.itemCounts
    <sip2acs.ils.values.Patron.itemCounts>}), the list as the adapter
    gave it, already the window the L{Summary} passed to it asked for.
    """
    summary = _summary(message)
    d = session.ils.lookupPatron(
        session.terminal, message.patronIdentifier or "", pin(message), summary=summary
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
            # item lists, none of the adapter's extra fields; the counts
            # are "not supported" (four blanks).
            return codec.PatronInformationResponse(
                language=message.language or "000", **fields
            )
        if patron.found and summary is not None:
            position = summary.position
            entries = _itemList(session, lists[position], fines=position == 3)
            if patron.itemCounts is None:
                start = max(summary.start or 1, 1)
                end = summary.end or len(entries)
                entries = entries[start - 1 : end]
            fields[FIELDS[SUMMARY_FIELDS[position]].name] = entries
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
        response = codec.PatronInformationResponse(
            language=message.language or "000",
            **_itemCounts(patron, lists),
            **fields,
        )
        return withExtra(response, patron.extra)

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
        response = codec.PatronStatusResponse(
            language="000", **_patronFields(session, patron, message)
        )
        return _withPatronExtra(session, patron, message, response)

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
        response = codec.PatronEnableResponse(language=patron.language, **fields)
        return _withPatronExtra(session, patron, message, response)

    return d.addCallback(answer)


def endPatronSession(session: Session, message: Any) -> "Deferred[Any]":
    """
    35: the patron is done at the SC.
    """
    d = session.ils.endPatronSession(
        session.terminal, message.patronIdentifier or "", pin(message)
    )

    def answer(result: SessionEnd) -> codec.Message:
        response = codec.EndSessionResponse(
            endSession=result.ok,
            transactionDate=session.now(),
            institutionId=session.institution.id,
            patronIdentifier=message.patronIdentifier or "",
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )
        return withExtra(response, result.extra)

    return d.addCallback(answer)
