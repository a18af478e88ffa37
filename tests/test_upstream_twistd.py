"""
The gateway as an operator runs it: two C{twistd -n sip2acs} processes,
the upstream on the SQLite demo library and the gateway configured with
the documented keys (C{adapter = "sip2"}, C{upstream}, C{upstream-login},
C{upstream-password-file}, C{pool-size = 0} with a per-account upstream
login), a kiosk on a real socket.
"""

import os

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from sip2acs.passwords import hashPassword
from tests.loopback import SIP2Client
from tests.process import startServer

UPSTREAM = """
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"

[[institution]]
id = "DEMO"
database = "%(database)s"
demo = true

[[account]]
login = "ilsgateway"
password = "%(gatewayHash)s"
institution = "DEMO"

[[account]]
login = "ilskiosk1"
password = "%(kioskHash)s"
institution = "DEMO"
"""

GATEWAY = """
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"

[[institution]]
id = "DEMO"
adapter = "sip2"
upstream = "tcp:host=127.0.0.1:port=%(port)d"
upstream-login = "ilsgateway"
upstream-password-file = "%(gatewayPassword)s"
pool-size = 0

[[account]]
login = "kiosk1"
password = "%(hash)s"
institution = "DEMO"
upstream-login = "ilskiosk1"
upstream-password-file = "%(kioskPassword)s"
"""


class GatewayProcessTests(TestCase):
    timeout = 90

    def write(self, path: str, text: str) -> str:
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    @inlineCallbacks
    def test_passThroughThroughTwistd(self):
        """
        A kiosk logged in to the gateway as kiosk1 is served by the
        upstream under kiosk1's own upstream login (ilskiosk1), and the
        gateway's start-up names the adapter.
        """
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        upstreamConfig = self.write(os.path.join(workdir, "upstream.toml"), UPSTREAM % dict(
            database=os.path.join(workdir, "library.sqlite3"),
            gatewayHash=hashPassword("gw-secret", cost=10),
            kioskHash=hashPassword("k1-secret", cost=10),
        ))
        upstream = yield startServer(self, ["--config", upstreamConfig])
        gatewayConfig = self.write(os.path.join(workdir, "gateway.toml"), GATEWAY % dict(
            port=upstream.port,
            gatewayPassword=self.write(os.path.join(workdir, "gw.pw"), "gw-secret\n"),
            kioskPassword=self.write(os.path.join(workdir, "k1.pw"), "k1-secret\n"),
            hash=hashPassword("front-pw", cost=10),
        ))
        gateway = yield startServer(self, ["--config", gatewayConfig])
        client = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", gateway.port), SIP2Client(reactor))
        self.addCleanup(client.transport.loseConnection)
        self.assertTrue((yield client.ask(b"9300CNkiosk1|COfront-pw|")).message.ok)
        info = (yield client.ask(
            b"6300020250314    101500  Y       AODEMO|AAP0001|AD1234|")).message
        self.assertEqual(info.validPatronPassword, True)
        self.assertIn("I0003", info.chargedItems)
        checkout = (yield client.ask(
            b"11NN20250314    10150020250314    101500AODEMO|AAP0001|ABI0002|AC|")).message
        self.assertTrue(checkout.ok, checkout)
        status = (yield client.ask(b"9900302.00")).message
        self.assertTrue(status.onlineStatus)
        # The upstream saw the kiosk's own upstream login, not the gateway's,
        # for the kiosk's requests; passwords never reached either log
        # (read whole once both have stopped: log lines are buffered).
        client.transport.loseConnection()
        yield gateway.signal("TERM")
        yield upstream.signal("TERM")
        self.assertIn("ilskiosk1", upstream.output)
        for server in (upstream, gateway):
            for secret in ("gw-secret", "k1-secret", "front-pw"):
                self.assertNotIn(secret, server.output)
        self.assertIn("sip2:127.0.0.1:%d" % (upstream.port,), gateway.output)
        yield gateway.signal("TERM")
        yield upstream.signal("TERM")
