"""
Every SIP2 message pair end to end: a kiosk on a real loopback socket,
the ACS session and the embedded SQLite circulation system with the demo
library, then the same on PostgreSQL.
"""

from datetime import datetime

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from sip2acs.sip import codec
from tests.loopback import LoopbackServer, demoKiosk, login, request

NOW = datetime(2025, 3, 14, 10, 15)

LOANS_OF = (
    "SELECT count(*) FROM loans JOIN items ON items.id = loans.item_id"
    " WHERE items.barcode = ?"
)


class EveryMessageTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def setUp(self):
        self.ils, self.acs, self.client = yield demoKiosk(self, NOW, sequence=0)

    def ask(self, cls, sequence=None, **fields):
        if "AO" in cls.spec.fields:
            fields.setdefault("institutionId", "DEMO")
        d = self.client.ask(request(cls, sequence=sequence, **fields))
        return d.addCallback(lambda decoded: decoded.message)

    @inlineCallbacks
    def test_everyPair(self):
        """
        Each request type gets its response type with the outcome the demo
        data implies: 99/98, 23/24, 63/64, 17/18, 11/12, 09/10 (with a hold
        trap), 29/30, 65/66, 15/16 (add and cancel), 37/38, 01/24, 25/26,
        19/20, 35/36 and 97 (the last answer again, byte for byte).
        """
        status = yield self.ask(codec.SCStatus, statusCode="0", maxPrintWidth=40,
                                protocolVersion="2.00")
        self.assertEqual(status.supportedMessages, "Y" * 16)

        patron = yield self.ask(codec.PatronStatus, language="001",
                                patronIdentifier="P0001", terminalPassword="",
                                patronPassword="1234")
        self.assertEqual((patron.validPatron, patron.validPatronPassword), (True, True))
        self.assertEqual(patron.feeAmount, "2.50")

        info = yield self.ask(codec.PatronInformation, language="001",
                              summary="  Y       ", patronIdentifier="P0001",
                              patronPassword="1234")
        self.assertEqual(info.chargedItemsCount, len(info.chargedItems))
        self.assertIn("I0003", info.chargedItems)

        item = yield self.ask(codec.ItemInformation, itemIdentifier="I0001")
        self.assertEqual(item.circulationStatus, "03")

        checkout = yield self.ask(codec.Checkout, scRenewalPolicy=True,
                                  patronIdentifier="P0001", itemIdentifier="I0001",
                                  terminalPassword="", patronPassword="1234")
        self.assertTrue(checkout.ok, checkout)
        self.assertTrue(checkout.desensitize)
        self.assertIsNotNone(checkout.transactionId)

        checkin = yield self.ask(codec.Checkin, currentLocation="MAIN",
                                 returnDate=NOW, itemIdentifier="I0001",
                                 terminalPassword="")
        self.assertTrue(checkin.ok, checkin)
        self.assertEqual(checkin.patronIdentifier, "P0001")

        trap = yield self.ask(codec.Checkin, currentLocation="MAIN", returnDate=NOW,
                              itemIdentifier="I0004", terminalPassword="")
        self.assertEqual((trap.ok, trap.alert, trap.alertType), (True, True, "01"))
        self.assertEqual(trap.holdPatronId, "P0009")

        renew = yield self.ask(codec.Renew, patronIdentifier="P0001",
                               itemIdentifier="I0003", patronPassword="1234")
        self.assertTrue(renew.ok, renew)
        self.assertEqual(len(renew.dueDate), 18)

        renewAll = yield self.ask(codec.RenewAll, patronIdentifier="P0001",
                                  patronPassword="1234")
        self.assertIsInstance(renewAll, codec.RenewAllResponse)
        self.assertEqual(renewAll.renewedCount, len(renewAll.renewedItems))
        self.assertEqual(renewAll.unrenewedCount, len(renewAll.unrenewedItems))

        hold = yield self.ask(codec.Hold, holdMode="+", patronIdentifier="P0001",
                              itemIdentifier="I0012", pickupLocation="MAIN",
                              patronPassword="1234")
        self.assertTrue(hold.ok, hold)
        self.assertEqual(hold.queuePosition, 1)
        cancel = yield self.ask(codec.Hold, holdMode="-", patronIdentifier="P0001",
                                itemIdentifier="I0012", patronPassword="1234")
        self.assertTrue(cancel.ok, cancel)

        paid = yield self.ask(codec.FeePaid, feeType="04", paymentType="00",
                              currencyType="USD", feeAmount="1.00",
                              patronIdentifier="P0001", transactionId="TILL-7")
        self.assertTrue(paid.paymentAccepted, paid)
        after = yield self.ask(codec.PatronStatus, language="001",
                               patronIdentifier="P0001", terminalPassword="",
                               patronPassword="")
        self.assertEqual(after.feeAmount, "1.50")
        over = yield self.ask(codec.FeePaid, feeType="04", paymentType="00",
                              currencyType="USD", feeAmount="9.00",
                              patronIdentifier="P0001")
        self.assertFalse(over.paymentAccepted)

        blocked = yield self.ask(codec.BlockPatron, cardRetained=True,
                                 blockedCardMessage="Card left in the slot",
                                 patronIdentifier="P0010", terminalPassword="")
        self.assertIsInstance(blocked, codec.PatronStatusResponse)
        self.assertEqual(blocked.patronStatus[0], "Y")
        enabled = yield self.ask(codec.PatronEnable, patronIdentifier="P0010")
        self.assertIsInstance(enabled, codec.PatronEnableResponse)
        self.assertEqual(enabled.patronStatus[:4], "    ")

        update = yield self.ask(codec.ItemStatusUpdate, itemIdentifier="I0002",
                                itemProperties="RFID tag replaced")
        self.assertTrue(update.itemPropertiesOk, update)

        end = yield self.ask(codec.EndPatronSession, patronIdentifier="P0001")
        self.assertTrue(end.endSession)

        last = self.client.data.split(b"\r")[-2]
        again = yield self.client.exchange(b"97\r")
        self.assertEqual(again, last)

    @inlineCallbacks
    def test_retransmittedCheckoutRunsOnce(self):
        """
        A checkout the kiosk sends twice (same sequence digit and checksum,
        as after a lost answer) is carried out once: the second answer is
        the first one replayed, and the database has one loan.
        """
        frame = request(codec.Checkout, sequence=4, scRenewalPolicy=False,
                        institutionId="DEMO", patronIdentifier="P0001",
                        itemIdentifier="I0002", terminalPassword="")
        first = yield self.client.exchange(frame + b"\r")
        second = yield self.client.exchange(frame + b"\r")
        self.assertEqual(first, second)
        self.assertTrue(codec.decode(first).message.ok)
        loans = yield self.loansOf("I0002")
        self.assertEqual(loans, 1)

    def loansOf(self, barcode):
        """
        How many loans of item C{barcode} the database holds.

        @return: A Deferred firing with the count.
        """
        return self.ils._defer(
            lambda: self.ils._conn.execute(LOANS_OF, (barcode,)).fetchone()[0])


class EveryMessagePostgresTests(EveryMessageTests):
    """
    The same pairs with the circulation system on PostgreSQL: the demo
    library loaded (at L{NOW}) into a database of a throwaway cluster.
    """

    @inlineCallbacks
    def setUp(self):
        from sip2acs.ils.postgres import PostgresILS
        from sip2acs.ils.sql.demo import loadDemo
        from sip2acs.tools.dbcli import openStore
        from tests.postgres import cluster, freshDatabase

        def load(url):
            with openStore(url) as (store, _, _):
                loadDemo(store, NOW)

        self.url = freshDatabase(self, cluster().template(("demo", NOW), load))
        self.ils = PostgresILS(self.url, reactor, clock=lambda: NOW)
        yield self.ils.startService()
        self.addCleanup(self.ils.stopService)
        self.acs = LoopbackServer(self, adapter=self.ils)
        self.client = yield self.acs.connect()
        reply = yield self.client.ask(login(sequence=0))
        self.assertEqual(reply.message, codec.LoginResponse(ok=True))

    def loansOf(self, barcode):
        import psycopg

        def count():
            with psycopg.connect(self.url) as conn:
                return conn.execute(LOANS_OF.replace("?", "%s"), (barcode,)).fetchone()[0]

        return deferToThread(count)
