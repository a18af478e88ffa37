"""
The embedded SQLite circulation system: SQLite's side of the SQL store
seam, with the circulation rules shared from L{sip2acs.ils.sql}.

  - C{adapter}: L{SQLiteILS}, the L{IILS <sip2acs.ils.interfaces.IILS>}
    service (its worker thread, start and stop, the file watch);
  - C{store}: what is SQLite's own (opening, migrating, C{BEGIN
    IMMEDIATE}, explaining its errors): L{SQLiteStore
    <sip2acs.ils.sqlite.store.SQLiteStore>};
  - C{circulation}: the shared facade on a sqlite3 connection;
  - C{schema/}: the migrations, as package data;
  - C{importing}, C{demo}: their old homes (the CSV import and the demo
    data live in L{sip2acs.ils.sql} now), taking a sqlite3 connection as
    they always did;
  - C{rules}: its old home, re-exporting L{sip2acs.ils.sql.rules} for
    L{sip2acs.ils.circulation}'s names.

The names below are the ones C{sip2acs.ils.sqlite} has always exported.
"""

from sip2acs.ils.sqlite.adapter import POOL_NAME, SQLiteILS
from sip2acs.ils.sqlite.store import (
    DatabaseError,
    createDatabaseFile,
    migrate,
    migrations,
    openDatabase,
)

__all__ = [
    "SQLiteILS",
    "DatabaseError",
    "createDatabaseFile",
    "openDatabase",
    "migrate",
    "migrations",
    "POOL_NAME",
]
