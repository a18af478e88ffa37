"""
Tests for L{sip2acs.ils.worker.SerialWorker}.
"""

import threading

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, gatherResults, inlineCallbacks
from twisted.trial.unittest import TestCase

from sip2acs.ils.worker import SerialWorker

TIMEOUT = 5.0


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

    @inlineCallbacks
    def test_cancelQueued(self):
        """
        Cancelling a call that still waits in the queue removes it: it never
        runs and its Deferred fails with L{CancelledError}; the calls around
        it run.
        """
        release = threading.Event()
        ran = []
        blocker = self.worker.submit(release.wait, TIMEOUT)
        queued = self.worker.submit(ran.append, "cancelled")
        after = self.worker.submit(ran.append, "after")
        queued.cancel()
        release.set()
        yield self.assertFailure(queued, CancelledError)
        yield gatherResults([blocker, after])
        self.assertEqual(ran, ["after"])

    @inlineCallbacks
    def test_cancelStarted(self):
        """
        A call cancelled after it started cannot be stopped: its Deferred
        fires, when it ends, with its real result, and the callbacks added
        before the cancellation see that result.
        """
        started = threading.Event()
        release = threading.Event()

        def call():
            started.set()
            release.wait(TIMEOUT)
            return "done"

        d = self.worker.submit(call)
        seen = []
        d.addCallback(lambda result: seen.append(result) or result)
        self.assertTrue(started.wait(TIMEOUT))
        d.cancel()
        self.assertEqual(seen, [])
        release.set()
        self.assertEqual((yield d), "done")
        self.assertEqual(seen, ["done"])

    @inlineCallbacks
    def test_cancelStartedFailure(self):
        """
        A started call that fails after its cancellation fails its Deferred
        with its own exception, not L{CancelledError}.
        """
        started = threading.Event()
        release = threading.Event()

        def call():
            started.set()
            release.wait(TIMEOUT)
            raise ZeroDivisionError()

        d = self.worker.submit(call)
        self.assertTrue(started.wait(TIMEOUT))
        d.cancel()
        release.set()
        yield self.assertFailure(d, ZeroDivisionError)


class WorkerThreadsTests(TestCase):
    """
    A L{SerialWorker} of several threads (the PostgreSQL adapter's).
    """

    def setUp(self):
        self.worker = SerialWorker(reactor, "test-workers", 3)
        self.worker.start()
        self.addCleanup(self.worker.stop)

    @inlineCallbacks
    def test_callsRunAtOnce(self):
        """
        Three calls that wait for each other all finish: each runs on its
        own thread, named with its number.
        """
        barrier = threading.Barrier(3, timeout=TIMEOUT)
        names = yield gatherResults([
            self.worker.submit(lambda: (barrier.wait(), threading.current_thread().name)[1])
            for _ in range(3)
        ])
        self.assertEqual(sorted(names), ["test-workers-0", "test-workers-1", "test-workers-2"])

    @inlineCallbacks
    def test_stopEndsEveryThread(self):
        """
        C{stop} finishes the calls submitted, then ends every thread.
        """
        done = []
        pending = [self.worker.submit(done.append, n) for n in range(10)]
        yield self.worker.stop()
        yield gatherResults(pending)
        self.assertEqual(sorted(done), list(range(10)))
        self.assertFalse(any(thread.is_alive() for thread in self.worker._threads))

    def test_atLeastOne(self):
        with self.assertRaises(ValueError):
            SerialWorker(reactor, "none", 0)
