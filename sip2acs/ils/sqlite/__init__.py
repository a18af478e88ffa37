"""
The embedded SQLite circulation system, split by concern.

  - C{adapter}: L{SQLiteILS}, the L{IILS <sip2acs.ils.interfaces.IILS>}
    service (its worker thread, start and stop, the file watch);
  - C{store}: what is SQLite's own (opening, migrating, transactions, the
    stored form of times and money, the journal);
  - C{circulation}: L{Circulation <sip2acs.ils.sqlite.circulation.Circulation>},
    the facade saying which operation is which transaction;
  - C{rules}: loan rules, limits, sort bins, refusal messages;
  - C{patrons}, C{items}: lookups; C{checkout}, C{checkin}, C{renewals},
    C{holds}, C{fees}: one module per operation group;
  - C{importing}: the CSV import of patrons, items and rules;
  - C{demo}: the demo data; C{schema/}: the migrations, as package data.

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
