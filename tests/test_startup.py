"""
Start-up: endpoints checked the way start-up reads them (by C{config
check} and by C{twistd}), one line for what stops a start, the banner, and
a refused SIGHUP reload said in one error line.
"""

import io
import os
import socket
from contextlib import redirect_stderr

from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import CannotListenError
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import TestCase

from sip2acs._version import __version__
from sip2acs.app.services import cannotListenMessage
from sip2acs.app.tap import adapterKey
from sip2acs.config.endpoints import clientEndpointProblem, serverEndpointProblem
from sip2acs.ops.reload import ConfigReloader, ReloadService
from sip2acs.tools.cli import main
from tests.loopback import LoopbackServer, makeConfig
from tests.process import runServer, startServer

GOOD = """
[[institution]]
id = "DEMO"
database = "library.sqlite3"
demo = true
"""


def configFile(testCase, endpoint, extra=""):
    path = testCase.mktemp()
    with open(path, "w") as f:
        f.write('[[listener]]\nendpoint = "%s"\n%s%s' % (endpoint, GOOD, extra))
    return path


class EndpointProblemTests(TestCase):
    """
    L{serverEndpointProblem} and L{clientEndpointProblem} say in one
    sentence what start-up would refuse.
    """

    def test_good(self):
        for description in [
            "tcp:6001:interface=127.0.0.1", "tcp:0", "tcp6:6001:interface=\\:\\:1",
            "unix:/tmp/sip2acs.sock", "systemd:domain=INET:index=0",
        ]:
            self.assertIsNone(serverEndpointProblem(description), description)
        self.assertIsNone(clientEndpointProblem("tcp:host=127.0.0.1:port=6101"))

    def test_unknownType(self):
        self.assertIn("'blah' is not an endpoint type", serverEndpointProblem("blah:1"))
        self.assertIn("did you mean tcp?", serverEndpointProblem("tpc:6001"))

    def test_noType(self):
        self.assertEqual(
            serverEndpointProblem("127.0.0.1:7402"),
            "'127.0.0.1:7402' has no endpoint type: write it like"
            " tcp:6001:interface=127.0.0.1",
        )

    def test_misspeltOption(self):
        self.assertEqual(
            serverEndpointProblem("tcp:7402:interfac=127.0.0.1"),
            "'interfac' is not an option of a tcp endpoint (did you mean interface?)",
        )

    def test_portOutOfRange(self):
        self.assertEqual(
            serverEndpointProblem("tcp:70000"),
            "port 70000 is out of range: a port is 0 to 65535",
        )
        self.assertIn("port -1 is out of range", serverEndpointProblem("tcp:-1"))
        self.assertIn("port 0 is out of range", clientEndpointProblem("tcp:host=a:port=0"))

    def test_clientNeedsPort(self):
        self.assertIn("needs port", clientEndpointProblem("tcp:host=127.0.0.1"))


class ConfigCheckTests(TestCase):
    """
    C{sip2acs config check} refuses every endpoint start-up would refuse,
    each a located problem.
    """

    def check(self, path):
        err = io.StringIO()
        with redirect_stderr(err):
            status = main(["config", "check", path])
        return status, err.getvalue()

    def test_badListeners(self):
        for endpoint, text in [
            ("blah", "listener[0].endpoint: 'blah' is not an endpoint type"),
            ("127.0.0.1:7402", "listener[0].endpoint: '127.0.0.1:7402' has no endpoint type"),
            ("tcp:7402:interfac=127.0.0.1", "listener[0].endpoint: 'interfac' is not"),
            ("tcp:70000", "listener[0].endpoint: port 70000 is out of range"),
        ]:
            status, err = self.check(configFile(self, endpoint))
            self.assertEqual(status, 1)
            self.assertIn(text, err)
            self.assertNotIn("Traceback", err)

    def test_admin(self):
        path = configFile(
            self, "tcp:0", '[admin]\nendpoint = "tcp:6080:interfce=127.0.0.1"\n'
        )
        self.assertIn("admin.endpoint: 'interfce' is not an option", self.check(path)[1])

    def test_upstream(self):
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(
                '[[listener]]\nendpoint = "tcp:0"\n[[institution]]\nid = "X"\n'
                'adapter = "sip2"\nupstream = "tcp:host=127.0.0.1:port=70000"\n'
            )
        status, err = self.check(path)
        self.assertEqual(status, 1)
        self.assertIn("institution[0].upstream: port 70000 is out of range", err)


class CannotListenTests(TestCase):
    def test_inUse(self):
        error = CannotListenError("127.0.0.1", 6001, OSError(98, "Address already in use"))
        self.assertEqual(
            cannotListenMessage(error),
            "sip2acs cannot start: cannot listen on 127.0.0.1:6001: the address is"
            " already in use (is another sip2acs running?)",
        )


class ReloadLogTests(TestCase):
    """
    A refused SIGHUP reload is one error line: what is wrong, and that the
    running configuration stays. No critical, no traceback.
    """

    def test_badFile(self):
        acs = LoopbackServer(self, config=makeConfig())
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('[[listener]]\nendpoint = "blah"\n' + GOOD)
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        service = ReloadService(reactor, installSignal=False)
        service.addReloader(
            "configuration",
            ConfigReloader(path, acs.server, MultiService(), lambda i: acs.adapter, adapterKey),
        )
        before = acs.server.config
        self.assertEqual(service.reload(), [])
        self.assertIs(acs.server.config, before)
        bad = [e for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual(len(bad), 1, bad)
        self.assertEqual(bad[0]["log_level"], LogLevel.error)
        self.assertNotIn("log_failure", bad[0])
        self.assertIn("'blah' is not an endpoint type", bad[0]["problems"])
        self.assertIn("the running configuration stays", bad[0]["log_format"])

    def test_badTLSFiles(self):
        """
        A reload function failing for its files (C{ValueError}, C{OSError})
        is one error line too.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        service = ReloadService(reactor, installSignal=False)

        def broken():
            raise ValueError("the private key does not match the certificate")

        service.addReloader("TLS files of tcp:0", broken)
        self.assertEqual(service.reload(), [])
        bad = [e for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual([e["log_level"] for e in bad], [LogLevel.error])
        self.assertNotIn("log_failure", bad[0])


class TwistdStartupTests(TestCase):
    """
    The real C{twistd -n sip2acs}: what stops a start is one line, and a
    start is announced by the banner.
    """

    timeout = 60

    @inlineCallbacks
    def test_badEndpointConfig(self):
        path = configFile(self, "tcp:7402:interfac=127.0.0.1")
        output, code = yield runServer(self, ["--config", os.path.abspath(path)])
        self.assertNotEqual(code, 0)
        self.assertIn(
            "listener[0].endpoint: 'interfac' is not an option of a tcp endpoint"
            " (did you mean interface?)",
            output,
        )
        self.assertNotIn("Traceback", output)

    @inlineCallbacks
    def test_badSipOption(self):
        output, code = yield runServer(self, ["--sip", "blah"])
        self.assertNotEqual(code, 0)
        self.assertIn("--sip blah: 'blah' is not an endpoint type", output)
        self.assertNotIn("Traceback", output)

    @inlineCallbacks
    def test_portInUse(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        workdir = self.mktemp()
        os.makedirs(workdir)
        output, code = yield runServer(
            self,
            ["--sip", "tcp:%d:interface=127.0.0.1" % (port,), "--admin", "none",
             "--database", os.path.join(workdir, "db.sqlite3")],
        )
        self.assertNotEqual(code, 0)
        self.assertIn(
            "sip2acs cannot start: cannot listen on 127.0.0.1:%d: the address is already"
            " in use" % (port,),
            output,
        )
        self.assertNotIn("Traceback", output)

    @inlineCallbacks
    def test_missingCertificate(self):
        path = configFile(
            self,
            "tcp:0:interface=127.0.0.1",
            "",
        )
        with open(path) as f:
            text = f.read()
        text = text.replace(
            '[[institution]]',
            'transport = "tls"\ncertificate = "missing.pem"\n'
            'private-key = "missing.key"\n[[institution]]',
            1,
        )
        with open(path, "w") as f:
            f.write(text)
        output, code = yield runServer(self, ["--config", os.path.abspath(path)])
        self.assertNotEqual(code, 0)
        self.assertIn("missing.pem", output)
        self.assertNotIn("Traceback", output)

    @inlineCallbacks
    def test_banner(self):
        """
        The demo run logs the version, the listener's bound address, the
        admin URL, the institution and how to log in to the demo library;
        no "Starting factory" line.
        """
        workdir = self.mktemp()
        os.makedirs(workdir)
        database = os.path.join(workdir, "sip2acs.sqlite3")
        server = yield startServer(
            self,
            ["--sip", "tcp:0:interface=127.0.0.1", "--database", database,
             "--admin", "tcp:0:interface=127.0.0.1"],
        )
        for _ in range(100):
            if "sip2acs client --login demo" in server.output:
                break
            yield _sleep(0.1)
        output = server.output
        yield server.signal("TERM")
        self.assertIn("sip2acs %s serving" % (__version__,), output)
        self.assertIn(
            "listener raw on 127.0.0.1:%d (tcp:0:interface=127.0.0.1)" % (server.port,),
            output,
        )
        self.assertRegex(output, r"admin http://127\.0\.0\.1:\d+/ ")
        self.assertIn(
            "institution DEMO (sip2acs Demo Library): sqlite, database %s" % (database,),
            output,
        )
        self.assertIn(
            "created the demo library in %s; log in with: sip2acs client --login demo"
            " --port %d status (password demo)" % (database, server.port),
            output,
        )
        self.assertNotIn("Starting factory", output)


def _sleep(seconds):
    from twisted.internet.task import deferLater

    return deferLater(reactor, seconds, lambda: None)
