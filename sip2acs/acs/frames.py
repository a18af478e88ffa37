# -*- test-case-name: tests.test_session,tests.test_handlers -*-
"""
The checks a frame passes before its request reaches a handler: decoding,
error detection (AY/AZ), resend (97 and 96), replay of retransmitted
requests, the count of bad frames in a row, and the login gate.

L{FrameChecks.check} answers what it can itself (a 96, the previous
response again, a refusal of a malformed request, a close) with a
L{Reply}, and hands back a L{Request} to dispatch otherwise. The session
tells it each response it sends (L{FrameChecks.answered}), which is what a
97 or a retransmission gets again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from twisted.logger import Logger

from sip2acs.acs.refusals import ADAPTER_OPERATIONS
from sip2acs.acs.wire import WireFormat
from sip2acs.sip import codec

if TYPE_CHECKING:
    # For the annotations only: the session module imports this one.
    from sip2acs.acs.session import ACSSession

__all__ = ["MAX_BAD_FRAMES", "FrameChecks", "Reply", "Request"]

MAX_BAD_FRAMES = 5
"""
Bad frames in a row (unreadable, a bad or missing required checksum, a
malformed request) after which the connection is closed.
"""


@attrs.frozen
class Reply:
    """
    What the transport must do after a frame: write C{data} (if any), then
    close the connection if C{close}.
    """

    data: bytes | None = None
    close: bool = False


@attrs.frozen
class Request:
    """
    A frame that passed the checks: its decoded request, to dispatch.

    @ivar decoded: The L{codec.Decoded} frame.
    @ivar key: What identifies a retransmission of it (the frame itself
        when it carries a checksum), or L{None}.
    """

    decoded: codec.Decoded
    key: bytes | None


class FrameChecks:
    """
    The frame checks of one session, and what they remember: the last
    response (for 97 and retransmissions), the request it answered, and
    the bad frames in a row.

    @ivar session: The L{ACSSession <sip2acs.acs.session.ACSSession>}, for
        its log, peer, login state, listener and refusals.
    """

    def __init__(self, session: ACSSession) -> None:
        self.session = session
        self.badFrames = 0
        self.lastResponse: bytes | None = None
        self.lastRequestKey: bytes | None = None

    @property
    def log(self) -> Logger:
        return self.session.log

    def check(self, frame: bytes, wire: WireFormat) -> Reply | Request:
        """
        Check one frame.

        @param frame: One message without its terminator.
        @param wire: The SC's framing (L{ACSSession.wire
            <sip2acs.acs.session.ACSSession.wire>}).
        @return: The L{Reply} when the checks answer the frame themselves,
            else the L{Request} to dispatch.
        """
        session = self.session
        try:
            decoded = codec.decode(frame, encoding=wire.encoding, delimiter=wire.delimiter)
        except codec.ChecksumError:
            self.log.info("bad checksum from {peer}; asking for a resend", peer=session.peer)
            return self._badFrame(wire.resendRequest(True))
        except codec.MalformedMessage as e:
            if e.code is not None and session.authenticated and e.code in ADAPTER_OPERATIONS:
                self.log.info(
                    "malformed {code} from {peer}: {reason}",
                    code=e.code,
                    peer=session.peer,
                    reason=e.reason,
                )
                response = session.refuse(e.code, None, "Malformed request.")
                return self._badFrame(wire.encode(response))
            return self._garbage(frame, e, wire)
        except codec.SIP2Error as e:
            return self._garbage(frame, e, wire)

        message = decoded.message
        if message.spec.request is False:
            error = codec.UnknownMessage(
                "a response (%s) sent to the ACS" % (message.code,), message.code
            )
            return self._garbage(frame, error, wire)
        if isinstance(message, codec.RequestACSResend):
            self.badFrames = 0
            if self.lastResponse is None:
                return Reply(wire.resendRequest(decoded.checksum is not None))
            return Reply(self.lastResponse)
        if wire.errorDetection == "required" and decoded.checksum is None:
            self.log.info(
                "{peer} sent {code} without the required checksum",
                peer=session.peer,
                code=message.code,
            )
            return self._badFrame(wire.resendRequest(True))
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
                    peer=session.peer,
                    code=message.code,
                    sequence=decoded.sequence,
                )
                return Reply(self.lastResponse)

        if not session.authenticated and not self._allowedBeforeLogin(message):
            self.log.info(
                "{peer} sent {code} before logging in; closing",
                peer=session.peer,
                code=message.code,
            )
            return Reply(close=True)
        return Request(decoded, key)

    def answered(self, data: bytes, request: Request) -> None:
        """
        Remember the response sent to C{request}: a 97, or a
        retransmission of the same frame, gets it again.
        """
        self.lastResponse = data
        self.lastRequestKey = request.key

    def _allowedBeforeLogin(self, message: codec.Message) -> bool:
        """
        Whether an SC that has not logged in may send C{message}: a 93, and
        a 99 where the listener allows it.
        """
        if isinstance(message, codec.Login):
            return True
        return isinstance(message, codec.SCStatus) and bool(
            self.session.listener.statusBeforeLogin
        )

    def _badFrame(self, data: bytes) -> Reply:
        self.badFrames += 1
        close = self.badFrames >= MAX_BAD_FRAMES
        if close:
            self.log.info(
                "{peer} sent {count} bad frames in a row; closing",
                peer=self.session.peer,
                count=self.badFrames,
            )
        return Reply(data, close)

    def _garbage(self, frame: bytes, error: codec.SIP2Error, wire: WireFormat) -> Reply:
        """
        A frame that is not a SIP2 request: before login the connection is
        closed; after login the SC is asked to resend, and closed after
        several in a row.
        """
        self.log.info(
            "unreadable frame from {peer}: {reason} ({size} bytes)",
            peer=self.session.peer,
            reason=error.reason,
            size=len(frame),
        )
        if not self.session.authenticated:
            return Reply(close=True)
        return self._badFrame(wire.resendRequest(False))
