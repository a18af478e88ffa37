# -*- test-case-name: tests.test_session -*-
"""
The ACS session: everything one SC connection remembers, and the answer to
each SIP2 request.

A transport (raw TCP, telnet, TLS) hands each complete frame to
L{ACSSession.frameReceived} and writes back the L{Reply} it gets. The
session owns error detection (AY/AZ mirrored or required), resend (97),
replay of retransmitted requests, the login gate and the dispatch of every
request to the institution's L{IILS <sip2acs.ils.interfaces.IILS>} adapter.
It knows nothing about sockets.
"""

import textwrap
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation

import attrs
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.logger import Logger

from sip2acs.ils.base import (
    HOST_ZONE,
    CheckinRequest,
    CheckoutRequest,
    HoldRequest,
    Payment,
    RenewRequest,
    Terminal,
    UnsupportedOperation,
    inZone,
    wallTime,
)
from sip2acs.sip import codec
from sip2acs.sip.spec import (
    FIELDS,
    OPERATIONS,
    PATRON_STATUS_FLAGS,
    RESPONSE_TO,
    SUMMARY_FIELDS,
)
from sip2acs.sip.success import succeeded

__all__ = ["ACSSession", "MAX_FEE_AMOUNT", "Reply", "feeAmount", "outcome"]

MAX_LOGIN_FAILURES = 3
MAX_BAD_FRAMES = 5
UNKNOWN_PATRON_STATUS = "YYYY" + " " * 10

_HOLD_MODES = {"+": "add", "-": "cancel", "*": "alter"}

MAX_FEE_AMOUNT = Decimal("9999999.99")
"""
The largest amount a 37 may pay: seven digits before the decimal point.
"""

_CENT = Decimal("0.01")

_OPERATION = {
    operation.request: operation.name
    for operation in OPERATIONS
    if operation.method is not None
}
"""
The adapter operation each request needs (see L{IILS.supports}), from the
one table L{sip2acs.sip.spec.OPERATIONS}: the requests the session does not
answer itself.
"""


_UNKNOWN_PATRON = dict(patronStatus=UNKNOWN_PATRON_STATUS, personalName="")
_NOT_LENT = dict(
    ok=False,
    renewalOk=False,
    magneticMedia=None,
    desensitize=False,
    titleIdentifier="",
    dueDate="",
)
_NEGATIVE = {
    "23": _UNKNOWN_PATRON,
    "01": _UNKNOWN_PATRON,
    "63": _UNKNOWN_PATRON,
    "25": _UNKNOWN_PATRON,
    "11": _NOT_LENT,
    "29": _NOT_LENT,
    # A failed checkin re-arms the item and asks the sorter to set it aside.
    "09": dict(
        ok=False,
        resensitize=True,
        magneticMedia=None,
        alert=True,
        alertType="99",
        permanentLocation="",
        titleIdentifier="",
    ),
    "17": dict(circulationStatus="01", securityMarker="01", feeType="01", titleIdentifier=""),
    "19": dict(itemPropertiesOk=False),
    "15": dict(ok=False, available=False),
    "65": dict(ok=False, renewedCount=0, unrenewedCount=0),
    "35": dict(endSession=False),
    "37": dict(paymentAccepted=False),
}
"""
For each request the adapter answers (every key of L{_OPERATION}), the
negative values of its refusal; the session fills in the date, the screen
message and the identifiers the response carries (institution, patron,
item, language).
"""

_REFUSALS = {
    code: (codec.messageClass(RESPONSE_TO[code]), negative)
    for code, negative in _NEGATIVE.items()
}
"""
For each request in L{_NEGATIVE}, the response class of a refusal (the
response L{sip2acs.sip.spec.OPERATIONS} gives it) and its negative values.
"""

_FIELD_NAMES = {
    cls: {f.name for f in cls.spec.fixed} | {FIELDS[fid].name for fid in cls.spec.fields}
    for cls, _ in _REFUSALS.values()
}


@attrs.frozen
class Reply:
    """
    What the transport must do after a frame: write C{data} (if any), then
    close the connection if C{close}.
    """

    data: bytes | None = None
    close: bool = False


def outcome(response):
    """
    Whether a response says the request succeeded: C{"ok"} or C{"refused"},
    by the lenient reading of L{sip2acs.sip.success.succeeded} (a success
    unless the response shows failure).

    Lookups count as refused when the patron or item is unknown; a 98 as
    refused when it says the ACS is off line.
    """
    return "ok" if succeeded(response, lenient=True) else "refused"


def _money(amount):
    return None if amount is None else format(Decimal(amount), ".2f")


def feeAmount(text):
    """
    The amount a 37's C{BV} field pays, or L{None} when it is not a valid
    amount: not a number, not finite (C{NaN}, C{Infinity}), negative, with
    more than two decimals, or above L{MAX_FEE_AMOUNT} (C{1E+999999}, forty
    nines).

    @type text: L{str}
    @rtype: L{Decimal} or L{None}
    """
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_FEE_AMOUNT:
        return None
    if amount != amount.quantize(_CENT):
        return None
    return amount


def _yn(value):
    return None if value is None else bool(value)


def _patronStatus(flags):
    return "".join("Y" if name in flags else " " for name in PATRON_STATUS_FLAGS)


class ACSSession:
    """
    The state of one SC connection.

    @ivar account: The L{AccountConfig <sip2acs.config.AccountConfig>} the
        SC logged in as, or L{None} before login.
    @ivar terminal: The L{Terminal} passed to the adapter.
    @ivar certificateSubject: The subject of the SC's TLS client
        certificate (see L{sip2acs.transports.tls.peerSubject}), or L{None}.
    @ivar messages: How many requests were answered.
    @ivar lastMessageAt: When the last request was answered (the clock's
        seconds), or L{None}.
    """

    log = Logger()

    def __init__(self, server, listener, peer=None, clock=None):
        """
        @param server: The L{ACSServer <sip2acs.acs.server.ACSServer>} holding
            accounts, institutions and adapters.
        @param listener: The L{ListenerConfig <sip2acs.config.ListenerConfig>}
            the SC connected to.
        @param peer: The SC's address, for logs and the adapter.
        @param clock: An L{IReactorTime} provider; the server's by default.
        """
        self.server = server
        self.listener = listener
        self.peer = peer
        self.clock = clock if clock is not None else server.reactor
        self.account = None
        self.terminal = None
        self.institution = None
        self.ils = None
        self.loginFailures = 0
        self.badFrames = 0
        self.maxPrintWidth = None
        self.certificateSubject = None
        self.lastResponse = None
        self.lastRequestKey = None
        self.messages = 0
        self.lastMessageAt = None
        self._inflight = None
        self._inflightSince = None
        self._watchdog = None
        self._refusedHere = False

    # -- helpers ----------------------------------------------------------

    @property
    def authenticated(self):
        """
        Whether a 93 (or the telnet prelude) has logged this SC in.
        """
        return self.account is not None

    def _institutionBeforeLogin(self):
        """
        The id of the institution an SC that has not logged in is served
        by: the listener's, else the first configured one (whose policy a
        99 before login reports).
        """
        return self.listener.institution or next(iter(self.server.institutions))

    def zone(self):
        """
        The time zone of the SC's institution (before login, of the
        institution a 99 reports): the zone of the blank-zone dates on the
        wire and of every time given to and taken from the adapter.
        """
        institution = self.institution
        if institution is None:
            institution = self.server.institutions[self._institutionBeforeLogin()]
        return getattr(institution, "zone", HOST_ZONE)

    def now(self):
        """
        The current wall time in the institution's zone (naive, as sent on
        the wire), from the injected clock.
        """
        return datetime.fromtimestamp(self.clock.seconds(), self.zone()).replace(
            tzinfo=None, microsecond=0
        )

    def _fromWire(self, value):
        """
        A date from a request, for the adapter: aware, in the institution's
        zone (a blank zone is the institution's; a zone letter is
        converted).
        """
        return inZone(value, self.zone())

    def _toWire(self, value):
        """
        A date from the adapter, for a response: the institution's wall
        time, sent with a blank zone.
        """
        return wallTime(value, self.zone())

    def _encoding(self):
        if self.account is None:
            return "ascii", "|", b"\r"
        return self.account.encoding, self.account.delimiter, self.account.terminator

    def _errorDetection(self):
        return self.account.errorDetection if self.account else "auto"

    def _encode(self, message, decoded=None):
        """
        Encode a response, mirroring the request's error detection (or as
        the account requires), and add the terminator.
        """
        encoding, delimiter, terminator = self._encoding()
        mode = self._errorDetection()
        sequence = None
        checksum = False
        if mode != "off" and decoded is not None and decoded.checksum is not None:
            sequence, checksum = decoded.sequence, True
        elif mode == "required":
            checksum = True
        return (
            codec.encode(
                message,
                sequence=sequence,
                checksum=checksum,
                encoding=encoding,
                delimiter=delimiter,
            )
            + terminator
        )

    def _resendRequest(self, checksummed):
        """
        A 96, asking the SC to send its last request again.
        """
        mode = self._errorDetection()
        checksum = mode != "off" and (checksummed or mode == "required")
        return codec.encode(codec.RequestSCResend(), checksum=checksum) + self._encoding()[2]

    def traceFrame(self, direction, frame):
        """
        Log one frame if the account's tracing is on, with passwords and
        PINs masked, and personal data too unless tracing is C{full}.

        @param direction: C{"in"} (from the SC) or C{"out"}.
        @param frame: The bytes of the frame.
        """
        account = self.account
        if account is None or account.trace == "off":
            return
        masked = codec.SENSITIVE
        if account.trace != "full":
            masked = codec.SENSITIVE | codec.PERSONAL
        self.log.info(
            "trace {account}@{peer} {direction} {frame}",
            account=account.login,
            peer=self.peer,
            direction=direction,
            # What the SC sent is masked at every secret field id, even one
            # that lost its delimiter (AAP0001AD1234|).
            frame=codec.maskFrame(
                frame.rstrip(b"\r\n"),
                account.encoding,
                account.delimiter,
                masked,
                anywhere=direction == "in",
            ),
        )

    # -- the frame pipeline -----------------------------------------------

    def frameReceived(self, frame):
        """
        Answer one frame.

        @param frame: One message without its terminator.
        @type frame: L{bytes}
        @return: A Deferred that fires with a L{Reply}; it never fails.
        @rtype: L{Deferred}
        """
        started = time.perf_counter()
        self._refusedHere = False
        encoding, delimiter, _ = self._encoding()
        try:
            decoded = codec.decode(frame, encoding=encoding, delimiter=delimiter)
        except codec.ChecksumError:
            self.log.info(
                "bad checksum from {peer}; asking for a resend", peer=self.peer
            )
            return succeed(self._badFrame(self._resendRequest(True)))
        except codec.MalformedMessage as e:
            if e.code is not None and self.authenticated and e.code in _OPERATION:
                self.log.info(
                    "malformed {code} from {peer}: {reason}",
                    code=e.code,
                    peer=self.peer,
                    reason=e.reason,
                )
                response = self._refusal(e.code, None, "Malformed request.")
                return succeed(self._badFrame(self._encode(response)))
            return succeed(self._garbage(frame, e))
        except codec.SIP2Error as e:
            return succeed(self._garbage(frame, e))

        message = decoded.message
        if message.spec.request is False:
            return succeed(self._garbage(frame, codec.UnknownMessage(
                "a response (%s) sent to the ACS" % (message.code,), message.code)))
        if isinstance(message, codec.RequestACSResend):
            self.badFrames = 0
            if self.lastResponse is None:
                return succeed(Reply(self._resendRequest(decoded.checksum is not None)))
            return succeed(Reply(self.lastResponse))
        if self._errorDetection() == "required" and decoded.checksum is None:
            self.log.info(
                "{peer} sent {code} without the required checksum",
                peer=self.peer,
                code=message.code,
            )
            return succeed(self._badFrame(self._resendRequest(True)))
        self.badFrames = 0
        key = None
        if decoded.checksum is not None:
            # A retransmission is the same frame, byte for byte. Sequence
            # digit and checksum alone do not identify a request: kiosks
            # often send a constant digit, and the checksum is a byte sum
            # (AAP0001 and AAP0010 have the same one).
            key = frame.strip(b"\r\n")
            if key == self.lastRequestKey and self.lastResponse is not None:
                self.log.info(
                    "{peer} retransmitted {code} (sequence {sequence});"
                    " replaying the previous response",
                    peer=self.peer,
                    code=message.code,
                    sequence=decoded.sequence,
                )
                return succeed(Reply(self.lastResponse))

        if not self.authenticated and not isinstance(message, codec.Login):
            if isinstance(message, codec.SCStatus) and self.listener.statusBeforeLogin:
                pass
            else:
                self.log.info(
                    "{peer} sent {code} before logging in; closing",
                    peer=self.peer,
                    code=message.code,
                )
                return succeed(Reply(close=True))

        d = self._dispatch(message)
        return d.addCallbacks(
            self._cbAnswered,
            self._ebUnexpected,
            callbackArgs=(decoded, key, started),
            errbackArgs=(decoded, key),
        )

    def _badFrame(self, data):
        self.badFrames += 1
        close = self.badFrames >= MAX_BAD_FRAMES
        if close:
            self.log.info(
                "{peer} sent {count} bad frames in a row; closing",
                peer=self.peer,
                count=self.badFrames,
            )
        return Reply(data, close)

    def _garbage(self, frame, error):
        """
        A frame that is not a SIP2 request: before login the connection is
        closed; after login the SC is asked to resend, and closed after
        several in a row.
        """
        self.log.info(
            "unreadable frame from {peer}: {reason} ({size} bytes)",
            peer=self.peer,
            reason=error.reason,
            size=len(frame),
        )
        if not self.authenticated:
            return Reply(close=True)
        return self._badFrame(self._resendRequest(False))

    def _cbAnswered(self, result, decoded, key, started):
        self._inflight = None
        response, close = result if isinstance(result, tuple) else (result, False)
        data = self._encode(self._wrapPrint(response), decoded)
        self.lastResponse = data
        self.lastRequestKey = key
        self.messages += 1
        self.lastMessageAt = self.clock.seconds()
        seconds = time.perf_counter() - started
        account = self.account.login if self.account else "-"
        # A refusal the session made itself (the service is not supported,
        # the library system failed or was too slow) is a refusal, even
        # where its message has no flag that says so (24, 26, 64).
        result = "refused" if self._refusedHere else outcome(response)
        self._refusedHere = False
        self.log.info(
            "{account}@{peer} on {listener}: {request}->{response} {outcome}"
            " in {ms:.1f} ms",
            account=account,
            peer=self.peer,
            listener=self.listener.endpoint,
            request=decoded.message.code,
            response=response.code,
            outcome=result,
            ms=seconds * 1000,
        )
        self.server.transactionDone(
            self, decoded.message.code, response.code, result, seconds
        )
        return Reply(data, close)

    def _ebUnexpected(self, failure, decoded, key):
        self._inflight = None
        self.server.failureLog.failed(
            failure,
            "answering %s" % (decoded.message.code,),
            "Unexpected error answering {code} from {peer}",
            code=decoded.message.code,
            peer=self.peer,
        )
        code = decoded.message.code
        if code in _OPERATION:
            response = self._refusal(
                code, decoded.message, "The library system is not available."
            )
            return Reply(self._encode(response, decoded))
        return Reply(close=True)

    def _wrapPrint(self, response):
        """
        Wrap print lines at the SC's printer width, as its 99 announced.
        """
        lines = getattr(response, "printLine", ())
        width = self.maxPrintWidth
        if not lines or not width or all(len(line) <= width for line in lines):
            return response
        wrapped = []
        for line in lines:
            wrapped.extend(textwrap.wrap(line, width) or [""])
        return attrs.evolve(response, printLine=wrapped)

    def _dispatch(self, message):
        """
        Call the C{sip_<MessageName>} method for a request; bound the
        adapter's answer and turn its failures into refusals.
        """
        handler = getattr(self, "sip_" + type(message).__name__)
        operation = _OPERATION.get(message.code)
        if operation is not None:
            if not self.ils.supports(operation):
                return succeed(
                    self._refusal(
                        message.code,
                        message,
                        "This service is not available at this library.",
                    )
                )
        try:
            d = handler(message)
        except Exception:
            d = fail()
        if operation is None:
            return d
        self._watch(d)
        return d.addErrback(self._ebILS, message, operation)

    def _watch(self, d):
        """
        Bound the adapter's answer C{d} by the server's ILS timeout.

        One timer per session, re-armed only when it fires while a request
        is in flight, instead of a timer per request: when it fires, a
        request older than the timeout is cancelled (the SC then gets a
        refusal); a younger one gets the timer back for the time it has
        left.
        """
        self._inflight = d
        self._inflightSince = self.clock.seconds()
        if self._watchdog is None:
            self._watchdog = self.clock.callLater(
                self.server.ilsTimeout, self._checkInflight
            )

    def _checkInflight(self):
        self._watchdog = None
        d = self._inflight
        if d is None:
            return
        age = self.clock.seconds() - self._inflightSince
        if age >= self.server.ilsTimeout:
            self._inflight = None
            d.cancel()
            if isinstance(getattr(d, "result", None), Deferred):
                # The adapter could not withdraw it (see
                # SerialWorker.submit): the SC gets its real answer.
                self.log.info(
                    "{ils} had already started a request for {account}@{peer}"
                    " when it timed out after {timeout} s; its real answer"
                    " will be sent",
                    ils=getattr(self.ils, "name", "ils"),
                    account=self.account.login if self.account else "-",
                    peer=self.peer,
                    timeout=self.server.ilsTimeout,
                )
        else:
            self._watchdog = self.clock.callLater(
                self.server.ilsTimeout - age, self._checkInflight
            )

    def connectionLost(self):
        """
        The transport is gone: stop the ILS timer. An adapter call in
        progress finishes on its own; its answer is dropped.
        """
        if self._watchdog is not None:
            if self._watchdog.active():
                self._watchdog.cancel()
            self._watchdog = None

    def _ebILS(self, failure, message, operation):
        if failure.check(UnsupportedOperation):
            text = "This service is not available at this library."
        elif failure.check(CancelledError):
            self.log.info(
                "{ils} did not answer {operation} for {account}@{peer} within"
                " {timeout} s",
                ils=getattr(self.ils, "name", "ils"),
                operation=operation,
                account=self.account.login if self.account else "-",
                peer=self.peer,
                timeout=self.server.ilsTimeout,
            )
            text = "The library system is not available. Please try again later."
        else:
            ils = getattr(self.ils, "name", "ils")
            self.server.failureLog.failed(
                failure,
                "%s %s" % (ils, operation),
                "{ils} failed {operation} for {account}@{peer}",
                ils=ils,
                operation=operation,
                account=self.account.login if self.account else "-",
                peer=self.peer,
            )
            text = "The library system is not available. Please try again later."
        return self._refusal(message.code, message, text)

    # -- refusals ---------------------------------------------------------

    def _refusal(self, code, request, text):
        """
        A well-formed negative answer to request C{code}: used when the
        adapter cannot do it, fails, or the request is malformed.

        @param request: The decoded request, to echo its identifiers, or
            L{None} when it could not be decoded.
        """
        self._refusedHere = True
        cls, negative = _REFUSALS[code]
        values = dict(negative, transactionDate=self.now(), screenMessage=(text,))
        echoed = dict(
            language=getattr(request, "language", None) or "000",
            institutionId=self.institution.id if self.institution else "",
            patronIdentifier=getattr(request, "patronIdentifier", None) or "",
            itemIdentifier=getattr(request, "itemIdentifier", None) or "",
        )
        names = _FIELD_NAMES[cls]
        for name, value in echoed.items():
            if name in names:
                values.setdefault(name, value)
        return cls(**values)

    # -- login and status -------------------------------------------------

    def login(self, account, location=None):
        """
        Make C{account} the SC's identity: used by a successful 93 and by
        transports that log in before SIP starts (telnet).
        """
        self.account = account
        self.institution = self.server.institutions[account.institution]
        self.ils = self.server.ilsFor(account.institution)
        self.terminal = Terminal(
            account=account.login,
            institution=account.institution,
            location=location or account.location,
            peer=self.peer,
        )
        self.loginFailures = 0

    def loginByAddress(self):
        """
        Log the SC in as the account bound to its address, if there is one
        (and the SC may log in as it: see L{ACSServer.loginRefusal
        <sip2acs.acs.server.ACSServer.loginRefusal>}): for SCs that never send
        a 93. A 93 still overrides it.

        @return: Whether the SC is now logged in.
        """
        account = self.server.accountForAddress(self.peer, self.certificateSubject)
        if account is None:
            return False
        self.login(account)
        self.log.info(
            "{login} logged in from {peer} by its address",
            login=account.login,
            peer=self.peer,
        )
        return True

    def configChanged(self):
        """
        The server's configuration was reloaded: carry on under the
        account's new settings, or, if the account was removed, log out
        (the SC's next request closes the connection).
        """
        if self.account is None:
            return
        account = self.server.accounts.get(self.account.login)
        if account is None or account.institution not in self.server.institutions:
            self.log.info(
                "account {login} is gone from the configuration; {peer} is logged out",
                login=self.account.login,
                peer=self.peer,
            )
            self.account = self.terminal = self.institution = self.ils = None
            return
        location = self.terminal.location if self.terminal else None
        self.login(account, location)

    def sip_Login(self, message):
        refused = codec.LoginResponse(ok=False)
        if message.uidAlgorithm != "0" or message.pwdAlgorithm != "0":
            self.log.info(
                "login from {peer} with unsupported algorithms; refused",
                peer=self.peer,
            )
            return succeed(self._loginFailed(refused))
        login = message.loginUserId or ""
        d = self.server.checkLogin(
            login,
            message.loginPassword or "",
            self.peer,
            listener=self.listener,
            subject=self.certificateSubject,
        )

        def checked(account):
            if account is None:
                self.log.info(
                    "{login} from {peer} refused",
                    login=self.server.describeLogin(login),
                    peer=self.peer,
                )
                return self._loginFailed(refused)
            self.login(account, message.locationCode)
            self.log.info("{login} logged in from {peer}", login=login, peer=self.peer)
            return codec.LoginResponse(ok=True)

        return d.addCallback(checked)

    def _loginFailed(self, response):
        """
        Count a refused login. A refused 93 also ends an earlier login on
        this connection: the SC is no longer who it said it was.
        """
        self.loginFailures += 1
        self.server.metrics.loginFailed(self.listener.endpoint)
        self.account = self.terminal = self.institution = self.ils = None
        if self.loginFailures >= MAX_LOGIN_FAILURES:
            self.log.info(
                "{peer}: {count} failed logins; closing",
                peer=self.peer,
                count=self.loginFailures,
            )
            return (response, True)
        return response

    def sip_SCStatus(self, message):
        if message.maxPrintWidth:
            self.maxPrintWidth = message.maxPrintWidth
        if self.institution is not None:
            institution, ils = self.institution, self.ils
        else:
            name = self._institutionBeforeLogin()
            institution, ils = self.server.institutions[name], self.server.ilsFor(name)
        supported = "".join(
            "Y" if ils.supports(operation.name) else "N" for operation in OPERATIONS
        )
        return succeed(
            codec.ACSStatus(
                onlineStatus=True,
                checkinOk=institution.checkin and ils.supports("checkin"),
                checkoutOk=institution.checkout and ils.supports("checkout"),
                renewalPolicy=institution.renewal and ils.supports("renew"),
                statusUpdateOk=institution.statusUpdate and ils.supports("blockPatron"),
                offlineOk=institution.offline,
                timeoutPeriod=round(institution.timeoutPeriod * 10),
                retriesAllowed=institution.retries,
                dateTimeSync=self.now(),
                protocolVersion="2.00",
                institutionId=institution.id,
                libraryName=institution.libraryName,
                supportedMessages=supported,
                terminalLocation=self.terminal.location if self.terminal else None,
            )
        )

    # -- patrons ----------------------------------------------------------

    def _pin(self, message):
        # 01 (Block Patron) has no patron password field.
        return getattr(message, "patronPassword", None) or None

    def _personal(self, patron, message):
        """
        Whether an answer about C{patron} may carry the patron's personal
        data (name, address, e-mail, phone, birth date, amounts owed, the
        items on loan): not when the request carried a PIN that is not
        valid, unless the account's C{personal-data-on-wrong-pin} allows
        it. A request without a PIN keeps today's answers.
        """
        if not patron.found:
            return False
        if self._pin(message) is None or patron.pinValid:
            return True
        return self.account.personalDataOnWrongPin

    def _patronFields(self, patron, message):
        """
        The identified fields shared by 24, 26 and 64 for C{patron}.
        """
        found = patron.found
        fields = dict(
            patronStatus=_patronStatus(patron.flags) if found else UNKNOWN_PATRON_STATUS,
            transactionDate=self.now(),
            institutionId=self.institution.id,
            patronIdentifier=patron.patronId or message.patronIdentifier or "",
            personalName=patron.name if self._personal(patron, message) else "",
            validPatron=found,
            screenMessage=patron.screenMessages,
            printLine=patron.printLines,
        )
        if found and self._pin(message) is not None:
            fields["validPatronPassword"] = bool(patron.pinValid)
        return fields

    def _money(self, patron, message):
        if not self._personal(patron, message):
            return {}
        return dict(
            currencyType=patron.currency or self.institution.currency,
            feeAmount=_money(patron.feeAmount or 0),
        )

    def sip_PatronStatus(self, message):
        d = self.ils.lookupPatron(
            self.terminal, message.patronIdentifier or "", self._pin(message)
        )

        def answer(patron):
            return codec.PatronStatusResponse(
                language=message.language or "000",
                **self._patronFields(patron, message),
                **self._money(patron, message),
            )

        return d.addCallback(answer)

    def _itemList(self, refs, fines=False):
        byTitle = self.account.itemList == "title"
        entries = []
        for ref in refs:
            text = (ref.title or ref.itemId) if byTitle else (ref.itemId or ref.title)
            if fines and ref.amount is not None:
                text = "%s %s" % (text, _money(ref.amount))
            entries.append(text)
        return entries

    def sip_PatronInformation(self, message):
        d = self.ils.lookupPatron(
            self.terminal, message.patronIdentifier or "", self._pin(message)
        )

        def answer(patron):
            lists = (
                patron.holdItems,
                patron.overdueItems,
                patron.chargedItems,
                patron.fineItems,
                patron.recallItems,
                patron.unavailableHoldItems,
            )
            fields = self._patronFields(patron, message)
            fields.update(self._money(patron, message))
            if patron.found and not self._personal(patron, message):
                # A wrong PIN: the patron's status, no personal data, no
                # item lists; the counts are "not supported" (four blanks).
                return codec.PatronInformationResponse(
                    language=message.language or "000", **fields
                )
            summary = message.summary or ""
            if patron.found and "Y" in summary[:6]:
                position = summary.index("Y")
                start = max(message.startItem or 1, 1)
                end = message.endItem or len(lists[position])
                entries = self._itemList(lists[position], fines=position == 3)
                name = FIELDS[SUMMARY_FIELDS[position]].name
                fields[name] = entries[start - 1 : end]
            if patron.found:
                fields.update(
                    holdItemsLimit=patron.holdItemsLimit,
                    overdueItemsLimit=patron.overdueItemsLimit,
                    chargedItemsLimit=patron.chargedItemsLimit,
                    feeLimit=_money(patron.feeLimit),
                    homeAddress=patron.homeAddress,
                    emailAddress=patron.email,
                    homePhoneNumber=patron.phone,
                    birthDate=patron.birthDate.strftime("%Y%m%d")
                    if patron.birthDate
                    else None,
                    patronClass=patron.patronClass,
                )
            return codec.PatronInformationResponse(
                language=message.language or "000",
                holdItemsCount=len(lists[0]),
                overdueItemsCount=len(lists[1]),
                chargedItemsCount=len(lists[2]),
                fineItemsCount=len(lists[3]),
                recallItemsCount=len(lists[4]),
                unavailableHoldsCount=len(lists[5]),
                **fields,
            )

        return d.addCallback(answer)

    def sip_BlockPatron(self, message):
        d = self.ils.blockPatron(
            self.terminal,
            message.patronIdentifier or "",
            bool(message.cardRetained),
            message.blockedCardMessage or "",
        )

        def answer(patron):
            self.log.info(
                "{account}@{peer} blocked patron {patron}",
                account=self.account.login,
                peer=self.peer,
                patron=codec.maskSecrets(message.patronIdentifier or ""),
            )
            return codec.PatronStatusResponse(
                language="000", **self._patronFields(patron, message)
            )

        return d.addCallback(answer)

    def sip_PatronEnable(self, message):
        d = self.ils.enablePatron(
            self.terminal, message.patronIdentifier or "", self._pin(message)
        )

        def answer(patron):
            fields = self._patronFields(patron, message)
            return codec.PatronEnableResponse(language=patron.language, **fields)

        return d.addCallback(answer)

    def sip_EndPatronSession(self, message):
        d = self.ils.endPatronSession(
            self.terminal, message.patronIdentifier or "", self._pin(message)
        )

        def answer(result):
            return codec.EndSessionResponse(
                endSession=result.ok,
                transactionDate=self.now(),
                institutionId=self.institution.id,
                patronIdentifier=message.patronIdentifier or "",
                screenMessage=result.screenMessages,
                printLine=result.printLines,
            )

        return d.addCallback(answer)

    def sip_FeePaid(self, message):
        amount = feeAmount(message.feeAmount or "")
        if amount is None:
            return succeed(
                self._refusal(message.code, message, "The amount is not valid.")
            )
        payment = Payment(
            patronId=message.patronIdentifier or "",
            amount=amount,
            pin=self._pin(message),
            currency=(message.currencyType or "").strip() or None,
            feeType=message.feeType or "01",
            paymentType=message.paymentType or "00",
            feeId=message.feeIdentifier,
            transactionId=message.transactionId,
        )
        d = self.ils.feePaid(self.terminal, payment)

        def answer(result):
            return codec.FeePaidResponse(
                paymentAccepted=result.accepted,
                transactionDate=self.now(),
                institutionId=self.institution.id,
                patronIdentifier=message.patronIdentifier or "",
                transactionId=result.transactionId,
                screenMessage=result.screenMessages,
                printLine=result.printLines,
            )

        return d.addCallback(answer)

    # -- items and circulation -------------------------------------------

    def sip_ItemInformation(self, message):
        d = self.ils.lookupItem(self.terminal, message.itemIdentifier or "")

        def answer(item):
            if not item.found:
                return codec.ItemInformationResponse(
                    circulationStatus="01",
                    securityMarker="01",
                    feeType="01",
                    transactionDate=self.now(),
                    itemIdentifier=message.itemIdentifier or "",
                    titleIdentifier="",
                    screenMessage=item.screenMessages,
                    printLine=item.printLines,
                )
            return codec.ItemInformationResponse(
                circulationStatus=item.circulationStatus,
                securityMarker=item.securityMarker,
                feeType=item.feeType,
                transactionDate=self.now(),
                holdQueueLength=item.holdQueueLength,
                dueDate=codec.formatDate(self._toWire(item.dueDate))
                if item.dueDate else None,
                recallDate=self._toWire(item.recallDate),
                holdPickupDate=self._toWire(item.holdPickupDate),
                itemIdentifier=item.itemId,
                titleIdentifier=item.title,
                owner=item.owner,
                currencyType=item.currency if item.feeAmount is not None else None,
                feeAmount=_money(item.feeAmount),
                mediaType=item.mediaType,
                permanentLocation=item.permanentLocation,
                currentLocation=item.currentLocation,
                itemProperties=item.properties,
                destinationLocation=item.destination,
                callNumber=item.callNumber,
                holdPatronId=item.holdPatronId,
                screenMessage=item.screenMessages,
                printLine=item.printLines,
            )

        return d.addCallback(answer)

    def sip_ItemStatusUpdate(self, message):
        d = self.ils.updateItemStatus(
            self.terminal, message.itemIdentifier or "", message.itemProperties or ""
        )

        def answer(result):
            return codec.ItemStatusUpdateResponse(
                itemPropertiesOk=result.ok,
                transactionDate=self.now(),
                itemIdentifier=message.itemIdentifier or "",
                titleIdentifier=result.title,
                itemProperties=result.properties,
                screenMessage=result.screenMessages,
                printLine=result.printLines,
            )

        return d.addCallback(answer)

    def _circulationResponse(self, cls, result, message):
        return cls(
            ok=result.ok,
            renewalOk=result.renewal,
            magneticMedia=result.magneticMedia,
            desensitize=result.desensitize if result.ok else False,
            transactionDate=self.now(),
            institutionId=self.institution.id,
            patronIdentifier=message.patronIdentifier or "",
            itemIdentifier=message.itemIdentifier or "",
            titleIdentifier=result.title or "",
            dueDate=codec.formatDate(self._toWire(result.dueDate))
            if result.ok and result.dueDate
            else "",
            feeType=result.feeType,
            securityInhibit=_yn(result.securityInhibit),
            currencyType=(result.currency or self.institution.currency)
            if result.feeAmount is not None
            else None,
            feeAmount=_money(result.feeAmount),
            mediaType=result.mediaType,
            itemProperties=result.itemProperties,
            transactionId=result.transactionId,
            screenMessage=result.screenMessages,
            printLine=result.printLines,
            **(
                dict(validPatron=_yn(result.patronValid), validPatronPassword=_yn(
                    result.pinValid))
                if cls is codec.CheckoutResponse
                else {}
            ),
        )

    def sip_Checkout(self, message):
        request = CheckoutRequest(
            patronId=message.patronIdentifier or "",
            itemId=message.itemIdentifier or "",
            pin=self._pin(message),
            scRenewalPolicy=bool(message.scRenewalPolicy),
            noBlock=bool(message.noBlock),
            nbDueDate=self._fromWire(message.nbDueDate),
            feeAcknowledged=bool(message.feeAcknowledged),
            cancel=bool(message.cancel),
            itemProperties=message.itemProperties,
            transactionDate=self._fromWire(message.transactionDate),
        )
        d = self.ils.checkout(self.terminal, request)
        return d.addCallback(
            lambda result: self._circulationResponse(
                codec.CheckoutResponse, result, message
            )
        )

    def sip_Renew(self, message):
        request = RenewRequest(
            patronId=message.patronIdentifier or "",
            itemId=message.itemIdentifier,
            titleId=message.titleIdentifier,
            pin=self._pin(message),
            thirdPartyAllowed=bool(message.thirdPartyAllowed),
            noBlock=bool(message.noBlock),
            nbDueDate=self._fromWire(message.nbDueDate),
            feeAcknowledged=bool(message.feeAcknowledged),
            itemProperties=message.itemProperties,
        )
        d = self.ils.renew(self.terminal, request)
        return d.addCallback(
            lambda result: self._circulationResponse(
                codec.RenewResponse, result, message
            )
        )

    def sip_RenewAll(self, message):
        d = self.ils.renewAll(
            self.terminal,
            message.patronIdentifier or "",
            self._pin(message),
            bool(message.feeAcknowledged),
        )

        def answer(result):
            return codec.RenewAllResponse(
                ok=result.ok,
                renewedCount=len(result.renewed),
                unrenewedCount=len(result.unrenewed),
                transactionDate=self.now(),
                institutionId=self.institution.id,
                renewedItems=result.renewed,
                unrenewedItems=result.unrenewed,
                screenMessage=result.screenMessages,
                printLine=result.printLines,
            )

        return d.addCallback(answer)

    def sip_Checkin(self, message):
        request = CheckinRequest(
            itemId=message.itemIdentifier or "",
            currentLocation=message.currentLocation or None,
            returnDate=self._fromWire(message.returnDate),
            noBlock=bool(message.noBlock),
            cancel=bool(message.cancel),
            itemProperties=message.itemProperties,
            transactionDate=self._fromWire(message.transactionDate),
        )
        d = self.ils.checkin(self.terminal, request)

        def answer(result):
            return codec.CheckinResponse(
                ok=result.ok,
                resensitize=result.resensitize,
                magneticMedia=result.magneticMedia,
                alert=result.alert,
                transactionDate=self.now(),
                institutionId=self.institution.id,
                itemIdentifier=message.itemIdentifier or "",
                permanentLocation=result.permanentLocation or "",
                titleIdentifier=result.title or "",
                sortBin=result.sortBin,
                patronIdentifier=result.patronId,
                mediaType=result.mediaType,
                itemProperties=result.itemProperties,
                collectionCode=result.collectionCode,
                callNumber=result.callNumber,
                destinationLocation=result.destination,
                alertType=result.alertType,
                holdPatronId=result.holdPatronId,
                holdPatronName=result.holdPatronName,
                screenMessage=result.screenMessages,
                printLine=result.printLines,
            )

        return d.addCallback(answer)

    def sip_Hold(self, message):
        mode = _HOLD_MODES.get(message.holdMode)
        if mode is None:
            return succeed(
                self._refusal(message.code, message, "Unknown hold mode.")
            )
        request = HoldRequest(
            mode=mode,
            patronId=message.patronIdentifier or "",
            itemId=message.itemIdentifier or None,
            titleId=message.titleIdentifier or None,
            pin=self._pin(message),
            expiration=self._fromWire(message.expirationDate),
            pickupLocation=message.pickupLocation or None,
            holdType=message.holdType or None,
            feeAcknowledged=bool(message.feeAcknowledged),
        )
        d = self.ils.hold(self.terminal, request)

        def answer(result):
            return codec.HoldResponse(
                ok=result.ok,
                available=result.available,
                transactionDate=self.now(),
                expirationDate=self._toWire(result.expiration),
                queuePosition=result.queuePosition,
                pickupLocation=result.pickupLocation,
                institutionId=self.institution.id,
                patronIdentifier=message.patronIdentifier or "",
                itemIdentifier=result.itemId,
                titleIdentifier=result.title,
                screenMessage=result.screenMessages,
                printLine=result.printLines,
            )

        return d.addCallback(answer)

