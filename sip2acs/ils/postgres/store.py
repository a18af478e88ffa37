# -*- test-case-name: tests.test_ils_postgres -*-
"""
Everything about the circulation system on PostgreSQL that is its own: its
side of the store seam (L{sip2acs.ils.sql.store}).

  - Where the database is: L{Location}, from a C{postgresql://user@host:
    port/dbname} URL that carries no password (the password comes from
    C{PGPASSWORD}, C{~/.pgpass}, a service file, or a file named in the
    configuration).
  - Migrations (L{migrations}, L{migrate}): the scripts in
    C{schema/NNNN_name.sql} next to this module, applied under an
    advisory lock (several instances may start at once), each in its own
    transaction, the version recorded in the table C{sip2acs_schema}.
  - L{PostgresStore}: one worker thread's session. Each transaction takes
    a connection from the pool and gives it back at its end. Writes are
    C{SERIALIZABLE}; reads C{REPEATABLE READ READ ONLY} (one snapshot,
    never a serialization failure). A transaction PostgreSQL aborts for a
    conflict with a concurrent one (serialization failure 40001, deadlock
    40P01, or a unique key another transaction took first, 23505) is run
    again from the start, after a growing random pause, for at most
    L{RETRY_BUDGET} seconds.
  - The shared SQL's C{?} placeholders become C{%s} (L{translate}); a new
    row's id comes back through C{RETURNING id}; rows are read by column
    name or position (L{NamedRow}).
  - A pooled connection found closed as a transaction begins (the
    database restarted or failed over since) is replaced and the
    transaction begun on another: a failover costs no request once the
    database is back.
  - L{explained}: the sentence for a database that cannot serve.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import attrs
import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from sip2acs.ils.sql.store import (
    SCHEMES,
    DatabaseError,
    Row,
    Store,
    isPostgresURL,
    schemaScripts,
)

__all__ = [
    "Location",
    "PostgresStore",
    "NamedRow",
    "migrations",
    "migrate",
    "translate",
    "explained",
    "isPostgresURL",
    "MAX_ATTEMPTS",
    "RETRYABLE",
]

MAX_ATTEMPTS = 100
"""
How many times one operation's transaction is tried at most before the
operation fails (each retry after a short random pause that grows).
"""

RETRY_BUDGET = 10.0
"""
Seconds one operation may spend retrying after conflicts before it fails:
well inside the ACS's ILS timeout (30 s by default), so a kiosk under a
burst of concurrent requests gets its answer late rather than "not
available".
"""

BACKOFF = 0.01
"""
Seconds: the longest pause before the second attempt; it doubles with
each attempt, up to L{MAX_BACKOFF}.
"""

MAX_BACKOFF = 0.25
"""
Seconds: the longest pause between two attempts.
"""

RETRYABLE = (
    errors.SerializationFailure,
    errors.DeadlockDetected,
    errors.UniqueViolation,
)
"""
The errors after which a whole transaction is run again: PostgreSQL
aborted it for a concurrent one, and the next attempt sees that one's
result (the loan already made, the fee already paid).
"""

_MIGRATION_LOCK = 0x51B2AC5
"""
The advisory lock key held while migrating.
"""

_R = TypeVar("_R")

@attrs.frozen
class Location:
    """
    Where the database is and how to log in, without the password.

    @ivar url: The URL, as configured (it has no password).
    @ivar passwordFile: A file holding the password, or L{None}: libpq
        then finds one in C{PGPASSWORD}, C{~/.pgpass} or a service file.
    """

    url: str
    passwordFile: str | None = None

    @classmethod
    def fromURL(cls, url: str, passwordFile: str | None = None) -> Location:
        """
        Check a C{postgresql://user@host:port/dbname} URL.

        @raise ValueError: It is not such a URL, or it holds a password.
        """
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (parsing it checks it)
        except ValueError as e:
            raise ValueError("database %r is not a PostgreSQL URL: %s" % (url, e)) from None
        if parts.scheme not in SCHEMES:
            raise ValueError(
                "database %r is not a postgresql://user@host:port/dbname URL" % (url,)
            )
        if parts.password is not None:
            raise ValueError(
                "the database URL must not hold a password: write"
                " postgresql://%s@%s%s and put the password in a file named by"
                " database-password-file, in ~/.pgpass or a service file, or in"
                " PGPASSWORD" % (parts.username or "", parts.hostname or "", parts.path)
            )
        if not unquote(parts.path).strip("/"):
            raise ValueError("the database URL %r names no database" % (url,))
        return cls(url, passwordFile)

    def password(self) -> str | None:
        """
        The password from the password file (its first line), or L{None}.

        @raise DatabaseError: The file cannot be read.
        """
        if self.passwordFile is None:
            return None
        try:
            with open(self.passwordFile, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except OSError as e:
            raise DatabaseError(
                "cannot read the database password file %s: %s"
                % (self.passwordFile, (e.strerror or str(e)).lower())
            ) from e

    def connect(self, timeout: float) -> psycopg.Connection[Any]:
        """
        One connection in autocommit mode (transactions are begun
        explicitly), in the calling thread.
        """
        return psycopg.connect(self.url, **self.connectArguments(timeout))

    def connectArguments(self, timeout: float) -> dict[str, Any]:
        """
        The keyword arguments of L{psycopg.connect} besides the URL.
        """
        arguments: dict[str, Any] = dict(
            autocommit=True, connect_timeout=max(1, round(timeout)),
            application_name="sip2acs",
        )
        password = self.password()
        if password is not None:
            arguments["password"] = password
        return arguments


def explained(error: BaseException, location: Location) -> DatabaseError | None:
    """
    The L{DatabaseError} that explains why the database cannot serve, for
    a connection failure or a pool with no connection free; L{None} for any
    other error.
    """
    if isinstance(error, PoolTimeout):
        return DatabaseError(
            "no connection to the PostgreSQL database %s became free or could"
            " be made in time" % (location.url,)
        )
    if isinstance(error, psycopg.OperationalError):
        reason = " ".join(str(error).split()) or type(error).__name__
        return DatabaseError(
            "the PostgreSQL database %s cannot be reached: %s" % (location.url, reason)
        )
    return None


# Migrations


def migrations() -> list[tuple[str, str]]:
    """
    The PostgreSQL schema migrations shipped with sip2acs, in order.
    """
    return schemaScripts(__package__)


def migrate(conn: psycopg.Connection[Any]) -> int:
    """
    Bring the schema up to date, one transaction per migration, holding an
    advisory lock so that instances starting together migrate once.

    @param conn: A connection in autocommit mode.
    @return: The schema version found before migrating (0 for a new
        database).
    @raise DatabaseError: If the database is newer than this sip2acs.
    """
    scripts = migrations()
    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS sip2acs_schema ("
            " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM sip2acs_schema").fetchone()
        found = row[0] if row else 0
        if found > len(scripts):
            raise DatabaseError(
                "the database has schema version %d, newer than this sip2acs"
                " knows (%d)" % (found, len(scripts))
            )
        for version, (_, script) in enumerate(scripts[found:], start=found + 1):
            with conn.transaction():
                conn.execute(script.encode("utf-8"))
                conn.execute(
                    "INSERT INTO sip2acs_schema (version) VALUES (%s)", (version,)
                )
    finally:
        if not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return found


# Statements and rows


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """
    The shared SQL's C{?} placeholders as psycopg's C{%s} (a literal C{%}
    doubled). The shared statements hold no C{?} inside a string literal.
    """
    return sql.replace("%", "%%").replace("?", "%s")


class NamedRow:
    """
    A row read by column name (the first column of that name) or
    position, as L{sqlite3.Row} is.
    """

    __slots__ = ("_values", "_index")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Any:
        return iter(self._values)

    def keys(self) -> list[str]:
        """
        The column names.
        """
        return list(self._index)

    def __repr__(self) -> str:
        return "<NamedRow %r>" % (dict(zip(self._index, self._values, strict=False)),)


def namedRows(cursor: Any) -> Callable[[Sequence[Any]], NamedRow]:
    """
    A psycopg row factory making L{NamedRow}s.
    """
    index: dict[str, int] = {}
    for position, column in enumerate(cursor.description or ()):
        index.setdefault(column.name, position)
    return lambda values: NamedRow(values, index)


class PostgresStore(Store):
    """
    One worker thread's session on the pool: each transaction on a
    connection of its own, given back when it ends.

    @ivar conn: The connection of the transaction in progress, or L{None}.
    @ivar attempts: Transactions tried; C{retries}: of those, how many were
        run again after a conflict; C{reconnections}: how many were begun
        again on another connection, the first found closed.
    """

    def __init__(self, pool: ConnectionPool, location: Location,
                 clock: Callable[[], datetime] | None = None,
                 zone: tzinfo | None = None) -> None:
        Store.__init__(self, clock, zone)
        self.pool = pool
        self.location = location
        self.conn: psycopg.Connection[Any] | None = None
        self.attempts = 0
        self.retries = 0
        self.reconnections = 0

    def _connection(self) -> psycopg.Connection[Any]:
        if self.conn is None:
            raise DatabaseError("no transaction in progress")
        return self.conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """
        Every row C{sql} selects, as L{NamedRow}s.
        """
        cursor = self._connection().cursor(row_factory=namedRows)
        return cursor.execute(translate(sql), params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """
        Run one statement.
        """
        self._connection().execute(translate(sql), params)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """
        Run one C{INSERT}, its id returned by C{RETURNING id}.
        """
        row = self._connection().execute(translate(sql) + " RETURNING id", params).fetchone()
        assert row is not None
        return int(row[0])

    def _begin(self, write: bool) -> None:
        """
        Take a pooled connection and begin the transaction on it.

        A connection found closed here (the database restarted or failed
        over since it was last used) costs the operation nothing: no
        transaction had begun on it, so the pool's idle connections are
        checked (the closed ones replaced by new ones) and the transaction
        begun once more, on another connection. Only a second closed
        connection fails the operation.
        """
        statement = (
            "BEGIN ISOLATION LEVEL SERIALIZABLE" if write
            else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        )
        lost = self._beginOn(statement)
        if lost is not None:
            self.reconnections += 1
            self.pool.check()
            lost = self._beginOn(statement)
            if lost is not None:
                raise lost

    def _beginOn(self, statement: str) -> psycopg.OperationalError | None:
        """
        Take a pooled connection and run C{statement} on it.

        @return: L{None} once it ran, or the error of a connection found
            closed (given back: the pool discards it).
        """
        conn = self.conn = self.pool.getconn()
        try:
            conn.execute(statement)
        except psycopg.OperationalError as e:
            self._release()
            if conn.broken:
                return e
            raise
        except BaseException:
            self._release()
            raise
        return None

    def _release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            self.pool.putconn(conn)

    def _commit(self) -> None:
        try:
            self._connection().execute("COMMIT")
        finally:
            self._release()

    def _rollback(self) -> None:
        try:
            conn = self.conn
            if conn is not None and not conn.broken:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            pass  # The pool discards a connection left in a bad state.
        finally:
            self._release()

    def _referenceVersion(self) -> object:
        row = self.row("SELECT version FROM reference_version")
        return None if row is None else row[0]

    # Loading and copying whole tables

    integrityErrors = (psycopg.IntegrityError,)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """
        Run one statement once for each parameter sequence (pipelined by
        psycopg).
        """
        self._connection().cursor().executemany(translate(sql), params)

    def tables(self) -> list[str]:
        """
        The tables of the connection's current schema.
        """
        return [row[0] for row in self.rows(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " ORDER BY table_name"
        )]

    def columns(self, table: str) -> list[str]:
        """
        The columns of C{table} that are neither generated nor an identity
        always generated.
        """
        return [row[0] for row in self.rows(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?"
            " AND is_generated = 'NEVER'"
            " AND coalesce(identity_generation, '') <> 'ALWAYS'"
            " ORDER BY ordinal_position",
            (table,),
        )]

    def followIds(self, table: str) -> None:
        """
        Set the identity sequence of C{table}'s C{id} past its largest id.
        """
        self.execute(
            "SELECT setval(pg_get_serial_sequence(?, 'id'),"
            " coalesce((SELECT max(id) FROM %s), 0) + 1, false)" % (table,),
            (table,),
        )

    def atomically(self, body: Callable[[], _R], write: bool = True) -> _R:
        """
        Run C{body()} in one transaction; run it again from the start when
        PostgreSQL aborts it for a concurrent one (L{RETRYABLE}), after a
        random pause that doubles each time (up to L{MAX_BACKOFF}: the
        transactions that collided spread out), for at most
        L{RETRY_BUDGET} seconds and L{MAX_ATTEMPTS} attempts in all.

        @raise DatabaseError: Every attempt conflicted.
        """
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            self.attempts += 1
            try:
                return Store.atomically(self, body, write)
            except RETRYABLE as e:
                spent = time.monotonic() - started
                if attempt >= MAX_ATTEMPTS or spent >= RETRY_BUDGET:
                    raise DatabaseError(
                        "the PostgreSQL database %s kept aborting the operation"
                        " for concurrent ones (%d attempts in %.1f s; last: %s)"
                        % (self.location.url, attempt, spent, e.sqlstate)
                    ) from e
                self.retries += 1
            time.sleep(random.uniform(0, min(MAX_BACKOFF, BACKOFF * 2 ** (attempt - 1))))
