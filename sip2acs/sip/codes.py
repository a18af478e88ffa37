# -*- test-case-name: tests.test_client -*-
"""
What the codes of SIP 2.00 mean, as data: the code tables of
C{shared/spec/SIP2.md} section 4, for tools that show messages to people
(C{sip2acs client}, log viewers).

    >>> CIRCULATION_STATUS["08"]
    'waiting on hold shelf'
    >>> flagsSet("  Y           ", PATRON_STATUS)
    ['recall privileges denied']
    >>> supportedMessages("YYYYYYYYYNYNNNYN")[1]  # doctest: +NORMALIZE_WHITESPACE
    ['37/38 fee paid', '19/20 item status update', '25/26 patron enable',
     '15/16 hold', '65/66 renew all']

Nothing here is used to decide anything on the server; the server's own
tables are in L{sip2acs.sip.spec}.
"""

from collections.abc import Iterable, Mapping

from sip2acs.sip.spec import OPERATIONS

__all__ = [
    "CIRCULATION_STATUS",
    "SECURITY_MARKER",
    "FEE_TYPE",
    "PAYMENT_TYPE",
    "MEDIA_TYPE",
    "HOLD_MODE",
    "HOLD_TYPE",
    "ALERT_TYPE",
    "LANGUAGE",
    "SC_STATUS",
    "ALGORITHM",
    "PATRON_STATUS",
    "SUPPORTED_MESSAGES",
    "SUMMARY",
    "FLAGS",
    "VENDOR_FIELDS",
    "flagsSet",
    "supportedMessages",
    "codeFor",
]

CIRCULATION_STATUS = {
    "01": "other",
    "02": "on order",
    "03": "available",
    "04": "charged (on loan)",
    "05": "charged; not to be recalled until earliest recall date",
    "06": "in process",
    "07": "recalled",
    "08": "waiting on hold shelf",
    "09": "waiting to be re-shelved",
    "10": "in transit between library locations",
    "11": "claimed returned",
    "12": "lost",
    "13": "missing",
}
"""
Circulation status, 18 (spec 4.1). C{01} is also what servers send for an
unknown item.
"""

SECURITY_MARKER = {
    "00": "other",
    "01": "none",
    "02": "3M Tattle-Tape security strip",
    "03": "3M Whisper Tape",
}
"""
Security marker, 18 (spec 4.2).
"""

FEE_TYPE = {
    "01": "other/unknown",
    "02": "administrative",
    "03": "damage",
    "04": "overdue",
    "05": "processing",
    "06": "rental",
    "07": "replacement",
    "08": "computer access charge",
    "09": "hold fee",
}
"""
Fee type: fixed in 18 and 37, C{BT} in 12 and 30 (spec 4.3).
"""

PAYMENT_TYPE = {
    "00": "cash",
    "01": "VISA",
    "02": "credit card",
}
"""
Payment type, 37 (spec 4.4). Other values are local agreements.
"""

MEDIA_TYPE = {
    "000": "other",
    "001": "book",
    "002": "magazine",
    "003": "bound journal",
    "004": "audio tape",
    "005": "video tape",
    "006": "CD/CDROM",
    "007": "diskette",
    "008": "book with diskette",
    "009": "book with CD",
    "010": "book with audio tape",
}
"""
Media type, C{CK} (spec 4.5).
"""

HOLD_MODE = {
    "+": "add the patron to the hold queue",
    "-": "remove the patron from the hold queue",
    "*": "change the existing hold",
}
"""
Hold mode, 15 (spec 4.6).
"""

HOLD_TYPE = {
    "1": "other",
    "2": "any copy of a title",
    "3": "a specific copy of a title",
    "4": "any copy at a single branch or sub-location",
}
"""
Hold type, C{BY} (spec 4.6).
"""

ALERT_TYPE = {
    "00": "unknown",
    "01": "hold for this library",
    "02": "hold for another branch",
    "03": "hold for interlibrary loan",
    "04": "send to another branch (transfer)",
    "98": "non-standard (Koha: data corrupted)",
    "99": "other / special handling",
}
"""
Alert type, C{CV} in 10 (spec 4.10, a 3M extension).
"""

LANGUAGE = {
    "000": "unknown (default)",
    "001": "English",
    "002": "French",
    "003": "German",
    "004": "Italian",
    "005": "Dutch",
    "006": "Swedish",
    "007": "Finnish",
    "008": "Spanish",
    "009": "Danish",
    "010": "Portuguese",
    "011": "Canadian-French",
    "012": "Norwegian",
    "013": "Hebrew",
    "014": "Japanese",
    "015": "Russian",
    "016": "Arabic",
    "017": "Polish",
    "018": "Greek",
    "019": "Chinese",
    "020": "Korean",
    "021": "North American Spanish",
    "022": "Tamil",
    "023": "Malay",
    "024": "United Kingdom",
    "025": "Icelandic",
    "026": "Belgian",
    "027": "Taiwanese",
}
"""
Language, 23/24/26/63/64 (spec 4.11).
"""

SC_STATUS = {
    "0": "SC unit OK",
    "1": "SC printer out of paper",
    "2": "SC about to shut down",
}
"""
SC status code, 99 (spec 4.13).
"""

ALGORITHM = {"0": "not encrypted (plain text)"}
"""
UID and PWD algorithm, 93: anything but C{0} is agreed out of band.
"""

PATRON_STATUS = (
    "charge privileges denied",
    "renewal privileges denied",
    "recall privileges denied",
    "hold privileges denied",
    "card reported lost",
    "too many items charged",
    "too many items overdue",
    "too many renewals",
    "too many claims of items returned",
    "too many items lost",
    "excessive outstanding fines",
    "excessive outstanding fees",
    "recall overdue",
    "too many items billed",
)
"""
The 14 positions of the patron status field, 24/26/64 (spec 4.8): C{Y}
means the condition is true.
"""

SUPPORTED_MESSAGES = tuple(operation.label for operation in OPERATIONS)
"""
The 16 positions of C{BX}, 98 (spec 4.9): the labels of
L{sip2acs.sip.spec.OPERATIONS}.
"""

SUMMARY = (
    ("holds", "hold items", "AS"),
    ("overdue", "overdue items", "AT"),
    ("charged", "charged items", "AU"),
    ("fines", "fine items", "AV"),
    ("recalls", "recall items", "BU"),
    ("unavailable", "unavailable holds", "CD"),
)
"""
The defined positions of the summary field of 63 (spec 4.7): a short
name, the list asked for, and the field of 64 that carries it. Positions
6 to 9 are undefined in 2.00.
"""

FLAGS = {
    # 98 ACS status (spec 4.12)
    "onlineStatus": {"Y": "ACS in service", "N": "ACS off line"},
    "checkinOk": {"Y": "SC may check in", "N": "SC may not check in"},
    "checkoutOk": {"Y": "SC may check out", "N": "SC may not check out"},
    "renewalPolicy": {"Y": "SC may renew", "N": "SC may not renew"},
    "statusUpdateOk": {
        "Y": "SC may block patrons",
        "N": "SC may not block patrons",
    },
    "offlineOk": {
        "Y": "ACS accepts off-line (no block) transactions",
        "N": "no off-line transactions",
    },
    # responses
    "ok": {"1": "ok", "0": "refused or failed"},
    "itemPropertiesOk": {"1": "stored", "0": "not stored"},
    "renewalOk": {
        "Y": "the item was already out to this patron (a renewal)",
        "N": "not a renewal",
    },
    "magneticMedia": {"Y": "magnetic media", "N": "not magnetic media", "U": "unknown"},
    "desensitize": {
        "Y": "desensitize (disarm) the item",
        "N": "do not desensitize",
        "U": "unknown (treated as N)",
    },
    "resensitize": {
        "Y": "resensitize (re-arm) the item",
        "N": "do not resensitize",
        "U": "unknown",
    },
    "alert": {"Y": "alert: divert the item or sound an alarm", "N": "no alert"},
    "available": {"Y": "available now", "N": "not available now"},
    "endSession": {"Y": "session ended", "N": "session not ended"},
    "paymentAccepted": {"Y": "payment accepted", "N": "payment refused"},
    "validPatron": {"Y": "patron known", "N": "patron unknown"},
    "validPatronPassword": {"Y": "PIN correct", "N": "PIN wrong"},
    "securityInhibit": {
        "Y": "ignore the item's security status",
        "N": "use the item's security status",
    },
    # requests
    "cardRetained": {"Y": "the card is kept in the machine", "N": "card not retained"},
    "noBlock": {"Y": "already done off line: do not refuse", "N": "on line"},
    "scRenewalPolicy": {
        "Y": "SC renews items already out to the patron",
        "N": "SC does not renew",
    },
    "thirdPartyAllowed": {
        "Y": "may renew an item out to another patron",
        "N": "only the patron's own items",
    },
    "feeAcknowledged": {"Y": "the patron agreed to pay the fee", "N": "fee not agreed"},
    "cancel": {"Y": "cancels the opposite failed transaction", "N": "no"},
}
"""
The meaning of one-character flags, by the field's name in
L{sip2acs.sip.spec} (the 98 flags, ok, Y/N/U fields...).
"""

VENDOR_FIELDS = {
    "PA": "patron expiration date (Evergreen) / PAC access type (Koha)",
    "PI": "patron internet access profile",
    "XI": "patron internal id (Evergreen)",
    "ZY": "patron type (jsip2)",
    "PT": "patron group (Voyager)",
    "MA": "bib id (Voyager)",
    "MB": "ISBN (Voyager)",
    "MC": "LCCN (Voyager)",
    "FU": "borrower type (FOLIO)",
    "FV": "borrower type description (FOLIO)",
    "OR": "register login (Envisionware)",
    "RN": "check number (Envisionware)",
}
"""
Names of vendor extension fields that L{sip2acs.sip.spec.FIELDS} does not
know (spec 3.3).
"""


def flagsSet(text: str, names: Iterable[str]) -> list[str]:
    """
    The names of the positions of C{text} that hold C{Y}.

    @param text: A patron status (14 characters) or any Y/blank field.
    @param names: One name per position, e.g. L{PATRON_STATUS}.
    @rtype: L{list} of L{str}
    """
    return [name for flag, name in zip(text, names, strict=False) if flag.upper() == "Y"]


def supportedMessages(bx: str) -> tuple[list[str], list[str]]:
    """
    Split a C{BX} value into the messages it says are and are not
    supported. Positions missing from a short C{BX} count as unsupported.

    @param bx: The 16 C{Y}/C{N} characters of 98.
    @return: C{(supported, unsupported)}, two lists of names from
        L{SUPPORTED_MESSAGES}.
    """
    supported: list[str] = []
    unsupported: list[str] = []
    for position, name in enumerate(SUPPORTED_MESSAGES):
        flag = bx[position : position + 1].upper()
        (supported if flag == "Y" else unsupported).append(name)
    return supported, unsupported


def codeFor(table: Mapping[str, str], text: str) -> str | None:
    """
    Find a code by its code or by its meaning, for command-line options
    such as C{--fee-type overdue}.

    @param table: A code table, e.g. L{FEE_TYPE}.
    @param text: A code (C{04}, or C{4} for a two-digit table) or a
        meaning, case-insensitive, with spaces, hyphens or underscores
        (C{credit-card}); a prefix of one meaning is enough.
    @return: The code, or L{None} when nothing or more than one code
        matches.
    """
    if text in table:
        return text
    width = len(next(iter(table)))
    if text.isdigit() and len(text) < width:
        padded = text.zfill(width)
        if padded in table:
            return padded
    wanted = text.lower().replace("-", " ").replace("_", " ").strip()
    if not wanted:
        return None
    exact = [code for code, name in table.items() if name.lower() == wanted]
    if exact:
        return exact[0]
    matches = [code for code, name in table.items() if name.lower().startswith(wanted)]
    return matches[0] if len(matches) == 1 else None
