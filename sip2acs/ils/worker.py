# -*- test-case-name: tests.test_worker -*-
"""
Worker threads for blocking work (SQLite, PostgreSQL), with cheap hand-offs.

Twisted's L{ThreadPool} is general: every call goes through its team
coordinator, and every result wakes the reactor on its own. The SQLite
adapter needs much less: one thread, calls in order, results back on the
reactor thread. L{SerialWorker} does just that. Calls wait in a deque;
results are collected in a list, and the reactor is woken once for all the
results that finished while it was busy, so under load one wake-up carries
many answers.

With C{size} threads (the PostgreSQL adapter: one per pooled connection)
the calls are taken from the one queue in order by whichever thread is
free; the SQLite adapter has one, so its calls run one after another.

A submitted call can be cancelled (L{Deferred.cancel}): one still waiting in
the queue never runs; one already running cannot be stopped, so its
Deferred then fires with what the call really did (see L{SerialWorker.submit}).

Group commit (the SQLite adapter): a one-thread worker made with a C{group}
function runs the calls submitted with L{SerialWorker.submitGrouped} in
batches. When the thread finds several such calls waiting at the head of
the queue it takes them all (at most C{maxGroup}) and hands them to
C{group} together as a L{Batch}, which runs them (in one transaction, one
commit); the results of the whole batch are posted to the reactor only
after C{group} has returned. The calls of a batch start only when the
group function says so (L{Batch.start}, once it holds what it waited
for, such as the database's write lock): until then each can still be
cancelled and is then left out. A lone call is a batch of one; a call
submitted with L{SerialWorker.submit} always runs alone, in its turn.
"""

import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, TypeAlias, TypeVar

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorFromThreads
from twisted.python.failure import Failure

__all__ = ["SerialWorker", "Batch", "Outcome", "GroupFunction", "runEach", "MAX_GROUP"]

_T = TypeVar("_T")

Outcome: TypeAlias = tuple[bool, Any]
"""
What one call of a batch did: C{(True, result)} or C{(False, Failure)}.
"""

GroupFunction: TypeAlias = Callable[["Batch"], list[Outcome]]
"""
A worker's C{group}: given a L{Batch}, starts it (L{Batch.start}), runs the
calls it started (each without arguments, in order) and returns their
L{Outcome}s, one for each, in the same order. If it raises, every call of
the batch not cancelled fails with that exception.
"""

MAX_GROUP = 64
"""
The most calls one batch takes, by default.
"""


def runEach(calls: list["partial[Any]"]) -> list[Outcome]:
    """
    Run each call of a batch in turn, catching what it raises: the part of
    a L{GroupFunction} that every group needs.
    """
    outcomes: list[Outcome] = []
    for call in calls:
        try:
            outcomes.append((True, call()))
        except BaseException:
            outcomes.append((False, Failure()))
    return outcomes


def _STOP() -> None:
    """
    The sentinel call that ends a worker thread (compared by identity,
    never called).
    """


class Batch:
    """
    The calls a L{GroupFunction} is given.

    @ivar calls: Every call taken, as a L{functools.partial} of the
        function and arguments submitted (to look at: C{.func},
        C{.args}); some may be cancelled before L{start}.
    """

    def __init__(self, lock: threading.Condition, calls: "list[_Call]") -> None:
        self._lock = lock
        self._calls = calls
        self.calls = [partial(call.function, *call.args) for call in calls]
        self.started: list[_Call] | None = None

    def start(self) -> list["partial[Any]"]:
        """
        Start the calls not cancelled by now: from here they cannot be
        withdrawn, and each reports its real outcome. Call it once.

        @return: Those calls, in order.
        """
        with self._lock:
            live = [(call, p) for call, p in zip(self._calls, self.calls, strict=True)
                    if not call.cancelled]
            for call, _ in live:
                call.started = True
        self.started = [call for call, _ in live]
        return [p for _, p in live]


class _AlreadyStarted(Exception):
    """
    Private: a call was cancelled after the worker had started it.
    """


class _Call:
    """
    One submitted call and its state, shared by the reactor thread and the
    worker thread (C{started} and C{cancelled} change under the worker's
    lock).

    @ivar deferred: The Deferred L{SerialWorker.submit} returned.
    @ivar later: After a cancellation of the started call, the Deferred
        that brings its real outcome back into C{deferred}'s chain.
    @ivar grouped: Whether it may run in a batch (L{SerialWorker.submitGrouped}).
    """

    __slots__ = ("function", "args", "deferred", "started", "cancelled", "later",
                 "grouped")

    # Set by SerialWorker.submit right after the call is made (its
    # canceller needs the call).
    deferred: Deferred[Any]

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...],
                 grouped: bool = False) -> None:
        self.function = function
        self.args = args
        self.grouped = grouped
        self.started = False
        self.cancelled = False
        self.later: Deferred[Any] | None = None


class SerialWorker:
    """
    Threads (one by default) running submitted calls in order.

    @ivar name: The thread's name (with C{-N} added when there are more).
    @ivar size: How many threads.
    """

    def __init__(self, reactor: IReactorFromThreads, name: str, size: int = 1,
                 group: GroupFunction | None = None, maxGroup: int = MAX_GROUP) -> None:
        """
        @param reactor: Where the results are delivered.
        @param name: The thread's name.
        @param size: How many threads.
        @param group: What runs a batch of the calls submitted with
            L{submitGrouped} (see L{GroupFunction}); only with one thread.
            Without it, such calls run alone, like L{submit}'s.
        @param maxGroup: The most calls in one batch.
        @raise ValueError: On no thread, a C{group} with more than one,
            or a C{maxGroup} below 1.
        """
        if size < 1:
            raise ValueError("a worker needs at least one thread")
        if group is not None and size != 1:
            raise ValueError("group commit needs a worker of one thread")
        if maxGroup < 1:
            raise ValueError("a group holds at least one call")
        self.name = name
        self.size = size
        self._group = group
        self._maxGroup = maxGroup
        self._threads: list[threading.Thread] = []
        self._reactor = reactor
        self._calls: deque[_Call] = deque()
        self._wake = threading.Condition(threading.Lock())
        self._results: list[tuple[_Call, bool, Any]] = []
        self._resultsLock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped: Deferred[Any] | None = None

    @property
    def running(self) -> bool:
        """
        Whether the thread accepts calls.
        """
        return self._thread is not None and self._stopped is None

    def start(self) -> None:
        """
        Start the threads.
        """
        for index in range(self.size):
            name = self.name if self.size == 1 else "%s-%d" % (self.name, index)
            thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        self._thread = self._threads[0]

    def submit(self, function: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """
        Run C{function(*args)} on the worker thread, after every call
        submitted before it.

        Cancelling the returned Deferred:

          - while the call still waits in the queue removes it: it never
            runs, and the Deferred fails with L{CancelledError
            <twisted.internet.defer.CancelledError>};
          - once the call has started, it cannot be stopped: the Deferred
            then fires, when the call ends, with its real result or
            exception, exactly as if it had not been cancelled. (A
            Deferred always fires when cancelled, so internally it fires
            with a private failure that the first errback, added here,
            replaces with a second Deferred fired with the real outcome:
            the callbacks added by the caller wait for that.)

        @return: A Deferred firing on the reactor thread with the result, or
            failing with the exception.
        """
        return self._submit(_Call(function, args))

    def submitGrouped(self, function: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """
        Like L{submit}, but C{function(*args)} may run in a batch with the
        other grouped calls waiting next to it in the queue, by the
        worker's C{group} function: its Deferred fires after the whole
        batch has ended (for the SQLite adapter: is committed).
        Cancelling it works as with L{submit}: a call still waiting is
        left out of its batch; one whose batch has started reports its
        real outcome.
        """
        return self._submit(_Call(function, args, grouped=True))

    def _submit(self, call: _Call) -> Deferred[Any]:
        d: Deferred[Any] = Deferred(lambda d: self._cancel(call))
        call.deferred = d
        d.addErrback(self._ebStarted, call)
        with self._wake:
            self._calls.append(call)
            self._wake.notify()
        return d

    def _cancel(self, call: _Call) -> None:
        """
        The canceller of C{call}'s Deferred (on the reactor thread).
        """
        with self._wake:
            if not call.started:
                # The worker skips it; Deferred.cancel fails it with
                # CancelledError.
                call.cancelled = True
                return
        call.later = Deferred()
        call.deferred.errback(Failure(_AlreadyStarted()))

    @staticmethod
    def _ebStarted(failure: Failure, call: _Call) -> Deferred[Any] | None:
        failure.trap(_AlreadyStarted)
        return call.later

    def stop(self) -> Deferred[Any]:
        """
        Finish the calls already submitted, then end the threads.

        @return: A Deferred firing when every thread has ended.
        """
        if self._stopped is None:
            stops = [self.submit(_STOP) for _ in range(max(len(self._threads), 1))]
            stopped = stops[0] if len(stops) == 1 else gatherResults(stops)
            self._stopped = stopped.addCallback(self._joined)
        return self._stopped

    def _joined(self, result: Any) -> Any:
        """
        Every thread has taken its stop call: wait for each to return (it
        posted that answer as its last step, so this is at once), so that
        a stopped worker has no thread alive.
        """
        for thread in self._threads:
            thread.join()
        return result

    def _take(self) -> list[_Call]:
        """
        On the worker thread: wait for the next call that is not cancelled
        and take it, with the grouped calls waiting right behind it when it
        is one of them and there is a C{group} function (at most
        C{maxGroup} in all; cancelled ones are dropped). A call taken alone
        is started; a batch is started by its group function (L{Batch}).
        """
        calls = self._calls
        with self._wake:
            while True:
                while not calls:
                    self._wake.wait()
                call = calls.popleft()
                if not call.cancelled:
                    break
            batch = [call]
            if not call.grouped or self._group is None:
                call.started = True
                return batch
            while calls and len(batch) < self._maxGroup and calls[0].grouped:
                call = calls.popleft()
                if not call.cancelled:
                    batch.append(call)
        return batch

    def _work(self) -> None:
        while True:
            batch = self._take()
            call = batch[0]
            if call.function is _STOP:
                self._post([(call, True, None)])
                return
            if not call.grouped or self._group is None:
                try:
                    result = (call, True, call.function(*call.args))
                except BaseException:
                    result = (call, False, Failure())
                self._post([result])
            else:
                self._post(self._runGroup(self._group, Batch(self._wake, batch)))

    @staticmethod
    def _runGroup(group: GroupFunction, batch: Batch) -> list[tuple[_Call, bool, Any]]:
        """
        Run a batch through C{group}: the outcomes of the calls it started,
        or, if it raised or did not answer for each, that failure for every
        call of the batch not cancelled.
        """
        try:
            outcomes = group(batch)
            if batch.started is None:
                raise RuntimeError("the group function did not start its batch")
            if len(outcomes) != len(batch.started):
                raise RuntimeError(
                    "the group function gave %d outcomes for %d calls"
                    % (len(outcomes), len(batch.started))
                )
        except BaseException:
            failure = Failure()
            if batch.started is None:
                batch.start()
            assert batch.started is not None
            return [(call, False, failure) for call in batch.started]
        return [(call, ok, value)
                for call, (ok, value) in zip(batch.started, outcomes, strict=True)]

    def _post(self, results: list[tuple[_Call, bool, Any]]) -> None:
        with self._resultsLock:
            wake = not self._results
            self._results.extend(results)
        if wake:
            self._reactor.callFromThread(self._deliver)

    def _deliver(self) -> None:
        with self._resultsLock:
            results, self._results = self._results, []
        for call, ok, value in results:
            # Cancelled after it started: the real outcome goes to the
            # Deferred its chain waits on.
            d = call.later if call.later is not None else call.deferred
            if ok:
                d.callback(value)
            else:
                d.errback(value)
