"""
The old home of L{sip2acs.ils.sql.checkin}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.checkin import (
    Checkins,
)

__all__ = ["Checkins"]
