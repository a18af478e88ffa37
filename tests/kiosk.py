# -*- test-case-name: tests.test_session,tests.test_protocol -*-
"""
The kiosk side of a test connection, whatever carries it: the bytes an SC
receives, cut into replies at their terminators, and Deferreds for the
replies and the close a test waits for.

L{tests.loopback.SIP2Client} reads them from a real socket,
L{tests.memory.InMemoryKiosk} from a L{StringTransport
<twisted.internet.testing.StringTransport>}.
"""

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from tests.fixtures import TIMEOUT

__all__ = ["ConnectionClosed", "KioskReplies"]


class ConnectionClosed(Exception):
    """
    The server closed the connection while the test waited for replies.
    """


class KioskReplies:
    """
    What an SC has received on one connection.

    @ivar data: Every byte received, as received.
    @ivar frames: Complete replies not yet taken, without their terminator
        (the LF of a CRLF terminator is dropped too).
    @ivar connected: Whether the connection is open.
    @ivar lost: A Deferred firing with L{None} once the connection is
        closed.
    @ivar reactor: The L{IReactorTime} the waits time out on.
    """

    def __init__(self, reactor: IReactorTime) -> None:
        self.reactor = reactor
        self.data = b""
        self.frames: list[bytes] = []
        self.connected = False
        self.lost: Deferred[None] = Deferred()
        self._partial = b""
        self._waiting: list[tuple[int, Deferred[list[bytes]]]] = []

    def _received(self, data: bytes) -> None:
        """
        The server sent C{data}: collect the replies it completes and hand
        them to whoever waits for them.
        """
        self.data += data
        *complete, self._partial = (self._partial + data).split(b"\r")
        for frame in complete:
            if frame.startswith(b"\n"):
                frame = frame[1:]
            self.frames.append(frame)
        self._deliver()

    def _closed(self) -> None:
        """
        The connection is gone: fail every wait for a reply that cannot
        come any more, and fire L{lost}.
        """
        self.connected = False
        waiting, self._waiting = self._waiting, []
        for count, d in waiting:
            d.errback(self._shortOf(count))
        self.lost.callback(None)

    def _shortOf(self, count: int) -> ConnectionClosed:
        return ConnectionClosed(
            "connection closed with %d of %d replies received: %r"
            % (len(self.frames), count, self.data)
        )

    def _take(self, count: int) -> list[bytes]:
        taken, self.frames = self.frames[:count], self.frames[count:]
        return taken

    def _deliver(self) -> None:
        while self._waiting and len(self.frames) >= self._waiting[0][0]:
            count, d = self._waiting.pop(0)
            d.callback(self._take(count))

    def whenReplies(self, count: int = 1, timeout: float = TIMEOUT) -> Deferred[list[bytes]]:
        """
        Wait for the next C{count} replies.

        @return: A Deferred firing with a list of C{count} frames; it fails
            with L{ConnectionClosed} if the server closes first, and with
            L{TimeoutError <twisted.internet.defer.TimeoutError>} after
            C{timeout} seconds (on L{reactor}).
        """
        d: Deferred[list[bytes]] = Deferred()
        if not self.connected:
            d.errback(ConnectionClosed("not connected: %r" % (self.data,)))
            return d
        self._waiting.append((count, d))
        self._deliver()
        return d.addTimeout(timeout, self.reactor)

    def whenClosed(self, timeout: float = TIMEOUT) -> Deferred[None]:
        """
        Wait until the server closes the connection.
        """
        d: Deferred[None] = Deferred()

        def closed(ignored: Any) -> None:
            d.callback(None)

        self.lost.addCallback(closed)
        return d.addTimeout(timeout, self.reactor)
