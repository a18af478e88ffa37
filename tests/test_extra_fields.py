"""
Tests for the fields an adapter hands on unchanged (the C{extra} of every
result in L{sip2acs.ils.values}), the 63 L{Summary} given to
C{lookupPatron} and the 64 counts a L{Patron} reports itself
(C{itemCounts}): what a gateway to another SIP2 server needs so that the
kiosk gets what that server answered.

The kiosks talk to the server in memory (L{tests.memory}).
"""

from decimal import Decimal

from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs.handlers.common import withExtra
from sip2acs.ils import values
from sip2acs.ils.base import ILSBase
from sip2acs.ils.interfaces import OPERATIONS
from sip2acs.sip import codec
from tests.fixtures import ADA, ADA_PIN, FREE_ITEM, makeAccount, makeConfig, request
from tests.memory import InMemoryServer

VENDOR = (("ZZ", "vendor: 1, 2 & 3"), ("XY", "x"), ("ZZ", "again"))
"""
Vendor fields (ids no SIP2 message defines), one repeated.
"""

EXTRA = (
    ("ZZ", "vendor: 1, 2 & 3"),
    ("AF", "First screen line."),
    ("XY", "x"),
    ("AF", "Second screen line."),
    ("ZZ", "again"),
)
"""
The vendor fields with two screen messages between them, as an upstream
may send them.
"""

VENDOR_BYTES = b"ZZvendor: 1, 2 & 3|XYx|ZZagain|"
SCREEN_BYTES = b"AFFirst screen line.|AFSecond screen line.|"


class RelayILS(ILSBase):
    """
    An adapter answering every operation with the result a test gave it,
    as a gateway would after translating an upstream answer.

    @ivar results: The result of each operation, by method name.
    @ivar summaries: The C{summary} of each C{lookupPatron} call.
    """

    operations = frozenset(OPERATIONS)

    def __init__(self) -> None:
        self.results: dict[str, object] = {}
        self.summaries: list[values.Summary | None] = []

    def _answer(self, name: str):
        return succeed(self.results[name])

    def lookupPatron(self, terminal, patronId, pin=None, summary=None):
        self.summaries.append(summary)
        return self._answer("lookupPatron")

    def lookupItem(self, terminal, itemId):
        return self._answer("lookupItem")

    def checkout(self, terminal, request):
        return self._answer("checkout")

    def checkin(self, terminal, request):
        return self._answer("checkin")

    def renew(self, terminal, request):
        return self._answer("renew")

    def renewAll(self, terminal, patronId, pin=None, feeAcknowledged=False):
        return self._answer("renewAll")

    def hold(self, terminal, request):
        return self._answer("hold")

    def feePaid(self, terminal, payment):
        return self._answer("feePaid")

    def blockPatron(self, terminal, patronId, cardRetained, reason):
        return self._answer("blockPatron")

    def enablePatron(self, terminal, patronId, pin=None):
        return self._answer("enablePatron")

    def updateItemStatus(self, terminal, itemId, properties):
        return self._answer("updateItemStatus")

    def endPatronSession(self, terminal, patronId, pin=None):
        return self._answer("endPatronSession")


def _patron(**fields):
    fields.setdefault("found", True)
    fields.setdefault("patronId", ADA)
    fields.setdefault("name", "Ada Quillfeather")
    return values.Patron(**fields)


def _kinds(extra):
    """
    Every response kind an adapter's result becomes: the request sent,
    the method answering it and its result carrying C{extra}.
    """
    patron = dict(patronIdentifier=ADA)
    item = dict(itemIdentifier=FREE_ITEM)
    return [
        (codec.PatronStatus, patron, "lookupPatron", _patron(extra=extra)),
        (codec.PatronInformation, patron, "lookupPatron", _patron(extra=extra)),
        (codec.BlockPatron, dict(patron, blockedCardMessage="lost"), "blockPatron",
         _patron(flags={"chargePrivilegesDenied"}, extra=extra)),
        (codec.PatronEnable, patron, "enablePatron", _patron(extra=extra)),
        (codec.EndPatronSession, patron, "endPatronSession", values.SessionEnd(extra=extra)),
        (codec.ItemInformation, item, "lookupItem",
         values.Item(found=True, itemId=FREE_ITEM, title="A title", extra=extra)),
        (codec.ItemInformation, item, "lookupItem",
         values.Item(found=False, itemId=FREE_ITEM, extra=extra)),
        (codec.ItemStatusUpdate, dict(item, itemProperties="p"), "updateItemStatus",
         values.ItemStatusResult(ok=True, extra=extra)),
        (codec.Checkout, dict(patron, **item), "checkout",
         values.CirculationResult(ok=True, title="A title", extra=extra)),
        (codec.Renew, dict(patron, **item), "renew",
         values.CirculationResult(ok=False, reason="renewal-limit", extra=extra)),
        (codec.RenewAll, patron, "renewAll",
         values.RenewAllResult(ok=True, renewed=["I1", "I2"], extra=extra)),
        (codec.Checkin, item, "checkin",
         values.CheckinResult(ok=True, title="A title", extra=extra)),
        (codec.Hold, dict(patron, **item), "hold",
         values.HoldResult(ok=True, queuePosition=1, extra=extra)),
        (codec.FeePaid, dict(patron, feeAmount="1.00"), "feePaid",
         values.PaymentResult(accepted=True, transactionId="T1", extra=extra)),
    ]


class ExtraFieldsTests(SynchronousTestCase):
    """
    What an adapter puts in a result's C{extra} reaches the kiosk as it
    was, in order, and never twice.
    """

    def connect(self, config=None):
        self.adapter = RelayILS()
        self.acs = InMemoryServer(self, adapter=self.adapter, config=config)
        return self.acs.loggedIn()

    def test_everyResponseKind(self):
        """
        Every response made from an adapter's result (24, 64, 24 of a
        block, 26, 36, 18 of a known and an unknown item, 20, 12, 30, 66,
        10, 16, 38) ends with the vendor fields, byte for byte and in
        order, and carries the screen messages given among them in their
        order (where the message's own C{AF} field goes).
        """
        kiosk = self.connect()
        for cls, fields, method, result in _kinds(EXTRA):
            self.adapter.results = {method: result}
            frame = kiosk.exchange(request(cls, **fields) + b"\r")
            name = "%s: %r" % (cls.__name__, frame)
            self.assertTrue(frame.endswith(b"|" + VENDOR_BYTES), name)
            self.assertIn(SCREEN_BYTES, frame, name)
            message = codec.decode(frame).message
            self.assertEqual(message.extra, VENDOR, name)
            self.assertEqual(
                message.screenMessage, ("First screen line.", "Second screen line."), name
            )

    def test_checksummed(self):
        """
        Extra fields come before the sequence number and checksum the
        wire adds, and the checksum covers them.
        """
        kiosk = self.connect()
        self.adapter.results = {"checkin": values.CheckinResult(ok=True, extra=VENDOR)}
        reply = kiosk.ask(request(codec.Checkin, sequence=4, itemIdentifier=FREE_ITEM))
        self.assertEqual(reply.sequence, 4)
        self.assertEqual(reply.message.extra, VENDOR)

    def test_noExtra(self):
        """
        A result without extra fields gives the response it always gave:
        the same bytes as the handler's message encoded alone.
        """
        kiosk = self.connect()
        self.adapter.results = {"checkin": values.CheckinResult(ok=True, title="A title")}
        frame = kiosk.exchange(request(codec.Checkin, itemIdentifier=FREE_ITEM) + b"\r")
        message = codec.decode(frame).message
        self.assertEqual(message.extra, ())
        self.assertEqual(codec.encode(message), frame)

    def test_duplicatesDropped(self):
        """
        An extra field whose id the response already carries is dropped
        (the handler's value wins), and so are a second value of a field
        that is not repeatable, C{AY}/C{AZ} and an id that is not two
        characters; an extra field of the response's own that the handler
        left empty is sent once.
        """
        kiosk = self.connect()
        self.adapter.results = {
            "checkin": values.CheckinResult(
                ok=True,
                title="A title",
                permanentLocation="MAIN",
                screenMessages=["Thank you."],
                extra=[
                    ("AJ", "Another title"),
                    ("AQ", "ELSEWHERE"),
                    ("AO", "OTHER"),
                    ("AB", "OTHER-ITEM"),
                    ("AF", "Not this."),
                    ("CH", "first"),
                    ("CH", "second"),
                    ("AY", "7"),
                    ("AZ", "FFFF"),
                    ("ZZZ", "long id"),
                    ("Z", "short id"),
                    ("ZZ", "kept"),
                ],
            )
        }
        frame = kiosk.exchange(
            request(codec.Checkin, sequence=2, itemIdentifier=FREE_ITEM) + b"\r"
        )
        for dropped in (b"Another", b"ELSEWHERE", b"OTHER", b"Not this", b"second",
                        b"AY7", b"FFFF", b"long id", b"short id"):
            self.assertNotIn(dropped, frame)
        reply = codec.decode(frame)
        self.assertEqual(reply.sequence, 2)
        m = reply.message
        self.assertEqual(
            (m.titleIdentifier, m.permanentLocation, m.itemIdentifier),
            ("A title", "MAIN", FREE_ITEM),
        )
        self.assertEqual(m.screenMessage, ("Thank you.",))
        self.assertEqual(m.itemProperties, "first")
        self.assertEqual(m.extra, (("ZZ", "kept"),))

    def test_wrongPinDropsExtra(self):
        """
        A 24 or 64 answering a wrong PIN withholds the patron's personal
        data, and the adapter's extra fields with it: they may be
        personal (an upstream's address or birth date fields).
        """
        kiosk = self.connect()
        self.adapter.results = {
            "lookupPatron": _patron(pinValid=False, extra=EXTRA),
        }
        for cls in (codec.PatronStatus, codec.PatronInformation):
            m = kiosk.ask(
                request(cls, patronIdentifier=ADA, patronPassword="0000")
            ).message
            self.assertEqual((m.validPatron, m.validPatronPassword), (True, False))
            self.assertEqual((m.personalName, m.extra, m.screenMessage), ("", (), ()))

    def test_wrongPinAllowed(self):
        """
        An account whose C{personal-data-on-wrong-pin} allows personal
        data gets the extra fields too.
        """
        config = makeConfig(accounts=[makeAccount(personalDataOnWrongPin=True)])
        kiosk = self.connect(config)
        self.adapter.results = {
            "lookupPatron": _patron(pinValid=False, extra=VENDOR),
        }
        m = kiosk.ask(
            request(codec.PatronInformation, patronIdentifier=ADA, patronPassword="0000")
        ).message
        self.assertEqual(m.extra, VENDOR)

    def test_unknownPatronKeepsExtra(self):
        """
        An unknown patron has no personal data to withhold: the adapter's
        extra fields are sent.
        """
        kiosk = self.connect()
        self.adapter.results = {
            "lookupPatron": values.Patron(found=False, patronId="P404", extra=VENDOR),
        }
        m = kiosk.ask(
            request(codec.PatronStatus, patronIdentifier="P404", patronPassword="0000")
        ).message
        self.assertEqual((m.validPatron, m.extra), (False, VENDOR))


class WithExtraTests(SynchronousTestCase):
    """
    L{withExtra}, the one filter every handler passes its result's extra
    fields through.
    """

    def test_nothingToAdd(self):
        """
        With no extra field, or none kept, the response itself is returned.
        """
        response = codec.EndSessionResponse(endSession=True, patronIdentifier=ADA)
        self.assertIs(withExtra(response, ()), response)
        self.assertIs(withExtra(response, [("AA", "P2")]), response)

    def test_requiredFieldSentEmpty(self):
        """
        A required field the handler left out is sent empty all the same:
        an extra field with its id would be a second one, and is dropped.
        """
        response = codec.EndSessionResponse(endSession=True)
        self.assertIn("AA", codec.EndSessionResponse.spec.required)
        self.assertIs(withExtra(response, [("AA", "P2")]), response)

    def test_repeatable(self):
        """
        A repeatable field the handler left empty may come several times,
        in order.
        """
        response = codec.EndSessionResponse(endSession=True, patronIdentifier=ADA)
        added = withExtra(response, [("AG", "one"), ("AG", "two")])
        self.assertEqual(added.extra, (("AG", "one"), ("AG", "two")))


class SummaryTests(SynchronousTestCase):
    """
    The 63 handler tells the adapter which list it wants (L{Summary}), and
    reports the adapter's own counts (C{Patron.itemCounts}) with the list
    as given.
    """

    def setUp(self):
        self.adapter = RelayILS()
        self.acs = InMemoryServer(self, adapter=self.adapter)
        self.kiosk = self.acs.loggedIn()

    def ask(self, cls=codec.PatronInformation, **fields):
        return self.kiosk.ask(request(cls, patronIdentifier=ADA, **fields)).message

    def test_summaryGiven(self):
        """
        A 63 whose summary has a C{Y} in one of its six list positions
        gives the adapter that position and C{BP}/C{BQ} as sent; without
        a C{Y} there, L{None}; a 23 gives none.
        """
        self.adapter.results = {"lookupPatron": _patron()}
        self.ask(summary="  Y       ", startItem=3, endItem=4)
        self.ask(summary="     Y    ", startItem=2)
        self.ask(summary="Y         ")
        self.ask(summary="      Y   ")
        self.ask(summary=" " * 10)
        self.ask(codec.PatronStatus)
        self.assertEqual(
            self.adapter.summaries,
            [
                values.Summary(2, 3, 4),
                values.Summary(5, 2, None),
                values.Summary(0),
                None,
                None,
                None,
            ],
        )

    def test_ownCounts(self):
        """
        With C{itemCounts}, the 64 reports those counts (four blanks for
        one the adapter does not know) and the list asked for as the
        adapter gave it: already the window, not cut again.
        """
        self.adapter.results = {
            "lookupPatron": _patron(
                pinValid=True,
                chargedItems=[values.ItemRef("C3"), values.ItemRef("C4")],
                holdItems=[values.ItemRef("H1")],
                itemCounts=(7, None, 12, 0, 0, 3),
            )
        }
        frame = self.kiosk.exchange(
            request(codec.PatronInformation, patronIdentifier=ADA, patronPassword=ADA_PIN,
                    summary="  Y       ", startItem=3, endItem=4)
            + b"\r"
        )
        self.assertIn(b"0007    0012000000000003", frame)
        m = codec.decode(frame).message
        self.assertEqual(
            (m.holdItemsCount, m.overdueItemsCount, m.chargedItemsCount,
             m.fineItemsCount, m.recallItemsCount, m.unavailableHoldsCount),
            (7, None, 12, 0, 0, 3),
        )
        self.assertEqual((m.chargedItems, m.holdItems), (("C3", "C4"), ()))

    def test_ownCountsFines(self):
        """
        Fines given with their own counts still carry their amounts.
        """
        self.adapter.results = {
            "lookupPatron": _patron(
                fineItems=[values.ItemRef("F9", amount=Decimal("2"))],
                itemCounts=(0, 0, 0, 9, 0, 0),
            )
        }
        m = self.ask(summary="   Y      ", startItem=9, endItem=9)
        self.assertEqual((m.fineItemsCount, m.fineItems), (9, ("F9 2.00",)))

    def test_shortCounts(self):
        """
        Counts the adapter leaves out are not known: four blanks.
        """
        self.adapter.results = {"lookupPatron": _patron(itemCounts=(1, 2))}
        m = self.ask()
        self.assertEqual(
            (m.holdItemsCount, m.overdueItemsCount, m.chargedItemsCount),
            (1, 2, None),
        )

    def test_listsCutWithoutOwnCounts(self):
        """
        Without C{itemCounts}, the counts are the lengths of the lists and
        the handler cuts the window, as it always did.
        """
        self.adapter.results = {
            "lookupPatron": _patron(
                chargedItems=[values.ItemRef("C%d" % (n,)) for n in range(1, 6)]
            )
        }
        m = self.ask(summary="  Y       ", startItem=3, endItem=4)
        self.assertEqual((m.chargedItemsCount, m.chargedItems), (5, ("C3", "C4")))

    def test_wrongPinOwnCounts(self):
        """
        A wrong PIN hides the counts ("not supported") even when the
        adapter reports its own.
        """
        self.adapter.results = {
            "lookupPatron": _patron(pinValid=False, itemCounts=(1, 2, 3, 4, 5, 6))
        }
        m = self.ask(patronPassword="0000", summary="  Y       ")
        self.assertEqual((m.chargedItemsCount, m.chargedItems), (None, ()))
