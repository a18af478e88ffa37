# -*- test-case-name: tests.test_xmlconfig -*-
"""
The TOML writer: a converted configuration written as a commented sip2acs
TOML file (L{toTOML}), and the TOML strings, values and keys it is made of
(L{tomlString}, L{tomlValue}, L{tomlKey}).

It writes anything that has the shape of L{Converted}; the Koha/Evergreen
XML import (L{sip2acs.config.xml}) gives it its L{Conversion
<sip2acs.config.xml.Conversion>}. Its names are importable from
L{sip2acs.config.xml} too.
"""

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeAlias

__all__ = ["Converted", "toTOML", "tomlString", "tomlValue", "tomlKey"]

TOMLValue: TypeAlias = "str | bool | int | float | list[TOMLValue] | dict[str, TOMLValue]"
"""
A value of a TOML table the writer writes: a string, boolean or number,
an array of them, or a table (inline, or a sub-table for the keys of
L{SUBTABLES}).
"""

SUBTABLES = {"institution": ("account-defaults",)}
"""
The keys of each kind of table whose table value is written as a
sub-table (C{[institution.account-defaults]}) right after it, rather than
inline.
"""

TableKey: TypeAlias = tuple[str, int]
"""
A TOML table of a conversion: its kind (C{listener}, C{institution},
C{account}) and its index among the tables of that kind.
"""


class Converted(Protocol):
    """
    A configuration converted from another format, as L{toTOML} writes it.
    """

    @property
    def source(self) -> str:
        """
        The path of the file it was converted from.
        """

    @property
    def data(self) -> Mapping[str, Sequence[Mapping[str, TOMLValue]]]:
        """
        The TOML tables (C{listener}, C{institution}, C{account}), each a
        list of key/value tables.
        """

    @property
    def warnings(self) -> Sequence[str]:
        """
        What was not carried over, or was changed: written first, as
        comments.
        """

    @property
    def notes(self) -> Mapping[TableKey, tuple[str, Mapping[str, str]]]:
        """
        C{(table, index) -> (origin, {key: comment})}: where each table
        came from and the comment for some of its keys.
        """


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def tomlString(text: str) -> str:
    """
    A TOML basic string holding C{text}.
    """
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04X" % (ord(ch),))
        else:
            out.append(ch)
    return '"%s"' % ("".join(out),)


def tomlValue(value: object) -> str:
    """
    A TOML value: string, boolean, integer, float, array or inline table.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("%r has no TOML form here" % (value,))
        return repr(value)
    if isinstance(value, str):
        return tomlString(value)
    if isinstance(value, (list, tuple)):
        return "[%s]" % (", ".join(tomlValue(v) for v in value),)
    if isinstance(value, dict):
        return "{%s}" % (
            ", ".join("%s = %s" % (tomlKey(k), tomlValue(v)) for k, v in value.items()),
        )
    raise TypeError("%r has no TOML form" % (value,))


def tomlKey(key: str) -> str:
    """
    A TOML key: bare when it can be, quoted otherwise.
    """
    return key if _BARE_KEY.match(key) else tomlString(key)


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())


_HEADINGS = {
    "listener": "Listeners (from <listeners>)",
    "institution": "Institutions (from <institutions>)",
    "account": "SC accounts (from <accounts>)",
}


def toTOML(conversion: Converted) -> str:
    """
    The conversion as a commented sip2acs TOML file: L{loadConfig
    <sip2acs.config.loadConfig>} reads it back to an equal configuration.
    Warnings come first, as comments; passwords are hashes.

    @param conversion: A L{Converted}, such as L{Conversion
        <sip2acs.config.xml.Conversion>}.
    @rtype: L{str}
    """
    name = os.path.basename(conversion.source)
    lines = [
        "# sip2acs configuration converted from %s by `sip2acs config convert`." % (name,),
        "# Check it with `sip2acs config check`; tap.md explains every key.",
        "# Passwords are hashes of those in %s: the clear text is not in this file." % (name,),
        "#",
    ]
    if conversion.warnings:
        lines.append("# Not carried over, or changed (review before going live):")
        for warning in conversion.warnings:
            lines.append(_comment("- " + warning))
    else:
        lines.append("# Everything in %s was carried over." % (name,))
    for kind in ("listener", "institution", "account"):
        tables = conversion.data[kind]
        if not tables:
            continue
        lines += ["", "# --- %s %s" % (_HEADINGS[kind], "-" * (60 - len(_HEADINGS[kind])))]
        for index, table in enumerate(tables):
            origin, notes = conversion.notes.get((kind, index), ("", {}))
            lines += ["", "[[%s]]" % (kind,)]
            if origin:
                lines.append(_comment(origin))
            subtables = []
            for key, value in table.items():
                if key in SUBTABLES.get(kind, ()) and isinstance(value, dict):
                    subtables.append((key, value))
                    continue
                lines.extend(_keyLines(key, value, notes.get(key)))
            for key, value in subtables:
                lines.append("[%s.%s]" % (kind, tomlKey(key)))
                for subkey, subvalue in value.items():
                    lines.extend(_keyLines(subkey, subvalue, notes.get("%s.%s" % (key, subkey))))
    return "\n".join(lines) + "\n"


def _keyLines(key: str, value: object, note: str | None) -> list[str]:
    """
    The lines of one key: C{key = value  # note}; an array of arrays
    (C{screen-message-rewrites}) one element a line.
    """
    comment = "  " + _comment(note) if note else ""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return (
            ["%s = [%s" % (tomlKey(key), comment)]
            + ["    %s," % (tomlValue(v),) for v in value]
            + ["]"]
        )
    return ["%s = %s%s" % (tomlKey(key), tomlValue(value), comment)]
