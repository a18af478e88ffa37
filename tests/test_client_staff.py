# -*- test-case-name: tests.test_client_staff -*-
"""
Tests for what C{sip2acs client} does for staff: colour
(L{sip2acs.tools.client.colour}), the hints of
L{sip2acs.tools.client.hints}, plain TLS errors
(L{sip2acs.client.blocking.tlsReason}) and the progress line
(L{sip2acs.tools.client.progress}).

The transport hints are checked against real sip2acs listeners on
127.0.0.1 (L{tests.listeners.ListenerHarness}): a raw one, a telnet one
and a TLS one with certificates minted for the test; the client runs in
a thread (L{tests.test_client.runClient}).
"""

import io
import os
import ssl
import threading

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.client import blocking
from sip2acs.client.blocking import tlsReason
from sip2acs.sip.exchange import ConnectionFailed, NoAnswer
from sip2acs.tools import client
from sip2acs.tools.client import EXIT_NO_ANSWER, EXIT_OK, EXIT_REFUSED
from sip2acs.tools.client.colour import Painter, wantColour
from sip2acs.tools.client.hints import loginHint, transportHint
from sip2acs.tools.client.progress import Progress
from tests.certs import CertificateAuthority
from tests.fixtures import makeListener
from tests.listeners import ListenerHarness
from tests.loopback import INSTITUTION, LOGIN, PASSWORD, TIMEOUT as LOOP_TIMEOUT, LoopbackServer
from tests.test_client import Result, SilentServer, TrackingFactory, noSecrets

TIMEOUT = str(LOOP_TIMEOUT)


def runClient(argv, environ=None, out=None):
    """
    Run C{sip2acs client argv} in a thread (as L{tests.test_client}
    does), writing its output to C{out} (a L{Terminal}, say).

    @return: A Deferred firing with a L{Result}.
    """
    out = io.StringIO() if out is None else out
    err = io.StringIO()
    if environ is None:
        environ = {"SIP2ACS_PASSWORD": PASSWORD}
    d = deferToThread(
        client.main, list(argv), out=out, err=err, environ=environ, askSecret=noSecrets
    )
    return d.addCallback(lambda status: Result(status, out.getvalue(), err.getvalue()))

GREEN, RED, BOLD = "\x1b[32m", "\x1b[31m", "\x1b[1m"


def loggedIn(port, *argv, timeout=TIMEOUT):
    """
    The arguments of a run logging in as the test account on C{port}.
    """
    return ["--port", str(port), "--timeout", timeout, "--login", LOGIN, *argv]


class Terminal(io.StringIO):
    """
    A L{io.StringIO} that says it is a terminal.
    """

    def isatty(self):
        return True


class WantColourTests(SynchronousTestCase):
    """
    L{wantColour} follows C{--color} and the no-color.org convention.
    """

    def test_auto(self):
        """
        C{auto}: colour on a terminal, not on a pipe or file.
        """
        self.assertTrue(wantColour("auto", Terminal(), {}))
        self.assertFalse(wantColour("auto", io.StringIO(), {}))

    def test_noColor(self):
        """
        A non-empty C{NO_COLOR} turns C{auto} off; an empty one does not.
        """
        self.assertFalse(wantColour("auto", Terminal(), {"NO_COLOR": "1"}))
        self.assertTrue(wantColour("auto", Terminal(), {"NO_COLOR": ""}))

    def test_override(self):
        """
        C{always} and C{never} override the terminal and C{NO_COLOR}.
        """
        self.assertTrue(wantColour("always", io.StringIO(), {"NO_COLOR": "1"}))
        self.assertFalse(wantColour("never", Terminal(), {}))

    def test_closed(self):
        """
        A closed stream is not a terminal.
        """
        stream = io.StringIO()
        stream.close()
        self.assertFalse(wantColour("auto", stream, {}))

    def test_painter(self):
        """
        L{Painter} wraps text in ANSI codes only when enabled.
        """
        self.assertEqual(Painter(True).paint("ok", "ok"), GREEN + "ok\x1b[0m")
        self.assertEqual(Painter(False).paint("ok", "ok"), "ok")


class ColourEndToEndTests(TestCase):
    """
    Colour in the output of a real run against sip2acs on 127.0.0.1.
    """

    def setUp(self):
        self.server = LoopbackServer(self)
        self.port = self.server.port.getHost().port

    def client(self, *argv, out=None, environ=None):
        argv = loggedIn(self.port, *argv)
        env = {"SIP2ACS_PASSWORD": PASSWORD, **(environ or {})}
        return runClient(argv, environ=env, out=out)

    @inlineCallbacks
    def test_terminal(self):
        """
        On a terminal the verdict is green (ok) or red (refused) and the
        heading bold.
        """
        result = yield self.client("status", out=Terminal())
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn(BOLD + "status: 98 ACS Status\x1b[0m (" + GREEN + "ok", result.out)
        result = yield self.client(
            "--institution", INSTITUTION, "item-info", "NO-SUCH-ITEM", out=Terminal()
        )
        self.assertEqual(result.status, EXIT_REFUSED, result.err)
        self.assertIn(RED + "refused or failed\x1b[0m", result.out)

    @inlineCallbacks
    def test_pipe(self):
        """
        On a pipe (not a terminal) there are no escape codes.
        """
        result = yield self.client("status")
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("status: 98 ACS Status (ok)", result.out)
        self.assertNotIn("\x1b[", result.out + result.err)

    @inlineCallbacks
    def test_noColor(self):
        """
        C{NO_COLOR} turns colour off on a terminal; C{--color=always}
        turns it on again, and on a pipe too.
        """
        result = yield self.client("status", out=Terminal(), environ={"NO_COLOR": "1"})
        self.assertNotIn("\x1b[", result.out)
        result = yield self.client(
            "--color=always", "status", out=Terminal(), environ={"NO_COLOR": "1"}
        )
        self.assertIn(GREEN + "ok", result.out)
        result = yield self.client("--colour", "always", "status")
        self.assertIn(GREEN + "ok", result.out)

    @inlineCallbacks
    def test_never(self):
        """
        C{--color=never} on a terminal, and C{--json} always, give plain
        text.
        """
        result = yield self.client("--color=never", "status", out=Terminal())
        self.assertNotIn("\x1b[", result.out)
        result = yield self.client("--color=always", "--json", "status", out=Terminal())
        self.assertNotIn("\x1b[", result.out)
        self.assertTrue(result.json()[0]["ok"])


class LoginHintTests(TestCase):
    """
    A refused login comes with the usual causes, in plain words.
    """

    def test_text(self):
        """
        The hint names the password, the allow list and the certificate
        binding, with the configuration keys that govern them.
        """
        hint = loginHint("192.0.2.7")
        for words in (
            "password",
            "hash-password",
            "allow",
            "192.0.2.7",
            "certificate-subject",
            "client-ca",
            "--certificate",
        ):
            self.assertIn(words, hint)

    @inlineCallbacks
    def test_940(self):
        """
        A 940 (wrong password) exits with status 1 and prints the hint on
        standard error, without the password.
        """
        server = LoopbackServer(self)
        result = yield runClient(
            loggedIn(server.port.getHost().port, "status"),
            environ={"SIP2ACS_PASSWORD": "not-the-password"},
        )
        self.assertEqual(result.status, EXIT_REFUSED)
        self.assertIn("login: 94 Login Response (refused or failed)", result.out)
        self.assertIn("hint: the server refused the login", result.err)
        self.assertIn("allow list", result.err)
        self.assertIn("127.0.0.1", result.err)
        self.assertIn("certificate-subject", result.err)
        self.assertNotIn("not-the-password", result.out + result.err)

    @inlineCallbacks
    def test_accepted(self):
        """
        An accepted login prints no hint.
        """
        server = LoopbackServer(self)
        result = yield runClient(loggedIn(server.port.getHost().port, "status"))
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertEqual(result.err, "")


class NoLoginWarningTests(TestCase):
    """
    A warning on standard error when no C{--login} is given.
    """

    @inlineCallbacks
    def test_warning(self):
        """
        Without C{--login} the run goes on, with a warning on standard
        error only.
        """
        server = LoopbackServer(self)
        result = yield runClient(
            ["--port", str(server.port.getHost().port), "--timeout", TIMEOUT, "status"]
        )
        self.assertIn("warning: no --login given", result.err)
        self.assertIn("before a 93 login", result.err)
        self.assertNotIn("warning: no --login", result.out)


def tlsFiles(testCase):
    """
    A test CA and a server certificate for C{localhost} and 127.0.0.1,
    written as PEM files.

    @return: C{(caPath, certificatePath, keyPath)}.
    """
    directory = os.path.abspath(testCase.mktemp())
    authority = CertificateAuthority()
    caPath = authority.writeCertificate(directory)
    certificate, key = authority.issue("localhost").write(directory, "server", fullchain=True)
    return caPath, certificate, key


class WrongTransportTests(TestCase):
    """
    The client says what the port looks like when the transport is
    wrong, against real sip2acs listeners.
    """

    def args(self, port, *argv, timeout="2"):
        return loggedIn(port, "--institution", INSTITUTION, *argv, "status", timeout=timeout)

    @inlineCallbacks
    def test_tlsToPlainPort(self):
        """
        TLS to a raw port: sip2acs closes at the first TLS bytes, and the
        client asks whether this is a TLS port.
        """
        acs = ListenerHarness(self)
        result = yield runClient(self.args(acs.port, "--tls", "--insecure"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("is this a TLS port?", result.err)
        self.assertIn("127.0.0.1:%d" % (acs.port,), result.err)
        self.assertEqual(len(result.err.strip().splitlines()), 1, result.err)

    @inlineCallbacks
    def test_tlsToTelnetPort(self):
        """
        TLS to a telnet port: the server's prompt is not TLS.
        """
        acs = ListenerHarness(self, transport="telnet")
        result = yield runClient(self.args(acs.port, "--tls", "--insecure"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("not TLS: is this a plain (raw or telnet) port?", result.err)

    @inlineCallbacks
    def test_plainToTLSPort(self):
        """
        Plain SIP2 to a TLS port: the client recognises the TLS alert (or
        the closed connection) and suggests C{--tls}.
        """
        ca, certificate, key = tlsFiles(self)
        acs = ListenerHarness(
            self,
            makeListener(transport="tls", certificate=certificate, privateKey=key),
        )
        result = yield runClient(self.args(acs.port))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("hint: 127.0.0.1:%d" % (acs.port,), result.err)
        self.assertIn("TLS port", result.err)
        self.assertIn("--tls", result.err)
        # With --tls and its CA, the same port works.
        result = yield runClient(self.args(acs.port, "--tls", "--ca", ca))
        self.assertEqual(result.status, EXIT_OK, result.err)

    @inlineCallbacks
    def test_telnetToRawPort(self):
        """
        The telnet prelude to a raw port: no prompt comes, and the client
        asks whether this is a raw or a TLS port.
        """
        acs = ListenerHarness(self)
        result = yield runClient(self.args(acs.port, "--telnet", timeout="0.5"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn(
            "hint: 127.0.0.1:%d sent no login prompt: is this a raw SIP2 port" % (acs.port,),
            result.err,
        )

    @inlineCallbacks
    def test_telnetOnRaw(self):
        """
        A raw connection to a telnet port sees the login prompt: the
        client says so and suggests C{--telnet}.
        """
        acs = ListenerHarness(self, transport="telnet")
        result = yield runClient(self.args(acs.port, timeout="0.5"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn(
            "hint: 127.0.0.1:%d sent a telnet login prompt: this looks like a telnet"
            " port; add --telnet" % (acs.port,),
            result.err,
        )

    def test_hints(self):
        """
        L{transportHint} from the bytes alone.
        """
        closed = ConnectionFailed("h:1 closed the connection")
        late = NoAnswer("no response")
        alert = b"\x15\x03\x03\x00\x02\x02\x32"
        self.assertIn("TLS port", transportHint("raw", "h:1", alert, closed))
        self.assertIn("TLS port", transportHint("telnet", "h:1", alert, closed))
        self.assertIn("--telnet", transportHint("raw", "h:1", b"\xff\xfd\x18", late))
        self.assertIn("--telnet", transportHint("raw", "h:1", b"Username: ", late))
        self.assertIn("is this a TLS port", transportHint("raw", "h:1", b"", closed))
        self.assertIn("not SIP2", transportHint("raw", "h:1", b"SSH-2.0-OpenSSH", late))
        self.assertIsNone(transportHint("tls", "h:1", alert, closed))
        self.assertIsNone(transportHint("raw", "h:1", b"", late))
        self.assertIn("no login prompt", transportHint("telnet", "h:1", b"", late))


def verificationError(code):
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_code = code
    error.verify_message = "code %d" % (code,)
    return error


class TLSErrorTests(SynchronousTestCase):
    """
    TLS failures in one plain sentence naming the host and what to do.
    """

    def test_untrusted(self):
        text = blocking._verificationReason(verificationError(20), "h:1", "h")
        self.assertIn("h:1", text)
        self.assertIn("not issued by a CA this client trusts", text)
        self.assertIn("--ca", text)

    def test_nameMismatch(self):
        text = blocking._verificationReason(verificationError(62), "h:1", "other.example")
        self.assertIn("does not name 'other.example'", text)
        self.assertIn("--server-name", text)

    def test_expired(self):
        text = blocking._verificationReason(verificationError(10), "h:1", "h")
        self.assertIn("it has expired", text)
        text = blocking._verificationReason(verificationError(9), "h:1", "h")
        self.assertIn("not valid yet", text)

    def test_handshake(self):
        """
        Handshake failures: not TLS, closed, a client certificate wanted.
        """
        notTLS = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
        self.assertIn("is this a plain (raw or telnet) port?", tlsReason(notTLS, "h:1"))
        eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
        self.assertIn("is this a TLS port?", tlsReason(eof, "h:1"))
        self.assertIn("is this a TLS port?", tlsReason(ConnectionResetError(104, "reset"), "h:1"))
        wanted = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] alert")
        self.assertIn("--certificate", tlsReason(wanted, "h:1"))


class TLSEndToEndTests(TestCase):
    """
    Plain TLS errors from a real TLS listener.
    """

    @inlineCallbacks
    def test_untrustedAndName(self):
        """
        Without C{--ca} the certificate is not trusted; with a wrong
        C{--server-name} it does not name the server.
        """
        ca, certificate, key = tlsFiles(self)
        acs = ListenerHarness(
            self, makeListener(transport="tls", certificate=certificate, privateKey=key)
        )
        base = loggedIn(acs.port, "--tls")
        result = yield runClient(base + ["status"])
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("127.0.0.1:%d" % (acs.port,), result.err)
        self.assertIn("give the CA's certificate with --ca", result.err)
        result = yield runClient(base + ["--ca", ca, "--server-name", "other.example", "status"])
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("does not name 'other.example'", result.err)

    @inlineCallbacks
    def test_certificateRequired(self):
        """
        A listener with C{client-ca} and a client without a certificate:
        the client says one is required and names C{--certificate}.
        """
        ca, certificate, key = tlsFiles(self)
        acs = ListenerHarness(
            self,
            makeListener(
                transport="tls", certificate=certificate, privateKey=key, clientCA=ca
            ),
        )
        result = yield runClient(loggedIn(acs.port, "--tls", "--ca", ca, "status"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn(
            "127.0.0.1:%d requires a TLS client certificate: give one with --certificate"
            % (acs.port,),
            result.err,
        )


class ProgressTests(TestCase):
    """
    The progress line: on a terminal only, removed when the answer
    arrives.
    """

    def test_line(self):
        """
        The line says what is waited for and for how long.
        """
        progress = Progress(io.StringIO(), True)
        self.assertEqual(progress.line("h:1", 2.7), "\r\x1b[Kwaiting for h:1... 2 s")

    def test_disabled(self):
        """
        Disabled, it writes nothing, however long the wait.
        """
        stream = io.StringIO()
        progress = Progress(stream, False, delay=0, interval=0)
        with progress.waiting("h:1"):
            pass
        self.assertEqual(stream.getvalue(), "")
        self.assertFalse(Progress.forStream(io.StringIO()).enabled)
        self.assertTrue(Progress.forStream(Terminal()).enabled)

    def test_terminal(self):
        """
        On a terminal the line appears while waiting and is cleared at the
        end.
        """
        wrote = threading.Event()

        class Watched(Terminal):
            def write(self, text):
                wrote.set()
                return Terminal.write(self, text)

        stream = Watched()
        progress = Progress(stream, True, delay=0, interval=60)
        with progress.waiting("h:1"):
            self.assertTrue(wrote.wait(LOOP_TIMEOUT))
        self.assertTrue(stream.getvalue().startswith("\r\x1b[Kwaiting for h:1... 0 s"))
        self.assertTrue(stream.getvalue().endswith("\r\x1b[K"))

    @inlineCallbacks
    def test_pipe(self):
        """
        Waiting for a silent server with standard error on a pipe: no
        progress line, only the error.
        """
        port = TrackingFactory(SilentServer).listen(self)
        result = yield runClient(loggedIn(port, "status", timeout="1.5"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertNotIn("waiting for", result.err)
        self.assertEqual(
            result.err,
            "sip2acs client: login: no response from 127.0.0.1:%d within 1.5 seconds\n"
            % (port,),
        )
