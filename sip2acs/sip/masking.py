# -*- test-case-name: tests.test_codec -*-
"""
SIP2 frames and identifiers made fit for logs and display: secrets (and,
on request, personal data) masked, control characters escaped. Pure
Python, no Twisted.

L{maskFrame} masks the fields of a whole frame, even one that does not
decode; L{maskSecrets} cuts an identifier at a secret field whose
delimiter the SC lost. What is masked: L{SENSITIVE} (defined with the
message classes, whose C{repr} hides them too) by default, and
L{PERSONAL} on request.
"""

from collections.abc import Collection, Iterable

from sip2acs.sip.messages import FIXED_LENGTH, SENSITIVE

__all__ = ["PERSONAL", "SENSITIVE", "maskFrame", "maskSecrets"]

PERSONAL = frozenset({"AE", "BD", "BE", "BF", "PB", "DA"})
"""
Field ids whose values are a patron's personal data: name, address, e-mail,
phone, birth date, the name of the patron a hold is for.
"""


def maskFrame(
    frame: bytes,
    encoding: str = "ascii",
    delimiter: str = "|",
    masked: Collection[str] = SENSITIVE,
    anywhere: bool = False,
) -> str:
    """
    A frame as text for logs and display, with the values of the fields in
    C{masked} replaced by C{***} and control characters escaped.

    Fields are found by their id on the raw text, so that a frame that
    does not decode (shorter than its fixed part, an unknown command, a
    foreign delimiter) is masked too; see L{_maskFields}.

    @param frame: The bytes of one message (any message, even a malformed
        one).
    @param masked: Field ids to mask: L{SENSITIVE} (passwords and PINs) by
        default, C{SENSITIVE | PERSONAL} to hide personal data too, or an
        empty set for everything in clear.
    @param anywhere: Mask from every occurrence of an id of C{masked}, even
        inside a word: for frames from an SC, which may have lost a
        delimiter (C{AAP0001AD1234|}) and carry little free text.
    @rtype: L{str}
    """
    text = frame.decode(encoding, "replace")
    if masked:
        text = _maskFields(text, delimiter, masked, anywhere)
    return "".join(
        c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else c
        for c in text
    )


def maskSecrets(text: str, masked: Iterable[str] = SENSITIVE) -> str:
    """
    An identifier from an SC (a login id, a patron id) as text for logs:
    cut at the first id of C{masked} it contains, which is a secret field
    whose delimiter the SC lost (C{P0001AD1234}, C{kiosk1CO<password>}).

    @type text: L{str}
    @rtype: L{str}
    """
    cut = min((i for i in (text.find(fid) for fid in masked) if i >= 0), default=-1)
    return text if cut < 0 else text[: cut + 2] + "***"


def _maskFields(
    text: str, delimiter: str, masked: Collection[str], anywhere: bool = False
) -> str:
    """
    Replace the value of every field of C{masked} in C{text} by C{***}.

    Where fields start is not trusted to the fixed part alone: an id of
    C{masked} counts as starting a field at the very start of the text (a
    frame without a command identifier), right after the fixed part (or
    right after the command identifier, when the command is unknown, the
    text is shorter than its fixed part or that part holds the delimiter)
    and wherever it follows anything but a letter: a delimiter, another
    punctuation character (a foreign delimiter), a digit or blank ending a
    fixed part of the wrong length; in a frame without its fixed part
    (unknown command, cut short, delimiter inside it), which may have lost
    delimiters too, anywhere. Its value is masked to the next
    delimiter, or to the end of the frame (checksum included) when there
    is none, as with a foreign delimiter. This masks too much now and then
    (an item barcode with C{-AD} in it), never too little.
    """
    start = 2
    fixed = FIXED_LENGTH.get(text[:2])
    # A frame that does not even have its fixed part (an unknown command, a
    # cut frame) may have lost delimiters too: there, an id counts wherever
    # it appears, even after a letter.
    broken = True
    if fixed is not None and len(text) >= 2 + fixed:
        if delimiter not in text[2 : 2 + fixed]:
            start = 2 + fixed
            broken = False
    anywhere = anywhere or broken
    pieces = []
    done = 0
    position = 0
    while True:
        position = _nextMasked(text, position, start, masked, anywhere)
        if position < 0:
            break
        value = position + 2
        end = text.find(delimiter, value)
        if end < 0:
            end = len(text)
        if end > value:
            pieces.append(text[done:value])
            pieces.append("***")
            done = end
        position = end
    pieces.append(text[done:])
    return "".join(pieces)


def _nextMasked(
    text: str, position: int, start: int, masked: Collection[str], anywhere: bool = False
) -> int:
    """
    The index of the next id of C{masked} at or after C{position} that
    starts a field (see L{_maskFields}), or -1. With C{anywhere}, every
    occurrence counts.
    """
    for index in range(position, len(text) - 1):
        if text[index : index + 2] in masked and (
            anywhere or index in (0, start) or not text[index - 1].isalpha()
        ):
            return index
    return -1
