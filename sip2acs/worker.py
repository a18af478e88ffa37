# -*- test-case-name: tests.test_worker -*-
"""
A single worker thread for blocking work (SQLite), with cheap hand-offs.

Twisted's L{ThreadPool} is general: every call goes through its team
coordinator, and every result wakes the reactor on its own. The SQLite
adapter needs much less: one thread, calls in order, results back on the
reactor thread. L{SerialWorker} does just that. Calls wait in a deque;
results are collected in a list, and the reactor is woken once for all the
results that finished while it was busy, so under load one wake-up carries
many answers.
"""

import threading
from collections import deque

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

__all__ = ["SerialWorker"]

_STOP = object()


class SerialWorker:
    """
    One thread running submitted calls one after another.

    @ivar name: The thread's name.
    """

    def __init__(self, reactor, name):
        self.name = name
        self._reactor = reactor
        self._calls = deque()
        self._wake = threading.Condition(threading.Lock())
        self._results = []
        self._resultsLock = threading.Lock()
        self._thread = None
        self._stopped = None

    @property
    def running(self):
        """
        Whether the thread accepts calls.
        """
        return self._thread is not None and self._stopped is None

    def start(self):
        """
        Start the thread.
        """
        self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
        self._thread.start()

    def submit(self, function, *args):
        """
        Run C{function(*args)} on the worker thread, after every call
        submitted before it.

        @return: A Deferred firing on the reactor thread with the result, or
            failing with the exception.
        """
        d = Deferred()
        with self._wake:
            self._calls.append((function, args, d))
            self._wake.notify()
        return d

    def stop(self):
        """
        Finish the calls already submitted, then end the thread.

        @return: A Deferred firing when the thread has ended.
        """
        if self._stopped is None:
            self._stopped = self.submit(_STOP)
        return self._stopped

    def _work(self):
        calls = self._calls
        while True:
            with self._wake:
                while not calls:
                    self._wake.wait()
                function, args, d = calls.popleft()
            if function is _STOP:
                self._post(d, True, None)
                return
            try:
                result = (d, True, function(*args))
            except BaseException:
                result = (d, False, Failure())
            self._post(*result)

    def _post(self, d, ok, value):
        with self._resultsLock:
            self._results.append((d, ok, value))
            wake = len(self._results) == 1
        if wake:
            self._reactor.callFromThread(self._deliver)

    def _deliver(self):
        with self._resultsLock:
            results, self._results = self._results, []
        for d, ok, value in results:
            if ok:
                d.callback(value)
            else:
                d.errback(value)
