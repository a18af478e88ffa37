# -*- test-case-name: tests.test_xmlconfig -*-
"""
The record of reading one SIPconfig.xml / oils_sip.xml file: L{Report}
keeps the TOML-shaped tables being built, where each came from, and the
problems, warnings and notes found on the way, each located in the file.

Also the small value readers the other modules of this package share:
L{local} (an element's name without its namespace), L{isDigits},
L{asBoolean} and L{asNumber}.
"""

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import TypeAlias, TypeVar

from sip2acs.config.writer import TableKey, TOMLValue

Located: TypeAlias = tuple[int, str]
"""
A problem or warning: the line of the XML file it is about, and its text.
"""

EncodingSource: TypeAlias = tuple[ET.Element, str]
"""
An encoding name and the element that gave it.
"""

Table: TypeAlias = dict[str, TOMLValue]
"""
One TOML table being built: C{[[listener]]}, C{[[institution]]} or
C{[[account]]}.
"""

_T = TypeVar("_T")

KINDS = {"service": "listener", "institution": "institution", "login": "account"}
"""
The kind of TOML table each XML element becomes, by element name.
"""

_TRUE = ("true", "yes", "y", "enabled", "on")
_FALSE = ("false", "no", "n", "disabled", "off", "")


def local(tag: str) -> str:
    """
    An element's name without its namespace: C{"service"} for
    C{"{http://openncip.org/acs-config/1.0/}service"}.
    """
    return tag.rpartition("}")[2]


def isDigits(value: str) -> bool:
    """
    Whether C{value} is a decimal count, like C{"600"}.
    """
    return re.match(r"^[0-9]+$", value) is not None


def asBoolean(value: str) -> bool | None:
    """
    A Koha or Evergreen boolean (C{true}, C{enabled}, C{1}, ...), or
    L{None} for something else.
    """
    value = value.strip().lower()
    if value in _TRUE or (isDigits(value) and int(value) != 0):
        return True
    if value in _FALSE or (isDigits(value) and int(value) == 0):
        return False
    return None


def asNumber(value: str) -> float | None:
    """
    A finite number, zero or more, like C{"30"} or C{"2.5"}, or L{None}
    for something else.
    """
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


class Report:
    """
    What reading one C{<acsconfig>} tree has found so far.

    @ivar path: The file's path, which starts every problem and warning.
    @ivar lines: The line where each element starts.
    @ivar problems: What stops the file from being used, located.
    @ivar warnings: What was not carried over, or was changed, located.
    @ivar data: The TOML-shaped tables, by kind (C{listener},
        C{institution}, C{account}), as L{parseConfig
        <sip2acs.config.toml.parseConfig>} takes them.
    @ivar origins: The element and label each table of C{data} came from,
        in the same order.
    @ivar notes: C{(kind, index) -> {key: comment}}: how some values were
        derived.
    @ivar reported: The C{(kind, index, key)} of each problem reported
        while reading, so that L{parseConfig
        <sip2acs.config.toml.parseConfig>} does not report it again.
    @ivar troubled: The kinds of table with a problem (L{None}: at the
        document).
    """

    def __init__(self, path: str, lines: dict[ET.Element, int]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[Located] = []
        self.warnings: list[Located] = []
        self.data: dict[str, list[Table]] = {
            "listener": [],
            "institution": [],
            "account": [],
        }
        self.origins: dict[str, list[tuple[ET.Element, str]]] = {
            "listener": [],
            "institution": [],
            "account": [],
        }
        self.notes: dict[TableKey, dict[str, str]] = {}
        self.reported: set[tuple[str, int, str | None]] = set()
        self.troubled: set[str | None] = set()

    def line(self, element: ET.Element) -> int:
        """
        The line where C{element} starts (0 when unknown).
        """
        return self.lines.get(element, 0)

    def at(self, element: ET.Element, label: str | None = None) -> str:
        """
        Where a problem or warning is: C{"PATH:LINE: LABEL:"}.
        """
        where = "%s:%d:" % (self.path, self.line(element))
        if label:
            where += " " + label + ":"
        return where

    def nextTable(self, kind: str) -> TableKey:
        """
        The key of the next table of C{kind}, before it is L{added <add>}.
        """
        return (kind, len(self.data[kind]))

    def add(self, kind: str, element: ET.Element, label: str, values: Table) -> None:
        """
        Keep a table read from C{element}.
        """
        self.data[kind].append(values)
        self.origins[kind].append((element, label))

    def problem(
        self,
        element: ET.Element,
        label: str | None,
        text: str,
        table: TableKey | None = None,
        key: str | None = None,
    ) -> None:
        """
        Report a problem at C{element}.

        @param table: The table the problem is about, with C{key}: the
            same problem found again by L{parseConfig
            <sip2acs.config.toml.parseConfig>} is then not repeated.
        """
        self.problems.append((self.line(element), "%s %s" % (self.at(element, label), text)))
        self.troubled.add(KINDS.get((label or "").partition(" ")[0]))
        if table is not None:
            self.reported.add(table + (key,))

    def valueOf(
        self,
        element: ET.Element,
        label: str,
        table: TableKey,
        key: str,
        name: str,
        value: str,
        convert: Callable[[str], _T | None],
        expected: str,
    ) -> _T | None:
        """
        Read an attribute's value with C{convert}.

        @param key: The TOML key it becomes in C{table}.
        @param name: The attribute, as the problem names it.
        @param expected: What it should be, for the problem: C{"a number
            of seconds"}.
        @return: C{convert(value)}, or L{None} after reporting that
            C{value} is not C{expected}.
        """
        converted = convert(value)
        if converted is None:
            self.problem(
                element, label, "%s: %r is not %s" % (name, value, expected), table, key
            )
        return converted

    def warn(self, element: ET.Element, label: str | None, text: str) -> None:
        """
        Report a warning at C{element}.
        """
        self.warnings.append((self.line(element), "%s %s" % (self.at(element, label), text)))

    def notCarried(
        self, element: ET.Element, label: str | None, names: Iterable[str], why: str = ""
    ) -> None:
        """
        Warn that C{names} (attributes or elements) are not carried over,
        when there are any.
        """
        unique = list(dict.fromkeys(names))
        if unique:
            self.warn(
                element,
                label,
                "not carried over: %s%s" % (", ".join(unique), why),
            )

    def note(self, table: TableKey, key: str, text: str) -> None:
        """
        Say how a value of C{table} was derived, for the TOML writer's
        comments.
        """
        self.notes.setdefault(table, {})[key] = text
