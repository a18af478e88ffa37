# -*- test-case-name: tests.test_writing -*-
"""
L{writeNow}: an answer goes to the socket at once.

Twisted's C{transport.write} only buffers: it asks the reactor to watch
the socket for writability (an C{epoll_ctl}), the next turn of the reactor
sends, and then stops watching (another C{epoll_ctl}). For a server that
answers one small frame per request that is two system calls and a turn of
the reactor per request. When the connection is plain TCP with nothing
waiting in its buffer, L{writeNow} sends the frame itself; whatever the
socket does not take (or any error) goes through C{transport.write}, so
order, back-pressure and error handling stay Twisted's.
"""

from twisted.internet import tcp
from twisted.internet.interfaces import ITransport

__all__ = ["writeNow"]


def writeNow(transport: ITransport, data: bytes) -> None:
    """
    Write C{data} to C{transport}, sending it at once when the transport is
    an idle plain TCP connection.
    """
    if (
        type(transport) is tcp.Server
        and not transport.dataBuffer
        and not transport._tempDataBuffer
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:
            # Full (BlockingIOError), or broken: Twisted's own write waits,
            # or meets the error and reports it.
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
