# -*- test-case-name: tests.test_ils_sqlite,tests.test_dbcopy -*-
"""
Importing patrons, items and loan rules from CSV files into the
circulation system's database, SQLite or PostgreSQL, through the store
seam (C{sip2acs db import}; see L{sip2acs.tools.dbcli} for the command).

CSV files are UTF-8 (a BOM is fine), comma-separated, with a header row
naming the columns in any order. Unknown column names are errors. An empty
cell means the column's default. An import is all or nothing: a bad row
stops it with its line number, and nothing is imported. A row whose key
exists already updates that record, changing only the columns the file has.

C{patrons} columns:

  - C{barcode} (required): the patron identifier (C{AA}).
  - C{name}: the name as shown to the patron.
  - C{pin}: the PIN, stored only as a salted hash; empty keeps the
    current PIN (none for a new patron: then any PIN given is wrong).
  - C{patron_class}: default C{ADULT}; matched against the rules.
  - C{home_branch}: default the institution's default branch.
  - C{expires}, C{birth_date}: C{YYYY-MM-DD}, years L{MIN_YEAR} to
    L{MAX_YEAR}; no expiry date: never expires.
  - C{email}, C{phone}, C{address}.
  - C{language}: the 3-digit SIP2 language code, default C{000}.
  - C{card_lost}, C{blocked}: C{1}/C{0} (also yes/no, true/false);
    C{block_note}: why.
  - C{internet_privileges}: the patron's internet access profile (sent
    in 64's C{PI}), free text.
  - C{attribute:CODE}, any number of them (e.g. C{attribute:SCHOOL}): the
    patron's attribute C{CODE} (Koha's patron attributes), for templates
    and extra fields; an empty cell removes it.

C{items} columns:

  - C{barcode} (required): the item identifier (C{AB}).
  - C{title}; C{title_id}: the record id used for title-level holds.
  - C{author}, C{call_number}, C{collection_code}, C{shelving_location}.
  - C{item_type}: default C{BOOK}. Built in: BOOK, MAGAZINE, AUDIO (magnetic),
    VIDEO (magnetic), CD, DVD, BOOKCD, REF (does not circulate); other
    codes are created as books.
  - C{home_branch}: default the default branch; C{current_branch}: default
    the home branch.
  - C{status}: C{available} (default), C{lost}, C{missing}, C{in_process},
    C{on_order}, C{claimed_returned}, C{reshelving} or C{other}; never
    changes an item that is out, on the hold shelf or in transit.
  - C{media_type} (3-digit SIP2 code) and C{magnetic} (1/0): override the
    item type's.
  - C{properties}: free text (C{CH}).
  - C{field:CODE}, any number of them (e.g. C{field:format}): the item's
    extra field C{CODE}, for templates and extra fields; an empty cell
    removes it.

C{classes} columns (key C{code}): the names of the patron classes, shown
in C{PC} instead of the code:

  - C{code} (required): the patron class code, as in the patrons file.
  - C{name}: its name.

C{rules} columns (key C{patron_class} + C{item_type}, C{*} for any, the
default; see L{sip2acs.ils.sql.rules} for which row applies):

  - C{loan_days} (required): the loan period; 0: in-library use only.
  - C{max_loans}: loan limit (total on an item type C{*} row, else of that
    type); empty: none.
  - C{max_renewals}: default 2.
  - C{fine_per_day}, C{fine_cap}: money, e.g. C{0.25}; no cap when empty.
  - C{rental_fee}: charged at checkout once the patron agrees (C{BO}).
  - C{fee_limit}: fines and fees over this block the card; C{max_overdue}:
    more overdue items than this block the card; C{max_holds}.
    These three are read from the item type C{*} rows only.

With C{--replace}, the rules file replaces every rule.

Branches named in a file that are not in the database yet are created
(with their code as name) and reported.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from typing import Any

import attrs

from sip2acs.ils.sql.store import Store, toCents
from sip2acs.passwords import PIN_COST, hashPassword

__all__ = ["importCSV", "CSVImportError", "ImportSummary", "KINDS"]


MAX_ERRORS = 20
"""
How many bad rows an import reports before giving up listing them.
"""

MIN_YEAR, MAX_YEAR = 1900, 2199
"""
The years an imported date may have: a date outside is a typing error
(C{0028-01-05} for C{2028-01-05}).
"""

PARALLEL_HASHING = 64
"""
From this many PINs on, they are hashed in a process pool.
"""


class CSVImportError(Exception):
    """
    A CSV file cannot be imported; nothing was.

    @ivar errors: Messages, each starting with C{line N:} where known.
    """

    def __init__(self, errors: Iterable[str]) -> None:
        Exception.__init__(self, "\n".join(errors))
        self.errors = list(errors)


@attrs.frozen
class ImportSummary:
    """
    What an import did.
    """

    kind: str
    rows: int
    created: int
    updated: int
    newBranches: tuple[str, ...] = ()
    newItemTypes: tuple[str, ...] = ()


def _text(value: str) -> str:
    return value


def _code(value: str) -> str:
    if any(c.isspace() for c in value) or value == "*":
        raise ValueError("%r is not a code" % (value,))
    return value


def _ruleCode(value: str) -> str:
    if any(c.isspace() for c in value):
        raise ValueError("%r is not a code" % (value,))
    return value


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _money(value: str) -> int:
    cents = toCents(value)
    if cents < 0:
        raise ValueError("must not be negative")
    return cents


def _flag(value: str) -> int:
    flags = {"1": 1, "y": 1, "yes": 1, "true": 1, "0": 0, "n": 0, "no": 0, "false": 0}
    try:
        return flags[value.lower()]
    except KeyError:
        raise ValueError("use 1 or 0") from None


def _date(value: str) -> str:
    parsed = date.fromisoformat(value)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(
            "the year must be between %d and %d" % (MIN_YEAR, MAX_YEAR)
        )
    return parsed.isoformat()


def _digits3(value: str) -> str:
    if len(value) != 3 or not value.isdigit():
        raise ValueError("must be 3 digits")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError("must be one of %s" % (", ".join(choices),))
        return value

    return parse


@attrs.frozen
class _Column:
    name: str
    parse: Callable[[str], Any] = _text
    default: Any = None
    required: bool = False
    dbName: str | None = None
    extra: bool = False

    @property
    def column(self) -> str:
        return self.dbName or self.name


@attrs.frozen
class _Extras:
    """
    The columns C{PREFIX:CODE} of a kind: rows of C{table}, C{(owner,
    code, value)}, where C{owner} is the id of the record.
    """

    prefix: str
    table: str
    owner: str

    def code(self, name: str) -> str | None:
        """
        The code of the column C{name}, or L{None} if it is not one of
        these.
        """
        if not name.startswith(self.prefix):
            return None
        code = name[len(self.prefix):]
        if not code or any(c.isspace() for c in code):
            return None
        return code


@attrs.frozen
class _Kind:
    table: str
    key: tuple[str, ...]
    columns: tuple[_Column, ...]
    extras: _Extras | None = None

    def column(self, name: str) -> _Column | None:
        if self.extras is not None and self.extras.code(name) is not None:
            return _Column(name, extra=True)
        for column in self.columns:
            if column.name == name:
                return column
        return None


ITEM_STATUSES = (
    "available", "lost", "missing", "in_process", "on_order",
    "claimed_returned", "reshelving", "other",
)

KINDS = {
    "patrons": _Kind(
        table="patrons",
        key=("barcode",),
        columns=(
            _Column("barcode", _code, required=True),
            _Column("name", default=""),
            _Column("pin", dbName="pin_hash"),
            _Column("patron_class", _code, default="ADULT"),
            _Column("home_branch", _code),
            _Column("expires", _date),
            _Column("email"),
            _Column("phone"),
            _Column("address"),
            _Column("birth_date", _date),
            _Column("language", _digits3, default="000"),
            _Column("card_lost", _flag, default=0),
            _Column("blocked", _flag, default=0),
            _Column("block_note"),
            _Column("internet_privileges"),
            _Column("attribute:CODE", extra=True),
        ),
        extras=_Extras("attribute:", "patron_attributes", "patron_id"),
    ),
    "items": _Kind(
        table="items",
        key=("barcode",),
        columns=(
            _Column("barcode", _code, required=True),
            _Column("title", default=""),
            _Column("title_id"),
            _Column("author"),
            _Column("call_number"),
            _Column("collection_code"),
            _Column("shelving_location"),
            _Column("item_type", _code, default="BOOK"),
            _Column("home_branch", _code),
            _Column("current_branch", _code),
            _Column("status", _choice(*ITEM_STATUSES), default="available"),
            _Column("media_type", _digits3),
            _Column("magnetic", _flag),
            _Column("properties"),
            _Column("field:CODE", extra=True),
        ),
        extras=_Extras("field:", "item_fields", "item_id"),
    ),
    "classes": _Kind(
        table="patron_classes",
        key=("code",),
        columns=(
            _Column("code", _code, required=True),
            _Column("name", default=""),
        ),
    ),
    "rules": _Kind(
        table="loan_rules",
        key=("patron_class", "item_type"),
        columns=(
            _Column("patron_class", _ruleCode, default="*"),
            _Column("item_type", _ruleCode, default="*"),
            _Column("loan_days", _count, required=True),
            _Column("max_loans", _count),
            _Column("max_renewals", _count, default=2),
            _Column("fine_per_day", _money, default=0, dbName="fine_per_day_cents"),
            _Column("fine_cap", _money, dbName="fine_cap_cents"),
            _Column("rental_fee", _money, default=0, dbName="rental_fee_cents"),
            _Column("fee_limit", _money, dbName="fee_limit_cents"),
            _Column("max_overdue", _count),
            _Column("max_holds", _count),
        ),
    ),
}


def _hashPin(pin: str) -> str:
    return hashPassword(pin, cost=PIN_COST)


def _hashPins(pins: list[str]) -> list[str]:
    """
    Hash PINs, in parallel when there are many (each costs ~10 ms of CPU).
    """
    if len(pins) < PARALLEL_HASHING:
        return [_hashPin(pin) for pin in pins]
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(_hashPin, pins, chunksize=max(1, len(pins) // (workers * 8)))
        )


def _readText(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CSVImportError(["line %d: not UTF-8 text" % (line,)]) from None


_Rows = list[tuple[int, dict[str, Any]]]


def _parseRows(kind: _Kind, path: str | os.PathLike[str]) -> tuple[list[_Column], _Rows]:
    """
    Read and check a CSV file.

    @return: The header's known columns and a list of C{(line, values)}.
    @raise CSVImportError: On any bad row.
    """
    reader = csv.reader(io.StringIO(_readText(path), newline=""))
    errors: list[str] = []
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise CSVImportError(
            ["line 1: the file is empty; it needs a header row"]
        ) from None
    except csv.Error as e:
        raise CSVImportError(["line 1: %s" % (e,)]) from None
    unknown = [name for name in header if kind.column(name) is None]
    if unknown:
        errors.append(
            "line 1: unknown columns %s (known: %s)"
            % (", ".join(unknown), ", ".join(c.name for c in kind.columns))
        )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append("line 1: column %s appears twice" % (name,))
        seen.add(name)
    for column in kind.columns:
        if column.required and column.name not in header:
            errors.append("line 1: the column %s is required" % (column.name,))
    if errors:
        raise CSVImportError(errors)
    columns = [_known(kind, name) for name in header]
    rows: _Rows = []
    keys: dict[tuple[Any, ...], int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                errors.append(
                    "line %d: %d cells, the header has %d"
                    % (line, len(cells), len(columns))
                )
                continue
            values: dict[str, Any] = {}
            for column, cell in zip(columns, cells, strict=True):
                cell = cell.strip()
                if cell == "":
                    if column.required:
                        errors.append("line %d: %s is empty" % (line, column.name))
                    values[column.name] = column.default
                    continue
                try:
                    values[column.name] = column.parse(cell)
                except ValueError as e:
                    errors.append(
                        "line %d: bad %s %r: %s" % (line, column.name, cell, e)
                    )
            for column in kind.columns:
                if column.name not in values and column.name in kind.key:
                    values[column.name] = column.default
            key = tuple(values.get(name) for name in kind.key)
            if key in keys:
                errors.append(
                    "line %d: %s %s is already on line %d"
                    % (line, "/".join(kind.key), "/".join(map(str, key)), keys[key])
                )
            keys[key] = line
            rows.append((line, values))
            if len(errors) > MAX_ERRORS:
                break
    except csv.Error as e:
        errors.append("line %d: %s" % (reader.line_num, e))
    if errors:
        if len(errors) > MAX_ERRORS:
            errors = errors[:MAX_ERRORS] + ["(more errors not shown)"]
        raise CSVImportError(errors)
    return columns, rows


def importCSV(store: Store, kind: str, path: str | os.PathLike[str],
              now: datetime | None = None, replace: bool = False) -> ImportSummary:
    """
    Import a CSV file of patrons, items, rules or patron class names, all
    or nothing, in one transaction of C{store}.

    @param store: The database's L{Store}, outside any transaction.
    @param kind: C{"patrons"}, C{"items"}, C{"rules"} or C{"classes"}.
    @param now: When, for the transaction log; L{datetime.now} by default.
    @param replace: For rules: delete the existing rules first.
    @raise CSVImportError: On a bad file or row; nothing was imported.
    """
    spec = KINDS[kind]
    columns, rows = _parseRows(spec, path)
    at = (now or datetime.now()).replace(microsecond=0)
    if kind == "patrons":
        pins = [values["pin"] for _, values in rows if values.get("pin") is not None]
        hashes = iter(_hashPins(pins))
        for _, values in rows:
            if values.get("pin") is not None:
                values["pin"] = next(hashes)

    def body() -> ImportSummary:
        # Each attempt starts from the rows as read (a retried attempt
        # finds what the first one filled in).
        attempt = [(line, dict(values)) for line, values in rows]
        summary = _store(store, spec, kind, columns, attempt, replace)
        store.journal(
            at, "import", ok=True,
            detail="%s from %s: %d new, %d updated" % (
                kind, os.path.basename(str(path)), summary.created, summary.updated
            ),
        )
        return summary

    return store.atomically(body)


def _store(store: Store, spec: _Kind, kind: str, fileColumns: Sequence[_Column],
           rows: _Rows, replace: bool) -> ImportSummary:
    """
    Write checked rows, inside the caller's transaction.

    Columns missing from the file get their defaults in new rows and are
    left alone in existing ones. The extra columns (C{attribute:CODE},
    C{field:CODE}) are written to their own table after the rows.
    """
    extras = [column for column in fileColumns if column.extra]
    fileColumns = [column for column in fileColumns if not column.extra]
    first = store.row("SELECT default_branch FROM institutions ORDER BY rowid LIMIT 1")
    defaultBranch = first[0] if first else None
    columns = list(fileColumns) + [
        column for column in spec.columns
        if column not in fileColumns and (
            column.name in spec.key or column.name in ("home_branch", "current_branch")
        )
    ]
    errors = []
    for line, values in rows:
        for column in columns:
            values.setdefault(column.name, column.default)
        if kind in ("patrons", "items") and values["home_branch"] is None:
            if defaultBranch is None:
                errors.append(
                    "line %d: no home_branch, and the database has no default"
                    " branch (run sip2acs db init --branch CODE)" % (line,)
                )
            values["home_branch"] = defaultBranch
        if kind == "items" and values["current_branch"] is None:
            values["current_branch"] = values["home_branch"]
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise CSVImportError(errors)

    branches = {
        values[name] for _, values in rows
        for name in ("home_branch", "current_branch") if values.get(name)
    }
    known = {row[0] for row in store.rows("SELECT code FROM branches")}
    newBranches = sorted(branches - known)
    if newBranches:
        store.executemany(
            "INSERT INTO branches (code, name) VALUES (?, ?)",
            [(code, code) for code in newBranches],
        )
    itemTypes = {
        values["item_type"] for _, values in rows
        if values.get("item_type") not in (None, "*")
    }
    known = {row[0] for row in store.rows("SELECT code FROM item_types")}
    newItemTypes = sorted(itemTypes - known)
    if newItemTypes:
        store.executemany(
            "INSERT INTO item_types (code, name) VALUES (?, ?)",
            [(code, code) for code in newItemTypes],
        )

    if replace:
        store.execute("DELETE FROM %s" % (spec.table,))
    keyColumns = [_known(spec, name).column for name in spec.key]
    existing = {
        tuple(row) for row in store.rows(
            "SELECT %s FROM %s" % (", ".join(keyColumns), spec.table)
        )
    }
    sql = _upsert(spec, columns, fileColumns, keyColumns)
    params = [
        (line, [values[column.name] for column in columns]) for line, values in rows
    ]
    try:
        with store.savepoint("import_rows"):
            if params:
                store.executemany(sql, [row for _, row in params])
    except store.integrityErrors:
        # Find the row the database refused, for its line number.
        for line, row in params:
            try:
                with store.savepoint("import_row"):
                    store.execute(sql, row)
            except store.integrityErrors as e:
                raise CSVImportError(
                    ["line %d: %s" % (line, store.refusal(e))]
                ) from None
        raise
    if extras:
        _storeExtras(store, spec, extras, rows)
    keys = {tuple(values[name] for name in spec.key) for _, values in rows}
    created = len(keys - existing)
    return ImportSummary(
        kind=kind,
        rows=len(rows),
        created=created,
        updated=len(rows) - created,
        newBranches=tuple(newBranches),
        newItemTypes=tuple(newItemTypes),
    )


def _storeExtras(store: Store, spec: _Kind, extras: Sequence[_Column],
                 rows: _Rows) -> None:
    """
    Write the extra columns of C{rows} (written already) to their table:
    each cell replaces that code's value of the record, an empty cell
    removes it.
    """
    assert spec.extras is not None
    table, owner = spec.extras.table, spec.extras.owner
    ids = {
        row[1]: row[0]
        for row in store.rows("SELECT id, barcode FROM %s" % (spec.table,))
    }
    removed, added = [], []
    for _, values in rows:
        record = ids[values["barcode"]]
        for column in extras:
            code = spec.extras.code(column.name)
            removed.append((record, code))
            if values[column.name] is not None:
                added.append((record, code, values[column.name]))
    store.executemany(
        "DELETE FROM %s WHERE %s = ? AND code = ?" % (table, owner), removed
    )
    if added:
        store.executemany(
            "INSERT INTO %s (%s, code, value) VALUES (?, ?, ?)" % (table, owner), added
        )


def _known(spec: _Kind, name: str) -> _Column:
    column = spec.column(name)
    assert column is not None, name
    return column


def _upsert(spec: _Kind, columns: Sequence[_Column], fileColumns: Sequence[_Column],
            keyColumns: Sequence[str]) -> str:
    """
    The C{INSERT ... ON CONFLICT} of one row, which both databases take:
    the file's columns update an existing row (its columns named by the
    table, the file's by C{excluded}).
    """
    table = spec.table
    updates = []
    for column in fileColumns:
        name = column.column
        if name in keyColumns:
            continue
        if name == "pin_hash":
            updates.append(
                "pin_hash = coalesce(excluded.pin_hash, %s.pin_hash)" % (table,)
            )
        elif name == "status":
            updates.append(
                "status = CASE WHEN %s.status IN ('charged', 'on_hold_shelf',"
                " 'in_transit') THEN %s.status ELSE excluded.status END" % (table, table)
            )
        else:
            updates.append("%s = excluded.%s" % (name, name))
    names = [column.column for column in columns]
    return "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO %s" % (
        table,
        ", ".join(names),
        ", ".join("?" * len(names)),
        ", ".join(keyColumns),
        ("UPDATE SET " + ", ".join(updates)) if updates else "NOTHING",
    )
