"""
SIGHUP reloads accounts and institutions without dropping connections; a
bad file is refused and the running configuration stays.
"""

import os

from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from sip2acs.app.tap import adapterKey
from sip2acs.config import ConfigError
from sip2acs.ils.sqlite import SQLiteILS
from sip2acs.ops.reload import ConfigReloader, ReloadService
from sip2acs.passwords import hashPassword
from tests.loopback import LoopbackServer, SIP2Client, login, makeConfig
from tests.process import startServer

WHEN = "20250314    101500"

CONFIG = """
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"

[[institution]]
id = "DEMO"
library-name = "%(library)s"
database = "%(database)s"
demo = true

[[account]]
login = "kiosk1"
password = "%(hash1)s"
institution = "DEMO"
%(extra)s
"""

SECOND = """
[[account]]
login = "kiosk2"
password = "%s"
institution = "DEMO"
"""


class SighupTests(TestCase):
    timeout = 60

    def write(self, path, library, extra=""):
        with open(path, "w") as f:
            f.write(CONFIG % {"library": library, "database": self.database,
                              "hash1": self.hash1, "extra": extra})

    @inlineCallbacks
    def test_sighup(self):
        """
        After the file gains an account and the institution a new name,
        SIGHUP to the running twistd lets the new account log in while the
        kiosk already connected keeps working and sees the new name; a
        broken file sent the same way is refused and changes nothing.
        """
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        self.database = os.path.join(workdir, "library.sqlite3")
        self.hash1 = hashPassword("pw1", cost=10)
        path = os.path.join(workdir, "sip2acs.toml")
        self.write(path, "Old Name")
        server = yield startServer(self, ["--config", path])

        first = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", server.port), SIP2Client(reactor))
        self.addCleanup(first.transport.loseConnection)
        self.assertTrue((yield first.ask(b"9300CNkiosk1|COpw1|")).message.ok)
        status = (yield first.ask(b"9900302.00")).message
        self.assertEqual(status.libraryName, "Old Name")

        self.write(path, "New Name", SECOND % (hashPassword("pw2", cost=10),))
        server.transport.signalProcess("HUP")
        for _ in range(100):
            if "reloaded %s" % (path,) in server.output:
                break
            yield deferLater(reactor, 0.05, lambda: None)
        self.assertIn("reloaded %s: 2 account(s)" % (path,), server.output)

        second = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", server.port), SIP2Client(reactor))
        self.addCleanup(second.transport.loseConnection)
        self.assertTrue((yield second.ask(b"9300CNkiosk2|COpw2|")).message.ok)
        status = (yield first.ask(b"9900302.00")).message
        self.assertEqual(status.libraryName, "New Name")

        with open(path, "a") as f:
            f.write("\n[[account]]\nlogin = 7\n")
        server.transport.signalProcess("HUP")
        for _ in range(100):
            if "not reloading" in server.output:
                break
            yield deferLater(reactor, 0.05, lambda: None)
        self.assertIn("not reloading", server.output)
        self.assertTrue((yield first.ask(b"9900302.00")).message.onlineStatus)
        third = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", server.port), SIP2Client(reactor))
        self.addCleanup(third.transport.loseConnection)
        self.assertTrue((yield third.ask(b"9300CNkiosk2|COpw2|")).message.ok)


class ConfigReloaderTests(TestCase):
    def reloader(self, acs, text):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        built = []

        def makeAdapter(institution):
            built.append(institution.id)
            return acs.adapter

        return path, built, ConfigReloader(path, acs.server, MultiService(), makeAdapter,
                                           adapterKey)

    @inlineCallbacks
    def test_removedAccountLoggedOut(self):
        """
        An account removed from the file is logged out on reload: its
        connected SC's next request closes the connection. The unchanged
        institution keeps its running adapter.
        """
        acs = LoopbackServer(self, config=makeConfig())
        client = yield acs.connect()
        self.assertTrue((yield client.ask(login())).message.ok)
        text = (
            '[[listener]]\nendpoint = "tcp:0:interface=127.0.0.1"\n'
            '[[institution]]\nid = "DEMO"\nadapter = "memory"\n'
            '[[account]]\nlogin = "other"\npassword = "%s"\ninstitution = "DEMO"\n'
            % (hashPassword("x", cost=4),)
        )
        path, built, reloader = self.reloader(acs, text)
        reloader()
        self.assertEqual(built, [])
        self.assertEqual(list(acs.server.accounts), ["other"])
        client.send(b"9900302.00\r")
        yield client.lost

    @inlineCallbacks
    def test_replacedAdapterStopped(self):
        """
        An institution whose adapter options change gets a new adapter on
        reload, and the old one, used by nothing now, is stopped (its
        database closed, its thread ended) after what it was doing.
        """
        database = os.path.abspath(self.mktemp())
        old = SQLiteILS(database, reactor, demo=True)
        parent = MultiService()
        old.setServiceParent(parent)
        parent.startService()
        self.addCleanup(parent.stopService)
        yield old.healthCheck()
        acs = LoopbackServer(self, adapter=old)
        client = yield acs.connect()
        self.assertTrue((yield client.ask(login())).message.ok)
        text = (
            '[[listener]]\nendpoint = "tcp:0:interface=127.0.0.1"\n'
            '[[institution]]\nid = "DEMO"\ndatabase = "%s"\nsynchronous = "full"\n'
            '[[account]]\nlogin = "kiosk"\npassword = "%s"\ninstitution = "DEMO"\n'
            % (database, hashPassword("secret", cost=4))
        )
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        new = []

        def makeAdapter(institution):
            new.append(SQLiteILS.fromConfig(institution.options, reactor))
            return new[-1]

        ConfigReloader(path, acs.server, parent, makeAdapter, adapterKey)()
        self.assertEqual(len(new), 1)
        self.assertFalse(old.running)
        self.assertIsNone(old.parent)
        self.assertTrue(new[0].running)
        yield new[0].healthCheck()
        # The connected kiosk goes on, on the new adapter.
        reply = yield client.ask(b"1720250101    120000AODEMO|ABI0001|")
        self.assertEqual(reply.message.titleIdentifier, "Pride and Prejudice")

    def test_badFileKeepsConfig(self):
        """
        A file with problems is refused with them; the server keeps its
        configuration.
        """
        acs = LoopbackServer(self, config=makeConfig())
        before = acs.server.config
        path, built, reloader = self.reloader(acs, "[[listener]]\n")
        self.assertRaises(ConfigError, reloader)
        self.assertIs(acs.server.config, before)

    def test_reloadServiceRunsEach(self):
        """
        L{ReloadService.reload} runs every reload function; one that fails
        is logged and the others still run.
        """
        service = ReloadService(reactor, installSignal=False)
        calls = []
        service.addReloader("broken", lambda: 1 / 0)
        service.addReloader("fine", lambda: calls.append("fine"))
        self.assertEqual(service.reload(), ["fine"])
        self.assertEqual(calls, ["fine"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


