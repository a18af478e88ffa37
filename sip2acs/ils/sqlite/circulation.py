# -*- test-case-name: tests.test_ils_sqlite,tests.test_sqlite_package -*-
"""
The circulation facade on one sqlite3 connection: L{Circulation}, the
shared L{sip2acs.ils.sql.circulation.Circulation} built on a
L{SQLiteStore <sip2acs.ils.sqlite.store.SQLiteStore>}.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo

from sip2acs.ils.sql.circulation import Circulation as SQLCirculation
from sip2acs.ils.sql.rules import SortBins
from sip2acs.ils.sqlite.store import SQLiteStore

__all__ = ["Circulation"]


class Circulation(SQLCirculation):
    """
    The circulation operations on one sqlite3 connection.
    """

    def __init__(self, conn: sqlite3.Connection,
                 clock: Callable[[], datetime] | None = None,
                 sortBins: SortBins | Mapping[str, str] | None = None,
                 allowOverpayment: bool = False,
                 zone: tzinfo | None = None) -> None:
        """
        @param conn: A migrated sqlite3 connection (see
            L{sip2acs.ils.sqlite.openDatabase}); used only from the thread
            that created it.
        @param clock: A function returning the time now: aware (converted
            to C{zone}) or naive (wall time in C{zone}).
        @param sortBins: The checkin sort bins, or a mapping for them.
        @param allowOverpayment: Whether a payment over what is owed is
            accepted (the rest becomes a credit) instead of refused.
        @param zone: The institution's time zone; the host's by default.
        """
        SQLCirculation.__init__(
            self, SQLiteStore(conn, clock, zone), sortBins, allowOverpayment
        )
