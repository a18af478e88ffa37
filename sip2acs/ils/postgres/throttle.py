# -*- test-case-name: tests.test_ils_postgres -*-
"""
The failed logins of every sip2acs instance on one PostgreSQL database:
L{LoginFailures}, the shared store of the login cooling-off (an
L{IThrottleStore <sip2acs.acs.throttle.IThrottleStore>}, which
L{sip2acs.app.tap} declares it to be: this layer knows nothing of
logins), in the table C{login_failures} (schema version 2).

Each read and change runs on one of the adapter's worker threads, as a
serializable transaction of its own, run again after a conflict with
another instance's (L{PostgresStore.atomically
<sip2acs.ils.postgres.store.PostgresStore.atomically>}): concurrent
failures on several instances all count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred

from sip2acs.ils.sql.circulation import Circulation

if TYPE_CHECKING:
    from sip2acs.ils.postgres.adapter import PostgresILS

__all__ = ["LoginFailures"]

Record = tuple[int, float, float, float]
"""
C{(failures, since, coolingUntil, expires)}, see L{ThrottleRecord
<sip2acs.acs.throttle.ThrottleRecord>}.
"""

PRUNE_EVERY = 64
"""
Every this many changes, the rows that expired are deleted.
"""


def _login(login: str | None) -> str:
    """
    The stored login id: C{''} for every login id that is not configured.
    """
    return "" if login is None else login


class LoginFailures:
    """
    The C{login_failures} table of one L{PostgresILS}'s database.
    """

    def __init__(self, ils: PostgresILS) -> None:
        self.ils = ils
        self._changes = 0

    def read(self, scope: str, address: str, login: str | None) -> Deferred[Record | None]:
        """
        The record of C{(address, login)} in C{scope}, or L{None}.
        """
        return self.ils._run(self._readSync, scope, address, _login(login))

    def change(
        self,
        scope: str,
        address: str,
        login: str | None,
        change: Callable[[Record | None], Record | None],
        now: float,
    ) -> Deferred[Record | None]:
        """
        Replace the record by C{change(record)} (L{None}: delete it), in one
        transaction; now and then also delete the rows expired before
        C{now}.
        """
        self._changes += 1
        prune = self._changes % PRUNE_EVERY == 0
        return self.ils._run(
            self._changeSync, scope, address, _login(login), change, now, prune
        )

    def _readSync(self, circulation: Circulation, scope: str, address: str,
                  login: str) -> Record | None:
        store = circulation.store
        return store.atomically(lambda: self._select(circulation, scope, address, login),
                                write=False)

    def _select(self, circulation: Circulation, scope: str, address: str,
                login: str) -> Record | None:
        row = circulation.store.row(
            "SELECT failures, since, cooling_until, expires FROM login_failures"
            " WHERE scope = ? AND address = ? AND login = ?",
            (scope, address, login),
        )
        return None if row is None else (int(row[0]), row[1], row[2], row[3])

    def _changeSync(self, circulation: Circulation, scope: str, address: str,
                    login: str, change: Callable[[Record | None], Record | None],
                    now: float, prune: bool) -> Record | None:
        store = circulation.store

        def body() -> Record | None:
            record = change(self._select(circulation, scope, address, login))
            if record is None:
                store.execute(
                    "DELETE FROM login_failures WHERE scope = ? AND address = ?"
                    " AND login = ?",
                    (scope, address, login),
                )
            else:
                store.execute(
                    "INSERT INTO login_failures (scope, address, login, failures,"
                    " since, cooling_until, expires) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (scope, address, login) DO UPDATE SET"
                    " failures = excluded.failures, since = excluded.since,"
                    " cooling_until = excluded.cooling_until, expires = excluded.expires",
                    (scope, address, login, *record),
                )
            if prune:
                store.execute("DELETE FROM login_failures WHERE expires < ?", (now,))
            return record

        return store.atomically(body)

