# -*- test-case-name: tests.test_sipclient -*-
"""
L{SIP2ClientProtocol}: a SIP2 client connection inside the reactor.

It drives the sans-IO core of L{sip2acs.sip.exchange} (framing, sequence
numbers and checksums, 96 and 97, the telnet prelude) and adds what only
I/O has: the transport, and timeouts on an L{IReactorTime}. One request
is on the wire at a time; requests made meanwhile wait their turn.
"""

from __future__ import annotations

from collections import deque

import attrs
from twisted.internet.defer import Deferred, fail
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from sip2acs.sip import codec
from sip2acs.sip.exchange import (
    MAX_FRAME,
    ClientCore,
    ConnectionFailed,
    Exchange,
    FrameBuffer,
    LoginRefused,
    NoAnswer,
    ProtocolError,
    Resend,
    TelnetPrelude,
)

__all__ = ["SIP2ClientProtocol"]


@attrs.define(eq=False)
class _Pending:
    """
    A request waiting for its turn, or for its answer.
    """

    request: codec.Message | str
    name: str | None
    done: Deferred[Exchange]


class SIP2ClientProtocol(Protocol):
    """
    The kiosk's side of one SIP2 connection.

    After a timeout, a protocol error or a cancelled request the
    conversation cannot be trusted any more (a late answer would be taken
    for the next one): the request fails and the connection is closed,
    failing the requests still waiting with L{ConnectionFailed}.

    @ivar core: The L{ClientCore} (its C{sequence} is the next C{AY}).
    @ivar timeout: Seconds to wait for each response or telnet prompt.
    @ivar peer: The server, for messages (C{host:port}).
    """

    log = Logger()

    def __init__(
        self, clock: IReactorTime, core: ClientCore | None = None, timeout: float = 10.0
    ) -> None:
        """
        @param clock: What times the answers.
        @param core: The conversation's settings and state (encoding,
            error detection, sequence, terminator, peer); the defaults of
            L{ClientCore} if L{None}.
        """
        self.clock = clock
        self.timeout = timeout
        self.core = ClientCore() if core is None else core
        self.peer = peer = self.core.peer
        self._frames = FrameBuffer(peer)
        self._queue: deque[_Pending] = deque()
        self._current: _Pending | None = None
        self._prelude: TelnetPrelude | None = None
        self._preludeDone: Deferred[None] | None = None
        self._timer: IDelayedCall | None = None
        self._gone: ConnectionFailed | None = None

    @property
    def usable(self) -> bool:
        """
        Whether the connection is open: a request made now is written at
        once when none is in flight.
        """
        return self.transport is not None and self._gone is None

    # -- requests --

    def exchange(
        self, request: codec.Message | str, name: str | None = None
    ) -> Deferred[Exchange]:
        """
        Send one request and wait for its response.

        @param request: A L{codec.Message}, or the text of a raw message.
        @param name: The request's name for the L{Exchange}.
        @return: A Deferred firing with the L{Exchange} (its C{warnings}
            say what looked wrong), or failing with L{NoAnswer},
            L{ProtocolError} or L{ConnectionFailed}.
        """
        if self._gone is not None:
            return fail(self._gone)
        pending = _Pending(request, name, Deferred(lambda d: self._cancel(pending)))
        self._queue.append(pending)
        self._next()
        return pending.done

    def request(self, message: codec.Message) -> Deferred[codec.Message]:
        """
        Send one request and wait for its response message.

        @return: A Deferred firing with the response, or failing like
            L{exchange}; a response of another kind than the request
            calls for (a 94 answering a 99) is a L{ProtocolError}.
        """

        def answered(exchange: Exchange) -> codec.Message:
            message = exchange.decoded.message
            if exchange.unexpected:
                raise ProtocolError(
                    "%s answered a %s with a %s; %s expected"
                    % (self.peer, exchange.request, message.code, exchange.expected),
                    exchange.received,
                )
            return message

        return self.exchange(message).addCallback(answered)

    def telnetLogin(self, user: str, password: str) -> Deferred[None]:
        """
        Log in through the telnet prelude (L{TelnetPrelude}); call it first,
        before any request. Requests made meanwhile wait for it.

        @return: A Deferred firing once the server said C{Login OK}, or
            failing with L{LoginRefused}, L{NoAnswer} or
            L{ConnectionFailed}.
        """
        if self._gone is not None:
            return fail(self._gone)
        if self._prelude is not None or self._current is not None:
            raise RuntimeError("the telnet prelude comes before any request")
        self._prelude = TelnetPrelude(user, password, self.core.encoding, self.peer)
        self._preludeDone = Deferred()
        done = self._preludeDone
        self._startTimer()
        self._preludeData(self._frames.drain())
        return done

    def disconnect(self) -> None:
        """
        Close the connection.
        """
        if self.transport is not None:
            self.transport.loseConnection()

    # -- the reactor's side --

    def _write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def dataReceived(self, data: bytes) -> None:
        if self._prelude is not None:
            self._preludeData(data)
            return
        self._frames.feed(data)
        self._pump()

    def connectionLost(self, reason: Failure = ConnectionDone) -> None:  # type: ignore[assignment]
        self._stopTimer()
        if reason.check(ConnectionDone):
            error = ConnectionFailed("%s closed the connection" % (self.peer,))
        else:
            error = ConnectionFailed(
                "connection to %s failed: %s" % (self.peer, reason.getErrorMessage())
            )
        self._gone = error
        if self._prelude is not None:
            self._failPrelude(self._prelude.failed(error))
        if self._current is not None:
            self._fail(error)
        while self._queue:
            self._queue.popleft().done.errback(Failure(error))

    # -- the prelude --

    def _preludeData(self, data: bytes) -> None:
        prelude = self._prelude
        assert prelude is not None
        waitingFor = prelude.waitingFor
        try:
            out = prelude.dataReceived(data)
        except LoginRefused as e:
            self._failPrelude(e)
            return
        if out:
            self._write(out)
        if prelude.done:
            self._stopTimer()
            done, self._prelude, self._preludeDone = self._preludeDone, None, None
            assert done is not None
            self._frames.feed(prelude.rest)
            done.callback(None)
            self._next()
        elif prelude.waitingFor != waitingFor:
            self._startTimer()

    def _failPrelude(self, error: Exception) -> None:
        self._stopTimer()
        done, self._prelude, self._preludeDone = self._preludeDone, None, None
        self.disconnect()
        if done is not None:
            done.errback(Failure(error))

    # -- the exchange in flight --

    def _next(self) -> None:
        if self._current is not None or self._prelude is not None or not self._queue:
            return
        pending = self._current = self._queue.popleft()
        data = self.core.send(pending.request, pending.name)
        self._startTimer()
        self._write(data)
        self._pump()

    def _pump(self) -> None:
        while self._current is not None:
            try:
                frame = self._frames.next()
                if frame is None:
                    return
                step = self.core.frameReceived(frame)
            except ProtocolError as e:
                self._fail(e)
                return
            if isinstance(step, Resend):
                self._startTimer()
                self._write(step.data)
                continue
            pending, self._current = self._current, None
            self._stopTimer()
            pending.done.callback(step)
            self._next()
        if len(self._frames) > MAX_FRAME:
            self.log.warn("{peer} sent {count} bytes nobody asked for; disconnecting",
                          peer=self.peer, count=len(self._frames))
            self.disconnect()

    def _fail(self, error: Exception) -> None:
        """
        Fail the request in flight and close the connection.
        """
        pending, self._current = self._current, None
        self.core.abandon()
        self._stopTimer()
        self.disconnect()
        if pending is not None:
            pending.done.errback(Failure(error))

    def _cancel(self, pending: _Pending) -> None:
        if pending is self._current:
            self._current = None
            self.core.abandon()
            self._stopTimer()
            self.disconnect()
        elif pending in self._queue:
            self._queue.remove(pending)

    # -- time --

    def _startTimer(self) -> None:
        self._stopTimer()
        self._timer = self.clock.callLater(self.timeout, self._timedOut)

    def _stopTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timedOut(self) -> None:
        self._timer = None
        prelude = self._prelude
        waitingFor = prelude.waitingFor if prelude is not None else "response"
        error = NoAnswer(
            "no %s from %s within %g seconds" % (waitingFor, self.peer, self.timeout)
        )
        if prelude is not None:
            self._failPrelude(prelude.failed(error))
        else:
            self._fail(error)
