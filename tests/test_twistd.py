"""
End to end: the real C{twistd -n sip2acs} in a child process, on the
built-in configuration and its demo data, talking to a plain socket client.
"""

import os
import signal
import sqlite3

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from sip2acs.sip import codec
from tests.loopback import SIP2Client, withChecksum
from tests.process import startServer

WHEN = "20250314    101500"


def connect(port):
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5)
    return connectProtocol(endpoint, SIP2Client(reactor))


class TwistdTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def test_defaultConversation(self):
        """
        C{twistd -n sip2acs} with no configuration creates the demo
        database and serves the README's conversation: login C{demo}/
        C{demo}, SC status, patron information for the demo patron with
        its PIN, item information, a checkout and a checkin. SIGTERM then
        stops it cleanly.
        """
        workdir = self.mktemp()
        os.makedirs(workdir)
        database = os.path.join(workdir, "sip2acs.sqlite3")
        server = yield startServer(
            self,
            [
                "--sip", "tcp:0:interface=127.0.0.1", "--database", database,
                "--admin", "tcp:0:interface=127.0.0.1",
            ],
        )
        client = yield connect(server.port)
        self.addCleanup(client.transport.loseConnection)

        reply = yield client.ask(withChecksum(b"9300CNdemo|COdemo|CPMAIN|AY1AZ"))
        self.assertEqual((reply.message, reply.sequence), (codec.LoginResponse(ok=True), 1))

        status = (yield client.ask(b"9900302.00")).message
        self.assertEqual(status.institutionId, "DEMO")
        self.assertEqual(status.supportedMessages, "Y" * 16)
        self.assertTrue(status.checkoutOk and status.checkinOk)

        patron = (
            yield client.ask(
                ("63001%s  Y       AODEMO|AAP0001|AD1234|" % (WHEN,)).encode()
            )
        ).message
        self.assertIsInstance(patron, codec.PatronInformationResponse)
        self.assertEqual(patron.patronStatus, " " * 14)
        self.assertTrue(patron.validPatron)
        self.assertTrue(patron.validPatronPassword)
        self.assertNotEqual(patron.personalName, "")

        item = (yield client.ask(("17%sAODEMO|ABI0001|" % (WHEN,)).encode())).message
        self.assertEqual(item.circulationStatus, "03")
        self.assertNotEqual(item.titleIdentifier, "")

        checkout = (
            yield client.ask(
                ("11NN%s%sAODEMO|AAP0001|ABI0001|AC|AD1234|" % (WHEN, " " * 18)).encode()
            )
        ).message
        self.assertTrue(checkout.ok, checkout)
        self.assertEqual(len(checkout.dueDate), 18)

        checkin = (
            yield client.ask(
                ("09N%s%sAPMAIN|AODEMO|ABI0001|AC|" % (WHEN, WHEN)).encode()
            )
        ).message
        self.assertTrue(checkin.ok, checkin)
        self.assertEqual(checkin.patronIdentifier, "P0001")

        client.transport.loseConnection()
        yield client.lost
        ended = yield server.signal("TERM")
        self.assertEqual(ended.signal, signal.SIGTERM, server.output)
        self.assertIn("Server Shut Down.", server.output)
        self.assertIn("demo@127.0.0.1 on tcp:0:interface=127.0.0.1: 11->12 ok in", server.output)
        for secret in ("AD1234", "COdemo", "1234|"):
            self.assertNotIn(secret, server.output)

        with sqlite3.connect(database) as conn:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
        self.assertGreaterEqual(version, 1)
