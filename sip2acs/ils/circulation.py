"""
The old home of the SQLite circulation logic, kept so that its public names
still import from here; the code lives in L{sip2acs.ils.sqlite} (the
facade in L{sip2acs.ils.sqlite.circulation}, rules in
L{sip2acs.ils.sqlite.rules}, stored values in L{sip2acs.ils.sqlite.store}).
"""

from sip2acs.ils.sqlite.circulation import Circulation
from sip2acs.ils.sqlite.rules import (
    MAX_HOLD_PERIOD,
    MAX_LOAN_PERIOD,
    MAX_OFFLINE_AGE,
    LoanRule,
    SortBins,
    dueDate,
)
from sip2acs.ils.sqlite.store import (
    MAX_AMOUNT,
    TIMESTAMP,
    appendLog,
    fromCents,
    readTime,
    toCents,
    writeTime,
)

__all__ = [
    "Circulation",
    "LoanRule",
    "SortBins",
    "appendLog",
    "toCents",
    "fromCents",
    "dueDate",
    "writeTime",
    "readTime",
    "TIMESTAMP",
    "MAX_AMOUNT",
    "MAX_OFFLINE_AGE",
    "MAX_LOAN_PERIOD",
    "MAX_HOLD_PERIOD",
]
