"""
The old home of L{sip2acs.ils.sql.fees}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.fees import (
    Fees,
)

__all__ = ["Fees"]
