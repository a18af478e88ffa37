# -*- test-case-name: tests.test_codec -*-
"""
The SIP2 codec: bytes to typed messages and back. Pure Python, no Twisted.

Every message of L{sip2acs.sip.spec.MESSAGES} is a frozen attrs class
(L{Login}, L{CheckoutResponse}, ...), with one attribute per fixed field
and per identified field, named after the spec's field names in
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

This module is the public face of the SIP2 language: it reads and writes
frames (decode, encode, checksums) and re-exports what its neighbours
define, so that callers import everything from here:
L{sip2acs.sip.messages} builds the message classes,
L{sip2acs.sip.fields} reads and writes one field's value (dates, flags,
counts, text cut to fit) and L{sip2acs.sip.masking} masks frames for logs.
"""

import re
from collections.abc import Callable
from operator import attrgetter
from typing import Any, cast

import attrs

from sip2acs.sip import spec as _spec
from sip2acs.sip.fields import (
    FIXED_PARSERS,
    FIXED_WRITERS,
    MAX_FIELD_BYTES as MAX_FIELD_BYTES,
    NO_DATE as NO_DATE,
    PARSERS,
    VARIABLE_WRITERS,
    FieldValue as FieldValue,
    FixedWriter,
    VariableWriter,
    cleanText,
    fitField,
    formatDate as formatDate,
    formatFixed as formatFixed,
    formatVariable,
    parseDate as parseDate,
    splitField,
)
from sip2acs.sip.masking import (
    PERSONAL as PERSONAL,
    maskFrame as maskFrame,
    maskSecrets as maskSecrets,
)

# Message, messageClass and every message class, built in sip2acs.sip.messages.
from sip2acs.sip.messages import (
    FIXED_LENGTH,
    SENSITIVE as SENSITIVE,
    ACSStatus as ACSStatus,
    BlockPatron as BlockPatron,
    Checkin as Checkin,
    CheckinResponse as CheckinResponse,
    Checkout as Checkout,
    CheckoutResponse as CheckoutResponse,
    EndPatronSession as EndPatronSession,
    EndSessionResponse as EndSessionResponse,
    FeePaid as FeePaid,
    FeePaidResponse as FeePaidResponse,
    Hold as Hold,
    HoldResponse as HoldResponse,
    ItemInformation as ItemInformation,
    ItemInformationResponse as ItemInformationResponse,
    ItemStatusUpdate as ItemStatusUpdate,
    ItemStatusUpdateResponse as ItemStatusUpdateResponse,
    Login as Login,
    LoginResponse as LoginResponse,
    Message as Message,
    PatronEnable as PatronEnable,
    PatronEnableResponse as PatronEnableResponse,
    PatronInformation as PatronInformation,
    PatronInformationResponse as PatronInformationResponse,
    PatronStatus as PatronStatus,
    PatronStatusResponse as PatronStatusResponse,
    Renew as Renew,
    RenewAll as RenewAll,
    RenewAllResponse as RenewAllResponse,
    RenewResponse as RenewResponse,
    RequestACSResend as RequestACSResend,
    RequestSCResend as RequestSCResend,
    SCStatus as SCStatus,
    messageClass as messageClass,
)

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
__all__.extend(messageSpec.name for messageSpec in _spec.MESSAGES)

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


_HEX = re.compile(rb"[0-9A-Fa-f]{4}")
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


# -- plans ------------------------------------------------------------------


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """
    A function giving the values of the attributes C{names} of an object,
    as a tuple (what L{operator.attrgetter} gives for two names or more).
    """
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        [name] = names
        return lambda message: (getattr(message, name),)
    return lambda message: ()


@attrs.frozen
class _Plan:
    """
    How one message is read and written, worked out once from the table
    (L{sip2acs.sip.spec.MESSAGES}, the kinds' parsers and writers of
    L{sip2acs.sip.fields}) so that L{decode} and L{encode} do per frame
    only what the frame needs.

    @ivar code: The command identifier.
    @ivar cls: The message class.
    @ivar defaults: The positional arguments of C{cls} for a message
        without any field: L{decode} starts from a copy and fills in what
        the frame has (positional arguments cost less than keywords).
    @ivar fixedEnd: Where the fixed part ends (after the command
        identifier).
    @ivar fixedOptional: Whether a client may leave the fixed part out
        (L{FIXED_PART_OPTIONAL}).
    @ivar reads: Each fixed field as C{(index in defaults, start, end,
        parser)}; the parser is L{None} for text, kept as received.
    @ivar fields: Each identified field of the message by its id, as
        C{(index in defaults, parser, repeatable)}; the parser is L{None}
        for text.
    @ivar fixedValues: The message's fixed fields' values, as a tuple.
    @ivar fixedWriters: Each fixed field's writer and length, in order.
    @ivar fieldValues: The message's identified fields' values, in the
        spec's order, as a tuple.
    @ivar writes: Each identified field as C{(fid, writer, width,
        repeatable, required)} in the spec's order; the writer is L{None}
        for text.
    """

    code: str
    cls: type[Message]
    defaults: tuple[Any, ...]
    fixedEnd: int
    fixedOptional: bool
    reads: tuple[tuple[int, int, int, Callable[[str], FieldValue] | None], ...]
    fields: dict[str, tuple[int, Callable[[str], FieldValue] | None, bool]]
    fixedValues: Callable[[Any], tuple[Any, ...]]
    fixedWriters: tuple[tuple[FixedWriter, int], ...]
    fieldValues: Callable[[Any], tuple[Any, ...]]
    writes: tuple[tuple[str, VariableWriter | None, int, bool, bool], ...]

    def shortField(self, length: int) -> str:
        """
        The name of the first fixed field that a text of C{length}
        characters cuts short.
        """
        for field, (_, _, end, _) in zip(self.cls.spec.fixed, self.reads, strict=True):
            if end > length:
                return field.name
        raise AssertionError(length)


def _plan(messageSpec: _spec.MessageSpec) -> _Plan:
    cls = messageClass(messageSpec.code)
    # The class's attributes, in the order its __init__ takes them.
    attributes = attrs.fields(cast(Any, cls))
    index = {attribute.name: position for position, attribute in enumerate(attributes)}
    if [attribute.name for attribute in attributes[-2:]] != ["extra", "order"]:
        # decode puts them last (see sip2acs.sip.messages).
        raise ValueError("%s does not end with extra and order" % (cls,))
    fixedNames = [field.name for field in messageSpec.fixed]
    infos = [_spec.FIELDS[fid] for fid in messageSpec.fields]
    if set(fixedNames) & {info.name for info in infos}:
        raise ValueError("%s names a fixed and an identified field alike" % (cls,))
    defaults = [() if attribute.default == () else None for attribute in attributes]
    reads = []
    position = 2
    for field in messageSpec.fixed:
        parser = None if field.kind == "text" else FIXED_PARSERS[field.kind]
        reads.append((index[field.name], position, position + field.length, parser))
        position += field.length
    return _Plan(
        code=messageSpec.code,
        cls=cls,
        defaults=tuple(defaults),
        fixedEnd=position,
        fixedOptional=messageSpec.code in FIXED_PART_OPTIONAL,
        reads=tuple(reads),
        fields={
            info.fid: (
                index[info.name],
                None if info.kind == "text" else PARSERS[info.kind],
                info.repeatable,
            )
            for info in infos
        },
        fixedValues=_getter(fixedNames),
        fixedWriters=tuple(
            (FIXED_WRITERS[field.kind], field.length) for field in messageSpec.fixed
        ),
        fieldValues=_getter([info.name for info in infos]),
        writes=tuple(
            (
                info.fid,
                None if info.kind == "text" else VARIABLE_WRITERS[info.kind],
                info.width,
                info.repeatable,
                info.fid in messageSpec.required,
            )
            for info in infos
        ),
    )


_PLANS: dict[str, _Plan] = {
    messageSpec.code: _plan(messageSpec) for messageSpec in _spec.MESSAGES
}
"""
The L{_Plan} of every message, by command identifier.
"""

_BY_IDENTIFIER: dict[bytes, _Plan] = {
    code.encode("ascii"): plan for code, plan in _PLANS.items()
}
"""
The L{_Plan} of every message, by the bytes of its command identifier.
"""


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
    plan = _BY_IDENTIFIER.get(frame[:2])
    if plan is None:
        code = frame[:2].decode("ascii", "replace")
        raise UnknownMessage("unknown command identifier %r" % (code,), code)
    code = plan.code
    sequence = sent = None
    if b"AZ" in frame[-6:]:  # else (the common case) there is no checksum
        frame, sequence, sent = _trailer(frame, code, encoding, delimiter)
    text = frame.decode(encoding, "replace")
    # The message's arguments, in the order of its class's attributes:
    # the fixed fields, the identified ones, extra and order.
    arguments = list(plan.defaults)
    known = plan.fields
    position = plan.fixedEnd
    if (
        plan.fixedOptional
        and delimiter in text[2:position]
        and text[2:4] in known
    ):
        position = 2  # no fixed part: its dates are None
    elif len(text) < position:
        raise MalformedMessage(
            "%s is too short for its fixed field %s" % (code, plan.shortField(len(text))),
            code,
        )
    else:
        for index, start, stop, parser in plan.reads:
            chunk = text[start:stop]
            arguments[index] = chunk if parser is None else parser(chunk)
    order: list[str] = []
    extra: list[tuple[str, str]] = []
    repeated: dict[int, list[str]] = {}
    seen: set[int] = set()
    segments = text[position:].split(delimiter)
    if segments[-1] == "":
        segments.pop()
    for segment in segments:
        if len(segment) < 2:
            order.append("")
            continue
        fid = segment[:2]
        row = known.get(fid)
        if row is None:
            extra.append((fid, segment[2:]))
        else:
            index, parser, repeatable = row
            if repeatable:
                repeated.setdefault(index, []).append(segment[2:])
            elif index in seen:
                continue  # a duplicate of a single field: the first one wins
            else:
                seen.add(index)
                raw = segment[2:]
                arguments[index] = raw if parser is None else parser(raw)
        order.append(fid)
    for index, values in repeated.items():
        arguments[index] = values
    arguments[-2] = extra
    arguments[-1] = tuple(order)
    return Decoded(plan.cls(*arguments), sequence, sent)


def _trailer(
    frame: bytes, code: str, encoding: str, delimiter: str
) -> tuple[bytes, int | None, str | None]:
    """
    C{frame} without its error detection, the C{AY} sequence digit and the
    C{AZ} checksum it carried (four upper-case hex digits), L{None} for
    what it did not carry.

    @raise ChecksumError: The checksum does not verify.
    """
    digits = _checksumDigits(frame, code, encoding, delimiter)
    if digits is None:
        return frame, None, None
    if not _verifies(frame, digits):
        raise ChecksumError("checksum does not verify", code)
    sequence = None
    end = len(frame) - len(digits) - 2
    if frame[end - 3 : end - 1] == b"AY" and end >= 5 and 48 <= frame[end - 1] <= 57:
        sequence = frame[end - 1] - 48
        end -= 3
    return frame[:end], sequence, "%04X" % (int(digits, 16),)


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
        or start == 2 + FIXED_LENGTH[code]
    ):
        return match.group(1)
    return None


# -- encoding ---------------------------------------------------------------

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
    plan = _PLANS[message.spec.code]
    parts = [message.spec.code]
    # zip without strict=True: the keyword costs more than the rest of a 94.
    values = plan.fixedValues(message)
    for (writer, length), value in zip(plan.fixedWriters, values):  # noqa: B905
        parts.append(writer(value, length, encoding, delimiter))
    if message.order is None and not message.extra:
        if plan.writes:
            _appendFields(parts, message, plan, encoding, delimiter)
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


def _appendFields(
    parts: list[str], message: Message, plan: _Plan, encoding: str, delimiter: str
) -> None:
    """
    Append the identified fields of a message built in code, in the spec's
    order: required ones always, the others when they have a value.
    """
    values = plan.fieldValues(message)
    for (fid, writer, width, repeatable, required), value in zip(  # noqa: B905
        plan.writes, values
    ):
        if value is None:
            if required:
                parts.append(fid + delimiter)
        elif repeatable:
            for each in value:
                for piece in splitField(cleanText(each, encoding, delimiter), encoding):
                    parts.append(fid + piece + delimiter)
        else:
            if writer is not None:
                value = writer(value, width)
            if not (
                # fitField's own first test, without the call
                value.isascii()
                and value.isprintable()
                and len(value) <= MAX_FIELD_BYTES
                and delimiter not in value
            ):
                value = fitField(value, encoding, delimiter)
            parts.append(fid + value + delimiter)


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
                values.extend(splitField(cleanText(each, encoding, delimiter), encoding))
            if values:
                pending[fid] = values
        elif value is not None:
            pending[fid] = [fitField(formatVariable(info, value), encoding, delimiter)]
        elif fid in messageSpec.required:
            pending[fid] = [""]
    for fid, value in message.extra:
        pending.setdefault(fid, []).append(fitField(value, encoding, delimiter))
    if message.order is not None:
        for fid in message.order:
            if not fid:
                parts.append(delimiter)
            elif pending.get(fid):
                parts.append(
                    cleanText(fid, encoding, delimiter) + pending[fid].pop(0) + delimiter
                )
    for fid in messageSpec.fields:
        for value in pending.pop(fid, ()):
            parts.append(fid + value + delimiter)
    for fid, _ in message.extra:
        if pending.get(fid):
            # The id of an unknown field is text from the SC: cleaned too.
            parts.append(
                cleanText(fid, encoding, delimiter) + pending[fid].pop(0) + delimiter
            )


def _checksumBytes(prefix: bytes) -> bytes:
    return checksum(prefix).encode("ascii")
