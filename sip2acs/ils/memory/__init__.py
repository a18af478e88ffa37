"""
An in-memory circulation system: the test double of sip2acs's own tests,
an example for people writing adapters, and the second system the adapter
contract of L{sip2acs.ils.testing} runs against.

  - L{adapter <sip2acs.ils.memory.adapter>}: L{MemoryILS}, lending and
    lookups;
  - L{state <sip2acs.ils.memory.state>}: the records, the policy and the
    read side (lookups, checkin routing);
  - L{requests <sip2acs.ils.memory.requests>}: renew all, holds, fee
    payments, card blocks.
"""

from sip2acs.ils.memory.adapter import (
    MemoryFee,
    MemoryHold,
    MemoryILS,
    MemoryItem,
    MemoryLimits,
    MemoryPatron,
    MemoryRules,
)

__all__ = [
    "MemoryILS",
    "MemoryPatron",
    "MemoryItem",
    "MemoryHold",
    "MemoryFee",
    "MemoryRules",
    "MemoryLimits",
]
