# -*- test-case-name: tests.test_store_regressions -*-
"""
Logging repeated failures without flooding the log.

A circulation system that cannot write (a full disk, a database held
locked) fails every request the same way, hundreds of times a second. A
L{FailureLog} logs the first failure of a kind with its traceback, then at
most one line per interval saying how many more there were, with the
latest error's message: the line is written with the first failure after
the interval (no timer runs). A kind with no failure for a whole interval
after its last line starts afresh: its next failure is logged with its
traceback again.
"""

from weakref import WeakKeyDictionary

from twisted.logger import Logger

__all__ = ["FailureLog", "SUMMARY_INTERVAL", "failureLogFor"]

SUMMARY_INTERVAL = 10.0
"""
Seconds between two summary lines of one kind of failure.
"""


class _Kind:
    __slots__ = ("since", "count")

    def __init__(self, since):
        self.since = since
        self.count = 0


class FailureLog:
    """
    Logs failures of each kind: the first with its traceback, then at most
    one summary line per interval.

    @ivar interval: Seconds between two lines about one kind.
    """

    def __init__(self, log: Logger, clock, interval: float = SUMMARY_INTERVAL):
        """
        @param log: The L{Logger} the lines go to.
        @param clock: An L{IReactorTime} provider, for the time.
        """
        self.log = log
        self.clock = clock
        self.interval = interval
        self._kinds = {}

    def failed(self, failure, kind: str, format: str, **fields) -> None:
        """
        Log C{failure}.

        @param failure: The L{Failure}.
        @param kind: What failed, e.g. C{"sqlite:lib.sqlite3 feePaid"}:
            failures with the same C{kind} and exception type are counted
            together, and the summary line names C{kind}.
        @param format: The log format of a failure logged in full (with
            its traceback); C{fields} fill it.
        """
        key = (kind, failure.type)
        now = self.clock.seconds()
        state = self._kinds.get(key)
        quiet = state is None or now - state.since >= self.interval
        if quiet and (state is None or state.count == 0):
            self._kinds[key] = _Kind(now)
            self.log.failure(format, failure, **fields)
            return
        state.count += 1
        if quiet:
            self.log.error(
                "{kind} failed {count} more time(s) in the last {seconds:.0f} s;"
                " the latest: {error}",
                kind=kind,
                count=state.count,
                seconds=now - state.since,
                error="%s: %s" % (failure.type.__name__, failure.getErrorMessage()),
            )
            state.since = now
            state.count = 0


_logs = WeakKeyDictionary()


def failureLogFor(owner, log: Logger, clock) -> FailureLog:
    """
    The L{FailureLog} shared by everything that belongs to C{owner} (e.g.
    every session of one L{ACSServer <sip2acs.server.ACSServer>}), made on
    first use with C{log} and C{clock}.
    """
    failures = _logs.get(owner)
    if failures is None:
        failures = _logs[owner] = FailureLog(log, clock)
    return failures
