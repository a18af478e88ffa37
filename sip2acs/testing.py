"""
Public test helpers for sip2acs and for people writing adapters: the
in-memory circulation system of L{sip2acs.ils.memory}, under the name it
was first published as, and the adapter contract of L{sip2acs.ils.testing}
(mix L{ILSContractMixin} into a trial test case and implement
C{makeILS(library)} to run it against your adapter).
"""

from sip2acs.ils.memory import MemoryILS, MemoryItem, MemoryPatron
from sip2acs.ils.testing import ContractLibrary, ILSContractMixin, contractLibrary

__all__ = [
    "MemoryILS",
    "MemoryPatron",
    "MemoryItem",
    "ILSContractMixin",
    "ContractLibrary",
    "contractLibrary",
]
