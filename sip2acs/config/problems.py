# -*- test-case-name: tests.test_config -*-
"""
What is wrong with a configuration: a L{Problem} is one finding, with the
table and key it is about as values (so the XML import can place it in
its file without reading the text back), and L{ConfigError} is the error
that carries every problem of a file.
"""

from collections.abc import Iterable

import attrs

__all__ = ["Problem", "ConfigError"]


@attrs.frozen
class Problem:
    """
    One problem of a configuration, and where it is.

    Its text (C{str(problem)}) names the place before the finding:
    C{"listener[0].transport: must be one of ..."}, C{"admin.endpoint:
    ..."}, C{"institution: at least one ..."}, or only the finding when it
    has no place.

    @ivar section: The kind of table (C{"listener"}, C{"institution"},
        C{"account"}, C{"admin"}) or the unknown top-level key it is
        about, or L{None} for the file as a whole.
    @ivar index: Which table of an array of tables (C{[[listener]]}, ...),
        from 0, or L{None} for the section as a whole.
    @ivar key: The setting of that table, as the file spells it
        (C{"max-frame"}), or L{None} for the table as a whole.
    @ivar text: What is wrong.
    @ivar line: The line of the file where the key (or the table) is,
        from 1, or L{None} when it is not known (a problem found in parsed
        data, or about something the file leaves out).
    """

    section: str | None
    index: int | None
    key: str | None
    text: str
    line: int | None = None

    @classmethod
    def unplaced(cls, text: str) -> "Problem":
        """
        A problem of the file as a whole: C{"cannot read it: ..."}.
        """
        return cls(None, None, None, text)

    def where(self) -> str | None:
        """
        The place this problem names: C{"listener[0].transport"},
        C{"admin"}, ...; L{None} when it has none.
        """
        if self.section is None:
            return None
        where = self.section
        if self.index is not None:
            where += "[%d]" % (self.index,)
        if self.key is not None:
            where += "." + self.key
        return where

    def __str__(self) -> str:
        where = self.where()
        return self.text if where is None else "%s: %s" % (where, self.text)

    def located(self, source: str) -> str:
        """
        Its text as a file's problem: C{"sip2acs.toml line 12:
        listener[0].transprot: ..."} when its line is known, else its text
        alone (C{str(problem)}).

        @param source: The file's name.
        """
        if self.line is None:
            return str(self)
        return "%s line %d: %s" % (source, self.line, self)


class ConfigError(ValueError):
    """
    A configuration that cannot run.

    @ivar details: Every problem found, as L{Problem}s; a problem given as
        text is one with no place.
    @ivar problems: The same, as text, each prefixed with where it is
        (L{Problem.located}: the file and line, when known, then the
        table and key).
    @ivar source: The file (or C{"configuration"}).
    """

    def __init__(
        self, problems: Iterable[Problem | str], source: str = "configuration"
    ) -> None:
        self.details = [
            each if isinstance(each, Problem) else Problem.unplaced(each) for each in problems
        ]
        self.problems = [each.located(source) for each in self.details]
        self.source = source
        ValueError.__init__(
            self,
            "%s has %d problem(s):\n  %s"
            % (source, len(self.problems), "\n  ".join(self.problems)),
        )
