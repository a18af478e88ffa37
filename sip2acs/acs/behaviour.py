# -*- test-case-name: tests.test_behaviour -*-
"""
How one SC account's answers are shaped: the per-account options a Koha
or Evergreen site tuned per SIP login (C{checked_in_ok},
C{cv_triggers_alert}, C{av_format}, C{hide_fields}, ...), as one frozen
L{Behaviour}.

The configuration reads them (each key of an C{[[account]]} table, or of
its institution's C{[institution.account-defaults]}) and stores the
result as C{AccountConfig.behaviour}; the built-in L{Behaviour()
<Behaviour>} is the behaviour of sip2acs without any of them. The request
handlers (L{sip2acs.acs.handlers}) apply the options of their request;
the session applies L{Behaviour.shape} (hidden fields, screen-message
rewrites, non-printing characters) to every answer it sends.
"""

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from sip2acs.acs.templates import Template, hideFields, screenMessageRewriter
from sip2acs.sip.spec import FIELDS

__all__ = [
    "Behaviour",
    "CHECKIN_NOT_OUT",
    "EMPTY_PIN",
    "FEE_FORMATS",
    "HOLD_LISTS",
    "OVERPAYMENT",
    "PATRON_CLASS",
    "PATRON_STATUS_PERMIT",
    "PAYMENT_KINDS",
    "SECURITY",
    "UNHIDEABLE",
    "printable",
]

CHECKIN_NOT_OUT = ("ok", "refused")
OVERPAYMENT = ("default", "refused", "credit")
PAYMENT_KINDS = ("payment", "writeoff")
EMPTY_PIN = ("refused", "accepted")
HOLD_LISTS = ("barcode", "title")
FEE_FORMATS = ("amount", "3m", "swyer-a", "swyer-b", "template")
SECURITY = ("N", "U")
PATRON_STATUS_PERMIT = ("none", "loans", "all")
PATRON_CLASS = ("name", "code")

UNHIDEABLE = frozenset({"AY", "AZ"})
"""
Fields no account may hide: the wire's own sequence number and checksum.
"""

_V = TypeVar("_V")

_NONPRINTING = frozenset({"Cc", "Cs", "Cn", "Zl", "Zp"})
"""
The Unicode categories of the characters C{nonprinting-characters}
replaces: controls, surrogates, unassigned code points, line and
paragraph separators (what is not printable in Perl's sense, as Koha's
C{convert_nonprinting_characters} reads it; spaces and format
characters are printable).
"""


def printable(text: str, replacement: str) -> str:
    """
    C{text} with each non-printing character (see L{_NONPRINTING})
    replaced by C{replacement} (which may be empty, or longer than one
    character).
    """
    if text.isprintable():
        # Python's printable is narrower than Perl's (it excludes spaces
        # other than U+0020 and format characters): nothing to replace.
        return text
    return "".join(
        replacement if unicodedata.category(ch) in _NONPRINTING else ch for ch in text
    )


def _pairs(value: Iterable[Iterable[str]]) -> tuple[tuple[str, str], ...]:
    """
    The converter of L{Behaviour.screenMessageRewrites}: C{(pattern,
    replacement)} pairs (lists from TOML) as a tuple of 2-tuples.
    """
    return tuple((pattern, replacement) for pattern, replacement in value)


def _frozenMapping(value: Mapping[str, _V] | Iterable[tuple[str, _V]]) -> Mapping[str, _V]:
    """
    A read-only copy of C{value} (a mapping or C{(key, value)} pairs), in
    its order.
    """
    return MappingProxyType(dict(value))


@attrs.frozen
class Behaviour:
    """
    The per-account options; every default is sip2acs's behaviour without
    them. C{tap.md} ("Per-account behaviour") describes each with its
    TOML key and its Koha and Evergreen names.

    @ivar checkinNotOut: A checkin of an item that was not on loan answers
        C{ok} 1 (C{"ok"}) or 0 (C{"refused"}).
    @ivar cvOnSuccess: A successful checkin with no alert type carries
        C{CV} 00.
    @ivar alertOnlyWithCV: The 10's alert flag is Y exactly when the
        checkin has an alert type.
    @ivar alwaysSendCT: The 10 always carries C{CT} (empty when there is
        no destination).
    @ivar holdsBlockCheckin: A checkin of an item with a hold waiting for
        it is refused (the adapter changes nothing).
    @ivar overpayment: A 37 paying more than is owed: C{"default"} (as
        the adapter does), C{"refused"} or C{"credit"}.
    @ivar paymentTypes: SIP2 payment type (C{"00"}..C{"99"}) to
        C{"payment"} or C{"writeoff"}; a type not listed is a payment.
    @ivar registerId: The cash register recorded with each payment, or
        L{None}.
    @ivar emptyPin: Whether a present but empty C{AD} is reported as a
        valid PIN (C{"accepted"}: C{CQ} Y) or as no PIN at all
        (C{"refused"}).
    @ivar holdsCapture: A checkin traps the item for a hold waiting for
        it (else the item is returned as if no hold wanted it, and the 10
        still names the hold).
    @ivar lostItemsBlockCheckout: A patron with this many or more loans
        of items marked lost may not check out (L{None}: no such limit).
    @ivar overduesBlockCheckout: A patron with any overdue loan may not
        check out, and 24, 26 and 64 say "too many items overdue".
    @ivar blockedItemTypes: Item types (the system's item type codes)
        this account may not check out.
    @ivar homeLibraryInAF: 24 and 64 carry a screen message with the
        patron's home library.
    @ivar hiddenFields: Field ids never sent to this account (a required
        field is sent empty).
    @ivar allowedFields: L{None}, or the only identified fields sent to
        this account (with those the message requires; every other one,
        vendor fields included, is left out).
    @ivar holdList: Whether 64's hold lists (C{AS}, C{CD}) carry barcodes
        or titles.
    @ivar feeFormat: The form of 64's C{AV} entries: C{"amount"}
        (barcode or title, then the amount), C{"3m"}, C{"swyer-a"},
        C{"swyer-b"} or C{"template"} (L{avTemplate}).
    @ivar dueDateFormat: C{"sip"} (the 18-character SIP2 date) or a
        C{strftime} pattern, for C{AH} of 12, 30 and 18.
    @ivar renewalDesensitize: The 30 of a successful renewal says
        desensitize Y (else N).
    @ivar unknownItemSecurity: C{"N"} or C{"U"}: the desensitize of a 12
        and the resensitize of a 10 refusing an unknown item.
    @ivar patronStatusPermit: C{"none"}, C{"loans"} (charge, renewal and
        recall privileges never denied) or C{"all"} (all 14 positions
        blank) in 24, 26 and 64.
    @ivar patronClass: C{PC} carries the class's C{"name"} or its
        C{"code"}.
    @ivar expiryField: The field id 64 carries the patron's expiry date
        in (C{YYYYMMDD}), or L{None}.
    @ivar aeTemplate: Renders C{AE} of 24, 26 and 64, or L{None}.
    @ivar daTemplate: Renders C{DA} (hold patron name) of 10, or L{None}.
    @ivar avTemplate: Renders each C{AV} entry of 64 when L{feeFormat}
        is C{"template"}.
    @ivar patronFields: Extra field id to its template, on 24, 26 and 64.
    @ivar itemFields: Extra field id to its template, on 18 (and 10 and
        12).
    @ivar screenMessageRewrites: C{(pattern, replacement)} pairs applied
        in order (as L{re.sub}) to every C{AF} of every answer (checked by
        L{screenMessageRewriter
        <sip2acs.acs.templates.screenMessageRewriter>}: a bad pair raises
        L{TemplateError <sip2acs.acs.templates.TemplateError>}).
    @ivar showOutstandingAmount: A 12 refusing a checkout for the
        patron's fines adds a screen message with what the patron owes;
        a 10 of a loan adds one with the overdue fines the patron owes
        for that item (a patron lookup each, only with this option).
    @ivar showCheckinMessage: A 10 of a loan adds a screen message saying
        the item was checked in, with its permanent location and
        collection.
    @ivar nonprintingCharacters: L{None} (the codec's own cleaning only:
        controls become a space), or the text replacing each non-printing
        character (L{printable}) in every text field of every answer.
    """

    checkinNotOut: str = "ok"
    cvOnSuccess: bool = False
    alertOnlyWithCV: bool = False
    alwaysSendCT: bool = False
    holdsBlockCheckin: bool = False
    holdsCapture: bool = True
    lostItemsBlockCheckout: int | None = None
    overduesBlockCheckout: bool = False
    blockedItemTypes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    overpayment: str = "default"
    paymentTypes: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozenMapping, hash=False
    )
    registerId: str | None = None
    emptyPin: str = "refused"
    homeLibraryInAF: bool = False
    hiddenFields: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    allowedFields: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple)
    )
    holdList: str = "barcode"
    feeFormat: str = "amount"
    dueDateFormat: str = "sip"
    renewalDesensitize: bool = True
    unknownItemSecurity: str = "N"
    patronStatusPermit: str = "none"
    patronClass: str = "name"
    expiryField: str | None = None
    aeTemplate: Template | None = attrs.field(default=None, eq=False)
    daTemplate: Template | None = attrs.field(default=None, eq=False)
    avTemplate: Template | None = attrs.field(default=None, eq=False)
    patronFields: Mapping[str, Template] = attrs.field(
        factory=dict, converter=_frozenMapping, eq=False
    )
    itemFields: Mapping[str, Template] = attrs.field(
        factory=dict, converter=_frozenMapping, eq=False
    )
    screenMessageRewrites: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_pairs
    )
    showOutstandingAmount: bool = False
    showCheckinMessage: bool = False
    nonprintingCharacters: str | None = None
    _rewriter: Callable[[str], str] = attrs.field(init=False, eq=False, repr=False)

    def paymentKind(self, paymentType: str) -> str:
        """
        Whether a 37 of C{paymentType} is a C{"payment"} or a
        C{"writeoff"}.
        """
        return self.paymentTypes.get(paymentType, "payment")

    @_rewriter.default
    def _rewriterOf(self) -> Callable[[str], str]:
        return screenMessageRewriter(self.screenMessageRewrites)

    def rewrite(self, text: str) -> str:
        """
        A screen message after the account's rewrites, in order.
        """
        return self._rewriter(text)

    def shape(self, response: Any) -> Any:
        """
        C{response} as this account may receive it: its screen messages
        rewritten (those that become empty are dropped), its hidden
        fields left out (a required one sent empty), wherever they are in
        the message, its C{extra} included, and the non-printing
        characters of every text field replaced.

        @param response: A message (L{sip2acs.sip.codec.Message}).
        @return: C{response} itself when nothing changes, else a copy.
        """
        if self.screenMessageRewrites:
            response = self._rewritten(response)
        response = hideFields(response, self._hidden(response))
        if self.nonprintingCharacters is not None:
            response = self._printable(response, self.nonprintingCharacters)
        return response

    def _printable(self, response: Any, replacement: str) -> Any:
        """
        C{response} with L{printable} applied to each text of its
        identified fields, repeated ones and C{extra} included.
        """
        changes: dict[str, Any] = {}
        for fid in response.spec.fields:
            info = FIELDS[fid]
            value = getattr(response, info.name)
            if info.repeatable:
                texts = tuple(
                    printable(text, replacement) if isinstance(text, str) else text
                    for text in value
                )
                if texts != tuple(value):
                    changes[info.name] = texts
            elif isinstance(value, str):
                text = printable(value, replacement)
                if text != value:
                    changes[info.name] = text
        extra = tuple((fid, printable(text, replacement)) for fid, text in response.extra)
        if extra != tuple(response.extra):
            changes["extra"] = extra
        return attrs.evolve(response, **changes) if changes else response

    def _hidden(self, response: Any) -> Iterable[str]:
        """
        The fields of C{response} this account must not receive: its
        hidden ones, and with an allow list every identified field outside
        it that the message does not require.
        """
        if self.allowedFields is None:
            return self.hiddenFields
        allowed = set(self.allowedFields) | set(response.spec.required) | UNHIDEABLE
        present = {fid for fid, _ in response.fields()} | {fid for fid, _ in response.extra}
        return set(self.hiddenFields) | (present - allowed)

    def _rewritten(self, response: Any) -> Any:
        changes: dict[str, Any] = {}
        if "AF" in response.spec.fields:
            screens = tuple(text for text in map(self.rewrite, response.screenMessage) if text)
            if screens != tuple(response.screenMessage):
                changes["screenMessage"] = screens
        extra = []
        for fid, text in response.extra:
            if fid == "AF":
                text = self.rewrite(text)
                if not text:
                    continue
            extra.append((fid, text))
        if tuple(extra) != tuple(response.extra):
            changes["extra"] = tuple(extra)
        return attrs.evolve(response, **changes) if changes else response
