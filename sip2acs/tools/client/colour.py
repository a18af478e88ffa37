# -*- test-case-name: tests.test_client_staff -*-
"""
Colour for C{sip2acs client}, in plain ANSI codes: L{wantColour} decides
(C{--color}, C{NO_COLOR}, a terminal or not), L{Painter} paints.

The convention of U{https://no-color.org}: with C{--color=auto} (the
default) colour is used only when the stream is a terminal and
C{NO_COLOR} is unset or empty; C{--color=always} and C{--color=never}
override both.
"""

from collections.abc import Mapping
from typing import IO

__all__ = ["COLOR_MODES", "Painter", "isTerminal", "wantColour"]

COLOR_MODES = ("auto", "always", "never")

_STYLES = {
    "ok": "32",  # green
    "refused": "31",  # red
    "warning": "33",  # yellow
    "heading": "1",  # bold
}
_RESET = "\x1b[0m"


def isTerminal(stream: IO[str]) -> bool:
    """
    Whether C{stream} is a terminal (a closed one is not).
    """
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def wantColour(mode: str, stream: IO[str], environ: Mapping[str, str]) -> bool:
    """
    Whether to colour what is written to C{stream}.

    @param mode: C{auto}, C{always} or C{never} (C{--color}).
    @param environ: The environment, for C{NO_COLOR}.
    """
    if mode == "always":
        return True
    if mode == "never" or environ.get("NO_COLOR"):
        return False
    return isTerminal(stream)


class Painter:
    """
    Wraps text in the ANSI codes of a style, or leaves it as it is when
    colour is off.

    @ivar enabled: Whether colour is on.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def paint(self, text: str, style: str) -> str:
        """
        C{text} in C{style}: C{ok} (green), C{refused} (red), C{warning}
        (yellow) or C{heading} (bold).
        """
        if not self.enabled or not text:
            return text
        return "\x1b[%sm%s%s" % (_STYLES[style], text, _RESET)
