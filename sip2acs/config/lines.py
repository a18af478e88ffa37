# -*- test-case-name: tests.test_config_ux -*-
"""
Where a problem's key is in a TOML file: C{tomllib} gives values, not
positions, so L{locate} reads the text once more, line by line, for the
table headers (C{[[listener]]}, C{[admin]}, C{[institution.account-defaults]})
and the keys under each, skipping what is inside strings, arrays and
inline tables.
"""

import re
from collections.abc import Iterable

import attrs

from sip2acs.config.problems import Problem

__all__ = ["TOMLLines", "locate"]

_BARE = r"[A-Za-z0-9_-]+"
_PART = r"(?:%s|\"(?:[^\"\\]|\\.)*\"|'[^']*')" % (_BARE,)
_KEY = re.compile(r"\s*(%s(?:\s*\.\s*%s)*)\s*=" % (_PART, _PART))
_HEADER = re.compile(r"\s*(\[\[?)\s*(%s(?:\s*\.\s*%s)*)\s*\]\]?" % (_PART, _PART))
_SPLIT = re.compile(_PART)


def _parts(dotted: str) -> tuple[str, ...]:
    """
    The parts of a dotted TOML key, unquoted: C{'a."b.c"'} is
    C{("a", "b.c")}.
    """
    return tuple(
        part[1:-1] if part[:1] in "\"'" else part for part in _SPLIT.findall(dotted)
    )


@attrs.define
class _Table:
    """
    One table header of the file and the keys under it.

    @ivar name: The header's dotted name, as parts (C{()} for the keys
        before the first header).
    @ivar array: Whether it is C{[[name]]}.
    @ivar line: The header's line.
    @ivar keys: Each key's dotted name, as parts, to its line.
    """

    name: tuple[str, ...]
    array: bool
    line: int
    keys: dict[tuple[str, ...], int] = attrs.Factory(dict)


class _Scanner:
    """
    Follows strings, comments and brackets through the text, so that only
    lines that start a statement are read as headers or keys.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.multiline: str | None = None

    def skip(self, line: str, position: int) -> None:
        """
        Read C{line} from C{position} for what opens or closes there.
        """
        index = position
        while index < len(line):
            if self.multiline is not None:
                end = line.find(self.multiline, index)
                if end < 0:
                    return
                index = end + 3
                self.multiline = None
                continue
            char = line[index]
            if char == "#":
                return
            if line.startswith('"""', index) or line.startswith("'''", index):
                self.multiline = line[index : index + 3]
                index += 3
            elif char in "\"'":
                index += 1
                while index < len(line) and line[index] != char:
                    index += 2 if char == '"' and line[index] == "\\" else 1
                index += 1
            else:
                if char in "[{":
                    self.depth += 1
                elif char in "]}":
                    self.depth = max(0, self.depth - 1)
                index += 1


class TOMLLines:
    """
    The headers and keys of a TOML text, with their lines.
    """

    def __init__(self, text: str) -> None:
        self.tables = [_Table((), False, 1)]
        scanner = _Scanner()
        for number, line in enumerate(text.splitlines(), 1):
            if scanner.multiline is None and scanner.depth == 0:
                header = _HEADER.match(line)
                key = _KEY.match(line)
                if header is not None and key is None:
                    self.tables.append(
                        _Table(_parts(header.group(2)), header.group(1) == "[[", number)
                    )
                    scanner.skip(line, header.end())
                    continue
                if key is not None:
                    self.tables[-1].keys.setdefault(_parts(key.group(1)), number)
                    scanner.skip(line, key.end())
                    continue
            scanner.skip(line, 0)

    def _element(self, section: str, index: int | None) -> list[_Table]:
        """
        The tables that make up one table of the file: the C{index}th
        C{[[section]]} (or C{[section]} when C{index} is L{None}) and its
        sub-tables (C{[section.sub]}), each renamed to its path inside it;
        the keys C{section.x = ...} at the top, when it is defined so.
        """
        found: list[_Table] = []
        count = -1
        inside = False
        for table in self.tables:
            if table.name == (section,):
                count += 1
                inside = count == (index if index is not None else 0)
                if inside:
                    found.append(_Table((), table.array, table.line, table.keys))
            elif table.name[:1] == (section,) and len(table.name) > 1:
                if inside:
                    found.append(_Table(table.name[1:], False, table.line, table.keys))
            else:
                inside = False
        if not found and index in (None, 0):
            top = self.tables[0].keys
            nested = {
                name[1:]: line for name, line in top.items() if name[:1] == (section,)
            }
            if nested:
                line = nested.get((), min(nested.values()))
                found.append(_Table((), False, line, nested))
        return found

    def line(self, section: str | None, index: int | None, key: str | None) -> int | None:
        """
        The line of a problem's place: its key (or the nearest key above
        it, for C{payment-types.01} or C{screen-message-rewrites[2]}), else
        its table's header; L{None} when the file has neither.
        """
        if section is None:
            return None
        tables = self._element(section, index)
        if not tables:
            return None
        if key is None:
            return tables[0].line
        path = _parts(re.sub(r"\[\d+\]", "", key))
        while path:
            for table in tables:
                if table.name == path:
                    return table.line
                depth = len(table.name)
                if path[:depth] == table.name and path[depth:] in table.keys:
                    return table.keys[path[depth:]]
            path = path[:-1]
        return tables[0].line


def locate(text: str, problems: Iterable[Problem]) -> list[Problem]:
    """
    C{problems} of a TOML file, each given the line of its key or table
    in C{text} where it can be found there.
    """
    lines = TOMLLines(text)
    return [
        attrs.evolve(each, line=lines.line(each.section, each.index, each.key))
        if each.line is None
        else each
        for each in problems
    ]
