# -*- test-case-name: tests.test_handlers -*-
"""
How a session's responses look on the wire: the account's encoding,
delimiter and terminator, error detection (AY/AZ mirrored or required),
the 96 asking for a resend, and print lines wrapped at the SC's width.

Before login (no account) frames are ASCII with C{|} and CR, and error
detection is C{auto}: mirrored.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import attrs

from sip2acs.sip import codec

if TYPE_CHECKING:
    # For the annotations only: acs/ must not import config/ at run time
    # (tests/test_layers.py).
    from sip2acs.config import AccountConfig

__all__ = ["WireFormat", "wrapPrint"]


@attrs.frozen
class WireFormat:
    """
    The framing one account's SCs speak.

    @ivar encoding: The character encoding of frames.
    @ivar delimiter: The field delimiter.
    @ivar terminator: The bytes ending each response.
    @ivar errorDetection: C{"auto"} (mirror the request), C{"required"}
        or C{"off"}.
    """

    encoding: str = "ascii"
    delimiter: str = "|"
    terminator: bytes = b"\r"
    errorDetection: str = "auto"

    @classmethod
    def forAccount(cls, account: AccountConfig | None) -> WireFormat:
        """
        The framing of C{account}, or the default one before login
        (C{account} L{None}).
        """
        if account is None:
            return cls()
        return cls(
            account.encoding, account.delimiter, account.terminator, account.errorDetection
        )

    def encode(self, message: codec.Message, decoded: codec.Decoded | None = None) -> bytes:
        """
        Encode a response, mirroring the request's error detection (or as
        the account requires), and add the terminator.

        @param decoded: The L{codec.Decoded} request it answers, or L{None}.
        """
        mode = self.errorDetection
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
                encoding=self.encoding,
                delimiter=self.delimiter,
            )
            + self.terminator
        )

    def resendRequest(self, checksummed: bool) -> bytes:
        """
        A 96, asking the SC to send its last request again.

        @param checksummed: Whether the frame it answers carried a
            checksum.
        """
        mode = self.errorDetection
        checksum = mode != "off" and (checksummed or mode == "required")
        return codec.encode(codec.RequestSCResend(), checksum=checksum) + self.terminator


def wrapPrint(response: Any, width: int | None) -> Any:
    """
    Wrap a response's print lines at the SC's printer width (as its 99
    announced), if any is longer.
    """
    lines = getattr(response, "printLine", ())
    if not lines or not width or all(len(line) <= width for line in lines):
        return response
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(textwrap.wrap(line, width) or [""])
    return attrs.evolve(response, printLine=wrapped)
