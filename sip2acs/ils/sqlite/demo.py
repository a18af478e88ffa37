# -*- test-case-name: tests.test_ils_sqlite -*-
"""
The demo data's old home: it lives in L{sip2acs.ils.sql.demo} now, one
implementation for SQLite and PostgreSQL (the table of what each patron
and item shows is there). L{loadDemo} here also takes a bare sqlite3
connection or a L{sqlite_utils.Database}, as it always did.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from sqlite_utils import Database

from sip2acs.ils.sql import demo as _shared
from sip2acs.ils.sql.demo import DEMO_PIN
from sip2acs.ils.sql.store import Store
from sip2acs.ils.sqlite.store import SQLiteStore

__all__ = ["loadDemo", "DEMO_PIN"]


def loadDemo(target: sqlite3.Connection | Database | Store, now: datetime) -> None:
    """
    L{sip2acs.ils.sql.demo.loadDemo} on a L{Store}, a sqlite3 connection
    from L{openDatabase <sip2acs.ils.sqlite.store.openDatabase>} (in
    autocommit mode) or a L{sqlite_utils.Database} on one.

    @raise ValueError: If the database already has patrons or items.
    """
    if isinstance(target, Database):
        target = target.conn
    store = target if isinstance(target, Store) else SQLiteStore(target)
    _shared.loadDemo(store, now)
