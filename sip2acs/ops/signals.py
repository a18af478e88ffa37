# -*- test-case-name: tests.test_reload,tests.test_admin -*-
"""
The signals sip2acs answers, in one place: SIGHUP reloads (see
L{sip2acs.ops.reload}), SIGUSR1 drains and SIGUSR2 resumes (see
L{sip2acs.ops.admin.DrainService}).
"""

import signal
from collections.abc import Callable
from types import FrameType

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorThreads

__all__ = ["SignalService"]


class SignalService(Service):
    """
    Installs handlers for some signals while the service runs, and puts
    the previous ones back when it stops. The Python signal handler only
    hands the signal to the reactor thread (C{callFromThread}), where
    L{signalled} acts on it.
    """

    signals: tuple[int, ...] = ()
    """
    The signals this service answers.
    """

    def __init__(self, reactor: IReactorThreads, installSignals: bool = True) -> None:
        """
        @param reactor: The reactor to hand the signals to.
        @param installSignals: Whether to install the handlers (tests call
            L{signalled} instead).
        """
        self._reactor = reactor
        self._installSignals = installSignals
        self._previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    def startService(self) -> None:
        Service.startService(self)
        if self._installSignals:
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._onSignal)

    def stopService(self) -> None:
        Service.stopService(self)
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _onSignal(self, signum: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self.signalled, signum)

    def signalled(self, signum: int) -> None:
        """
        Act on C{signum}, on the reactor thread.
        """
        raise NotImplementedError()
