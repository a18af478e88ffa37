"""
Tests for L{sip2acs.ils.memory}: the adapter contract of
L{sip2acs.ils.testing} on L{MemoryILS}, then what is particular to it.
"""

from datetime import datetime
from decimal import Decimal

from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.ils.base import CheckinRequest, Payment, Terminal
from sip2acs.ils.memory import (
    MemoryFee,
    MemoryHold,
    MemoryILS,
    MemoryItem,
    MemoryLimits,
    MemoryPatron,
    MemoryRules,
)
from sip2acs.ils.testing import ContractLibrary, ILSContractMixin


def memoryRules(library: ContractLibrary) -> MemoryRules:
    """
    The part of the contract library's loan rules a L{MemoryILS} keeps:
    limits by patron class (item type C{*} rows), the item types that do
    not circulate or cost a rental fee, the default renewal limit.
    """
    limits, notCirculating, rentalFees, maxRenewals = {}, set(), {}, None
    for rule in library.rules:
        if rule.itemType == "*":
            limits[rule.patronClass] = MemoryLimits(
                rule.maxLoans, rule.feeLimit, rule.maxOverdue, rule.maxHolds
            )
            if rule.patronClass == "*":
                maxRenewals = rule.maxRenewals
        elif rule.loanDays == 0:
            notCirculating.add(rule.itemType)
        elif rule.rentalFee:
            rentalFees[rule.itemType] = rule.rentalFee
    return MemoryRules(
        limits=limits, maxRenewals=maxRenewals, notCirculating=frozenset(notCirculating),
        rentalFees=rentalFees, holdShelfDays=library.holdShelfDays,
        currency=library.currency, classNames=dict(library.patronClasses),
    )


def memoryILS(library: ContractLibrary) -> MemoryILS:
    """
    A L{MemoryILS} holding the contract library, its clock at
    C{library.now}, every operation supported.
    """
    loans = {loan.itemId: loan for loan in library.loans}
    loanDays = next(r.loanDays for r in library.rules if r.patronClass == r.itemType == "*")
    patrons = [
        MemoryPatron(
            p.patronId, p.name, pin=p.pin, patronClass=p.patronClass,
            homeBranch=p.homeBranch, expires=p.expires, cardLost=p.cardLost,
            blocked=p.blocked, blockNote=p.blockNote, language=p.language,
            email=p.email, phone=p.phone, address=p.address, birthDate=p.birthDate,
            internetPrivileges=p.internetPrivileges, attributes=dict(p.attributes),
        )
        for p in library.patrons
    ]
    items = [
        MemoryItem(
            i.itemId, i.title, borrower=loans[i.itemId].patronId if i.itemId in loans else None,
            dueDate=loans[i.itemId].due if i.itemId in loans else None,
            renewals=loans[i.itemId].renewals if i.itemId in loans else 0,
            location=i.homeBranch, titleId=i.titleId, itemType=i.itemType,
            status="available" if i.status == "charged" else i.status,
            destination=i.destination, mediaType=i.mediaType, magnetic=i.magnetic,
            callNumber=i.callNumber, collectionCode=i.collectionCode,
            fields=dict(i.fields),
        )
        for i in library.items
    ]
    holds = [
        MemoryHold(
            h.patronId, h.itemId, h.titleKey, h.title, h.pickup, h.placed,
            status="ready" if h.ready else "waiting",
            trapped=h.itemId if h.ready else None, shelfExpires=h.shelfExpires,
        )
        for h in library.holds
    ]
    fees = [
        MemoryFee(f.patronId, f.itemId, f.feeType, f.amount, f.description, f.created,
                  feeId=str(number))
        for number, f in enumerate(library.fees, start=1)
    ]
    return MemoryILS(
        patrons, items, lambda: library.now, holds=holds, fees=fees,
        rules=memoryRules(library), branches=[code for code, _ in library.branches],
        defaultBranch=library.defaultBranch, zone=library.zone,
        operations=MemoryILS.ALL_OPERATIONS, loanDays=loanDays,
    )


class MemoryContractTests(ILSContractMixin, TestCase):
    """
    The adapter contract on L{MemoryILS}.
    """

    def makeILS(self, library: ContractLibrary) -> MemoryILS:
        return memoryILS(library)


class DoubleTests(SynchronousTestCase):
    """
    Built with patrons and items only, L{MemoryILS} is the small double
    the session tests use.
    """

    terminal = Terminal(account="kiosk", institution="X")

    def test_coreOperationsOnly(self):
        """
        It advertises the core operations only, unless told otherwise.
        """
        self.assertFalse(MemoryILS().supports("hold"))
        self.assertTrue(MemoryILS().supports("checkout"))
        self.assertTrue(MemoryILS(operations=MemoryILS.ALL_OPERATIONS).supports("hold"))

    def test_noRoutingWithoutBranches(self):
        """
        Without branches a checkin raises no alert, wherever the item's
        home is.
        """
        ils = MemoryILS(items=[MemoryItem("I1", "A Title", location="ELSEWHERE")])
        result = self.successResultOf(ils.checkin(self.terminal, CheckinRequest("I1")))
        self.assertIs(result.alert, False)
        self.assertEqual(result.screenMessages, ("This item was not checked out.",))

    def test_noLimitsByDefault(self):
        """
        Without rules a patron has no limits reported and no flags.
        """
        ils = MemoryILS(patrons=[MemoryPatron("P1", "Pat")])
        patron = self.successResultOf(ils.lookupPatron(self.terminal, "P1"))
        self.assertEqual(
            (patron.chargedItemsLimit, patron.feeLimit, patron.flags, patron.feeAmount),
            (None, None, frozenset(), 0),
        )

    def test_classShownByCode(self):
        """
        A patron class with no name in the rules is shown by its code.
        """
        ils = MemoryILS(patrons=[MemoryPatron("P1", "Pat", patronClass="STAFF")])
        patron = self.successResultOf(ils.lookupPatron(self.terminal, "P1"))
        self.assertEqual((patron.patronClass, patron.patronClassCode), ("STAFF", "STAFF"))

    def test_paymentsRecorded(self):
        """
        The payments it accepts are kept, in order, as they came, with
        their write-off flag and register; a refused one is not.
        """
        fee = MemoryFee("P1", None, "01", Decimal("3.00"), "Fine", datetime(2025, 1, 1))
        ils = MemoryILS(patrons=[MemoryPatron("P1", "Pat")], fees=[fee],
                        operations=MemoryILS.ALL_OPERATIONS)
        writeoff = Payment("P1", Decimal("1.00"), writeoff=True, register="R1")
        self.successResultOf(ils.feePaid(self.terminal, writeoff))
        self.successResultOf(ils.feePaid(self.terminal, Payment("P1", Decimal("9.00"))))
        self.assertEqual(ils.payments, [writeoff])

    def test_allowOverpayment(self):
        """
        With C{allowOverpayment} in its rules, a payment over what is owed
        (that does not say otherwise) leaves a credit.
        """
        fee = MemoryFee("P1", None, "01", Decimal("3.00"), "Fine", datetime(2025, 1, 1))
        ils = MemoryILS(patrons=[MemoryPatron("P1", "Pat")], fees=[fee],
                        rules=MemoryRules(allowOverpayment=True),
                        operations=MemoryILS.ALL_OPERATIONS)
        result = self.successResultOf(
            ils.feePaid(self.terminal, Payment("P1", Decimal("5.00")))
        )
        self.assertIs(result.accepted, True)
        patron = self.successResultOf(ils.lookupPatron(self.terminal, "P1"))
        self.assertEqual((patron.feeAmount, patron.fineItems), (Decimal("-2.00"), ()))
