# -*- test-case-name: tests.test_bench -*-
"""
Loopback ports for the programs the tools start themselves (the bench's
servers, a throwaway PostgreSQL cluster; the tests' HAProxy): a port free
now, and whether something accepts connections on one.
"""

import socket
from collections.abc import Iterable

__all__ = ["accepts", "freePort"]


def freePort(avoid: Iterable[int] = ()) -> int:
    """
    A loopback TCP port free at the moment, other than those in C{avoid}
    (ports already chosen for another listener, not bound yet). Another
    program could take it before the one it is for binds it; that program
    then fails to start, saying so.
    """
    avoid = set(avoid)
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in avoid:
            return port


def accepts(port: int) -> bool:
    """
    Whether something accepts TCP connections on loopback C{port}.
    """
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
