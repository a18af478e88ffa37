# -*- test-case-name: tests.test_telnet -*-
"""
The telnet-style login transport (C{transport = "telnet"}, commonly port
8023), as Evergreen's and Koha's SIPServer serve it: the server prints
C{login: } and C{password: }, checks the SC account (through
L{ACSSession.authenticate <sip2acs.acs.session.ACSSession.authenticate>},
as a 93 is), then prints
C{Login OK.  Initiating SIP} and the connection carries SIP2 exactly as a
raw port does, already logged in (no 93 needed). A wrong login gets
C{Invalid login} and a new prompt; the third, or the listener's login
timeout, closes the connection.

This is not NVT telnet, and C{twisted.conch.telnet.TelnetTransport} is not
used: it holds back a bare CR until the next byte (a kiosk that ends a
message with CR would wait forever for the answer), and its login waits
for ECHO negotiation that kiosks never answer. Instead, during the login
prelude only:

  - CR, LF, CRLF and CR NUL all end a line; empty lines are ignored;
  - telnet commands (C{IAC ...}) are removed: a request to enable an
    option (C{DO}/C{WILL}) is refused once (C{WONT}/C{DONT}), anything
    else is ignored; nothing waits for the peer's answer;
  - the login and password are taken as sent, except for those bytes
    (no other trimming: passwords may start or end with punctuation);
  - the whole prelude, telnet commands included, may take at most
    L{PRELUDE_BUDGET} bytes (three tries at the longest login and password
    fit with room to spare); beyond, the connection is closed. Its time is
    bounded by the listener's login timeout, which no byte extends.

After C{Login OK} the bytes go to L{SIP2Protocol} unchanged.
"""

from typing import TYPE_CHECKING

from twisted.logger import Logger
from twisted.python.failure import Failure

from sip2acs.acs.auth import SIPPassword
from sip2acs.acs.session import ACSSession
from sip2acs.transports.protocol import SIP2Protocol

if TYPE_CHECKING:
    # For the type checker only: transports/ must not import config/ at
    # run time (tests/test_layers.py).
    from sip2acs.config import ListenerConfig

__all__ = ["TelnetLoginProtocol"]

IAC = 255
DONT = 254
DO = 253
WONT = 252
WILL = 251
SB = 250
SE = 240

_REFUSAL = {DO: WONT, WILL: DONT}

MAX_CREDENTIAL = 255
"""
Longest login or password accepted; a longer line closes the connection.
"""

PRELUDE_BUDGET = 4096
"""
Most bytes the login prelude (login and password lines, telnet commands,
empty lines) may take on one connection before the connection is closed.
"""


def _text(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


class TelnetLoginProtocol(SIP2Protocol):
    """
    One SC connection on a telnet-login port: the login prelude, then the
    raw SIP2 protocol.

    @ivar loggedIn: Whether the prelude is over.
    """

    log = Logger()

    LOGIN_PROMPT = b"login: "
    PASSWORD_PROMPT = b"password: "
    LOGIN_OK = b"Login OK.  Initiating SIP\r\n"
    INVALID_LOGIN = b"Invalid login\r\n"

    def __init__(self, session: ACSSession, listener: "ListenerConfig") -> None:
        SIP2Protocol.__init__(self, session, listener)
        self.loggedIn = False
        self._checking = False
        self._user: str | None = None
        self._line = bytearray()
        self._telnetState: str | None = None
        # The verb of the option command being read (set with the state "option").
        self._verb = 0
        self._pending = b""
        self._refused: set[tuple[int, int]] = set()
        self._preludeBytes = 0

    def connectionMade(self) -> None:
        SIP2Protocol.connectionMade(self)
        self.transport.write(self.LOGIN_PROMPT)

    def dataReceived(self, data: bytes) -> None:
        if self.loggedIn:
            return SIP2Protocol.dataReceived(self, data)
        if self._closing or self._startOfConnection(data):
            return
        if self._checking:
            # The SC did not wait for the answer; keep what it sent.
            self._pending += data
            if len(self._pending) > self.MAX_LENGTH:
                self.lineLengthExceeded(self._pending)
            return
        self._prelude(data)

    def _prelude(self, data: bytes) -> None:
        """
        Read login and password lines from C{data}, removing telnet
        commands; once the password line is complete, check the login and
        keep the rest of C{data} for after the answer.
        """
        line = self._line
        for index, byte in enumerate(data):
            self._preludeBytes += 1
            if self._preludeBytes > PRELUDE_BUDGET:
                self._overBudget()
                return
            state = self._telnetState
            if state is None:
                if byte == IAC:
                    self._telnetState = "command"
                elif byte in (13, 10):
                    if line:
                        text = bytes(line)
                        line.clear()
                        self._lineReceived(text)
                        rest = data[index + 1 :]
                        if self.loggedIn:
                            # The check answered at once.
                            if rest:
                                SIP2Protocol.dataReceived(self, rest)
                            return
                        if self._checking or self._closing:
                            self._pending += rest
                            return
                elif byte != 0:
                    line.append(byte)
                    if len(line) > MAX_CREDENTIAL:
                        self.lineLengthExceeded(bytes(line))
                        return
            elif state == "command":
                if byte == IAC:
                    # An escaped 0xFF data byte.
                    self._telnetState = None
                    line.append(IAC)
                elif byte in (DO, DONT, WILL, WONT):
                    self._telnetState, self._verb = "option", byte
                elif byte == SB:
                    self._telnetState = "subnegotiation"
                else:
                    # NOP, GA, AYT, ...: nothing to do.
                    self._telnetState = None
            elif state == "option":
                self._telnetState = None
                self._negotiate(self._verb, byte)
            elif state == "subnegotiation":
                if byte == IAC:
                    self._telnetState = "subnegotiation-iac"
            elif state == "subnegotiation-iac":
                self._telnetState = None if byte == SE else "subnegotiation"

    def _overBudget(self) -> None:
        """
        The prelude took more than L{PRELUDE_BUDGET} bytes without a login:
        log it and close.
        """
        self.log.info(
            "telnet login prelude from {peer} went over {budget} bytes; closing",
            peer=self.session.peer,
            budget=PRELUDE_BUDGET,
        )
        self.close()

    def _busy(self) -> bool:
        return self._inFlight or self._checking

    def _negotiate(self, verb: int, option: int) -> None:
        """
        Refuse, once per option, what the peer asks us to enable or offers
        to enable; acknowledge nothing else (we are already in the
        disabled state, so a DONT/WONT needs no answer).
        """
        answer = _REFUSAL.get(verb)
        if answer is None or (verb, option) in self._refused:
            return
        self._refused.add((verb, option))
        self.transport.write(bytes((IAC, answer, option)))

    def _lineReceived(self, line: bytes) -> None:
        if self._user is None:
            self._user = _text(line)
            self.transport.write(self.PASSWORD_PROMPT)
            return
        user, self._user = self._user, None
        self._checking = True
        session = self.session
        credentials = SIPPassword(
            user,
            _text(line),
            session.peer,
            self.listener,
            session.certificateSubject,
            via="telnet",
        )
        d = session.authenticate(credentials, wanted=self._stillOpen)
        d.addCallback(self._cbChecked)
        d.addErrback(self._ebChecked)

    def _stillOpen(self) -> bool:
        return bool(self.connected) and not self._closing

    def _cbChecked(self, ok: bool | None) -> None:
        self._checking = False
        pending, self._pending = self._pending, b""
        if ok is None:
            # The connection closed during the check.
            return
        if not ok:
            self.transport.write(self.INVALID_LOGIN)
            if self.session.tooManyLoginFailures or self._stopping:
                self.close()
                return
            self.transport.write(self.LOGIN_PROMPT)
            if pending:
                self._prelude(pending)
            if self._readClosed:
                self._continue()
            return
        self.loggedIn = True
        self.transport.write(self.LOGIN_OK)
        if self._stopping:
            self.close()
            return
        self.setTimeout(self.listener.idleTimeout)
        if pending:
            SIP2Protocol.dataReceived(self, pending)
        if self._readClosed:
            self._continue()

    def _ebChecked(self, failure: Failure) -> None:
        self._checking = False
        self.log.failure(
            "checking a telnet login from {peer} failed; closing",
            failure,
            peer=self.session.peer,
        )
        if self.connected and not self._closing:
            self.close()
