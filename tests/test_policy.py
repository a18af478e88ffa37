"""
Tests for the per-account circulation policy options (Koha's
C{holds_get_captured}, C{lost_block_checkout}, C{overdues_block_checkout},
C{blocked_item_types}): the handlers pass them to the adapter with the
request, and on the wire, against the in-memory library, they refuse a
checkout or leave a hold untrapped.
"""

from datetime import datetime
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs.behaviour import Behaviour
from sip2acs.config import ConfigError
from sip2acs.ils import values
from sip2acs.ils.memory import MemoryHold
from sip2acs.sip import codec
from tests.fixtures import ADA, ADA_LOAN, FREE_ITEM, ZOE, makeAccount, makeConfig, makeILS, request
from tests.memory import InMemoryServer
from tests.test_behaviour import BehaviourTestCase, RecordingILS, _config
from tests.test_xmlconfig_options import OptionProblemsTests

AFTER_DUE = datetime(2025, 3, 25, 12, 0)
"""
A moment after Ada's loan fell due.
"""


class CheckoutRecordingILS(RecordingILS):
    """
    A L{RecordingILS} that keeps the checkout requests too.
    """

    def checkout(self, terminal: Any, request: Any) -> Any:
        self.requests.append(request)
        return RecordingILS.checkout(self, terminal, request)


class RequestTests(BehaviourTestCase):
    """
    The options go to the adapter with the checkout and checkin requests.
    """

    def connect(self, **options: Any) -> Any:
        self.adapter = CheckoutRecordingILS()
        config = makeConfig(accounts=[makeAccount(behaviour=Behaviour(**options))])
        self.acs = InMemoryServer(self, adapter=self.adapter, config=config)
        return self.acs.loggedIn()

    def checkout(self, kiosk: Any) -> values.CheckoutRequest:
        self.answer(kiosk, "checkout", values.CirculationResult(ok=True), codec.Checkout,
                    patronIdentifier=ADA, itemIdentifier=FREE_ITEM)
        return self.adapter.requests[-1]

    def test_defaults(self) -> None:
        """
        Without the options a checkout asks for no policy and a checkin
        traps holds, as before.
        """
        kiosk = self.connect()
        checkout = self.checkout(kiosk)
        self.assertEqual(
            (checkout.lostItemsLimit, checkout.refuseIfOverdue, checkout.blockedItemTypes),
            (None, False, ()),
        )
        self.checkin(kiosk)
        self.assertIs(self.adapter.requests[-1].trapHolds, True)

    def test_options(self) -> None:
        """
        The account's options are the requests' fields.
        """
        kiosk = self.connect(lostItemsBlockCheckout=2, overduesBlockCheckout=True,
                             blockedItemTypes=["DVD", "REF"], holdsCapture=False)
        checkout = self.checkout(kiosk)
        self.assertEqual(
            (checkout.lostItemsLimit, checkout.refuseIfOverdue, checkout.blockedItemTypes),
            (2, True, ("DVD", "REF")),
        )
        self.checkin(kiosk)
        self.assertIs(self.adapter.requests[-1].trapHolds, False)


class WireTests(BehaviourTestCase):
    """
    Each option on the wire, against the in-memory library.
    """

    def library(self, **options: Any) -> Any:
        """
        A kiosk of an account with C{options}, on the small in-memory
        library (C{self.ils}) at L{AFTER_DUE}.
        """
        self.ils = makeILS()
        self.ils.now = lambda: AFTER_DUE
        config = makeConfig(accounts=[makeAccount(behaviour=Behaviour(**options))])
        return InMemoryServer(self, adapter=self.ils, config=config).loggedIn()

    def checkout(self, kiosk: Any, item: str = FREE_ITEM) -> Any:
        return kiosk.ask(
            request(codec.Checkout, patronIdentifier=ADA, itemIdentifier=item)
        ).message

    def test_lostItemsBlockCheckout(self) -> None:
        """
        C{lost-items-block-checkout = 1}: Ada, whose loan is marked lost,
        is refused (12 ok 0, with a screen message); with 2 she may
        borrow; without the option too.
        """
        kiosk = self.library(lostItemsBlockCheckout=1)
        self.ils.items[ADA_LOAN].status = "lost"
        reply = self.checkout(kiosk)
        self.assertEqual((reply.ok, reply.desensitize), (False, False))
        self.assertIn("lost", " ".join(reply.screenMessage))
        kiosk = self.library(lostItemsBlockCheckout=2)
        self.ils.items[ADA_LOAN].status = "lost"
        self.assertIs(self.checkout(kiosk).ok, True)
        kiosk = self.library()
        self.ils.items[ADA_LOAN].status = "lost"
        self.assertIs(self.checkout(kiosk).ok, True)

    def test_overduesBlockCheckout(self) -> None:
        """
        C{overdues-block-checkout}: Ada, with one overdue loan, is refused
        a checkout, and 24 and 64 say "too many items overdue" (position
        6); without the option she borrows and position 6 is blank.
        """
        for option, ok, flag in ((True, False, "Y"), (False, True, " ")):
            kiosk = self.library(overduesBlockCheckout=option)
            for cls in (codec.PatronStatus, codec.PatronInformation):
                status = kiosk.ask(request(cls, patronIdentifier=ADA)).message.patronStatus
                self.assertEqual(status[6], flag, (option, cls))
            self.assertIs(self.checkout(kiosk).ok, ok, option)

    def test_blockedItemTypes(self) -> None:
        """
        C{blocked-item-types}: a checkout of an item of a listed type is
        refused; of another type it is lent.
        """
        kiosk = self.library(blockedItemTypes=["BOOK"])
        reply = self.checkout(kiosk)
        self.assertIs(reply.ok, False)
        self.assertTrue(reply.screenMessage)
        kiosk = self.library(blockedItemTypes=["DVD"])
        self.assertIs(self.checkout(kiosk).ok, True)

    def hold(self) -> None:
        self.ils.holds.append(
            MemoryHold(ZOE, ADA_LOAN, "Lantern Stories", "Lantern Stories", None, AFTER_DUE)
        )

    def test_holdsCaptureOff(self) -> None:
        """
        C{holds-capture = false}: a checkin of an item Zoe's hold waits
        for answers ok 1, alert Y, C{CV} 01 and Zoe in C{CY}, but the item
        goes back to the shelf and the hold keeps waiting.
        """
        kiosk = self.library(holdsCapture=False)
        self.hold()
        reply = kiosk.ask(request(codec.Checkin, itemIdentifier=ADA_LOAN)).message
        self.assertEqual(
            (reply.ok, reply.alert, reply.alertType, reply.holdPatronId),
            (True, True, "01", ZOE),
        )
        self.assertEqual(self.ils.items[ADA_LOAN].status, "available")
        self.assertEqual(self.ils.holds[0].status, "waiting")

    def test_holdsCaptureDefault(self) -> None:
        """
        By default such a checkin traps the item for the hold, as before.
        """
        kiosk = self.library()
        self.hold()
        reply = kiosk.ask(request(codec.Checkin, itemIdentifier=ADA_LOAN)).message
        self.assertEqual((reply.ok, reply.alertType, reply.holdPatronId), (True, "01", ZOE))
        self.assertEqual(self.ils.items[ADA_LOAN].status, "on_hold_shelf")
        self.assertEqual(self.ils.holds[0].status, "ready")


class ConfigTests(SynchronousTestCase):
    """
    The options in TOML.
    """

    def test_keys(self) -> None:
        """
        Each key is read into its L{Behaviour} field, in an account or in
        its institution's C{account-defaults}.
        """
        keys = {
            "holds-capture": False,
            "lost-items-block-checkout": 3,
            "overdues-block-checkout": True,
            "blocked-item-types": ["DVD", "REF"],
        }
        for config in (_config(**keys), _config(keys)):
            behaviour = config.accounts["sc1"].behaviour
            self.assertEqual(
                (behaviour.holdsCapture, behaviour.lostItemsBlockCheckout,
                 behaviour.overduesBlockCheckout, behaviour.blockedItemTypes),
                (False, 3, True, ("DVD", "REF")),
            )

    def test_defaults(self) -> None:
        """
        Without the keys: holds are trapped, nothing blocks a checkout.
        """
        behaviour = _config().accounts["sc1"].behaviour
        self.assertEqual(
            (behaviour.holdsCapture, behaviour.lostItemsBlockCheckout,
             behaviour.overduesBlockCheckout, behaviour.blockedItemTypes),
            (True, None, False, ()),
        )

    def test_problems(self) -> None:
        """
        A lost items count below 1, an item type that is not a word, a
        flag that is not true or false: problems naming the key.
        """
        with self.assertRaises(ConfigError) as caught:
            _config(**{
                "lost-items-block-checkout": 0,
                "blocked-item-types": ["DVD", 7, ""],
                "holds-capture": "no",
            })
        where = sorted({problem.where() or "" for problem in caught.exception.details})
        self.assertEqual(where, [
            "account[0].blocked-item-types",
            "account[0].holds-capture",
            "account[0].lost-items-block-checkout",
        ])


class ConversionTests(SynchronousTestCase):
    """
    Koha's C{holds_get_captured}, C{lost_block_checkout},
    C{overdues_block_checkout} and C{blocked_item_types} from
    SIPconfig.xml.
    """

    convert = OptionProblemsTests.convert

    def test_converted(self) -> None:
        """
        Each becomes its key, with no warning.
        """
        account, warnings = self.convert(
            'holds_get_captured="0" lost_block_checkout="3" overdues_block_checkout="1"'
            ' blocked_item_types="DVD|REF"'
        )
        self.assertEqual(
            (account["holds-capture"], account["lost-items-block-checkout"],
             account["overdues-block-checkout"], account["blocked-item-types"]),
            (False, 3, True, ["DVD", "REF"]),
        )
        self.assertEqual([w for w in warnings if "block" in w or "captured" in w], [])

    def test_lostThreshold(self) -> None:
        """
        C{lost_block_checkout="0"} (Koha: no limit) writes nothing; a
        C{lost_block_checkout_value} other than 1 (Koha's lost status
        codes) is warned of, the limit kept; a count that is not a number
        is warned of and dropped.
        """
        account, warnings = self.convert('lost_block_checkout="0"')
        self.assertNotIn("lost-items-block-checkout", account)
        account, warnings = self.convert(
            'lost_block_checkout="1" lost_block_checkout_value="2"'
        )
        self.assertEqual(account["lost-items-block-checkout"], 1)
        [warning] = [w for w in warnings if "lost_block_checkout_value" in w]
        self.assertIn("not carried over", warning)
        account, warnings = self.convert('lost_block_checkout="many"')
        self.assertNotIn("lost-items-block-checkout", account)
        self.assertTrue([w for w in warnings if "lost_block_checkout='many'" in w])
