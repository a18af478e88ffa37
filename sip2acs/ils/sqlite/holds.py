"""
The old home of L{sip2acs.ils.sql.holds}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.holds import (
    Holds,
)

__all__ = ["Holds"]
