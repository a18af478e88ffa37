# -*- test-case-name: tests.test_observers -*-
"""
L{QuickLogger}: Twisted's L{Logger} for the lines written once per
transaction, for about half the cost.

Twisted's C{Logger.emit} checks the level against a freshly sorted list of
every level and builds the event with C{dict.update}; at thousands of
transactions a second that is a measurable part of a request. The events
this logger emits are the same (same keys, same observers, C{log_trace}
honoured), so capturing and observing them is unchanged.
"""

from time import time
from typing import Any

from twisted.logger import Logger, LogLevel

__all__ = ["QuickLogger"]

_LEVELS = frozenset(LogLevel.iterconstants())


class QuickLogger(Logger):
    """
    A L{Logger} whose L{emit} is cheaper. Use it as a class attribute like
    any L{Logger}; an object logging per request keeps the one it got
    (C{self.log = self.log}), since each read of the class attribute makes
    a new logger.
    """

    def emit(self, level: LogLevel, format: str | None = None, **kwargs: Any) -> None:
        if level not in _LEVELS:
            # Twisted's own emit reports the invalid level.
            return Logger.emit(self, level, format, **kwargs)
        kwargs["log_logger"] = self
        kwargs["log_level"] = level
        kwargs["log_namespace"] = self.namespace
        kwargs["log_source"] = self.source
        kwargs["log_format"] = format
        kwargs["log_time"] = time()
        if "log_trace" in kwargs:
            kwargs["log_trace"].append((self, self.observer))
        self.observer(kwargs)
