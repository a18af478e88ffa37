"""
Durability: a server killed (SIGKILL) in the middle of a load loses no
checkout, checkin or payment it acknowledged.

Four kiosks run checkouts, checkins and payments against the real
C{twistd -n sip2acs} on the SQLite system, each with a request in flight at
all times. After 200 acknowledged operations the server is killed without
warning; the test then opens the database file and finds every
acknowledged operation in it. (The default C{synchronous = "full"} with
group commit syncs the WAL before the answers of a group are sent, which
also covers a power cut; a process crash only needs the commit to reach
the operating system, which C{"normal"} does too.)
"""

import os
import sqlite3

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from tests.library import makeLibrary, writeFile
from tests.loopback import SIP2Client
from tests.process import startServer

WHEN = "20250314    101500"
KIOSKS = 4
ITEMS_PER_KIOSK = 400
KILL_AFTER = 200

CONFIG = """
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"

[[institution]]
id = "KT"
database = "%(database)s"
allow-overpayment = true

[[account]]
login = "kiosk"
password = "%(hash)s"
institution = "KT"
"""


class Kiosk:
    """
    One kiosk's loop: check out its items one by one, check every third
    one back in, and pay 0.01 every fifth step, recording what the server
    acknowledged.
    """

    def __init__(self, number, acknowledged, stop):
        self.number = number
        self.acknowledged = acknowledged
        self.stop = stop
        self.client = None

    @inlineCallbacks
    def run(self, port):
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5)
        self.client = yield connectProtocol(endpoint, SIP2Client(reactor))
        reply = yield self.client.ask(b"9300CNkiosk|COkiosk-pw|")
        assert reply.message.ok, reply
        try:
            for index in range(ITEMS_PER_KIOSK):
                if self.stop.called:
                    return
                item = "K%d-%04d" % (self.number, index)
                yield self.step("checkout", item, "11NN%s%sAOKT|AAPK%d|AB%s|AC|" % (
                    WHEN, " " * 18, self.number, item))
                if index % 3 == 0:
                    yield self.step("checkin", item, "09N%s%sAPMAIN|AOKT|AB%s|AC|" % (
                        WHEN, WHEN, item))
                if index % 5 == 0:
                    paymentId = "PAY-%d-%d" % (self.number, index)
                    yield self.step("payment", paymentId, "37%s0100USDBV0.01|AOKT|AAPK%d|BK%s|" % (
                        WHEN, self.number, paymentId))
        except Exception:
            # The server was killed with this request in flight.
            if not self.stop.called:
                raise

    @inlineCallbacks
    def step(self, kind, key, frame):
        reply = yield self.client.ask(frame.encode("ascii"))
        message = reply.message
        ok = getattr(message, "ok", None)
        if ok is None:
            ok = message.paymentAccepted
        assert ok, (kind, key, message)
        self.acknowledged.append((kind, key))
        if len(self.acknowledged) >= KILL_AFTER and not self.stop.called:
            self.stop.callback(None)


class KillTests(TestCase):
    timeout = 120

    def makeLibrary(self, workdir):
        return makeLibrary(
            workdir,
            patrons=[("PK%d" % (n,), "Kiosk Tester %d" % (n,)) for n in range(KIOSKS)],
            items=[("K%d-%04d" % (n, i), "Book %d-%d" % (n, i))
                   for n in range(KIOSKS) for i in range(ITEMS_PER_KIOSK)],
            rules="patron_class,item_type,loan_days,max_loans,max_renewals\n*,*,14,10000,2\n",
        )

    @inlineCallbacks
    def test_killDuringLoad(self):
        """
        Every checkout, checkin and payment acknowledged before a SIGKILL
        is in the database afterwards.
        """
        from sip2acs.passwords import hashPassword

        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        database = self.makeLibrary(workdir)
        config = os.path.join(workdir, "sip2acs.toml")
        writeFile(config, CONFIG % {
            "database": database, "hash": hashPassword("kiosk-pw", cost=10)})
        server = yield startServer(self, ["--config", config])

        acknowledged = []
        stop = Deferred()
        kiosks = [Kiosk(n, acknowledged, stop) for n in range(KIOSKS)]
        running = DeferredList(
            [kiosk.run(server.port) for kiosk in kiosks], consumeErrors=True)
        yield stop
        # Every kiosk has a request in flight right now.
        yield server.signal("KILL")
        results = yield running
        for success, result in results:
            self.assertTrue(success, result)
        for kiosk in kiosks:
            kiosk.client.transport.loseConnection()

        kinds = {kind for kind, _ in acknowledged}
        self.assertEqual(kinds, {"checkout", "checkin", "payment"})
        self.assertGreaterEqual(len(acknowledged), KILL_AFTER)

        conn = sqlite3.connect(database)
        self.addCleanup(conn.close)
        openLoans = {
            barcode
            for (barcode,) in conn.execute(
                "SELECT items.barcode FROM loans JOIN items ON items.id = loans.item_id"
                " WHERE loans.checked_in_at IS NULL")
        }
        returned = {
            barcode
            for (barcode,) in conn.execute(
                "SELECT items.barcode FROM loans JOIN items ON items.id = loans.item_id"
                " WHERE loans.checked_in_at IS NOT NULL")
        }
        payments = {
            device for (device,) in conn.execute(
                "SELECT device_transaction_id FROM payments")
        }
        checkedIn = {key for kind, key in acknowledged if kind == "checkin"}
        for kind, key in acknowledged:
            if kind == "checkout" and key not in checkedIn:
                self.assertIn(key, openLoans, "acknowledged checkout of %s lost" % (key,))
            elif kind == "checkin":
                self.assertIn(key, returned, "acknowledged checkin of %s lost" % (key,))
                self.assertNotIn(key, openLoans)
            elif kind == "payment":
                self.assertIn(key, payments, "acknowledged payment %s lost" % (key,))
