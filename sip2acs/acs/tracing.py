"""
Frame tracing: one log line per frame in and out, for the accounts whose
C{trace} setting asks for it, with secrets (and personal data) masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from sip2acs.sip import codec

if TYPE_CHECKING:
    # For the annotations only: acs/ must not import config/ at run time
    # (tests/test_layers.py).
    from sip2acs.config import AccountConfig

__all__ = ["traceFrame"]


def traceFrame(
    log: Logger, account: AccountConfig | None, peer: str | None, direction: str, frame: bytes
) -> None:
    """
    Log one frame if C{account}'s tracing is on, with passwords and PINs
    masked, and personal data too unless tracing is C{full}.

    @param log: The logger to log to (the session's).
    @param account: The L{AccountConfig <sip2acs.config.AccountConfig>}
        the SC logged in as, or L{None} (nothing is traced before login).
    @param peer: The SC's address.
    @param direction: C{"in"} (from the SC) or C{"out"}.
    @param frame: The bytes of the frame.
    """
    if account is None or account.trace == "off":
        return
    masked = codec.SENSITIVE
    if account.trace != "full":
        masked = codec.SENSITIVE | codec.PERSONAL
    log.info(
        "trace {account}@{peer} {direction} {frame}",
        account=account.login,
        peer=peer,
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
