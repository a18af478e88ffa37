"""
The old home of L{sip2acs.ils.sql.checkout}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.checkout import (
    Checkouts,
)

__all__ = ["Checkouts"]
