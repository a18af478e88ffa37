# -*- test-case-name: tests.test_client -*-
"""
C{sip2acs client}: a SIP2 troubleshooting client.

It connects to any SIP2 server (sip2acs or another) the way a self-check
kiosk does, over raw TCP, the telnet login prelude or TLS, logs in, sends
one request by name and prints the response as a table: field ids, names,
values and what the codes mean.

    sip2acs client --host 127.0.0.1 --login demo status
    SIP2ACS_PASSWORD=demo sip2acs client --login demo --institution DEMO \\
        patron-info --patron P0001 --summary charged
    sip2acs client --login demo -e checkout --patron P0001 --item I0001
    sip2acs client --tls --host sip.example.org --ca ca.pem --login kiosk1 \\
        item-info I0001 --json
    sip2acs client --telnet --port 8023 --login kiosk1 --status-first status
    sip2acs client --login demo raw '9900802.00' --raw
    sip2acs client --login demo shell       # or -i: an interactive shell

The password comes from C{--password}, the C{SIP2ACS_PASSWORD} environment
variable or a prompt; the patron PIN from C{--pin}, C{SIP2ACS_PIN} or
C{--ask-pin}. Passwords and PINs (C{CO}, C{AD}, C{AC}) are shown as C{***}
unless C{--show-secrets} is given.

Exit status: 0 the server answered and the operation succeeded, 1 it
answered but refused or failed, 2 no answer, a connection or a protocol
error, 3 a usage error.

The client is plain blocking Python (L{socket}, L{ssl}); it needs no
reactor. Its parts are reusable: L{buildRequest} makes the request
message, L{SIP2Connection} talks to a server, L{describe} turns any
message into table rows and L{responseOk} says whether a response means
success.
"""

import argparse
import cmd
import getpass
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import sys
import time
from datetime import datetime

import attrs

from sip2acs.sip import codec, codes
from sip2acs.sip.spec import FIELDS, RESPONSE_TO
from sip2acs.sip.success import succeeded

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_NO_ANSWER",
    "EXIT_USAGE",
    "REQUESTS",
    "UsageError",
    "ConnectionFailed",
    "NoAnswer",
    "ProtocolError",
    "LoginRefused",
    "RequestOptions",
    "Exchange",
    "Row",
    "SIP2Connection",
    "ClientShell",
    "buildRequest",
    "describe",
    "formatTable",
    "maskFrame",
    "makeTLSContext",
    "openSocket",
    "responseOk",
    "register",
    "main",
]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_NO_ANSWER = 2
EXIT_USAGE = 3

DEFAULT_PORTS = {"raw": 6001, "telnet": 8023, "tls": 45550}
ENCODINGS = ("ascii", "latin-1", "cp850", "utf-8")
TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n", "LF": b"\n"}
MAX_FRAME = 65536
HISTORY_FILE = "~/.sip2acs_history"
SECRET_OPTIONS = ("--pin", "--password", "--terminal-password")


# -- errors -------------------------------------------------------------------


class UsageError(Exception):
    """
    The command line or a shell line is wrong (exit status 3).
    """


class ConnectionFailed(Exception):
    """
    The server cannot be reached, closed the connection or broke the
    protocol (exit status 2).
    """


class NoAnswer(ConnectionFailed):
    """
    The server did not answer in time.
    """


class ProtocolError(ConnectionFailed):
    """
    The server answered something that is not a usable SIP2 response.

    @ivar frame: The offending frame, if any, as received.
    """

    def __init__(self, message, frame=None):
        ConnectionFailed.__init__(self, message)
        self.frame = frame


class LoginRefused(Exception):
    """
    The telnet login prelude was refused (exit status 1).
    """


# -- requests -----------------------------------------------------------------


@attrs.frozen
class RequestKind:
    """
    A request the client can send by name.

    @ivar name: Its name on the command line, e.g. C{patron-info}.
    @ivar code: The SIP2 command identifier; L{None} for C{raw}.
    @ivar positional: What a positional argument after the name stands
        for (C{patron}, C{item}, C{amount} or C{message}), or L{None}.
    @ivar options: The request options that apply (for help and
        completion).
    @ivar summary: One line for the help.
    """

    name: str
    code: str | None
    positional: str | None
    options: tuple[str, ...]
    summary: str


_PATRON = ("--institution", "--patron", "--pin", "--terminal-password")
_ITEM = ("--institution", "--item", "--terminal-password")

REQUESTS = {
    kind.name: kind
    for kind in [
        RequestKind(
            "login", "93", None, ("--location",), "93 login only (needs --login)"
        ),
        RequestKind(
            "status",
            "99",
            None,
            ("--sc-status", "--print-width", "--protocol-version"),
            "99 SC status: the ACS status, policy and supported messages",
        ),
        RequestKind(
            "patron-status",
            "23",
            "patron",
            _PATRON + ("--language",),
            "23 patron status",
        ),
        RequestKind(
            "patron-info",
            "63",
            "patron",
            _PATRON + ("--language", "--summary", "--start", "--end"),
            "63 patron information, with one item list (--summary)",
        ),
        RequestKind("item-info", "17", "item", _ITEM, "17 item information"),
        RequestKind(
            "item-update",
            "19",
            "item",
            _ITEM + ("--properties",),
            "19 item status update (item properties)",
        ),
        RequestKind(
            "checkout",
            "11",
            "item",
            _PATRON
            + (
                "--item",
                "--sc-renewal",
                "--no-block",
                "--due-date",
                "--properties",
                "--fee-ack",
                "--cancel",
            ),
            "11 checkout",
        ),
        RequestKind(
            "checkin",
            "09",
            "item",
            _ITEM
            + (
                "--current-location",
                "--return-date",
                "--no-block",
                "--properties",
                "--cancel",
            ),
            "09 checkin",
        ),
        RequestKind(
            "renew",
            "29",
            "item",
            _PATRON
            + (
                "--item",
                "--title",
                "--third-party",
                "--no-block",
                "--due-date",
                "--properties",
                "--fee-ack",
            ),
            "29 renew",
        ),
        RequestKind(
            "renew-all", "65", "patron", _PATRON + ("--fee-ack",), "65 renew all"
        ),
        RequestKind(
            "fee-paid",
            "37",
            "amount",
            _PATRON
            + (
                "--amount",
                "--fee-type",
                "--payment-type",
                "--currency",
                "--fee-id",
                "--transaction-id",
            ),
            "37 fee paid",
        ),
        RequestKind(
            "hold",
            "15",
            "item",
            _PATRON
            + (
                "--item",
                "--title",
                "--hold-mode",
                "--hold-type",
                "--expiry",
                "--pickup",
                "--fee-ack",
            ),
            "15 hold: place (+), cancel (-) or change (*)",
        ),
        RequestKind(
            "block-patron",
            "01",
            "patron",
            (
                "--institution",
                "--patron",
                "--terminal-password",
                "--card-retained",
                "--reason",
            ),
            "01 block patron",
        ),
        RequestKind("patron-enable", "25", "patron", _PATRON, "25 patron enable"),
        RequestKind("end-session", "35", "patron", _PATRON, "35 end patron session"),
        RequestKind(
            "resend",
            "97",
            None,
            (),
            "97 ask the server to send its last response again",
        ),
        RequestKind(
            "raw", None, "message", (), "a message typed in full, e.g. raw '9900802.00'"
        ),
    ]
}
"""
Every request name the client knows, in the order of the help.
"""

_SUMMARY_NAMES = [name for name, _, _ in codes.SUMMARY]
_HOLD_MODES = {
    "+": "+",
    "-": "-",
    "*": "*",
    "add": "+",
    "place": "+",
    "delete": "-",
    "cancel": "-",
    "remove": "-",
    "change": "*",
}


@attrs.frozen
class RequestOptions:
    """
    Everything a request may carry, with the defaults a kiosk would send.
    Attribute names are the destinations of the command-line options.

    Secrets (C{password}, C{pin}, C{terminalPassword}) are not shown in
    the C{repr}.
    """

    institution: str = ""
    location: str | None = None
    login: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    terminalPassword: str | None = attrs.field(default=None, repr=False)
    patron: str | None = None
    pin: str | None = attrs.field(default=None, repr=False)
    item: str | None = None
    title: str | None = None
    language: str = "000"
    summary: str | None = None
    start: int | None = None
    end: int | None = None
    noBlock: bool = False
    scRenewal: bool = False
    thirdParty: bool = False
    dueDate: datetime | None = None
    returnDate: datetime | None = None
    currentLocation: str | None = None
    properties: str | None = None
    feeAck: bool = False
    cancel: bool = False
    amount: str | None = None
    feeType: str = "01"
    paymentType: str = "00"
    currency: str = "USD"
    feeId: str | None = None
    transactionId: str | None = None
    holdMode: str = "+"
    holdType: str | None = None
    expiry: datetime | None = None
    pickup: str | None = None
    cardRetained: bool = False
    reason: str = ""
    scStatus: str = "0"
    printWidth: int = 80
    protocolVersion: str = "2.00"
    message: str | None = None

    @classmethod
    def fromNamespace(cls, namespace, base=None):
        """
        Request options from parsed arguments.

        @param namespace: An L{argparse.Namespace}; attributes it lacks
            keep their value from C{base}.
        @param base: The options to start from; the defaults if L{None}.
        """
        names = [a.name for a in attrs.fields(cls)]
        given = {n: getattr(namespace, n) for n in names if hasattr(namespace, n)}
        return attrs.evolve(base if base is not None else cls(), **given)


def withPositional(name, options, value):
    """
    Put the positional argument of request C{name} where it belongs: the
    item of C{checkout I0001}, the patron of C{patron-info P0001}, the
    amount of C{fee-paid 2.50}, the message of C{raw ...}.

    @raise UsageError: The request takes no positional argument.
    """
    if value is None:
        return options
    kind = REQUESTS[name]
    if kind.positional is None:
        raise UsageError("%s takes no argument (got %r)" % (name, value))
    return attrs.evolve(options, **{kind.positional: value})


def _need(name, **values):
    missing = [
        "--" + re.sub("([A-Z])", r"-\1", k).lower() for k, v in values.items() if not v
    ]
    if missing:
        raise UsageError("%s needs %s" % (name, " and ".join(missing)))


def buildRequest(name, options, now=None):
    """
    Build the request called C{name}.

    @param name: A key of L{REQUESTS}.
    @param options: A L{RequestOptions}.
    @param now: The transaction date (a naive local datetime); the
        current time if L{None}.
    @return: A L{codec.Message}, or for C{raw} the message text (L{str}).
    @raise UsageError: A value the request needs is missing or wrong.
    """
    if name not in REQUESTS:
        raise UsageError("unknown request %r" % (name,))
    if now is None:
        now = datetime.now().replace(microsecond=0)
    o = options
    common = dict(transactionDate=now, institutionId=o.institution)
    if name == "raw":
        if not o.message:
            raise UsageError("raw needs the message, e.g. raw '9900802.00'")
        try:
            codec.messageClass(o.message[:2])
        except KeyError as e:
            raise UsageError(
                "%r does not start with a SIP2 command identifier" % (o.message[:10],)
            ) from e
        return o.message
    if name == "login":
        _need(name, login=o.login)
        return codec.Login(
            uidAlgorithm="0",
            pwdAlgorithm="0",
            loginUserId=o.login,
            loginPassword=o.password or "",
            locationCode=o.location,
        )
    if name == "status":
        return codec.SCStatus(
            statusCode=o.scStatus,
            maxPrintWidth=o.printWidth,
            protocolVersion=o.protocolVersion,
        )
    if name == "resend":
        return codec.RequestACSResend()
    patron = dict(
        patronIdentifier=o.patron,
        patronPassword=o.pin or None,
        terminalPassword=o.terminalPassword,
    )
    if name == "patron-status":
        _need(name, patron=o.patron)
        return codec.PatronStatus(language=o.language, **common, **patron)
    if name == "patron-info":
        _need(name, patron=o.patron)
        summary = [" "] * 10
        if o.summary:
            summary[_SUMMARY_NAMES.index(o.summary)] = "Y"
        return codec.PatronInformation(
            language=o.language,
            summary="".join(summary),
            startItem=o.start,
            endItem=o.end,
            **common,
            **patron,
        )
    if name == "item-info":
        _need(name, item=o.item)
        return codec.ItemInformation(
            itemIdentifier=o.item, terminalPassword=o.terminalPassword, **common
        )
    if name == "item-update":
        _need(name, item=o.item)
        return codec.ItemStatusUpdate(
            itemIdentifier=o.item,
            terminalPassword=o.terminalPassword,
            itemProperties=o.properties or "",
            **common,
        )
    feeAck = True if o.feeAck else None
    if name == "checkout":
        _need(name, patron=o.patron, item=o.item)
        return codec.Checkout(
            scRenewalPolicy=o.scRenewal,
            noBlock=o.noBlock,
            nbDueDate=o.dueDate,
            itemIdentifier=o.item,
            itemProperties=o.properties,
            feeAcknowledged=feeAck,
            cancel=True if o.cancel else None,
            **common,
            **patron,
        )
    if name == "checkin":
        _need(name, item=o.item)
        return codec.Checkin(
            noBlock=o.noBlock,
            returnDate=o.returnDate or now,
            currentLocation=o.currentLocation or o.location or "",
            itemIdentifier=o.item,
            terminalPassword=o.terminalPassword,
            itemProperties=o.properties,
            cancel=True if o.cancel else None,
            **common,
        )
    if name == "renew":
        _need(name, patron=o.patron)
        if not (o.item or o.title):
            raise UsageError("renew needs --item or --title")
        return codec.Renew(
            thirdPartyAllowed=o.thirdParty,
            noBlock=o.noBlock,
            nbDueDate=o.dueDate,
            itemIdentifier=o.item,
            titleIdentifier=o.title,
            itemProperties=o.properties,
            feeAcknowledged=feeAck,
            **common,
            **patron,
        )
    if name == "renew-all":
        _need(name, patron=o.patron)
        return codec.RenewAll(feeAcknowledged=feeAck, **common, **patron)
    if name == "fee-paid":
        _need(name, patron=o.patron, amount=o.amount)
        return codec.FeePaid(
            feeType=o.feeType,
            paymentType=o.paymentType,
            currencyType=o.currency,
            feeAmount=o.amount,
            feeIdentifier=o.feeId,
            transactionId=o.transactionId,
            **common,
            **patron,
        )
    if name == "hold":
        _need(name, patron=o.patron)
        if not (o.item or o.title):
            raise UsageError("hold needs --item or --title")
        return codec.Hold(
            holdMode=o.holdMode,
            expirationDate=o.expiry,
            pickupLocation=o.pickup,
            holdType=o.holdType,
            itemIdentifier=o.item,
            titleIdentifier=o.title,
            feeAcknowledged=feeAck,
            **common,
            **patron,
        )
    if name == "block-patron":
        _need(name, patron=o.patron)
        return codec.BlockPatron(
            cardRetained=o.cardRetained,
            blockedCardMessage=o.reason,
            patronIdentifier=o.patron,
            terminalPassword=o.terminalPassword,
            **common,
        )
    if name == "patron-enable":
        _need(name, patron=o.patron)
        return codec.PatronEnable(**common, **patron)
    if name == "end-session":
        _need(name, patron=o.patron)
        return codec.EndPatronSession(**common, **patron)
    raise AssertionError(name)  # pragma: no cover


# -- what a response means ----------------------------------------------------


def responseOk(message, request=None):
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

    def asDict(self):
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

_TRAILER = re.compile(r"(?:AY([0-9]))?AZ([0-9A-Fa-f]{4})\Z")


def _label(name):
    if name in _LABELS:
        return _LABELS[name]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


def messageTitle(message):
    """
    A message's name for people: C{12 Checkout Response}.
    """
    name = type(message).__name__
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return "%s %s" % (message.code, spaced)


def _dateMeaning(text):
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


def _meaning(name, value, kind="text"):
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


def _variableText(info, value):
    if info.kind == "yn":
        return "Y" if value else "N"
    if info.kind == "date" and not isinstance(value, str):
        return codec.formatDate(value)
    if info.kind == "int" and not isinstance(value, str):
        return str(value).zfill(info.width) if info.width else str(value)
    return value


def _variableRow(fid, value, showSecrets):
    info = FIELDS.get(fid)
    if info is None:
        name = label = codes.VENDOR_FIELDS.get(fid, "unknown field")
        kind = "text"
    else:
        name, label, kind = info.name, _label(info.name), info.kind
    if fid in codec.SENSITIVE and value and not showSecrets:
        return Row(fid, name, label, "***", "hidden (--show-secrets shows it)")
    return Row(fid, name, label, value, _meaning(name, value, kind))


def describe(message, frame=None, encoding="ascii", delimiter="|", showSecrets=False):
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
    rows = []
    fixed = message.spec.fixed
    if frame is not None:
        text = frame.strip(b"\r\n").decode(encoding, "replace")
        position = 2
        for field in fixed:
            value = text[position : position + field.length]
            position += field.length
            rows.append(
                Row(
                    "",
                    field.name,
                    _label(field.name),
                    value,
                    _meaning(field.name, value, field.kind),
                )
            )
        rest = text[position:]
        trailer = _TRAILER.search(rest)
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
        rows.append(
            Row(
                "",
                field.name,
                _label(field.name),
                value,
                _meaning(field.name, value, field.kind),
            )
        )
    for fid, value in message.fields():
        info = FIELDS.get(fid)
        if info is not None:
            value = _variableText(info, value)
        rows.append(_variableRow(fid, value, showSecrets))
    return rows


def maskFrame(frame, encoding="ascii", delimiter="|", showSecrets=False):
    """
    A frame as text for display, with the values of C{CO}, C{AD} and
    C{AC} replaced by C{***} (unless C{showSecrets}) and control
    characters escaped.

    @param frame: The bytes of one message.
    @rtype: L{str}
    """
    masked = frozenset() if showSecrets else codec.SENSITIVE
    return codec.maskFrame(frame, encoding, delimiter, masked)


def formatTable(rows, width=None):
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
    lines = []
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


def _shown(value):
    """
    A value as the table shows it: quoted when it is empty or starts or
    ends with a blank, so that blanks can be counted.
    """
    if not value or value != value.strip(" "):
        return '"%s"' % (value,)
    return value


def _wrap(text, room):
    words, lines, current = text.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > room:
            lines.append(current)
            current = word
        else:
            current = word if not current else current + " " + word
    lines.append(current)
    return lines


# -- talking to the server ----------------------------------------------------


@attrs.frozen
class Exchange:
    """
    One request and its response.

    @ivar request: The request's name (C{checkout}).
    @ivar requestMessage: The request as sent: a L{codec.Message}, or the
        text of a C{raw} one.
    @ivar sent: The request's bytes, without the terminator.
    @ivar received: The response's bytes, without the terminator.
    @ivar decoded: The decoded response.
    @ivar warnings: What looked wrong but did not stop the exchange.
    @ivar expected: The response code the request calls for, or L{None}.
    """

    request: str
    requestMessage: object
    sent: bytes = attrs.field(repr=False)
    received: bytes
    decoded: codec.Decoded
    warnings: tuple[str, ...] = ()
    expected: str | None = None

    @property
    def unexpected(self):
        """
        Whether the response is not the one the request calls for.
        """
        return self.expected is not None and self.decoded.message.code != self.expected


_IAC, _DONT, _DO, _WONT, _WILL, _SB, _SE = 255, 254, 253, 252, 251, 250, 240


class TelnetFilter:
    """
    Removes telnet commands from the bytes of a login prelude and refuses
    every option the server asks for (C{DO} gets C{WONT}, C{WILL} gets
    C{DONT}); C{IAC IAC} is a literal 255, NUL bytes are dropped.
    Commands split across reads are handled.
    """

    def __init__(self):
        self._pending = b""
        self._subnegotiation = False

    def feed(self, data):
        """
        @return: C{(text, replies)}: the data without telnet commands, and
            the bytes to send back.
        """
        data, self._pending = self._pending + data, b""
        text, replies = bytearray(), bytearray()
        i = 0
        while i < len(data):
            byte = data[i]
            if byte != _IAC:
                if not self._subnegotiation and byte != 0:
                    text.append(byte)
                i += 1
                continue
            if i + 1 >= len(data):
                self._pending = data[i:]
                break
            command = data[i + 1]
            if self._subnegotiation:
                if command == _SE:
                    self._subnegotiation = False
                i += 2
            elif command == _IAC:
                text.append(_IAC)
                i += 2
            elif command in (_WILL, _WONT, _DO, _DONT):
                if i + 2 >= len(data):
                    self._pending = data[i:]
                    break
                option = data[i + 2]
                if command == _DO:
                    replies += bytes([_IAC, _WONT, option])
                elif command == _WILL:
                    replies += bytes([_IAC, _DONT, option])
                i += 3
            elif command == _SB:
                self._subnegotiation = True
                i += 2
            else:
                i += 2
        return bytes(text), bytes(replies)


_LOGIN_PROMPT = re.compile(rb"(?i)(?:login|user(?:name)?|user id)\s*:")
_PASSWORD_PROMPT = re.compile(rb"(?i)password\s*:")
_LOGIN_OK = re.compile(rb"(?i)login ok[^\r\n]*(?:\r\n|\r|\n)")
_LOGIN_BAD = re.compile(
    rb"(?i)[^\r\n]*(?:invalid|incorrect|denied|fail|refused)[^\r\n]*[\r\n]"
)


class SIP2Connection:
    """
    A blocking SIP2 connection to a server, from the kiosk's side.

    @ivar sequence: The C{AY} digit of the next request when error
        detection is on (0 to 9, wrapping).
    @ivar peer: C{host:port}, for messages.
    """

    def __init__(
        self,
        sock,
        encoding="ascii",
        delimiter="|",
        errorDetection=False,
        terminator=b"\r",
        timeout=10.0,
        sequence=0,
        peer="the server",
    ):
        """
        @param sock: A connected socket (plain or TLS).
        @param errorDetection: Send C{AY}/C{AZ} and check the server's.
        @param terminator: What ends each request (C{b"\\r"} by the spec).
        @param timeout: Seconds to wait for each response.
        """
        self.sock = sock
        self.encoding = encoding
        self.delimiter = delimiter
        self.errorDetection = errorDetection
        self.terminator = terminator
        self.timeout = timeout
        self.sequence = sequence % 10
        self.peer = peer
        self._buffer = b""

    def close(self):
        """
        Close the connection (errors closing it are ignored).
        """
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass

    # -- bytes --

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except TimeoutError as e:
            raise NoAnswer("%s does not accept data (timed out sending)" % (self.peer,)) from e
        except OSError as e:
            raise ConnectionFailed("cannot send to %s: %s" % (self.peer, _reason(e))) from e

    def _recv(self, deadline, waitingFor):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoAnswer(
                "no %s from %s within %g seconds"
                % (waitingFor, self.peer, self.timeout)
            )
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(4096)
        except TimeoutError as e:
            raise NoAnswer(
                "no %s from %s within %g seconds"
                % (waitingFor, self.peer, self.timeout)
            ) from e
        except OSError as e:
            raise ConnectionFailed(
                "connection to %s failed: %s" % (self.peer, _reason(e))
            ) from e
        if not data:
            raise ConnectionFailed("%s closed the connection" % (self.peer,))
        return data

    def readFrame(self):
        """
        Read one response. CR, CRLF and LF all end a frame; empty frames
        (the LF of a CRLF) are skipped.

        @return: The frame without its terminator.
        @rtype: L{bytes}
        @raise NoAnswer: Nothing complete arrived within the timeout.
        @raise ConnectionFailed: The connection was closed or broke.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            match = re.search(rb"[\r\n]", self._buffer)
            if match is not None:
                frame = self._buffer[: match.start()]
                self._buffer = self._buffer[match.end() :]
                if frame.strip(b"\x00"):
                    return frame
                continue
            if len(self._buffer) > MAX_FRAME:
                raise ProtocolError(
                    "%s sent %d bytes without a terminator"
                    % (self.peer, len(self._buffer))
                )
            self._buffer += self._recv(deadline, "response")

    # -- the telnet prelude --

    def telnetLogin(self, user, password):
        """
        Log in through the telnet prelude: wait for the C{login:} prompt,
        send the user, wait for C{password:}, send the password, and
        expect C{Login OK}. Lines are sent with CRLF; telnet commands from
        the server are removed and refused.

        @raise LoginRefused: The server said the login is wrong.
        @raise NoAnswer: A prompt or the verdict did not come in time.
        """
        telnet = TelnetFilter()
        seen = bytearray()

        def expect(pattern, waitingFor, failure=None):
            # The match of pattern, or None when failure matches first.
            deadline = time.monotonic() + self.timeout
            while True:
                match = pattern.search(seen)
                if match is not None:
                    return match
                if failure is not None and any(f.search(seen) for f in failure):
                    return None
                try:
                    data = self._recv(deadline, waitingFor)
                except ConnectionFailed as e:
                    shown = _printable(bytes(seen), password)
                    raise type(e)("%s (received %r)" % (e, shown)) from None
                text, replies = telnet.feed(data)
                if replies:
                    self._send(replies)
                seen.extend(text)

        match = expect(_LOGIN_PROMPT, "telnet login prompt")
        del seen[: match.end()]
        self._send(user.encode(self.encoding, "replace") + b"\r\n")
        match = expect(_PASSWORD_PROMPT, "telnet password prompt")
        del seen[: match.end()]
        self._send(password.encode(self.encoding, "replace") + b"\r\n")

        match = expect(_LOGIN_OK, "telnet login verdict", (_LOGIN_BAD, _LOGIN_PROMPT))
        if match is None:
            raise LoginRefused(
                "%s refused the telnet login: %r"
                % (self.peer, _printable(bytes(seen), password))
            )
        self._buffer = bytes(seen[match.end() :])

    # -- requests --

    def frameFor(self, request):
        """
        The bytes of C{request} with the trailer error detection calls
        for, and the sequence digit it carries.

        @param request: A L{codec.Message}, or the text of a raw message;
            raw text that already ends in a C{AZ} checksum is sent as is.
        @return: C{(data, sequence)}; C{sequence} is L{None} when the
            frame carries none.
        """
        if isinstance(request, str):
            data = request.encode(self.encoding, "replace")
            trailer = _TRAILER.search(request)
            if trailer is not None:
                given = trailer.group(1)
                return data, int(given) if given is not None else None
            if not self.errorDetection:
                return data, None
            if request[:2] in ("96", "97"):
                data += b"AZ"
                return data + codec.checksum(data).encode("ascii"), None
            data += b"AY%dAZ" % (self.sequence,)
            sequence = self.sequence
            self.sequence = (self.sequence + 1) % 10
            return data + codec.checksum(data).encode("ascii"), sequence
        if isinstance(request, (codec.RequestACSResend, codec.RequestSCResend)):
            return codec.encode(
                request,
                checksum=self.errorDetection,
                encoding=self.encoding,
                delimiter=self.delimiter,
            ), None
        if not self.errorDetection:
            return codec.encode(
                request, encoding=self.encoding, delimiter=self.delimiter
            ), None
        sequence = self.sequence
        self.sequence = (self.sequence + 1) % 10
        data = codec.encode(
            request, sequence=sequence, encoding=self.encoding, delimiter=self.delimiter
        )
        return data, sequence

    def _decode(self, frame, warnings):
        """
        Decode a response; after a bad checksum ask for it again (97),
        once.
        """
        try:
            return frame, codec.decode(frame, self.encoding, self.delimiter)
        except codec.ChecksumError:
            warnings.append(
                "the response's checksum did not verify; sent 97 (request ACS resend)"
            )
            resend, _ = self.frameFor(codec.RequestACSResend())
            self._send(resend + self.terminator)
            frame = self.readFrame()
            try:
                return frame, codec.decode(frame, self.encoding, self.delimiter)
            except codec.ChecksumError as e:
                raise ProtocolError(
                    "%s sent a bad checksum again after 97: %s"
                    % (self.peer, maskFrame(frame, self.encoding)),
                    frame,
                ) from e
            except codec.SIP2Error as e:
                raise self._unreadable(frame, e) from e
        except codec.SIP2Error as e:
            raise self._unreadable(frame, e) from e

    def _unreadable(self, frame, error):
        return ProtocolError(
            "%s sent something that is not a SIP2 response (%s): %s"
            % (
                self.peer,
                error.reason,
                maskFrame(frame, self.encoding, self.delimiter),
            ),
            frame,
        )

    def exchange(self, request, name=None):
        """
        Send one request and read its response.

        With error detection on, the request carries the next sequence
        number and a checksum; the response's checksum is verified (a bad
        one gets a 97, once) and a missing trailer or another sequence
        number is reported as a warning. A 96 from the server gets the
        request sent again, once.

        @param request: A L{codec.Message}, or the text of a raw message.
        @param name: The request's name for the L{Exchange}.
        @rtype: L{Exchange}
        @raise ConnectionFailed: No usable answer.
        """
        data, sequence = self.frameFor(request)
        code = request[:2] if isinstance(request, str) else request.code
        warnings = []
        self._send(data + self.terminator)
        frame, decoded = self._decode(self.readFrame(), warnings)
        if decoded.message.code == "96" and code not in ("96", "97"):
            warnings.append("the server asked for the request again (96); resent it")
            self._send(data + self.terminator)
            frame, decoded = self._decode(self.readFrame(), warnings)
            if decoded.message.code == "96":
                raise ProtocolError(
                    "%s answered 96 (request SC resend) twice: it"
                    " cannot read the request" % (self.peer,),
                    frame,
                )
        if self.errorDetection and code not in ("96", "97"):
            if decoded.checksum is None:
                warnings.append(
                    "the response carries no checksum although error detection is on"
                )
            elif sequence is not None and decoded.sequence != sequence:
                warnings.append(
                    "the response carries sequence number %s, %d expected"
                    % (decoded.sequence, sequence)
                )
        expected = None if code == "97" else RESPONSE_TO.get(code)
        if expected is not None and decoded.message.code != expected:
            warnings.append(
                "a %s answers %s; %s expected" % (decoded.message.code, code, expected)
            )
        return Exchange(
            request=name or code,
            requestMessage=request,
            sent=data,
            received=frame,
            decoded=decoded,
            warnings=tuple(warnings),
            expected=expected,
        )


def _reason(error):
    return error.strerror or str(error) or type(error).__name__


def _printable(data, secret=None):
    text = data.decode("latin-1")
    if secret:
        text = text.replace(secret, "***")
    return text[-200:]


def makeTLSContext(ca=None, certificate=None, privateKey=None, insecure=False):
    """
    A client TLS context: the server's certificate is verified against
    C{ca} (or the system's CAs) and must name the host.

    @param ca: A PEM file of trusted CA certificates.
    @param certificate: A PEM file with the client certificate (and its
        key, unless C{privateKey} is given), for servers that require one.
    @param insecure: Verify nothing (testing only: anyone in the middle
        can read the passwords).
    @rtype: L{ssl.SSLContext}
    @raise UsageError: A file cannot be loaded.
    """
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        if certificate:
            context.load_cert_chain(certificate, privateKey)
    except (OSError, ssl.SSLError) as e:
        raise UsageError("cannot load the TLS files: %s" % (_reason(e),)) from e
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def openSocket(host, port, timeout=10.0, context=None, serverName=None):
    """
    Connect to C{host:port}, with TLS when C{context} is given.

    @param serverName: The name the server's certificate must carry (and
        the SNI sent); C{host} by default.
    @rtype: L{socket.socket} or L{ssl.SSLSocket}
    @raise ConnectionFailed: The connection or the TLS handshake failed.
    """
    peer = "%s:%d" % (host, port)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as e:
        raise NoAnswer(
            "no answer from %s within %g seconds (connecting)" % (peer, timeout)
        ) from e
    except OSError as e:
        raise ConnectionFailed("cannot connect to %s: %s" % (peer, _reason(e))) from e
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname=serverName or host)
    except ssl.SSLCertVerificationError as e:
        sock.close()
        raise ConnectionFailed(
            "the TLS certificate of %s was not accepted: %s (see --ca and"
            " --server-name; --insecure skips the check, for testing only)"
            % (peer, e.verify_message or e.reason)
        ) from e
    except TimeoutError as e:
        sock.close()
        raise NoAnswer("no TLS handshake from %s within %g seconds" % (peer, timeout)) from e
    except (ssl.SSLError, OSError) as e:
        sock.close()
        raise ConnectionFailed(
            "TLS handshake with %s failed: %s"
            % (peer, getattr(e, "reason", None) or _reason(e))
        ) from e


# -- the command line ---------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """
    An argument parser that raises L{UsageError} instead of exiting with
    status 2, and prints help to a chosen stream.
    """

    def __init__(self, *args, stream=None, **kwargs):
        argparse.ArgumentParser.__init__(self, *args, **kwargs)
        self.stream = stream

    def error(self, message):
        raise UsageError(message)

    def exit(self, status=0, message=None):
        if message:
            (self.stream or sys.stderr).write(message)
        raise SystemExit(status)

    def print_help(self, file=None):
        argparse.ArgumentParser.print_help(self, file or self.stream)


def _date(text):
    """
    An argparse type: C{now}, a SIP date (C{YYYYMMDDZZZZHHMMSS}) or an
    ISO 8601 date or date and time.
    """
    if text.lower() == "now":
        return datetime.now().replace(microsecond=0)
    if len(text) == 18:
        value = codec.parseDate(text)
        if value is not None:
            return value
    try:
        return datetime.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            "%r is not a date (YYYY-MM-DD[THH:MM[:SS]] or YYYYMMDDZZZZHHMMSS)" % (text,)
        ) from e


_HOLD_TYPE_WORDS = {
    "title": "2",
    "any": "2",
    "copy": "3",
    "specific": "3",
    "branch": "4",
}


def _codeType(table, what, free=None, words=None):
    def convert(text):
        code = (words or {}).get(text.lower()) or codes.codeFor(table, text)
        if code is None and free is not None and re.fullmatch(free, text):
            code = text
        if code is None:
            raise argparse.ArgumentTypeError(
                "%r is not a %s; use one of %s"
                % (text, what, ", ".join("%s (%s)" % item for item in table.items()))
            )
        return code

    convert.__name__ = what
    return convert


def _holdMode(text):
    if text.lower() not in _HOLD_MODES:
        raise argparse.ArgumentTypeError("hold mode is +, - or * (add, cancel, change)")
    return _HOLD_MODES[text.lower()]


def _language(text):
    code = text.zfill(3) if text.isdigit() else codes.codeFor(codes.LANGUAGE, text)
    if code is None or len(code) != 3:
        raise argparse.ArgumentTypeError("%r is not a language code" % (text,))
    return code


def _currency(text):
    if not re.fullmatch(r"[A-Za-z]{3}", text):
        raise argparse.ArgumentTypeError("a currency is a 3-letter ISO 4217 code")
    return text.upper()


def _addRequestOptions(parser):
    """
    Add the options of the request itself: the same on the command line
    and in the shell. They have no argparse defaults: an option not given
    is absent from the namespace and keeps its L{RequestOptions} value.
    """

    def add(group, *flags, **kwargs):
        group.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)

    who = parser.add_argument_group("institution, patron and item")
    add(who, "--institution", metavar="AO", help="institution id (AO)")
    add(
        who,
        "--terminal-password",
        dest="terminalPassword",
        metavar="AC",
        help="terminal password (AC), when the server wants one",
    )
    add(who, "--patron", metavar="AA", help="patron identifier (AA)")
    add(
        who,
        "--pin",
        metavar="AD",
        help="patron PIN (AD); better: SIP2ACS_PIN or --ask-pin, which stay"
        " out of the shell history",
    )
    add(who, "--item", metavar="AB", help="item identifier (AB)")
    add(who, "--title", metavar="AJ", help="title identifier (AJ): renew, hold")

    request = parser.add_argument_group("request options")
    add(
        request,
        "--language",
        type=_language,
        metavar="CODE",
        help="language, 3 digits or a name (23, 63; default 000)",
    )
    add(
        request,
        "--summary",
        choices=_SUMMARY_NAMES,
        help="patron-info: the item list to ask for",
    )
    add(
        request,
        "--start",
        type=int,
        metavar="N",
        help="patron-info: first item of the list (BP, from 1)",
    )
    add(
        request,
        "--end",
        type=int,
        metavar="N",
        help="patron-info: last item of the list (BQ)",
    )
    add(
        request,
        "--no-block",
        dest="noBlock",
        action="store_true",
        help="no block: the transaction already happened off line",
    )
    add(
        request,
        "--sc-renewal",
        dest="scRenewal",
        action="store_true",
        help="checkout: SC renewal policy Y (renew an item already out)",
    )
    add(
        request,
        "--third-party",
        dest="thirdParty",
        action="store_true",
        help="renew: third party allowed",
    )
    add(
        request,
        "--due-date",
        dest="dueDate",
        type=_date,
        metavar="DATE",
        help="no-block due date (checkout, renew)",
    )
    add(
        request,
        "--return-date",
        dest="returnDate",
        type=_date,
        metavar="DATE",
        help="checkin: when the item came back (default now)",
    )
    add(
        request,
        "--current-location",
        dest="currentLocation",
        metavar="AP",
        help="checkin: current location (AP; default --location)",
    )
    add(request, "--properties", metavar="CH", help="item properties (CH)")
    add(
        request,
        "--fee-ack",
        dest="feeAck",
        action="store_true",
        help="fee acknowledged (BO Y)",
    )
    add(
        request,
        "--cancel",
        action="store_true",
        help="cancel (BI Y): undo the opposite failed transaction",
    )
    add(request, "--amount", metavar="BV", help="fee-paid: the amount, e.g. 2.50")
    add(
        request,
        "--fee-type",
        dest="feeType",
        type=_codeType(codes.FEE_TYPE, "fee type"),
        metavar="TYPE",
        help="fee-paid: fee type, code or name (default 01 other)",
    )
    add(
        request,
        "--payment-type",
        dest="paymentType",
        type=_codeType(codes.PAYMENT_TYPE, "payment type", r"\d\d"),
        metavar="TYPE",
        help="fee-paid: 00 cash, 01 VISA, 02 credit card (default cash)",
    )
    add(
        request,
        "--currency",
        type=_currency,
        metavar="CUR",
        help="fee-paid: ISO 4217 currency (default USD)",
    )
    add(
        request, "--fee-id", dest="feeId", metavar="CG", help="fee-paid: fee identifier"
    )
    add(
        request,
        "--transaction-id",
        dest="transactionId",
        metavar="BK",
        help="fee-paid: transaction id",
    )
    add(
        request,
        "--hold-mode",
        dest="holdMode",
        type=_holdMode,
        metavar="MODE",
        help="hold: + (add, default), - (cancel) or * (change)",
    )
    add(
        request,
        "--hold-type",
        dest="holdType",
        type=_codeType(codes.HOLD_TYPE, "hold type", words=_HOLD_TYPE_WORDS),
        metavar="TYPE",
        help="hold: 1 other, 2 any copy of the title (title),"
        " 3 this copy (copy), 4 any copy at a branch (branch)",
    )
    add(
        request,
        "--expiry",
        type=_date,
        metavar="DATE",
        help="hold: expiration date (BW)",
    )
    add(request, "--pickup", metavar="BS", help="hold: pickup location")
    add(
        request,
        "--card-retained",
        dest="cardRetained",
        action="store_true",
        help="block-patron: the card was kept",
    )
    add(request, "--reason", metavar="AL", help="block-patron: blocked card message")
    add(
        request,
        "--sc-status",
        dest="scStatus",
        choices=("0", "1", "2"),
        help="status: 0 ok, 1 out of paper, 2 shutting down",
    )
    add(
        request,
        "--print-width",
        dest="printWidth",
        type=int,
        metavar="N",
        help="status: max print width (default 80)",
    )
    add(
        request,
        "--protocol-version",
        dest="protocolVersion",
        metavar="X.XX",
        help="status: protocol version (default 2.00)",
    )


def _requestList():
    return "\n".join("  %-14s %s" % (k.name, k.summary) for k in REQUESTS.values())


EPILOG = """\
requests:
%s
  shell          an interactive shell (same as -i)

A positional argument after the request is its patron (patron-status,
patron-info, renew-all, end-session, block-patron, patron-enable), its
item (item-info, item-update, checkout, checkin, renew, hold), its amount
(fee-paid) or the whole message (raw).

secrets:
  The login password comes from --password, SIP2ACS_PASSWORD or a prompt;
  the PIN from --pin, SIP2ACS_PIN or --ask-pin. Passwords and PINs
  (CO, AD, AC) are shown as *** unless --show-secrets is given.

exit status:
  0  the server answered and the operation succeeded (ok flag 1/Y, patron
     known and PIN not wrong, item known, ACS on line)
  1  the server answered but refused or failed (also: login refused)
  2  no answer, connection, TLS or protocol error
  3  usage error

examples:
  sip2acs client --login demo status
  sip2acs client --login demo --institution DEMO patron-info P0001 --summary charged
  sip2acs client --login demo -e --json checkout --patron P0001 --item I0001
  sip2acs client --tls --host sip.example.org --ca ca.pem --login kiosk1 item-info I0001
  sip2acs client --login demo shell
""" % (_requestList(),)


def makeParser(stream=None):
    """
    The argument parser of C{sip2acs client}.

    @param stream: Where help goes (standard output by default).
    """
    parser = _Parser(
        prog="sip2acs client",
        usage="sip2acs client [options] REQUEST [ARG] [request options]\n"
        "       sip2acs client [options] shell",
        description="A SIP2 troubleshooting client: connect to a SIP2 server"
        " like a self-check kiosk, send one request and show the response"
        " decoded.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        stream=stream,
    )
    parser.add_argument(
        "request",
        nargs="?",
        metavar="REQUEST",
        choices=[*REQUESTS, "shell"],
        help="what to send (see the list below)",
    )
    parser.add_argument(
        "value",
        nargs="?",
        metavar="ARG",
        help="the request's patron, item, amount or raw message",
    )

    connection = parser.add_argument_group("connection")
    connection.add_argument(
        "--host", default="127.0.0.1", help="the server (default %(default)s)"
    )
    connection.add_argument(
        "--port", type=int, help="default 6001 (raw), 8023 (telnet), 45550 (tls)"
    )
    connection.add_argument(
        "--transport",
        choices=("raw", "telnet", "tls"),
        help="raw TCP (default), the telnet login prelude, TLS",
    )
    connection.add_argument(
        "--tls",
        dest="transport",
        action="store_const",
        const="tls",
        help="same as --transport tls",
    )
    connection.add_argument(
        "--telnet",
        dest="transport",
        action="store_const",
        const="telnet",
        help="same as --transport telnet",
    )
    connection.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for each answer (default 10)",
    )
    connection.add_argument(
        "--ca",
        metavar="PEM",
        help="TLS: CA certificates to trust (default: the system's)",
    )
    connection.add_argument(
        "--certificate", metavar="PEM", help="TLS: client certificate (and key)"
    )
    connection.add_argument(
        "--private-key",
        dest="privateKey",
        metavar="PEM",
        help="TLS: the client certificate's key, if separate",
    )
    connection.add_argument(
        "--server-name",
        dest="serverName",
        metavar="NAME",
        help="TLS: the name the server certificate must carry (default --host)",
    )
    connection.add_argument(
        "--insecure",
        action="store_true",
        help="TLS: do not verify the server certificate."
        " For testing only: anyone in between can read"
        " passwords",
    )

    sip = parser.add_argument_group("SIP2")
    sip.add_argument(
        "--login",
        metavar="CN",
        help="log in as this SC account (93, or the telnet prompt)",
    )
    sip.add_argument(
        "--password",
        metavar="CO",
        help="the account password; better: SIP2ACS_PASSWORD or the prompt",
    )
    sip.add_argument("--location", metavar="CP", help="location code sent in 93")
    sip.add_argument(
        "-e",
        "--error-detection",
        dest="errorDetection",
        action="store_true",
        help="send sequence numbers and checksums (AY/AZ) and verify the server's",
    )
    sip.add_argument(
        "--sequence",
        type=int,
        default=0,
        metavar="N",
        help="first sequence number (0-9, default 0)",
    )
    sip.add_argument(
        "--encoding",
        choices=ENCODINGS,
        default="ascii",
        help="character set (default ascii)",
    )
    sip.add_argument("--delimiter", default="|", help="field delimiter (default |)")
    sip.add_argument(
        "--terminator",
        choices=sorted(TERMINATORS),
        default="CR",
        help="what ends each request (default CR)",
    )
    sip.add_argument(
        "--status-first",
        dest="statusFirst",
        action="store_true",
        help="send 99 SC status after login, as kiosks do (telnet"
        " servers need it for 2.00)",
    )
    sip.add_argument(
        "--ask-pin",
        dest="askPin",
        action="store_true",
        help="prompt for the patron PIN",
    )

    _addRequestOptions(parser)

    output = parser.add_argument_group("output")
    output.add_argument(
        "--raw",
        dest="showRaw",
        action="store_true",
        help="also print the raw lines sent and received",
    )
    output.add_argument(
        "--json", action="store_true", help="print one JSON object per response"
    )
    output.add_argument(
        "--show-secrets",
        dest="showSecrets",
        action="store_true",
        help="show passwords and PINs instead of ***",
    )
    output.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="an interactive shell (same as the request 'shell')",
    )
    output.add_argument(
        "--history-file",
        dest="historyFile",
        default=HISTORY_FILE,
        metavar="PATH",
        help="shell history (default %(default)s; '' for none)",
    )
    return parser


def makeShellParser(stream=None):
    """
    The parser of one shell line: a request, its argument and request
    options, without defaults.
    """
    parser = _Parser(
        prog="", add_help=True, stream=stream, argument_default=argparse.SUPPRESS
    )
    parser.add_argument("request", metavar="REQUEST", choices=list(REQUESTS))
    parser.add_argument("value", nargs="?", metavar="ARG")
    _addRequestOptions(parser)
    return parser


def _askSecret(prompt):
    if not sys.stdin.isatty():
        raise UsageError(
            "%s not given and no terminal to ask on" % (prompt.rstrip(": "),)
        )
    return getpass.getpass(prompt)


class ClientCommand:
    """
    One run of C{sip2acs client}: its connection, its options and its
    output.

    @ivar connection: The L{SIP2Connection}, or L{None} when not connected.
    @ivar options: The request options from the command line (and the
        shell's C{set}).
    """

    def __init__(self, args, out, err, environ, askSecret=_askSecret):
        self.args = args
        self.out = out
        self.err = err
        self.environ = environ
        self.askSecret = askSecret
        self.connection = None
        self.json = args.json
        self.showRaw = args.showRaw
        self.options = RequestOptions.fromNamespace(args)
        if self.options.pin is None and environ.get("SIP2ACS_PIN"):
            self.options = attrs.evolve(self.options, pin=environ["SIP2ACS_PIN"])

    # -- set up --

    def transport(self):
        """
        The transport: C{tls} when a TLS option is given and none is named.

        @raise UsageError: TLS options with another transport.
        """
        args = self.args
        tlsOptions = [
            name
            for name, value in [
                ("--ca", args.ca),
                ("--certificate", args.certificate),
                ("--private-key", args.privateKey),
                ("--server-name", args.serverName),
                ("--insecure", args.insecure),
            ]
            if value
        ]
        transport = args.transport or ("tls" if tlsOptions else "raw")
        if tlsOptions and transport != "tls":
            raise UsageError("%s only go with --tls" % (", ".join(tlsOptions),))
        if args.privateKey and not args.certificate:
            raise UsageError("--private-key needs --certificate")
        if transport == "telnet" and not args.login:
            raise UsageError("the telnet prelude needs --login")
        return transport

    def resolveSecrets(self):
        """
        Get the login password and the PIN from the environment or a
        prompt when they are not on the command line.
        """
        options = self.options
        if options.login and options.password is None:
            password = self.environ.get("SIP2ACS_PASSWORD")
            if password is None:
                password = self.askSecret("Password for %s: " % (options.login,))
            options = attrs.evolve(options, password=password)
        if self.args.askPin:
            options = attrs.evolve(options, pin=self.askSecret("Patron PIN: "))
        self.options = options

    def connect(self):
        """
        Connect and log in (93 or the telnet prelude), optionally followed
        by a 99.

        @return: L{None} when connected and logged in, else the exit
            status.
        """
        args = self.args
        transport = self.transport()
        port = args.port or DEFAULT_PORTS[transport]
        context = None
        if transport == "tls":
            context = makeTLSContext(
                args.ca, args.certificate, args.privateKey, args.insecure
            )
        try:
            sock = openSocket(args.host, port, args.timeout, context, args.serverName)
        except ConnectionFailed as e:
            return self.failed("connect", e)
        self.connection = SIP2Connection(
            sock,
            encoding=args.encoding,
            delimiter=args.delimiter,
            errorDetection=args.errorDetection,
            terminator=TERMINATORS[args.terminator],
            timeout=args.timeout,
            sequence=args.sequence,
            peer="%s:%d" % (args.host, port),
        )
        if transport == "telnet":
            try:
                self.connection.telnetLogin(
                    self.options.login, self.options.password or ""
                )
            except LoginRefused as e:
                self.disconnect()
                return self.failed("login", e, EXIT_REFUSED)
            except ConnectionFailed as e:
                self.disconnect()
                return self.failed("login", e)
        elif self.options.login:
            status = self.perform("login")
            if status != EXIT_OK:
                self.disconnect()
                return status
        if args.statusFirst:
            status = self.perform("status")
            if status == EXIT_NO_ANSWER:
                return status
        return None

    def disconnect(self):
        """
        Close the connection, if any.
        """
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    # -- requests and output --

    def perform(self, name, options=None, value=None):
        """
        Send the request C{name} and print its response.

        @return: The exit status for this request.
        @raise UsageError: The request cannot be built.
        """
        options = withPositional(name, options or self.options, value)
        request = buildRequest(name, options)
        if self.connection is None:
            return self.failed(name, ConnectionFailed("not connected (use reconnect)"))
        try:
            exchange = self.connection.exchange(request, name)
        except ConnectionFailed as e:
            self.disconnect()
            return self.failed(name, e)
        return self.show(exchange)

    def show(self, exchange):
        """
        Print one exchange as a table (or JSON).

        @return: Its exit status.
        """
        connection = self.connection
        message = exchange.decoded.message
        request = exchange.requestMessage
        if isinstance(request, str):
            try:
                request = codec.decode(
                    exchange.sent, connection.encoding, connection.delimiter
                ).message
            except codec.SIP2Error:
                request = None
        ok = responseOk(message, request)
        status = EXIT_OK if ok else EXIT_REFUSED
        if exchange.unexpected:
            status = EXIT_NO_ANSWER
        secrets = self.args.showSecrets
        rows = describe(
            message,
            exchange.received,
            connection.encoding,
            connection.delimiter,
            secrets,
        )
        sent = maskFrame(
            exchange.sent, connection.encoding, connection.delimiter, secrets
        )
        received = maskFrame(
            exchange.received, connection.encoding, connection.delimiter, secrets
        )
        if self.json:
            self.out.write(
                json.dumps(
                    {
                        "request": exchange.request,
                        "code": message.code,
                        "message": type(message).__name__,
                        "ok": status == EXIT_OK,
                        "status": status,
                        "sequence": exchange.decoded.sequence,
                        "checksum": exchange.decoded.checksum,
                        "fields": [row.asDict() for row in rows],
                        "raw": received,
                        "sent": sent,
                        "warnings": list(exchange.warnings),
                    }
                )
                + "\n"
            )
        else:
            verdict = {
                EXIT_OK: "ok",
                EXIT_REFUSED: "refused or failed",
                EXIT_NO_ANSWER: "unexpected response",
            }[status]
            self.out.write(
                "%s: %s (%s)\n" % (exchange.request, messageTitle(message), verdict)
            )
            for warning in exchange.warnings:
                self.out.write("  warning: %s\n" % (warning,))
            if self.showRaw:
                self.out.write("  sent:     %s\n  received: %s\n" % (sent, received))
            self.out.write(formatTable(rows) + "\n\n")
        self.out.flush()
        return status

    def failed(self, name, error, status=EXIT_NO_ANSWER):
        """
        Report an error (on standard error, and as JSON with C{--json}).

        @return: C{status}.
        """
        text = str(error)
        if (
            isinstance(error, ProtocolError)
            and error.frame is not None
            and self.showRaw
        ):
            text += "\n  received: %s" % (maskFrame(error.frame),)
        self.err.write("sip2acs client: %s: %s\n" % (name, text))
        self.err.flush()
        if self.json:
            self.out.write(
                json.dumps(
                    {
                        "request": name,
                        "ok": False,
                        "status": status,
                        "error": str(error),
                    }
                )
                + "\n"
            )
            self.out.flush()
        return status

    # -- running --

    def run(self, stdin=None):
        """
        Do what the command line asks.

        @return: The exit status.
        """
        args = self.args
        interactive = args.interactive or args.request == "shell"
        if interactive:
            if args.value is not None or args.request not in (None, "shell"):
                raise UsageError("the shell takes no request or argument")
        elif args.request is None:
            raise UsageError("name a request (or shell)")
        else:
            buildRequest(
                args.request, withPositional(args.request, self.options, args.value)
            )
        self.transport()
        self.resolveSecrets()
        if interactive:
            return self.shell(stdin)
        failure = self.connect()
        try:
            if failure is not None:
                return failure
            if args.request == "login":
                return EXIT_OK
            return self.perform(args.request, value=args.value)
        finally:
            self.disconnect()

    def shell(self, stdin=None):
        """
        Connect and run the interactive shell until C{quit} or end of
        input.

        @return: The exit status of connecting (2 or 1 when it fails),
            else 0.
        """
        failure = self.connect()
        if failure is not None:
            return failure
        historyFile = None
        if stdin is None and not sys.stdin.isatty():
            # Lines from a pipe or a file: no prompt, no readline history.
            stdin = sys.stdin
        elif stdin is None and self.args.historyFile:
            historyFile = os.path.expanduser(self.args.historyFile)
        shell = ClientShell(self, stdin=stdin, historyFile=historyFile)
        try:
            shell.run()
        finally:
            self.disconnect()
        return EXIT_OK


# -- the shell ----------------------------------------------------------------


def parseShellLine(line, stream=None):
    """
    Parse one shell line: a request name, its argument and options.

    C{raw} takes the rest of the line as it is (spaces included).

    @return: C{(name, value, namespace)}.
    @raise UsageError: The line is not a valid request.
    @raise SystemExit: The line asked for C{--help} (printed on
        C{stream}).
    """
    line = line.strip()
    head, _, rest = line.partition(" ")
    if head == "raw":
        if not rest.strip():
            raise UsageError("raw needs the message, e.g. raw 9900802.00")
        return "raw", rest.strip(), argparse.Namespace()
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise UsageError(str(e)) from e
    if not words:
        raise UsageError("empty line")
    if words[0] not in REQUESTS:
        raise UsageError("unknown request %r (help lists them)" % (words[0],))
    namespace = makeShellParser(stream).parse_intermixed_args(words)
    return namespace.request, getattr(namespace, "value", None), namespace


def completeRequest(text, names=None):
    """
    The request (and shell command) names that start with C{text}.
    """
    names = list(REQUESTS) + list(ClientShell.commands) if names is None else names
    return [name for name in names if name.startswith(text)]


_CHOICES = {
    "--summary": _SUMMARY_NAMES,
    "--hold-mode": ["+", "-", "*"],
    "--hold-type": list(codes.HOLD_TYPE),
    "--fee-type": list(codes.FEE_TYPE),
    "--payment-type": list(codes.PAYMENT_TYPE),
    "--sc-status": ["0", "1", "2"],
}


def completeOption(name, text, previous=None):
    """
    Complete a word of request C{name}'s line: its option names, or the
    values of an option that has a fixed list (C{--summary ch} gives
    C{charged}). C{set} completes the options of every request.

    @param previous: The word before the one being completed.
    """
    if previous in _CHOICES:
        return [value for value in _CHOICES[previous] if value.startswith(text)]
    if text and not text.startswith("-"):
        return []
    if name == "set":
        options = sorted({o for kind in REQUESTS.values() for o in kind.options})
    elif name in REQUESTS:
        options = REQUESTS[name].options
    else:
        return []
    return [option for option in options if option.startswith(text)]


class ClientShell(cmd.Cmd):
    """
    The interactive shell: one request per line, with the same syntax as
    the command line (C{checkout I0001 --patron P0001}), plus C{set} for
    options that stay, C{output}, C{reconnect} and C{quit}. History is
    kept with readline when it is available.
    """

    prompt = "sip2> "
    identchars = cmd.Cmd.identchars + "-"
    commands = ("help", "set", "output", "reconnect", "quit", "exit")
    intro = (
        "Type a request (help lists them; Tab completes), or quit."
        " Secrets typed here stay out of the history."
    )

    def __init__(self, command, stdin=None, historyFile=None):
        """
        @param command: The L{ClientCommand} to send requests with.
        @param stdin: Where lines come from (no prompt, no history); the
            terminal, with readline, if L{None}.
        @param historyFile: Where readline history is kept, or L{None}.
        """
        cmd.Cmd.__init__(self, stdin=stdin, stdout=command.out)
        if stdin is not None:
            self.use_rawinput = False
            self.prompt = ""
            self.intro = None
        self.command = command
        self.historyFile = historyFile
        self.lastStatus = EXIT_OK
        self._readline = None

    def run(self):
        """
        Run until C{quit}; Ctrl-C cancels the line being typed.
        """
        while True:
            try:
                self.cmdloop()
                return
            except KeyboardInterrupt:
                self.stdout.write("^C\n")
                self.intro = None

    # -- readline --

    def preloop(self):
        if not self.use_rawinput or self._readline is not None:
            return
        try:
            import readline
        except ImportError:  # pragma: no cover
            return
        self._readline = readline
        self._delims = readline.get_completer_delims()
        readline.set_completer_delims(" \t\n")
        readline.set_history_length(1000)
        if self.historyFile:
            try:
                readline.read_history_file(self.historyFile)
            except OSError:
                pass

    def postloop(self):
        readline = self._readline
        if readline is None:
            return
        readline.set_completer_delims(self._delims)
        if self.historyFile:
            try:
                readline.write_history_file(self.historyFile)
                # Patron and item barcodes are in there.
                os.chmod(self.historyFile, 0o600)
            except OSError as e:
                self.command.err.write("cannot save the history: %s\n" % (_reason(e),))

    def precmd(self, line):
        readline = self._readline
        if readline is not None and any(s in line for s in SECRET_OPTIONS):
            length = readline.get_current_history_length()
            if length:
                readline.remove_history_item(length - 1)
        return line

    # -- commands --

    def emptyline(self):
        """
        Do nothing: repeating the last request (the L{cmd.Cmd} default)
        could check an item out twice.
        """

    def do_EOF(self, arg):
        """
        End of input (Ctrl-D): leave the shell.
        """
        self.stdout.write("\n")
        return True

    def default(self, line):
        try:
            name, value, namespace = parseShellLine(line, self.stdout)
            options = RequestOptions.fromNamespace(namespace, self.command.options)
            self.lastStatus = self.command.perform(name, options, value)
        except UsageError as e:
            self.stdout.write("error: %s\n" % (e,))
            self.lastStatus = EXIT_USAGE
        except SystemExit:
            pass
        return False

    def do_set(self, arg):
        """
        set [OPTIONS]: keep request options for the next requests
        (set --patron P0001 --institution DEMO); without options, show them.
        """
        if not arg.strip():
            for field in attrs.fields(RequestOptions):
                value = getattr(self.command.options, field.name)
                if field.name in ("password", "pin", "terminalPassword") and value:
                    value = "***"
                if value not in (None, "", False) and field.name != "password":
                    self.stdout.write("%s = %s\n" % (field.name, value))
            return
        try:
            words = shlex.split(arg)
            namespace = makeShellParser(self.stdout).parse_intermixed_args(
                ["status", *words]
            )
            if getattr(namespace, "value", None) is not None:
                raise UsageError("set takes options only, e.g. set --patron P0001")
        except (UsageError, ValueError) as e:
            self.stdout.write("error: %s\n" % (e,))
            return
        except SystemExit:
            return
        self.command.options = RequestOptions.fromNamespace(
            namespace, self.command.options
        )

    def do_output(self, arg):
        """
        output text|raw|json: tables, tables with the raw lines, or JSON.
        """
        arg = arg.strip()
        if arg not in ("text", "raw", "json"):
            self.stdout.write("output is text, raw or json\n")
            return
        self.command.json = arg == "json"
        self.command.showRaw = arg == "raw"

    def do_reconnect(self, arg):
        """
        reconnect: open a new connection and log in again.
        """
        self.command.disconnect()
        status = self.command.connect()
        self.lastStatus = EXIT_OK if status is None else status

    def do_quit(self, arg):
        """
        quit: leave the shell.
        """
        return True

    do_exit = do_quit

    def do_help(self, arg):
        """
        help [REQUEST]: list the requests, or the options of one.
        """
        arg = arg.strip()
        if arg in REQUESTS:
            kind = REQUESTS[arg]
            usage = arg + (" [%s]" % kind.positional.upper() if kind.positional else "")
            self.stdout.write("%s\n  %s\n" % (usage, kind.summary))
            if kind.options:
                self.stdout.write("  options: %s\n" % (" ".join(kind.options),))
            return
        if arg:
            cmd.Cmd.do_help(self, arg)
            return
        self.stdout.write("requests:\n%s\n" % (_requestList(),))
        self.stdout.write(
            "shell commands:\n"
            "  set [OPTIONS]  keep options (set --patron P0001); set alone shows them\n"
            "  output MODE    text, raw (with the raw lines) or json\n"
            "  reconnect      connect and log in again\n"
            "  help REQUEST   the options of a request\n"
            "  quit           leave (also exit, Ctrl-D)\n"
        )

    # -- completion (a single match gets a space, as in a Unix shell) --

    def completenames(self, text, *ignored):
        return _spaced(completeRequest(text))

    def completedefault(self, text, line, begidx, endidx):
        words = line[:begidx].split()
        if not words:
            return []
        previous = words[-1] if len(words) > 1 else None
        return _spaced(completeOption(words[0], text, previous))

    def complete_help(self, text, *ignored):
        return _spaced(completeRequest(text))


def _spaced(matches):
    return [matches[0] + " "] if len(matches) == 1 else matches


# -- entry points -------------------------------------------------------------


def main(argv=None, out=None, err=None, environ=None, askSecret=None, stdin=None):
    """
    Run C{sip2acs client}.

    @param argv: The arguments after C{client}.
    @param out: Where tables and JSON go (standard output).
    @param err: Where errors go (standard error).
    @param environ: The environment (for C{SIP2ACS_PASSWORD},
        C{SIP2ACS_PIN}).
    @param askSecret: A function C{prompt -> str} that asks for a secret;
        L{getpass.getpass} on a terminal.
    @param stdin: Shell input; the terminal (with readline) if L{None}.
    @return: The exit status.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    environ = os.environ if environ is None else environ
    parser = makeParser(out)
    try:
        args = parser.parse_intermixed_args(argv)
        if not 0 <= args.sequence <= 9:
            raise UsageError("--sequence is a digit, 0 to 9")
        if len(args.delimiter) != 1:
            raise UsageError("--delimiter is one character")
        command = ClientCommand(args, out, err, environ, askSecret or _askSecret)
        return command.run(stdin)
    except UsageError as e:
        err.write(parser.format_usage())
        err.write("sip2acs client: error: %s\n" % (e,))
        return EXIT_USAGE
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        err.write("sip2acs client: interrupted\n")
        return EXIT_NO_ANSWER


def _run(args):
    return main(args.argv)


def register(subparsers):
    """
    Add the C{client} command to the C{sip2acs} command line.

    The command's own parser (L{makeParser}) reads everything after
    C{client}, so that its usage errors exit with status 3.

    @param subparsers: The result of C{ArgumentParser.add_subparsers()}.
    @return: The C{client} parser.
    """
    client = subparsers.add_parser(
        "client",
        help="a SIP2 troubleshooting client (sip2acs client --help)",
        add_help=False,
        prefix_chars="+",
    )
    client.add_argument("argv", nargs=argparse.REMAINDER)
    client.set_defaults(func=_run)
    return client


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
