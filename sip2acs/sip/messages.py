# -*- test-case-name: tests.test_codec -*-
"""
The SIP2 message classes, built from the table at import time. Pure
Python, no Twisted.

Every message of L{sip2acs.sip.spec.MESSAGES} becomes a frozen attrs class
here (L{Login}, L{CheckoutResponse}, ...), a subclass of L{Message}, with
one attribute per fixed field and per identified field, named after the
spec's field names in mixedCase. Repeatable fields are tuples; the values
of L{SENSITIVE} fields never appear in a C{repr}. L{messageClass} finds a
class by its command identifier. L{sip2acs.sip.codec} reads and writes
these classes as bytes and re-exports them, L{Message}, L{messageClass}
and L{SENSITIVE}: callers import them from there.
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import attrs

from sip2acs.sip import spec as _spec

__all__ = [
    "SENSITIVE",
    "FIXED_LENGTH",
    "Message",
    "messageClass",
]

SENSITIVE = frozenset({"AC", "AD", "CO"})
"""
Field ids whose values are secrets: terminal password, patron PIN, login
password. They never appear in a message's C{repr}.
"""


# -- message classes --------------------------------------------------------


class Message:
    """
    Base class of every SIP2 message class built from the table.

    @cvar spec: The message's L{sip2acs.sip.spec.MessageSpec}.
    @ivar extra: Identified fields this message does not define (vendor
        extensions, fields of other messages), as C{(fid, value)} pairs in
        the order received. They are re-encoded as they came.
    @ivar order: The order of the identified fields in the frame this
        message was decoded from (an empty string stands for an empty field
        or stray delimiter), so that a decoded message re-encodes byte for
        byte. L{None} for messages built in code: they are encoded in the
        spec's order. Not part of equality.
    """

    if TYPE_CHECKING:
        # What every message class built from the table has.
        spec: ClassVar[_spec.MessageSpec]
        extra: tuple[tuple[str, str], ...]
        order: tuple[str, ...] | None

        # Each class takes its own fields as keywords. Their values are not
        # checked: a caller may give any value a field's kind formats
        # (a str for an int field, say), hence object.
        def __init__(self, **fields: object) -> None: ...

        # One attribute per field of the class's spec, made at import time.
        # Its type follows the field's kind (a
        # L{sip2acs.sip.fields.FieldValue}, or a tuple of texts for a
        # repeatable field) and is known only at run time: Any, so that
        # callers need not narrow a union they know the answer to.
        def __getattr__(self, name: str) -> Any: ...

    else:
        spec = None

    @property
    def code(self) -> str:
        """
        The two-character command identifier.
        """
        return self.spec.code

    def fields(self) -> list[tuple[str, Any]]:
        """
        The message's identified fields with a value, in the spec's order
        and then the extra ones.

        @return: C{(fid, value)} pairs; a repeatable field gives one pair
            per value.
        @rtype: L{list}
        """
        pairs: list[tuple[str, Any]] = []
        for fid in self.spec.fields:
            info = _spec.FIELDS[fid]
            value = getattr(self, info.name)
            if info.repeatable:
                pairs.extend((fid, each) for each in value)
            elif value is not None:
                pairs.append((fid, value))
        pairs.extend(self.extra)
        return pairs


def _redacted(value: object) -> str:
    return repr(value) if not value else "'***'"


def _redactedExtra(pairs: Iterable[tuple[str, str]]) -> str:
    return repr(
        tuple(
            (fid, "***" if fid in SENSITIVE and value else value)
            for fid, value in pairs
        )
    )


def _tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(value) if value is not None else ()


def _build(messageSpec: _spec.MessageSpec) -> type[Message]:
    attributes: dict[str, Any] = {}
    for field in messageSpec.fixed:
        attributes[field.name] = attrs.field(default=None)
    for fid in messageSpec.fields:
        info = _spec.FIELDS[fid]
        if info.repeatable:
            attributes[info.name] = attrs.field(default=(), converter=_tuple)
        elif fid in SENSITIVE:
            attributes[info.name] = attrs.field(default=None, repr=_redacted)
        else:
            attributes[info.name] = attrs.field(default=None)
    attributes["extra"] = attrs.field(default=(), converter=_tuple, repr=_redactedExtra)
    attributes["order"] = attrs.field(default=None, eq=False, repr=False)
    # make_class is typed as returning any class; this one has Message as its
    # base.
    cls = cast(
        type[Message],
        attrs.make_class(
            messageSpec.name,
            attributes,
            bases=(Message,),
            frozen=True,
            slots=True,
        ),
    )
    cls.spec = messageSpec
    cls.__module__ = __name__
    cls.__doc__ = "SIP2 message %s (%s), built from L{sip2acs.sip.spec}." % (
        messageSpec.code,
        messageSpec.name,
    )
    return cls

_BY_CODE: dict[str, type[Message]] = {}
_FIXED_LENGTH: dict[str, int] = {}
for _messageSpec in _spec.MESSAGES:
    _FIXED_LENGTH[_messageSpec.code] = sum(f.length for f in _messageSpec.fixed)
    _cls = _build(_messageSpec)
    _BY_CODE[_messageSpec.code] = _cls
    globals()[_messageSpec.name] = _cls
    __all__.append(_messageSpec.name)
del _messageSpec, _cls

FIXED_LENGTH: Mapping[str, int] = _FIXED_LENGTH
"""
The length of each message's fixed part (after the command identifier),
by command identifier.
"""

if TYPE_CHECKING:
    # The message classes above, built at import time, named for type
    # checkers (tests.test_codec checks that this list matches the spec).
    Login: type[Message]
    LoginResponse: type[Message]
    SCStatus: type[Message]
    ACSStatus: type[Message]
    PatronStatus: type[Message]
    PatronStatusResponse: type[Message]
    PatronInformation: type[Message]
    PatronInformationResponse: type[Message]
    Checkout: type[Message]
    CheckoutResponse: type[Message]
    Checkin: type[Message]
    CheckinResponse: type[Message]
    BlockPatron: type[Message]
    ItemInformation: type[Message]
    ItemInformationResponse: type[Message]
    ItemStatusUpdate: type[Message]
    ItemStatusUpdateResponse: type[Message]
    PatronEnable: type[Message]
    PatronEnableResponse: type[Message]
    Hold: type[Message]
    HoldResponse: type[Message]
    Renew: type[Message]
    RenewResponse: type[Message]
    RenewAll: type[Message]
    RenewAllResponse: type[Message]
    EndPatronSession: type[Message]
    EndSessionResponse: type[Message]
    FeePaid: type[Message]
    FeePaidResponse: type[Message]
    RequestACSResend: type[Message]
    RequestSCResend: type[Message]


def messageClass(code: str) -> type[Message]:
    """
    The message class for a two-character command identifier.

    @raise KeyError: C{code} is not a SIP 2.00 message.
    """
    return _BY_CODE[code]
