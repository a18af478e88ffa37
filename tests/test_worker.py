"""
Tests for L{sip2acs.worker.SerialWorker}.
"""

import threading

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.trial.unittest import TestCase

from sip2acs.worker import SerialWorker


class SerialWorkerTests(TestCase):
    def setUp(self):
        self.worker = SerialWorker(reactor, "test-worker")
        self.worker.start()
        self.addCleanup(self.worker.stop)

    @inlineCallbacks
    def test_inOrderOnItsThread(self):
        """
        Calls run one after another, in the order submitted, on the worker
        thread; results arrive on the reactor thread.
        """
        seen = []

        def call(n):
            seen.append((n, threading.current_thread().name))
            return n * 2

        results = yield gatherResults([self.worker.submit(call, n) for n in range(200)])
        self.assertEqual(results, [n * 2 for n in range(200)])
        self.assertEqual(seen, [(n, "test-worker") for n in range(200)])

    @inlineCallbacks
    def test_failure(self):
        """
        An exception in a call fails its Deferred with it; later calls run.
        """
        d = self.worker.submit(lambda: 1 / 0)
        yield self.assertFailure(d, ZeroDivisionError)
        self.assertEqual((yield self.worker.submit(lambda: "still here")), "still here")

    @inlineCallbacks
    def test_stopAfterPending(self):
        """
        C{stop} lets the calls already submitted finish, then ends the
        thread.
        """
        done = []
        pending = [self.worker.submit(done.append, n) for n in range(5)]
        yield self.worker.stop()
        yield gatherResults(pending)
        self.assertEqual(done, list(range(5)))
        self.assertFalse(self.worker.running)
        self.assertFalse(self.worker._thread.is_alive())
