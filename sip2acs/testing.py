"""
Public test doubles for sip2acs and for people writing adapters: the
in-memory circulation system of L{sip2acs.ils.memory}, under the name it
was first published as.
"""

from sip2acs.ils.memory import MemoryILS, MemoryItem, MemoryPatron

__all__ = ["MemoryILS", "MemoryPatron", "MemoryItem"]
