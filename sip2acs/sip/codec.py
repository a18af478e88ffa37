# -*- test-case-name: tests.test_codec -*-
"""
The SIP2 codec: bytes to typed messages and back. Pure Python, no Twisted.

Every message of L{sip2acs.sip.spec.MESSAGES} becomes a frozen attrs class in
this module (L{Login}, L{CheckoutResponse}, ...), with one attribute per
fixed field and per identified field, named after the spec's field names in
mixedCase. Repeatable fields (C{AF}, C{AG}, C{AS}..C{AV}, C{BU}, C{CD},
C{BM}, C{BN}) are tuples.

    >>> frame = decode(b"9300CNuser_id|COpassw0rd|AY1AZF594")
    >>> frame.message.loginUserId, frame.sequence
    ('user_id', 1)
    >>> encode(LoginResponse(ok=True), sequence=1)
    b'941AY1AZFDFC'

Decoding is lenient in the ways real kiosks need (field order, unknown ids,
empty and stray fields, trailing C{|||}, lower-case checksums and ones not
zero-padded to four digits, garbage dates, a fixed part of only dates left
out: see L{FIXED_PART_OPTIONAL}) and strict only where being wrong would
be dangerous: a checksum that
does not verify raises L{ChecksumError}, an unknown command
L{UnknownMessage} and a fixed part that is too short L{MalformedMessage}.
Encoding cleans values so that a frame is always well formed and printable:
no control character (NUL, CR, LF, ...) or delimiter inside a value, fixed
fields and unknown fields included, and at most 255 encoded bytes per field,
screen messages and print lines longer than that being split over several
fields.
"""

import re
import unicodedata
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, cast

import attrs

from sip2acs.sip import spec as _spec

__all__ = [
    "SIP2Error",
    "ChecksumError",
    "UnknownMessage",
    "MalformedMessage",
    "Message",
    "Decoded",
    "decode",
    "encode",
    "checksum",
    "checksumOk",
    "parseDate",
    "formatDate",
    "formatFixed",
    "messageClass",
    "maskFrame",
    "maskSecrets",
    "PERSONAL",
    "SENSITIVE",
    "MAX_FIELD_BYTES",
    "FIXED_PART_OPTIONAL",
]

MAX_FIELD_BYTES = 255
SENSITIVE = frozenset({"AC", "AD", "CO"})
"""
Field ids whose values are secrets: terminal password, patron PIN, login
password. They never appear in a message's C{repr}.
"""

PERSONAL = frozenset({"AE", "BD", "BE", "BF", "PB", "DA"})
"""
Field ids whose values are a patron's personal data: name, address, e-mail,
phone, birth date, the name of the patron a hold is for.
"""


class SIP2Error(ValueError):
    """
    A frame that cannot be decoded. C{code} is the two-character command
    identifier when one could be read, else L{None}.
    """

    def __init__(self, reason: str, code: str | None = None) -> None:
        ValueError.__init__(self, reason)
        self.reason = reason
        self.code = code


class ChecksumError(SIP2Error):
    """
    The frame carries an C{AZ} checksum that does not verify.
    """


class UnknownMessage(SIP2Error):
    """
    The frame's command identifier is not a SIP 2.00 message.
    """


class MalformedMessage(SIP2Error):
    """
    The frame is a known message but its fixed part is cut short.
    """


# -- checksum ---------------------------------------------------------------


def checksum(prefix: bytes) -> str:
    """
    The error-detection checksum of C{prefix}.

    @param prefix: Every encoded byte from the command identifier up to and
        including the literal C{AZ}.
    @type prefix: L{bytes}
    @return: Four upper-case hex digits: the two's complement of the 16-bit
        sum of the bytes.
    @rtype: L{str}
    """
    return "%04X" % (-sum(prefix) & 0xFFFF)


_SHORT_CHECKSUM = re.compile(rb"AZ([0-9A-Fa-f]{1,3})\Z")


def checksumOk(frame: bytes) -> bool:
    """
    Whether C{frame}, ending in its checksum, carries a valid one.

    The checksum is four hex digits, or one to three right after the
    literal C{AZ}: some deployed clients do not zero-pad values below
    C{0x1000}, and the number is verified as the number it is. Lower-case
    hex is accepted.

    @type frame: L{bytes}
    @rtype: L{bool}
    """
    digits = frame[-4:]
    if len(digits) < 4 or _HEX.fullmatch(digits) is None:
        match = _SHORT_CHECKSUM.search(frame)
        if match is None:
            return False
        digits = match.group(1)
    return _verifies(frame, digits)


def _verifies(frame: bytes, digits: bytes) -> bool:
    """
    Whether the checksum C{digits} that C{frame} ends with is the right one
    for the bytes before them.
    """
    return (sum(frame[: -len(digits)]) + int(digits, 16)) & 0xFFFF == 0


# -- dates ------------------------------------------------------------------


def _zones() -> dict[str, timezone]:
    zones = {"Z": timezone.utc}
    for index, letter in enumerate("ABCDEFGHIKLM", start=1):
        zones[letter] = timezone(timedelta(hours=index))
    for index, letter in enumerate("NOPQRSTUVWXY", start=1):
        zones[letter] = timezone(timedelta(hours=-index))
    return zones


_HEX = re.compile(rb"[0-9A-Fa-f]{4}")

_ZONES = _zones()
_LETTERS = {tz.utcoffset(None): letter for letter, tz in _ZONES.items()}
NO_DATE = " " * 18


def parseDate(text: str) -> datetime | None:
    """
    Parse an 18-character SIP date, C{YYYYMMDDZZZZHHMMSS}.

    Four blanks in the zone part mean local time (a naive datetime); a
    military zone letter (C{Z} for UTC) gives an aware one. Blanks,
    truncated or impossible dates are "no date", never an error, so a kiosk
    with a broken clock cannot stop a checkout.

    @type text: L{str}
    @rtype: L{datetime} or L{None}
    """
    if len(text) != 18 or not (text[:8].isdigit() and text[12:].isdigit()):
        return None
    try:
        value = datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[12:14]),
            int(text[14:16]),
            int(text[16:18]),
        )
    except ValueError:
        return None
    zone = text[8:12].strip()
    if zone and zone[-1].upper() in _ZONES:
        value = value.replace(tzinfo=_ZONES[zone[-1].upper()])
    return value


def formatDate(value: datetime | None) -> str:
    """
    Format a datetime as an 18-character SIP date; L{None} gives 18 blanks.

    A naive datetime is local time (four blank zone characters, the form
    every server sends); an aware one gets its military zone letter, or is
    converted to UTC (C{Z}) when its offset has no letter.

    @type value: L{datetime} or L{None}
    @rtype: L{str}
    """
    if value is None:
        return NO_DATE
    offset = value.utcoffset()
    if offset is None:
        zone = "    "
    elif offset in _LETTERS:
        zone = "   " + _LETTERS[offset]
    else:
        value = value.astimezone(timezone.utc)
        zone = "   Z"
    return "%04d%02d%02d%s%02d%02d%02d" % (
        value.year,
        value.month,
        value.day,
        zone,
        value.hour,
        value.minute,
        value.second,
    )


# -- value conversion -------------------------------------------------------

FieldValue: TypeAlias = str | bool | int | datetime | None
"""
What the codec decodes one field to, by the field's kind (see
L{sip2acs.sip.spec}): text, a flag, a count or a date; L{None} for "no
value". A repeatable field is a tuple of texts.
"""


def _parseValue(kind: str, text: str) -> FieldValue:
    if kind == "text":
        return text
    if kind == "ok":
        return text == "1"
    if kind == "yn":
        return text == "Y" if text in ("Y", "N") else None
    if kind == "ynu":
        return {"Y": True, "N": False}.get(text)
    if kind == "date":
        return parseDate(text)
    if kind == "int":
        text = text.strip()
        return int(text) if text.isascii() and text.isdigit() else None
    raise AssertionError(kind)


def _parseFixed(field: _spec.FixedField, text: str) -> FieldValue:
    if field.kind == "yn":
        # A fixed Y/N flag is a plain boolean: anything but Y is "no".
        return text == "Y"
    return _parseValue(field.kind, text)


def formatFixed(
    field: _spec.FixedField, value: Any, encoding: str = "ascii", delimiter: str = "|"
) -> str:
    """
    The characters a fixed field's value is sent as. Text is cleaned like
    every other value (no control characters, no delimiter: a fixed part
    never contains the delimiter), then padded or cut to the field's
    length.

    @type field: L{sip2acs.sip.spec.FixedField}
    @param value: The field's value, of the type its kind gives (a
        L{FieldValue}); message classes do not check what callers give
        them, so it is typed as anything.
    @param encoding: The account's character set.
    @param delimiter: The field delimiter.
    @rtype: L{str}
    """
    kind, length = field.kind, field.length
    if kind == "text":
        return _clean(value or "", encoding, delimiter).ljust(length)[:length]
    if kind == "ok":
        return "1" if value else "0"
    if kind == "yn":
        return "Y" if value else "N"
    if kind == "ynu":
        return "U" if value is None else ("Y" if value else "N")
    if kind == "date":
        return formatDate(value)
    if kind == "int":
        if value is None:
            return " " * length
        return str(min(max(int(value), 0), 10**length - 1)).zfill(length)
    raise AssertionError(kind)


def _formatVariable(info: _spec.FieldInfo, value: Any) -> str:
    kind = info.kind
    if kind == "text":
        return cast(str, value)  # what a text field holds
    if kind == "yn":
        return "Y" if value else "N"
    if kind == "date":
        return formatDate(value)
    if kind == "int":
        text = str(max(int(value), 0))
        return text.zfill(info.width)[-info.width :] if info.width else text
    raise AssertionError(kind)


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
        # Its type follows the field's kind (a L{FieldValue}, or a tuple of
        # texts for a repeatable field) and is known only at run time: Any,
        # so that callers need not narrow a union they know the answer to.
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


_Plan: TypeAlias = tuple[tuple[str, str, _spec.FieldInfo, bool], ...]
"""
How L{encode} writes a message's identified fields in the spec's order: a
C{(fid, attribute name, field, required)} row for each.
"""

_BY_CODE: dict[str, type[Message]] = {}
_PLANS: dict[str, _Plan] = {}
_FIXED_LENGTH: dict[str, int] = {}
for _messageSpec in _spec.MESSAGES:
    _FIXED_LENGTH[_messageSpec.code] = sum(f.length for f in _messageSpec.fixed)
    _PLANS[_messageSpec.code] = tuple(
        (fid, _spec.FIELDS[fid].name, _spec.FIELDS[fid], fid in _messageSpec.required)
        for fid in _messageSpec.fields
    )
    _cls = _build(_messageSpec)
    _BY_CODE[_messageSpec.code] = _cls
    globals()[_messageSpec.name] = _cls
    __all__.append(_messageSpec.name)
del _messageSpec, _cls

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


FIXED_PART_OPTIONAL = frozenset(
    messageSpec.code
    for messageSpec in _spec.MESSAGES
    if messageSpec.request
    and messageSpec.fixed
    and all(field.kind == "date" for field in messageSpec.fixed)
)
"""
The requests whose fixed part a client may leave out: those whose fixed
part is only dates (17, 19, 25, 35 and 65), where "no date" is a complete
and harmless answer. A widely copied client class sends
C{65AODEMO|AAP0001|AD1234|BON|}, with no transaction date. A fixed part
never contains the delimiter, so when the text where it should be does,
and the text right after the command identifier starts with one of the
message's field ids, the fixed part is read as missing: its dates are
L{None}. Messages with flags, codes or text in their fixed part (11's SC
renewal policy and no-block flag, 09's no-block flag, 37's payment type,
15's hold mode, ...) are not guessed at: a missing fixed part is still
L{MalformedMessage} for them.
"""


def messageClass(code: str) -> type[Message]:
    """
    The message class for a two-character command identifier.

    @raise KeyError: C{code} is not a SIP 2.00 message.
    """
    return _BY_CODE[code]


# -- decoding ---------------------------------------------------------------


@attrs.frozen
class Decoded:
    """
    A decoded frame.

    @ivar message: The typed message.
    @ivar sequence: The C{AY} sequence digit, or L{None}.
    @ivar checksum: The C{AZ} checksum received, as four upper-case hex
        digits (a short one zero-padded), or L{None} when the frame carried
        no error detection.
    """

    message: Message
    sequence: int | None = None
    checksum: str | None = None


def decode(frame: bytes, encoding: str = "ascii", delimiter: str = "|") -> Decoded:
    """
    Decode one frame (without its terminator) into a message.

    @param frame: The bytes of one message. A leading LF (left over from a
        CRLF sender) and trailing CR/LF are ignored.
    @type frame: L{bytes}
    @param encoding: The account's character set; undecodable bytes are
        replaced, never fatal.
    @param delimiter: The field delimiter, C{"|"} unless configured.

    @rtype: L{Decoded}
    @raise UnknownMessage: The command identifier is not a SIP2 message.
    @raise ChecksumError: An C{AZ} checksum is present and wrong.
    @raise MalformedMessage: The frame is shorter than its fixed part (and
        does not leave out a fixed part of L{FIXED_PART_OPTIONAL}).
    """
    frame = frame.strip(b"\r\n")
    if len(frame) < 2:
        raise MalformedMessage("frame too short: %r" % (frame,))
    code = frame[:2].decode("ascii", "replace")
    cls = _BY_CODE.get(code)
    if cls is None:
        raise UnknownMessage("unknown command identifier %r" % (code,), code)
    sequence = sent = None
    digits = _checksumDigits(frame, code, encoding, delimiter)
    if digits is not None:
        if not _verifies(frame, digits):
            raise ChecksumError("checksum does not verify", code)
        sent = "%04X" % (int(digits, 16),)
        end = len(frame) - len(digits) - 2
        if frame[end - 3 : end - 1] == b"AY" and end >= 5 and 48 <= frame[end - 1] <= 57:
            sequence = frame[end - 1] - 48
            end -= 3
        frame = frame[:end]
    text = frame.decode(encoding, "replace")
    messageSpec = cls.spec
    values: dict[str, FieldValue | list[str]] = {}
    position = 2
    fixedLength = _FIXED_LENGTH[code]
    if (
        code in FIXED_PART_OPTIONAL
        and delimiter in text[2 : 2 + fixedLength]
        and text[2:4] in messageSpec.fields
    ):
        values = {field.name: None for field in messageSpec.fixed}
    else:
        for field in messageSpec.fixed:
            chunk = text[position : position + field.length]
            if len(chunk) < field.length:
                raise MalformedMessage(
                    "%s is too short for its fixed field %s" % (code, field.name),
                    code,
                )
            values[field.name] = _parseFixed(field, chunk)
            position += field.length
    known = messageSpec.fields
    order: list[str] = []
    extra: list[tuple[str, str]] = []
    repeated: dict[str, list[str]] = {}
    segments = text[position:].split(delimiter)
    if segments[-1] == "":
        segments.pop()
    for segment in segments:
        if len(segment) < 2:
            order.append("")
            continue
        fid, raw = segment[:2], segment[2:]
        info = _spec.FIELDS.get(fid)
        if info is None or fid not in known:
            extra.append((fid, raw))
        elif info.repeatable:
            repeated.setdefault(info.name, []).append(raw)
        elif info.name in values:
            continue  # a duplicate of a single field: the first one wins
        else:
            values[info.name] = _parseValue(info.kind, raw)
        order.append(fid)
    values.update(repeated)
    message = cls(extra=extra, order=tuple(order), **values)
    return Decoded(message, sequence, sent)


def _checksumDigits(frame: bytes, code: str, encoding: str, delimiter: str) -> bytes | None:
    """
    The hex digits of the C{AZ} checksum C{frame} ends with, or L{None}.

    Four digits after C{AZ} are a checksum. One to three are (a client
    that does not zero-pad) only where a trailer can begin: after the
    delimiter, after C{AY} and its digit, or right after the fixed part,
    so that a last field without its delimiter whose value ends in, say,
    C{AZ1} is not taken for one.
    """
    if frame[-6:-4] == b"AZ" and len(frame) >= 8 and _HEX.fullmatch(frame[-4:]):
        return frame[-4:]
    match = _SHORT_CHECKSUM.search(frame)
    if match is None:
        return None
    start = match.start()
    if (
        frame[:start].endswith(delimiter.encode(encoding, "replace"))
        or (frame[start - 3 : start - 1] == b"AY" and 48 <= frame[start - 1] <= 57)
        or start == 2 + _FIXED_LENGTH[code]
    ):
        return match.group(1)
    return None


# -- encoding ---------------------------------------------------------------


def _fold(value: str) -> str:
    """
    Fold a value to ASCII: accents dropped ("é" to "e"), the rest "?".
    """
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _byteLength(value: str, encoding: str) -> int:
    if value.isascii():
        return len(value)
    return len(value.encode(encoding, "replace"))


def _truncate(value: str, encoding: str, limit: int = MAX_FIELD_BYTES) -> str:
    """
    Cut C{value} to at most C{limit} encoded bytes, at a character boundary.
    """
    if _byteLength(value, encoding) <= limit:
        return value
    end = limit
    while _byteLength(value[:end], encoding) > limit:
        end -= 1
    return value[:end]


def _fit(value: str, encoding: str, limit: int = MAX_FIELD_BYTES) -> list[str]:
    """
    Split C{value} into pieces of at most C{limit} encoded bytes, breaking
    at the last space where there is one.
    """
    pieces = []
    while _byteLength(value, encoding) > limit:
        end = limit
        while _byteLength(value[:end], encoding) > limit:
            end -= 1
        space = value.rfind(" ", 0, end + 1)
        if space > 0:
            pieces.append(value[:space])
            value = value[space + 1 :]
        else:
            pieces.append(value[:end])
            value = value[end:]
    pieces.append(value)
    return pieces


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""
What a reply never carries: the C0 control characters (NUL, CR, LF, ...),
DEL, the C1 control characters and the Unicode line and paragraph
separators.
"""


def _clean(value: str, encoding: str, delimiter: str) -> str:
    """
    C{value} made printable text fit for a frame: for ASCII, accents
    dropped; every control character (see L{_UNSAFE}) and the delimiter
    replaced by a space. The one cleaning every value written by
    L{encode} goes through, fixed and identified fields alike.
    """
    if not value.isascii() and encoding == "ascii":
        value = _fold(value)
    if delimiter in value or _UNSAFE.search(value) is not None:
        value = _UNSAFE.sub(" ", value).replace(delimiter, " ")
    return value


def encode(
    message: Message,
    sequence: int | None = None,
    checksum: bool = False,
    encoding: str = "ascii",
    delimiter: str = "|",
) -> bytes:
    """
    Encode a message as the bytes of one frame, without the terminator.

    @param message: Any message built from the table.
    @param sequence: The C{AY} digit to send (the request's, echoed), or
        L{None} for no sequence number (96 and 97 never carry one).
    @param checksum: Whether to append the C{AZ} checksum. A C{sequence}
        implies it.
    @param encoding: The account's character set. Characters it cannot
        carry become C{?}; for ASCII, accented letters lose their accents.
    @param delimiter: The field delimiter.

    @rtype: L{bytes}
    """
    messageSpec = message.spec
    parts = [messageSpec.code]
    for field in messageSpec.fixed:
        parts.append(
            formatFixed(field, getattr(message, field.name), encoding, delimiter)
        )
    if message.order is None and not message.extra:
        _appendFields(parts, message, _PLANS[messageSpec.code], encoding, delimiter)
    else:
        _appendOrdered(parts, message, encoding, delimiter)
    if sequence is not None:
        parts.append("AY%d" % (sequence % 10,))
        checksum = True
    if checksum:
        parts.append("AZ")
    data = "".join(parts).encode(encoding, "replace")
    if checksum:
        data += _checksumBytes(data)
    return data


def _safe(value: str, encoding: str, delimiter: str) -> str:
    """
    C{value} made fit for one field: cleaned, and cut to 255 bytes.
    """
    if (
        value.isascii()
        and len(value) <= MAX_FIELD_BYTES
        and delimiter not in value
        and _UNSAFE.search(value) is None
    ):
        return value
    return _truncate(_clean(value, encoding, delimiter), encoding)


def _appendFields(
    parts: list[str], message: Message, plan: _Plan, encoding: str, delimiter: str
) -> None:
    """
    Append the identified fields of a message built in code, in the spec's
    order: required ones always, the others when they have a value.
    """
    for fid, name, info, required in plan:
        value = getattr(message, name)
        if info.repeatable:
            for each in value:
                for piece in _fit(_clean(each, encoding, delimiter), encoding):
                    parts.append(fid + piece + delimiter)
        elif value is not None:
            if info.kind != "text":
                value = _formatVariable(info, value)
            parts.append(fid + _safe(value, encoding, delimiter) + delimiter)
        elif required:
            parts.append(fid + delimiter)


def _appendOrdered(parts: list[str], message: Message, encoding: str, delimiter: str) -> None:
    """
    Append the identified fields of a decoded message in the order they
    were received (then any others in the spec's order), extras included.
    """
    messageSpec = message.spec
    pending = {}
    for fid in messageSpec.fields:
        info = _spec.FIELDS[fid]
        value = getattr(message, info.name)
        if info.repeatable:
            values = []
            for each in value:
                values.extend(_fit(_clean(each, encoding, delimiter), encoding))
            if values:
                pending[fid] = values
        elif value is not None:
            pending[fid] = [_safe(_formatVariable(info, value), encoding, delimiter)]
        elif fid in messageSpec.required:
            pending[fid] = [""]
    for fid, value in message.extra:
        pending.setdefault(fid, []).append(_safe(value, encoding, delimiter))
    if message.order is not None:
        for fid in message.order:
            if not fid:
                parts.append(delimiter)
            elif pending.get(fid):
                parts.append(
                    _clean(fid, encoding, delimiter) + pending[fid].pop(0) + delimiter
                )
    for fid in messageSpec.fields:
        for value in pending.pop(fid, ()):
            parts.append(fid + value + delimiter)
    for fid, _ in message.extra:
        if pending.get(fid):
            # The id of an unknown field is text from the SC: cleaned too.
            parts.append(
                _clean(fid, encoding, delimiter) + pending[fid].pop(0) + delimiter
            )


def _checksumBytes(prefix: bytes) -> bytes:
    return checksum(prefix).encode("ascii")


def maskFrame(
    frame: bytes,
    encoding: str = "ascii",
    delimiter: str = "|",
    masked: Collection[str] = SENSITIVE,
    anywhere: bool = False,
) -> str:
    """
    A frame as text for logs and display, with the values of the fields in
    C{masked} replaced by C{***} and control characters escaped.

    Fields are found by their id on the raw text, so that a frame that
    does not decode (shorter than its fixed part, an unknown command, a
    foreign delimiter) is masked too; see L{_maskFields}.

    @param frame: The bytes of one message (any message, even a malformed
        one).
    @param masked: Field ids to mask: L{SENSITIVE} (passwords and PINs) by
        default, C{SENSITIVE | PERSONAL} to hide personal data too, or an
        empty set for everything in clear.
    @param anywhere: Mask from every occurrence of an id of C{masked}, even
        inside a word: for frames from an SC, which may have lost a
        delimiter (C{AAP0001AD1234|}) and carry little free text.
    @rtype: L{str}
    """
    text = frame.decode(encoding, "replace")
    if masked:
        text = _maskFields(text, delimiter, masked, anywhere)
    return "".join(
        c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else c
        for c in text
    )


def maskSecrets(text: str, masked: Iterable[str] = SENSITIVE) -> str:
    """
    An identifier from an SC (a login id, a patron id) as text for logs:
    cut at the first id of C{masked} it contains, which is a secret field
    whose delimiter the SC lost (C{P0001AD1234}, C{kiosk1CO<password>}).

    @type text: L{str}
    @rtype: L{str}
    """
    cut = min((i for i in (text.find(fid) for fid in masked) if i >= 0), default=-1)
    return text if cut < 0 else text[: cut + 2] + "***"


def _maskFields(
    text: str, delimiter: str, masked: Collection[str], anywhere: bool = False
) -> str:
    """
    Replace the value of every field of C{masked} in C{text} by C{***}.

    Where fields start is not trusted to the fixed part alone: an id of
    C{masked} counts as starting a field at the very start of the text (a
    frame without a command identifier), right after the fixed part (or
    right after the command identifier, when the command is unknown, the
    text is shorter than its fixed part or that part holds the delimiter)
    and wherever it follows anything but a letter: a delimiter, another
    punctuation character (a foreign delimiter), a digit or blank ending a
    fixed part of the wrong length; in a frame without its fixed part
    (unknown command, cut short, delimiter inside it), which may have lost
    delimiters too, anywhere. Its value is masked to the next
    delimiter, or to the end of the frame (checksum included) when there
    is none, as with a foreign delimiter. This masks too much now and then
    (an item barcode with C{-AD} in it), never too little.
    """
    start = 2
    fixed = _FIXED_LENGTH.get(text[:2])
    # A frame that does not even have its fixed part (an unknown command, a
    # cut frame) may have lost delimiters too: there, an id counts wherever
    # it appears, even after a letter.
    broken = True
    if fixed is not None and len(text) >= 2 + fixed:
        if delimiter not in text[2 : 2 + fixed]:
            start = 2 + fixed
            broken = False
    anywhere = anywhere or broken
    pieces = []
    done = 0
    position = 0
    while True:
        position = _nextMasked(text, position, start, masked, anywhere)
        if position < 0:
            break
        value = position + 2
        end = text.find(delimiter, value)
        if end < 0:
            end = len(text)
        if end > value:
            pieces.append(text[done:value])
            pieces.append("***")
            done = end
        position = end
    pieces.append(text[done:])
    return "".join(pieces)


def _nextMasked(
    text: str, position: int, start: int, masked: Collection[str], anywhere: bool = False
) -> int:
    """
    The index of the next id of C{masked} at or after C{position} that
    starts a field (see L{_maskFields}), or -1. With C{anywhere}, every
    occurrence counts.
    """
    for index in range(position, len(text) - 1):
        if text[index : index + 2] in masked and (
            anywhere or index in (0, start) or not text[index - 1].isalpha()
        ):
            return index
    return -1
