# -*- test-case-name: tests.test_client -*-
"""
The options of C{sip2acs client}: L{makeParser} for the command line,
L{makeShellParser} for one shell line; both share the request options.
"""

import argparse
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, NoReturn

from sip2acs.sip import codec, codes
from sip2acs.tools.client.colour import COLOR_MODES
from sip2acs.tools.client.errors import UsageError
from sip2acs.tools.client.requests import REQUESTS, SUMMARY_NAMES

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["makeParser", "makeShellParser", "EPILOG"]

DEFAULT_PORTS = {"raw": 6001, "telnet": 8023, "tls": 45550}
ENCODINGS = ("ascii", "latin-1", "cp850", "utf-8")
TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n", "LF": b"\n"}
HISTORY_FILE = "~/.sip2acs_history"
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


class _Parser(argparse.ArgumentParser):
    """
    An argument parser that raises L{UsageError} instead of exiting with
    status 2, and prints help to a chosen stream.
    """

    def __init__(self, *args: Any, stream: IO[str] | None = None, **kwargs: Any) -> None:
        argparse.ArgumentParser.__init__(self, *args, **kwargs)
        self.stream = stream

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            (self.stream or sys.stderr).write(message)
        raise SystemExit(status)

    def print_help(self, file: "SupportsWrite[str] | None" = None) -> None:
        argparse.ArgumentParser.print_help(self, file or self.stream)


def _date(text: str) -> datetime:
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


def _codeType(
    table: Mapping[str, str],
    what: str,
    free: str | None = None,
    words: Mapping[str, str] | None = None,
) -> Callable[[str], str]:
    def convert(text: str) -> str:
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


def _holdMode(text: str) -> str:
    if text.lower() not in _HOLD_MODES:
        raise argparse.ArgumentTypeError("hold mode is +, - or * (add, cancel, change)")
    return _HOLD_MODES[text.lower()]


def _language(text: str) -> str:
    code = text.zfill(3) if text.isdigit() else codes.codeFor(codes.LANGUAGE, text)
    if code is None or len(code) != 3:
        raise argparse.ArgumentTypeError("%r is not a language code" % (text,))
    return code


def _currency(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", text):
        raise argparse.ArgumentTypeError("a currency is a 3-letter ISO 4217 code")
    return text.upper()


def _addRequestOptions(parser: argparse.ArgumentParser) -> None:
    """
    Add the options of the request itself: the same on the command line
    and in the shell. They have no argparse defaults: an option not given
    is absent from the namespace and keeps its L{RequestOptions} value.
    """

    def add(group: argparse._ActionsContainer, *flags: str, **kwargs: Any) -> None:
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
        choices=SUMMARY_NAMES,
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


def _requestList() -> str:
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


def makeParser(stream: IO[str] | None = None) -> argparse.ArgumentParser:
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
        "--color",
        "--colour",
        dest="color",
        choices=COLOR_MODES,
        default="auto",
        help="colour ok/refused: auto (on a terminal, unless NO_COLOR is set),"
        " always or never (default auto)",
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


def makeShellParser(stream: IO[str] | None = None) -> argparse.ArgumentParser:
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
