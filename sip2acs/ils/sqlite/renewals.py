"""
The old home of L{sip2acs.ils.sql.renewals}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.renewals import (
    Renewals,
)

__all__ = ["Renewals"]
