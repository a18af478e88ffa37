# -*- test-case-name: tests.test_ils_memory,tests.test_ils_sqlite -*-
"""
The adapter contract, part three: the patron's other requests: renew
(29), renew all (65), holds (15), fee payments (37), card blocks (01,
25), item status updates (19) and the end of a patron session (35).
"""

from datetime import datetime, timedelta
from decimal import Decimal

from sip2acs.ils.testing.base import DENIED, ContractCase
from sip2acs.ils.testing.library import PIN
from sip2acs.ils.values import AlertType, Reason

__all__ = ["RequestContract"]


class RequestContract(ContractCase):
    """
    Renewals, holds, payments, blocks, item status and end of session.
    """

    # Renew (29)

    async def test_renewExtendsLoan(self) -> None:
        """
        A renewal moves the due date later, says it was a renewal, has a
        transaction id, and the item reports the new due date.
        """
        result = await self.renew("P0001", "I0003")
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, True)
        assert result.dueDate is not None
        self.assertGreater(result.dueDate, self.due(10))
        self.assertTrue(result.transactionId)
        self.assertEqual((await self.item("I0003")).dueDate, result.dueDate)

    async def test_renewByTitle(self) -> None:
        """
        A renewal may name the title instead of the item.
        """
        result = await self.renew("P0001", titleId="Moby Dick")
        self.assertIs(result.ok, True, result)

    async def test_renewLimit(self) -> None:
        """
        A loan renewed the maximum number of times is refused.
        """
        self.assertRefused(await self.renew("P0001", "I0013"), Reason.RENEWAL_LIMIT)

    async def test_renewHoldsWaiting(self) -> None:
        """
        A loan another patron waits for is refused.
        """
        self.assertRefused(await self.renew("P0010", "I0004"), Reason.HOLDS_WAITING)

    async def test_renewPatronBlocked(self) -> None:
        """
        A patron with a block is refused.
        """
        self.assertRefused(await self.renew("P0005", "I0014"), Reason.EXCESSIVE_FINES)

    async def test_renewNotOutToPatron(self) -> None:
        """
        An item out to someone else is refused, unless third-party renewal
        is allowed.
        """
        self.assertRefused(await self.renew("P0001", "I0018"), Reason.NOT_ON_LOAN)
        result = await self.renew("P0001", "I0018", thirdPartyAllowed=True)
        self.assertIs(result.ok, True, result)

    async def test_renewNotOnLoan(self) -> None:
        """
        An item not out is refused.
        """
        self.assertRefused(await self.renew("P0001", "I0001"), Reason.NOT_ON_LOAN)

    async def test_renewUnknown(self) -> None:
        """
        Unknown patrons and items are refused.
        """
        self.assertRefused(await self.renew("NOSUCH", "I0003"), Reason.UNKNOWN_PATRON)
        self.assertRefused(await self.renew("P0001", "NOSUCH"), Reason.UNKNOWN_ITEM)

    # Renew all (65)

    async def test_renewAll(self) -> None:
        """
        Renew all renews what it can and lists the rest with the reason.
        """
        result = await self.ils.renewAll(self.terminal, "P0001", PIN)
        self.assertIs(result.ok, True, result)
        self.assertEqual(set(result.renewed), {"I0003", "I0009"})
        self.assertEqual(list(result.unrenewed), ["I0013 " + Reason.RENEWAL_LIMIT])

    async def test_renewAllBlocked(self) -> None:
        """
        Renew all for a blocked patron is refused.
        """
        result = await self.ils.renewAll(self.terminal, "P0006")
        self.assertRefused(result, Reason.TOO_MANY_OVERDUE)
        self.assertEqual(result.renewed, ())

    async def test_renewAllUnknownPatron(self) -> None:
        """
        Renew all for an unknown patron is refused.
        """
        result = await self.ils.renewAll(self.terminal, "NOSUCH")
        self.assertRefused(result, Reason.UNKNOWN_PATRON)

    async def test_renewAllBadPin(self) -> None:
        """
        Renew all with a wrong PIN is refused.
        """
        result = await self.ils.renewAll(self.terminal, "P0001", "0000")
        self.assertRefused(result, Reason.BAD_PIN)

    # Hold (15)

    async def test_holdCopy(self) -> None:
        """
        A copy-level hold joins the queue behind earlier holds, for pickup
        at the patron's home branch.
        """
        result = await self.hold("add", "P0001", itemId="I0004")
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.queuePosition, 2)
        self.assertIs(result.available, False)
        self.assertEqual(result.pickupLocation, "MAIN")
        self.assertEqual(result.itemId, "I0004")
        self.assertEqual(result.title, "Emma")

    async def test_holdTitle(self) -> None:
        """
        A title-level hold on a title with a copy on the shelf is available.
        """
        result = await self.hold("add", "P0010", titleId="B001")
        self.assertIs(result.ok, True, result)
        self.assertIs(result.available, True)
        self.assertEqual(result.queuePosition, 1)
        self.assertEqual(result.title, "Pride and Prejudice")
        patron = await self.patron("P0010")
        self.assertIn("Pride and Prejudice", {ref.title for ref in patron.holdItems})

    async def test_holdPickupAndExpiry(self) -> None:
        """
        A hold takes the pickup location and expiry given.
        """
        expires = datetime(2025, 6, 1, 0, 0, tzinfo=self.ZONE)
        result = await self.hold(
            "add", "P0001", itemId="I0014", pickupLocation="EAST", expiration=expires
        )
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.pickupLocation, "EAST")
        self.assertEqual(result.expiration, expires)

    async def test_holdCancel(self) -> None:
        """
        Cancelling a hold removes it from the queue, so the loan can be
        renewed again.
        """
        result = await self.hold("cancel", "P0009", itemId="I0004")
        self.assertIs(result.ok, True, result)
        patron = await self.patron("P0009")
        self.assertEqual([ref.itemId for ref in patron.holdItems], ["I0008"])
        self.assertIs((await self.renew("P0010", "I0004")).ok, True)

    async def test_holdCancelNoSuchHold(self) -> None:
        """
        Cancelling a hold that does not exist is refused.
        """
        self.assertRefused(
            await self.hold("cancel", "P0001", itemId="I0001"), Reason.NO_SUCH_HOLD
        )

    async def test_holdAlter(self) -> None:
        """
        Changing a hold's pickup location routes the item there at checkin.
        """
        result = await self.hold(
            "alter", "P0009", itemId="I0004", pickupLocation="EAST"
        )
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.pickupLocation, "EAST")
        checkin = await self.checkin("I0004")
        self.assertEqual(checkin.alertType, AlertType.HOLD_OTHER_BRANCH)
        self.assertEqual(checkin.destination, "EAST")

    async def test_holdAlterNoSuchHold(self) -> None:
        """
        Changing a hold that does not exist is refused.
        """
        self.assertRefused(
            await self.hold("alter", "P0001", itemId="I0001", pickupLocation="EAST"),
            Reason.NO_SUCH_HOLD,
        )

    async def test_holdUnknown(self) -> None:
        """
        Holds for unknown patrons or items are refused.
        """
        self.assertRefused(
            await self.hold("add", "NOSUCH", itemId="I0001"), Reason.UNKNOWN_PATRON
        )
        self.assertRefused(
            await self.hold("add", "P0001", itemId="NOSUCH"), Reason.UNKNOWN_ITEM
        )
        self.assertRefused(
            await self.hold("add", "P0001", titleId="No Such Title"),
            Reason.UNKNOWN_ITEM,
        )

    async def test_holdPatronBlocked(self) -> None:
        """
        A blocked patron may not place holds.
        """
        self.assertRefused(
            await self.hold("add", "P0004", itemId="I0003"), Reason.CARD_BLOCKED
        )

    async def test_holdNotCirculating(self) -> None:
        """
        In-library-use items cannot be held.
        """
        self.assertRefused(
            await self.hold("add", "P0001", itemId="I0005"), Reason.HOLD_NOT_ALLOWED
        )

    async def test_holdAlreadyHeld(self) -> None:
        """
        A second hold on the same title by the same patron is refused.
        """
        self.assertRefused(
            await self.hold("add", "P0009", itemId="I0004"), Reason.HOLD_NOT_ALLOWED
        )

    async def test_holdOwnLoan(self) -> None:
        """
        A hold on an item the patron has out is refused.
        """
        self.assertRefused(
            await self.hold("add", "P0001", itemId="I0003"), Reason.HOLD_NOT_ALLOWED
        )

    async def test_holdUnknownMode(self) -> None:
        """
        A hold mode other than add, cancel and alter is refused.
        """
        self.assertRefused(
            await self.hold("swap", "P0001", itemId="I0004"), Reason.UNSUPPORTED
        )

    async def test_holdBadPin(self) -> None:
        """
        A hold with a wrong PIN is refused.
        """
        self.assertRefused(
            await self.hold("add", "P0001", itemId="I0004", pin="0000"), Reason.BAD_PIN
        )

    async def test_holdExpirationInThePast(self) -> None:
        """
        A hold cannot be set to expire before now: refused, and the hold is
        still trapped at checkin.
        """
        result = await self.hold(
            "alter", "P0009", itemId="I0004",
            expiration=self.NOW - timedelta(days=1),
        )
        self.assertRefused(result, Reason.BAD_DATE)
        checkin = await self.checkin("I0004")
        self.assertEqual(checkin.holdPatronId, "P0009")

    # Fee paid (37)

    async def test_feePaid(self) -> None:
        """
        A payment is accepted with a transaction id and lowers the balance.
        """
        result = await self.pay("P0001", "1.00", pin=PIN, transactionId="CARD-42")
        self.assertIs(result.accepted, True, result)
        self.assertTrue(result.transactionId)
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("1.50"))

    async def test_feePaidInFull(self) -> None:
        """
        Paying the whole balance clears the fines.
        """
        result = await self.pay("P0001", "2.50")
        self.assertIs(result.accepted, True, result)
        patron = await self.patron("P0001")
        self.assertEqual(patron.feeAmount, Decimal("0.00"))
        self.assertEqual(patron.fineItems, ())

    async def test_feePaidOldestFirst(self) -> None:
        """
        A payment goes to the oldest fees first.
        """
        await self.pay("P0005", "11.00")
        patron = await self.patron("P0005")
        self.assertEqual([ref.amount for ref in patron.fineItems], [Decimal("4.00")])
        self.assertNotIn("excessiveOutstandingFines", patron.flags)

    async def test_feePaidOverpayment(self) -> None:
        """
        Paying more than is owed is refused and changes nothing.
        """
        self.assertRefused(await self.pay("P0001", "5.00"), Reason.OVERPAYMENT)
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("2.50"))

    async def test_feePaidOverpaymentRefused(self) -> None:
        """
        A payment that asks for an overpayment to be refused is, whatever
        the adapter's own setting.
        """
        result = await self.pay("P0001", "5.00", overpayment="refused")
        self.assertRefused(result, Reason.OVERPAYMENT)
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("2.50"))

    async def test_feePaidOverpaymentCredit(self) -> None:
        """
        A payment that asks for an overpayment to be kept as credit is
        accepted: the fees are paid and the rest is the patron's credit.
        """
        result = await self.pay("P0001", "5.00", overpayment="credit")
        self.assertIs(result.accepted, True, result)
        patron = await self.patron("P0001")
        self.assertEqual(patron.feeAmount, Decimal("-2.50"))
        self.assertEqual(patron.fineItems, ())

    async def test_feePaidWriteoff(self) -> None:
        """
        A write-off settles fees as a payment does.
        """
        result = await self.pay("P0005", "11.00", writeoff=True, register="DESK1")
        self.assertIs(result.accepted, True, result)
        patron = await self.patron("P0005")
        self.assertEqual([ref.amount for ref in patron.fineItems], [Decimal("4.00")])

    async def test_feePaidWriteoffOverpayment(self) -> None:
        """
        A write-off of more than is owed is refused, even when overpayment
        is kept as credit.
        """
        result = await self.pay("P0001", "5.00", writeoff=True, overpayment="credit")
        self.assertRefused(result, Reason.OVERPAYMENT)
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("2.50"))

    async def test_feePaidByFeeId(self) -> None:
        """
        A payment naming a fee (by the id a patron lookup reports) pays
        that fee.
        """
        fines = (await self.patron("P0005")).fineItems
        newest = fines[-1]
        result = await self.pay("P0005", "4.00", feeId=newest.feeId)
        self.assertIs(result.accepted, True, result)
        patron = await self.patron("P0005")
        self.assertEqual([ref.feeId for ref in patron.fineItems], [fines[0].feeId])

    async def test_feePaidBadAmount(self) -> None:
        """
        Zero and negative amounts are refused.
        """
        self.assertRefused(await self.pay("P0001", "0.00"), Reason.BAD_AMOUNT)
        self.assertRefused(await self.pay("P0001", "-1.00"), Reason.BAD_AMOUNT)

    async def test_feePaidUnknownPatron(self) -> None:
        """
        A payment for an unknown patron is refused.
        """
        self.assertRefused(await self.pay("NOSUCH", "1.00"), Reason.UNKNOWN_PATRON)

    async def test_feePaidBadPin(self) -> None:
        """
        A payment with a wrong PIN is refused.
        """
        self.assertRefused(await self.pay("P0001", "1.00", pin="0000"), Reason.BAD_PIN)

    # Block patron (01), patron enable (25)

    async def test_blockPatron(self) -> None:
        """
        Blocking a card denies its privileges at once.
        """
        patron = await self.ils.blockPatron(self.terminal, "P0001", True, "Tampering")
        self.assertTrue(patron.found)
        self.assertTrue(DENIED <= patron.flags)
        self.assertRefused(await self.checkout("P0001", "I0001"), Reason.CARD_BLOCKED)

    async def test_blockUnknownPatron(self) -> None:
        """
        Blocking an unknown patron reports them not found.
        """
        patron = await self.ils.blockPatron(self.terminal, "NOSUCH", False, "")
        self.assertFalse(patron.found)

    async def test_enablePatron(self) -> None:
        """
        Enabling a card blocked by a kiosk lifts the block.
        """
        patron = await self.ils.enablePatron(self.terminal, "P0004", PIN)
        self.assertIs(patron.pinValid, True)
        self.assertEqual(patron.flags, frozenset())
        self.assertIs((await self.checkout("P0004", "I0001")).ok, True)

    async def test_enablePatronBadPin(self) -> None:
        """
        Enabling with a wrong PIN leaves the block.
        """
        patron = await self.ils.enablePatron(self.terminal, "P0004", "0000")
        self.assertIs(patron.pinValid, False)
        self.assertTrue(DENIED <= patron.flags)

    async def test_blockThenEnable(self) -> None:
        """
        A card blocked and enabled again is back in good standing.
        """
        await self.ils.blockPatron(self.terminal, "P0001", False, "Test")
        patron = await self.ils.enablePatron(self.terminal, "P0001")
        self.assertEqual(patron.flags, frozenset())

    async def test_enableUnknownPatron(self) -> None:
        """
        Enabling an unknown patron reports them not found.
        """
        self.assertFalse((await self.ils.enablePatron(self.terminal, "NOSUCH")).found)

    # Item status update (19), end patron session (35)

    async def test_updateItemStatus(self) -> None:
        """
        Item properties are stored and reported back.
        """
        result = await self.ils.updateItemStatus(self.terminal, "I0001", "weight=420g")
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.properties, "weight=420g")
        self.assertEqual((await self.item("I0001")).properties, "weight=420g")

    async def test_updateItemStatusUnknown(self) -> None:
        """
        Properties of an unknown item are refused.
        """
        self.assertRefused(
            await self.ils.updateItemStatus(self.terminal, "NOSUCH", "x"),
            Reason.UNKNOWN_ITEM,
        )

    async def test_endPatronSession(self) -> None:
        """
        Ending a patron session succeeds.
        """
        result = await self.ils.endPatronSession(self.terminal, "P0001", PIN)
        self.assertIs(result.ok, True)
