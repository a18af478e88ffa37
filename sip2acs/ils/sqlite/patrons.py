"""
The old home of L{sip2acs.ils.sql.patrons}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.patrons import (
    PRIVILEGES_DENIED,
    Patrons,
    PatronState,
)

__all__ = ["Patrons", "PatronState", "PRIVILEGES_DENIED"]
