"""
The patron requests: 23 (patron status), 63 (patron information), 01
(block patron), 25 (patron enable) and 35 (end patron session).

A patron's personal data (name, amounts owed, item lists, addresses) is
left out of an answer to a request whose PIN is wrong, unless the account
allows it (see L{personal}); so are the adapter's C{extra} fields, which
may be personal too.

The account's L{Behaviour <sip2acs.acs.behaviour.Behaviour>} shapes the
answers about a patron: the status flags it may deny, whether an empty
PIN is a valid one, C{AE} from a template, a screen message with the
home library, extra fields from templates; and in 64 the hold lists'
entries, the fee (C{AV}) entries, C{PC} as a name or a code and the
expiry date's field. A 64 about a patron whose personal data it may carry
also carries C{AQ} (home library) and C{PI} (internet privileges) when
the adapter knows them.
"""

from typing import Any

from twisted.internet.defer import Deferred

from sip2acs.acs.behaviour import Behaviour
from sip2acs.acs.handlers.common import (
    Session,
    behaviourOf,
    currencyOf,
    money,
    pin,
    renderedFields,
    withExtra,
)
from sip2acs.acs.refusals import UNKNOWN_PATRON_STATUS
from sip2acs.acs.templates import feeContext, patronContext
from sip2acs.ils.values import FeeType, ItemRef, Patron, SessionEnd, Summary
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


_LOAN_PRIVILEGES = frozenset(
    {"chargePrivilegesDenied", "renewalPrivilegesDenied", "recallPrivilegesDenied"}
)
"""
The status flags C{patron-status-permit = "loans"} never sets.
"""


def _overdueCount(patron: Any) -> int:
    """
    How many overdue loans C{patron} has: the adapter's count, else the
    length of its list.
    """
    counts = patron.itemCounts
    if counts is not None and counts[1] is not None:
        return int(counts[1])
    return len(patron.overdueItems)


def _patronStatus(patron: Any, behaviour: Behaviour) -> str:
    """
    The 14 characters of the patron status: C{patron}'s flags, with "too
    many items overdue" for any overdue loan when the account's
    C{overdues-block-checkout} says so, less those the account's
    C{patron-status-permit} never reports.
    """
    flags = frozenset(patron.flags)
    if behaviour.overduesBlockCheckout and _overdueCount(patron):
        flags |= {"tooManyItemsOverdue"}
    if behaviour.patronStatusPermit == "all":
        flags = frozenset()
    elif behaviour.patronStatusPermit == "loans":
        flags = frozenset(flags) - _LOAN_PRIVILEGES
    return "".join("Y" if name in flags else " " for name in PATRON_STATUS_FLAGS)


def _emptyPin(message: Any) -> bool:
    """
    Whether C{message} carries an C{AD} that is empty.
    """
    return getattr(message, "patronPassword", None) == ""


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


def _accountFields(session: Session, patron: Any, message: Any) -> list[tuple[str, str]]:
    """
    The fields the account's C{patron-fields} add to an answer about
    C{patron}: none unless it may carry the patron's personal data.
    """
    templates = behaviourOf(session).patronFields
    if not templates or not personal(session, patron, message):
        return []
    return renderedFields(templates, patron=patronContext(patron))


def _withPatronExtra(session: Session, patron: Any, message: Any, response: Any) -> Any:
    """
    C{response} about C{patron} with the account's C{patron-fields} and
    the adapter's C{extra} fields, unless it withholds the patron's
    personal data (a wrong PIN): they may be personal too.
    """
    if patron.found and not personal(session, patron, message):
        return response
    return withExtra(response, [*_accountFields(session, patron, message), *patron.extra])


def _personalName(session: Session, patron: Any, message: Any) -> str:
    """
    C{AE}: the patron's name, or the account's C{ae-template} rendered
    for the patron; empty when the answer withholds personal data.
    """
    if not personal(session, patron, message):
        return ""
    template = behaviourOf(session).aeTemplate
    if template is None:
        return str(patron.name)
    return template.render(patron=patronContext(patron))


def _patronFields(session: Session, patron: Any, message: Any) -> dict[str, Any]:
    """
    The identified fields shared by 24, 26 and 64 for C{patron}.
    """
    behaviour = behaviourOf(session)
    found = patron.found
    screens = tuple(patron.screenMessages)
    if (
        behaviour.homeLibraryInAF and found and patron.homeLibrary
        and personal(session, patron, message)
    ):
        screens += (patron.homeLibrary,)
    fields = dict(
        patronStatus=_patronStatus(patron, behaviour) if found else UNKNOWN_PATRON_STATUS,
        transactionDate=session.now(),
        institutionId=session.institution.id,
        patronIdentifier=patron.patronId or message.patronIdentifier or "",
        personalName=_personalName(session, patron, message),
        validPatron=found,
        screenMessage=screens,
        printLine=patron.printLines,
    )
    if found and pin(message) is not None:
        fields["validPatronPassword"] = bool(patron.pinValid)
    elif (
        found
        and _emptyPin(message)
        and behaviour.emptyPin == "accepted"
        and patron.hasPin is False
    ):
        fields["validPatronPassword"] = True
    return fields


def _amountOwed(session: Session, patron: Any, message: Any) -> dict[str, Any]:
    if not personal(session, patron, message):
        return {}
    return dict(
        currencyType=currencyOf(session, patron.currency),
        feeAmount=money(patron.feeAmount or 0),
    )


def _itemList(refs: Any, byTitle: bool) -> list[str]:
    """
    The entries of a 64 item list: each item's barcode or title.
    """
    return [(ref.title or ref.itemId) if byTitle else (ref.itemId or ref.title) for ref in refs]


_FEE_WORDS = {FeeType.OVERDUE: "FINE", FeeType.REPLACEMENT: "LOST"}
"""
How the C{3m} and C{swyer} fee formats name a fee type; any other type
is a C{FEE}.
"""


def _feeEntry(behaviour: Behaviour, ref: ItemRef, byTitle: bool, patron: Any) -> str:
    """
    One C{AV} entry of a 64 in the account's C{fee-format}:

      - C{amount}: the item's barcode or title (by C{item-list}), a space,
        the amount (no amount: the barcode or title alone);
      - C{3m} and C{swyer-a}: the fee's id, a space, the amount after a
        dollar sign, the kind of fee in double quotes (C{FINE} for an
        overdue fine, C{LOST} for a replacement, else C{FEE}), a space,
        the title;
      - C{swyer-b}: the same facts as labelled, comma-separated parts
        (C{Charge-Number: ..., Amount-Due: ..., Fine-Type: ..., Title:
        ...});
      - C{template}: the account's C{av-template}, with C{fee} and
        C{patron}.
    """
    amount = money(ref.amount) or ""
    title = ref.title or ref.itemId
    feeId = ref.feeId or ref.itemId
    kind = _FEE_WORDS.get(ref.feeType or "", "FEE")
    if behaviour.feeFormat in ("3m", "swyer-a"):
        return '%s $%s "%s" %s' % (feeId, amount, kind, title)
    if behaviour.feeFormat == "swyer-b":
        return "Charge-Number: %s, Amount-Due: %s, Fine-Type: %s, Title: %s" % (
            feeId, amount, kind, title,
        )
    if behaviour.feeFormat == "template" and behaviour.avTemplate is not None:
        return behaviour.avTemplate.render(fee=feeContext(ref), patron=patronContext(patron))
    text = (ref.title or ref.itemId) if byTitle else (ref.itemId or ref.title)
    return text if ref.amount is None else "%s %s" % (text, amount)


def _summaryEntries(session: Session, patron: Any, position: int, refs: Any) -> list[str]:
    """
    The entries of the list in C{position} of the summary: holds (0 and
    5) by the account's C{hold-list}, fees (3) in its C{fee-format}, the
    others by its C{item-list}.
    """
    behaviour = behaviourOf(session)
    byTitle = session.account.itemList == "title"
    if position in (0, 5):
        return _itemList(refs, behaviour.holdList == "title")
    if position == 3:
        return [_feeEntry(behaviour, ref, byTitle, patron) for ref in refs]
    return _itemList(refs, byTitle)


def _patronExtensions(behaviour: Behaviour, patron: Any) -> list[tuple[str, str]]:
    """
    The vendor fields of a 64 about C{patron}: C{AQ} (home library),
    C{PI} (internet privileges) and the expiry date in the account's
    C{expiry-field}, each when known.
    """
    fields = []
    if patron.homeLibrary:
        fields.append(("AQ", patron.homeLibrary))
    privileges = patron.internetPrivileges
    if privileges:
        fields.append(("PI", privileges))
    if behaviour.expiryField is not None and patron.expires is not None:
        fields.append((behaviour.expiryField, patron.expires.strftime("%Y%m%d")))
    return fields


def _patronClass(behaviour: Behaviour, patron: Any) -> str | None:
    """
    C{PC}: the patron class's name, or its code when the account's
    C{patron-class} asks for it (the name when the code is not known).
    """
    if behaviour.patronClass == "code":
        return patron.patronClassCode or patron.patronClass
    return patron.patronClass


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
            entries = _summaryEntries(session, patron, position, lists[position])
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
                patronClass=_patronClass(behaviourOf(session), patron),
            )
        response = codec.PatronInformationResponse(
            language=message.language or "000",
            **_itemCounts(patron, lists),
            **fields,
        )
        added = []
        if patron.found:
            added = _patronExtensions(behaviourOf(session), patron)
            added += _accountFields(session, patron, message)
        return withExtra(response, [*added, *patron.extra])

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
