# -*- test-case-name: tests.test_client -*-
"""
What C{sip2acs client} shows of a message: L{describe} turns it into
table rows (L{Row}) saying what each code means, L{formatTable} lays them
out, L{maskFrame} hides secrets, L{responseOk} says whether it means
success.
"""

import re
import shutil
from collections.abc import Sequence
from typing import Any

import attrs

from sip2acs.sip import codec, codes
from sip2acs.sip.exchange import TRAILER
from sip2acs.sip.spec import FIELDS, FieldInfo, FixedField
from sip2acs.sip.success import succeeded

__all__ = ["Row", "describe", "formatTable", "maskFrame", "messageTitle", "responseOk"]


def responseOk(message: codec.Message, request: codec.Message | None = None) -> bool:
    """
    Whether a response means the operation succeeded: the strict reading of
    L{sip2acs.sip.success.succeeded} (the response must show success).

    @param message: The decoded response.
    @param request: The request it answers, when known.
    @rtype: L{bool}
    """
    return succeeded(message, request)


@attrs.frozen
class Row:
    """
    One row of a message's table.

    @ivar fid: The two-letter field id; empty for a fixed field.
    @ivar name: The field's name in L{sip2acs.sip.spec} (C{patronStatus}), or
        the vendor name of an unknown field.
    @ivar label: The name for people (C{patron status}).
    @ivar value: The value as sent (secrets masked).
    @ivar meaning: What the value means, or an empty string.
    """

    fid: str
    name: str
    label: str
    value: str
    meaning: str = ""

    def asDict(self) -> dict[str, str | None]:
        """
        The row as a JSON-ready dictionary.
        """
        return {
            "id": self.fid or None,
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "meaning": self.meaning,
        }


_LABELS = {
    "scRenewalPolicy": "SC renewal policy",
    "uidAlgorithm": "UID algorithm",
    "pwdAlgorithm": "PWD algorithm",
    "nbDueDate": "no-block due date",
    "renewalPolicy": "ACS renewal policy",
    "onlineStatus": "on-line status",
    "offlineOk": "off-line ok",
    "dateTimeSync": "date/time sync",
    "institutionId": "institution id",
    "loginUserId": "login user id",
    "birthDate": "birth date",
    "unavailableHoldsCount": "unavailable holds count",
}

_TABLES = {
    "circulationStatus": codes.CIRCULATION_STATUS,
    "securityMarker": codes.SECURITY_MARKER,
    "feeType": codes.FEE_TYPE,
    "paymentType": codes.PAYMENT_TYPE,
    "mediaType": codes.MEDIA_TYPE,
    "holdMode": codes.HOLD_MODE,
    "holdType": codes.HOLD_TYPE,
    "alertType": codes.ALERT_TYPE,
    "language": codes.LANGUAGE,
    "statusCode": codes.SC_STATUS,
    "uidAlgorithm": codes.ALGORITHM,
    "pwdAlgorithm": codes.ALGORITHM,
}


def _label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


def messageTitle(message: codec.Message) -> str:
    """
    A message's name for people: C{12 Checkout Response}.
    """
    name = type(message).__name__
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return "%s %s" % (message.code, spaced)


def _dateMeaning(text: str) -> str:
    if not text.strip():
        return "no date"
    value = codec.parseDate(text)
    if value is None:
        return ""
    zone = " (local time)"
    if value.tzinfo is not None:
        offset = value.utcoffset()
        zone = " UTC" if not offset else " UTC%+g" % (offset.total_seconds() / 3600)
    return value.strftime("%Y-%m-%d %H:%M:%S") + zone


def _meaning(name: str, value: str, kind: str = "text") -> str:
    """
    What C{value} means in the field called C{name}.
    """
    if name in _TABLES:
        table = _TABLES[name]
        if value in table:
            return table[value]
        return "undefined code" if value.strip() else "blank"
    if name in codes.FLAGS:
        return codes.FLAGS[name].get(value.upper(), "unexpected value")
    if name == "patronStatus":
        flags = codes.flagsSet(value, codes.PATRON_STATUS)
        odd = set(value) - {"Y", "y", " ", "N"}
        text = "; ".join(flags) if flags else "no restrictions"
        if len(value) != 14 or odd:
            text += " (not 14 Y/blank characters)"
        return text
    if name == "summary":
        wanted = [
            "%s (%s)" % (label, fid)
            for (_short, label, fid), flag in zip(codes.SUMMARY, value, strict=False)
            if flag.upper() == "Y"
        ]
        if "Y" in value[6:].upper():
            wanted.append("undefined position")
        return ", ".join(wanted) if wanted else "counts only, no item list"
    if name == "supportedMessages":
        _, unsupported = codes.supportedMessages(value)
        text = (
            ("not supported: " + ", ".join(unsupported))
            if unsupported
            else ("all 16 supported")
        )
        if len(value) != 16:
            text += " (not 16 characters)"
        return text
    if name == "timeoutPeriod":
        if value == "000":
            return "ACS off line"
        if value == "999":
            return "unknown"
        return "%g seconds" % (int(value) / 10) if value.isdigit() else ""
    if name == "retriesAllowed":
        if value == "999":
            return "unknown"
        return "%d retries" % int(value) if value.isdigit() else ""
    if name == "maxPrintWidth":
        return "characters per printed line" if value.isdigit() else ""
    if kind == "date" or name == "dueDate":
        return _dateMeaning(value)
    if name.endswith("Count") and not value.strip():
        return "not supported"
    return ""


def _variableText(info: FieldInfo, value: Any) -> str:
    if info.kind == "yn":
        return "Y" if value else "N"
    if info.kind == "date" and not isinstance(value, str):
        return codec.formatDate(value)
    if info.kind == "int" and not isinstance(value, str):
        return str(value).zfill(info.width) if info.width else str(value)
    return value


def _fixedRow(field: FixedField, value: str) -> Row:
    return Row("", field.name, _label(field.name), value, _meaning(field.name, value, field.kind))


def _variableRow(fid: str, value: str, showSecrets: bool) -> Row:
    info = FIELDS.get(fid)
    if info is None:
        name = label = codes.VENDOR_FIELDS.get(fid, "unknown field")
        kind = "text"
    else:
        name, label, kind = info.name, _label(info.name), info.kind
    if fid in codec.SENSITIVE and value and not showSecrets:
        return Row(fid, name, label, "***", "hidden (--show-secrets shows it)")
    return Row(fid, name, label, value, _meaning(name, value, kind))


def describe(
    message: codec.Message,
    frame: bytes | None = None,
    encoding: str = "ascii",
    delimiter: str = "|",
    showSecrets: bool = False,
) -> list[Row]:
    """
    The rows of a table describing C{message}: its fixed fields, then its
    identified fields, each with what its code means (circulation status,
    patron status flags, C{BX}, alert type...).

    @param message: Any L{codec.Message}.
    @param frame: The bytes C{message} was decoded from. With it, values
        are shown exactly as received, identified fields in the order
        received (unknown ones too) and the C{AY}/C{AZ} trailer gets rows;
        without it they are formatted from C{message}.
    @param encoding: The character set C{frame} was sent in.
    @param delimiter: The field delimiter of C{frame}.
    @param showSecrets: Show C{CO}, C{AD} and C{AC} instead of C{***}.
    @rtype: L{list} of L{Row}
    """
    rows: list[Row] = []
    fixed = message.spec.fixed
    if frame is not None:
        text = frame.strip(b"\r\n").decode(encoding, "replace")
        position = 2
        for field in fixed:
            value = text[position : position + field.length]
            position += field.length
            rows.append(_fixedRow(field, value))
        rest = text[position:]
        trailer = TRAILER.search(rest)
        if trailer is not None:
            rest = rest[: trailer.start()]
        for segment in rest.split(delimiter):
            if len(segment) >= 2:
                rows.append(_variableRow(segment[:2], segment[2:], showSecrets))
        if trailer is not None:
            if trailer.group(1) is not None:
                rows.append(
                    Row("AY", "sequenceNumber", "sequence number", trailer.group(1))
                )
            rows.append(Row("AZ", "checksum", "checksum", trailer.group(2), "verified"))
        return rows
    for field in fixed:
        value = codec.formatFixed(field, getattr(message, field.name))
        rows.append(_fixedRow(field, value))
    for fid, value in message.fields():
        info = FIELDS.get(fid)
        if info is not None:
            value = _variableText(info, value)
        rows.append(_variableRow(fid, value, showSecrets))
    return rows


def maskFrame(
    frame: bytes, encoding: str = "ascii", delimiter: str = "|", showSecrets: bool = False
) -> str:
    """
    A frame as text for display, with the values of C{CO}, C{AD} and
    C{AC} replaced by C{***} (unless C{showSecrets}) and control
    characters escaped.

    @param frame: The bytes of one message.
    @rtype: L{str}
    """
    masked = frozenset() if showSecrets else codec.SENSITIVE
    return codec.maskFrame(frame, encoding, delimiter, masked)


def formatTable(rows: Sequence[Row], width: int | None = None) -> str:
    """
    Lay C{rows} out as aligned text: id, field name, value, meaning. Long
    meanings wrap under the meaning column.

    @param width: The line width to fit meanings in; the terminal's by
        default.
    @rtype: L{str}
    """
    if not rows:
        return ""
    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns
    idWidth = max(2, *(len(r.fid) for r in rows))
    labelWidth = max(len(r.label) for r in rows)
    valueWidth = min(max(len(_shown(r.value)) for r in rows), 32)
    lines: list[str] = []
    for row in rows:
        left = "  %s  %s  %s" % (
            row.fid.ljust(idWidth),
            row.label.ljust(labelWidth),
            _shown(row.value).ljust(valueWidth),
        )
        if not row.meaning:
            lines.append(left.rstrip())
            continue
        indent = 2 + idWidth + 2 + labelWidth + 2 + valueWidth + 2
        room = max(width - indent, 30)
        pieces = _wrap(row.meaning, room)
        if len(left) + 2 > indent:
            lines.append(left)
            lines.extend(" " * indent + piece for piece in pieces)
        else:
            lines.append(left + "  " + pieces[0])
            lines.extend(" " * indent + piece for piece in pieces[1:])
    return "\n".join(lines)


def _shown(value: str) -> str:
    """
    A value as the table shows it: quoted when it is empty or starts or
    ends with a blank, so that blanks can be counted.
    """
    if not value or value != value.strip(" "):
        return '"%s"' % (value,)
    return value


def _wrap(text: str, room: int) -> list[str]:
    words = text.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > room:
            lines.append(current)
            current = word
        else:
            current = word if not current else current + " " + word
    lines.append(current)
    return lines
