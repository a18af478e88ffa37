# -*- test-case-name: tests.test_handlers -*-
"""
The open connections of one server, and closing them all gracefully when
it stops.
"""

from collections.abc import Iterator

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from sip2acs.acs.interfaces import ISIPConnection

__all__ = ["ConnectionRegistry"]


class ConnectionRegistry:
    """
    The open L{ISIPConnection}s of a server: a transport registers each
    connection when it is made and unregisters it when it is lost.

    Iterating gives a snapshot, so a connection may close (and unregister)
    while the caller goes through them.
    """

    def __init__(self, clock: IReactorTime, log: Logger) -> None:
        """
        @param clock: Times L{shutdown}.
        @param log: Where L{shutdown} logs (the server's logger).
        """
        self.clock = clock
        self.log = log
        self._connections: set[ISIPConnection] = set()

    def register(self, connection: ISIPConnection) -> None:
        """
        A connection was made.
        """
        self._connections.add(connection)

    def unregister(self, connection: ISIPConnection) -> None:
        """
        A connection was lost (unregistering one twice is harmless).
        """
        self._connections.discard(connection)

    def __iter__(self) -> Iterator[ISIPConnection]:
        return iter(list(self._connections))

    def __len__(self) -> int:
        return len(self._connections)

    def __contains__(self, connection: object) -> bool:
        return connection in self._connections

    def shutdown(self, timeout: float, interval: float = 0.05) -> "Deferred[None]":
        """
        Shut down gracefully (after the listeners stopped accepting): each
        SC connection stops reading, answers the request it has in flight,
        if any, and closes (L{ISIPConnection.shutdown}), so every request the
        server had taken is answered and nothing else is taken. Connections
        still open after C{timeout} seconds (an adapter that does not
        answer, an SC that does not read) are aborted.

        @param timeout: Seconds to wait for the requests in flight, e.g.
            the ILS timeout.
        @param interval: Seconds between two looks at the open connections.
        @return: A Deferred firing with L{None} once no connection is left
            (at once if there is none).
        """
        done: Deferred[None] = Deferred()
        deadline = self.clock.seconds() + timeout
        if self._connections:
            self.log.info(
                "closing {count} SC connection(s) once their requests in flight"
                " are answered",
                count=len(self._connections),
            )
        for connection in self:
            connection.shutdown()

        def look() -> None:
            if not self._connections:
                done.callback(None)
            elif self.clock.seconds() >= deadline:
                self.log.warn(
                    "{count} connection(s) still open {timeout} s after the"
                    " shutdown began; cutting them",
                    count=len(self._connections),
                    timeout=timeout,
                )
                for connection in self:
                    connection.transport.abortConnection()
                done.callback(None)
            else:
                self.clock.callLater(interval, look)

        look()
        return done
