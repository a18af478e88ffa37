# -*- test-case-name: tests.test_access -*-
"""
The cooling-off of a login id at an address after repeated failed logins,
counted before each password check (L{LoginThrottle}), and the throttle of
each listener (L{ListenerThrottles}).

Each process counts in memory. Where several instances serve one library
(behind a load balancer), they also count in a shared L{IThrottleStore}
(the institution's PostgreSQL database: L{sip2acs.app.tap} gives it), so
that failures on one instance count on the others: each attempt first
reads the shared count, and each failure or success is written to it.
L{MemoryThrottleStore} is the same seam in one process (for tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from sip2acs.acs.addresses import addressKey

if TYPE_CHECKING:
    # For the annotations only: acs/ must not import config/ at run time
    # (tests/test_layers.py).
    from sip2acs.config import ListenerConfig

__all__ = [
    "IThrottleStore",
    "ListenerThrottles",
    "LoginThrottle",
    "MemoryThrottleStore",
    "ThrottleRecord",
]


def _loginKey(login: str | None) -> str | None:
    """
    The key one login id is counted under: itself, or a digest of it when
    it is too long to keep (so a flood of huge login ids costs no memory).
    L{None} stands for every login id that is not configured.
    """
    if login is None or len(login) <= 64:
        return login
    return "sha256:" + hashlib.sha256(login.encode("utf-8", "replace")).hexdigest()


_Key = tuple[str, str | None]
"""
What L{LoginThrottle} counts under: the address's key and the login's.
"""

ThrottleRecord = tuple[int, float, float, float]
"""
What an L{IThrottleStore} keeps of one (address, login): C{(failures,
since, coolingUntil, expires)}: the failures counted in the window that
began at C{since}, the end of a cooling-off (0 for none), and when the
record means nothing any more (both have ended). Times are seconds since
the epoch, on the instances' clocks.
"""


class IThrottleStore(Interface):
    """
    Where the failed logins of several instances are counted together. A
    record is kept per scope (the cooling-off settings: listeners with the
    same settings share their counts), address key and login key (L{None}:
    every login id that is not configured). Blocking work happens off the
    reactor thread; the Deferreds fire on it.
    """

    def read(scope: str, address: str, login: str | None) -> Deferred[ThrottleRecord | None]:
        """
        The record of C{(address, login)}, or L{None}.
        """

    def change(
        scope: str,
        address: str,
        login: str | None,
        change: Callable[[ThrottleRecord | None], ThrottleRecord | None],
        now: float,
    ) -> Deferred[ThrottleRecord | None]:
        """
        Replace the record of C{(address, login)} by C{change(record)}
        (L{None}: delete it) as one atomic step, so that concurrent
        changes from several instances all count. Records that expired
        before C{now} may be forgotten meanwhile.

        @return: A Deferred firing with the new record.
        """


def _afterFailure(now: float, limit: int, period: float,
                  record: ThrottleRecord | None) -> ThrottleRecord | None:
    """
    C{record} after one more failure at C{now}: counted in the window, or
    starting a cooling-off (the count then starts afresh).
    """
    failures, since, cooling = (0, now, 0.0) if record is None else record[:3]
    if now - since >= period:
        failures, since = 0, now
    failures += 1
    if failures >= limit:
        return (0, now, now + period, now + period)
    return (failures, since, cooling, max(since + period, cooling))


def _afterSuccess(now: float, record: ThrottleRecord | None) -> ThrottleRecord | None:
    """
    C{record} after a successful login: no failures, a cooling-off kept.
    """
    if record is None or record[2] <= now:
        return None
    return (0, now, record[2], record[2])


@implementer(IThrottleStore)
class MemoryThrottleStore:
    """
    An L{IThrottleStore} in memory: several L{LoginThrottle}s of one
    process sharing their counts (for tests; one instance needs none).
    """

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str | None], ThrottleRecord] = {}

    def read(self, scope: str, address: str, login: str | None) -> Deferred[ThrottleRecord | None]:
        return succeed(self.records.get((scope, address, login)))

    def change(
        self,
        scope: str,
        address: str,
        login: str | None,
        change: Callable[[ThrottleRecord | None], ThrottleRecord | None],
        now: float,
    ) -> Deferred[ThrottleRecord | None]:
        key = (scope, address, login)
        record = change(self.records.get(key))
        if record is None:
            self.records.pop(key, None)
        else:
            self.records[key] = record
        for stale in [k for k, r in self.records.items() if r[3] < now]:
            del self.records[stale]
        return succeed(record)


class LoginThrottle:
    """
    Counts login attempts per (address, login) and refuses a login id from
    an address that failed too often: after C{limit} failures, each within
    C{period} seconds of the first, that login id is refused from that
    address for C{period} seconds.

    Each attempt takes a slot before its password is checked (L{attempt}),
    and the slot is given back when the check ends (L{succeeded},
    L{failed}, L{released}). While the failures and the checks in progress
    add up to C{limit}, further attempts wait, and are refused unchecked
    if those checks start a cooling-off: parallel guesses cannot outrun
    the count, and parallel good logins (a fleet of kiosks reconnecting)
    are only queued. A successful login clears the
    failures of its own login id only: another login from the same address
    (a kiosk sharing a NAT address with an attacker) never clears them.

    With a C{shared} L{IThrottleStore}, each attempt first reads the
    shared record (the failures and cooling-off of every instance) and
    takes the larger count, and each failure and success is written to it
    as well. The slots stay per process. A shared store that cannot be
    reached is logged, and the counts of this process go on alone.

    @ivar limit: Failures that start the cooling-off.
    @ivar period: Seconds: the window failures are counted in, and the
        length of the cooling-off.
    @ivar shared: The L{IThrottleStore}, or L{None}.
    @ivar scope: What this throttle's records are kept under in C{shared}.
    """

    log = Logger()

    MAX_TRACKED = 100000
    """
    (Address, login) pairs remembered at most; beyond, stale entries are
    dropped first and then the oldest.
    """

    MAX_WAITING = 1000
    """
    Attempts that may wait for a slot of one (address, login); more are
    refused.
    """

    def __init__(self, limit: int, period: float, clock: IReactorTime,
                 shared: IThrottleStore | None = None, scope: str | None = None) -> None:
        """
        @param clock: An L{IReactorTime} provider.
        @param shared: Where other instances count too, or L{None}.
        @param scope: The key of the records in C{shared}: by default the
            settings, so that throttles with the same ones share counts.
        """
        self.limit = limit
        self.period = period
        self.clock = clock
        self.shared = shared
        self.scope = scope if scope is not None else "%d/%g" % (limit, period)
        self._sharedFailing = False
        self._writing: list[Deferred[Any]] = []
        self._failures: dict[_Key, tuple[int, float]] = {}
        self._cooling: dict[_Key, float] = {}
        self._checking: dict[_Key, int] = {}
        self._waiting: dict[_Key, list[Deferred[str | None]]] = {}

    def _key(self, host: object, login: str | None) -> _Key:
        return (addressKey(host), _loginKey(login))

    def _failureCount(self, key: _Key, now: float) -> tuple[int, float]:
        count, since = self._failures.get(key, (0, now))
        if now - since >= self.period:
            return 0, now
        return count, since

    def attempt(self, host: object, login: str | None) -> Deferred[str | None]:
        """
        Take a slot to check a login from C{host} as C{login}; give it back
        with L{succeeded}, L{failed} or L{released}. While the failures and
        the checks in progress add up to C{limit}, the attempt waits for a
        slot (its check would decide nothing more), and is refused if the
        checks in progress end in a cooling-off.

        @return: A L{Deferred} firing with L{None} once the slot is taken
            and the password may be checked (at once when one is free), or
            with why not, as text.
        """
        key = self._key(host, login)
        if self.shared is None:
            return self._attempt(key)
        d = self.shared.read(self.scope, *key)
        d.addCallbacks(self._merge, self._sharedFailed, callbackArgs=(key,))
        return d.addCallback(lambda _: self._attempt(key))

    def _attempt(self, key: _Key) -> Deferred[str | None]:
        refusal = self._refusal(key)
        if refusal is not None:
            return succeed(refusal)
        waiting = self._waiting.get(key)
        if waiting is None and self._take(key):
            return succeed(None)
        if waiting is None:
            waiting = self._waiting[key] = []
        if len(waiting) >= self.MAX_WAITING:
            return succeed("too many logins waiting for the ones being checked")
        d: Deferred[str | None] = Deferred()
        waiting.append(d)
        return d

    def _refusal(self, key: _Key) -> str | None:
        until = self._cooling.get(key)
        if until is None:
            return None
        now = self.clock.seconds()
        if until > now:
            return "cooling off after repeated failed logins (%.0f s left)" % (
                until - now,
            )
        del self._cooling[key]
        return None

    def _take(self, key: _Key) -> bool:
        count, since = self._failureCount(key, self.clock.seconds())
        checking = self._checking.get(key, 0)
        if count + checking >= self.limit:
            return False
        self._checking[key] = checking + 1
        return True

    def _wake(self, key: _Key) -> None:
        """
        A slot of C{key} was given back: let waiting attempts go on, or
        refuse them all if C{key} is cooling off now.
        """
        waiting = self._waiting.get(key)
        while waiting:
            refusal = self._refusal(key)
            if refusal is not None:
                del self._waiting[key]
                for d in waiting:
                    d.callback(refusal)
                return
            if not self._take(key):
                return
            waiting.pop(0).callback(None)
        self._waiting.pop(key, None)

    def released(self, host: object, login: str | None) -> None:
        """
        Give back the slot of an attempt whose check could not be made.
        """
        self._release(self._key(host, login))

    def _release(self, key: _Key) -> None:
        left = self._checking.get(key, 0) - 1
        if left > 0:
            self._checking[key] = left
        else:
            self._checking.pop(key, None)
        if self.shared is None or not self._waiting.get(key):
            self._wake(key)
            return
        # Attempts wait: see first whether another instance started a
        # cooling-off meanwhile.
        d = self.shared.read(self.scope, *key)
        d.addCallbacks(self._merge, self._sharedFailed, callbackArgs=(key,))
        d.addCallback(lambda _: self._wake(key))

    def failed(self, host: object, login: str | None) -> bool:
        """
        The check of an attempt failed: give back its slot and count the
        failure.

        @return: C{True} when this failure starts the cooling-off.
        """
        key = self._key(host, login)
        now = self.clock.seconds()
        count, since = self._failureCount(key, now)
        count += 1
        cooling = count >= self.limit
        if cooling:
            self._failures.pop(key, None)
            self._cooling[key] = now + self.period
        else:
            self._failures[key] = (count, since)
        self._prune(now)
        self._release(key)
        self._share(key, partial(_afterFailure, now, self.limit, self.period), now)
        return cooling

    def succeeded(self, host: object, login: str | None) -> None:
        """
        The check of an attempt succeeded: give back its slot and forget
        the failures of this login from this address (only).
        """
        key = self._key(host, login)
        self._failures.pop(key, None)
        self._release(key)
        now = self.clock.seconds()
        self._share(key, partial(_afterSuccess, now), now)

    # The shared store

    def _share(self, key: _Key,
               change: Callable[[ThrottleRecord | None], ThrottleRecord | None],
               now: float) -> None:
        """
        Apply C{change} to the shared record of C{key}, if there is a
        shared store, and take in what it then holds.
        """
        if self.shared is None:
            return
        d = self.shared.change(self.scope, *key, change, now)
        d.addCallbacks(self._merge, self._sharedFailed, callbackArgs=(key,))
        self._writing.append(d)
        d.addBoth(self._written, d)

    def _written(self, result: object, d: Deferred[Any]) -> object:
        self._writing.remove(d)
        return result

    def settled(self) -> Deferred[Any]:
        """
        A Deferred firing once the writes to the shared store begun so far
        are done (for tests).
        """
        return gatherResults(list(self._writing))

    def _merge(self, record: ThrottleRecord | None, key: _Key) -> None:
        """
        Take in the shared record of C{key}: a cooling-off it holds, or
        its failures when they are more than this process counted (they
        include this process's own, as every failure is written there).
        """
        if self._sharedFailing:
            self._sharedFailing = False
            self.log.info("the shared login failure counts can be used again")
        if record is None:
            return
        failures, since, cooling, _expires = record
        now = self.clock.seconds()
        if cooling > now:
            if cooling > self._cooling.get(key, 0):
                self._cooling[key] = cooling
                self._failures.pop(key, None)
                self._wake(key)
            return
        if now - since < self.period and failures > self._failureCount(key, now)[0]:
            self._failures[key] = (failures, since)
            self._prune(now)

    def _sharedFailed(self, failure: Failure) -> None:
        """
        The shared store failed: say so once, and count in this process.
        """
        if not self._sharedFailing:
            self._sharedFailing = True
            self.log.warn(
                "the shared login failure counts cannot be used ({reason});"
                " this instance counts failed logins alone until they can",
                reason=failure.getErrorMessage(),
            )

    def _prune(self, now: float) -> None:
        if len(self._failures) + len(self._cooling) <= self.MAX_TRACKED:
            return
        for key, (_count, since) in list(self._failures.items()):
            if now - since >= self.period:
                del self._failures[key]
        for key, until in list(self._cooling.items()):
            if until <= now:
                del self._cooling[key]
        while len(self._failures) > self.MAX_TRACKED // 2:
            del self._failures[next(iter(self._failures))]


class ListenerThrottles:
    """
    The L{LoginThrottle} of each listener with a cooling-off, made when it
    is first needed. It outlives configuration reloads: a listener whose
    settings did not change keeps its counts.
    """

    def __init__(self, clock: IReactorTime, shared: IThrottleStore | None = None) -> None:
        """
        @param clock: An L{IReactorTime} provider.
        @param shared: Where other instances count too, or L{None}.
        """
        self.clock = clock
        self.shared = shared
        self._throttles: dict[ListenerConfig, LoginThrottle] = {}

    def share(self, shared: IThrottleStore | None) -> None:
        """
        Count in C{shared} from now on (L{None}: in this process only),
        with every throttle.
        """
        self.shared = shared
        for throttle in self._throttles.values():
            throttle.shared = shared

    def forListener(self, listener: ListenerConfig | None) -> LoginThrottle | None:
        """
        The L{LoginThrottle} of C{listener}, a L{ListenerConfig
        <sip2acs.config.ListenerConfig>}, or L{None} if it has no
        cooling-off (or is L{None}).
        """
        if listener is None or not listener.access.loginFailuresBeforeCooloff:
            return None
        throttle = self._throttles.get(listener)
        if throttle is None:
            throttle = self._throttles[listener] = LoginThrottle(
                listener.access.loginFailuresBeforeCooloff, listener.access.cooloff,
                self.clock, self.shared,
            )
        return throttle
