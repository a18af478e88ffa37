# -*- test-case-name: tests.test_dbcopy -*-
"""
Copying a whole library from one database to another (C{sip2acs db copy}):
SQLite to PostgreSQL, back, or between two of a kind, through the store
seam (L{sip2acs.ils.sql.store.Store}).

What is copied is every table of L{TABLES}, in that order (a row's
references before it): the institutions, branches, item types, loan
rules and patron class names; the patrons with their PIN hashes, the
items, the patrons' attributes and the items' extra fields, loans, holds,
fees, payments (and write-offs) and their lines; the transaction log.
Rows keep their ids, so the transaction ids told to the kiosks stay what
they were; PostgreSQL's identity sequences are then set past the largest
(L{Store.followIds}).

All or nothing: the source is read in one read-only transaction (one
snapshot, so a server may run on it), the destination written in one
transaction, committed only once every table holds as many rows as the
source's. The destination must hold no library yet (L{CopyRefused}): no
patrons, items, loans, holds, fees, payments or log rows. Its reference
rows (what C{sip2acs db init} and the schema's starter rows put there) are
replaced by the source's.

Rows are read in batches of L{BATCH}, in key order, each batch after the
last key read, so that a large library is never in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from sip2acs.ils.sql.store import Store

__all__ = [
    "Table",
    "TABLES",
    "BATCH",
    "CopyRefused",
    "CopyFailed",
    "TableCopy",
    "CopySummary",
    "copyLibrary",
]

BATCH = 1000
"""
Rows read, and inserted, at a time.
"""


@attrs.frozen
class Table:
    """
    One table a library is made of.

    @ivar name: Its name.
    @ivar order: Columns whose values identify a row, in the order rows
        are read (for the first two, the order they were added in).
    @ivar reference: Whether a destination may hold rows of it already
        (from C{sip2acs db init} or the schema's starter rows): they are
        replaced by the source's.
    """

    name: str
    order: tuple[str, ...] = ("id",)
    reference: bool = False


TABLES = (
    Table("branches", ("rowid",), reference=True),
    Table("institutions", ("rowid",), reference=True),
    Table("item_types", ("code",), reference=True),
    Table("loan_rules", ("patron_class", "item_type"), reference=True),
    Table("patron_classes", ("code",), reference=True),
    Table("patrons"),
    Table("items"),
    Table("patron_attributes", ("patron_id", "code")),
    Table("item_fields", ("item_id", "code")),
    Table("loans"),
    Table("holds"),
    Table("fees"),
    Table("payments"),
    Table("payment_lines", ("payment_id", "fee_id")),
    Table("transaction_log"),
)
"""
The tables of a library, each after those it refers to.
"""

INTERNAL = frozenset({"sip2acs_schema", "reference_version", "login_failures"})
"""
Tables of the database's own housekeeping, never copied (the shared
login cooling-off counts are short-lived, and belong to the instances
using that database).
"""


class CopyRefused(Exception):
    """
    The copy was not started: the destination holds a library, or the two
    databases' tables differ. Nothing was copied.
    """


class CopyFailed(Exception):
    """
    A table could not be copied; the destination was left as it was.
    """


@attrs.frozen
class TableCopy:
    """
    One table copied: C{source} rows in the source, C{copied} in the
    destination afterwards (the same, or the copy fails).
    """

    name: str
    source: int
    copied: int


@attrs.frozen
class CopySummary:
    """
    What a copy did.

    @ivar tables: Each table of L{TABLES}, in order.
    @ivar skipped: C{(name, rows)} of the source's tables with rows that
        are not part of a library as this version knows it.
    """

    tables: tuple[TableCopy, ...]
    skipped: tuple[tuple[str, int], ...] = ()


def copyLibrary(src: Store, dst: Store, batch: int = BATCH) -> CopySummary:
    """
    Copy the library in C{src} to C{dst}, all or nothing.

    @param src: The source's store, migrated, outside any transaction.
    @param dst: The destination's store, migrated, outside any
        transaction.
    @raise CopyRefused: C{dst} holds a library already, or a table or a
        column of C{src} is missing from C{dst}.
    @raise CopyFailed: A table could not be copied (a row the destination
        refuses, or counts that differ).
    """
    with src.transaction(write=False):
        return dst.atomically(lambda: _copy(src, dst, batch))


_LABELS = {
    "payment_lines": "payment lines",
    "transaction_log": "transaction log rows",
    "patron_attributes": "patron attributes",
    "item_fields": "item fields",
}


def _count(store: Store, table: str) -> int:
    return int(store.row("SELECT count(*) FROM %s" % (table,))[0])


def _check(src: Store, dst: Store) -> tuple[dict[str, list[str]], tuple[tuple[str, int], ...]]:
    """
    Refuse a destination that holds a library, or lacks a table or column.

    @return: The columns to copy of each table, and the source's tables
        that are not copied (with their rows).
    """
    srcTables, dstTables = set(src.tables()), set(dst.tables())
    for table in TABLES:
        for tables, which in ((srcTables, "SRC"), (dstTables, "DST")):
            if table.name not in tables:
                raise CopyRefused(
                    "%s has no table %s: is it a sip2acs database?" % (which, table.name)
                )
    held = [
        "%d %s" % (rows, _LABELS.get(table.name, table.name)) for table, rows in (
            (table, _count(dst, table.name)) for table in TABLES if not table.reference
        ) if rows
    ]
    if held:
        raise CopyRefused(
            "DST already holds a library (%s): copy into an empty database, a new"
            " SQLite file or one fresh from sip2acs db init" % (", ".join(held),)
        )
    columns = {}
    for table in TABLES:
        names = src.columns(table.name)
        missing = sorted(set(names) - set(dst.columns(table.name)))
        if missing:
            raise CopyRefused(
                "DST's table %s has no column %s: upgrade the sip2acs that made"
                " it" % (table.name, ", ".join(missing))
            )
        columns[table.name] = names
    known = {table.name for table in TABLES} | INTERNAL
    skipped = tuple(
        (name, rows) for name, rows in (
            (name, _count(src, name)) for name in sorted(srcTables - known)
        ) if rows
    )
    return columns, skipped


def _copy(src: Store, dst: Store, batch: int) -> CopySummary:
    """
    Copy every table, inside a transaction of each store.
    """
    columns, skipped = _check(src, dst)
    for table in reversed(TABLES):
        if table.reference:
            dst.execute("DELETE FROM %s" % (table.name,))
    copies = []
    for table in TABLES:
        names = columns[table.name]
        insert = "INSERT INTO %s (%s) VALUES (%s)" % (
            table.name, ", ".join(names), ", ".join("?" * len(names))
        )
        read = 0
        for rows in _batches(src, table, names, batch):
            read += len(rows)
            try:
                dst.executemany(insert, rows)
            except dst.integrityErrors as e:
                raise CopyFailed(
                    "DST refused a row of %s: %s" % (table.name, dst.refusal(e))
                ) from e
        if table.order == ("id",):
            dst.followIds(table.name)
        source, copied = _count(src, table.name), _count(dst, table.name)
        if not source == read == copied:
            raise CopyFailed(
                "%s: %d rows in SRC, %d read, %d in DST" % (table.name, source, read, copied)
            )
        copies.append(TableCopy(table.name, source, copied))
    return CopySummary(tuple(copies), skipped)


def _batches(src: Store, table: Table, names: Sequence[str],
             batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """
    The rows of C{table} (the values of C{names}), in batches of at most
    C{batch}, in the order of C{table.order}: each batch selects the rows
    after the last key of the one before.
    """
    extra = [name for name in table.order if name not in names]
    selected = list(names) + extra
    positions = [selected.index(name) for name in table.order]
    select = "SELECT %s FROM %s" % (", ".join(selected), table.name)
    order = " ORDER BY %s LIMIT %d" % (", ".join(table.order), batch)
    last: tuple[Any, ...] | None = None
    while True:
        if last is None:
            rows = src.rows(select + order)
        else:
            where, params = _after(table.order, last)
            rows = src.rows(select + " WHERE " + where + order, params)
        if not rows:
            return
        values = [tuple(row) for row in rows]
        yield [row[:len(names)] for row in values]
        if len(rows) < batch:
            return
        last = tuple(values[-1][position] for position in positions)


def _after(order: Sequence[str], last: Sequence[Any]) -> tuple[str, list[Any]]:
    """
    The condition selecting the rows after C{last} in the order of the
    columns C{order}: C{a > ? OR (a = ? AND b > ?) ...}.
    """
    terms = []
    params: list[Any] = []
    for depth, name in enumerate(order):
        equal = ["%s = ?" % (earlier,) for earlier in order[:depth]]
        terms.append("(%s)" % (" AND ".join(equal + ["%s > ?" % (name,)]),))
        params.extend(last[:depth])
        params.append(last[depth])
    return " OR ".join(terms), params
