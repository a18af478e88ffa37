# -*- test-case-name: tests.test_upstream_gateway -*-
"""
L{UpstreamPool}: upstream connections shared by many kiosks, one request
in flight on each.

A request takes a free link (one already connected first), waits in line
when every link is busy, and gives up with L{UpstreamUnavailable} when none
came free within C{queueTimeout}: one slow upstream request holds its own
link and nobody else's.
"""

from __future__ import annotations

from collections import deque

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from sip2acs.ils.upstream.link import UpstreamLink, UpstreamUnavailable, UpstreamUncertain
from sip2acs.sip import codec

__all__ = ["UpstreamPool"]


class UpstreamPool:
    """
    Links used one request at a time, by requests in arrival order.

    @ivar links: Every link of the pool.
    """

    def __init__(
        self, clock: IReactorTime, links: list[UpstreamLink], queueTimeout: float = 10.0
    ) -> None:
        if not links:
            raise ValueError("a pool needs at least one link")
        self.clock = clock
        self.links = links
        self.queueTimeout = queueTimeout
        self._idle: list[UpstreamLink] = list(links)
        self._waiting: deque[tuple[Deferred[UpstreamLink], IDelayedCall]] = deque()
        self._closed = False

    @property
    def size(self) -> int:
        return len(self.links)

    @property
    def busy(self) -> int:
        """
        Links with a request in flight (or connecting for one).
        """
        return len(self.links) - len(self._idle)

    @property
    def waiting(self) -> int:
        """
        Requests waiting for a free link.
        """
        return len(self._waiting)

    @property
    def ready(self) -> bool:
        """
        Whether some link is connected, or may try to connect now.
        """
        return any(link.ready or not link.waiting for link in self.links)

    async def request(self, message: codec.Message) -> codec.Message:
        """
        Send C{message} on a free link and return the answer.

        @raise UpstreamUnavailable: No link came free in time, or the
            link's request was not acted on.
        @raise UpstreamUncertain: See L{UpstreamLink.request}.
        """
        link = await self._acquire()
        try:
            return await link.request(message)
        except CancelledError:
            # The caller gave up while the upstream had the request: as
            # uncertain as a lost answer (the link's connection is closed).
            raise UpstreamUncertain(
                "the request was given up while the upstream had it", cancelled=True
            ) from None
        finally:
            self._release(link)

    def close(self) -> None:
        """
        Close every link; requests still waiting fail.
        """
        self._closed = True
        for link in self.links:
            link.close()
        while self._waiting:
            waiter, timer = self._waiting.popleft()
            timer.cancel()
            waiter.errback(UpstreamUnavailable("the gateway is stopping"))

    def _acquire(self) -> Deferred[UpstreamLink]:
        if self._closed:
            raise UpstreamUnavailable("the gateway is stopping")
        if self._idle:
            # The most recently used link that is connected, else one that
            # may connect now, else any (it says when it tries again).
            for wanted in (lambda link: link.ready, lambda link: not link.waiting):
                for index in range(len(self._idle) - 1, -1, -1):
                    if wanted(self._idle[index]):
                        return succeed(self._idle.pop(index))
            return succeed(self._idle.pop())

        def cancel(waiter: Deferred[UpstreamLink]) -> None:
            for entry in self._waiting:
                if entry[0] is waiter:
                    self._waiting.remove(entry)
                    entry[1].cancel()
                    return

        waiter: Deferred[UpstreamLink] = Deferred(cancel)

        def tooLong() -> None:
            for entry in self._waiting:
                if entry[0] is waiter:
                    self._waiting.remove(entry)
                    break
            waiter.errback(
                UpstreamUnavailable(
                    "all %d upstream connections stayed busy for %g seconds"
                    % (len(self.links), self.queueTimeout)
                )
            )

        self._waiting.append((waiter, self.clock.callLater(self.queueTimeout, tooLong)))
        return waiter

    def _release(self, link: UpstreamLink) -> None:
        if self._waiting:
            waiter, timer = self._waiting.popleft()
            timer.cancel()
            waiter.callback(link)
        else:
            self._idle.append(link)

