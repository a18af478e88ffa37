"""
The behaviour every L{IILS} adapter must have, as a mixin for
L{twisted.trial.unittest.TestCase}.

A subclass provides C{makeILS()}, returning (or a Deferred firing with) a
started adapter loaded with the demo data of L{sip2acs.ils.demo}, loaded
at L{ILSContractMixin.NOW} and with its clock pinned there, working in the
institution's time zone L{ILSContractMixin.ZONE}: every time in a request
and a result is aware (see L{sip2acs.ils.base}). Terminals are at
branch C{MAIN} unless a test says otherwise. C{cleanup} of the adapter is the
subclass's business (C{addCleanup}).
"""

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from twisted.internet.defer import maybeDeferred
from zope.interface.verify import verifyObject

from sip2acs.ils.base import (
    AlertType,
    CheckinRequest,
    CheckoutRequest,
    CirculationStatus,
    FeeType,
    HoldRequest,
    Payment,
    Reason,
    RenewRequest,
    Terminal,
)
from sip2acs.ils.interfaces import IILS, OPERATIONS

DENIED = {
    "chargePrivilegesDenied",
    "renewalPrivilegesDenied",
    "recallPrivilegesDenied",
    "holdPrivilegesDenied",
}

PIN = "1234"


class ILSContractMixin:
    """
    Every IILS operation and refusal against the demo data.

    @cvar ZONE: The institution's time zone the adapter works in; daylight
        saving time starts there six days after L{NOW}.
    @cvar NOW: The pinned time of the adapter's clock and of the demo data.
    """

    ZONE = ZoneInfo("America/Chicago")
    NOW = datetime(2025, 3, 3, 10, 0, 0, tzinfo=ZONE)

    terminal = Terminal(
        account="kiosk1", institution="DEMO", location="MAIN", peer="192.0.2.10"
    )
    eastTerminal = Terminal(
        account="kiosk2", institution="DEMO", location="EAST", peer="192.0.2.20"
    )

    def makeILS(self):
        """
        Return a started adapter with the demo data, its clock at L{NOW}.
        """
        raise NotImplementedError("%s must implement makeILS" % (type(self),))

    def setUp(self):
        d = maybeDeferred(self.makeILS)

        def _cbStore(ils):
            self.ils = ils

        return d.addCallback(_cbStore)

    def due(self, days):
        """
        The due date of a loan of C{days} days made now.
        """
        return datetime.combine(
            self.NOW.date() + timedelta(days=days), time(23, 59), tzinfo=self.ZONE
        )

    def patron(self, patronId, pin=None, terminal=None):
        return self.ils.lookupPatron(terminal or self.terminal, patronId, pin)

    def item(self, itemId):
        return self.ils.lookupItem(self.terminal, itemId)

    def checkout(self, patronId, itemId, terminal=None, **kw):
        return self.ils.checkout(
            terminal or self.terminal, CheckoutRequest(patronId, itemId, **kw)
        )

    def checkin(self, itemId, terminal=None, **kw):
        return self.ils.checkin(terminal or self.terminal, CheckinRequest(itemId, **kw))

    def renew(self, patronId, itemId=None, **kw):
        return self.ils.renew(self.terminal, RenewRequest(patronId, itemId, **kw))

    def hold(self, mode, patronId, **kw):
        return self.ils.hold(self.terminal, HoldRequest(mode, patronId, **kw))

    def pay(self, patronId, amount, **kw):
        return self.ils.feePaid(
            self.terminal, Payment(patronId, Decimal(amount), **kw)
        )

    async def chargedTo(self, patronId):
        patron = await self.patron(patronId)
        return {ref.itemId for ref in patron.chargedItems}

    def assertRefused(self, result, reason):
        """
        C{result} is a refusal for C{reason} with a screen message.
        """
        ok = getattr(result, "ok", getattr(result, "accepted", None))
        self.assertIs(ok, False, result)
        self.assertEqual(result.reason, reason, result)
        self.assertTrue(result.screenMessages, "no screen message: %r" % (result,))
        self.assertTrue(all(m.strip() for m in result.screenMessages))

    # The contract itself

    def test_provides(self):
        """
        The adapter provides L{IILS} and has a name.
        """
        self.assertTrue(verifyObject(IILS, self.ils))
        self.assertIsInstance(self.ils.name, str)

    def test_supportsEveryOperation(self):
        """
        The adapter supports every operation of L{OPERATIONS}.
        """
        self.assertEqual(
            [op for op in OPERATIONS if not self.ils.supports(op)], []
        )

    # Patron lookup (23, 63)

    async def test_patronGoodStanding(self):
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
        self.assertEqual(patron.patronClass, "ADULT")
        self.assertEqual(patron.homeLibrary, "MAIN")
        self.assertEqual(patron.expires, self.NOW.date() + timedelta(days=365))
        self.assertEqual(patron.screenMessages, ())

    async def test_patronWrongPin(self):
        """
        A wrong PIN is reported as C{pinValid} false, with a message.
        """
        patron = await self.patron("P0001", "9999")
        self.assertTrue(patron.found)
        self.assertIs(patron.pinValid, False)
        self.assertTrue(patron.screenMessages)

    async def test_patronNoPinGiven(self):
        """
        Without a PIN, or with an empty one, C{pinValid} is L{None}.
        """
        self.assertIsNone((await self.patron("P0001")).pinValid)
        self.assertIsNone((await self.patron("P0001", "")).pinValid)

    async def test_patronWithoutPin(self):
        """
        A patron who has no PIN set fails any PIN given.
        """
        patron = await self.patron("P0008", PIN)
        self.assertTrue(patron.found)
        self.assertIs(patron.pinValid, False)

    async def test_patronUnknown(self):
        """
        An unknown patron is a result with C{found} false, not an error.
        """
        patron = await self.patron("NOSUCH", PIN)
        self.assertFalse(patron.found)
        self.assertEqual(patron.patronId, "NOSUCH")

    async def test_patronExpired(self):
        """
        An expired card denies the four privileges and says so.
        """
        patron = await self.patron("P0002", PIN)
        self.assertTrue(DENIED <= patron.flags)
        self.assertIn("expired", " ".join(patron.screenMessages))

    async def test_patronCardLost(self):
        """
        A card reported lost sets C{cardReportedLost} and denies privileges.
        """
        patron = await self.patron("P0003")
        self.assertTrue(DENIED | {"cardReportedLost"} <= patron.flags)
        self.assertIn("lost", " ".join(patron.screenMessages))

    async def test_patronBlocked(self):
        """
        A card blocked by a kiosk denies privileges and says so.
        """
        patron = await self.patron("P0004")
        self.assertTrue(DENIED <= patron.flags)
        self.assertIn("blocked", " ".join(patron.screenMessages))

    async def test_patronExcessiveFines(self):
        """
        Fines over the limit set C{excessiveOutstandingFines}, deny
        privileges and list every fine.
        """
        patron = await self.patron("P0005")
        self.assertTrue(DENIED | {"excessiveOutstandingFines"} <= patron.flags)
        self.assertEqual(patron.feeAmount, Decimal("15.00"))
        self.assertEqual(sum(ref.amount for ref in patron.fineItems), Decimal("15.00"))

    async def test_patronTooManyOverdue(self):
        """
        Too many overdue items set C{tooManyItemsOverdue}, deny privileges
        and are listed.
        """
        patron = await self.patron("P0006")
        self.assertTrue(DENIED | {"tooManyItemsOverdue"} <= patron.flags)
        self.assertEqual(
            {ref.itemId for ref in patron.overdueItems}, {"I0015", "I0016", "I0017"}
        )

    async def test_patronAtLoanLimit(self):
        """
        A patron at the loan limit of their class has C{tooManyItemsCharged}.
        """
        patron = await self.patron("P0007")
        self.assertIn("tooManyItemsCharged", patron.flags)
        self.assertEqual(patron.chargedItemsLimit, 3)
        self.assertEqual(len(patron.chargedItems), 3)

    async def test_patronHolds(self):
        """
        All holds are hold items; those not yet on the shelf are also
        unavailable holds.
        """
        patron = await self.patron("P0009")
        self.assertEqual({ref.itemId for ref in patron.holdItems}, {"I0008", "I0004"})
        self.assertEqual([ref.itemId for ref in patron.unavailableHoldItems], ["I0004"])

    async def test_patronTitleHold(self):
        """
        A title-level hold not yet filled is listed by title, with no item.
        """
        patron = await self.patron("P0010")
        self.assertEqual(
            [(ref.itemId, ref.title) for ref in patron.holdItems], [("", "Jane Eyre")]
        )

    # Item lookup (17)

    async def test_itemAvailable(self):
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

    async def test_itemCharged(self):
        """
        An item on loan: status 04 and its due date.
        """
        item = await self.item("I0003")
        self.assertEqual(item.circulationStatus, CirculationStatus.CHARGED)
        self.assertEqual(item.dueDate, self.due(10))

    async def test_itemOnHoldShelf(self):
        """
        An item on the hold shelf: status 08, for whom, until when.
        """
        item = await self.item("I0008")
        self.assertEqual(item.circulationStatus, CirculationStatus.ON_HOLD_SHELF)
        self.assertEqual(item.holdPatronId, "P0009")
        self.assertEqual(item.holdQueueLength, 1)
        self.assertIsNotNone(item.holdPickupDate)

    async def test_itemLostAndMissing(self):
        """
        Lost and missing items report statuses 12 and 13.
        """
        self.assertEqual((await self.item("I0006")).circulationStatus,
                         CirculationStatus.LOST)
        self.assertEqual((await self.item("I0007")).circulationStatus,
                         CirculationStatus.MISSING)

    async def test_itemInTransit(self):
        """
        An item in transit: status 10 and its destination.
        """
        item = await self.item("I0021")
        self.assertEqual(item.circulationStatus, CirculationStatus.IN_TRANSIT)
        self.assertEqual(item.destination, "EAST")

    async def test_itemMagneticMedia(self):
        """
        A video cassette is magnetic media, media type 005.
        """
        item = await self.item("I0011")
        self.assertIs(item.magneticMedia, True)
        self.assertEqual(item.mediaType, "005")

    async def test_itemRentalFee(self):
        """
        An item with a rental fee reports fee type 06 and the amount.
        """
        item = await self.item("I0010")
        self.assertEqual(item.feeType, FeeType.RENTAL)
        self.assertEqual(item.feeAmount, Decimal("1.00"))

    async def test_itemUnknown(self):
        """
        An unknown item is a result with C{found} false.
        """
        item = await self.item("NOSUCH")
        self.assertFalse(item.found)
        self.assertEqual(item.itemId, "NOSUCH")

    # Checkout (11)

    async def test_checkout(self):
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

    async def test_checkoutUnknownPatron(self):
        """
        An unknown patron is refused, patron not valid.
        """
        result = await self.checkout("NOSUCH", "I0001")
        self.assertRefused(result, Reason.UNKNOWN_PATRON)
        self.assertIs(result.patronValid, False)

    async def test_checkoutBadPin(self):
        """
        A wrong PIN is refused, PIN not valid.
        """
        result = await self.checkout("P0001", "I0001", pin="0000")
        self.assertRefused(result, Reason.BAD_PIN)
        self.assertIs(result.pinValid, False)

    async def test_checkoutUnknownItem(self):
        """
        An unknown item is refused.
        """
        self.assertRefused(await self.checkout("P0001", "NOSUCH"), Reason.UNKNOWN_ITEM)

    async def test_checkoutCardExpired(self):
        """
        An expired card is refused: "Your card has expired".
        """
        result = await self.checkout("P0002", "I0001")
        self.assertRefused(result, Reason.CARD_EXPIRED)
        self.assertIn("expired", result.screenMessages[0])

    async def test_checkoutCardLost(self):
        """
        A card reported lost is refused.
        """
        self.assertRefused(await self.checkout("P0003", "I0001"), Reason.CARD_LOST)

    async def test_checkoutCardBlocked(self):
        """
        A card blocked by a kiosk is refused.
        """
        self.assertRefused(await self.checkout("P0004", "I0001"), Reason.CARD_BLOCKED)

    async def test_checkoutExcessiveFines(self):
        """
        Fines over the limit are refused.
        """
        self.assertRefused(
            await self.checkout("P0005", "I0001"), Reason.EXCESSIVE_FINES
        )

    async def test_checkoutTooManyOverdue(self):
        """
        Too many overdue items are refused.
        """
        self.assertRefused(
            await self.checkout("P0006", "I0001"), Reason.TOO_MANY_OVERDUE
        )

    async def test_checkoutLoanLimit(self):
        """
        A patron at the loan limit is refused.
        """
        self.assertRefused(await self.checkout("P0007", "I0001"), Reason.LOAN_LIMIT)

    async def test_checkoutNotCirculating(self):
        """
        An in-library-use item is refused and not desensitized.
        """
        result = await self.checkout("P0001", "I0005")
        self.assertRefused(result, Reason.NOT_CIRCULATING)
        self.assertIs(result.desensitize, False)

    async def test_checkoutItemLost(self):
        """
        A lost item is refused.
        """
        self.assertRefused(await self.checkout("P0001", "I0006"), Reason.ITEM_LOST)

    async def test_checkoutItemMissing(self):
        """
        A missing item is refused.
        """
        self.assertRefused(await self.checkout("P0001", "I0007"), Reason.ITEM_MISSING)

    async def test_checkoutOutToOther(self):
        """
        An item out to another patron is refused and stays with them.
        """
        self.assertRefused(await self.checkout("P0001", "I0004"), Reason.OUT_TO_OTHER)
        self.assertIn("I0004", await self.chargedTo("P0010"))

    async def test_checkoutOnHoldForOther(self):
        """
        An item on the hold shelf for another patron is refused.
        """
        self.assertRefused(
            await self.checkout("P0001", "I0008"), Reason.ON_HOLD_FOR_OTHER
        )

    async def test_checkoutOwnHold(self):
        """
        The patron a hold is for can check the item out, which fills the
        hold.
        """
        result = await self.checkout("P0009", "I0008", pin=PIN)
        self.assertIs(result.ok, True, result)
        patron = await self.patron("P0009")
        self.assertEqual([ref.itemId for ref in patron.holdItems], ["I0004"])
        self.assertIn("I0008", {ref.itemId for ref in patron.chargedItems})

    async def test_checkoutRenews(self):
        """
        Checking out an item already out to the same patron renews it when
        the SC's renewal policy allows.
        """
        result = await self.checkout("P0001", "I0003", scRenewalPolicy=True)
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, True)
        self.assertEqual(result.dueDate, self.due(21))

    async def test_checkoutRenewalNotAllowed(self):
        """
        Without the SC's renewal policy, checking out an item already out to
        the same patron is refused with renewal set.
        """
        result = await self.checkout("P0001", "I0003")
        self.assertRefused(result, Reason.RENEWAL_NOT_ALLOWED)
        self.assertIs(result.renewal, True)

    async def test_checkoutFeeNotAcknowledged(self):
        """
        An item with a rental fee is refused until the fee is acknowledged,
        reporting fee type, amount and currency.
        """
        result = await self.checkout("P0001", "I0010")
        self.assertRefused(result, Reason.FEE_NOT_ACKNOWLEDGED)
        self.assertEqual(result.feeType, FeeType.RENTAL)
        self.assertEqual(result.feeAmount, Decimal("1.00"))
        self.assertEqual(result.currency, "USD")

    async def test_checkoutFeeAcknowledged(self):
        """
        With the fee acknowledged the item is lent for its type's period and
        the fee charged.
        """
        result = await self.checkout("P0001", "I0010", feeAcknowledged=True)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, self.due(7))
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("3.50"))

    async def test_checkoutMagneticMedia(self):
        """
        A checkout reports magnetic media.
        """
        result = await self.checkout("P0001", "I0011")
        self.assertIs(result.ok, True, result)
        self.assertIs(result.magneticMedia, True)
        self.assertEqual(result.mediaType, "005")

    async def test_checkoutNoBlock(self):
        """
        A no-block (off-line) checkout is accepted despite a blocked card,
        with the SC's due date.
        """
        due = datetime(2025, 3, 20, 18, 0, tzinfo=self.ZONE)
        result = await self.checkout("P0004", "I0001", noBlock=True, nbDueDate=due)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, due)
        self.assertIn("I0001", await self.chargedTo("P0004"))

    async def test_checkoutNoBlockOutToOther(self):
        """
        A no-block checkout of an item out to another patron checks it in
        from them first.
        """
        result = await self.checkout("P0001", "I0004", noBlock=True)
        self.assertIs(result.ok, True, result)
        self.assertNotIn("I0004", await self.chargedTo("P0010"))
        self.assertIn("I0004", await self.chargedTo("P0001"))

    async def test_checkoutNoBlockRenews(self):
        """
        A no-block checkout of an item already out to the same patron is
        accepted as a renewal.
        """
        due = datetime(2025, 3, 30, 23, 59, tzinfo=self.ZONE)
        result = await self.checkout("P0001", "I0013", noBlock=True, nbDueDate=due)
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, True)
        self.assertEqual(result.dueDate, due)

    async def test_resultTimesAreAwareInTheZone(self):
        """
        The times an adapter gives are aware, in the institution's zone,
        across a daylight saving change (due dates after it are in CDT).
        """
        result = await self.checkout("P0001", "I0001")
        self.assertEqual(result.dueDate, self.due(21))
        self.assertEqual(result.dueDate.utcoffset(), timedelta(hours=-5))
        patron = await self.patron("P0001")
        for ref in patron.chargedItems:
            self.assertEqual(ref.dueDate.tzinfo, self.ZONE, ref)
        item = await self.item("I0003")
        self.assertEqual(item.dueDate, self.due(10))
        self.assertEqual(item.dueDate.utcoffset(), timedelta(hours=-5))

    async def test_requestTimesInAnotherZone(self):
        """
        Times given in another zone (UTC) are the same instants in the
        institution's zone: a no-block due date in UTC is that moment.
        """
        due = datetime(2025, 3, 21, 3, 0, tzinfo=timezone.utc)
        result = await self.checkout("P0004", "I0001", noBlock=True, nbDueDate=due)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, due)
        self.assertEqual(
            result.dueDate.astimezone(self.ZONE).replace(tzinfo=None),
            datetime(2025, 3, 20, 22, 0),
        )

    async def test_checkinReturnDateInAnotherZone(self):
        """
        A return date in UTC back-dates the return to that instant: I0015
        (due ten days ago) returned eight days ago at 05:00 UTC, which is
        the day before in the institution's zone, is fined for one day, not
        two.
        """
        eightDaysAgo = (self.NOW - timedelta(days=8)).date()
        result = await self.checkin(
            "I0015",
            returnDate=datetime.combine(eightDaysAgo, time(5, 0), tzinfo=timezone.utc),
        )
        self.assertIs(result.ok, True, result)
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("0.25"))

    async def test_checkoutCancel(self):
        """
        A checkout with cancel undoes a checkin: the loan is back with its
        due date and the overdue fine the checkin charged is gone.
        """
        checkin = await self.checkin("I0015")
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("2.50"))
        self.assertEqual(checkin.patronId, "P0006")
        result = await self.checkout("P0006", "I0015", cancel=True)
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.dueDate, self.due(-10))
        patron = await self.patron("P0006")
        self.assertIn("I0015", {ref.itemId for ref in patron.chargedItems})
        self.assertEqual(patron.feeAmount, Decimal("0.00"))

    # Checkin (09)

    async def test_checkin(self):
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

    async def test_checkinOverdueFine(self):
        """
        Checking in an overdue item charges the fine per overdue day.
        """
        await self.checkin("I0015")
        patron = await self.patron("P0006")
        self.assertEqual(patron.feeAmount, Decimal("2.50"))
        self.assertEqual(
            [(ref.itemId, ref.amount) for ref in patron.fineItems],
            [("I0015", Decimal("2.50"))],
        )

    async def test_checkinFineCap(self):
        """
        The overdue fine stops at the cap.
        """
        await self.checkin("I0016")
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("5.00"))

    async def test_checkinReturnDate(self):
        """
        The return date back-dates the return: fines count to it.
        """
        await self.checkin("I0015", returnDate=self.NOW - timedelta(days=8))
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("0.50"))
        await self.checkin("I0017", returnDate=self.NOW - timedelta(days=4))
        self.assertEqual((await self.patron("P0006")).feeAmount, Decimal("0.50"))

    async def test_checkinHoldHere(self):
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

    async def test_checkinHoldOtherBranch(self):
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

    async def test_checkinHoldArrives(self):
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

    async def test_checkinTransit(self):
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

    async def test_checkinAtHome(self):
        """
        An item checked in at its own branch raises no alert.
        """
        result = await self.checkin("I0009", terminal=self.eastTerminal)
        self.assertIs(result.alert, False)
        self.assertEqual(
            (await self.item("I0009")).circulationStatus, CirculationStatus.AVAILABLE
        )

    async def test_checkinCurrentLocation(self):
        """
        The checkin's current location, when a branch, is where it happens.
        """
        result = await self.checkin("I0009", currentLocation="EAST")
        self.assertIs(result.alert, False)

    async def test_checkinMagneticMedia(self):
        """
        A checkin reports magnetic media.
        """
        result = await self.checkin("I0011")
        self.assertIs(result.magneticMedia, True)

    async def test_checkinNotOut(self):
        """
        Checking in an item that was not out is fine, with a message.
        """
        result = await self.checkin("I0001")
        self.assertIs(result.ok, True, result)
        self.assertIsNone(result.patronId)
        self.assertTrue(result.screenMessages)

    async def test_checkinFound(self):
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

    async def test_holdExpirationInThePast(self):
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

    async def test_checkinUnknownItem(self):
        """
        An unknown item is refused.
        """
        self.assertRefused(await self.checkin("NOSUCH"), Reason.UNKNOWN_ITEM)

    async def test_checkinCancel(self):
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

    # Renew (29)

    async def test_renew(self):
        """
        A renewal extends the loan by the loan period from now.
        """
        result = await self.renew("P0001", "I0003")
        self.assertIs(result.ok, True, result)
        self.assertIs(result.renewal, True)
        self.assertEqual(result.dueDate, self.due(21))
        self.assertTrue(result.transactionId)
        self.assertEqual((await self.item("I0003")).dueDate, self.due(21))

    async def test_renewByTitle(self):
        """
        A renewal may name the title instead of the item.
        """
        result = await self.renew("P0001", titleId="Moby Dick")
        self.assertIs(result.ok, True, result)

    async def test_renewLimit(self):
        """
        A loan renewed the maximum number of times is refused.
        """
        self.assertRefused(await self.renew("P0001", "I0013"), Reason.RENEWAL_LIMIT)

    async def test_renewHoldsWaiting(self):
        """
        A loan another patron waits for is refused.
        """
        self.assertRefused(await self.renew("P0010", "I0004"), Reason.HOLDS_WAITING)

    async def test_renewPatronBlocked(self):
        """
        A patron with a block is refused.
        """
        self.assertRefused(await self.renew("P0005", "I0014"), Reason.EXCESSIVE_FINES)

    async def test_renewNotOutToPatron(self):
        """
        An item out to someone else is refused, unless third-party renewal
        is allowed.
        """
        self.assertRefused(await self.renew("P0001", "I0018"), Reason.NOT_ON_LOAN)
        result = await self.renew("P0001", "I0018", thirdPartyAllowed=True)
        self.assertIs(result.ok, True, result)

    async def test_renewNotOnLoan(self):
        """
        An item not out is refused.
        """
        self.assertRefused(await self.renew("P0001", "I0001"), Reason.NOT_ON_LOAN)

    async def test_renewUnknown(self):
        """
        Unknown patrons and items are refused.
        """
        self.assertRefused(await self.renew("NOSUCH", "I0003"), Reason.UNKNOWN_PATRON)
        self.assertRefused(await self.renew("P0001", "NOSUCH"), Reason.UNKNOWN_ITEM)

    # Renew all (65)

    async def test_renewAll(self):
        """
        Renew all renews what it can and lists the rest with the reason.
        """
        result = await self.ils.renewAll(self.terminal, "P0001", PIN)
        self.assertIs(result.ok, True, result)
        self.assertEqual(set(result.renewed), {"I0003", "I0009"})
        self.assertEqual(list(result.unrenewed), ["I0013 " + Reason.RENEWAL_LIMIT])

    async def test_renewAllBlocked(self):
        """
        Renew all for a blocked patron is refused.
        """
        result = await self.ils.renewAll(self.terminal, "P0006")
        self.assertRefused(result, Reason.TOO_MANY_OVERDUE)
        self.assertEqual(result.renewed, ())

    async def test_renewAllUnknownPatron(self):
        """
        Renew all for an unknown patron is refused.
        """
        result = await self.ils.renewAll(self.terminal, "NOSUCH")
        self.assertRefused(result, Reason.UNKNOWN_PATRON)

    async def test_renewAllBadPin(self):
        """
        Renew all with a wrong PIN is refused.
        """
        result = await self.ils.renewAll(self.terminal, "P0001", "0000")
        self.assertRefused(result, Reason.BAD_PIN)

    # Hold (15)

    async def test_holdCopy(self):
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

    async def test_holdTitle(self):
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

    async def test_holdPickupAndExpiry(self):
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

    async def test_holdCancel(self):
        """
        Cancelling a hold removes it from the queue, so the loan can be
        renewed again.
        """
        result = await self.hold("cancel", "P0009", itemId="I0004")
        self.assertIs(result.ok, True, result)
        patron = await self.patron("P0009")
        self.assertEqual([ref.itemId for ref in patron.holdItems], ["I0008"])
        self.assertIs((await self.renew("P0010", "I0004")).ok, True)

    async def test_holdCancelNoSuchHold(self):
        """
        Cancelling a hold that does not exist is refused.
        """
        self.assertRefused(
            await self.hold("cancel", "P0001", itemId="I0001"), Reason.NO_SUCH_HOLD
        )

    async def test_holdAlter(self):
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

    async def test_holdAlterNoSuchHold(self):
        """
        Changing a hold that does not exist is refused.
        """
        self.assertRefused(
            await self.hold("alter", "P0001", itemId="I0001", pickupLocation="EAST"),
            Reason.NO_SUCH_HOLD,
        )

    async def test_holdUnknown(self):
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

    async def test_holdPatronBlocked(self):
        """
        A blocked patron may not place holds.
        """
        self.assertRefused(
            await self.hold("add", "P0004", itemId="I0003"), Reason.CARD_BLOCKED
        )

    async def test_holdNotCirculating(self):
        """
        In-library-use items cannot be held.
        """
        self.assertRefused(
            await self.hold("add", "P0001", itemId="I0005"), Reason.HOLD_NOT_ALLOWED
        )

    async def test_holdAlreadyHeld(self):
        """
        A second hold on the same title by the same patron is refused.
        """
        self.assertRefused(
            await self.hold("add", "P0009", itemId="I0004"), Reason.HOLD_NOT_ALLOWED
        )

    async def test_holdOwnLoan(self):
        """
        A hold on an item the patron has out is refused.
        """
        self.assertRefused(
            await self.hold("add", "P0001", itemId="I0003"), Reason.HOLD_NOT_ALLOWED
        )

    async def test_holdUnknownMode(self):
        """
        A hold mode other than add, cancel and alter is refused.
        """
        self.assertRefused(
            await self.hold("swap", "P0001", itemId="I0004"), Reason.UNSUPPORTED
        )

    async def test_holdBadPin(self):
        """
        A hold with a wrong PIN is refused.
        """
        self.assertRefused(
            await self.hold("add", "P0001", itemId="I0004", pin="0000"), Reason.BAD_PIN
        )

    # Fee paid (37)

    async def test_feePaid(self):
        """
        A payment is accepted with a transaction id and lowers the balance.
        """
        result = await self.pay("P0001", "1.00", pin=PIN, transactionId="CARD-42")
        self.assertIs(result.accepted, True, result)
        self.assertTrue(result.transactionId)
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("1.50"))

    async def test_feePaidInFull(self):
        """
        Paying the whole balance clears the fines.
        """
        result = await self.pay("P0001", "2.50")
        self.assertIs(result.accepted, True, result)
        patron = await self.patron("P0001")
        self.assertEqual(patron.feeAmount, Decimal("0.00"))
        self.assertEqual(patron.fineItems, ())

    async def test_feePaidOldestFirst(self):
        """
        A payment goes to the oldest fees first.
        """
        await self.pay("P0005", "11.00")
        patron = await self.patron("P0005")
        self.assertEqual([ref.amount for ref in patron.fineItems], [Decimal("4.00")])
        self.assertNotIn("excessiveOutstandingFines", patron.flags)

    async def test_feePaidOverpayment(self):
        """
        Paying more than is owed is refused and changes nothing.
        """
        self.assertRefused(await self.pay("P0001", "5.00"), Reason.OVERPAYMENT)
        self.assertEqual((await self.patron("P0001")).feeAmount, Decimal("2.50"))

    async def test_feePaidBadAmount(self):
        """
        Zero and negative amounts are refused.
        """
        self.assertRefused(await self.pay("P0001", "0.00"), Reason.BAD_AMOUNT)
        self.assertRefused(await self.pay("P0001", "-1.00"), Reason.BAD_AMOUNT)

    async def test_feePaidUnknownPatron(self):
        """
        A payment for an unknown patron is refused.
        """
        self.assertRefused(await self.pay("NOSUCH", "1.00"), Reason.UNKNOWN_PATRON)

    async def test_feePaidBadPin(self):
        """
        A payment with a wrong PIN is refused.
        """
        self.assertRefused(await self.pay("P0001", "1.00", pin="0000"), Reason.BAD_PIN)

    # Block patron (01), patron enable (25)

    async def test_blockPatron(self):
        """
        Blocking a card denies its privileges at once.
        """
        patron = await self.ils.blockPatron(self.terminal, "P0001", True, "Tampering")
        self.assertTrue(patron.found)
        self.assertTrue(DENIED <= patron.flags)
        self.assertRefused(await self.checkout("P0001", "I0001"), Reason.CARD_BLOCKED)

    async def test_blockUnknownPatron(self):
        """
        Blocking an unknown patron reports them not found.
        """
        patron = await self.ils.blockPatron(self.terminal, "NOSUCH", False, "")
        self.assertFalse(patron.found)

    async def test_enablePatron(self):
        """
        Enabling a card blocked by a kiosk lifts the block.
        """
        patron = await self.ils.enablePatron(self.terminal, "P0004", PIN)
        self.assertIs(patron.pinValid, True)
        self.assertEqual(patron.flags, frozenset())
        self.assertIs((await self.checkout("P0004", "I0001")).ok, True)

    async def test_enablePatronBadPin(self):
        """
        Enabling with a wrong PIN leaves the block.
        """
        patron = await self.ils.enablePatron(self.terminal, "P0004", "0000")
        self.assertIs(patron.pinValid, False)
        self.assertTrue(DENIED <= patron.flags)

    async def test_blockThenEnable(self):
        """
        A card blocked and enabled again is back in good standing.
        """
        await self.ils.blockPatron(self.terminal, "P0001", False, "Test")
        patron = await self.ils.enablePatron(self.terminal, "P0001")
        self.assertEqual(patron.flags, frozenset())

    async def test_enableUnknownPatron(self):
        """
        Enabling an unknown patron reports them not found.
        """
        self.assertFalse((await self.ils.enablePatron(self.terminal, "NOSUCH")).found)

    # Item status update (19), end patron session (35)

    async def test_updateItemStatus(self):
        """
        Item properties are stored and reported back.
        """
        result = await self.ils.updateItemStatus(self.terminal, "I0001", "weight=420g")
        self.assertIs(result.ok, True, result)
        self.assertEqual(result.properties, "weight=420g")
        self.assertEqual((await self.item("I0001")).properties, "weight=420g")

    async def test_updateItemStatusUnknown(self):
        """
        Properties of an unknown item are refused.
        """
        self.assertRefused(
            await self.ils.updateItemStatus(self.terminal, "NOSUCH", "x"),
            Reason.UNKNOWN_ITEM,
        )

    async def test_endPatronSession(self):
        """
        Ending a patron session succeeds.
        """
        result = await self.ils.endPatronSession(self.terminal, "P0001", PIN)
        self.assertIs(result.ok, True)
