# -*- test-case-name: tests.test_handlers -*-
"""
Dispatch: how a decoded request reaches its handler and the adapter.

L{Dispatcher.dispatch} refuses a request whose operation the adapter does
not support, calls the request's handler from L{sip2acs.acs.handlers.HANDLERS},
bounds the adapter's answer by the ILS timeout (L{ILSWatchdog
<sip2acs.acs.watchdog.ILSWatchdog>}) and turns the adapter's failures into
refusals. Log lines go to the session's logger.
"""

from typing import Any

from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.python.failure import Failure

from sip2acs.acs.handlers import HANDLERS, Session
from sip2acs.acs.refusals import ADAPTER_OPERATIONS
from sip2acs.acs.watchdog import ILSWatchdog
from sip2acs.ils.base import UnsupportedOperation

__all__ = ["Dispatcher"]

NOT_SUPPORTED = "This service is not available at this library."
UNAVAILABLE = "The library system is not available. Please try again later."


class Dispatcher:
    """
    Answers the requests of one session (one in flight at a time).
    """

    def __init__(self, session: Session) -> None:
        """
        @param session: The L{ACSSession <sip2acs.acs.session.ACSSession>}
            it answers for.
        """
        self.session: Session = session
        self._watchdog: ILSWatchdog | None = None

    @property
    def watchdog(self) -> ILSWatchdog:
        """
        The session's L{ILSWatchdog}, on the session's clock (made at the
        first request: a test harness may give the session its clock after
        building it).
        """
        if self._watchdog is None:
            session = self.session
            self._watchdog = ILSWatchdog(
                session.clock, lambda: session.server.ilsTimeout, self._startedLate
            )
        return self._watchdog

    def _account(self) -> str:
        account = self.session.account
        return account.login if account else "-"

    def _ilsName(self) -> str:
        return getattr(self.session.ils, "name", "ils")

    def dispatch(self, message: Any) -> "Deferred[Any]":
        """
        Answer a request (the frame pipeline's checks passed).

        @return: A Deferred firing with the response (or C{(response,
            close)}); it fails only when the session's own code fails.
        """
        session = self.session
        handler = HANDLERS[message.code]
        operation = ADAPTER_OPERATIONS.get(message.code)
        if operation is not None:
            if not session.ils.supports(operation):
                return succeed(session.refuse(message.code, message, NOT_SUPPORTED))
        try:
            d = handler(session, message)
        except Exception:
            d = fail()
        if operation is None:
            return d
        self.watchdog.watch(d)
        return d.addErrback(self._ebILS, message, operation)

    def answered(self) -> None:
        """
        The request in flight has been answered.
        """
        if self._watchdog is not None:
            self._watchdog.answered()

    def stop(self) -> None:
        """
        The connection is gone: stop the ILS timer. An adapter call in
        progress finishes on its own; its answer is dropped.
        """
        if self._watchdog is not None:
            self._watchdog.stop()

    def _startedLate(self) -> None:
        self.session.log.info(
            "{ils} had already started a request for {account}@{peer}"
            " when it timed out after {timeout} s; its real answer"
            " will be sent",
            ils=self._ilsName(),
            account=self._account(),
            peer=self.session.peer,
            timeout=self.session.server.ilsTimeout,
        )

    def _ebILS(self, failure: Failure, message: Any, operation: str) -> Any:
        session = self.session
        if failure.check(UnsupportedOperation):
            text = NOT_SUPPORTED
        elif failure.check(CancelledError):
            session.log.info(
                "{ils} did not answer {operation} for {account}@{peer} within"
                " {timeout} s",
                ils=self._ilsName(),
                operation=operation,
                account=self._account(),
                peer=session.peer,
                timeout=session.server.ilsTimeout,
            )
            text = UNAVAILABLE
        else:
            ils = self._ilsName()
            session.server.failureLog.failed(
                failure,
                "%s %s" % (ils, operation),
                "{ils} failed {operation} for {account}@{peer}",
                ils=ils,
                operation=operation,
                account=self._account(),
                peer=session.peer,
            )
            text = UNAVAILABLE
        return session.refuse(message.code, message, text)
