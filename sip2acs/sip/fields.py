# -*- test-case-name: tests.test_codec -*-
"""
One field of a SIP2 frame, read and written. Pure Python, no Twisted.

What L{sip2acs.sip.codec} does with each value: the 18-character SIP date
(L{parseDate}, L{formatDate}), a fixed or identified field's text read as
the value of its kind (L{parseFixed}, L{parseValue}) and written back
(L{formatFixed}, L{formatVariable}), and text made fit for a frame:
printable, without the delimiter, at most L{MAX_FIELD_BYTES} encoded bytes
(L{cleanText}, L{fitField}, L{splitField}). The kinds are those of
L{sip2acs.sip.spec}.
"""

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias, cast

from sip2acs.sip import spec as _spec

__all__ = [
    "MAX_FIELD_BYTES",
    "NO_DATE",
    "FieldValue",
    "parseDate",
    "formatDate",
    "parseValue",
    "parseFixed",
    "formatFixed",
    "formatVariable",
    "PARSERS",
    "FIXED_PARSERS",
    "FIXED_WRITERS",
    "VARIABLE_WRITERS",
    "cleanText",
    "fitField",
    "splitField",
]

MAX_FIELD_BYTES = 255
"""
The most encoded bytes one identified field carries.
"""


# -- dates ------------------------------------------------------------------


def _zones() -> dict[str, timezone]:
    zones = {"Z": timezone.utc}
    for index, letter in enumerate("ABCDEFGHIKLM", start=1):
        zones[letter] = timezone(timedelta(hours=index))
    for index, letter in enumerate("NOPQRSTUVWXY", start=1):
        zones[letter] = timezone(timedelta(hours=-index))
    return zones


_ZONES = _zones()
_LETTERS = {tz.utcoffset(None): letter for letter, tz in _ZONES.items()}
NO_DATE = " " * 18


_CACHE_MAX = 512
"""
The most dates L{parseDate} and L{formatDate} each remember.
"""

_PARSED: dict[str, datetime | None] = {}
"""
The dates L{parseDate} read lately, by their text: a kiosk sends its
clock's time, and the requests of one second share it. Emptied when full.
"""


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
    if len(text) != 18:
        return None
    try:
        return _PARSED[text]
    except KeyError:
        value = _parseDate(text)
    if len(_PARSED) >= _CACHE_MAX:
        _PARSED.clear()
    _PARSED[text] = value
    return value


def _parseDate(text: str) -> datetime | None:
    if not (text[:8].isdigit() and text[12:].isdigit()):
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


_FORMATTED: dict[datetime, str] = {}
"""
The naive datetimes L{formatDate} formatted lately, and their text: a
response's transaction date is "now" and the due dates of a day are
alike. Emptied when full. (Aware datetimes are not kept: two of them
are equal when they are the same instant in different zones, which are
written differently.)
"""


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
    if type(value) is not datetime or value.tzinfo is not None:
        return _formatDate(value)
    text = _FORMATTED.get(value)
    if text is None:
        text = _formatDate(value)
        if len(_FORMATTED) >= _CACHE_MAX:
            _FORMATTED.clear()
        _FORMATTED[value] = text
    return text


def _formatDate(value: datetime) -> str:
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


def _parseText(text: str) -> FieldValue:
    return text


# text == "1" and text == "Y", without a Python call.
_parseOk: Callable[[str], FieldValue] = "1".__eq__
_parseYes: Callable[[str], FieldValue] = "Y".__eq__


def _parseInt(text: str) -> FieldValue:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


_YES_NO: dict[str, FieldValue] = {"Y": True, "N": False}

PARSERS: dict[str, Callable[[str], FieldValue]] = {
    "text": _parseText,
    "ok": _parseOk,
    "yn": _YES_NO.get,
    "ynu": _YES_NO.get,
    "date": parseDate,
    "int": _parseInt,
}
"""
How an identified field's text is read, by the field's kind (see
L{parseValue}).
"""

FIXED_PARSERS: dict[str, Callable[[str], FieldValue]] = {
    **PARSERS,
    "yn": _parseYes,  # a fixed Y/N flag is a plain boolean: anything but Y is "no"
}
"""
How a fixed field's characters are read, by the field's kind (see
L{parseFixed}).
"""


def parseValue(kind: str, text: str) -> FieldValue:
    """
    The value of an identified field's text, by the field's kind.

    @param kind: A kind of L{sip2acs.sip.spec}: C{text}, C{ok}, C{yn},
        C{ynu}, C{date} or C{int}.
    @param text: The characters received after the field id.
    @return: The value; L{None} where the text says nothing usable.
    """
    parser = PARSERS.get(kind)
    if parser is None:
        raise AssertionError(kind)
    return parser(text)


def parseFixed(field: _spec.FixedField, text: str) -> FieldValue:
    """
    The value of a fixed field's characters: as L{parseValue}, except
    that a Y/N flag is a plain boolean.

    @type field: L{sip2acs.sip.spec.FixedField}
    @param text: The field's characters, of its length.
    """
    parser = FIXED_PARSERS.get(field.kind)
    if parser is None:
        raise AssertionError(field.kind)
    return parser(text)


FixedWriter: TypeAlias = Callable[[Any, int, str, str], str]
"""
How a fixed field's value is written: C{(value, length, encoding,
delimiter)} to the field's characters.
"""


def _writeText(value: Any, length: int, encoding: str, delimiter: str) -> str:
    return cleanText(value or "", encoding, delimiter).ljust(length)[:length]


def _writeOk(value: Any, length: int, encoding: str, delimiter: str) -> str:
    return "1" if value else "0"


def _writeYes(value: Any, length: int, encoding: str, delimiter: str) -> str:
    return "Y" if value else "N"


def _writeYesNoUnknown(value: Any, length: int, encoding: str, delimiter: str) -> str:
    return "U" if value is None else ("Y" if value else "N")


def _writeDate(value: Any, length: int, encoding: str, delimiter: str) -> str:
    return formatDate(value)


def _writeCount(value: Any, length: int, encoding: str, delimiter: str) -> str:
    if value is None:
        return " " * length
    if type(value) is not int or value < 0:
        value = max(int(value), 0)
    text = str(value)
    if len(text) > length:
        return "9" * length  # the most the field holds
    return text.zfill(length)


FIXED_WRITERS: dict[str, FixedWriter] = {
    "text": _writeText,
    "ok": _writeOk,
    "yn": _writeYes,
    "ynu": _writeYesNoUnknown,
    "date": _writeDate,
    "int": _writeCount,
}
"""
How a fixed field's value is written, by the field's kind (see
L{formatFixed}).
"""


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
    writer = FIXED_WRITERS.get(field.kind)
    if writer is None:
        raise AssertionError(field.kind)
    return writer(value, field.length, encoding, delimiter)


VariableWriter: TypeAlias = Callable[[Any, int], str]
"""
How an identified field's value (not L{None}) is written: C{(value,
width)} to its text, before L{fitField}.
"""


def _writeVariableText(value: Any, width: int) -> str:
    return cast(str, value)  # what a text field holds


def _writeVariableYes(value: Any, width: int) -> str:
    return "Y" if value else "N"


def _writeVariableDate(value: Any, width: int) -> str:
    return formatDate(value)


def _writeVariableCount(value: Any, width: int) -> str:
    text = str(max(int(value), 0))
    return text.zfill(width)[-width:] if width else text


VARIABLE_WRITERS: dict[str, VariableWriter] = {
    "text": _writeVariableText,
    "yn": _writeVariableYes,
    "date": _writeVariableDate,
    "int": _writeVariableCount,
}
"""
How an identified field's value is written, by the field's kind (see
L{formatVariable}); no identified field is of kind C{ok} or C{ynu}.
"""


def formatVariable(info: _spec.FieldInfo, value: Any) -> str:
    """
    The text an identified field's value is sent as, before
    L{fitField} makes it fit for a frame.

    @type info: L{sip2acs.sip.spec.FieldInfo}
    @param value: A value of the field's kind (not L{None}).
    """
    writer = VARIABLE_WRITERS.get(info.kind)
    if writer is None:
        raise AssertionError(info.kind)
    return writer(value, info.width)


# -- text fit for a frame ---------------------------------------------------


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


def splitField(value: str, encoding: str, limit: int = MAX_FIELD_BYTES) -> list[str]:
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


def cleanText(value: str, encoding: str, delimiter: str) -> str:
    """
    C{value} made printable text fit for a frame: for ASCII, accents
    dropped; every control character (see L{_UNSAFE}) and the delimiter
    replaced by a space. The one cleaning every value written by
    L{sip2acs.sip.codec.encode} goes through, fixed and identified fields
    alike.
    """
    if value.isascii() and value.isprintable() and delimiter not in value:
        return value  # the common case: nothing to clean
    if not value.isascii() and encoding == "ascii":
        value = _fold(value)
    if delimiter in value or _UNSAFE.search(value) is not None:
        value = _UNSAFE.sub(" ", value).replace(delimiter, " ")
    return value


def fitField(value: str, encoding: str, delimiter: str) -> str:
    """
    C{value} made fit for one field: cleaned, and cut to 255 bytes.
    """
    if (
        value.isascii()
        and value.isprintable()  # for ASCII: nothing of _UNSAFE
        and len(value) <= MAX_FIELD_BYTES
        and delimiter not in value
    ):
        return value
    return _truncate(cleanText(value, encoding, delimiter), encoding)
