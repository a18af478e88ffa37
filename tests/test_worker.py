"""
Tests for L{sip2acs.ils.worker.SerialWorker}.
"""

import threading

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, gatherResults, inlineCallbacks
from twisted.trial.unittest import TestCase

from sip2acs.ils.worker import SerialWorker, runEach

TIMEOUT = 5.0


def blocking(result=None):
    """
    A call that, once started, waits for its release.

    @return: C{(the call, its started event, its release event)}; the call
        returns C{result}.
    """
    started = threading.Event()
    release = threading.Event()

    def call():
        started.set()
        release.wait(TIMEOUT)
        return result

    return call, started, release


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
        call, started, release = blocking("done")
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


class GroupTests(TestCase):
    """
    A L{SerialWorker} with a C{group} function (the SQLite adapter's group
    commit).
    """

    def setUp(self):
        self.batches = []
        self.groupEnded = []
        self.postedEarly = []
        self.beforeStart = lambda batch: None
        self.worker = SerialWorker(reactor, "test-group", group=self.group, maxGroup=4)
        self.worker.start()
        self.addCleanup(self.worker.stop)

    def group(self, batch):
        """
        Record the batch's size, run it, and note when it ended.
        """
        self.beforeStart(batch)
        calls = batch.start()
        self.batches.append(len(calls))
        outcomes = runEach(calls)
        # Nothing of this batch has been handed to the reactor yet.
        posted = [value for _, _, value in self.worker._results]
        self.postedEarly.append(any(ok and value in posted for ok, value in outcomes))
        self.groupEnded.append(len(self.batches))
        return outcomes

    def blocked(self):
        """
        Hold the worker thread with a plain call until the returned event
        is set, so that the calls submitted meanwhile wait together.
        """
        hold, started, release = blocking()
        held = self.worker.submit(hold)
        self.assertTrue(started.wait(TIMEOUT))
        return release, held

    @inlineCallbacks
    def test_batchTogether(self):
        """
        Grouped calls waiting together run as one batch, in order, on the
        worker thread; their results are delivered only after the group
        function has returned. More than C{maxGroup} make several batches;
        a failing call fails only its own Deferred.
        """
        release, held = self.blocked()
        seen = []
        ends = []

        def call(n):
            seen.append((n, threading.current_thread().name))
            if n == 2:
                raise ZeroDivisionError()
            return n

        ds = [self.worker.submitGrouped(call, n) for n in range(6)]
        for d in ds:
            d.addBoth(lambda result: ends.append(list(self.groupEnded)) or result)
        release.set()
        yield held
        yield self.assertFailure(ds[2], ZeroDivisionError)
        results = yield gatherResults([d for n, d in enumerate(ds) if n != 2])
        self.assertEqual(results, [0, 1, 3, 4, 5])
        self.assertEqual(seen, [(n, "test-group") for n in range(6)])
        self.assertEqual(self.batches, [4, 2])
        # Each result arrived after its batch's group function returned.
        self.assertEqual(self.postedEarly, [False, False])
        self.assertEqual([len(end) >= (1 if n < 4 else 2) for n, end in enumerate(ends)],
                         [True] * 6)

    @inlineCallbacks
    def test_loneCall(self):
        """
        A grouped call alone is a batch of one.
        """
        self.assertEqual((yield self.worker.submitGrouped(lambda: "alone")), "alone")
        self.assertEqual(self.batches, [1])

    @inlineCallbacks
    def test_plainCallEndsBatch(self):
        """
        A call submitted with C{submit} runs alone, in its turn, between
        the batches of the grouped calls around it.
        """
        release, held = self.blocked()
        order = []
        ds = [self.worker.submitGrouped(order.append, "a"),
              self.worker.submitGrouped(order.append, "b"),
              self.worker.submit(order.append, "plain"),
              self.worker.submitGrouped(order.append, "c")]
        release.set()
        yield gatherResults([held] + ds)
        self.assertEqual(order, ["a", "b", "plain", "c"])
        self.assertEqual(self.batches, [2, 1])

    @inlineCallbacks
    def test_cancelWaitingInBatch(self):
        """
        A grouped call cancelled while it waits is left out of its batch:
        it never runs and fails with L{CancelledError}; the others run
        together.
        """
        release, held = self.blocked()
        ran = []
        ds = [self.worker.submitGrouped(ran.append, n) for n in range(3)]
        ds[1].cancel()
        release.set()
        yield self.assertFailure(ds[1], CancelledError)
        yield gatherResults([held, ds[0], ds[2]])
        self.assertEqual(ran, [0, 2])
        self.assertEqual(self.batches, [2])

    @inlineCallbacks
    def test_cancelStartedBatch(self):
        """
        A call cancelled once its batch has started reports its real
        outcome, after the batch ends.
        """
        first, started, release = blocking("first")
        release0, held = self.blocked()
        d1 = self.worker.submitGrouped(first)
        d2 = self.worker.submitGrouped(lambda: "second")
        release0.set()
        self.assertTrue(started.wait(TIMEOUT))
        d2.cancel()
        release.set()
        self.assertEqual((yield gatherResults([d1, d2])), ["first", "second"])
        self.assertEqual(self.batches, [2])

    @inlineCallbacks
    def test_cancelBeforeStart(self):
        """
        A call cancelled after its batch was taken but before the group
        function started it (while it waits for the database's lock) is
        left out: it fails with L{CancelledError}, and the group runs the
        others.
        """
        waiting, taken, goOn = blocking()
        self.beforeStart = lambda batch: waiting()
        ran = []
        ds = [self.worker.submitGrouped(ran.append, n) for n in range(3)]
        self.assertTrue(taken.wait(TIMEOUT))
        ds[0].cancel()
        goOn.set()
        yield self.assertFailure(ds[0], CancelledError)
        yield gatherResults(ds[1:])
        self.assertEqual(ran, [1, 2])

    @inlineCallbacks
    def failingGroup(self, group):
        """
        Run three grouped calls, as one batch, on a worker whose group
        function is C{group}.

        @return: A Deferred firing with their Deferreds once they ran.
        """
        worker = SerialWorker(reactor, "test-failing-group", group=group)
        worker.start()
        self.addCleanup(worker.stop)
        release = threading.Event()
        held = worker.submit(release.wait, TIMEOUT)
        ds = [worker.submitGrouped(lambda: "done") for _ in range(3)]
        release.set()
        yield held
        return ds

    @inlineCallbacks
    def test_groupFailsBeforeStart(self):
        """
        A group function that raises before it starts its batch (the lock
        never came) fails every call not cancelled with that exception.
        """
        def group(batch):
            raise OSError("database is locked")

        for d in (yield self.failingGroup(group)):
            failure = yield self.assertFailure(d, OSError)
            self.assertEqual(str(failure), "database is locked")

    @inlineCallbacks
    def test_groupFails(self):
        """
        When the group function itself raises (a failed commit), every call
        of the batch fails with that exception, even those whose own part
        succeeded.
        """
        def group(batch):
            runEach(batch.start())
            raise OSError("commit failed")

        for d in (yield self.failingGroup(group)):
            failure = yield self.assertFailure(d, OSError)
            self.assertEqual(str(failure), "commit failed")

    def test_groupNeedsOneThread(self):
        """
        Group commit is for a worker of one thread.
        """
        with self.assertRaises(ValueError):
            SerialWorker(reactor, "none", 2, group=self.group)
        with self.assertRaises(ValueError):
            SerialWorker(reactor, "none", group=self.group, maxGroup=0)

    @inlineCallbacks
    def test_withoutGroup(self):
        """
        Without a group function, grouped calls run one by one like any.
        """
        worker = SerialWorker(reactor, "test-no-group")
        worker.start()
        self.addCleanup(worker.stop)
        self.assertEqual(
            (yield gatherResults([worker.submitGrouped(lambda n=n: n) for n in range(3)])),
            [0, 1, 2])
