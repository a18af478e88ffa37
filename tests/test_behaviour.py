"""
Tests for the per-account behaviour options (L{sip2acs.acs.behaviour}):
each option on the wire, a request frame in and the fields of the reply
checked, with an adapter answering what the test gives it
(L{tests.test_extra_fields.RelayILS}) or the in-memory library.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs.behaviour import Behaviour
from sip2acs.acs.templates import compileTemplate, patronContext
from sip2acs.config import ConfigError
from sip2acs.config.toml import parseConfig
from sip2acs.ils import values
from sip2acs.passwords import hashPassword
from sip2acs.sip import codec
from tests.fixtures import (
    ADA,
    ADA_LOAN,
    ADA_PIN,
    FREE_ITEM,
    LOGIN,
    makeAccount,
    makeConfig,
    request,
)
from tests.memory import InMemoryServer
from tests.test_extra_fields import RelayILS

DUE = datetime(2025, 3, 20, 23, 59)


class RecordingILS(RelayILS):
    """
    A L{RelayILS} that also keeps the requests it was given.
    """

    def __init__(self) -> None:
        RelayILS.__init__(self)
        self.requests: list[Any] = []

    def checkin(self, terminal: Any, request: Any) -> Any:
        self.requests.append(request)
        return RelayILS.checkin(self, terminal, request)

    def feePaid(self, terminal: Any, payment: Any) -> Any:
        self.requests.append(payment)
        return RelayILS.feePaid(self, terminal, payment)


def _patron(**fields: Any) -> values.Patron:
    fields.setdefault("found", True)
    fields.setdefault("patronId", ADA)
    fields.setdefault("name", "Quillfeather, Ada")
    return values.Patron(**fields)


def _fieldsOf(frame: bytes) -> list[tuple[str, str]]:
    """
    The identified fields of a frame, as sent, in order.
    """
    return [(fid, str(value)) for fid, value in codec.decode(frame).message.fields()]


class BehaviourTestCase(SynchronousTestCase):
    """
    Kiosks of an account with the options a test gives.
    """

    def connect(self, **options: Any) -> Any:
        """
        A kiosk logged in as an account with C{options} (L{Behaviour}
        fields), served by a L{RecordingILS} (C{self.adapter}).
        """
        self.adapter = RecordingILS()
        config = makeConfig(accounts=[makeAccount(behaviour=Behaviour(**options))])
        self.acs = InMemoryServer(self, adapter=self.adapter, config=config)
        return self.acs.loggedIn()

    def answer(self, kiosk: Any, method: str, result: Any, cls: Any, **fields: Any) -> Any:
        """
        The decoded reply to request C{cls} when the adapter's C{method}
        answers C{result}.
        """
        self.adapter.results = {method: result}
        return kiosk.ask(request(cls, **fields)).message

    def checkin(self, kiosk: Any, **result: Any) -> Any:
        result.setdefault("ok", True)
        return self.answer(
            kiosk, "checkin", values.CheckinResult(**result), codec.Checkin,
            itemIdentifier=FREE_ITEM,
        )


class CheckinOptionTests(BehaviourTestCase):
    """
    C{checkin-not-out}, C{cv-on-success}, C{alert-only-with-cv},
    C{always-send-ct}, C{holds-block-checkin}, C{da-template},
    C{unknown-item-security} on a 10.
    """

    def test_checkinNotOutRefused(self) -> None:
        """
        With C{checkin-not-out = "refused"} a checkin of an item that was
        not on loan answers ok 0; one that was on loan still ok 1.
        """
        kiosk = self.connect(checkinNotOut="refused")
        self.assertFalse(self.checkin(kiosk, patronId=None).ok)
        self.assertTrue(self.checkin(kiosk, patronId=ADA).ok)

    def test_checkinNotOutDefault(self) -> None:
        """
        By default such a checkin answers ok 1, as before.
        """
        kiosk = self.connect()
        self.assertTrue(self.checkin(kiosk, patronId=None).ok)

    def test_checkinNotOutMemoryLibrary(self) -> None:
        """
        The in-memory library's checkin of an item on the shelf is refused
        under C{checkin-not-out = "refused"}; a loan is returned as usual.
        """
        config = makeConfig(accounts=[makeAccount(behaviour=Behaviour(checkinNotOut="refused"))])
        kiosk = InMemoryServer(self, config=config).loggedIn()
        shelf = kiosk.ask(request(codec.Checkin, itemIdentifier=FREE_ITEM)).message
        self.assertEqual(shelf.ok, False)
        loan = kiosk.ask(request(codec.Checkin, itemIdentifier=ADA_LOAN)).message
        self.assertEqual((loan.ok, loan.patronIdentifier), (True, ADA))

    def test_cvOnSuccess(self) -> None:
        """
        C{cv-on-success} adds C{CV} 00 to a plain successful checkin, and
        leaves an adapter's alert type alone.
        """
        kiosk = self.connect(cvOnSuccess=True)
        plain = self.checkin(kiosk, patronId=ADA)
        self.assertEqual((plain.alertType, plain.alert), ("00", False))
        routed = self.checkin(kiosk, patronId=ADA, alert=True, alertType="02")
        self.assertEqual((routed.alertType, routed.alert), ("02", True))
        kiosk = self.connect()
        self.assertIsNone(self.checkin(kiosk, patronId=ADA).alertType)

    def test_alertOnlyWithCV(self) -> None:
        """
        C{alert-only-with-cv}: the alert flag is Y exactly when an alert
        type is sent; C{CV} 00 of C{cv-on-success} does not raise it.
        """
        kiosk = self.connect(alertOnlyWithCV=True, cvOnSuccess=True)
        self.assertFalse(self.checkin(kiosk, alert=True).alert)
        self.assertTrue(self.checkin(kiosk, alert=False, alertType="04").alert)
        plain = self.checkin(kiosk, patronId=ADA)
        self.assertEqual((plain.alert, plain.alertType), (False, "00"))

    def test_alwaysSendCT(self) -> None:
        """
        C{always-send-ct}: a 10 without a destination carries an empty
        C{CT}; without the option it carries none.
        """
        kiosk = self.connect(alwaysSendCT=True)
        self.adapter.results = {"checkin": values.CheckinResult(ok=True, patronId=ADA)}
        self.assertIn(("CT", ""), _fieldsOf(kiosk.exchange(
            request(codec.Checkin, itemIdentifier=FREE_ITEM) + b"\r")))
        kiosk = self.connect()
        self.adapter.results = {"checkin": values.CheckinResult(ok=True, patronId=ADA)}
        self.assertNotIn("CT", [fid for fid, _ in _fieldsOf(kiosk.exchange(
            request(codec.Checkin, itemIdentifier=FREE_ITEM) + b"\r"))])

    def test_holdsBlockCheckin(self) -> None:
        """
        C{holds-block-checkin}: the adapter is asked to refuse a checkin of
        an item a hold waits for, and its refusal is sent as ok 0, alert
        Y, C{CV} 01.
        """
        kiosk = self.connect(holdsBlockCheckin=True)
        reply = self.checkin(
            kiosk, ok=False, reason=values.Reason.ON_HOLD_FOR_OTHER,
            screenMessages=["This item is on hold."],
        )
        self.assertEqual((reply.ok, reply.alert, reply.alertType), (False, True, "01"))
        request = self.adapter.requests[-1]
        self.assertIs(request.refuseIfHeld, True)
        kiosk = self.connect()
        self.checkin(kiosk)
        self.assertIs(self.adapter.requests[-1].refuseIfHeld, False)

    def test_daTemplate(self) -> None:
        """
        C{da-template} renders C{DA} for the hold patron.
        """
        template = compileTemplate("{{ patron.surname }}")
        kiosk = self.connect(daTemplate=template)
        reply = self.checkin(
            kiosk, alert=True, alertType="01", holdPatronId="P9",
            holdPatronName="Quillfeather, Ada",
        )
        self.assertEqual((reply.holdPatronId, reply.holdPatronName), ("P9", "Quillfeather"))

    def test_unknownItemSecurity(self) -> None:
        """
        C{unknown-item-security = "U"}: a 10 refusing an unknown item says
        resensitize U, a 12 desensitize U; by default they say what the
        adapter said (a refusal's desensitize is N).
        """
        unknown = values.Reason.UNKNOWN_ITEM
        for option, expected in (("U", None), ("N", False)):
            kiosk = self.connect(unknownItemSecurity=option)
            self.adapter.results = {
                "checkin": values.CheckinResult(
                    ok=False, reason=unknown, alert=True, resensitize=False
                ),
            }
            frame = kiosk.exchange(request(codec.Checkin, itemIdentifier="X") + b"\r")
            self.assertEqual(frame[3:4], b"U" if expected is None else b"N")
            out = self.answer(
                kiosk, "checkout", values.CirculationResult(ok=False, reason=unknown),
                codec.Checkout, patronIdentifier=ADA, itemIdentifier="X",
            )
            self.assertEqual(out.desensitize, expected)


class CirculationOptionTests(BehaviourTestCase):
    """
    C{due-date-format} and C{renewal-desensitize} on 12, 30 and 18;
    C{item-fields} on 18, 12 and 10.
    """

    def test_dueDateFormat(self) -> None:
        """
        C{due-date-format} writes C{AH} of 12, 30 and 18 with its pattern;
        by default it is the 18-character SIP2 date.
        """
        kiosk = self.connect(dueDateFormat="%m/%d/%Y")
        lent = values.CirculationResult(ok=True, title="T", dueDate=DUE, desensitize=True)
        for cls, method in ((codec.Checkout, "checkout"), (codec.Renew, "renew")):
            reply = self.answer(kiosk, method, lent, cls, patronIdentifier=ADA,
                                itemIdentifier=ADA_LOAN)
            self.assertEqual(reply.dueDate, "03/20/2025")
        item = values.Item(found=True, itemId=ADA_LOAN, title="T", dueDate=DUE,
                           circulationStatus="04")
        reply = self.answer(kiosk, "lookupItem", item, codec.ItemInformation,
                            itemIdentifier=ADA_LOAN)
        self.assertEqual(reply.dueDate, "03/20/2025")
        kiosk = self.connect()
        reply = self.answer(kiosk, "checkout", lent, codec.Checkout,
                            patronIdentifier=ADA, itemIdentifier=ADA_LOAN)
        self.assertEqual(reply.dueDate, "20250320    235900")

    def test_renewalDesensitize(self) -> None:
        """
        C{renewal-desensitize = false}: a successful 30 says desensitize
        N; a checkout still says Y; by default a renewal says Y.
        """
        renewed = values.CirculationResult(ok=True, renewal=True, desensitize=True, dueDate=DUE)
        kiosk = self.connect(renewalDesensitize=False)
        fields = dict(patronIdentifier=ADA, itemIdentifier=ADA_LOAN)
        self.assertIs(self.answer(kiosk, "renew", renewed, codec.Renew, **fields).desensitize,
                      False)
        self.assertIs(
            self.answer(kiosk, "checkout", renewed, codec.Checkout, **fields).desensitize, True
        )
        kiosk = self.connect()
        self.assertIs(self.answer(kiosk, "renew", renewed, codec.Renew, **fields).desensitize,
                      True)

    def test_itemFields(self) -> None:
        """
        C{item-fields} add their fields to an 18 (and to a 10 and 12 of a
        known item); one that renders nothing is left out.
        """
        kiosk = self.connect(itemFields={
            "ZY": compileTemplate("{{ item.call_number }}"),
            "ZX": compileTemplate("{{ item.fields.shelf }}"),
            "ZW": compileTemplate("{{ item.title | upper }}"),
        })
        item = values.Item(found=True, itemId=FREE_ITEM, title="Tides", callNumber="551.46")
        reply = self.answer(kiosk, "lookupItem", item, codec.ItemInformation,
                            itemIdentifier=FREE_ITEM)
        self.assertEqual(reply.extra, (("ZY", "551.46"), ("ZW", "TIDES")))
        checkin = self.checkin(kiosk, title="Tides", callNumber="551.46", patronId=ADA)
        self.assertEqual(checkin.extra, (("ZY", "551.46"), ("ZW", "TIDES")))
        out = self.answer(kiosk, "checkout", values.CirculationResult(ok=True, title="Tides"),
                          codec.Checkout, patronIdentifier=ADA, itemIdentifier=FREE_ITEM)
        self.assertEqual(out.extra, (("ZW", "TIDES"),))


class FeeOptionTests(BehaviourTestCase):
    """
    C{overpayment}, C{payment-types} and C{register-id} go with the
    payment to the adapter.
    """

    def pay(self, kiosk: Any, paymentType: str = "00") -> Any:
        reply = self.answer(
            kiosk, "feePaid", values.PaymentResult(accepted=True, transactionId="T1"),
            codec.FeePaid, patronIdentifier=ADA, feeAmount="5.00", paymentType=paymentType,
        )
        self.assertTrue(reply.paymentAccepted)
        return self.adapter.requests[-1]

    def test_defaults(self) -> None:
        """
        By default a payment leaves overpayment to the adapter, is no
        write-off and has no register.
        """
        payment = self.pay(self.connect())
        self.assertEqual((payment.overpayment, payment.writeoff, payment.register),
                         (None, False, None))

    def test_options(self) -> None:
        """
        C{overpayment = "refused"}, a payment type mapped to a write-off
        and C{register-id} reach the adapter's L{Payment}.
        """
        kiosk = self.connect(overpayment="refused", paymentTypes={"06": "writeoff"},
                             registerId="TILL-2")
        payment = self.pay(kiosk, "06")
        self.assertEqual((payment.overpayment, payment.writeoff, payment.register),
                         ("refused", True, "TILL-2"))
        self.assertIs(self.pay(kiosk, "00").writeoff, False)
        self.assertEqual(self.pay(self.connect(overpayment="credit")).overpayment, "credit")


class PatronOptionTests(BehaviourTestCase):
    """
    The options of 24, 26 and 64.
    """

    def lookup(self, kiosk: Any, patron: values.Patron, cls: Any = codec.PatronInformation,
               **fields: Any) -> Any:
        fields.setdefault("patronIdentifier", ADA)
        return self.answer(kiosk, "lookupPatron", patron, cls, **fields)

    def test_emptyPinAccepted(self) -> None:
        """
        C{empty-pin = "accepted"}: a 63 or 23 with an empty C{AD} for a
        patron who has no PIN is answered C{CQ} Y; by default no C{CQ} is
        sent for it.
        """
        kiosk = self.connect(emptyPin="accepted")
        for cls in (codec.PatronInformation, codec.PatronStatus):
            reply = self.lookup(kiosk, _patron(hasPin=False), cls, patronPassword="")
            self.assertIs(reply.validPatronPassword, True)
        kiosk = self.connect()
        reply = self.lookup(kiosk, _patron(hasPin=False), patronPassword="")
        self.assertIsNone(reply.validPatronPassword)

    def test_emptyPinForPatronWithPin(self) -> None:
        """
        An empty C{AD} never passes for a patron who has a PIN (or whose
        adapter cannot say), whatever C{empty-pin} says.
        """
        kiosk = self.connect(emptyPin="accepted")
        for hasPin in (True, None):
            reply = self.lookup(kiosk, _patron(hasPin=hasPin), patronPassword="")
            self.assertIsNot(reply.validPatronPassword, True)

    def test_emptyPinMemoryLibrary(self) -> None:
        """
        The memory library says which patrons have a PIN.
        """
        from sip2acs.ils.memory import MemoryILS
        from sip2acs.ils.memory.state import MemoryPatron

        ils = MemoryILS(
            patrons=[MemoryPatron("P1", "With", pin="1234"), MemoryPatron("P2", "Without")]
        )
        terminal = values.Terminal("kiosk", "DEMO")
        self.assertIs(self.successResultOf(ils.lookupPatron(terminal, "P1")).hasPin, True)
        self.assertIs(self.successResultOf(ils.lookupPatron(terminal, "P2")).hasPin, False)

    def test_emptyPinWrongPin(self) -> None:
        """
        A PIN that is given is still checked under C{empty-pin =
        "accepted"}.
        """
        kiosk = self.connect(emptyPin="accepted")
        reply = self.lookup(kiosk, _patron(pinValid=False), patronPassword="0000")
        self.assertIs(reply.validPatronPassword, False)

    def test_homeLibraryInAF(self) -> None:
        """
        C{home-library-in-af} adds a screen message with the home library
        to 24 and 64.
        """
        kiosk = self.connect(homeLibraryInAF=True)
        patron = _patron(homeLibrary="EAST", screenMessages=["Hello."])
        for cls in (codec.PatronStatus, codec.PatronInformation):
            self.assertEqual(self.lookup(kiosk, patron, cls).screenMessage, ("Hello.", "EAST"))
        self.assertEqual(
            self.lookup(self.connect(), patron, codec.PatronStatus).screenMessage, ("Hello.",)
        )

    def test_patronStatusPermit(self) -> None:
        """
        C{patron-status-permit}: C{loans} never denies charge, renewal and
        recall privileges (a hold block and the rest stay); C{all} sends
        14 blanks.
        """
        flags = {"chargePrivilegesDenied", "renewalPrivilegesDenied", "recallPrivilegesDenied",
                 "holdPrivilegesDenied", "excessiveOutstandingFines"}
        patron = _patron(flags=flags)
        self.assertEqual(self.lookup(self.connect(), patron).patronStatus, "YYYY      Y   ")
        self.assertEqual(
            self.lookup(self.connect(patronStatusPermit="loans"), patron).patronStatus,
            "   Y      Y   ",
        )
        for cls in (codec.PatronStatus, codec.PatronInformation):
            self.assertEqual(
                self.lookup(self.connect(patronStatusPermit="all"), patron, cls).patronStatus,
                " " * 14,
            )

    def test_vendorFields(self) -> None:
        """
        A 64 carries C{AQ} (home library), C{PB}, C{PC} and C{PI}
        (internet privileges, when the adapter reports them).
        """
        fields = dict(homeLibrary="EAST", birthDate=date(1990, 5, 1), patronClass="Adult",
                      internetPrivileges="Unfiltered")
        reply = self.lookup(self.connect(), _patron(**fields))
        self.assertEqual((reply.birthDate, reply.patronClass), ("19900501", "Adult"))
        self.assertEqual(reply.extra[0], ("AQ", "EAST"))
        self.assertEqual(reply.extra[1], ("PI", "Unfiltered"))

    def test_patronClassCode(self) -> None:
        """
        C{patron-class = "code"}: C{PC} carries the class's code.
        """
        patron = _patron(patronClass="Adult", patronClassCode="AD")
        self.assertEqual(self.lookup(self.connect(), patron).patronClass, "Adult")
        self.assertEqual(self.lookup(self.connect(patronClass="code"), patron).patronClass, "AD")

    def test_expiryField(self) -> None:
        """
        C{expiry-field = "PA"}: a 64 carries the expiry date there.
        """
        patron = _patron(expires=date(2026, 3, 14))
        reply = self.lookup(self.connect(expiryField="PA"), patron)
        self.assertIn(("PA", "20260314"), reply.extra)
        self.assertNotIn("PA", [fid for fid, _ in self.lookup(self.connect(), patron).extra])

    def test_aeTemplate(self) -> None:
        """
        C{ae-template} renders C{AE} of 24 and 64.
        """
        template = compileTemplate("{{ patron.firstname }} {{ patron.surname }}")
        kiosk = self.connect(aeTemplate=template)
        for cls in (codec.PatronStatus, codec.PatronInformation):
            self.assertEqual(self.lookup(kiosk, _patron(), cls).personalName,
                             "Ada Quillfeather")

    def test_aeTemplateWrongPin(self) -> None:
        """
        An answer withholding personal data (a wrong PIN) sends an empty
        C{AE}, template or not, and no C{patron-fields}.
        """
        kiosk = self.connect(aeTemplate=compileTemplate("{{ patron.name }}"),
                             patronFields={"ZP": compileTemplate("{{ patron.email }}")})
        reply = self.lookup(kiosk, _patron(pinValid=False, email="a@example.org"),
                            codec.PatronStatus, patronPassword="0000")
        self.assertEqual((reply.personalName, reply.extra), ("", ()))

    def test_patronFields(self) -> None:
        """
        C{patron-fields} add their fields to 24 and 64.
        """
        kiosk = self.connect(patronFields={
            "DE": compileTemplate("{{ patron.email }}"),
            "ZZ": compileTemplate("{% if patron.email %}mail{% endif %}"),
        })
        patron = _patron(email="ada@example.org")
        for cls in (codec.PatronStatus, codec.PatronInformation):
            extra = self.lookup(kiosk, patron, cls).extra
            self.assertIn(("DE", "ada@example.org"), extra)
            self.assertIn(("ZZ", "mail"), extra)

    def test_holdList(self) -> None:
        """
        C{hold-list = "title"}: 64's hold lists carry titles while the
        other lists keep C{item-list}'s barcodes.
        """
        holds = [values.ItemRef("B1", "Tides")]
        patron = _patron(holdItems=holds, chargedItems=holds, unavailableHoldItems=holds)
        kiosk = self.connect(holdList="title")
        self.assertEqual(self.lookup(kiosk, patron, summary="Y         ").holdItems, ("Tides",))
        self.assertEqual(
            self.lookup(kiosk, patron, summary="     Y    ").unavailableHoldItems, ("Tides",)
        )
        self.assertEqual(self.lookup(kiosk, patron, summary="  Y       ").chargedItems, ("B1",))

    def fees(self, **options: Any) -> tuple[str, ...]:
        fee = values.ItemRef("B1", "Tides", amount=Decimal("2.50"), feeId="F7", feeType="04")
        reply = self.lookup(self.connect(**options), _patron(fineItems=[fee]),
                            summary="   Y      ")
        return tuple(reply.fineItems)

    def test_feeFormats(self) -> None:
        """
        C{fee-format}: C{amount} (today's), C{3m} and C{swyer-a}, C{swyer-b}
        and C{template}.
        """
        self.assertEqual(self.fees(), ("B1 2.50",))
        feeId, kind = "F7", "FINE"
        self.assertEqual(self.fees(feeFormat="3m"), ('%s $2.50 "%s" Tides' % (feeId, kind),))
        self.assertEqual(self.fees(feeFormat="swyer-a"), self.fees(feeFormat="3m"))
        self.assertEqual(
            self.fees(feeFormat="swyer-b"),
            ("Charge-Number: %s, Amount-Due: 2.50, Fine-Type: %s, Title: Tides" % (feeId, kind),),
        )
        template = compileTemplate('{{ fee.title }}: {{ "%.2f" | format(fee.amount) }}')
        self.assertEqual(self.fees(feeFormat="template", avTemplate=template), ("Tides: 2.50",))


class ShapingTests(BehaviourTestCase):
    """
    C{hide-fields} and C{screen-message-rewrites} on every answer.
    """

    def test_hideFields(self) -> None:
        """
        Hidden fields never leave: an optional one is left out, a required
        one (C{AE}) sent empty, a vendor one (C{AQ} of 64) dropped too.
        """
        kiosk = self.connect(hiddenFields=("AE", "BE", "AQ", "PB", "CV"))
        patron = _patron(email="ada@example.org", homeLibrary="EAST", birthDate=date(1990, 5, 1))
        self.adapter.results = {"lookupPatron": patron}
        frame = kiosk.exchange(request(codec.PatronInformation, patronIdentifier=ADA) + b"\r")
        fields = _fieldsOf(frame)
        self.assertIn(("AE", ""), fields)
        for fid in ("BE", "AQ", "PB"):
            self.assertNotIn(fid, [each for each, _ in fields])
        self.assertIsNone(self.checkin(kiosk, alert=True, alertType="02").alertType)

    def test_allowFields(self) -> None:
        """
        With an allow list, only those fields (and the required ones) are
        sent: a 64's e-mail and vendor AQ are left out, its AA and the
        allowed BL kept.
        """
        kiosk = self.connect(allowedFields=("AA", "BL"))
        patron = _patron(email="ada@example.org", homeLibrary="EAST")
        self.adapter.results = {"lookupPatron": patron}
        frame = kiosk.exchange(request(codec.PatronInformation, patronIdentifier=ADA) + b"\r")
        ids = [fid for fid, _ in _fieldsOf(frame)]
        self.assertIn("AA", ids)
        self.assertIn("BL", ids)
        self.assertIn("AE", ids)  # required by a 64
        for fid in ("BE", "AQ"):
            self.assertNotIn(fid, ids)

    def test_rewrites(self) -> None:
        """
        Each C{AF} of every answer is rewritten, in order; one rewritten
        to nothing is dropped. The session's own refusals are rewritten too.
        """
        kiosk = self.connect(screenMessageRewrites=(
            (r"^Wrong PIN\.$", "Please check your PIN."),
            (r"(\d+) days?", r"\1d"),
            (r"^Debug:.*", ""),
        ))
        patron = _patron(screenMessages=["Wrong PIN.", "Due in 3 days", "Debug: x"])
        reply = self.lookup_(kiosk, patron)
        self.assertEqual(reply.screenMessage, ("Please check your PIN.", "Due in 3d"))

    def lookup_(self, kiosk: Any, patron: values.Patron) -> Any:
        return self.answer(kiosk, "lookupPatron", patron, codec.PatronStatus,
                           patronIdentifier=ADA)

    def test_rewriteRefusal(self) -> None:
        """
        A refusal the session makes itself (the adapter failed) is
        rewritten too.
        """
        kiosk = self.connect(screenMessageRewrites=(
            ("library system", "catalogue"),
        ))
        self.adapter.results = {}
        reply = kiosk.ask(request(codec.Checkin, itemIdentifier=FREE_ITEM)).message
        self.assertEqual(reply.screenMessage,
                         ("The catalogue is not available. Please try again later.",))
        self.flushLoggedErrors(KeyError)

    def test_defaultsUnchanged(self) -> None:
        """
        The built-in behaviour sends the same bytes as before for the
        in-memory library's 64 with every list.
        """
        kiosk = InMemoryServer(self).loggedIn()
        reply = kiosk.ask(request(codec.PatronInformation, patronIdentifier=ADA,
                                  patronPassword=ADA_PIN, summary="  Y       ")).message
        self.assertEqual(reply.chargedItems, (ADA_LOAN,))
        self.assertEqual(Behaviour().shape(reply), reply)


def _config(defaults: dict[str, Any] | None = None, **account: Any) -> Any:
    """
    A parsed TOML configuration: one institution (its C{account-defaults}
    given) and one account with C{account}'s keys.
    """
    institution: dict[str, Any] = {"id": "LIB", "database": "x.sqlite3"}
    if defaults is not None:
        institution["account-defaults"] = defaults
    account.update(login="sc1", password=hashPassword("pw", cost=4), institution="LIB")
    return parseConfig({
        "listener": [{"endpoint": "tcp:0:interface=127.0.0.1"}],
        "institution": [institution],
        "account": [account],
    })


class ConfigTests(SynchronousTestCase):
    """
    The options in TOML: each key of an C{[[account]]}, the same keys in
    C{[institution.account-defaults]}.
    """

    def test_default(self) -> None:
        """
        No option given: the built-in behaviour, and no C{account-defaults}
        among the adapter's options.
        """
        config = _config()
        self.assertEqual(config.accounts["sc1"].behaviour, Behaviour())
        self.assertNotIn("account-defaults", config.institutions["LIB"].options)

    def test_everyKey(self) -> None:
        """
        Every key is read into its L{Behaviour} field.
        """
        behaviour = _config(**{
            "checkin-not-out": "refused",
            "cv-on-success": True,
            "alert-only-with-cv": True,
            "always-send-ct": True,
            "holds-block-checkin": True,
            "overpayment": "credit",
            "payment-types": {"06": "writeoff", "01": "payment"},
            "register-id": "TILL-1",
            "empty-pin": "accepted",
            "home-library-in-af": True,
            "hide-fields": ["BD", "BE"],
            "hold-list": "title",
            "fee-format": "template",
            "due-date-format": "%Y-%m-%d",
            "renewal-desensitize": False,
            "unknown-item-security": "U",
            "patron-status-permit": "loans",
            "patron-class": "code",
            "expiry-field": "PA",
            "ae-template": "{{ patron.surname }}",
            "da-template": "{{ patron.firstname }}",
            "av-template": "{{ fee.title }}",
            "patron-fields": {"DE": "{{ patron.email }}"},
            "item-fields": {"ZY": "{{ item.call_number }}"},
            "screen-message-rewrites": [["^Hi$", "Hello"]],
        }).accounts["sc1"].behaviour
        self.assertEqual(
            (behaviour.checkinNotOut, behaviour.cvOnSuccess, behaviour.alertOnlyWithCV,
             behaviour.alwaysSendCT, behaviour.holdsBlockCheckin, behaviour.overpayment,
             dict(behaviour.paymentTypes), behaviour.registerId, behaviour.emptyPin,
             behaviour.homeLibraryInAF, behaviour.hiddenFields, behaviour.holdList,
             behaviour.feeFormat, behaviour.dueDateFormat, behaviour.renewalDesensitize,
             behaviour.unknownItemSecurity, behaviour.patronStatusPermit,
             behaviour.patronClass, behaviour.expiryField, behaviour.screenMessageRewrites),
            ("refused", True, True, True, True, "credit", {"06": "writeoff", "01": "payment"},
             "TILL-1", "accepted", True, ("BD", "BE"), "title", "template", "%Y-%m-%d", False,
             "U", "loans", "code", "PA", (("^Hi$", "Hello"),)),
        )
        patron = _patron(email="a@b.org")
        self.assertEqual(behaviour.aeTemplate.render(patron=patronContext(patron)),
                         "Quillfeather")
        self.assertEqual(behaviour.daTemplate.render(patron=patronContext(patron)), "Ada")
        self.assertEqual(behaviour.avTemplate.render(fee={"title": "T"}), "T")
        self.assertEqual(behaviour.patronFields["DE"].render(patron=patronContext(patron)),
                         "a@b.org")
        self.assertEqual(list(behaviour.itemFields), ["ZY"])
        self.assertEqual(behaviour.rewrite("Hi"), "Hello")

    def test_institutionDefaults(self) -> None:
        """
        C{account-defaults} of the institution apply to its accounts; an
        account's own key wins.
        """
        behaviour = _config(
            {"renewal-desensitize": False, "hold-list": "title"}, **{"hold-list": "barcode"}
        ).accounts["sc1"].behaviour
        self.assertEqual((behaviour.renewalDesensitize, behaviour.holdList), (False, "barcode"))

    def test_problems(self) -> None:
        """
        Each wrong value is a problem naming its key's path, in the
        account or in the institution's C{account-defaults}.
        """
        with self.assertRaises(ConfigError) as caught:
            _config(
                {"checkin-not-out": "maybe", "bogus": 1},
                **{
                    "hide-fields": ["AZ", "toolong"],
                    "payment-types": {"6": "writeoff", "07": "gift"},
                    "ae-template": "{{ patron.name",
                    "patron-fields": {"D": "x"},
                    "due-date-format": "mm/dd",
                    "screen-message-rewrites": [["(", "x"], ["a"]],
                    "expiry-field": "pa",
                    "fee-format": "template",
                },
            )
        where = sorted({problem.where() or "" for problem in caught.exception.details})
        self.assertEqual(where, [
            "account[0].ae-template",
            "account[0].due-date-format",
            "account[0].expiry-field",
            "account[0].fee-format",
            "account[0].hide-fields",
            "account[0].patron-fields",
            "account[0].payment-types",
            "account[0].payment-types.07",
            "account[0].screen-message-rewrites[0]",
            "account[0].screen-message-rewrites[1]",
            "institution[0].account-defaults.bogus",
            "institution[0].account-defaults.checkin-not-out",
        ])

    def test_reload(self) -> None:
        """
        A session carries on under its account's new behaviour after a
        reload.
        """
        acs = InMemoryServer(self, adapter=RecordingILS())
        kiosk = acs.loggedIn()
        changed = attrs.evolve(
            acs.config.accounts[LOGIN], behaviour=Behaviour(checkinNotOut="refused")
        )
        acs.server.accounts[LOGIN] = changed
        session = kiosk.server.session
        session.configChanged()
        self.assertEqual(session.account.behaviour.checkinNotOut, "refused")
