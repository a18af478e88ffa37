# -*- test-case-name: tests.test_handlers -*-
"""
The ILS watchdog: bounds how long a session waits for its adapter.

An L{ILSWatchdog} belongs to one session, which has at most one adapter
call in flight. It keeps one timer, not one per request: see
L{ILSWatchdog.watch}.
"""

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

__all__ = ["ILSWatchdog"]


class ILSWatchdog:
    """
    Cancels an adapter call that has not answered within the timeout.

    Cancelling fires the call's Deferred with L{CancelledError
    <twisted.internet.defer.CancelledError>} (the session turns it into a
    refusal), unless the adapter could not withdraw the call: then
    C{started} is called and the SC gets the real answer when it comes.
    """

    def __init__(
        self,
        clock: IReactorTime,
        timeout: Callable[[], float],
        started: Callable[[], None],
    ) -> None:
        """
        @param clock: The clock the timer runs on.
        @param timeout: Returns the seconds an adapter call may take (read
            at each look, so a changed server timeout applies).
        @param started: Called when a call timed out that the adapter had
            already started and could not withdraw.
        """
        self.clock = clock
        self.timeout = timeout
        self.started = started
        self._inflight: Deferred[object] | None = None
        self._since = 0.0
        self._timer: IDelayedCall | None = None

    def watch(self, d: "Deferred[object]") -> None:
        """
        Bound the adapter's answer C{d} by the timeout.

        One timer, re-armed only when it fires while a request is in
        flight: when it fires, a request older than the timeout is
        cancelled; a younger one gets the timer back for the time it has
        left.
        """
        self._inflight = d
        self._since = self.clock.seconds()
        if self._timer is None:
            self._timer = self.clock.callLater(self.timeout(), self._look)

    def answered(self) -> None:
        """
        The call in flight has answered (or failed): nothing to watch.
        """
        self._inflight = None

    def stop(self) -> None:
        """
        Stop the timer (the connection is gone). A call in progress
        finishes on its own.
        """
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _look(self) -> None:
        self._timer = None
        d = self._inflight
        if d is None:
            return
        timeout = self.timeout()
        age = self.clock.seconds() - self._since
        if age >= timeout:
            self._inflight = None
            d.cancel()
            if isinstance(getattr(d, "result", None), Deferred):
                # The adapter could not withdraw it (see SerialWorker.submit).
                self.started()
        else:
            self._timer = self.clock.callLater(timeout - age, self._look)
