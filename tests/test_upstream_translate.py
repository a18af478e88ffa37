"""
Tests for L{sip2acs.ils.upstream.translate}: each adapter operation as a
SIP2 request and the answer as the domain value.

The round trips use sip2acs itself as the upstream: two identical in-memory
libraries, one asked directly, the other through the request built here,
an L{InMemoryServer} and the result read here; the two values must agree
field by field, less what the wire cannot carry (each test says what).
"""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given, settings, strategies as st
from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.ils.interfaces import IILS
from sip2acs.ils.memory import (
    MemoryFee,
    MemoryHold,
    MemoryILS,
    MemoryItem,
    MemoryLimits,
    MemoryPatron,
    MemoryRules,
)
from sip2acs.ils.upstream.translate import (
    TRANSLATIONS,
    UPSTREAM_REFUSED,
    UnexpectedAnswer,
    Upstream,
    UpstreamStatus,
    received,
    statusFrom,
    statusRequest,
)
from sip2acs.ils.values import (
    CheckinRequest,
    CheckoutRequest,
    HoldRequest,
    ItemRef,
    Payment,
    Reason,
    RenewRequest,
    Summary,
    Terminal,
)
from sip2acs.sip import codec
from sip2acs.sip.spec import OPERATIONS
from tests.fixtures import (
    ADA,
    ADA_LOAN,
    ADA_PIN,
    FREE_ITEM,
    INSTITUTION,
    LOGIN,
    OTHER_ITEM,
    ZOE,
    ZOE_PIN,
    makeAccount,
    makeConfig,
)
from tests.memory import InMemoryServer

ZONE = ZoneInfo("America/Chicago")
WHEN = b"20250314    101500"
NOW = datetime(2025, 3, 14, 10, 15, tzinfo=ZONE)
UPSTREAM = Upstream(institution=INSTITUTION, location="EAST", terminalPassword="tp", zone=ZONE)
TERMINAL = Terminal(account=LOGIN, institution=INSTITUTION, peer="127.0.0.1")
REFERENCE = "B2004"
RENTAL = "B2005"
ADA_DUE = datetime(2025, 3, 10, 23, 59, tzinfo=ZONE)


def library() -> MemoryILS:
    """
    A small library with every operation: two patrons, a loan (overdue),
    a fee, a hold, a reference book and a rental.
    """
    return MemoryILS(
        patrons=[
            MemoryPatron(
                ADA, "Ada Quillfeather", pin=ADA_PIN, patronClass="ADULT",
                homeBranch="MAIN", email="ada@example.org", phone="555-0100",
                address="1 Harbour Street", birthDate=date(1990, 1, 2),
                expires=date(2027, 1, 1),
            ),
            MemoryPatron(ZOE, "Zo\N{LATIN SMALL LETTER E WITH DIAERESIS} Marsh", pin=ZOE_PIN),
        ],
        items=[
            MemoryItem(FREE_ITEM, "Clockwork Gardens", callNumber="QA 1", collectionCode="FIC"),
            MemoryItem(OTHER_ITEM, "Tidal Maps of the North"),
            MemoryItem(ADA_LOAN, "Lantern Stories", borrower=ADA, dueDate=ADA_DUE),
            MemoryItem(REFERENCE, "Atlas of Everything", itemType="REF"),
            MemoryItem(RENTAL, "Moving Pictures", itemType="DVD", magnetic=True),
        ],
        holds=[
            MemoryHold(ADA, OTHER_ITEM, OTHER_ITEM, "Tidal Maps of the North", "MAIN",
                       NOW - timedelta(days=1)),
        ],
        fees=[
            MemoryFee(ADA, ADA_LOAN, "04", Decimal("1.50"), "Overdue", NOW, feeId="F1"),
        ],
        rules=MemoryRules(
            limits={"*": MemoryLimits(loans=10, fees=Decimal("20.00"), overdue=5, holds=5)},
            notCirculating=frozenset({"REF"}),
            rentalFees={"DVD": Decimal("2.00")},
            currency="USD",
        ),
        branches=("MAIN", "EAST"),
        defaultBranch="MAIN",
        now=lambda: NOW,
        zone=ZONE,
        operations=MemoryILS.ALL_OPERATIONS,
    )


class RoundTrip:
    """
    The same operation asked of a library directly and of its twin through
    the translation and a sip2acs upstream in memory.
    """

    def __init__(self, testCase: SynchronousTestCase) -> None:
        self.testCase = testCase
        self.direct = library()
        self.upstream = library()
        clock = Clock()
        clock.advance(NOW.timestamp())
        config = makeConfig(accounts=[makeAccount(encoding="utf-8")], zone=ZONE)
        self.acs = InMemoryServer(testCase, adapter=self.upstream, config=config, clock=clock)
        self.kiosk = self.acs.loggedIn(encoding="utf-8")

    def wire(self, operation: str, *args: Any) -> Any:
        """
        The value the operation gives through the upstream.
        """
        translation = TRANSLATIONS[operation]
        frame = codec.encode(translation.request(UPSTREAM, NOW, *args), encoding="utf-8")
        response = self.kiosk.ask(frame).message
        return translation.result(UPSTREAM, response, *args)

    def both(self, operation: str, *args: Any) -> tuple[Any, Any]:
        """
        The value the operation gives directly, and through the upstream.
        """
        expected = self.testCase.successResultOf(
            getattr(self.direct, operation)(TERMINAL, *args)
        )
        return expected, self.wire(operation, *args)


class TableTests(SynchronousTestCase):
    """
    L{TRANSLATIONS} covers the adapter interface.
    """

    def test_everyMethod(self) -> None:
        """
        Every L{IILS} method the session calls has a translation, and
        nothing else does.
        """
        methods = {operation.method for operation in OPERATIONS if operation.method}
        self.assertEqual(set(TRANSLATIONS), methods)
        self.assertTrue(methods <= set(IILS.names()))

    def test_changesData(self) -> None:
        """
        Only the lookups and the end of a session leave the library's data
        as it was.
        """
        self.assertEqual(
            {name for name, t in TRANSLATIONS.items() if not t.changesData},
            {"lookupPatron", "lookupItem", "endPatronSession"},
        )

    def test_upstreamRepr(self) -> None:
        """
        The terminal password never appears in an L{Upstream}'s repr.
        """
        self.assertNotIn("tp", repr(UPSTREAM).replace("terminal", ""))


class RequestTests(SynchronousTestCase):
    """
    The requests sent upstream: the inverse of the handlers.
    """

    def request(self, operation: str, *args: Any) -> Any:
        return TRANSLATIONS[operation].request(UPSTREAM, NOW, *args)

    def test_wallTime(self) -> None:
        """
        Dates go out as the institution's wall time with a blank zone, an
        aware time in another zone converted first.
        """
        now = NOW.astimezone(timezone.utc)
        message = TRANSLATIONS["lookupItem"].request(UPSTREAM, now, FREE_ITEM)
        self.assertIn(b"20250314    101500", codec.encode(message))

    def test_patronInformation(self) -> None:
        """
        63 carries the summary's Y at its position, BP/BQ, the PIN, the
        terminal password and the language.
        """
        message = self.request("lookupPatron", ADA, ADA_PIN, Summary(3, 2, 4))
        self.assertEqual(message.summary, "   Y      ")
        self.assertEqual((message.startItem, message.endItem), (2, 4))
        self.assertEqual(message.patronPassword, ADA_PIN)
        self.assertEqual(message.terminalPassword, "tp")
        self.assertEqual(message.institutionId, INSTITUTION)
        self.assertEqual(message.language, "000")
        plain = self.request("lookupPatron", ADA)
        self.assertEqual(plain.summary, " " * 10)
        self.assertIsNone(plain.patronPassword)
        self.assertNotIn(b"BP", codec.encode(plain))

    def test_checkoutDates(self) -> None:
        """
        A checkout keeps its own transaction date (one taken off line) and
        its no-block due date, as wall times.
        """
        taken = datetime(2025, 3, 13, 16, 0, tzinfo=timezone.utc)
        message = self.request(
            "checkout",
            CheckoutRequest(ADA, FREE_ITEM, noBlock=True, transactionDate=taken,
                            nbDueDate=datetime(2025, 3, 27, 23, 59, tzinfo=ZONE)),
        )
        self.assertEqual(message.transactionDate, datetime(2025, 3, 13, 11, 0))
        self.assertEqual(message.nbDueDate, datetime(2025, 3, 27, 23, 59))
        self.assertTrue(message.noBlock)
        self.assertIsNone(message.feeAcknowledged)
        self.assertEqual(self.request("checkout", CheckoutRequest(ADA, FREE_ITEM))
                         .transactionDate, datetime(2025, 3, 14, 10, 15))

    def test_checkinLocation(self) -> None:
        """
        A checkin's current location is its own, else the upstream's.
        """
        self.assertEqual(
            self.request("checkin", CheckinRequest(FREE_ITEM, currentLocation="MAIN"))
            .currentLocation, "MAIN")
        self.assertEqual(
            self.request("checkin", CheckinRequest(FREE_ITEM)).currentLocation, "EAST")
        bare = Upstream(institution=INSTITUTION, zone=ZONE)
        message = TRANSLATIONS["checkin"].request(bare, NOW, CheckinRequest(FREE_ITEM))
        self.assertEqual(message.currentLocation, "")

    def test_holdMode(self) -> None:
        """
        The hold mode is sent as C{+}, C{-} or C{*}; any other is refused
        in one sentence.
        """
        for mode, sign in [("add", "+"), ("cancel", "-"), ("alter", "*")]:
            self.assertEqual(self.request("hold", HoldRequest(mode, ADA, FREE_ITEM)).holdMode,
                             sign)
        error = self.assertRaises(ValueError, self.request, "hold", HoldRequest("x", ADA))
        self.assertIn("not a hold mode", str(error))

    def test_feePaid(self) -> None:
        """
        37 carries the amount with two decimals and the fee's id.
        """
        message = self.request(
            "feePaid", Payment(ADA, Decimal("1.5"), currency="USD", feeId="F1",
                               transactionId="T9"))
        self.assertEqual((message.feeAmount, message.currencyType, message.feeIdentifier,
                          message.transactionId), ("1.50", "USD", "F1", "T9"))

    def test_status(self) -> None:
        """
        99 says the SC is fine, speaks 2.00 and prints as wide as can be.
        """
        self.assertEqual(
            codec.encode(statusRequest(UPSTREAM, NOW)), b"9909992.00"
        )


def _entries(refs: Any, fines: bool = False) -> tuple[ItemRef, ...]:
    """
    A patron's list as the 63 handler prints it: barcode (else title), and
    a fine's amount.
    """
    texts = []
    for ref in refs:
        text = ref.itemId or ref.title
        if fines and ref.amount is not None:
            text = "%s %.2f" % (text, ref.amount)
        texts.append(ItemRef(itemId=text))
    return tuple(texts)


_LISTS = ("holdItems", "overdueItems", "chargedItems", "fineItems", "recallItems",
          "unavailableHoldItems")


class PatronRoundTripTests(SynchronousTestCase):
    """
    Patrons (63/64, 01/24, 25/26) through a sip2acs upstream.
    """

    def setUp(self) -> None:
        self.trip = RoundTrip(self)

    def expectedPatron(self, patron: Any, position: int | None) -> Any:
        """
        C{patron} as a 64 carries it: no expiry date, class code or whether
        the patron has a PIN (not written), the counts, and only the list asked for, as printed.
        """
        lists = {name: () for name in _LISTS}
        if position is not None:
            name = _LISTS[position]
            lists[name] = _entries(getattr(patron, name), fines=position == 3)
        return attrs.evolve(
            patron,
            expires=None,
            patronClassCode=None,
            hasPin=None,
            itemCounts=tuple(len(getattr(patron, name)) for name in _LISTS),
            **lists,
        )

    def test_everyList(self) -> None:
        """
        Each position of the summary gives its list; everything else of a
        known patron with the right PIN comes back as it was.
        """
        for position in range(6):
            expected, got = self.trip.both(
                "lookupPatron", ADA, ADA_PIN, Summary(position, None, None)
            )
            self.assertEqual(got, self.expectedPatron(expected, position))
        self.assertEqual(got.fineItems, ())
        self.assertEqual(got.unavailableHoldItems, (ItemRef(OTHER_ITEM),))

    def test_fines(self) -> None:
        """
        A fine's entry carries its amount in its text.
        """
        _, got = self.trip.both("lookupPatron", ADA, ADA_PIN, Summary(3, None, None))
        self.assertEqual(got.fineItems, (ItemRef("B2003 1.50"),))
        self.assertEqual(got.feeAmount, Decimal("1.50"))
        self.assertEqual(got.feeLimit, Decimal("20.00"))
        self.assertEqual(got.birthDate, date(1990, 1, 2))

    def test_noPinNoSummary(self) -> None:
        """
        Without a PIN, C{pinValid} is L{None}; without a summary, no list.
        """
        expected, got = self.trip.both("lookupPatron", ZOE)
        self.assertIsNone(got.pinValid)
        self.assertEqual(got, self.expectedPatron(expected, None))

    def test_wrongPin(self) -> None:
        """
        A wrong PIN: the upstream withholds the personal data, so only the
        status, the PIN's verdict and the screen messages come back.
        """
        expected, got = self.trip.both("lookupPatron", ADA, "0000")
        self.assertEqual(
            (got.found, got.pinValid, got.flags, got.name, got.screenMessages),
            (True, False, expected.flags, "", expected.screenMessages),
        )
        self.assertEqual(got.itemCounts, (None,) * 6)

    def test_unknown(self) -> None:
        """
        An unknown patron is not found, with the upstream's message.
        """
        expected, got = self.trip.both("lookupPatron", "NOSUCH", "1234")
        self.assertEqual(
            (got.found, got.patronId, got.pinValid, got.screenMessages),
            (False, "NOSUCH", None, expected.screenMessages),
        )

    def test_block(self) -> None:
        """
        01 answered with a 24: the patron as blocked (no counts or lists;
        the amount owed is not in a blocked patron's 24).
        """
        expected, got = self.trip.both("blockPatron", ADA, True, "Card swallowed")
        self.assertEqual((got.found, got.name, got.flags, got.screenMessages),
                         (True, expected.name, expected.flags, expected.screenMessages))
        self.assertIn("chargePrivilegesDenied", got.flags)
        self.assertIsNone(got.feeAmount)
        self.assertEqual(got.extra, ())

    def test_enable(self) -> None:
        """
        25 answered with a 26: the patron as enabled, with the PIN's
        verdict and language.
        """
        self.trip.both("blockPatron", ADA, False, "Desk")
        expected, got = self.trip.both("enablePatron", ADA, ADA_PIN)
        self.assertEqual(
            (got.found, got.name, got.flags, got.pinValid, got.language, got.extra),
            (True, expected.name, expected.flags, True, "000", ()),
        )


class ItemRoundTripTests(SynchronousTestCase):
    """
    Items (17/18, 19/20) through a sip2acs upstream.
    """

    def setUp(self) -> None:
        self.trip = RoundTrip(self)

    def test_known(self) -> None:
        """
        A known item comes back as it was, but for its collection code (an
        18 does not carry it) and its magnetic flag (nor that).
        """
        for itemId in (FREE_ITEM, ADA_LOAN, OTHER_ITEM, RENTAL):
            expected, got = self.trip.both("lookupItem", itemId)
            self.assertEqual(
                got, attrs.evolve(expected, collectionCode=None, magneticMedia=None)
            )
        self.assertEqual(got.extra, ())

    def test_dueDate(self) -> None:
        """
        The due date comes back aware, in the institution's zone.
        """
        _, got = self.trip.both("lookupItem", ADA_LOAN)
        self.assertEqual(got.dueDate, ADA_DUE)
        self.assertEqual(got.dueDate.tzinfo, ZONE)

    def test_unknown(self) -> None:
        """
        An unknown item is not found.
        """
        expected, got = self.trip.both("lookupItem", "NOSUCH")
        self.assertEqual(got, attrs.evolve(expected, securityMarker="01"))

    def test_statusUpdate(self) -> None:
        """
        19: the properties stored, or an unknown item refused.
        """
        expected, got = self.trip.both("updateItemStatus", FREE_ITEM, "rfid:1")
        self.assertEqual(got, expected)
        expected, got = self.trip.both("updateItemStatus", "NOSUCH", "rfid:1")
        self.assertEqual(got, expected)
        self.assertEqual(got.reason, Reason.UNKNOWN_ITEM)


class CirculationRoundTripTests(SynchronousTestCase):
    """
    Checkout, checkin, renewals, holds, payments and the end of a session
    through a sip2acs upstream.
    """

    def setUp(self) -> None:
        self.trip = RoundTrip(self)

    def assertLent(self, expected: Any, got: Any, **notCarried: Any) -> None:
        """
        The result of a checkout or renewal as the wire carries it.
        """
        self.assertEqual(got, attrs.evolve(expected, **notCarried))

    def test_checkout(self) -> None:
        """
        A loan comes back as it was made.
        """
        request = CheckoutRequest(ADA, FREE_ITEM, pin=ADA_PIN)
        expected, got = self.trip.both("checkout", request)
        self.assertTrue(got.ok)
        self.assertLent(expected, got)

    def test_checkoutRental(self) -> None:
        """
        A rental: refused until the fee is acknowledged, then lent.
        """
        expected, got = self.trip.both("checkout", CheckoutRequest(ADA, RENTAL))
        self.assertEqual(got.reason, Reason.FEE_NOT_ACKNOWLEDGED)
        self.assertLent(expected, got)
        expected, got = self.trip.both(
            "checkout", CheckoutRequest(ADA, RENTAL, feeAcknowledged=True)
        )
        self.assertLent(expected, got)

    def test_checkoutRefusals(self) -> None:
        """
        Refusals keep their reason where the answer tells it (C{BL},
        C{CQ}, renewal ok), and become L{UPSTREAM_REFUSED} where it does
        not; the screen messages always come back.
        """
        cases = [
            (CheckoutRequest("NOSUCH", FREE_ITEM), Reason.UNKNOWN_PATRON),
            (CheckoutRequest(ADA, FREE_ITEM, pin="0000"), Reason.BAD_PIN),
            (CheckoutRequest(ADA, ADA_LOAN), Reason.RENEWAL_NOT_ALLOWED),
            (CheckoutRequest(ADA, "NOSUCH"), UPSTREAM_REFUSED),
            (CheckoutRequest(ADA, REFERENCE), UPSTREAM_REFUSED),
        ]
        for request, reason in cases:
            expected, got = self.trip.both("checkout", request)
            self.assertFalse(got.ok)
            self.assertEqual(got.reason, reason)
            self.assertLent(expected, got, reason=reason)

    def test_checkin(self) -> None:
        """
        A return comes back with its routing; an unknown item is refused as
        one.
        """
        request = CheckinRequest(ADA_LOAN, currentLocation="EAST",
                                 returnDate=NOW - timedelta(days=1))
        expected, got = self.trip.both("checkin", request)
        self.assertEqual(got, expected)
        self.assertEqual(got.patronId, ADA)
        expected, got = self.trip.both("checkin", CheckinRequest("NOSUCH"))
        self.assertEqual(got, expected)

    def test_renew(self) -> None:
        """
        A renewal comes back with its new due date; a refusal that does not
        say why is L{UPSTREAM_REFUSED}, and a 30 carries neither C{BL} nor
        C{CQ}.
        """
        expected, got = self.trip.both("renew", RenewRequest(ADA, ADA_LOAN, pin=ADA_PIN))
        self.assertTrue(got.ok)
        self.assertLent(expected, got, pinValid=None, patronValid=None)
        expected, got = self.trip.both("renew", RenewRequest("NOSUCH", ADA_LOAN))
        self.assertLent(expected, got, reason=UPSTREAM_REFUSED, patronValid=None)

    def test_renewAll(self) -> None:
        """
        Renewing everything gives the same lists.
        """
        expected, got = self.trip.both("renewAll", ADA, ADA_PIN)
        self.assertEqual(got, expected)
        self.assertEqual(got.renewed, (ADA_LOAN,))

    def test_hold(self) -> None:
        """
        Placing, changing and cancelling a hold.
        """
        later = NOW + timedelta(days=30)
        for request in [
            HoldRequest("add", ZOE, FREE_ITEM, pickupLocation="EAST", expiration=later),
            HoldRequest("alter", ZOE, FREE_ITEM, pickupLocation="MAIN"),
            HoldRequest("cancel", ZOE, FREE_ITEM),
        ]:
            expected, got = self.trip.both("hold", request)
            self.assertTrue(got.ok, got)
            self.assertEqual(got, expected)
        expected, got = self.trip.both("hold", HoldRequest("cancel", ZOE, FREE_ITEM))
        self.assertEqual(got, attrs.evolve(expected, reason=UPSTREAM_REFUSED))

    def test_feePaid(self) -> None:
        """
        A payment is accepted with the upstream's transaction id; too much
        is refused.
        """
        expected, got = self.trip.both("feePaid", Payment(ADA, Decimal("1.00"), feeId="F1"))
        self.assertEqual(got, expected)
        self.assertTrue(got.transactionId)
        expected, got = self.trip.both("feePaid", Payment(ADA, Decimal("9.00")))
        self.assertEqual(got, attrs.evolve(expected, reason=UPSTREAM_REFUSED))

    def test_endSession(self) -> None:
        """
        The end of a session, with its message.
        """
        expected, got = self.trip.both("endPatronSession", ADA, ADA_PIN)
        self.assertEqual(got, expected)


def _answer(frame: bytes) -> Any:
    return codec.decode(frame).message


class AnswerTests(SynchronousTestCase):
    """
    Answers no sip2acs upstream gives: vendor fields, several screen
    messages, zone letters, servers without C{BL}.
    """

    def result(self, operation: str, frame: bytes, *args: Any) -> Any:
        return TRANSLATIONS[operation].result(UPSTREAM, _answer(frame), *args)

    def test_extraInOrder(self) -> None:
        """
        Fields the value does not model come back in C{extra} in the order
        received, among the screen messages and print lines (all of them,
        in order); the fields the handler sets itself do not.
        """
        got = self.result(
            "checkout",
            b"121NNY20250314    101500AOUP|AAP1|ABB1|AFone|ZZz1|AJTitle|AFtwo|"
            b"XYx|AGp1|AH20250320    235900|ZZz2|AGp2|AFthree|",
            CheckoutRequest("P1", "B1"),
        )
        self.assertEqual(got.screenMessages, ("one", "two", "three"))
        self.assertEqual(got.printLines, ("p1", "p2"))
        self.assertEqual(got.extra, (("ZZ", "z1"), ("XY", "x"), ("ZZ", "z2")))
        self.assertEqual(got.title, "Title")

    def test_modelledAndKept(self) -> None:
        """
        A 64's home library C{AQ} is read (the handler writes it back);
        a list the summary did not ask for is kept in C{extra}.
        """
        got = self.result(
            "lookupPatron",
            b"64" + b" " * 14 + b"000" + WHEN + b"000100000002000000000000"
            b"AOUP|AAP1|AEAda|BLY|AQEAST|AUB1|AUB2|ASH1|ZZv|",
            "P1", None, Summary(2, None, None),
        )
        self.assertEqual(got.homeLibrary, "EAST")
        self.assertEqual(got.chargedItems, (ItemRef("B1"), ItemRef("B2")))
        self.assertEqual(got.holdItems, (ItemRef("H1"),))
        self.assertEqual(got.itemCounts, (1, 0, 2, 0, 0, 0))
        self.assertEqual(got.extra, (("AS", "H1"), ("ZZ", "v")))

    def test_unreadableKept(self) -> None:
        """
        A modelled field whose text is not of its kind is kept as it came.
        """
        got = self.result(
            "lookupPatron",
            b"64" + b" " * 14 + b"000" + WHEN + b" " * 24
            + b"AOUP|AAP1|AEAda|BLY|BVlots|PB1990-01-02|",
            "P1",
        )
        self.assertIsNone(got.feeAmount)
        self.assertIsNone(got.birthDate)
        self.assertEqual(got.itemCounts, (None,) * 6)
        self.assertEqual(got.extra, (("BV", "lots"), ("PB", "1990-01-02")))

    def test_withoutBL(self) -> None:
        """
        Without C{BL} (a SIP 1.00 server), a patron with a name is found,
        one without is not.
        """
        frame = b"24              00020250314    101500AOUP|AAP1|AE%s|"
        self.assertTrue(self.result("blockPatron", frame % b"Ada", "P1", False, "x").found)
        self.assertFalse(self.result("blockPatron", frame % b"", "P1", False, "x").found)

    def test_refusalReasons(self) -> None:
        """
        C{BL} N is an unknown patron, C{CQ} N a wrong PIN, wherever they
        come (as vendor fields of a 38 too, where they are kept).
        """
        head = b"38N20250314    101500AOUP|AAP1|"
        payment = Payment("P1", Decimal("1.00"))
        got = self.result("feePaid", head + b"BLN|AFWho?|", payment)
        self.assertEqual((got.reason, got.screenMessages), (Reason.UNKNOWN_PATRON, ("Who?",)))
        self.assertEqual(got.extra, (("BL", "N"),))
        got = self.result("feePaid", head + b"BLY|CQN|", payment)
        self.assertEqual(got.reason, Reason.BAD_PIN)
        got = self.result("feePaid", head, payment)
        self.assertEqual(got.reason, UPSTREAM_REFUSED)

    def test_zoneLetter(self) -> None:
        """
        A date with a zone letter is converted to the institution's zone;
        one with a blank zone is its wall time.
        """
        frame = b"121NNY20250314    101500AOUP|AAP1|ABB1|AJT|AH20250321   Z045900|"
        got = self.result("checkout", frame, CheckoutRequest("P1", "B1"))
        self.assertEqual(got.dueDate, datetime(2025, 3, 20, 23, 59, tzinfo=ZONE))
        self.assertEqual(got.dueDate.utcoffset(), timedelta(hours=-5))
        frame = b"160Y20250314    101500BW20250401    120000|AOUP|AAP1|"
        got = self.result("hold", frame, HoldRequest("add", "P1"))
        self.assertEqual(got.expiration, datetime(2025, 4, 1, 12, 0, tzinfo=ZONE))

    def test_unexpected(self) -> None:
        """
        An answer of the wrong kind is an L{UnexpectedAnswer}.
        """
        error = self.assertRaises(
            UnexpectedAnswer, self.result, "lookupItem", b"941", FREE_ITEM
        )
        self.assertEqual(str(error), "The upstream answered with a 94 where a 18 was expected.")

    @given(
        st.lists(
            st.one_of(
                st.tuples(st.just("AF"), st.text("abc ", max_size=5)),
                st.tuples(st.sampled_from(["ZZ", "XY", "Q1", "AQ"]),
                          st.text("abc ", max_size=5)),
            ),
            max_size=8,
        )
    )
    @settings(max_examples=60, deadline=None)
    def test_orderKept(self, fields: list[tuple[str, str]]) -> None:
        """
        Whatever the mix, the screen messages and the other fields of a
        36 come back in the order sent.
        """
        frame = b"36Y20250314    101500AOUP|AAP1|" + b"".join(
            b"%s%s|" % (fid.encode(), text.encode()) for fid, text in fields
        )
        got = self.result("endPatronSession", frame, "P1")
        self.assertEqual(got.screenMessages, tuple(t for f, t in fields if f == "AF"))
        self.assertEqual(got.extra, tuple((f, t) for f, t in fields if f != "AF"))

    def test_receivedBuilt(self) -> None:
        """
        A message built in code lists its fields in the spec's order, then
        its extra ones, as the codec writes them.
        """
        message = codec.HoldResponse(ok=True, queuePosition=2, institutionId="UP",
                                     extra=[("ZZ", "1")])
        self.assertEqual(received(message), (("BR", "2"), ("AO", "UP"), ("ZZ", "1")))


class StatusTests(SynchronousTestCase):
    """
    98 -> L{UpstreamStatus}.
    """

    def test_sip2acs(self) -> None:
        """
        sip2acs's own 98: every flag and the operations its adapter
        supports, from C{BX}.
        """
        trip = RoundTrip(self)
        reply = trip.kiosk.ask(codec.encode(statusRequest(UPSTREAM, NOW)))
        status = statusFrom(reply.message, ZONE)
        self.assertEqual(
            attrs.evolve(status, clock=None),
            UpstreamStatus(
                online=True, checkin=True, checkout=True, renewal=True, statusUpdate=True,
                offline=False, supported=frozenset(o.name for o in OPERATIONS),
                institutionId=INSTITUTION, libraryName="Harbour Street Library",
                protocolVersion="2.00", timeoutPeriod=60.0, retries=3,
            ),
        )
        self.assertEqual(status.clock, NOW)

    def test_bx(self) -> None:
        """
        Each C{Y} of C{BX} names the operation of its position; positions
        left out are not supported; fields besides the modelled ones are
        kept.
        """
        status = statusFrom(_answer(
            b"98YYNYNN999999" + b" " * 18 + b"2.00AOUP|BXYYYNYYYNNNYN|AFUp|ZZ1|"
        ))
        self.assertEqual(
            status.supported,
            {"patronStatus", "checkout", "checkin", "scStatus", "resend", "login",
             "itemInformation"},
        )
        self.assertEqual((status.checkout, status.renewal, status.statusUpdate),
                         (False, True, False))
        self.assertEqual((status.timeoutPeriod, status.retries, status.clock), (None, None, None))
        self.assertEqual((status.screenMessages, status.extra), (("Up",), (("ZZ", "1"),)))

    def test_noBX(self) -> None:
        """
        Without C{BX} (a SIP 1.00 server), the operations SIP 1.00 has.
        """
        status = statusFrom(_answer(b"98YYYYNN600003" + b" " * 18 + b"1.00AOUP|"))
        self.assertEqual(
            status.supported,
            {"patronStatus", "checkout", "checkin", "blockPatron", "scStatus", "resend"},
        )


class Relay(MemoryILS):
    """
    An adapter that answers every operation with L{answer}: what a gateway
    adapter hands the session after translating an upstream's answer.
    """

    operations = MemoryILS.ALL_OPERATIONS
    answer: Any = None

    def _relay(self, *args: Any, **kwargs: Any) -> Any:
        return succeed(self.answer)

    lookupPatron = lookupItem = checkout = checkin = renew = renewAll = _relay
    hold = feePaid = blockPatron = enablePatron = updateItemStatus = _relay
    endPatronSession = _relay


def _fixed(message: Any) -> dict[str, Any]:
    return {
        field.name: getattr(message, field.name)
        for field in message.spec.fixed
        if field.kind != "date"
    }


RELAYED = [
    (
        "checkout",
        b"121NNY" + WHEN + b"AODEMO|AAP1|ABB1|ZZz1|AJTitle|AFone|XYx|"
        b"AH20250320    235900|BT06|BV2.00|BHUSD|CK001|BK77|BLY|AFtwo|AGp1|ZZz2|",
        CheckoutRequest("P1", "B1"),
    ),
    (
        "renew",
        b"300NUN" + WHEN + b"AODEMO|AAP1|ABB1|AJ|AH|BLY|CQN|ZZz|AFWrong PIN.|",
        RenewRequest("P1", "B1", pin="1"),
    ),
    (
        "checkin",
        b"101YNY" + WHEN + b"AODEMO|ABB1|AQMAIN|AJT|CL3|AAP1|CT EAST|CV02|"
        b"ZZz|CRFIC|CSQA 1|CYP2|DAZoe|AFRoute.|",
        CheckinRequest("B1"),
    ),
    (
        "lookupPatron",
        b"64Y  Y" + b" " * 10 + b"000" + WHEN + b"000100000002000000000000"
        b"AODEMO|AAP1|AEAda|BLY|ZZz|AQMAIN|BZ0005|CA0003|CB0010|BHUSD|BV1.50|"
        b"CC20.00|AUB1 Due 2025-03-20|AUB2|BDHere|BEa@b|BF555|PB19900102|PCADULT|"
        b"XYx|AFHello.|AGslip|",
        "P1", None, Summary(2, 1, 5),
    ),
    (
        "lookupPatron",
        b"64YYYY          000" + WHEN + b"000000000000000000000000"
        b"AODEMO|AAP9|AE|BLN|BV0.00|ZZz|AFUnknown.|",
        "P9",
    ),
    (
        "lookupItem",
        b"18040001" + WHEN + b"CF0002|AH20250320    235900|ABB1|AJT|BGMAIN|CK001|"
        b"AQMAIN|APEAST|CRFIC|ZZz|CSQA 1|CYP2|AFOut.|",
        "B1",
    ),
    (
        "lookupItem",
        b"18010101" + WHEN + b"ABB9|AJ|ZZz|AQMAIN|AFNo such item.|",
        "B9",
    ),
    (
        "blockPatron",
        b"24YYYY          000" + WHEN + b"AODEMO|AAP1|AEAda|BLY|BHUSD|BV1.00|ZZz|",
        "P1", True, "Swallowed",
    ),
    (
        "enablePatron",
        b"26              001" + WHEN + b"AODEMO|AAP1|AEAda|BLY|CQY|ZZz|AFOk.|",
        "P1", "1234",
    ),
    (
        "renewAll",
        b"6610001" + b"0001" + WHEN + b"AODEMO|BMB1|BNB2 limit|ZZz|AFDone.|",
        "P1",
    ),
    (
        "hold",
        b"161N" + WHEN + b"BW20250401    120000|BR2|BSEAST|AODEMO|AAP1|ABB1|AJT|ZZz|",
        HoldRequest("add", "P1", "B1"),
    ),
    (
        "feePaid",
        b"38Y" + WHEN + b"AODEMO|AAP1|BKT1|ZZz|AFThanks.|XYx|",
        Payment("P1", Decimal("1.00")),
    ),
    (
        "updateItemStatus",
        b"201" + WHEN + b"ABB1|AJT|CHrfid|ZZz|",
        "B1", "rfid",
    ),
    (
        "endPatronSession",
        b"36Y" + WHEN + b"AODEMO|AAP1|ZZz|AFBye.|AFSee you.|",
        "P1",
    ),
]
"""
Upstream answers of every kind, with vendor fields (C{ZZ}, C{XY}) among
known ones, several screen messages and print lines, fields the value models
but the handler does not write (C{AQ} of a 64 and an 18, C{BL}/C{CQ} of a
30), unknown patrons and items: C{(operation, answer, operation
arguments)}.
"""


class RelayTests(SynchronousTestCase):
    """
    An upstream's answer, translated and handed to sip2acs's own handlers,
    reaches the kiosk with every field it had: nothing lost, nothing
    doubled.
    """

    def relayed(self, operation: str, answer: bytes, *args: Any) -> None:
        """
        The kiosk that sends what the gateway would send upstream gets back
        the upstream's C{answer}: the same fixed fields (but dates), and
        the same identified fields, the vendor ones in the order sent.
        """
        relay = Relay()
        kiosk = InMemoryServer(self, adapter=relay).loggedIn()
        upstream = Upstream(institution=INSTITUTION)
        translation = TRANSLATIONS[operation]
        message = _answer(answer)
        relay.answer = translation.result(upstream, message, *args)
        reply = kiosk.ask(codec.encode(translation.request(upstream, NOW, *args))).message
        self.assertEqual(_fixed(reply), _fixed(message), answer)
        self.assertEqual(sorted(received(reply)), sorted(received(message)), answer)
        vendor = [pair for pair in received(message) if pair[0] in ("ZZ", "XY")]
        self.assertEqual(
            [pair for pair in received(reply) if pair[0] in ("ZZ", "XY")], vendor, answer
        )

    def test_everyAnswer(self) -> None:
        """
        Every answer of L{RELAYED} reaches the kiosk whole.
        """
        for operation, answer, *args in RELAYED:
            self.relayed(operation, answer, *args)
