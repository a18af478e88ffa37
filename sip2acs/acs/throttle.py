# -*- test-case-name: tests.test_access -*-
"""
The cooling-off of a login id at an address after repeated failed logins,
counted before each password check (L{LoginThrottle}), and the throttle of
each listener (L{ListenerThrottles}).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

from sip2acs.acs.addresses import addressKey

if TYPE_CHECKING:
    # For the annotations only: acs/ must not import config/ at run time
    # (tests/test_layers.py).
    from sip2acs.config import ListenerConfig

__all__ = ["ListenerThrottles", "LoginThrottle"]


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

    @ivar limit: Failures that start the cooling-off.
    @ivar period: Seconds: the window failures are counted in, and the
        length of the cooling-off.
    """

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

    def __init__(self, limit: int, period: float, clock: IReactorTime) -> None:
        """
        @param clock: An L{IReactorTime} provider.
        """
        self.limit = limit
        self.period = period
        self.clock = clock
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
        self._wake(key)

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
        return cooling

    def succeeded(self, host: object, login: str | None) -> None:
        """
        The check of an attempt succeeded: give back its slot and forget
        the failures of this login from this address (only).
        """
        key = self._key(host, login)
        self._failures.pop(key, None)
        self._release(key)

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

    def __init__(self, clock: IReactorTime) -> None:
        """
        @param clock: An L{IReactorTime} provider.
        """
        self.clock = clock
        self._throttles: dict[ListenerConfig, LoginThrottle] = {}

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
                listener.access.loginFailuresBeforeCooloff, listener.access.cooloff, self.clock
            )
        return throttle
