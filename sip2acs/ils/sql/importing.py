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
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import attrs

from sip2acs.ils.sql.rules import DUE_TIME
from sip2acs.ils.sql.store import Row, Store, toCents
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
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _text(value: str) -> str:
    return value


_SPACE = re.compile(r"\s")
"""
Any whitespace: C{\\s} matches exactly what C{str.isspace} calls space, and
a million barcodes are checked in C{re}'s C loop, not a generator's.
"""


def _code(value: str) -> str:
    if _SPACE.search(value) is not None or value == "*":
        raise ValueError("%r is not a code" % (value,))
    return value


def _ruleCode(value: str) -> str:
    if _SPACE.search(value) is not None:
        raise ValueError("%r is not a code" % (value,))
    return value


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _Unreadable("is not a whole number") from None
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


class _Unreadable(ValueError):
    """
    A cell that is not of its column's form: the message is the whole
    explanation, written after the cell (C{COLUMN 'CELL' is not ...}).
    """


def _date(value: str) -> str:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise _Unreadable("is not a date: write YYYY-MM-DD") from None
    if len(value) != 10:
        raise _Unreadable("is not a date: write YYYY-MM-DD")
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


def _dateTime(value: str) -> datetime:
    text = value.replace("T", " ")
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        elif len(text) in (16, 19) and text[10] == " ":
            parsed = datetime.fromisoformat(text)
        else:
            raise ValueError(value)
    except ValueError:
        raise _Unreadable(
            "is not a date: write YYYY-MM-DD or YYYY-MM-DD HH:MM"
        ) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(
            "the year must be between %d and %d" % (MIN_YEAR, MAX_YEAR)
        )
    return parsed


def _signedMoney(value: str) -> int:
    cents = toCents(value)
    if cents == 0:
        raise ValueError("must not be zero")
    return cents


FEE_TYPES = {
    "other": "01", "administrative": "02", "damage": "03", "overdue": "04",
    "processing": "05", "rental": "06", "replacement": "07",
    "computer_access": "08", "hold": "09",
}
"""
The fee types a fees file may name, with their SIP2 codes (spec 4.3).
"""


def _feeType(value: str) -> str:
    if len(value) == 2 and value.isdigit():
        return value
    try:
        return FEE_TYPES[value.lower().replace(" ", "_")]
    except KeyError:
        raise _Unreadable(
            "is not a fee type: write a 2-digit SIP2 code or one of %s"
            % (", ".join(FEE_TYPES),)
        ) from None


def _position(value: str) -> int:
    number = _count(value)
    if number < 1:
        raise ValueError("the first in the queue is 1")
    return number


HOLD_STATUSES = ("waiting", "ready", "in_transit")


@attrs.frozen
class _Column:
    name: str
    parse: Callable[[str], Any] = _text
    default: Any = None
    required: bool = False
    dbName: str | None = None
    extra: bool = False
    stored: bool = True

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


_INSTITUTION = _Column("institution", stored=False)
"""
The column any file may have: the institution id (C{AO}) of each row,
compared with the configuration's and never stored.
"""


@attrs.frozen
class _Kind:
    table: str
    key: tuple[str, ...]
    columns: tuple[_Column, ...]
    extras: _Extras | None = None
    records: bool = False

    def column(self, name: str) -> _Column | None:
        if self.extras is not None and self.extras.code(name) is not None:
            return _Column(name, extra=True)
        if name == _INSTITUTION.name:
            return _INSTITUTION
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
    "branches": _Kind(
        table="branches",
        key=("code",),
        columns=(
            _Column("code", _code, required=True),
            _Column("name", default=""),
        ),
    ),
    "fees": _Kind(
        table="fees",
        key=(),
        records=True,
        columns=(
            _Column("patron", _code, required=True),
            _Column("amount", _signedMoney, required=True),
            _Column("type", _feeType, default="01"),
            _Column("item", _code),
            _Column("date", _dateTime),
            _Column("description", default=""),
        ),
    ),
    "loans": _Kind(
        table="loans",
        key=("item",),
        records=True,
        columns=(
            _Column("patron", _code, required=True),
            _Column("item", _code, required=True),
            _Column("out", _dateTime, required=True),
            _Column("due", _dateTime, required=True),
            _Column("renewals", _count, default=0),
            _Column("branch", _code),
        ),
    ),
    "holds": _Kind(
        table="holds",
        key=(),
        records=True,
        columns=(
            _Column("patron", _code, required=True),
            _Column("item", _code),
            _Column("title"),
            _Column("pickup_branch", _code),
            _Column("placed", _dateTime, required=True),
            _Column("position", _position),
            _Column("status", _choice(*HOLD_STATUSES), default="waiting"),
            _Column("expires", _dateTime),
            _Column("shelf_expires", _dateTime),
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


def _delimiter(text: str) -> str:
    """
    The file's separator: C{;} when its header row has semicolons and no
    commas (as spreadsheets write CSV where the comma is the decimal
    point), else C{,}.
    """
    header = text.split("\n", 1)[0]
    return ";" if ";" in header and "," not in header else ","


def _parseRows(kind: _Kind, path: str | os.PathLike[str],
               notes: list[str] | None = None) -> tuple[list[_Column], _Rows]:
    """
    Read and check a CSV file.

    @param notes: Where to add what the reader noticed (a C{;}-separated
        file).
    @return: The header's known columns and a list of C{(line, values)}.
    @raise CSVImportError: On any bad row.
    """
    text = _readText(path)
    delimiter = _delimiter(text)
    if delimiter != "," and notes is not None:
        notes.append(
            "The file is separated by semicolons (;), not commas: read it so."
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
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
            if not "".join(cells).strip():
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
                except _Unreadable as e:
                    errors.append(
                        "line %d: %s %r %s" % (line, column.name, cell, e)
                    )
                except ValueError as e:
                    errors.append(
                        "line %d: bad %s %r: %s" % (line, column.name, cell, e)
                    )
            for column in kind.columns:
                if column.name not in values and column.name in kind.key:
                    values[column.name] = column.default
            key = tuple(values.get(name) for name in kind.key)
            if kind.key and key in keys:
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
              now: datetime | None = None, replace: bool = False,
              institutions: Collection[str] | None = None) -> ImportSummary:
    """
    Import a CSV file of patrons, items, rules, patron class names,
    branches, fees, loans or holds, all or nothing, in one transaction of
    C{store}.

    @param store: The database's L{Store}, outside any transaction.
    @param kind: One of L{KINDS}.
    @param now: When, for the transaction log (and the fees without a
        date); L{datetime.now} by default.
    @param replace: For rules: delete the existing rules first.
    @param institutions: The institution ids the configuration gives this
        database; L{None}: those of the database's C{institutions} table.
        A file with an C{institution} column naming another is imported
        with a warning.
    @raise CSVImportError: On a bad file or row; nothing was imported.
    """
    spec = KINDS[kind]
    notes: list[str] = []
    columns, rows = _parseRows(spec, path, notes)
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
        if spec.records:
            summary = _storeRecords(store, kind, attempt, at)
        else:
            summary = _store(store, spec, kind, columns, attempt, replace)
        store.journal(
            at, "import", ok=True,
            detail="%s from %s: %d new, %d updated" % (
                kind, os.path.basename(str(path)), summary.created, summary.updated
            ),
        )
        expected = institutions
        if expected is None:
            expected = [row[0] for row in store.rows("SELECT id FROM institutions")]
        return attrs.evolve(
            summary, notes=tuple(notes),
            warnings=tuple(_otherInstitutions(rows, expected)),
        )

    return store.atomically(body)


def _otherInstitutions(rows: _Rows, expected: Collection[str]) -> list[str]:
    """
    A warning for each institution id of the file's C{institution} column
    that is not one of C{expected}.
    """
    if not expected:
        return []
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for line, values in rows:
        institution = values.get("institution")
        if institution is None or institution in expected:
            continue
        first.setdefault(institution, line)
        count[institution] = count.get(institution, 0) + 1
    return [
        "line %d: the institution %s (%d rows) is not %s, the configuration's;"
        " the rows were imported all the same." % (
            first[name], name, count[name], " or ".join(sorted(expected))
        )
        for name in sorted(first)
    ]


def _endOfDay(value: datetime) -> datetime:
    """
    A date without a time (midnight) as its last minute, as due dates are.
    """
    if value.time() == datetime.min.time():
        return datetime.combine(value.date(), DUE_TIME)
    return value


def _storeRecords(store: Store, kind: str, rows: _Rows, at: datetime) -> ImportSummary:
    """
    Write checked fees, loans or holds, inside the caller's transaction:
    each row is a new record, its patron and item found by barcode.
    """
    patrons = {
        row[1]: (row[0], row[2])
        for row in store.rows("SELECT id, barcode, home_branch FROM patrons")
    }
    items = {
        row["barcode"]: row
        for row in store.rows(
            "SELECT id, barcode, title, title_key, status, current_branch"
            " FROM items"
        )
    }
    first = store.row(
        "SELECT default_branch, hold_shelf_days FROM institutions ORDER BY rowid LIMIT 1"
    )
    defaultBranch, shelfDays = (first[0], first[1]) if first else (None, 7)
    errors: list[str] = []
    for line, values in rows:
        for column in KINDS[kind].columns:
            values.setdefault(column.name, column.default)
        patron = patrons.get(values["patron"])
        if patron is None:
            errors.append(
                "line %d: there is no patron %s (import the patrons first)"
                % (line, values["patron"])
            )
        values["patron_id"], values["patron_home"] = patron or (None, None)
        item = None
        if values.get("item") is not None:
            item = items.get(values["item"])
            if item is None:
                errors.append(
                    "line %d: there is no item %s (import the items first)"
                    % (line, values["item"])
                )
        values["item_row"] = item
    newBranches: list[str] = []
    writer = {"fees": _writeFees, "loans": _writeLoans, "holds": _writeHolds}[kind]
    if not errors:
        writer(store, rows, at, errors, newBranches, defaultBranch, shelfDays, items)
    if errors:
        if len(errors) > MAX_ERRORS:
            errors = errors[:MAX_ERRORS] + ["(more errors not shown)"]
        raise CSVImportError(errors)
    return ImportSummary(
        kind=kind, rows=len(rows), created=len(rows), updated=0,
        newBranches=tuple(newBranches),
    )


def _addBranches(store: Store, codes: Iterable[str], newBranches: list[str]) -> None:
    """
    Create the branches of C{codes} the database does not have yet.
    """
    known = {row[0] for row in store.rows("SELECT code FROM branches")}
    new = sorted(set(codes) - known)
    if new:
        store.executemany(
            "INSERT INTO branches (code, name) VALUES (?, ?)",
            [(code, code) for code in new],
        )
        newBranches.extend(new)


def _writeFees(store: Store, rows: _Rows, at: datetime, errors: list[str],
               newBranches: list[str], defaultBranch: str | None, shelfDays: int,
               items: dict[str, Row]) -> None:
    """
    Each row an outstanding fee (its balance the whole amount), or, of a
    negative amount, a credit.
    """
    existing = {
        tuple(row) for row in store.rows(
            "SELECT patron_id, item_id, fee_type, amount_cents, created_at"
            " FROM fees WHERE voided_at IS NULL"
        )
    }
    params = []
    for line, values in rows:
        item = values["item_row"]
        created = store.stamp(values["date"] or at)
        key = (values["patron_id"], item["id"] if item else None, values["type"],
               values["amount"], created)
        if key in existing:
            errors.append(
                "line %d: patron %s already has this fee (was the file imported"
                " before?)" % (line, values["patron"])
            )
            continue
        params.append(
            key[:4] + (values["description"], values["amount"], created)
        )
    if not errors:
        store.executemany(
            "INSERT INTO fees (patron_id, item_id, fee_type, amount_cents,"
            " description, balance_cents, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            params,
        )


def _writeLoans(store: Store, rows: _Rows, at: datetime, errors: list[str],
                newBranches: list[str], defaultBranch: str | None, shelfDays: int,
                items: dict[str, Row]) -> None:
    """
    Each row an open loan; its item becomes charged.
    """
    onLoan = {
        row[0] for row in store.rows(
            "SELECT item_id FROM loans WHERE returned_at IS NULL"
        )
    }
    params, charged = [], []
    for line, values in rows:
        item = values["item_row"]
        due = _endOfDay(values["due"])
        if due < values["out"]:
            errors.append(
                "line %d: the due date %s is before the out date %s"
                % (line, due.date(), values["out"].date())
            )
        if item["id"] in onLoan or item["status"] == "charged":
            errors.append(
                "line %d: item %s is on loan already" % (line, item["barcode"])
            )
        elif item["status"] in ("on_hold_shelf", "in_transit"):
            errors.append(
                "line %d: item %s is %s for a hold; it cannot be on loan too"
                % (line, item["barcode"],
                   "on the hold shelf" if item["status"] == "on_hold_shelf"
                   else "in transit")
            )
        branch = values["branch"] or item["current_branch"] or defaultBranch
        params.append((item["id"], values["patron_id"], branch,
                       store.stamp(values["out"]), store.stamp(due),
                       values["renewals"]))
        charged.append((item["id"],))
    if errors:
        return
    _addBranches(store, {row[2] for row in params if row[2]}, newBranches)
    store.executemany(
        "INSERT INTO loans (item_id, patron_id, branch, out_at, due_at, renewals)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        params,
    )
    store.executemany(
        "UPDATE items SET status = 'charged', destination = NULL WHERE id = ?",
        charged,
    )


def _writeHolds(store: Store, rows: _Rows, at: datetime, errors: list[str],
                newBranches: list[str], defaultBranch: str | None, shelfDays: int,
                items: dict[str, Row]) -> None:
    """
    Each row an active hold, in queue order: by C{position} where given
    (which must agree with the placed dates), else by placed date.
    """
    byTitle: dict[str, list[Row]] = {}
    for item in items.values():
        byTitle.setdefault(item["title_key"], []).append(item)
    trapped: dict[int, int] = {}
    for line, values in rows:
        item = values["item_row"]
        title = values.get("title")
        status = values["status"]
        if item is None and title is None:
            errors.append("line %d: give the item or the title held" % (line,))
            continue
        if title is not None and title not in byTitle:
            errors.append(
                "line %d: no item has the title %s (import the items first)"
                % (line, title)
            )
            continue
        if item is not None and title is not None and status == "waiting":
            errors.append(
                "line %d: give the item or the title of a waiting hold, not both"
                " (an item with a title is the copy trapped for a ready hold)"
                % (line,)
            )
            continue
        if status != "waiting":
            if item is None:
                errors.append(
                    "line %d: a %s hold needs the item trapped for it"
                    % (line, status)
                )
                continue
            if item["status"] == "charged":
                errors.append(
                    "line %d: item %s is on loan; it cannot be trapped for a hold"
                    % (line, item["barcode"])
                )
            elif item["id"] in trapped:
                errors.append(
                    "line %d: item %s is trapped for the hold on line %d already"
                    % (line, item["barcode"], trapped[item["id"]])
                )
            trapped[item["id"]] = line
        values["title_key"] = title if title is not None else item["title_key"]
        values["title"] = byTitle[values["title_key"]][0]["title"]
        values["held_item"] = item["id"] if item is not None and title is None else None
        values["pickup_branch"] = (
            values["pickup_branch"] or values["patron_home"] or defaultBranch
        )
        if values["pickup_branch"] is None:
            errors.append(
                "line %d: no pickup_branch, and the patron has no home branch"
                % (line,)
            )
    if errors:
        return
    queues: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for line, values in rows:
        queues.setdefault(values["title_key"], []).append((line, values))
    ordered = []
    for titleKey, queue in queues.items():
        placed = [entry for entry in queue if entry[1]["position"] is not None]
        placed.sort(key=lambda entry: entry[1]["position"])
        for (line1, before), (line2, after) in pairwise(placed):
            if before["position"] == after["position"]:
                errors.append(
                    "line %d: position %d of %s is on line %d already"
                    % (line2, after["position"], titleKey, line1)
                )
            elif after["placed"] < before["placed"]:
                errors.append(
                    "line %d: position %d was placed before position %d (line %d);"
                    " the queue follows the placed dates, so correct the dates"
                    " or the positions" % (
                        line2, after["position"], before["position"], line1
                    )
                )
        ordered.extend(sorted(queue, key=lambda entry: (
            entry[1]["placed"],
            entry[1]["position"] if entry[1]["position"] is not None else 0,
            entry[0],
        )))
    if errors:
        return
    _addBranches(store, {values["pickup_branch"] for _, values in rows}, newBranches)
    for _, values in ordered:
        status = values["status"]
        item = values["item_row"]
        shelfExpires = None
        if status == "ready":
            shelfExpires = values["shelf_expires"] or datetime.combine(
                at.date() + timedelta(days=shelfDays), DUE_TIME
            )
        expires = values["expires"]
        store.execute(
            "INSERT INTO holds (patron_id, item_id, title_key, title, pickup_branch,"
            " placed_at, expires_at, status, trapped_item_id, trapped_at,"
            " shelf_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (values["patron_id"], values["held_item"], values["title_key"],
             values["title"], values["pickup_branch"], store.stamp(values["placed"]),
             store.stamp(_endOfDay(expires)) if expires else None, status,
             item["id"] if status != "waiting" else None,
             store.stamp(at) if status != "waiting" else None,
             store.stamp(_endOfDay(shelfExpires)) if shelfExpires else None),
        )
        if status != "waiting":
            store.execute(
                "UPDATE items SET status = ?, current_branch = ?, destination = ?"
                " WHERE id = ?",
                ("on_hold_shelf" if status == "ready" else "in_transit",
                 values["pickup_branch"] if status == "ready"
                 else item["current_branch"],
                 values["pickup_branch"], item["id"]),
            )


def _store(store: Store, spec: _Kind, kind: str, fileColumns: Sequence[_Column],
           rows: _Rows, replace: bool) -> ImportSummary:
    """
    Write checked rows, inside the caller's transaction.

    Columns missing from the file get their defaults in new rows and are
    left alone in existing ones. The extra columns (C{attribute:CODE},
    C{field:CODE}) are written to their own table after the rows.
    """
    extras = [column for column in fileColumns if column.extra]
    fileColumns = [
        column for column in fileColumns if not column.extra and column.stored
    ]
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
