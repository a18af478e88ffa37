# -*- test-case-name: tests.test_client_staff -*-
"""
A progress line for C{sip2acs client} while it waits for a server
(C{waiting for host:port... 2 s}), on a terminal only, removed when the
answer arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from sip2acs.tools.client.colour import isTerminal

__all__ = ["Progress"]

_CLEAR = "\r\x1b[K"


class Progress:
    """
    Shows how long the client has been waiting, on a stream that is a
    terminal (standard error), from a thread of its own.

    @ivar enabled: Whether anything is shown (the stream is a terminal).
    @ivar delay: Seconds of waiting before the line appears.
    @ivar interval: Seconds between updates.
    """

    def __init__(
        self, stream: IO[str], enabled: bool, delay: float = 1.0, interval: float = 1.0
    ) -> None:
        self.stream = stream
        self.enabled = enabled
        self.delay = delay
        self.interval = interval

    @classmethod
    def forStream(cls, stream: IO[str]) -> Progress:
        """
        A L{Progress} enabled when C{stream} is a terminal.
        """
        return cls(stream, isTerminal(stream))

    def line(self, what: str, elapsed: float) -> str:
        """
        The progress line after C{elapsed} seconds of waiting for C{what}.
        """
        return "%swaiting for %s... %d s" % (_CLEAR, what, int(elapsed))

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """
        Show the progress line while the block runs (if enabled), and
        remove it when the block ends.

        @param what: What is waited for, e.g. C{127.0.0.1:6001}.
        """
        if not self.enabled:
            yield
            return
        done = threading.Event()
        shown = threading.Event()
        start = time.monotonic()

        def tick() -> None:
            wait = self.delay
            while not done.wait(wait):
                self.stream.write(self.line(what, time.monotonic() - start))
                self.stream.flush()
                shown.set()
                wait = self.interval

        ticker = threading.Thread(target=tick, name="sip2acs-client-progress", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            if shown.is_set():
                self.stream.write(_CLEAR)
                self.stream.flush()
