"""
The old home of L{sip2acs.ils.sql.items}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.items import (
    STATUS_CODES,
    Items,
    itemFields,
)

__all__ = ["Items", "itemFields", "STATUS_CODES"]
