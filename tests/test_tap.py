"""
Tests for L{sip2acs.app.tap}: options and the service tree, without sockets.
"""

import os

from twisted.application.service import Service
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactor
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from sip2acs.app.tap import Options, makeService
from sip2acs.ils.interfaces import IILS
from sip2acs.ils.memory import MemoryILS
from sip2acs.passwords import hashPassword

built = []


@implementer(IILS)
class ServiceILS(MemoryILS, Service):
    """
    A memory adapter that is also a service, to check it starts with the
    server. Its IILS C{name} is also its service name, so it must be
    unique, as C{sqlite:<path>} is.
    """


def memoryAdapter(options, reactor):
    """
    A third-party adapter factory named by dotted name in a config.
    """
    adapter = ServiceILS()
    adapter.options = options
    adapter.name = "memory:%s" % (options["shelf"],)
    built.append(adapter)
    return adapter


CONFIG = """
[[listener]]
endpoint = "tcp:6001:interface=127.0.0.1"
[[listener]]
endpoint = "tcp:5550:interface=127.0.0.1"
status-before-login = true

[[institution]]
id = "A"
adapter = "tests.test_tap.memoryAdapter"
shelf = "one"
[[institution]]
id = "B"
adapter = "tests.test_tap.memoryAdapter"
shelf = "one"
[[institution]]
id = "C"
adapter = "tests.test_tap.memoryAdapter"
shelf = "two"

[[account]]
login = "sc"
password = "%s"
institution = "A"
""" % (hashPassword("pw", cost=4),)


class OptionsTests(SynchronousTestCase):
    def setUp(self):
        # makeService restricts the process's umask; keep the test run's.
        umask = os.umask(0o022)
        os.umask(umask)
        self.addCleanup(os.umask, umask)

    def writeConfig(self, text=CONFIG):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_default(self) -> None:
        """
        With no options the built-in configuration serves raw SIP2 on
        loopback port 6001 from ./sip2acs.sqlite3.
        """
        options = Options()
        options.parseOptions([])
        config = options["parsedConfig"]
        self.assertEqual(
            [l.endpoint for l in config.listeners], ["tcp:6001:interface=127.0.0.1"]
        )
        self.assertEqual(config.institutions["DEMO"].options["database"], "sip2acs.sqlite3")

    def test_sipAndDatabase(self) -> None:
        """
        C{--sip} (repeatable) and C{--database} adjust the built-in
        configuration.
        """
        options = Options()
        options.parseOptions(
            ["--sip", "tcp:7001:interface=127.0.0.1", "--sip", "tcp:7002", "-d", "x.db"]
        )
        config = options["parsedConfig"]
        self.assertEqual(
            [l.endpoint for l in config.listeners],
            ["tcp:7001:interface=127.0.0.1", "tcp:7002"],
        )
        self.assertEqual(config.institutions["DEMO"].options["database"], "x.db")

    def test_config(self) -> None:
        """
        C{--config} loads a TOML file.
        """
        options = Options()
        options.parseOptions(["--config", self.writeConfig()])
        self.assertEqual(sorted(options["parsedConfig"].institutions), ["A", "B", "C"])

    def test_badConfig(self) -> None:
        """
        A config with problems ends the program with a message listing
        them (and not twistd's usage text, which a usage error brings),
        before anything starts.
        """
        options = Options()
        path = self.writeConfig(CONFIG.replace('login = "sc"', 'login = 5'))
        with self.assertRaises(SystemExit) as raised:
            options.parseOptions(["--config", path])
        self.assertIn(
            "line 22: account[0].login: must be text in quotes, not 5", str(raised.exception)
        )

    def test_sipWithConfig(self) -> None:
        """
        C{--sip} with C{--config} is refused: listeners belong in the file.
        """
        with self.assertRaises(UsageError):
            Options().parseOptions(["--config", self.writeConfig(), "--sip", "tcp:1"])

    def test_helpDocumentsOptions(self) -> None:
        """
        C{--help} documents every option.
        """
        text = str(Options())
        for option in ["--config", "--database", "--sip"]:
            self.assertIn(option, text)


class MakeServiceTests(SynchronousTestCase):
    def setUp(self):
        del built[:]

    def test_listenersAndAdapters(self) -> None:
        """
        One listener per configured endpoint, all on loopback; institutions
        with the same adapter and options share one adapter, which starts
        with the server.
        """
        options = Options()
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(CONFIG)
        options.parseOptions(["--config", path])
        reactor = MemoryReactor()
        service = makeService(options, reactor)
        self.assertEqual(len(built), 2)
        server = service.acsServer
        self.assertIs(server.ilsFor("A"), server.ilsFor("B"))
        self.assertIsNot(server.ilsFor("A"), server.ilsFor("C"))
        self.assertEqual(built[0].options, {"shelf": "one"})
        service.privilegedStartService()
        service.startService()
        self.assertEqual(
            [(port, interface) for port, _, _, interface in reactor.tcpServers],
            [(6001, "127.0.0.1"), (5550, "127.0.0.1")],
        )
        self.assertTrue(all(adapter.running for adapter in built))
        service.stopService()
        self.assertFalse(any(adapter.running for adapter in built))

    def test_badAdapterOptions(self) -> None:
        """
        A dotted adapter name that does not exist stops the start-up with a
        message naming the institution, not a traceback.
        """
        text = CONFIG.replace('shelf = "two"', "").replace(
            '[[institution]]\nid = "C"\nadapter = "tests.test_tap.memoryAdapter"',
            '[[institution]]\nid = "C"\nadapter = "tests.test_tap.noSuchFactory"',
        )
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        options = Options()
        options.parseOptions(["--config", path])
        with self.assertRaises(SystemExit) as raised:
            makeService(options, MemoryReactor())
        message = str(raised.exception)
        self.assertIn("institution[2] (C): adapter 'tests.test_tap.noSuchFactory'", message)

    def test_unknownAdapterSetting(self) -> None:
        """
        A built-in adapter's unknown setting is found when the file is read
        (as C{sip2acs config check} reads it), on its line, with the known
        setting it resembles.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(CONFIG + '\n[[institution]]\nid = "D"\ndatabse = "d.sqlite3"\n')
        with self.assertRaises(SystemExit) as raised:
            Options().parseOptions(["--config", path])
        self.assertRegex(
            str(raised.exception),
            r'line \d+: institution\[3\]\.databse: is not a setting of the sqlite ILS;'
            r' did you mean "database"\?',
        )


class SlowILS(MemoryILS, Service):
    """
    An adapter whose start takes until the test says so.
    """

    def __init__(self):
        MemoryILS.__init__(self)
        self.ready = Deferred()

    def startService(self):
        Service.startService(self)
        return self.ready


class StartOrderTests(TestCase):
    """
    The listeners of a L{ServerService} take no connection before every
    adapter has started (issue 9 item 5: a server that cannot open its
    database never serves a kiosk).
    """

    @inlineCallbacks
    def test_acceptsOnlyOnceAdaptersStarted(self):
        from sip2acs.app.tap import ListeningService, ServerService

        built = []

        class Factory(ServerFactory):
            def buildProtocol(self, addr):
                built.append(addr)
                return Protocol()

        top = ServerService(reactor)
        adapter = SlowILS()
        adapter.setServiceParent(top)
        listening = ListeningService(
            serverFromString(reactor, "tcp:0:interface=127.0.0.1"), Factory()
        )
        listening.setServiceParent(top)
        top.privilegedStartService()
        top.startService()
        self.addCleanup(top.stopService)
        port = listening.port.getHost().port
        client = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", port), Protocol()
        )
        self.addCleanup(client.transport.loseConnection)
        # A few reactor turns: the connection waits in the backlog.
        for _ in range(5):
            yield deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(built, [])
        adapter.ready.callback(None)
        for _ in range(100):
            if built:
                break
            yield deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(len(built), 1)
