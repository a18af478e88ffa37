# -*- test-case-name: tests.test_ils_memory,tests.test_ils_sqlite -*-
"""
The adapter contract, part one: the adapter itself (it provides L{IILS}
and supports every operation) and what it says of patrons (23, 63) and
items (17).
"""

from datetime import date, timedelta
from decimal import Decimal

from zope.interface.verify import verifyObject

from sip2acs.ils.interfaces import IILS, OPERATIONS
from sip2acs.ils.testing.base import DENIED, ContractCase
from sip2acs.ils.testing.library import PIN
from sip2acs.ils.values import CirculationStatus, FeeType, Summary

__all__ = ["LookupContract"]


class LookupContract(ContractCase):
    """
    The adapter and its answers about patrons and items.
    """

    # The adapter itself

    def test_provides(self) -> None:
        """
        The adapter provides L{IILS} and has a name.
        """
        self.assertTrue(verifyObject(IILS, self.ils))
        self.assertIsInstance(self.ils.name, str)

    def test_supportsEveryOperation(self) -> None:
        """
        The adapter supports every operation of L{OPERATIONS}.
        """
        self.assertEqual(
            [op for op in OPERATIONS if not self.ils.supports(op)], []
        )

    # Patron lookup (23, 63)

    async def test_patronGoodStanding(self) -> None:
        """
        A patron in good standing with the right PIN: found, PIN valid, no
        status flags, loans with due dates, fines with amounts, limits,
        currency and personal details.
        """
        patron = await self.patron("P0001", PIN)
        self.assertTrue(patron.found)
        self.assertIs(patron.pinValid, True)
        self.assertEqual(patron.name, "Alice Able")
        self.assertEqual(patron.flags, frozenset())
        self.assertEqual(
            {(ref.itemId, ref.dueDate) for ref in patron.chargedItems},
            {("I0003", self.due(10)), ("I0009", self.due(5)), ("I0013", self.due(12))},
        )
        self.assertEqual(patron.overdueItems, ())
        self.assertEqual([(r.itemId, r.amount) for r in patron.fineItems],
                         [("I0002", Decimal("2.50"))])
        self.assertEqual(patron.feeAmount, Decimal("2.50"))
        self.assertEqual(patron.feeLimit, Decimal("10.00"))
        self.assertEqual(patron.currency, "USD")
        self.assertEqual(patron.chargedItemsLimit, 10)
        self.assertEqual(patron.overdueItemsLimit, 2)
        self.assertEqual(patron.holdItemsLimit, 5)
        self.assertEqual(patron.email, "alice@example.org")
        self.assertEqual(patron.phone, "555-0101")
        self.assertEqual(patron.homeAddress, "1 Library Lane, Springfield")
        self.assertEqual(patron.birthDate, date(1990, 4, 1))
        self.assertEqual(patron.patronClass, "Adult")
        self.assertEqual(patron.patronClassCode, "ADULT")
        self.assertEqual(patron.homeLibrary, "MAIN")
        self.assertEqual(patron.expires, self.NOW.date() + timedelta(days=365))
        self.assertEqual(patron.screenMessages, ())

    async def test_patronDetails(self) -> None:
        """
        A patron's class (its name and its code), internet privileges and
        extra attributes are reported.
        """
        patron = await self.patron("P0001", PIN)
        self.assertEqual((patron.patronClass, patron.patronClassCode), ("Adult", "ADULT"))
        self.assertEqual(patron.internetPrivileges, "FULL")
        self.assertEqual(
            dict(patron.attributes), {"LOCKER": "17", "SCHOOL": "Springfield College"}
        )
        child = await self.patron("P0007", PIN)
        self.assertEqual((child.patronClass, child.patronClassCode), ("Child", "CHILD"))
        self.assertEqual(child.internetPrivileges, "FILTERED")

    async def test_patronWithoutDetails(self) -> None:
        """
        A patron with no internet privileges or attributes has none
        reported.
        """
        patron = await self.patron("P0002")
        self.assertIsNone(patron.internetPrivileges)
        self.assertEqual(dict(patron.attributes), {})

    async def test_patronFineDetails(self) -> None:
        """
        Each fine says which fee it is (an id a payment may name), its type
        and when it was charged.
        """
        patron = await self.patron("P0005")
        self.assertEqual(
            [(ref.amount, ref.feeType, ref.date) for ref in patron.fineItems],
            [(Decimal("11.00"), FeeType.DAMAGE, self.NOW - timedelta(days=20)),
             (Decimal("4.00"), FeeType.OVERDUE, self.NOW - timedelta(days=10))],
        )
        self.assertTrue(all(ref.feeId for ref in patron.fineItems))
        self.assertEqual(len({ref.feeId for ref in patron.fineItems}), 2)

    async def test_patronWithSummary(self) -> None:
        """
        A 63's L{Summary} (the charged items, from the second) is accepted.
        An adapter that ignores it returns every list whole; one that
        answers with the window reports the real counts in C{itemCounts}.
        """
        patron = await self.ils.lookupPatron(
            self.terminal, "P0001", PIN, summary=Summary(2, 2, 3)
        )
        self.assertTrue(patron.found)
        self.assertIs(patron.pinValid, True)
        if patron.itemCounts is None:
            self.assertEqual(len(patron.chargedItems), 3)
        else:
            self.assertEqual(patron.itemCounts[2], 3)
            self.assertEqual(len(patron.chargedItems), 2)

    async def test_patronWrongPin(self) -> None:
        """
        A wrong PIN is reported as C{pinValid} false, with a message.
        """
        patron = await self.patron("P0001", "9999")
        self.assertTrue(patron.found)
        self.assertIs(patron.pinValid, False)
        self.assertTrue(patron.screenMessages)

    async def test_patronNoPinGiven(self) -> None:
        """
        Without a PIN, or with an empty one, C{pinValid} is L{None}.
        """
        self.assertIsNone((await self.patron("P0001")).pinValid)
        self.assertIsNone((await self.patron("P0001", "")).pinValid)

    async def test_patronWithoutPin(self) -> None:
        """
        A patron who has no PIN set fails any PIN given.
        """
        patron = await self.patron("P0008", PIN)
        self.assertTrue(patron.found)
        self.assertIs(patron.pinValid, False)

    async def test_patronUnknown(self) -> None:
        """
        An unknown patron is a result with C{found} false, not an error.
        """
        patron = await self.patron("NOSUCH", PIN)
        self.assertFalse(patron.found)
        self.assertEqual(patron.patronId, "NOSUCH")

    async def test_patronExpired(self) -> None:
        """
        An expired card denies the four privileges and says so.
        """
        patron = await self.patron("P0002", PIN)
        self.assertTrue(DENIED <= patron.flags)
        self.assertIn("expired", " ".join(patron.screenMessages))

    async def test_patronCardLost(self) -> None:
        """
        A card reported lost sets C{cardReportedLost} and denies privileges.
        """
        patron = await self.patron("P0003")
        self.assertTrue(DENIED | {"cardReportedLost"} <= patron.flags)
        self.assertIn("lost", " ".join(patron.screenMessages))

    async def test_patronBlocked(self) -> None:
        """
        A card blocked by a kiosk denies privileges and says so.
        """
        patron = await self.patron("P0004")
        self.assertTrue(DENIED <= patron.flags)
        self.assertIn("blocked", " ".join(patron.screenMessages))

    async def test_patronExcessiveFines(self) -> None:
        """
        Fines over the limit set C{excessiveOutstandingFines}, deny
        privileges and list every fine.
        """
        patron = await self.patron("P0005")
        self.assertTrue(DENIED | {"excessiveOutstandingFines"} <= patron.flags)
        self.assertEqual(patron.feeAmount, Decimal("15.00"))
        self.assertEqual(sum(ref.amount for ref in patron.fineItems), Decimal("15.00"))

    async def test_patronTooManyOverdue(self) -> None:
        """
        Too many overdue items set C{tooManyItemsOverdue}, deny privileges
        and are listed.
        """
        patron = await self.patron("P0006")
        self.assertTrue(DENIED | {"tooManyItemsOverdue"} <= patron.flags)
        self.assertEqual(
            {ref.itemId for ref in patron.overdueItems}, {"I0015", "I0016", "I0017"}
        )

    async def test_patronAtLoanLimit(self) -> None:
        """
        A patron at the loan limit of their class has C{tooManyItemsCharged}.
        """
        patron = await self.patron("P0007")
        self.assertIn("tooManyItemsCharged", patron.flags)
        self.assertEqual(patron.chargedItemsLimit, 3)
        self.assertEqual(len(patron.chargedItems), 3)

    async def test_patronHolds(self) -> None:
        """
        All holds are hold items; those not yet on the shelf are also
        unavailable holds.
        """
        patron = await self.patron("P0009")
        self.assertEqual({ref.itemId for ref in patron.holdItems}, {"I0008", "I0004"})
        self.assertEqual([ref.itemId for ref in patron.unavailableHoldItems], ["I0004"])

    async def test_patronTitleHold(self) -> None:
        """
        A title-level hold not yet filled is listed by title, with no item.
        """
        patron = await self.patron("P0010")
        self.assertEqual(
            [(ref.itemId, ref.title) for ref in patron.holdItems], [("", "Jane Eyre")]
        )

    # Item lookup (17)

    async def test_itemAvailable(self) -> None:
        """
        An available item: status 03, title, location, media.
        """
        item = await self.item("I0001")
        self.assertTrue(item.found)
        self.assertEqual(item.circulationStatus, CirculationStatus.AVAILABLE)
        self.assertEqual(item.title, "Pride and Prejudice")
        self.assertEqual(item.permanentLocation, "MAIN")
        self.assertEqual(item.mediaType, "001")
        self.assertIs(item.magneticMedia, False)
        self.assertIsNone(item.dueDate)

    async def test_itemCharged(self) -> None:
        """
        An item on loan: status 04 and its due date.
        """
        item = await self.item("I0003")
        self.assertEqual(item.circulationStatus, CirculationStatus.CHARGED)
        self.assertEqual(item.dueDate, self.due(10))

    async def test_itemOnHoldShelf(self) -> None:
        """
        An item on the hold shelf: status 08, for whom, until when.
        """
        item = await self.item("I0008")
        self.assertEqual(item.circulationStatus, CirculationStatus.ON_HOLD_SHELF)
        self.assertEqual(item.holdPatronId, "P0009")
        self.assertEqual(item.holdQueueLength, 1)
        self.assertIsNotNone(item.holdPickupDate)

    async def test_itemLostAndMissing(self) -> None:
        """
        Lost and missing items report statuses 12 and 13.
        """
        self.assertEqual((await self.item("I0006")).circulationStatus,
                         CirculationStatus.LOST)
        self.assertEqual((await self.item("I0007")).circulationStatus,
                         CirculationStatus.MISSING)

    async def test_itemInTransit(self) -> None:
        """
        An item in transit: status 10 and its destination.
        """
        item = await self.item("I0021")
        self.assertEqual(item.circulationStatus, CirculationStatus.IN_TRANSIT)
        self.assertEqual(item.destination, "EAST")

    async def test_itemMagneticMedia(self) -> None:
        """
        A video cassette is magnetic media, media type 005.
        """
        item = await self.item("I0011")
        self.assertIs(item.magneticMedia, True)
        self.assertEqual(item.mediaType, "005")

    async def test_itemRentalFee(self) -> None:
        """
        An item with a rental fee reports fee type 06 and the amount.
        """
        item = await self.item("I0010")
        self.assertEqual(item.feeType, FeeType.RENTAL)
        self.assertEqual(item.feeAmount, Decimal("1.00"))

    async def test_itemFields(self) -> None:
        """
        An item's extra fields are reported; an item without any has none.
        """
        item = await self.item("I0001")
        self.assertEqual(dict(item.fields), {"format": "Paperback", "language": "eng"})
        self.assertEqual(dict((await self.item("I0002")).fields), {})

    async def test_itemUnknown(self) -> None:
        """
        An unknown item is a result with C{found} false.
        """
        item = await self.item("NOSUCH")
        self.assertFalse(item.found)
        self.assertEqual(item.itemId, "NOSUCH")
