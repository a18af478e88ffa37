"""
The old home of L{sip2acs.ils.sql.rules}, which the SQLite and PostgreSQL
stores share; its public names still import from here.
"""

from sip2acs.ils.sql.rules import (
    ACTIVE_HOLD,
    MAX_HOLD_PERIOD,
    MAX_LOAN_PERIOD,
    MAX_OFFLINE_AGE,
    MESSAGES,
    LoanRule,
    Rules,
    SortBins,
    circulationRefusal,
    dueDate,
    refusalFor,
)

__all__ = [
    "LoanRule", "SortBins", "Rules", "MESSAGES", "refusalFor", "circulationRefusal",
    "dueDate", "ACTIVE_HOLD", "MAX_OFFLINE_AGE", "MAX_LOAN_PERIOD", "MAX_HOLD_PERIOD",
]
