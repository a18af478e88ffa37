"""
Tests for the per-account options that only shape the answers' text:
C{show-outstanding-amount}, C{show-checkin-message}
(L{sip2acs.acs.handlers.messages}) and C{nonprinting-characters}
(L{Behaviour.shape <sip2acs.acs.behaviour.Behaviour.shape>}), on the wire
and in the configuration.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from twisted.internet.defer import fail
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs.behaviour import Behaviour, printable
from sip2acs.config import ConfigError
from sip2acs.ils import values
from sip2acs.ils.memory import MemoryILS
from sip2acs.ils.memory.state import (
    MemoryFee,
    MemoryItem,
    MemoryLimits,
    MemoryPatron,
    MemoryRules,
)
from sip2acs.sip import codec
from tests.fixtures import (
    ADA,
    ADA_DUE,
    ADA_LOAN,
    FREE_ITEM,
    OTHER_ITEM,
    makeAccount,
    makeConfig,
    request,
)
from tests.memory import InMemoryServer
from tests.test_behaviour import BehaviourTestCase, _config, _patron

_FINES = values.CirculationResult(
    ok=False, reason=values.Reason.EXCESSIVE_FINES, screenMessages=["Fines block loans."]
)


def _fine(itemId: str, amount: str, feeType: str = values.FeeType.OVERDUE) -> values.ItemRef:
    return values.ItemRef(itemId, "Title", amount=Decimal(amount), feeType=feeType)


class OutstandingAmountTests(BehaviourTestCase):
    """
    C{show-outstanding-amount} on 12 and 10.
    """

    def checkout(self, kiosk: Any, result: values.CirculationResult, patron: Any) -> Any:
        self.adapter.results = {"checkout": result, "lookupPatron": patron}
        self.adapter.summaries.clear()
        return kiosk.ask(request(codec.Checkout, patronIdentifier=ADA,
                                 itemIdentifier=FREE_ITEM)).message

    def test_checkoutRefusedForFines(self) -> None:
        """
        A 12 refusing a checkout for the patron's fines carries one more
        C{AF} with what the patron owes in all, in the patron's currency.
        """
        kiosk = self.connect(showOutstandingAmount=True)
        reply = self.checkout(kiosk, _FINES, _patron(feeAmount=Decimal("12.5"), currency="EUR"))
        self.assertEqual(reply.screenMessage,
                         ("Fines block loans.", "Amount owed: 12.50 EUR."))
        self.assertEqual(reply.ok, False)

    def test_checkoutOtherwise(self) -> None:
        """
        A successful checkout, or one refused for another reason, is
        answered as the system says, and the patron is not looked up.
        """
        kiosk = self.connect(showOutstandingAmount=True)
        owing = _patron(feeAmount=Decimal("3"))
        success = values.CirculationResult(ok=True, dueDate=ADA_DUE, screenMessages=["Enjoy."])
        self.assertEqual(self.checkout(kiosk, success, owing).screenMessage, ("Enjoy.",))
        limit = values.CirculationResult(
            ok=False, reason=values.Reason.LOAN_LIMIT, screenMessages=["Too many loans."]
        )
        self.assertEqual(self.checkout(kiosk, limit, owing).screenMessage, ("Too many loans.",))
        self.assertEqual(self.adapter.summaries, [])

    def test_checkoutNothingOwed(self) -> None:
        """
        Nothing owed (or an unknown patron): no message is added.
        """
        kiosk = self.connect(showOutstandingAmount=True)
        for patron in (_patron(feeAmount=Decimal("0")), _patron(found=False)):
            reply = self.checkout(kiosk, _FINES, patron)
            self.assertEqual(reply.screenMessage, ("Fines block loans.",))

    def test_off(self) -> None:
        """
        Without the option, no patron lookup and no message.
        """
        kiosk = self.connect()
        reply = self.checkout(kiosk, _FINES, _patron(feeAmount=Decimal("12.5")))
        self.assertEqual(reply.screenMessage, ("Fines block loans.",))
        self.adapter.results["lookupPatron"] = _patron(fineItems=[_fine(FREE_ITEM, "2")])
        reply = self.checkin(kiosk, patronId=ADA)
        self.assertEqual(reply.screenMessage, ())
        self.assertEqual(self.adapter.summaries, [])

    def test_checkinOverdueForItem(self) -> None:
        """
        A 10 of a loan carries what the patron who had it owes in overdue
        fines for that item: other items' fines and other kinds of fee
        are not counted.
        """
        kiosk = self.connect(showOutstandingAmount=True)
        patron = _patron(fineItems=[
            _fine(FREE_ITEM, "1.25"),
            _fine(FREE_ITEM, "0.75"),
            _fine(FREE_ITEM, "9.00", values.FeeType.DAMAGE),
            _fine(OTHER_ITEM, "4.00"),
        ])
        self.adapter.results = {"checkin": values.CheckinResult(
            ok=True, patronId=ADA, screenMessages=["Thank you."]), "lookupPatron": patron}
        reply = kiosk.ask(request(codec.Checkin, itemIdentifier=FREE_ITEM)).message
        self.assertEqual(reply.screenMessage,
                         ("Thank you.", "Overdue fines owed for this item: 2.00 USD."))

    def test_checkinNotOnLoan(self) -> None:
        """
        A 10 of an item that was not on loan, or a refused one, adds
        nothing and looks nobody up.
        """
        kiosk = self.connect(showOutstandingAmount=True, showCheckinMessage=True)
        self.adapter.results = {"lookupPatron": _patron(fineItems=[_fine(FREE_ITEM, "2")])}
        self.assertEqual(self.checkin(kiosk, patronId=None).screenMessage, ())
        self.assertEqual(self.checkin(kiosk, patronId=ADA,
                                      reason=values.Reason.NOT_ON_LOAN).screenMessage, ())
        self.assertEqual(self.checkin(kiosk, ok=False, patronId=ADA).screenMessage, ())
        self.assertEqual(self.adapter.summaries, [])

    def test_lookupFails(self) -> None:
        """
        When the patron cannot be read, the checkin is answered as the
        system said, without the amount; the failure is logged.
        """
        kiosk = self.connect(showOutstandingAmount=True, showCheckinMessage=True)
        self.adapter.lookupPatron = (  # type: ignore[method-assign]
            lambda *a, **k: fail(RuntimeError("database gone"))
        )
        reply = self.checkin(kiosk, patronId=ADA, permanentLocation="MAIN")
        self.assertEqual((reply.ok, reply.screenMessage), (True, ("Item checked in (MAIN).",)))

    def test_memoryLibrary(self) -> None:
        """
        With the in-memory library: the fine its checkin of an overdue
        loan charges is reported; a checkout by a patron over the fee
        limit is refused with what the patron owes.
        """
        ils = MemoryILS(
            patrons=[MemoryPatron(ADA, "Ada Quillfeather")],
            items=[
                MemoryItem(FREE_ITEM, "Clockwork Gardens"),
                MemoryItem(ADA_LOAN, "Lantern Stories", borrower=ADA, dueDate=ADA_DUE),
            ],
            now=lambda: datetime(2025, 3, 24, 10, 0),
            rules=MemoryRules(limits={"*": MemoryLimits(fees=Decimal("1.00"))},
                              finePerDay=Decimal("0.50"), currency="GBP"),
            fees=[MemoryFee(ADA, None, values.FeeType.OTHER, Decimal("0.25"), "Card",
                            datetime(2025, 1, 1))],
        )
        config = makeConfig(accounts=[makeAccount(
            behaviour=Behaviour(showOutstandingAmount=True))])
        kiosk = InMemoryServer(self, adapter=ils, config=config).loggedIn()
        checkin = kiosk.ask(request(codec.Checkin, itemIdentifier=ADA_LOAN)).message
        self.assertIn("Overdue fines owed for this item: 2.00 GBP.", checkin.screenMessage)
        checkout = kiosk.ask(request(codec.Checkout, patronIdentifier=ADA,
                                     itemIdentifier=FREE_ITEM)).message
        self.assertEqual(checkout.ok, False)
        self.assertIn("Amount owed: 2.25 GBP.", checkout.screenMessage)


class CheckinMessageTests(BehaviourTestCase):
    """
    C{show-checkin-message} on 10.
    """

    def test_checkinMessage(self) -> None:
        """
        A 10 of a loan says the item was checked in, with its permanent
        location and collection where the system tells them, after the
        system's own messages.
        """
        kiosk = self.connect(showCheckinMessage=True)
        reply = self.checkin(kiosk, patronId=ADA, permanentLocation="MAIN",
                             collectionCode="FIC", screenMessages=["Thank you."])
        self.assertEqual(reply.screenMessage, ("Thank you.", "Item checked in (MAIN, FIC)."))
        self.assertEqual(self.checkin(kiosk, patronId=ADA).screenMessage,
                         ("Item checked in.",))

    def test_notOnLoan(self) -> None:
        """
        An item that was not on loan gets no such message, even when
        C{checkin-not-out = "ok"} answers ok 1.
        """
        kiosk = self.connect(showCheckinMessage=True)
        reply = self.checkin(kiosk, patronId=None, permanentLocation="MAIN")
        self.assertEqual((reply.ok, reply.screenMessage), (True, ()))

    def test_rewritten(self) -> None:
        """
        The added message is an C{AF} like any other: the account's
        rewrites apply to it.
        """
        kiosk = self.connect(showCheckinMessage=True,
                             screenMessageRewrites=((r"^Item checked in", "Returned"),))
        reply = self.checkin(kiosk, patronId=ADA, permanentLocation="EAST")
        self.assertEqual(reply.screenMessage, ("Returned (EAST).",))


class NonprintingTests(BehaviourTestCase):
    """
    C{nonprinting-characters} on every text field of every answer.
    """

    TITLE = "\x98The\x9c Tides\u2028of\u00a0May\u0378"

    def test_printable(self) -> None:
        """
        Controls, line and paragraph separators and unassigned code points
        are replaced; spaces (a no-break one too), letters and format
        characters are kept.
        """
        self.assertEqual(printable(self.TITLE, ""), "The Tidesof\u00a0May")
        self.assertEqual(printable("a\tb\u00adc\u200bd", "?"), "a?b\u00adc\u200bd")
        self.assertEqual(printable("plain", "?"), "plain")

    def test_removed(self) -> None:
        """
        C{""}: MARC's non-sorting markers around "The" disappear from the
        title of a 10, from its screen messages and from an adapter's
        extra field.
        """
        kiosk = self.connect(nonprintingCharacters="")
        reply = self.checkin(kiosk, title=self.TITLE, screenMessages=["Due\x07 now"],
                             extra=[("ZZ", "x\x1by")])
        # The account is ASCII: the codec makes the no-break space a space.
        self.assertEqual(reply.titleIdentifier, "The Tidesof May")
        self.assertEqual(reply.screenMessage, ("Due now",))
        self.assertEqual(reply.extra, (("ZZ", "xy"),))

    def test_replaced(self) -> None:
        """
        Another replacement is put in the place of each one, in a 24 too.
        """
        kiosk = self.connect(nonprintingCharacters="_")
        reply = self.answer(kiosk, "lookupPatron", _patron(name="Ada\x1fQ"),
                            codec.PatronStatus, patronIdentifier=ADA)
        self.assertEqual(reply.personalName, "Ada_Q")

    def test_keep(self) -> None:
        """
        By default the codec's own cleaning only: controls become a space,
        an unassigned code point is sent (as C{?} in ASCII).
        """
        kiosk = self.connect()
        reply = self.checkin(kiosk, title="\x98The\x9c Tides\u0378")
        self.assertEqual(reply.titleIdentifier, " The  Tides?")


class ConfigTests(SynchronousTestCase):
    """
    The three keys in TOML, in an account and in its institution's
    C{account-defaults}.
    """

    def test_keys(self) -> None:
        """
        Each key is read into its L{Behaviour} field; C{"replace"} is a
        space.
        """
        behaviour = _config(**{
            "show-outstanding-amount": True,
            "show-checkin-message": True,
            "nonprinting-characters": "replace",
        }).accounts["sc1"].behaviour
        self.assertEqual(
            (behaviour.showOutstandingAmount, behaviour.showCheckinMessage,
             behaviour.nonprintingCharacters),
            (True, True, " "),
        )
        self.assertEqual(_config().accounts["sc1"].behaviour.nonprintingCharacters, None)
        replaced = _config(**{"nonprinting-characters": ""}).accounts["sc1"].behaviour
        self.assertEqual(replaced.nonprintingCharacters, "")

    def test_keepOverridesDefault(self) -> None:
        """
        An account's C{"keep"} wins over its institution's replacement.
        """
        defaults = {"nonprinting-characters": "?", "show-checkin-message": True}
        config = _config(defaults, **{"nonprinting-characters": "keep"})
        behaviour = config.accounts["sc1"].behaviour
        self.assertEqual((behaviour.nonprintingCharacters, behaviour.showCheckinMessage),
                         (None, True))
        inherited = _config(defaults).accounts["sc1"].behaviour
        self.assertEqual(inherited.nonprintingCharacters, "?")

    def test_problems(self) -> None:
        """
        A value of the wrong type is a problem naming its key.
        """
        with self.assertRaises(ConfigError) as caught:
            _config({"show-checkin-message": "yes"}, **{
                "show-outstanding-amount": 1,
                "nonprinting-characters": False,
            })
        where = sorted({problem.where() or "" for problem in caught.exception.details})
        self.assertEqual(where, [
            "account[0].nonprinting-characters",
            "account[0].show-outstanding-amount",
            "institution[0].account-defaults.show-checkin-message",
        ])
