# -*- test-case-name: tests.test_ils_memory,tests.test_ils_sqlite -*-
"""
The adapter contract: the behaviour every L{IILS
<sip2acs.ils.interfaces.IILS>} adapter must have, shipped so that every
adapter, sip2acs's own and third parties', runs the same suite.

The contract brings its own small library (L{contractLibrary}, plain
values: patrons with PINs, fees, blocks and holds, items in each state,
the branches and the loan rules it relies on; see
L{sip2acs.ils.testing.library}). To run it against an adapter, mix
L{ILSContractMixin} into a L{twisted.trial.unittest.TestCase} and
implement one method, C{makeILS(library)}::

    from twisted.trial.unittest import TestCase
    from sip2acs.ils.testing import ILSContractMixin

    class MyAdapterContractTests(ILSContractMixin, TestCase):
        def makeILS(self, library):
            ils = MyAdapter(zone=library.zone, clock=lambda: library.now)
            load(ils, library)          # however your system takes data in
            self.addCleanup(ils.close)
            return ils                  # or a Deferred firing with it

C{makeILS} must return (or a Deferred firing with) a fresh, started
adapter that:

  - holds exactly the library's patrons, items, loans, holds, fees,
    branches and rules (C{library.rules} read as a loan rule table:
    C{*} matches any patron class or item type);
  - has its clock pinned at C{library.now} and works in C{library.zone}:
    every time it returns is aware, in that zone (see
    L{sip2acs.ils.zones});
  - supports every operation (C{supports()} true for each of
    L{OPERATIONS <sip2acs.ils.interfaces.OPERATIONS>});
  - is stopped by the test's own cleanup (C{addCleanup}).

The contract checks result shapes, refusals as values with a
L{Reason <sip2acs.ils.values.Reason>} and a screen message, unknown patrons
and items, PIN checks, checkout/checkin/renew round trips, hold placing,
changing and cancelling, fee payments, card blocks, aware times and
C{verifyObject}. It does not check a system's own policy (loan periods by
item type, fine amounts, sort bins): test those beside your adapter, with
L{ContractCase} for the fixture and helpers if you like.
"""

from sip2acs.ils.testing.base import DENIED, ContractCase
from sip2acs.ils.testing.lending import LendingContract
from sip2acs.ils.testing.library import (
    CONTRACT_NOW,
    CONTRACT_ZONE,
    PIN,
    ContractFee,
    ContractHold,
    ContractItem,
    ContractLibrary,
    ContractLoan,
    ContractPatron,
    ContractRule,
    contractLibrary,
)
from sip2acs.ils.testing.lookups import LookupContract
from sip2acs.ils.testing.requests import RequestContract

__all__ = [
    "ILSContractMixin",
    "ContractCase",
    "ContractLibrary",
    "ContractPatron",
    "ContractItem",
    "ContractLoan",
    "ContractHold",
    "ContractFee",
    "ContractRule",
    "contractLibrary",
    "CONTRACT_NOW",
    "CONTRACT_ZONE",
    "DENIED",
    "PIN",
]


class ILSContractMixin(LookupContract, LendingContract, RequestContract):
    """
    Every IILS operation and refusal against the contract library. Mix
    into a L{twisted.trial.unittest.TestCase} and implement
    L{makeILS <ContractCase.makeILS>}.
    """
