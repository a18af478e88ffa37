# -*- test-case-name: tests.test_client -*-
"""
The requests C{sip2acs client} sends by name: L{REQUESTS} lists them,
L{RequestOptions} carries what they may say, L{buildRequest} makes the
message.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime
from typing import Any

import attrs

from sip2acs.sip import codec, codes
from sip2acs.tools.client.errors import UsageError

__all__ = ["REQUESTS", "RequestKind", "RequestOptions", "buildRequest", "withPositional"]


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

SUMMARY_NAMES = [name for name, _, _ in codes.SUMMARY]


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
    def fromNamespace(
        cls, namespace: argparse.Namespace, base: RequestOptions | None = None
    ) -> RequestOptions:
        """
        Request options from parsed arguments.

        @param namespace: An L{argparse.Namespace}; attributes it lacks
            keep their value from C{base}.
        @param base: The options to start from; the defaults if L{None}.
        """
        names = [a.name for a in attrs.fields(cls)]
        given = {n: getattr(namespace, n) for n in names if hasattr(namespace, n)}
        return attrs.evolve(base if base is not None else cls(), **given)


def withPositional(name: str, options: RequestOptions, value: str | None) -> RequestOptions:
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
    # The field the positional argument fills is named at run time.
    changes: dict[str, Any] = {kind.positional: value}
    return attrs.evolve(options, **changes)


def _need(name: str, **values: object) -> None:
    missing = [
        "--" + re.sub("([A-Z])", r"-\1", k).lower() for k, v in values.items() if not v
    ]
    if missing:
        raise UsageError("%s needs %s" % (name, " and ".join(missing)))


def buildRequest(
    name: str, options: RequestOptions, now: datetime | None = None
) -> codec.Message | str:
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
            summary[SUMMARY_NAMES.index(o.summary)] = "Y"
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
