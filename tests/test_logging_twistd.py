"""
The logging story end to end: a real C{twistd -n sip2acs} writing its
lines where twistd's options say (see L{sip2acs.ops.observers}).
"""

import json
import os
import re
import signal
import time

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from tests.loopback import SIP2Client
from tests.process import _ServerProcess, _spawn, startServer

_PORT = re.compile(r"SIP2ServerFactory starting on (\d+)")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class LogFileProcessTests(TestCase):
    """
    C{twistd --logfile PATH sip2acs}.
    """

    @defer.inlineCallbacks
    def waitFor(self, path: str, pattern: str, seconds: float = 30):
        deadline = time.monotonic() + seconds
        while not re.search(pattern, _read(path)):
            if time.monotonic() > deadline:
                self.fail("%r never appeared in %s:\n%s" % (pattern, path, _read(path)))
            yield deferLater(reactor, 0.1, lambda: None)
        return re.search(pattern, _read(path))

    @defer.inlineCallbacks
    def test_followsLogrotate(self):
        """
        The server appends to the file, created 0640 at most; when logrotate
        moves it away a new file takes the next lines; SIGUSR1 drains and
        does not rotate (twistd's own rotation is not used); the last lines
        of a SIGTERM are in the file.
        """
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        path = os.path.join(workdir, "sip2acs.log")
        proto = _ServerProcess()
        proto.started.addErrback(lambda failure: None)
        transport = _spawn(
            self, proto,
            ["--sip", "tcp:0:interface=127.0.0.1", "--admin", "none",
             "--database", os.path.join(workdir, "db.sqlite3")],
            workdir, ("--logfile", path),
        )
        yield self.waitFor(path, r"created the demo library")
        port = int(_PORT.search(_read(path)).group(1))
        self.assertEqual(os.stat(path).st_mode & 0o777 & ~0o640, 0)
        client = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", port), SIP2Client(reactor))
        self.assertTrue((yield client.ask(b"9300CNdemo|COdemo|")).message.ok)
        yield self.waitFor(path, r"demo@127\.0\.0\.1 on .*: 93->94 ok")

        os.rename(path, path + ".old")
        # The server notices within a second and opens a new file.
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            yield deferLater(reactor, 0.1, lambda: None)
        self.assertTrue((yield client.ask(b"9900302.00")).message.onlineStatus)
        transport.signalProcess(signal.SIGUSR1)
        yield self.waitFor(path, r"99->98 ok")
        yield self.waitFor(path, r"draining \(SIGUSR1\)")
        client.transport.loseConnection()
        transport.signalProcess("TERM")
        ended = yield proto.ended
        self.assertEqual(getattr(ended, "signal", None), signal.SIGTERM)
        old, new = _read(path + ".old"), _read(path)
        self.assertIn("93->94 ok", old)
        self.assertNotIn("99->98", old)
        self.assertIn("99->98 ok", new)
        self.assertIn("Server Shut Down.", new)
        self.assertEqual(sorted(os.listdir(workdir)),
                         ["db.sqlite3", "sip2acs.log", "sip2acs.log.old"])


class JSONProcessTests(TestCase):
    """
    C{twistd -n sip2acs --log-format json}.
    """

    @defer.inlineCallbacks
    def test_jsonLines(self):
        """
        Every line on standard output is one flat JSON object; a
        transaction's carries its fields.
        """
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        server = yield startServer(
            self,
            ["--sip", "tcp:0:interface=127.0.0.1", "--admin", "none",
             "--database", os.path.join(workdir, "db.sqlite3"), "--log-format", "json"],
            workdir,
        )
        client = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", server.port), SIP2Client(reactor))
        self.assertTrue((yield client.ask(b"9300CNdemo|COdemo|")).message.ok)
        client.transport.loseConnection()
        yield server.signal("TERM")
        records = [json.loads(line) for line in server.output.splitlines() if line]
        login = [r for r in records if r.get("request") == "93"]
        self.assertEqual(len(login), 1, server.output)
        self.assertEqual(
            (login[0]["account"], login[0]["response"], login[0]["outcome"], login[0]["level"]),
            ("demo", "94", "ok", "info"),
        )
        self.assertNotIn("COdemo", server.output)


class ShippedLogrotateTests(TestCase):
    def test_sameAsTapMd(self):
        """
        C{etc/logrotate.d/sip2acs} is the block tap.md shows.
        """
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.path.join(top, "etc", "logrotate.d", "sip2acs")) as f:
            shipped = "".join(line for line in f if not line.startswith("#"))
        with open(os.path.join(top, "tap.md")) as f:
            tap = f.read()
        self.assertIn("```\n" + shipped + "```\n", tap)
