# -*- test-case-name: tests.test_store_regressions -*-
"""
Logging repeated failures without flooding the log.

A circulation system that cannot write (a full disk, a database held
locked) fails every request the same way, hundreds of times a second. A
L{FailureLog} logs the first failure of a kind, then at most one line per
interval saying how many more there were, with the latest error's message:
that line is written with the first failure after the interval (no timer
runs).

A failure the adapter explains (L{ILSUnavailable
<sip2acs.ils.base.ILSUnavailable>}: "the database is locked by another
process") is one line, never a traceback. Any other exception is a bug
somewhere: its first occurrence is logged with its traceback, and the same
kind gets a traceback again only after it has been quiet for
L{REARM_INTERVAL}.
"""

from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from sip2acs.ils.base import ILSUnavailable

__all__ = ["FailureLog", "REARM_INTERVAL", "SUMMARY_INTERVAL"]

SUMMARY_INTERVAL = 10.0
"""
Seconds between two lines about one kind of failure.
"""

REARM_INTERVAL = 600.0
"""
Seconds a kind of failure must be quiet before its next occurrence is
logged in full again.
"""


class _Kind:
    __slots__ = ("since", "count", "last")

    def __init__(self, now: float) -> None:
        self.since = now
        self.last = now
        self.count = 0


class FailureLog:
    """
    Logs failures of each kind: the first in full, then at most one
    summary line per interval.

    @ivar interval: Seconds between two lines about one kind.
    """

    def __init__(self, log: Logger, clock: IReactorTime, interval: float = SUMMARY_INTERVAL,
                 rearm: float = REARM_INTERVAL) -> None:
        """
        @param log: The L{Logger} the lines go to.
        @param clock: An L{IReactorTime} provider, for the time.
        @param rearm: Seconds a kind must be quiet before it is logged in
            full again.
        """
        self.log = log
        self.clock = clock
        self.interval = interval
        self.rearm = rearm
        self._kinds: dict[tuple[str, type[BaseException] | None], _Kind] = {}

    def failed(self, failure: Failure, kind: str, format: str, **fields: Any) -> None:
        """
        Log C{failure}.

        @param failure: The L{Failure}.
        @param kind: What failed, e.g. C{"sqlite:lib.sqlite3 feePaid"}:
            failures with the same C{kind} and exception type are counted
            together, and the lines name C{kind}.
        @param format: The log format of a failure logged in full; C{fields}
            fill it. An L{ILSUnavailable} gets its message appended
            instead of a traceback.
        """
        key = (kind, failure.type)
        now = self.clock.seconds()
        state = self._kinds.get(key)
        if state is None or now - state.last >= self.rearm:
            self._kinds[key] = _Kind(now)
            if failure.check(ILSUnavailable):
                self.log.error(
                    format + ": {reason}", reason=failure.getErrorMessage(), **fields
                )
            else:
                self.log.failure(format, failure, **fields)
            return
        state.last = now
        state.count += 1
        if now - state.since >= self.interval:
            self.log.error(
                "{kind} failed {count} more time(s) in the last {seconds:.0f} s;"
                " the latest: {error}",
                kind=kind,
                count=state.count,
                seconds=now - state.since,
                error=failure.getErrorMessage()
                if failure.check(ILSUnavailable)
                else "%s: %s" % (failure.type.__name__, failure.getErrorMessage()),
            )
            state.since = now
            state.count = 0
