# -*- test-case-name: tests.test_session -*-
"""
The ACS session: everything one SC connection remembers, and the frame
pipeline that answers it.

The contract with a transport (raw TCP, telnet, TLS) is one method: the
transport hands each complete frame, without its terminator, to
L{ACSSession.frameReceived} and gets a Deferred that fires with a L{Reply}
(it never fails): bytes to write, if any, and whether to close afterwards.
The session knows nothing about sockets; it is driven by frames in and
replies out (sans I/O), and a transport calls L{ACSSession.connectionLost}
when it goes.

Where each part lives:

  - here: per-connection state, the frame pipeline (check, dispatch,
    encode, log and count each answer), login and reload
    (L{ACSSession.configChanged});
  - L{sip2acs.acs.frames}: the checks before dispatch (decoding, error
    detection AY/AZ, resend 97/96, replay of retransmitted requests, bad
    frames in a row, the login gate);
  - L{sip2acs.acs.wire}: how responses are framed for the account;
  - L{sip2acs.acs.dispatch}: the adapter's support, the ILS watchdog
    (L{sip2acs.acs.watchdog}) and adapter failures as refusals;
  - L{sip2acs.acs.handlers}: one handler per request, translating it for
    the L{IILS <sip2acs.ils.interfaces.IILS>} adapter and back;
  - L{sip2acs.acs.refusals}: the negative answer to each request;
  - L{sip2acs.acs.tracing}: frame tracing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, cast

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from sip2acs.acs.auth import (
    LOGGED_IN,
    REFUSED,
    ISIPAccount,
    SIPAddress,
    SIPPassword,
    bindsAddresses,
)
from sip2acs.acs.behaviour import Behaviour
from sip2acs.acs.dispatch import Dispatcher
from sip2acs.acs.frames import FrameChecks, Reply, Request
from sip2acs.acs.handlers.common import MAX_FEE_AMOUNT, feeAmount
from sip2acs.acs.refusals import ADAPTER_OPERATIONS, refusal
from sip2acs.acs.tracing import traceFrame
from sip2acs.acs.wire import WireFormat, wrapPrint
from sip2acs.ils.interfaces import IILS
from sip2acs.ils.values import Terminal
from sip2acs.ils.zones import HOST_ZONE, inZone, wallTime
from sip2acs.quicklog import QuickLogger
from sip2acs.sip import codec
from sip2acs.sip.success import succeeded

if TYPE_CHECKING:
    # For the annotations only: the server, whose module names this one in
    # its own annotations, and the config classes, which acs/ must not
    # import at run time (tests/test_layers.py).
    from sip2acs.acs.server import ACSServer
    from sip2acs.config import AccountConfig, InstitutionConfig, ListenerConfig

__all__ = ["ACSSession", "MAX_FEE_AMOUNT", "Reply", "feeAmount", "outcome"]

MAX_LOGIN_FAILURES = 3


def outcome(response: codec.Message) -> str:
    """
    Whether a response says the request succeeded: C{"ok"} or C{"refused"},
    by the lenient reading of L{sip2acs.sip.success.succeeded} (a success
    unless the response shows failure).

    Lookups count as refused when the patron or item is unknown; a 98 as
    refused when it says the ACS is off line.
    """
    return "ok" if succeeded(response, lenient=True) else "refused"


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

    log = QuickLogger()

    def __init__(
        self,
        server: ACSServer,
        listener: ListenerConfig,
        peer: str | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        """
        @param server: The L{ACSServer <sip2acs.acs.server.ACSServer>} holding
            accounts, institutions and adapters.
        @param listener: The L{ListenerConfig <sip2acs.config.ListenerConfig>}
            the SC connected to.
        @param peer: The SC's address, for logs and the adapter.
        @param clock: An L{IReactorTime} provider; the server's by default.
        """
        # One logger for the session's life: each read of the class
        # attribute makes a new one, and a line is logged per request.
        self.log = self.log
        self.server = server
        self.listener = listener
        self.peer = peer
        self.clock = clock if clock is not None else server.reactor
        self.account: AccountConfig | None = None
        self.terminal: Terminal | None = None
        self.institution: InstitutionConfig | None = None
        self.ils: IILS | None = None
        self.loginFailures = 0
        self.maxPrintWidth: int | None = None
        self.certificateSubject: str | None = None
        self.frames = FrameChecks(self)
        self.messages = 0
        self.lastMessageAt: float | None = None
        self._dispatcher = Dispatcher(self)
        self._refusedHere = False
        self._wire: tuple[AccountConfig | None, WireFormat] = (None, WireFormat())
        # now()'s last answer: (second, zone, wall time); a second's
        # requests share it.
        self._now: tuple[int, Any, datetime] | None = None

    # -- helpers ----------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        """
        Whether a 93 (or the telnet prelude) has logged this SC in.
        """
        return self.account is not None

    @property
    def wire(self) -> WireFormat:
        """
        How the SC's frames are encoded: its account's framing, or the
        default before login.
        """
        account, wire = self._wire
        if account is not self.account:
            # Made again only when the account changes (a login, a reload):
            # an account's settings do not change in place.
            wire = WireFormat.forAccount(self.account)
            self._wire = (self.account, wire)
        return wire

    def institutionBeforeLogin(self) -> str:
        """
        The id of the institution an SC that has not logged in is served
        by: the listener's, else the first configured one (whose policy a
        99 before login reports).
        """
        return self.listener.institution or next(iter(self.server.institutions))

    def zone(self) -> tzinfo:
        """
        The time zone of the SC's institution (before login, of the
        institution a 99 reports): the zone of the blank-zone dates on the
        wire and of every time given to and taken from the adapter.
        """
        institution = self.institution
        if institution is None:
            institution = self.server.institutions[self.institutionBeforeLogin()]
        return getattr(institution, "zone", HOST_ZONE)

    def now(self) -> datetime:
        """
        The current wall time in the institution's zone (naive, as sent on
        the wire), from the injected clock.
        """
        seconds = int(self.clock.seconds())
        zone = self.zone()
        cached = self._now
        if cached is not None and cached[0] == seconds and cached[1] is zone:
            return cached[2]
        value = datetime.fromtimestamp(seconds, zone).replace(tzinfo=None)
        self._now = (seconds, zone, value)
        return value

    def fromWire(self, value: datetime | None) -> datetime | None:
        """
        A date from a request, for the adapter: aware, in the institution's
        zone (a blank zone is the institution's; a zone letter is
        converted).
        """
        return inZone(value, self.zone())

    def toWire(self, value: datetime | None) -> datetime | None:
        """
        A date from the adapter, for a response: the institution's wall
        time, sent with a blank zone.
        """
        return wallTime(value, self.zone())

    def traceFrame(self, direction: str, frame: bytes) -> None:
        """
        Log one frame if the account's tracing is on (see
        L{sip2acs.acs.tracing.traceFrame}).

        @param direction: C{"in"} (from the SC) or C{"out"}.
        @param frame: The bytes of the frame.
        """
        traceFrame(self.log, self.account, self.peer, direction, frame)

    def shape(self, response: codec.Message) -> codec.Message:
        """
        C{response} as the SC's account may receive it: its hidden fields
        left out and its screen messages rewritten (see
        L{Behaviour.shape <sip2acs.acs.behaviour.Behaviour.shape>}); every
        answer the session sends passes here.
        """
        behaviour = getattr(self.account, "behaviour", None)
        if not isinstance(behaviour, Behaviour):
            return response
        shaped: codec.Message = behaviour.shape(response)
        return shaped

    def refuse(self, code: str, request: Any, text: str) -> codec.Message:
        """
        A well-formed negative answer to request C{code} (see
        L{sip2acs.acs.refusals.refusal}), counted as a refusal whatever it
        says: used when the adapter cannot do it, fails, or the request is
        malformed.

        @param request: The decoded request, to echo its identifiers, or
            L{None} when it could not be decoded.
        """
        self._refusedHere = True
        institutionId = self.institution.id if self.institution else ""
        return refusal(code, request, text, self.now(), institutionId)

    # -- the frame pipeline -----------------------------------------------

    def frameReceived(self, frame: bytes) -> Deferred[Reply]:
        """
        Answer one frame.

        @param frame: One message without its terminator.
        @type frame: L{bytes}
        @return: A Deferred that fires with a L{Reply}; it never fails.
        @rtype: L{Deferred}
        """
        started = time.perf_counter()
        self._refusedHere = False
        checked = self.frames.check(frame, self.wire)
        if isinstance(checked, Reply):
            return succeed(checked)
        d = self._dispatcher.dispatch(checked.decoded.message)
        return d.addCallbacks(
            self._cbAnswered,
            self._ebUnexpected,
            callbackArgs=(checked, started),
            errbackArgs=(checked,),
        )

    def _cbAnswered(
        self,
        result: codec.Message | tuple[codec.Message, bool],
        request: Request,
        started: float,
    ) -> Reply:
        self._dispatcher.answered()
        decoded = request.decoded
        response, close = result if isinstance(result, tuple) else (result, False)
        response = self.shape(response)
        data = self.wire.encode(wrapPrint(response, self.maxPrintWidth), decoded)
        self.frames.answered(data, request)
        self.messages += 1
        self.lastMessageAt = self.clock.seconds()
        seconds = time.perf_counter() - started
        account = self.account.login if self.account else "-"
        # A refusal the session made itself (the service is not supported,
        # the library system failed or was too slow) is a refusal, even
        # where its message has no flag that says so (24, 26, 64).
        answered = "refused" if self._refusedHere else outcome(response)
        self._refusedHere = False
        self.log.info(
            "{account}@{peer} on {listener}: {request}->{response} {outcome}"
            " in {ms:.1f} ms",
            account=account,
            peer=self.peer,
            listener=self.listener.endpoint,
            request=decoded.message.code,
            response=response.code,
            outcome=answered,
            ms=seconds * 1000,
        )
        self.server.transactionDone(
            self, decoded.message.code, response.code, answered, seconds
        )
        return Reply(data, close)

    def _ebUnexpected(self, failure: Failure, request: Request) -> Reply:
        self._dispatcher.answered()
        decoded = request.decoded
        self.server.failureLog.failed(
            failure,
            "answering %s" % (decoded.message.code,),
            "Unexpected error answering {code} from {peer}",
            code=decoded.message.code,
            peer=self.peer,
        )
        code = decoded.message.code
        if code in ADAPTER_OPERATIONS:
            response = self.refuse(
                code, decoded.message, "The library system is not available."
            )
            return Reply(self.wire.encode(self.shape(response), decoded))
        return Reply(close=True)

    def connectionLost(self) -> None:
        """
        The transport is gone: stop the ILS timer. An adapter call in
        progress finishes on its own; its answer is dropped.
        """
        self._dispatcher.stop()

    # -- login ------------------------------------------------------------

    def login(self, account: AccountConfig, location: str | None = None) -> None:
        """
        Make C{account} the SC's identity, once L{authenticate} checked
        it.
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

    def authenticate(
        self,
        credentials: SIPPassword | SIPAddress,
        location: str | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> Deferred[bool | None]:
        """
        Log the SC in through the server's portal (see L{sip2acs.acs.auth}):
        the one path of the 93, the telnet prelude and address login.

        A refused login is logged and counted (L{loginFailed}), except an
        address login that finds no account, which is no failed login.

        @param credentials: L{SIPPassword <sip2acs.acs.auth.SIPPassword>}
            or L{SIPAddress <sip2acs.acs.auth.SIPAddress>}.
        @param location: The SC's location (the 93's C{CP}), or L{None}
            for the account's.
        @param wanted: Called once the check is over; if it returns
            C{False} (the connection is closing) the outcome is dropped:
            the SC is neither logged in nor counted.
        @return: A Deferred firing with C{True} when the SC is now logged
            in, C{False} when it was refused, L{None} when C{wanted} said
            no; failing when the check could not be made.
        """

        def loggedIn(result: tuple[object, AccountConfig, Callable[[], None]]) -> bool | None:
            if wanted is not None and not wanted():
                return None
            _, account, _ = result
            self.login(account, location)
            self.log.info(
                LOGGED_IN[credentials.via], login=account.login, peer=self.peer
            )
            return True

        def refused(failure: Failure) -> bool | None:
            failure.trap(UnauthorizedLogin)
            if wanted is not None and not wanted():
                return None
            text = REFUSED.get(credentials.via)
            if text is None:
                return False
            # Only password logins (93, telnet) have a line in REFUSED.
            password = cast(SIPPassword, credentials)
            self.log.info(
                text,
                login=self.server.describeLogin(password.username),
                peer=self.peer,
            )
            self.loginFailed(password.username)
            return False

        d = self.server.portal.login(credentials, None, ISIPAccount)
        return d.addCallbacks(loggedIn, refused)

    def loginByAddress(self) -> bool:
        """
        Log the SC in as the account bound to its address, if there is one
        (and the SC may log in as it: see L{AddressChecker
        <sip2acs.acs.auth.AddressChecker>}): for SCs that never send a 93.
        A 93 still overrides it.

        @return: Whether the SC is now logged in (the address check answers
            at once).
        """
        if not bindsAddresses(self.server.portal):
            # No account is bound to an address: the portal would refuse,
            # silently. (Each connection asks, twice under TLS.)
            return False
        answers: list[object] = []
        credentials = SIPAddress(self.peer, self.certificateSubject, self.listener)
        self.authenticate(credentials).addBoth(lambda answer: answers.append(answer))
        [answer] = answers
        if isinstance(answer, Failure):
            answer.raiseException()
        return bool(answer)

    def loginFailed(self, login: str | None = None) -> bool:
        """
        Count a refused login. A refused login also ends an earlier login
        on this connection: the SC is no longer who it said it was.

        @param login: The login id the SC gave, if any: counted for its
            account when one has it (see L{Metrics.accountLoginFailed
            <sip2acs.acs.metrics.Metrics.accountLoginFailed>}).

        @return: Whether the SC failed too often now
            (L{tooManyLoginFailures}): its connection must be closed.
        """
        self.loginFailures += 1
        self.server.metrics.loginFailed(self.listener.endpoint)
        known = login if login is not None and login in self.server.accounts else None
        self.server.metrics.accountLoginFailed(known)
        self.account = self.terminal = self.institution = self.ils = None
        if self.tooManyLoginFailures:
            self.log.info(
                "{peer}: {count} failed logins; closing",
                peer=self.peer,
                count=self.loginFailures,
            )
        return self.tooManyLoginFailures

    @property
    def tooManyLoginFailures(self) -> bool:
        """
        Whether the SC failed to log in too often in a row: the transport
        must close its connection.
        """
        return self.loginFailures >= MAX_LOGIN_FAILURES

    # -- reload -----------------------------------------------------------

    def configChanged(self) -> None:
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
