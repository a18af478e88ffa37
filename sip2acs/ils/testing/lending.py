# -*- test-case-name: tests.test_ils_memory,tests.test_ils_sqlite -*-
"""
The adapter contract, part two: lending and returning (11, 09), with the
refusals, the no-block and cancel cases, and the aware times of
requests and results.
"""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sip2acs.ils.testing.base import ContractCase
from sip2acs.ils.testing.library import PIN
from sip2acs.ils.values import AlertType, CirculationStatus, FeeType, Reason

__all__ = ["LendingContract"]


class LendingContract(ContractCase):
    """
    Checkout and checkin.
    """

    # Checkout (11)

    async def test_checkout(self) -> None:
        """
        A checkout lends the item until 23:59 on the last day of the loan
        period, desensitizes it and returns a transaction id.
        """
        result = await self.checkout("P0001", "I0001", pin=PIN)
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, False)
        self.assertIs(result.desensitize, True)
        self.assertIs(result.magneticMedia, False)
        self.assertIs(result.patronValid, True)
        self.assertIs(result.pinValid, True)
        self.assertEqual(result.dueDate, self.due(21))
        self.assertEqual(result.title, "Pride and Prejudice")
        self.assertTrue(result.transactionId)
        self.assertIn("I0001", await self.chargedTo("P0001"))
        item = await self.item("I0001")
        self.assertEqual(item.circulationStatus, CirculationStatus.CHARGED)

    async def test_checkoutLostItemsLimit(self) -> None:
        """
        A checkout with a lost items limit refuses a patron with that many
        loans of items marked lost, and lends to one with fewer.
        """
        result = await self.checkout("P0011", "I0001", lostItemsLimit=1)
        self.assertRefused(result, Reason.TOO_MANY_LOST)
        self.assertNotIn("I0001", await self.chargedTo("P0011"))
        result = await self.checkout("P0011", "I0001", lostItemsLimit=2)
        self.assertIs(result.ok, True, result)

    async def test_checkoutRefuseIfOverdue(self) -> None:
        """
        A checkout asking to refuse a patron with an overdue loan refuses
        one with a single overdue item (under the system's own limit); the
        same patron may borrow without it.
        """
        result = await self.checkout("P0011", "I0001", refuseIfOverdue=True)
        self.assertRefused(result, Reason.TOO_MANY_OVERDUE)
        result = await self.checkout("P0001", "I0001", refuseIfOverdue=True)
        self.assertIs(result.ok, True, result)
        result = await self.checkout("P0011", "I0002")
        self.assertIs(result.ok, True, result)

    async def test_checkoutBlockedItemType(self) -> None:
        """
        A checkout of an item whose type the request blocks is refused;
        other types are lent.
        """
        result = await self.checkout("P0001", "I0010", blockedItemTypes=["DVD"],
                                     feeAcknowledged=True)
        self.assertRefused(result, Reason.ITEM_TYPE_BLOCKED)
        self.assertNotIn("I0010", await self.chargedTo("P0001"))
        result = await self.checkout("P0001", "I0001", blockedItemTypes=["DVD"])
        self.assertIs(result.ok, True, result)

    async def test_checkoutPolicyNoBlock(self) -> None:
        """
        A no-block checkout (made off line) is accepted whatever the
        account's policy.
        """
        result = await self.checkout(
            "P0011", "I0010", noBlock=True, lostItemsLimit=1, refuseIfOverdue=True,
            blockedItemTypes=["DVD"],
        )
        self.assertIs(result.ok, True, result)

    async def test_checkoutUnknownPatron(self) -> None:
        """
        An unknown patron is refused, patron not valid.
        """
        result = await self.checkout("NOSUCH", "I0001")
        self.assertRefused(result, Reason.UNKNOWN_PATRON)
        self.assertIs(result.patronValid, False)

    async def test_checkoutBadPin(self) -> None:
        """
        A wrong PIN is refused, PIN not valid.
        """
        result = await self.checkout("P0001", "I0001", pin="0000")
        self.assertRefused(result, Reason.BAD_PIN)
        self.assertIs(result.pinValid, False)

    async def test_checkoutUnknownItem(self) -> None:
        """
        An unknown item is refused.
        """
        self.assertRefused(await self.checkout("P0001", "NOSUCH"), Reason.UNKNOWN_ITEM)

    async def test_checkoutCardExpired(self) -> None:
        """
        An expired card is refused: "Your card has expired".
        """
        result = await self.checkout("P0002", "I0001")
        self.assertRefused(result, Reason.CARD_EXPIRED)
        self.assertIn("expired", result.screenMessages[0])

    async def test_checkoutCardLost(self) -> None:
        """
        A card reported lost is refused.
        """
        self.assertRefused(await self.checkout("P0003", "I0001"), Reason.CARD_LOST)

    async def test_checkoutCardBlocked(self) -> None:
        """
        A card blocked by a kiosk is refused.
        """
        self.assertRefused(await self.checkout("P0004", "I0001"), Reason.CARD_BLOCKED)

    async def test_checkoutExcessiveFines(self) -> None:
        """
        Fines over the limit are refused.
        """
        self.assertRefused(
            await self.checkout("P0005", "I0001"), Reason.EXCESSIVE_FINES
        )

    async def test_checkoutTooManyOverdue(self) -> None:
        """
        Too many overdue items are refused.
        """
        self.assertRefused(
            await self.checkout("P0006", "I0001"), Reason.TOO_MANY_OVERDUE
        )

    async def test_checkoutLoanLimit(self) -> None:
        """
        A patron at the loan limit is refused.
        """
        self.assertRefused(await self.checkout("P0007", "I0001"), Reason.LOAN_LIMIT)

    async def test_checkoutNotCirculating(self) -> None:
        """
        An in-library-use item is refused and not desensitized.
        """
        result = await self.checkout("P0001", "I0005")
        self.assertRefused(result, Reason.NOT_CIRCULATING)
        self.assertIs(result.desensitize, False)

    async def test_checkoutItemLost(self) -> None:
        """
        A lost item is refused.
        """
        self.assertRefused(await self.checkout("P0001", "I0006"), Reason.ITEM_LOST)

    async def test_checkoutItemMissing(self) -> None:
        """
        A missing item is refused.
        """
        self.assertRefused(await self.checkout("P0001", "I0007"), Reason.ITEM_MISSING)

    async def test_checkoutOutToOther(self) -> None:
        """
        An item out to another patron is refused and stays with them.
        """
        self.assertRefused(await self.checkout("P0001", "I0004"), Reason.OUT_TO_OTHER)
        self.assertIn("I0004", await self.chargedTo("P0010"))

    async def test_checkoutOnHoldForOther(self) -> None:
        """
        An item on the hold shelf for another patron is refused.
        """
        self.assertRefused(
            await self.checkout("P0001", "I0008"), Reason.ON_HOLD_FOR_OTHER
        )

    async def test_checkoutOwnHold(self) -> None:
        """
        The patron a hold is for can check the item out, which fills the
        hold.
        """
        result = await self.checkout("P0009", "I0008", pin=PIN)
        self.assertIs(result.ok, True, result)
        patron = await self.patron("P0009")
        self.assertEqual([ref.itemId for ref in patron.holdItems], ["I0004"])
        self.assertIn("I0008", {ref.itemId for ref in patron.chargedItems})

    async def test_checkoutRenews(self) -> None:
        """
        Checking out an item already out to the same patron renews it when
        the SC's renewal policy allows.
        """
        result = await self.checkout("P0001", "I0003", scRenewalPolicy=True)
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, True)
        self.assertEqual(result.dueDate, self.due(21))

    async def test_checkoutRenewalNotAllowed(self) -> None:
        """
        Without the SC's renewal policy, checking out an item already out to
        the same patron is refused with renewal set.
        """
        result = await self.checkout("P0001", "I0003")
        self.assertRefused(result, Reason.RENEWAL_NOT_ALLOWED)
        self.assertIs(result.renewal, True)

    async def test_checkoutFeeNotAcknowledged(self) -> None:
        """
        An item with a rental fee is refused until the fee is acknowledged,
        reporting fee type, amount and currency.
        """
        result = await self.checkout("P0001", "I0010")
        self.assertRefused(result, Reason.FEE_NOT_ACKNOWLEDGED)
        self.assertEqual(result.feeType, FeeType.RENTAL)
        self.assertEqual(result.feeAmount, Decimal("1.00"))
        self.assertEqual(result.currency, "USD")

    async def test_checkoutFeeAcknowledgedCharges(self) -> None:
        """
        With the rental fee acknowledged the item is lent and the fee
        charged to the patron.
        """
        result = await self.checkout("P0001", "I0010", feeAcknowledged=True)
        self.assertIs(result.ok, True, result)
        assert result.dueDate is not None
        self.assertGreater(result.dueDate, self.NOW)
        self.assertIn("I0010", await self.chargedTo("P0001"))
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("3.50"))

    async def test_checkoutMagneticMedia(self) -> None:
        """
        A checkout reports magnetic media.
        """
        result = await self.checkout("P0001", "I0011")
        self.assertIs(result.ok, True, result)
        self.assertIs(result.magneticMedia, True)
        self.assertEqual(result.mediaType, "005")

    async def test_checkoutNoBlock(self) -> None:
        """
        A no-block (off-line) checkout is accepted despite a blocked card,
        with the SC's due date.
        """
        due = datetime(2025, 3, 20, 18, 0, tzinfo=self.ZONE)
        result = await self.checkout("P0004", "I0001", noBlock=True, nbDueDate=due)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, due)
        self.assertIn("I0001", await self.chargedTo("P0004"))

    async def test_checkoutNoBlockOutToOther(self) -> None:
        """
        A no-block checkout of an item out to another patron checks it in
        from them first.
        """
        result = await self.checkout("P0001", "I0004", noBlock=True)
        self.assertIs(result.ok, True, result)
        self.assertNotIn("I0004", await self.chargedTo("P0010"))
        self.assertIn("I0004", await self.chargedTo("P0001"))

    async def test_checkoutNoBlockRenews(self) -> None:
        """
        A no-block checkout of an item already out to the same patron is
        accepted as a renewal.
        """
        due = datetime(2025, 3, 30, 23, 59, tzinfo=self.ZONE)
        result = await self.checkout("P0001", "I0013", noBlock=True, nbDueDate=due)
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, True)
        self.assertEqual(result.dueDate, due)

    # Aware times

    async def test_resultTimesAreAwareInTheZone(self) -> None:
        """
        The times an adapter gives are aware, in the institution's zone,
        across a daylight saving change (due dates after it are in CDT).
        """
        result = await self.checkout("P0001", "I0001")
        self.assertEqual(result.dueDate, self.due(21))
        assert result.dueDate is not None
        self.assertEqual(result.dueDate.utcoffset(), timedelta(hours=-5))
        patron = await self.patron("P0001")
        for ref in patron.chargedItems:
            self.assertEqual(ref.dueDate.tzinfo, self.ZONE, ref)
        item = await self.item("I0003")
        self.assertEqual(item.dueDate, self.due(10))
        assert item.dueDate is not None
        self.assertEqual(item.dueDate.utcoffset(), timedelta(hours=-5))

    async def test_requestTimesInAnotherZone(self) -> None:
        """
        Times given in another zone (UTC) are the same instants in the
        institution's zone: a no-block due date in UTC is that moment.
        """
        due = datetime(2025, 3, 21, 3, 0, tzinfo=timezone.utc)
        result = await self.checkout("P0004", "I0001", noBlock=True, nbDueDate=due)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, due)
        assert result.dueDate is not None
        self.assertEqual(
            result.dueDate.astimezone(self.ZONE).replace(tzinfo=None),
            datetime(2025, 3, 20, 22, 0),
        )

    # Checkin (09)

    async def test_checkin(self) -> None:
        """
        A checkin closes the loan, names the patron who had the item and
        puts it back on the shelf.
        """
        result = await self.checkin("I0003")
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.patronId, "P0001")
        self.assertIs(result.alert, False)
        self.assertIs(result.resensitize, True)
        self.assertEqual(result.permanentLocation, "MAIN")
        self.assertEqual(result.title, "Moby Dick")
        self.assertNotIn("I0003", await self.chargedTo("P0001"))
        item = await self.item("I0003")
        self.assertEqual(item.circulationStatus, CirculationStatus.AVAILABLE)

    async def test_checkinHoldHere(self) -> None:
        """
        Checking in an item a patron waits for at this branch traps the
        hold: alert 01, the hold patron, the hold shelf.
        """
        result = await self.checkin("I0004")
        self.assertIs(result.ok, True, result)
        self.assertIs(result.alert, True)
        self.assertEqual(result.alertType, AlertType.HOLD_HERE)
        self.assertEqual(result.holdPatronId, "P0009")
        self.assertEqual(result.holdPatronName, "Ivy Irwin")
        self.assertEqual(result.destination, "MAIN")
        item = await self.item("I0004")
        self.assertEqual(item.circulationStatus, CirculationStatus.ON_HOLD_SHELF)
        patron = await self.patron("P0009")
        self.assertEqual(patron.unavailableHoldItems, ())

    async def test_checkinHoldOtherBranch(self) -> None:
        """
        Checking in an item held for pickup elsewhere traps the title-level
        hold and sends the item there: alert 02 with the destination.
        """
        result = await self.checkin("I0014")
        self.assertIs(result.alert, True)
        self.assertEqual(result.alertType, AlertType.HOLD_OTHER_BRANCH)
        self.assertEqual(result.destination, "EAST")
        self.assertEqual(result.holdPatronId, "P0010")
        item = await self.item("I0014")
        self.assertEqual(item.circulationStatus, CirculationStatus.IN_TRANSIT)

    async def test_checkinHoldArrives(self) -> None:
        """
        An item in transit for a hold, checked in at the pickup branch, goes
        on that branch's hold shelf.
        """
        await self.checkin("I0014")
        result = await self.checkin("I0014", terminal=self.eastTerminal)
        self.assertEqual(result.alertType, AlertType.HOLD_HERE)
        self.assertEqual(result.holdPatronId, "P0010")
        item = await self.item("I0014")
        self.assertEqual(item.circulationStatus, CirculationStatus.ON_HOLD_SHELF)

    async def test_checkinTransit(self) -> None:
        """
        An item of another branch is sent home: alert 04 with the
        destination.
        """
        result = await self.checkin("I0009")
        self.assertIs(result.alert, True)
        self.assertEqual(result.alertType, AlertType.TRANSIT)
        self.assertEqual(result.destination, "EAST")
        self.assertEqual(result.permanentLocation, "EAST")
        item = await self.item("I0009")
        self.assertEqual(item.circulationStatus, CirculationStatus.IN_TRANSIT)

    async def test_checkinAtHome(self) -> None:
        """
        An item checked in at its own branch raises no alert.
        """
        result = await self.checkin("I0009", terminal=self.eastTerminal)
        self.assertIs(result.alert, False)
        self.assertEqual(
            (await self.item("I0009")).circulationStatus, CirculationStatus.AVAILABLE
        )

    async def test_checkinCurrentLocation(self) -> None:
        """
        The checkin's current location, when a branch, is where it happens.
        """
        result = await self.checkin("I0009", currentLocation="EAST")
        self.assertIs(result.alert, False)

    async def test_checkinMagneticMedia(self) -> None:
        """
        A checkin reports magnetic media.
        """
        result = await self.checkin("I0011")
        self.assertIs(result.magneticMedia, True)

    async def test_checkinNotOut(self) -> None:
        """
        Checking in an item that was not out is fine, with a message.
        """
        result = await self.checkin("I0001")
        self.assertIs(result.ok, True, result)
        self.assertIsNone(result.patronId)
        self.assertTrue(result.screenMessages)

    async def assertIvyWaits(self, result: Any, status: str) -> None:
        """
        C{result}, a checkin of I0004, names Ivy's hold on it (alert 01,
        her id); the item's status is C{status}, and her hold waits still.
        """
        self.assertIs(result.alert, True)
        self.assertEqual(result.alertType, AlertType.HOLD_HERE)
        self.assertEqual(result.holdPatronId, "P0009")
        item = await self.item("I0004")
        self.assertEqual(item.circulationStatus, status)
        patron = await self.patron("P0009")
        self.assertEqual([ref.itemId for ref in patron.unavailableHoldItems], ["I0004"])

    async def test_checkinRefuseIfHeld(self) -> None:
        """
        A checkin that asks to be refused for an item a hold waits for is
        refused with the alert (01: the pickup is here) and the hold's
        patron, and changes nothing: the item stays out, the hold waits.
        """
        result = await self.checkin("I0004", refuseIfHeld=True)
        self.assertRefused(result, Reason.HOLD_WAITING)
        self.assertIn("I0004", await self.chargedTo("P0010"))
        await self.assertIvyWaits(result, CirculationStatus.CHARGED)

    async def test_checkinRefuseIfHeldElsewhere(self) -> None:
        """
        For a hold picked up at another branch, the refusal's alert is 02.
        """
        result = await self.checkin("I0014", refuseIfHeld=True)
        self.assertRefused(result, Reason.HOLD_WAITING)
        self.assertEqual(result.alertType, AlertType.HOLD_OTHER_BRANCH)
        self.assertIn("I0014", await self.chargedTo("P0005"))

    async def test_checkinRefuseIfHeldOnShelf(self) -> None:
        """
        An item already caught for a hold is refused too.
        """
        result = await self.checkin("I0008", refuseIfHeld=True)
        self.assertRefused(result, Reason.HOLD_WAITING)
        self.assertEqual(result.holdPatronId, "P0009")

    async def test_checkinRefuseIfHeldNoHold(self) -> None:
        """
        An item no hold waits for is checked in as ever.
        """
        result = await self.checkin("I0003", refuseIfHeld=True)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.patronId, "P0001")
        self.assertNotIn("I0003", await self.chargedTo("P0001"))

    async def test_checkinNoTrap(self) -> None:
        """
        A checkin that does not trap holds returns an item a hold waits
        for as if none did, and names the hold (alert 01, its patron); the
        hold still waits, and a later checkin that traps does so.
        """
        result = await self.checkin("I0004", trapHolds=False)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.patronId, "P0010")
        self.assertNotIn("I0004", await self.chargedTo("P0010"))
        await self.assertIvyWaits(result, CirculationStatus.AVAILABLE)
        again = await self.checkin("I0004")
        self.assertEqual(again.alertType, AlertType.HOLD_HERE)
        item = await self.item("I0004")
        self.assertEqual(item.circulationStatus, CirculationStatus.ON_HOLD_SHELF)

    async def test_checkinNoTrapElsewhere(self) -> None:
        """
        Not trapping, a hold picked up at another branch gives alert 02,
        and the item stays here: it is not sent to the pickup branch.
        """
        result = await self.checkin("I0014", trapHolds=False)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.alertType, AlertType.HOLD_OTHER_BRANCH)
        item = await self.item("I0014")
        self.assertEqual(item.circulationStatus, CirculationStatus.AVAILABLE)

    async def test_checkinNoTrapAlreadyTrapped(self) -> None:
        """
        An item a hold had trapped before stays that hold's.
        """
        result = await self.checkin("I0008", trapHolds=False)
        self.assertEqual(result.holdPatronId, "P0009")
        item = await self.item("I0008")
        self.assertEqual(item.circulationStatus, CirculationStatus.ON_HOLD_SHELF)

    async def test_checkinFound(self) -> None:
        """
        Checking in an item marked lost makes it available again and says
        so.
        """
        result = await self.checkin("I0006")
        self.assertIs(result.ok, True, result)
        self.assertIn("lost", " ".join(result.screenMessages))
        self.assertEqual(
            (await self.item("I0006")).circulationStatus, CirculationStatus.AVAILABLE
        )

    async def test_checkoutCancelUndoesCheckin(self) -> None:
        """
        A checkout with cancel undoes a checkin: the loan is back with the
        patron, due when it was.
        """
        checkin = await self.checkin("I0003")
        self.assertEqual(checkin.patronId, "P0001")
        result = await self.checkout("P0001", "I0003", cancel=True)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, self.due(10))
        self.assertIn("I0003", await self.chargedTo("P0001"))
        item = await self.item("I0003")
        self.assertEqual(item.circulationStatus, CirculationStatus.CHARGED)

    async def test_checkinUnknownItem(self) -> None:
        """
        An unknown item is refused.
        """
        self.assertRefused(await self.checkin("NOSUCH"), Reason.UNKNOWN_ITEM)

    async def test_checkinCancel(self) -> None:
        """
        A checkin with cancel undoes a checkout.
        """
        await self.checkout("P0001", "I0001")
        result = await self.checkin("I0001", cancel=True)
        self.assertIs(result.ok, True, result)
        self.assertNotIn("I0001", await self.chargedTo("P0001"))
        self.assertEqual(
            (await self.item("I0001")).circulationStatus, CirculationStatus.AVAILABLE
        )
