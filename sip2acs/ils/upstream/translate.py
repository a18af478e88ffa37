# -*- test-case-name: tests.test_upstream_translate -*-
"""
Each L{IILS <sip2acs.ils.interfaces.IILS>} operation as the SIP2 request an
upstream SIP2 server answers, and the upstream's answer as the domain value
of L{sip2acs.ils.values}: pure functions, no Twisted, no I/O.

The mapping is the exact inverse of the request handlers
(L{sip2acs.acs.handlers}): a request built here, answered by a sip2acs
upstream, gives back the value its adapter returned, less what the wire
cannot carry (a refusal's L{Reason <sip2acs.ils.values.Reason>}, the titles
and amounts of a patron's item lists, an expiry date). L{TRANSLATIONS} holds
one L{Translation} per operation; L{statusRequest} and L{statusFrom} ask the
upstream what it offers (99 and 98).

What every answer becomes:

  - C{AF} screen messages and C{AG} print lines: C{screenMessages} and
    C{printLines}, all of them, in order.
  - The fields the value models and the handler writes back from it: the
    value's attributes.
  - Every other identified field (vendor extensions, fields the value does
    not model, fields the handler would not write for this answer, a
    modelled field whose text does not read as its kind, an unknown
    patron's amount owed): C{extra}, as C{(id, text)} pairs in the order
    received, so that the kiosk gets them unchanged. A field may be both
    modelled and kept in C{extra} when the handler does not write it (the
    home library C{AQ} of a 64, the collection code C{CR} of an 18, C{BL}
    and C{CQ} of a 30): the handlers drop an C{extra} field their response
    already carries, so nothing is ever sent twice.
  - The fields the handler sets itself from the kiosk's request or its own
    settings (C{AO}, the echoed C{AA}/C{AB}, the transaction date, the
    fixed fields) are neither modelled nor kept: the handler has them.

Refusals: C{BL} N is L{Reason.UNKNOWN_PATRON
<sip2acs.ils.values.Reason.UNKNOWN_PATRON>}, C{CQ} N L{Reason.BAD_PIN
<sip2acs.ils.values.Reason.BAD_PIN>}, wherever they come (also as vendor
fields of a 30, 16, 38 or 66); a refused checkin or item status update
with neither title nor location is L{Reason.UNKNOWN_ITEM
<sip2acs.ils.values.Reason.UNKNOWN_ITEM>}; a refused checkout marked
C{renewal ok} without the SC's renewal policy is
L{Reason.RENEWAL_NOT_ALLOWED <sip2acs.ils.values.Reason.RENEWAL_NOT_ALLOWED>},
one with a fee the patron did not acknowledge
L{Reason.FEE_NOT_ACKNOWLEDGED <sip2acs.ils.values.Reason.FEE_NOT_ACKNOWLEDGED>};
any other refusal is L{UPSTREAM_REFUSED}. The upstream's screen messages
always come with it.

Dates: requests carry the institution's wall time with a blank zone, as the
session sends (L{sip2acs.ils.zones.wallTime}); an answer's date with a
blank zone is the upstream's local time, taken to be the institution's, and
one with a zone letter is converted to it, so every date in a value is
aware, in L{Upstream.zone}.
"""

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

import attrs

from sip2acs.ils import values
from sip2acs.ils.zones import HOST_ZONE, inZone, wallTime
from sip2acs.sip import codec
from sip2acs.sip.fields import formatVariable
from sip2acs.sip.spec import FIELDS, OPERATIONS, PATRON_STATUS_FLAGS, SUMMARY_FIELDS

__all__ = [
    "TRANSLATIONS",
    "UPSTREAM_REFUSED",
    "Translation",
    "UnexpectedAnswer",
    "Upstream",
    "UpstreamStatus",
    "received",
    "statusFrom",
    "statusRequest",
]

UPSTREAM_REFUSED = "upstream-refused"
"""
The reason of a refusal whose answer does not say why (no C{BL} N, no
C{CQ} N, nothing else telling): the upstream said no, and its screen
messages, kept in the result, are the only explanation.
"""


class UnexpectedAnswer(ValueError):
    """
    The upstream answered with a message that does not answer the request.
    """


@attrs.frozen
class Upstream:
    """
    What every request sent upstream carries.

    @ivar institution: The institution id sent upstream (C{AO}).
    @ivar location: The location sent where a request has one (the
        current location C{AP} of a checkin the kiosk sent without one),
        or L{None}.
    @ivar terminalPassword: The terminal password (C{AC}); never in a
        C{repr}.
    @ivar language: The language of 63 (three digits).
    @ivar zone: The institution's zone: requests' dates are its wall time,
        answers' dates are made aware in it.
    """

    institution: str
    location: str | None = None
    terminalPassword: str = attrs.field(default="", repr=False)
    language: str = "000"
    zone: tzinfo = HOST_ZONE


@attrs.frozen
class Translation:
    """
    How one L{IILS <sip2acs.ils.interfaces.IILS>} operation goes upstream.

    @ivar request: C{request(upstream, now, *operationArgs)}: the SIP2
        request, where C{operationArgs} are the operation's arguments after
        C{terminal} and C{now} an aware time (in the institution's zone) for
        the transaction date.
    @ivar result: C{result(upstream, response, *operationArgs)}: the
        domain value the decoded C{response} means.
    @ivar changesData: Whether the operation changes the library's data: a
        lost answer then leaves it unknown whether it happened, and the
        request must not simply be sent again.
    """

    request: Callable[..., codec.Message]
    result: Callable[..., Any]
    changesData: bool


# -- reading answers ----------------------------------------------------------


def received(message: codec.Message) -> tuple[tuple[str, str], ...]:
    """
    The identified fields of a decoded message as C{(id, text)} pairs, in
    the order they were received (the spec's order, then the extra ones,
    for a message built in code): known fields as the codec writes their
    values, unknown ones as they came.

    A known field whose text the codec could not read (a C{BL} that is
    neither C{Y} nor C{N}, a date that is not one) has no value and is not
    listed; neither is the second of a field that may appear only once (the
    codec keeps the first).
    """
    pending: dict[str, list[str]] = {}
    for fid in message.spec.fields:
        info = FIELDS[fid]
        value = getattr(message, info.name)
        if info.repeatable:
            if value:
                pending[fid] = list(value)
        elif value is not None:
            pending[fid] = [value if info.kind == "text" else formatVariable(info, value)]
    for fid, text in message.extra:
        pending.setdefault(fid, []).append(text)
    if message.order is not None:
        order: Iterable[str] = message.order
    else:
        order = [fid for fid, _ in message.fields()]
    pairs = []
    for fid in order:
        if pending.get(fid):
            pairs.append((fid, pending[fid].pop(0)))
    return tuple(pairs)


def _amount(text: str) -> Decimal | None:
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _count(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _birthDate(text: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), "%Y%m%d").date()
    except ValueError:
        return None


_SCREEN = frozenset({"AF", "AG"})


class _Answer:
    """
    One upstream answer being read into a value: what its fields say, and
    which of them the value took (L{extra} keeps the others).
    """

    def __init__(self, message: codec.Message, expected: str, zone: tzinfo) -> None:
        if message.code != expected:
            raise UnexpectedAnswer(
                "The upstream answered with a %s where a %s was expected."
                % (message.code, expected)
            )
        self.message = message
        self.zone = zone
        self.pairs = received(message)
        self.taken: set[str] = set()

    def _first(self, fid: str) -> str | None:
        for each, text in self.pairs:
            if each == fid:
                return text
        return None

    def _read(self, fid: str, parse: Callable[[str], Any]) -> Any:
        # An empty field says "no value": taken, as None. A text that does
        # not read as the field's kind is not taken (extra keeps it).
        text = self._first(fid)
        if text is None:
            return None
        value = parse(text) if text.strip() else None
        if value is not None or not text.strip():
            self.taken.add(fid)
        return value

    def text(self, fid: str) -> str | None:
        """
        The first value of field C{fid}, or L{None}.
        """
        return self._read(fid, lambda text: text)

    def texts(self, fid: str) -> tuple[str, ...]:
        """
        Every value of field C{fid}, in order.
        """
        found = tuple(text for each, text in self.pairs if each == fid)
        if found:
            self.taken.add(fid)
        return found

    def flag(self, fid: str) -> bool | None:
        """
        A C{Y}/C{N} field, or L{None} when absent or neither.
        """
        return self._read(fid, {"Y": True, "N": False}.get)

    def count(self, fid: str) -> int | None:
        """
        A number field, or L{None}.
        """
        return self._read(fid, _count)

    def amount(self, fid: str) -> Decimal | None:
        """
        An amount, exact, or L{None} when absent or not a number.
        """
        return self._read(fid, _amount)

    def when(self, fid: str) -> datetime | None:
        """
        An 18-character SIP2 date, aware in the institution's zone, or
        L{None}.
        """
        return self._read(fid, lambda text: inZone(codec.parseDate(text), self.zone))

    def birthDate(self, fid: str) -> date | None:
        """
        A calendar date in the C{YYYYMMDD} form, or L{None}.
        """
        return self._read(fid, _birthDate)

    def fixedDate(self, value: datetime | None) -> datetime | None:
        """
        A date of the fixed part, aware in the institution's zone.
        """
        return inZone(value, self.zone)

    def reason(self) -> str | None:
        """
        The refusal reason C{BL} N or C{CQ} N tells, or L{None}.
        """
        if self.flag("BL") is False:
            return values.Reason.UNKNOWN_PATRON
        if self.flag("CQ") is False:
            return values.Reason.BAD_PIN
        return None

    def refusal(self, ok: bool) -> str | None:
        """
        The reason of an answer that says C{ok} or not: none, the one
        L{reason} tells, else L{UPSTREAM_REFUSED}.
        """
        return None if ok else self.reason() or UPSTREAM_REFUSED

    def extra(self, own: Iterable[str], fromValue: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """
        The fields to pass on as they are: all but the screen messages and
        print lines (always in the value), those the handler sets itself
        (C{own}) and those it writes from the value (C{fromValue}) that the
        value took.
        """
        dropped = set(own) | _SCREEN | (set(fromValue) & self.taken)
        return tuple(pair for pair in self.pairs if pair[0] not in dropped)

    def screens(self) -> dict[str, Any]:
        """
        The screen messages and print lines of the answer.
        """
        return dict(screenMessages=self.texts("AF"), printLines=self.texts("AG"))


# -- requests -----------------------------------------------------------------


def _wall(value: datetime | None, upstream: Upstream) -> datetime | None:
    return wallTime(value, upstream.zone)


def _money(amount: Decimal) -> str:
    return format(amount, ".2f")


def _common(
    upstream: Upstream, now: datetime, transactionDate: datetime | None = None
) -> dict[str, Any]:
    """
    What most requests carry: the transaction date (the request's own, as
    a checkin or checkout taken off line keeps the date it was made, else
    C{now}), the institution and the terminal password.
    """
    return dict(
        transactionDate=_wall(transactionDate or now, upstream),
        institutionId=upstream.institution,
        terminalPassword=upstream.terminalPassword,
    )


def _asking(patronId: str, pin: str | None, feeAcknowledged: bool = False) -> dict[str, Any]:
    """
    Who a request is about: the patron, the PIN typed (none: no C{AD}) and,
    in the requests that have C{BO}, whether the patron acknowledged a fee.
    """
    fields: dict[str, Any] = dict(patronIdentifier=patronId, patronPassword=pin)
    if feeAcknowledged:
        fields["feeAcknowledged"] = True
    return fields


def _item(request: Any) -> dict[str, Any]:
    """
    What a checkout, checkin or renewal says of itself: its item, the
    item's properties, and whether it was done off line (no block).
    """
    return dict(
        noBlock=request.noBlock,
        itemIdentifier=request.itemId,
        itemProperties=request.itemProperties,
    )


def _yes(flag: bool) -> bool | None:
    """
    An optional C{Y}/C{N} field (C{BO}, C{BI}) sent only as C{Y}: the
    handlers read a missing one as N.
    """
    return True if flag else None


_SUMMARY_LENGTH = 10
_ITEM_LISTS = tuple(FIELDS[fid].name for fid in SUMMARY_FIELDS)
_COUNTS = tuple(
    field.name
    for field in codec.PatronInformationResponse.spec.fixed
    if field.kind == "int"
)


def _summaryText(summary: Any) -> str:
    position = None if summary is None else summary.position
    return "".join("Y" if i == position else " " for i in range(_SUMMARY_LENGTH))


def _lookupPatronRequest(
    upstream: Upstream,
    now: datetime,
    patronId: str,
    pin: str | None = None,
    summary: values.Summary | None = None,
) -> codec.Message:
    """
    63: the patron's status, counts, limits, contact data and, with a
    L{Summary <sip2acs.ils.values.Summary>}, the one item list it names
    (C{BP}/C{BQ} as given).
    """
    return codec.PatronInformation(
        language=upstream.language,
        summary=_summaryText(summary),
        **_asking(patronId, pin),
        startItem=None if summary is None else summary.start,
        endItem=None if summary is None else summary.end,
        **_common(upstream, now),
    )


def _lookupItemRequest(upstream: Upstream, now: datetime, itemId: str) -> codec.Message:
    """
    17: what the library knows of an item.
    """
    return codec.ItemInformation(itemIdentifier=itemId, **_common(upstream, now))


def _checkoutRequest(
    upstream: Upstream, now: datetime, request: values.CheckoutRequest
) -> codec.Message:
    """
    11: the kiosk's checkout.
    """
    return codec.Checkout(
        scRenewalPolicy=request.scRenewalPolicy,
        nbDueDate=_wall(request.nbDueDate, upstream),
        cancel=_yes(request.cancel),
        **_item(request),
        **_asking(request.patronId, request.pin, request.feeAcknowledged),
        **_common(upstream, now, request.transactionDate),
    )


def _checkinRequest(
    upstream: Upstream, now: datetime, request: values.CheckinRequest
) -> codec.Message:
    """
    09: the kiosk's checkin, at its current location or else
    L{Upstream.location}.
    """
    return codec.Checkin(
        returnDate=_wall(request.returnDate, upstream),
        currentLocation=request.currentLocation or upstream.location or "",
        cancel=_yes(request.cancel),
        **_item(request),
        **_common(upstream, now, request.transactionDate),
    )


def _renewRequest(
    upstream: Upstream, now: datetime, request: values.RenewRequest
) -> codec.Message:
    """
    29: renew one loan, by item or title.
    """
    return codec.Renew(
        thirdPartyAllowed=request.thirdPartyAllowed,
        nbDueDate=_wall(request.nbDueDate, upstream),
        titleIdentifier=request.titleId,
        **_item(request),
        **_asking(request.patronId, request.pin, request.feeAcknowledged),
        **_common(upstream, now),
    )


def _renewAllRequest(
    upstream: Upstream,
    now: datetime,
    patronId: str,
    pin: str | None = None,
    feeAcknowledged: bool = False,
) -> codec.Message:
    """
    65: renew every loan of a patron.
    """
    return codec.RenewAll(
        **_asking(patronId, pin, feeAcknowledged), **_common(upstream, now)
    )


_HOLD_MODES = {"add": "+", "cancel": "-", "alter": "*"}


def _holdRequest(
    upstream: Upstream, now: datetime, request: values.HoldRequest
) -> codec.Message:
    """
    15: place (C{+}), cancel (C{-}) or change (C{*}) a hold.

    @raise ValueError: The mode is none of C{add}, C{cancel}, C{alter}.
    """
    mode = _HOLD_MODES.get(request.mode)
    if mode is None:
        raise ValueError("%r is not a hold mode (add, cancel or alter)." % (request.mode,))
    return codec.Hold(
        holdMode=mode,
        expirationDate=_wall(request.expiration, upstream),
        pickupLocation=request.pickupLocation,
        holdType=request.holdType,
        itemIdentifier=request.itemId,
        titleIdentifier=request.titleId,
        **_asking(request.patronId, request.pin, request.feeAcknowledged),
        **_common(upstream, now),
    )


def _feePaidRequest(
    upstream: Upstream, now: datetime, payment: values.Payment
) -> codec.Message:
    """
    37: a payment, its amount with two decimals.
    """
    return codec.FeePaid(
        feeType=payment.feeType,
        paymentType=payment.paymentType,
        currencyType=payment.currency or "",
        feeAmount=_money(payment.amount),
        feeIdentifier=payment.feeId,
        transactionId=payment.transactionId,
        **_asking(payment.patronId, payment.pin),
        **_common(upstream, now),
    )


def _blockPatronRequest(
    upstream: Upstream, now: datetime, patronId: str, cardRetained: bool, reason: str
) -> codec.Message:
    """
    01: block the patron's card, with the kiosk's explanation.
    """
    return codec.BlockPatron(
        cardRetained=cardRetained,
        blockedCardMessage=reason,
        patronIdentifier=patronId,
        **_common(upstream, now),
    )


def _enablePatronRequest(
    upstream: Upstream, now: datetime, patronId: str, pin: str | None = None
) -> codec.Message:
    """
    25: lift the patron's block.
    """
    return codec.PatronEnable(**_asking(patronId, pin), **_common(upstream, now))


def _updateItemStatusRequest(
    upstream: Upstream, now: datetime, itemId: str, properties: str
) -> codec.Message:
    """
    19: set an item's properties.
    """
    return codec.ItemStatusUpdate(
        itemIdentifier=itemId, itemProperties=properties, **_common(upstream, now)
    )


def _endPatronSessionRequest(
    upstream: Upstream, now: datetime, patronId: str, pin: str | None = None
) -> codec.Message:
    """
    35: the patron is done at the kiosk.
    """
    return codec.EndPatronSession(**_asking(patronId, pin), **_common(upstream, now))


# -- answers ------------------------------------------------------------------


def _reading(code: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """
    Make C{read(answer, *operationArgs)} the L{Translation.result} of an
    operation answered with C{code}: C{result(upstream, response,
    *operationArgs)} reads C{response} as an L{_Answer} in the upstream's
    zone, or raises L{UnexpectedAnswer} when it is not a C{code}.
    """

    def decorate(read: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(read)
        def result(upstream: Upstream, response: codec.Message, *args: Any) -> Any:
            return read(_Answer(response, code, upstream.zone), *args)

        return result

    return decorate


_PATRON_FIELDS = frozenset({"AA", "AE", "BL"})
"""
What the handlers of 24 and 26 write from a patron (C{CQ} besides, when
the request carried a PIN).
"""

_PATRON_DETAILS = frozenset(
    {"BH", "BV", "BZ", "CA", "CB", "CC", "BD", "BE", "BF", "PB", "PC", "AQ", "PI"}
)
"""
What the 64 handler writes from a patron it knows, besides
L{_PATRON_FIELDS} and the item list the summary asks for.
"""


def _patron(
    answer: _Answer, patronId: str, pin: str | None, counts: bool
) -> dict[str, Any]:
    """
    The attributes of the L{Patron <sip2acs.ils.values.Patron>} a 24, 26
    or 64 describes (but C{extra}).

    A patron is found when C{BL} says so or, without C{BL} (SIP 1.00
    servers), when the answer carries a name.
    """
    message = answer.message
    name = answer.text("AE") or ""
    valid = answer.flag("BL")
    status = message.patronStatus or ""
    fields: dict[str, Any] = dict(
        found=valid if valid is not None else bool(name),
        patronId=answer.text("AA") or patronId,
        name=name,
        pinValid=answer.flag("CQ") if pin is not None else None,
        flags={
            flag for flag, mark in zip(PATRON_STATUS_FLAGS, status, strict=False) if mark == "Y"
        },
        language=message.language or "000",
        feeAmount=answer.amount("BV"),
        currency=answer.text("BH"),
        **answer.screens(),
    )
    if counts:
        fields.update(
            itemCounts=tuple(getattr(message, name) for name in _COUNTS),
            holdItemsLimit=answer.count("BZ"),
            overdueItemsLimit=answer.count("CA"),
            chargedItemsLimit=answer.count("CB"),
            feeLimit=answer.amount("CC"),
            homeAddress=answer.text("BD"),
            email=answer.text("BE"),
            phone=answer.text("BF"),
            birthDate=answer.birthDate("PB"),
            patronClass=answer.text("PC"),
            homeLibrary=answer.text("AQ"),
        )
        for fid, attribute in zip(SUMMARY_FIELDS, _ITEM_LISTS, strict=True):
            fields[attribute] = tuple(
                values.ItemRef(itemId=text) for text in answer.texts(fid)
            )
    return fields


def _patronWritten(found: bool, pin: str | None) -> frozenset[str]:
    return _PATRON_FIELDS | ({"CQ"} if found and pin is not None else set())


@_reading("64")
def _lookupPatronResult(
    answer: _Answer,
    patronId: str,
    pin: str | None = None,
    summary: values.Summary | None = None,
) -> values.Patron:
    """
    64 -> L{Patron <sip2acs.ils.values.Patron>}: its counts in
    C{itemCounts}, the list it carries as L{ItemRef
    <sip2acs.ils.values.ItemRef>}s whose C{itemId} is the entry's whole
    text (the 63 handler prints it back as it is), the home library from a
    vendor C{AQ} (the handler writes it back).
    """
    fields = _patron(answer, patronId, pin, counts=True)
    written = _patronWritten(fields["found"], pin)
    if fields["found"]:
        written |= _PATRON_DETAILS
        if summary is not None:
            written |= {SUMMARY_FIELDS[summary.position]}
    return values.Patron(extra=answer.extra({"AO"}, written), **fields)


def _patronStatusResult(code: str) -> Callable[..., values.Patron]:
    """
    The result of an operation answered with a 24 or 26 (block, enable):
    the patron as it is afterwards.
    """

    @_reading(code)
    def result(answer: _Answer, patronId: str, *args: Any) -> values.Patron:
        pin = args[0] if code == "26" and args else None
        fields = _patron(answer, patronId, pin, counts=False)
        written = _patronWritten(fields["found"], pin)
        return values.Patron(extra=answer.extra({"AO"}, written), **fields)

    return result


_ITEM_FIELDS = frozenset(
    {"CF", "AH", "CJ", "CM", "AB", "AJ", "BG", "BV", "CK", "AQ", "AP", "CH", "CT",
     "CS", "CY"}
)
"""
What the 18 handler writes from an item it knows (C{BH} besides, with an
amount).
"""


@_reading("18")
def _lookupItemResult(answer: _Answer, itemId: str) -> values.Item:
    """
    18 -> L{Item <sip2acs.ils.values.Item>}. An item is found when the
    answer has a title or a circulation status other than C{01} (other),
    the form of sip2acs's and most servers' "unknown item"; an unknown
    item's other fields, which the handler does not write, are kept in
    C{extra}.
    """
    message = answer.message
    title = answer.text("AJ") or ""
    status = message.circulationStatus or ""
    found = bool(title) or status.strip() not in ("", values.CirculationStatus.OTHER)
    fields = dict(
        found=found,
        itemId=answer.text("AB") or itemId,
        title=title,
        circulationStatus=status,
        securityMarker=message.securityMarker,
        feeType=message.feeType,
        feeAmount=answer.amount("BV"),
        currency=answer.text("BH"),
        dueDate=answer.when("AH"),
        recallDate=answer.when("CJ"),
        holdPickupDate=answer.when("CM"),
        holdQueueLength=answer.count("CF"),
        owner=answer.text("BG"),
        mediaType=answer.text("CK"),
        permanentLocation=answer.text("AQ"),
        currentLocation=answer.text("AP"),
        destination=answer.text("CT"),
        callNumber=answer.text("CS"),
        collectionCode=answer.text("CR"),
        properties=answer.text("CH"),
        holdPatronId=answer.text("CY"),
        **answer.screens(),
    )
    if found:
        written = _ITEM_FIELDS | ({"BH"} if fields["feeAmount"] is not None else set())
    else:
        written = frozenset({"AJ"})
    return values.Item(extra=answer.extra({"AB"}, written), **fields)


_CIRCULATION_FIELDS = frozenset(
    {"AJ", "AH", "BT", "CI", "BV", "CK", "CH", "BK"}
)
"""
What the 12 and 30 handlers write from a result (C{AH} always, empty for a
refusal; C{BH} besides with an amount, C{BL} and C{CQ} in a 12).
"""


def _circulation(answer: _Answer) -> tuple[dict[str, Any], frozenset[str]]:
    """
    The attributes of the L{CirculationResult
    <sip2acs.ils.values.CirculationResult>} a 12 or 30 describes (but
    C{reason} and C{extra}), and the fields the handler writes from them.
    """
    message = answer.message
    fields = dict(
        ok=bool(message.ok),
        renewal=bool(message.renewalOk),
        magneticMedia=message.magneticMedia,
        desensitize=bool(message.desensitize),
        title=answer.text("AJ") or "",
        dueDate=answer.when("AH"),
        feeType=answer.text("BT"),
        feeAmount=answer.amount("BV"),
        currency=answer.text("BH"),
        securityInhibit=answer.flag("CI"),
        mediaType=answer.text("CK"),
        itemProperties=answer.text("CH"),
        transactionId=answer.text("BK"),
        patronValid=answer.flag("BL"),
        pinValid=answer.flag("CQ"),
        **answer.screens(),
    )
    written = set(_CIRCULATION_FIELDS)
    if fields["feeAmount"] is not None:
        written.add("BH")
    return fields, frozenset(written)


@_reading("12")
def _checkoutResult(answer: _Answer, request: values.CheckoutRequest) -> values.CirculationResult:
    """
    12 -> L{CirculationResult <sip2acs.ils.values.CirculationResult>}.
    """
    fields, written = _circulation(answer)
    reason = None
    if not fields["ok"]:
        reason = answer.reason()
        if reason is None and fields["renewal"] and not request.scRenewalPolicy:
            reason = values.Reason.RENEWAL_NOT_ALLOWED
        elif reason is None and fields["feeAmount"] and not request.feeAcknowledged:
            reason = values.Reason.FEE_NOT_ACKNOWLEDGED
    return values.CirculationResult(
        reason=reason or (None if fields["ok"] else UPSTREAM_REFUSED),
        extra=answer.extra({"AO", "AA", "AB"}, written | {"BL", "CQ"}),
        **fields,
    )


@_reading("30")
def _renewResult(answer: _Answer, request: values.RenewRequest) -> values.CirculationResult:
    """
    30 -> L{CirculationResult <sip2acs.ils.values.CirculationResult>}; a
    vendor C{BL} or C{CQ} gives C{patronValid}, C{pinValid} and the reason
    and is kept in C{extra} (the handler does not write them in a 30).
    """
    fields, written = _circulation(answer)
    return values.CirculationResult(
        reason=answer.refusal(fields["ok"]),
        extra=answer.extra({"AO", "AA", "AB"}, written),
        **fields,
    )


_CHECKIN_FIELDS = frozenset(
    {"AQ", "AJ", "CL", "AA", "CK", "CH", "CR", "CS", "CT", "CV", "CY", "DA"}
)


@_reading("10")
def _checkinResult(answer: _Answer, request: values.CheckinRequest) -> values.CheckinResult:
    """
    10 -> L{CheckinResult <sip2acs.ils.values.CheckinResult>}.
    """
    message = answer.message
    fields = dict(
        ok=bool(message.ok),
        resensitize=bool(message.resensitize),
        magneticMedia=message.magneticMedia,
        alert=bool(message.alert),
        alertType=answer.text("CV"),
        title=answer.text("AJ") or "",
        permanentLocation=answer.text("AQ") or "",
        sortBin=answer.text("CL"),
        patronId=answer.text("AA"),
        mediaType=answer.text("CK"),
        itemProperties=answer.text("CH"),
        collectionCode=answer.text("CR"),
        callNumber=answer.text("CS"),
        destination=answer.text("CT"),
        holdPatronId=answer.text("CY"),
        holdPatronName=answer.text("DA"),
        **answer.screens(),
    )
    reason = None
    if not fields["ok"]:
        reason = (
            values.Reason.UNKNOWN_ITEM
            if not (fields["title"] or fields["permanentLocation"])
            else UPSTREAM_REFUSED
        )
    return values.CheckinResult(
        reason=reason, extra=answer.extra({"AO", "AB"}, _CHECKIN_FIELDS), **fields
    )


@_reading("66")
def _renewAllResult(answer: _Answer, patronId: str, *args: Any) -> values.RenewAllResult:
    """
    66 -> L{RenewAllResult <sip2acs.ils.values.RenewAllResult>}: the
    renewed and unrenewed entries as they came (the handler counts them).
    """
    ok = bool(answer.message.ok)
    return values.RenewAllResult(
        ok=ok,
        reason=answer.refusal(ok),
        renewed=answer.texts("BM"),
        unrenewed=answer.texts("BN"),
        extra=answer.extra({"AO"}, {"BM", "BN"}),
        **answer.screens(),
    )


@_reading("16")
def _holdResult(answer: _Answer, request: values.HoldRequest) -> values.HoldResult:
    """
    16 -> L{HoldResult <sip2acs.ils.values.HoldResult>}.
    """
    message = answer.message
    ok = bool(message.ok)
    return values.HoldResult(
        ok=ok,
        reason=answer.refusal(ok),
        available=bool(message.available),
        expiration=answer.when("BW"),
        queuePosition=answer.count("BR"),
        pickupLocation=answer.text("BS"),
        itemId=answer.text("AB"),
        title=answer.text("AJ"),
        extra=answer.extra({"AO", "AA"}, {"BW", "BR", "BS", "AB", "AJ"}),
        **answer.screens(),
    )


@_reading("38")
def _feePaidResult(answer: _Answer, payment: values.Payment) -> values.PaymentResult:
    """
    38 -> L{PaymentResult <sip2acs.ils.values.PaymentResult>}.
    """
    accepted = bool(answer.message.paymentAccepted)
    return values.PaymentResult(
        accepted=accepted,
        reason=answer.refusal(accepted),
        transactionId=answer.text("BK"),
        extra=answer.extra({"AO", "AA"}, {"BK"}),
        **answer.screens(),
    )


@_reading("20")
def _updateItemStatusResult(
    answer: _Answer, itemId: str, properties: str
) -> values.ItemStatusResult:
    """
    20 -> L{ItemStatusResult <sip2acs.ils.values.ItemStatusResult>}; a
    refusal without a title is about an unknown item.
    """
    ok = bool(answer.message.itemPropertiesOk)
    title = answer.text("AJ")
    reason = None
    if not ok:
        reason = UPSTREAM_REFUSED if title else values.Reason.UNKNOWN_ITEM
    return values.ItemStatusResult(
        ok=ok,
        reason=reason,
        title=title,
        properties=answer.text("CH"),
        extra=answer.extra({"AB"}, {"AJ", "CH"}),
        **answer.screens(),
    )


@_reading("36")
def _endPatronSessionResult(
    answer: _Answer, patronId: str, pin: str | None = None
) -> values.SessionEnd:
    """
    36 -> L{SessionEnd <sip2acs.ils.values.SessionEnd>}.
    """
    return values.SessionEnd(
        ok=bool(answer.message.endSession),
        extra=answer.extra({"AO", "AA"}, ()),
        **answer.screens(),
    )


TRANSLATIONS: Mapping[str, Translation] = MappingProxyType(
    {
        "lookupPatron": Translation(_lookupPatronRequest, _lookupPatronResult, False),
        "lookupItem": Translation(_lookupItemRequest, _lookupItemResult, False),
        "checkout": Translation(_checkoutRequest, _checkoutResult, True),
        "checkin": Translation(_checkinRequest, _checkinResult, True),
        "renew": Translation(_renewRequest, _renewResult, True),
        "renewAll": Translation(_renewAllRequest, _renewAllResult, True),
        "hold": Translation(_holdRequest, _holdResult, True),
        "feePaid": Translation(_feePaidRequest, _feePaidResult, True),
        "blockPatron": Translation(_blockPatronRequest, _patronStatusResult("24"), True),
        "enablePatron": Translation(_enablePatronRequest, _patronStatusResult("26"), True),
        "updateItemStatus": Translation(
            _updateItemStatusRequest, _updateItemStatusResult, True
        ),
        "endPatronSession": Translation(
            _endPatronSessionRequest, _endPatronSessionResult, False
        ),
    }
)
"""
The L{Translation} of every L{IILS <sip2acs.ils.interfaces.IILS>} method
that reaches the library system, by method name. Looking up a patron asks
with a 63 whichever request the kiosk sent (23 or 63): its answer has all
a L{Patron <sip2acs.ils.values.Patron>} holds, and its C{extra} is what the
63 handler would not write.
"""


# -- status -------------------------------------------------------------------


@attrs.frozen
class UpstreamStatus:
    """
    What the upstream's 98 says it offers.

    @ivar online: On-line status.
    @ivar checkin: Checkin ok.
    @ivar checkout: Checkout ok.
    @ivar renewal: The ACS renewal policy (renewals allowed).
    @ivar statusUpdate: Status update ok (block patron).
    @ivar offline: Off-line ok (no-block transactions accepted later).
    @ivar supported: The names (of L{sip2acs.sip.spec.OPERATIONS}) of the
        operations C{BX} marks C{Y}; without C{BX} (a SIP 1.00 server), those
        SIP 1.00 has.
    @ivar timeoutPeriod: Seconds the SC should wait, or L{None} when not
        given or unknown (C{999}).
    @ivar retries: Retries allowed, or L{None} when unknown.
    @ivar clock: The upstream's date/time sync, aware, or L{None}.
    @ivar extra: Identified fields besides C{AO}, C{AM}, C{BX}, C{AN},
        C{AF} and C{AG}, in order.
    """

    online: bool
    checkin: bool
    checkout: bool
    renewal: bool
    statusUpdate: bool
    offline: bool
    supported: frozenset[str]
    institutionId: str | None = None
    libraryName: str | None = None
    terminalLocation: str | None = None
    protocolVersion: str | None = None
    timeoutPeriod: float | None = None
    retries: int | None = None
    clock: datetime | None = None
    screenMessages: tuple[str, ...] = ()
    printLines: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()


_SIP2_ONLY = frozenset({"63", "35", "37", "17", "19", "25", "15", "29", "65", "93"})
"""
The requests SIP 2.00 added (spec, section on versions): a server without
C{BX} does not have them.
"""

_UNKNOWN = 999


def statusRequest(
    upstream: Upstream, now: datetime, maxPrintWidth: int = _UNKNOWN
) -> codec.Message:
    """
    99: the SC is fine and speaks 2.00. Its print width is the widest
    (C{999}) by default, so that the upstream neither wraps nor cuts print
    lines: the kiosk's own width applies where sip2acs answers it.
    C{upstream} and C{now} are not needed (99 carries neither an
    institution nor a date); they are taken like every other request's.
    """
    return codec.SCStatus(statusCode="0", maxPrintWidth=maxPrintWidth, protocolVersion="2.00")


def statusFrom(response: codec.Message, zone: tzinfo = HOST_ZONE) -> UpstreamStatus:
    """
    98 -> L{UpstreamStatus}: the policy flags, and the operations C{BX}
    marks as supported (position by position, from the one table
    L{sip2acs.sip.spec.OPERATIONS}; a position C{BX} leaves out is not
    supported).

    @param zone: The institution's zone, for the upstream's clock.
    """
    answer = _Answer(response, "98", zone)
    message = answer.message
    bx = answer.text("BX")
    if bx is None:
        supported = frozenset(
            operation.name for operation in OPERATIONS if operation.request not in _SIP2_ONLY
        )
    else:
        supported = frozenset(
            operation.name for operation, mark in zip(OPERATIONS, bx, strict=False) if mark == "Y"
        )
    timeout = message.timeoutPeriod
    return UpstreamStatus(
        online=bool(message.onlineStatus),
        checkin=bool(message.checkinOk),
        checkout=bool(message.checkoutOk),
        renewal=bool(message.renewalPolicy),
        statusUpdate=bool(message.statusUpdateOk),
        offline=bool(message.offlineOk),
        supported=supported,
        institutionId=answer.text("AO"),
        libraryName=answer.text("AM"),
        terminalLocation=answer.text("AN"),
        protocolVersion=message.protocolVersion,
        timeoutPeriod=None if timeout in (None, _UNKNOWN) else timeout / 10,
        retries=None if message.retriesAllowed in (None, _UNKNOWN) else message.retriesAllowed,
        clock=answer.fixedDate(message.dateTimeSync),
        extra=answer.extra((), {"AO", "AM", "BX", "AN"}),
        **answer.screens(),
    )
