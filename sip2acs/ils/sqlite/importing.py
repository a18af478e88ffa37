# -*- test-case-name: tests.test_ils_sqlite -*-
"""
The CSV import's old home: it lives in L{sip2acs.ils.sql.importing} now,
one implementation for SQLite and PostgreSQL. L{importCSV} here also takes
a bare sqlite3 connection, as it always did.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection
from datetime import datetime

from sip2acs.ils.sql import importing as _shared
from sip2acs.ils.sql.importing import (
    ITEM_STATUSES,
    KINDS,
    MAX_ERRORS,
    MAX_YEAR,
    MIN_YEAR,
    PARALLEL_HASHING,
    CSVImportError,
    ImportSummary,
)
from sip2acs.ils.sql.store import Store
from sip2acs.ils.sqlite.store import SQLiteStore

__all__ = [
    "importCSV",
    "CSVImportError",
    "ImportSummary",
    "KINDS",
    "ITEM_STATUSES",
    "MAX_ERRORS",
    "MIN_YEAR",
    "MAX_YEAR",
    "PARALLEL_HASHING",
]


def importCSV(conn: sqlite3.Connection | Store, kind: str,
              path: str | os.PathLike[str], now: datetime | None = None,
              replace: bool = False,
              institutions: Collection[str] | None = None) -> ImportSummary:
    """
    L{sip2acs.ils.sql.importing.importCSV} on a L{Store}, or on a sqlite3
    connection from L{openDatabase <sip2acs.ils.sqlite.store.openDatabase>}
    (in autocommit mode, outside a transaction).
    """
    store = conn if isinstance(conn, Store) else SQLiteStore(conn)
    return _shared.importCSV(store, kind, path, now=now, replace=replace,
                             institutions=institutions)
