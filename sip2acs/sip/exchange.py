# -*- test-case-name: tests.test_sipclient -*-
"""
The kiosk's side of a SIP2 conversation, with no I/O (a "sans-IO" core).

Everything a SIP2 client decides lives here, and every client drives it:
the Twisted protocol (L{sip2acs.client.protocol}), the blocking connection
of the command-line tool (L{sip2acs.client.blocking}) and the benchmark.
They only move bytes and keep time.

    - L{FrameBuffer} cuts received bytes into frames (CR, LF or CRLF).
    - L{ClientCore} turns a request into the bytes to send (sequence
      number and checksum when error detection is on), and each frame
      received into either the finished L{Exchange} or a L{Resend} to
      write first: a 97 after a bad checksum, the request again after a
      96. It raises L{ProtocolError} when the answer cannot be used.
    - L{TelnetPrelude} answers the telnet login prompts some servers
      (Koha, Evergreen) put before SIP, with L{TelnetFilter} refusing the
      telnet options they ask for.

The errors a client reports are defined here too, the ones only a driver
can notice (L{NoAnswer}: time ran out; L{ConnectionFailed}: the connection
closed or broke) beside the ones the core raises (L{ProtocolError},
L{LoginRefused}), so that every driver raises the same classes.
"""

from __future__ import annotations

import re

import attrs

from sip2acs.sip import codec
from sip2acs.sip.spec import RESPONSE_TO

__all__ = [
    "MAX_FRAME",
    "TRAILER",
    "ConnectionFailed",
    "NoAnswer",
    "ProtocolError",
    "ResendRefused",
    "LoginRefused",
    "Exchange",
    "Resend",
    "ClientCore",
    "FrameBuffer",
    "TelnetFilter",
    "TelnetPrelude",
    "printable",
]

MAX_FRAME = 65536
"""
The most bytes a response may have before its terminator.
"""

TRAILER = re.compile(r"(?:AY([0-9]))?AZ([0-9A-Fa-f]{4})\Z")
"""
The error-detection trailer at the end of a message's text: the C{AY}
sequence digit (group 1, optional) and the C{AZ} checksum (group 2).
"""

_RESENDS = ("96", "97")


# -- errors -------------------------------------------------------------------


class ConnectionFailed(Exception):
    """
    The server cannot be reached, closed the connection or broke the
    protocol.
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

    def __init__(self, message: str, frame: bytes | None = None) -> None:
        ConnectionFailed.__init__(self, message)
        self.frame = frame


class ResendRefused(ProtocolError):
    """
    The server answered 96 (request SC resend) to the request and again to
    its resend: it cannot read the request, so it did not act on it.
    """


class LoginRefused(Exception):
    """
    The telnet login prelude was refused.
    """


# -- values -------------------------------------------------------------------


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
    requestMessage: codec.Message | str
    sent: bytes = attrs.field(repr=False)
    received: bytes
    decoded: codec.Decoded
    warnings: tuple[str, ...] = ()
    expected: str | None = None

    @property
    def unexpected(self) -> bool:
        """
        Whether the response is not the one the request calls for.
        """
        return self.expected is not None and self.decoded.message.code != self.expected


@attrs.frozen
class Resend:
    """
    What L{ClientCore.frameReceived} asks for before the exchange can end:
    write C{data} and wait for the next frame.

    @ivar data: The bytes to write, terminator included.
    """

    data: bytes


def printable(data: bytes, secret: str | None = None) -> str:
    """
    The last 200 characters of C{data} for an error message, with
    C{secret} (a password) replaced by C{***}.
    """
    text = data.decode("latin-1")
    if secret:
        text = text.replace(secret, "***")
    return text[-200:]


# -- framing ------------------------------------------------------------------


_TERMINATOR = re.compile(rb"[\r\n]")


class FrameBuffer:
    """
    Received bytes, cut into frames: CR, CRLF and LF all end a frame, and
    empty frames (the LF of a CRLF, NUL padding) are skipped.
    """

    def __init__(self, peer: str = "the server") -> None:
        """
        @param peer: The server, for messages (C{host:port}).
        """
        self.peer = peer
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        """
        Add received bytes.
        """
        self._buffer += data

    def next(self) -> bytes | None:
        """
        Take the next complete frame.

        @return: The frame without its terminator, or L{None} when no
            complete one has arrived yet.
        @raise ProtocolError: More than L{MAX_FRAME} bytes came without a
            terminator.
        """
        while True:
            match = _TERMINATOR.search(self._buffer)
            if match is None:
                break
            frame = self._buffer[: match.start()]
            self._buffer = self._buffer[match.end() :]
            if frame.strip(b"\x00"):
                return frame
        if len(self._buffer) > MAX_FRAME:
            raise ProtocolError(
                "%s sent %d bytes without a terminator" % (self.peer, len(self._buffer))
            )
        return None

    def drain(self) -> bytes:
        """
        Take every byte received and not yet taken as a frame (for the
        telnet prelude, which comes before any frame).
        """
        data, self._buffer = self._buffer, b""
        return data

    def __len__(self) -> int:
        return len(self._buffer)


# -- requests and responses ---------------------------------------------------


@attrs.define
class _InFlight:
    """
    The request L{ClientCore} waits for an answer to.
    """

    request: codec.Message | str
    name: str
    code: str
    data: bytes
    sequence: int | None
    warnings: list[str] = attrs.Factory(list)
    askedResend: bool = False
    resent: bool = False


class ClientCore:
    """
    The state of a SIP2 client connection between requests: the sequence
    number, the request in flight (one at a time) and what to do with
    each frame that answers it.

    With error detection on, a request carries the next sequence number
    and a checksum; the response's checksum is verified (a bad one gets a
    97, once) and a missing trailer or another sequence number becomes a
    warning. A 96 from the server gets the request sent again, once.

    @ivar sequence: The C{AY} digit of the next request when error
        detection is on (0 to 9, wrapping).
    """

    def __init__(
        self,
        encoding: str = "ascii",
        delimiter: str = "|",
        errorDetection: bool = False,
        terminator: bytes = b"\r",
        sequence: int = 0,
        peer: str = "the server",
    ) -> None:
        """
        @param errorDetection: Send C{AY}/C{AZ} and check the server's.
        @param terminator: What ends each request (C{b"\\r"} by the spec).
        @param sequence: The first sequence digit (taken modulo 10).
        @param peer: The server, for messages (C{host:port}).
        """
        self.encoding = encoding
        self.delimiter = delimiter
        self.errorDetection = errorDetection
        self.terminator = terminator
        self.sequence = sequence % 10
        self.peer = peer
        self._inFlight: _InFlight | None = None

    @property
    def busy(self) -> bool:
        """
        Whether a request waits for its answer.
        """
        return self._inFlight is not None

    def _nextSequence(self) -> int:
        sequence = self.sequence
        self.sequence = (self.sequence + 1) % 10
        return sequence

    def frameFor(self, request: codec.Message | str) -> tuple[bytes, int | None]:
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
            trailer = TRAILER.search(request)
            if trailer is not None:
                given = trailer.group(1)
                return data, int(given) if given is not None else None
            if not self.errorDetection:
                return data, None
            if request[:2] in _RESENDS:
                data += b"AZ"
                return data + codec.checksum(data).encode("ascii"), None
            sequence = self._nextSequence()
            data += b"AY%dAZ" % (sequence,)
            return data + codec.checksum(data).encode("ascii"), sequence
        if isinstance(request, (codec.RequestACSResend, codec.RequestSCResend)):
            encoded: bytes = codec.encode(
                request,
                checksum=self.errorDetection,
                encoding=self.encoding,
                delimiter=self.delimiter,
            )
            return encoded, None
        if not self.errorDetection:
            encoded = codec.encode(request, encoding=self.encoding, delimiter=self.delimiter)
            return encoded, None
        sequence = self._nextSequence()
        encoded = codec.encode(
            request, sequence=sequence, encoding=self.encoding, delimiter=self.delimiter
        )
        return encoded, sequence

    def send(self, request: codec.Message | str, name: str | None = None) -> bytes:
        """
        Start an exchange.

        @param request: A L{codec.Message}, or the text of a raw message.
        @param name: The request's name for the L{Exchange}; its code by
            default.
        @return: The bytes to write, terminator included.
        @raise RuntimeError: A request is already in flight.
        """
        if self._inFlight is not None:
            raise RuntimeError("a request is already in flight")
        data, sequence = self.frameFor(request)
        code: str = request[:2] if isinstance(request, str) else request.code
        self._inFlight = _InFlight(request, name or code, code, data, sequence)
        return data + self.terminator

    def abandon(self) -> None:
        """
        Forget the request in flight (it timed out, or the connection is
        gone).
        """
        self._inFlight = None

    def frameReceived(self, frame: bytes) -> Exchange | Resend:
        """
        Take one frame answering the request in flight.

        @return: The finished L{Exchange}, or a L{Resend} to write before
            waiting for the next frame.
        @raise ProtocolError: The frame is no usable answer; the exchange
            is over.
        @raise RuntimeError: No request is in flight.
        """
        current = self._inFlight
        if current is None:
            raise RuntimeError("a frame arrived with no request in flight")
        try:
            step = self._answer(current, frame)
        except ProtocolError:
            self._inFlight = None
            raise
        if isinstance(step, Exchange):
            self._inFlight = None
        return step

    def _answer(self, current: _InFlight, frame: bytes) -> Exchange | Resend:
        try:
            decoded: codec.Decoded = codec.decode(frame, self.encoding, self.delimiter)
        except codec.ChecksumError as e:
            if current.askedResend:
                raise ProtocolError(
                    "%s sent a bad checksum again after 97: %s"
                    % (self.peer, codec.maskFrame(frame, self.encoding)),
                    frame,
                ) from e
            current.warnings.append(
                "the response's checksum did not verify; sent 97 (request ACS resend)"
            )
            current.askedResend = True
            resend, _ = self.frameFor(codec.RequestACSResend())
            return Resend(resend + self.terminator)
        except codec.SIP2Error as e:
            raise ProtocolError(
                "%s sent something that is not a SIP2 response (%s): %s"
                % (self.peer, e.reason, codec.maskFrame(frame, self.encoding, self.delimiter)),
                frame,
            ) from e
        code = current.code
        if decoded.message.code == "96" and code not in _RESENDS:
            if current.resent:
                raise ResendRefused(
                    "%s answered 96 (request SC resend) twice: it"
                    " cannot read the request" % (self.peer,),
                    frame,
                )
            current.warnings.append("the server asked for the request again (96); resent it")
            current.resent = True
            current.askedResend = False
            return Resend(current.data + self.terminator)
        return self._finish(current, frame, decoded)

    def _finish(self, current: _InFlight, frame: bytes, decoded: codec.Decoded) -> Exchange:
        code, sequence, warnings = current.code, current.sequence, current.warnings
        if self.errorDetection and code not in _RESENDS:
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
            request=current.name,
            requestMessage=current.request,
            sent=current.data,
            received=frame,
            decoded=decoded,
            warnings=tuple(warnings),
            expected=expected,
        )


# -- the telnet prelude -------------------------------------------------------


_IAC, _DONT, _DO, _WONT, _WILL, _SB, _SE = 255, 254, 253, 252, 251, 250, 240


class TelnetFilter:
    """
    Removes telnet commands from the bytes of a login prelude and refuses
    every option the server asks for (C{DO} gets C{WONT}, C{WILL} gets
    C{DONT}); C{IAC IAC} is a literal 255, NUL bytes are dropped.
    Commands split across reads are handled.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._subnegotiation = False

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
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
_LOGIN_BAD = re.compile(rb"(?i)[^\r\n]*(?:invalid|incorrect|denied|fail|refused)[^\r\n]*[\r\n]")


class TelnetPrelude:
    """
    The telnet login prelude, from the kiosk's side: wait for the
    C{login:} prompt, send the user, wait for C{password:}, send the
    password, and expect C{Login OK}. Lines are sent with CRLF; telnet
    commands from the server are removed and refused.

    @ivar waitingFor: What the prelude waits for, for a driver's timeout
        message (C{telnet login prompt}, C{telnet password prompt},
        C{telnet login verdict}); L{None} once logged in.
    @ivar rest: Once logged in, the bytes that followed the verdict: the
        start of the SIP conversation.
    """

    def __init__(
        self, user: str, password: str, encoding: str = "ascii", peer: str = "the server"
    ) -> None:
        self.user = user
        self.password = password
        self.encoding = encoding
        self.peer = peer
        self.waitingFor: str | None = "telnet login prompt"
        self.rest = b""
        self._telnet = TelnetFilter()
        self._seen = bytearray()

    @property
    def done(self) -> bool:
        """
        Whether the server said C{Login OK}.
        """
        return self.waitingFor is None

    def _line(self, text: str) -> bytes:
        return text.encode(self.encoding, "replace") + b"\r\n"

    def dataReceived(self, data: bytes) -> bytes:
        """
        Take bytes from the server.

        @return: The bytes to send back (telnet refusals, the user and
            password lines), possibly empty.
        @raise LoginRefused: The server said the login is wrong.
        """
        text, out = self._telnet.feed(data)
        self._seen.extend(text)
        seen = self._seen
        for stage, prompt, answer, after in (
            ("telnet login prompt", _LOGIN_PROMPT, self.user, "telnet password prompt"),
            ("telnet password prompt", _PASSWORD_PROMPT, self.password, "telnet login verdict"),
        ):
            if self.waitingFor != stage:
                continue
            match = prompt.search(seen)
            if match is None:
                return out
            del seen[: match.end()]
            out += self._line(answer)
            self.waitingFor = after
        if self.waitingFor == "telnet login verdict":
            match = _LOGIN_OK.search(seen)
            if match is not None:
                self.rest = bytes(seen[match.end() :])
                self.waitingFor = None
            elif _LOGIN_BAD.search(seen) or _LOGIN_PROMPT.search(seen):
                raise LoginRefused(
                    "%s refused the telnet login: %r" % (self.peer, self.received())
                )
        return out

    def received(self) -> str:
        """
        What the server sent that the prelude has not used yet, for an
        error message (the password masked).
        """
        return printable(bytes(self._seen), self.password)

    def failed(self, error: ConnectionFailed) -> ConnectionFailed:
        """
        C{error}, of the same class, saying what was received.
        """
        return type(error)("%s (received %r)" % (error, self.received()))
