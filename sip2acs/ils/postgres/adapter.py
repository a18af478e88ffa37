# -*- test-case-name: tests.test_ils_postgres -*-
"""
The adapter of the circulation system on PostgreSQL: an L{IILS
<sip2acs.ils.interfaces.IILS>} whose data lives in a PostgreSQL database
that several sip2acs instances may share.

L{PostgresILS} is a L{Service}. C{startService} starts its worker threads
(a L{SerialWorker} of C{pool-size} threads, named
C{PoolThread-sip2acs-postgres-N}) and, on one of them, connects, applies
the migrations (L{sip2acs.ils.postgres.store.migrate}) and opens a bounded
psycopg pool of as many connections. Every operation then runs on a worker
thread as one transaction of the shared circulation rules
(L{sip2acs.ils.sql.circulation}) on a L{PostgresStore
<sip2acs.ils.postgres.store.PostgresStore>} of that thread: serializable,
run again when PostgreSQL aborts it for a concurrent one, committed before
its Deferred fires. Nothing touches the database from the reactor thread.

A database that cannot be reached fails the operation with L{DatabaseError
<sip2acs.ils.sql.store.DatabaseError>} (an L{ILSUnavailable
<sip2acs.ils.base.ILSUnavailable>}: the kiosk is told the system is not
available) with a sentence naming the database and the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger, LogLevel

from sip2acs.ils.base import ILSBase, UnknownSettings
from sip2acs.ils.interfaces import OPERATIONS, SESSION_OPERATIONS
from sip2acs.ils.postgres.store import Location, PostgresStore, explained, migrate
from sip2acs.ils.postgres.throttle import LoginFailures
from sip2acs.ils.sql.circulation import Circulation
from sip2acs.ils.sql.rules import SortBins
from sip2acs.ils.sql.service import CirculationCalls
from sip2acs.ils.sql.store import DatabaseError
from sip2acs.ils.worker import SerialWorker
from sip2acs.ils.zones import HOST_ZONE

__all__ = ["PostgresILS", "POOL_NAME"]

POOL_NAME = "PoolThread-sip2acs-postgres"
"""
The name of the worker threads (C{-N} added to each).
"""

POOL_SIZE = 4
"""
Connections (and worker threads) by default.
"""

CONNECT_TIMEOUT = 10.0
"""
Seconds to wait for a connection (a new one, or a free one from the pool).
"""


_poolLog = Logger(namespace="sip2acs.ils.postgres.pool")


class PoolWarnings(logging.Handler):
    """
    psycopg_pool's warnings (a connection found closed or broken and
    discarded, a failed attempt to connect), which it gives to Python's
    C{logging}, into the Twisted log with the rest of sip2acs's lines,
    instead of standard error. Its chatty C{INFO} lines (each connection
    lent and returned) are left out.
    """

    def __init__(self, reactor: Any = None) -> None:
        logging.Handler.__init__(self, logging.WARNING)
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor

    def emit(self, record: logging.LogRecord) -> None:
        """
        Log C{record} on the reactor thread (the pool's threads emit it).
        """
        self.reactor.callFromThread(
            _poolLog.emit, LogLevel.warn,
            "PostgreSQL connection pool: {text}", text=record.getMessage(),
        )

    @classmethod
    def install(cls, reactor: Any = None) -> None:
        """
        Route the C{psycopg.pool} logger's warnings here, once per process.
        """
        logger = logging.getLogger("psycopg.pool")
        if not any(isinstance(h, cls) for h in logger.handlers):
            logger.addHandler(cls(reactor))
            logger.setLevel(logging.WARNING)
            logger.propagate = False


class PostgresILS(CirculationCalls, ILSBase, Service):
    """
    The circulation system on PostgreSQL, as a service.

    @ivar location: Where the database is (L{Location}).
    @ivar poolSize: How many connections, and worker threads.
    """

    log = Logger()
    # Service.name is unannotated in Twisted (so typed None).
    name: str  # type: ignore[assignment]

    operations = frozenset(OPERATIONS) - SESSION_OPERATIONS

    def __init__(self, location: Location | str, reactor: Any = None, *,
                 poolSize: int = POOL_SIZE, allowOverpayment: bool = False,
                 sortBins: SortBins | Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 zone: tzinfo | None = None,
                 timeout: float = CONNECT_TIMEOUT) -> None:
        """
        @param location: The database: a L{Location}, or its URL.
        @param reactor: The reactor the results are delivered on.
        @param poolSize: How many connections (and worker threads).
        @param allowOverpayment: Accept payments over what is owed.
        @param sortBins: The checkin sort bin mapping, see L{SortBins}.
        @param clock: A function returning the time now (aware, or naive
            wall time in C{zone}); the real time in C{zone} by default.
        @param zone: The institution's time zone (see
            L{sip2acs.ils.zones}); the host's by default.
        @param timeout: Seconds to wait for a connection.
        @raise ValueError: On a bad URL, pool size or C{sortBins}.
        """
        if reactor is None:
            from twisted.internet import reactor
        if isinstance(location, str):
            location = Location.fromURL(location)
        if not (isinstance(poolSize, int) and 1 <= poolSize <= 1000):
            raise ValueError("pool-size must be a whole number from 1 to 1000")
        self.location = location
        self.poolSize = poolSize
        self.name = "postgresql:%s" % (location.url,)
        self._reactor = reactor
        self._allowOverpayment = allowOverpayment
        self._sortBins = sortBins if isinstance(sortBins, SortBins) else SortBins(sortBins)
        self._zone = zone if zone is not None else HOST_ZONE
        # The store's clock: None for the real one, which it reads cheaply.
        self._clock = clock
        self._timeout = timeout
        self._workers: SerialWorker | None = None
        self._pool: ConnectionPool | None = None
        self._local = threading.local()
        self._stores: list[PostgresStore] = []
        self._loginFailures: LoginFailures | None = None

    @classmethod
    def fromConfig(cls, config: Mapping[str, Any], reactor: Any,
                   zone: tzinfo | None = None) -> PostgresILS:
        """
        Build from an institution's adapter options.

        Keys: C{database} (a C{postgresql://user@host:port/dbname} URL,
        without a password), C{database-password-file} (a file whose first
        line is the password; without it libpq looks in C{PGPASSWORD},
        C{~/.pgpass} and service files), C{pool-size} (connections, 4 by
        default), C{allow-overpayment} (bool), C{sort-bins} (table). C{type}
        is ignored; other keys are errors.

        @raise ValueError: On an unknown key or a bad value.
        """
        known = {"type", "database", "database-password-file", "pool-size",
                 "allow-overpayment", "sort-bins"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise UnknownSettings("postgresql ILS", unknown, known - {"type"})
        if not isinstance(config.get("allow-overpayment", False), bool):
            raise ValueError("allow-overpayment must be true or false")
        passwordFile = config.get("database-password-file")
        if passwordFile is not None and not isinstance(passwordFile, str):
            raise ValueError("database-password-file must be a file name")
        sortBins = config.get("sort-bins", {})
        if not isinstance(sortBins, dict):
            raise ValueError("sort-bins must be a table")
        return cls(
            Location.fromURL(str(config.get("database", "")), passwordFile),
            reactor,
            poolSize=config.get("pool-size", POOL_SIZE),
            allowOverpayment=config.get("allow-overpayment", False),
            sortBins=sortBins,
            zone=zone,
        )

    # The service

    def startService(self) -> Deferred:
        """
        Start the worker threads; on one of them, connect, migrate and
        open the pool.

        @return: A Deferred firing when the database is ready, or failing
            with L{DatabaseError} saying why it cannot be used.
        """
        Service.startService(self)
        PoolWarnings.install(self._reactor)
        self._workers = SerialWorker(self._reactor, POOL_NAME, self.poolSize)
        self._workers.start()
        return self._defer(self._openSync)

    def stopService(self) -> Deferred:
        """
        Close the pool on a worker thread, then stop the threads.
        """
        Service.stopService(self)
        workers, self._workers = self._workers, None
        if workers is None:
            return succeed(None)
        d = workers.submit(self._closeSync)
        return d.addBoth(lambda result: workers.stop().addCallback(lambda _: result))

    def _openSync(self) -> None:
        try:
            with self.location.connect(self._timeout) as conn:
                found = migrate(conn)
        except psycopg.Error as e:
            known = explained(e, self.location)
            if known is None:
                raise
            raise known from e
        if found == 0:
            self._reactor.callFromThread(
                self.log.info, "created the sip2acs tables in {url}", url=self.location.url
            )
        pool = ConnectionPool(
            self.location.url,
            kwargs=self.location.connectArguments(self._timeout),
            min_size=1,
            max_size=self.poolSize,
            timeout=self._timeout,
            name=self.name,
            open=False,
        )
        pool.open(wait=False)
        self._pool = pool

    def _closeSync(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _defer(self, function: Callable[..., Any], *args: Any) -> Deferred:
        if self._workers is None:
            return fail(DatabaseError("the PostgreSQL ILS is not running"))
        return self._workers.submit(function, *args)

    # Operations

    def _circulation(self) -> Circulation:
        """
        This worker thread's circulation facade, on a store of its own.
        """
        if self._pool is None:
            raise DatabaseError("the database %s is not open" % (self.location.url,))
        circulation: Circulation | None = getattr(self._local, "circulation", None)
        if circulation is None or circulation.store.pool is not self._pool:  # type: ignore[attr-defined]
            store = PostgresStore(self._pool, self.location, self._clock, self._zone)
            self._stores.append(store)
            circulation = Circulation(store, self._sortBins, self._allowOverpayment)
            self._local.circulation = circulation
        return circulation

    def _run(self, method: Any, *args: Any) -> Deferred:
        """
        Call C{method} of the L{Circulation} on a worker thread.
        """
        return self._defer(self._callSync, method, args)

    def _callSync(self, method: Any, args: tuple[Any, ...]) -> Any:
        try:
            return method(self._circulation(), *args)
        except psycopg.Error as e:
            known = explained(e, self.location)
            if known is None:
                raise
            raise known from e

    def healthCheck(self) -> Deferred:
        """
        Whether the database answers: a C{SELECT 1} on a pooled connection,
        on a worker thread.

        @return: A Deferred firing with L{None}, or failing with
            L{DatabaseError} saying why.
        """
        return self._defer(self._callSync, _selectOne, ())

    def loginFailures(self) -> LoginFailures:
        """
        The failed logins of every instance on this database (see
        L{sip2acs.ils.postgres.throttle}), read and written on this
        adapter's worker threads.
        """
        if self._loginFailures is None:
            self._loginFailures = LoginFailures(self)
        return self._loginFailures

    def counts(self) -> dict[str, int]:
        """
        Transactions tried, retried after a conflict, and begun again on
        a new connection after finding one closed, by every worker thread
        so far (for tests and the log).
        """
        return {
            "attempts": sum(store.attempts for store in self._stores),
            "retries": sum(store.retries for store in self._stores),
            "reconnections": sum(store.reconnections for store in self._stores),
        }


def _selectOne(circulation: Circulation) -> None:
    circulation.store.atomically(
        lambda: circulation.store.row("SELECT 1"), write=False
    )
