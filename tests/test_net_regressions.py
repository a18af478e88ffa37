"""
Regression tests for the network defects of issue 9 (items 6, 7, 8, 10,
11 and 16), each over a real loopback socket: a kiosk that never reads,
a telnet prelude flood, parallel and interleaved login guesses, a kiosk
that half-closes, a password typed as a login id, TLS mistakes.
"""

import socket
import struct

from OpenSSL import SSL
from twisted.internet import reactor, threads
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.trial.unittest import TestCase

from sip2acs.acs.addresses import AddressList
from sip2acs.acs.auth import ISIPPassword
from sip2acs.sip import codec
from sip2acs.transports.telnet import PRELUDE_BUDGET
from tests.fixtures import makeListener
from tests.listeners import ListenerHarness, RawClient, waitFor
from tests.loopback import (
    LOGIN,
    PASSWORD,
    TIMEOUT,
    LoopbackServer,
    captureLogs,
    login,
    makeAccount,
    request,
)
from tests.test_tls import Files

ACCEPTED = codec.LoginResponse(ok=True)
REFUSED = codec.LoginResponse(ok=False)
STATUS = b"9900302.00"


def messages(events):
    return [formatEvent(event) for event in events]


def buffered(transport):
    """
    The bytes a TCP transport holds, written by the protocol but not yet
    taken by the kernel.
    """
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def telnetListener(**settings):
    return makeListener(transport="telnet", **settings)


class NeverReadingClientTests(TestCase):
    """
    Issue 9 item 6: replies to a kiosk that does not read are not buffered
    without limit.
    """

    @inlineCallbacks
    def test_outputBounded(self):
        """
        A kiosk sends thousands of requests and reads nothing: the server
        stops reading once its write buffer is over the transport's
        high-water mark, so what it buffers stays bounded; when the kiosk
        reads, it gets every answer, in order.
        """
        acs = LoopbackServer(self)
        client = yield acs.loggedIn()
        server = client.server
        # Small kernel buffers, so the server's own buffer is what fills.
        client.transport.getHandle().setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, 4096
        )
        server.transport.getHandle().setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        most = [0]
        write = server.transport.write

        def measuredWrite(data):
            write(data)
            most[0] = max(most[0], buffered(server.transport))

        server.transport.write = measuredWrite
        client.transport.pauseProducing()
        count = 3000
        bound = 2 * server.transport.bufferSize
        client.send(
            b"".join(
                request(codec.PatronStatus, patronIdentifier="P%05d" % (n,)) + b"\r"
                for n in range(count)
            )
        )
        yield waitFor(
            reactor,
            lambda: most[0] > bound or getattr(server, "_writeBlocked", False),
        )
        self.assertLessEqual(most[0], bound)
        client.transport.resumeProducing()
        frames = yield client.replies(count, timeout=30)
        self.assertEqual(
            [codec.decode(f).message.patronIdentifier for f in frames],
            ["P%05d" % (n,) for n in range(count)],
        )
        self.assertLessEqual(most[0], bound)


class HalfCloseTests(TestCase):
    """
    Issue 9 item 10: a kiosk that sends its requests and shuts down its
    write side gets its answers before the server closes.
    """

    @inlineCallbacks
    def test_raw(self):
        """
        Requests followed by a half-close on a raw port are all answered,
        then the server closes; a last frame without terminator counts.
        """
        acs = ListenerHarness(self)
        client = yield acs.connect(client=RawClient())
        client.transport.write(login() + b"\r" + STATUS + b"\r" + STATUS)
        client.transport.loseWriteConnection()
        yield client.lost
        frames = [f for f in client.data.split(b"\r") if f]
        self.assertEqual(len(frames), 3, client.data)
        self.assertEqual(codec.decode(frames[0]).message, ACCEPTED)
        self.assertTrue(frames[1].startswith(b"98") and frames[2].startswith(b"98"))

    @inlineCallbacks
    def test_behindWrappers(self):
        """
        The same on a listener whose connections are wrapped: by the cap
        of connections per address, and by the PROXY header reader.
        """
        for settings, header in [
            (dict(maxConnectionsPerAddress=5), b""),
            (
                dict(proxyProtocol=True, proxyFrom=AddressList.parse(["127.0.0.1"])[0]),
                b"PROXY TCP4 10.0.4.21 127.0.0.1 51000 6001\r\n",
            ),
        ]:
            acs = ListenerHarness(self, **settings)
            client = yield acs.connect(client=RawClient())
            client.transport.write(header + login() + b"\r" + STATUS + b"\r")
            client.transport.loseWriteConnection()
            yield client.lost
            frames = [f for f in client.data.split(b"\r") if f]
            self.assertEqual(len(frames), 2, (settings, client.data))
            self.assertTrue(frames[1].startswith(b"98"), client.data)

    @inlineCallbacks
    def test_telnet(self):
        """
        On a telnet port, a kiosk that sends its login, password and
        requests in one go and half-closes gets its answers too.
        """
        acs = ListenerHarness(self, telnetListener())
        client = yield acs.connect(client=RawClient())
        client.transport.write(
            LOGIN.encode() + b"\r\n" + PASSWORD.encode() + b"\r\n" + STATUS + b"\r"
        )
        client.transport.loseWriteConnection()
        yield client.lost
        self.assertIn(b"Login OK.  Initiating SIP\r\n98", client.data)
        self.assertTrue(client.data.endswith(b"\r"), client.data)


def halfClosingTLSClient(port, caPath, data, closeNotify, shutdown, maximum=None):
    """
    A blocking TLS client (pyOpenSSL on a socket; run it in a thread): it
    connects to 127.0.0.1 C{port}, checks the server's certificate chain
    against C{caPath} (not its name), sends C{data}, then stops sending,
    and reads until the server closes.

    @param closeNotify: Stop sending with a TLS C{close_notify}.
    @param shutdown: Stop sending with a TCP half-close (after the
        C{close_notify}, if both).
    @param maximum: The highest TLS version to offer, or L{None}.
    @return: C{(received, ending)}: the bytes received, and how the server
        ended: C{"close_notify"} (cleanly) or the error that ended reading.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.load_verify_locations(caPath.encode())
    context.set_verify(SSL.VERIFY_PEER, lambda *args: args[-1])
    if maximum is not None:
        context.set_max_proto_version(maximum)
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    # Blocking, for pyOpenSSL, but never hanging a test.
    sock.settimeout(None)
    sock.setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(TIMEOUT), 0)
    )
    connection = SSL.Connection(context, sock)
    connection.set_tlsext_host_name(b"localhost")
    connection.set_connect_state()
    received = b""
    try:
        connection.do_handshake()
        connection.sendall(data)
        if closeNotify:
            # Sends close_notify; the server's is not waited for here.
            connection.shutdown()
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        while True:
            try:
                chunk = connection.recv(65536)
            except SSL.ZeroReturnError:
                return received, "close_notify"
            except SSL.Error as e:
                return received, repr(e)
            received += chunk
    finally:
        sock.close()


class TLSHalfCloseTests(TestCase):
    """
    Issue 9 item 10 on TLS ports: a kiosk that sends its requests and then
    stops sending, by TLS C{close_notify}, TCP half-close or both, gets
    every answer and then the server's C{close_notify}.
    """

    @inlineCallbacks
    def halfClose(self, closeNotify, shutdown, maximum=None):
        files = Files(self)
        acs = ListenerHarness(self, files.listener())
        received, ending = yield threads.deferToThread(
            halfClosingTLSClient,
            acs.port,
            files.caPath,
            login() + b"\r" + STATUS + b"\r" + STATUS,
            closeNotify,
            shutdown,
            maximum,
        )
        frames = [f for f in received.split(b"\r") if f]
        self.assertEqual(len(frames), 3, (received, ending))
        self.assertEqual(codec.decode(frames[0]).message, ACCEPTED)
        self.assertTrue(frames[1].startswith(b"98") and frames[2].startswith(b"98"))
        self.assertEqual(ending, "close_notify")
        yield waitFor(reactor, lambda: not acs.server.connections)

    def test_closeNotifyThenShutdown(self):
        """
        C{close_notify}, then TCP half-close (what C{openssl s_client}
        and most TLS libraries do on closing their sending side).
        """
        return self.halfClose(closeNotify=True, shutdown=True)

    def test_closeNotifyOnly(self):
        """
        C{close_notify} with TCP left open for the answers.
        """
        return self.halfClose(closeNotify=True, shutdown=False)

    def test_shutdownOnly(self):
        """
        A TCP half-close without C{close_notify} (a TLS-terminating proxy
        passing a kiosk's half-close on).
        """
        return self.halfClose(closeNotify=False, shutdown=True)

    def test_tls12(self):
        """
        With TLS 1.2 too, whose rules on answering C{close_notify} are
        stricter than 1.3's: OpenSSL still lets the server write.
        """
        return self.halfClose(
            closeNotify=True, shutdown=True, maximum=SSL.TLS1_2_VERSION
        )


class TelnetPreludeTests(TestCase):
    """
    Issue 9 item 7: the telnet login prelude is bounded in bytes and time.
    """

    @inlineCallbacks
    def test_negotiationFloodCloses(self):
        """
        Megabytes of IAC negotiation get the connection closed once the
        prelude's byte budget is spent, with one log line; the server
        reads little more than that.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self, telnetListener())
        client = yield acs.connect(client=RawClient())
        flood = b"\xff\xfb\x18\xff\xfd\x01\xff\xf1" * (2 * 1024 * 1024 // 8)
        client.transport.write(flood)
        yield client.lost
        self.assertIn(
            "telnet login prelude from 127.0.0.1 went over %d bytes; closing"
            % (PRELUDE_BUDGET,),
            messages(events),
        )
        [protocol] = acs.built
        self.assertEqual(protocol._preludeBytes, PRELUDE_BUDGET + 1)

    @inlineCallbacks
    def test_timeoutHoldsWhileBytesArrive(self):
        """
        A telnet client trickling negotiation (under the byte budget) is
        still closed at the login timeout.
        """
        clock = Clock()
        acs = ListenerHarness(self, telnetListener(loginTimeout=30), clock=clock)
        client = yield acs.connect(client=RawClient())
        [protocol] = acs.built
        for _second in range(30):
            sent = protocol._preludeBytes + 3
            client.transport.write(b"\xff\xf1\x00")
            yield waitFor(reactor, lambda sent=sent: protocol._preludeBytes >= sent)
            self.assertTrue(client.connected)
            clock.advance(1)
        yield client.lost


class LoginThrottleTests(TestCase):
    """
    Issue 9 item 8: the cooling-off counts attempts before the password
    check, per (address, login).
    """

    @inlineCallbacks
    def test_parallelGuessesCheckedAtMostLimit(self):
        """
        Twenty connections send a wrong password at once: at most C{limit}
        password checks run, the rest are refused unchecked.
        """
        acs = ListenerHarness(self, loginFailuresBeforeCooloff=3, cooloff=300)
        checks = []
        held = []
        checker = acs.server.portal.checkers[ISIPPassword]
        verify = checker.verify

        def countedVerify(password, stored):
            checks.append(password)
            return verify(password, stored)

        checker.verify = countedVerify
        deferToThread = checker.runInThread

        def heldDeferToThread(f, *args):
            # Keep every check pending until all twenty attempts are in.
            d = deferToThread(lambda: None)
            held.append(d)
            return d.addCallback(lambda ignored: f(*args))

        checker.runInThread = heldDeferToThread
        clients = yield gatherResults([acs.connect() for n in range(20)])
        answers = [c.ask(login(password="bad")) for c in clients]
        yield waitFor(
            reactor,
            lambda: sum(1 for p in acs.built if p.session.messages) == 20,
        )
        results = yield gatherResults(answers)
        self.assertEqual([r.message for r in results], [REFUSED] * 20)
        self.assertLessEqual(len(checks), 3)
        self.assertLessEqual(len(held), 3)

    @inlineCallbacks
    def test_madeUpLoginsShareOneCount(self):
        """
        Guesses at login ids that are not configured are counted together
        per address: after C{limit} of them the address's made-up logins
        cool off, while the configured account still logs in.
        """
        acs = ListenerHarness(self, loginFailuresBeforeCooloff=3, cooloff=300)
        checks = []
        checker = acs.server.portal.checkers[ISIPPassword]
        verify = checker.verify

        def countedVerify(password, stored):
            checks.append(password)
            return verify(password, stored)

        checker.verify = countedVerify
        for n in range(6):
            client = yield acs.connect()
            reply = yield client.ask(login("made-up-%d" % (n,), "guess"))
            self.assertEqual(reply.message, REFUSED)
        self.assertEqual(len(checks), 3)
        client = yield acs.connect()
        self.assertEqual((yield client.ask(login())).message, ACCEPTED)

    @inlineCallbacks
    def test_otherLoginSuccessKeepsFailures(self):
        """
        From one address, login B fails twice, login A succeeds, B fails
        again: B is cooling off (even its right password is refused),
        while A still logs in.
        """
        accounts = [makeAccount(), makeAccount(login="other", password="pw2")]
        acs = ListenerHarness(
            self, accounts=accounts, loginFailuresBeforeCooloff=3, cooloff=300
        )
        client = yield acs.connect()
        attacker = yield acs.connect()
        for _ in range(2):
            reply = yield attacker.ask(login("other", "bad"))
            self.assertEqual(reply.message, REFUSED)
            self.assertEqual((yield client.ask(login())).message, ACCEPTED)
        attacker = yield acs.connect()
        self.assertEqual((yield attacker.ask(login("other", "bad"))).message, REFUSED)
        self.assertEqual((yield attacker.ask(login("other", "pw2"))).message, REFUSED)
        self.assertEqual((yield client.ask(login())).message, ACCEPTED)


class LoginLogTests(TestCase):
    """
    Issue 9 item 11 (login part): a password typed as a login id does not
    reach the log.
    """

    SECRET = "correct-horse-battery-staple-4711-xyz"

    def assertNotLogged(self, events):
        texts = messages(events)
        self.assertFalse([t for t in texts if self.SECRET in t], texts)
        self.assertIn(
            "an unknown login of %d characters from 127.0.0.1 refused"
            % (len(self.SECRET),),
            " ".join(texts),
        )

    @inlineCallbacks
    def test_93(self):
        """
        A 93 with a long unknown login id logs its length only.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self)
        client = yield acs.connect()
        reply = yield client.ask(login(self.SECRET, "whatever"))
        self.assertEqual(reply.message, REFUSED)
        self.assertNotLogged(events)

    @inlineCallbacks
    def test_telnet(self):
        """
        So does a telnet login, and the cooling-off's lines.
        """
        events = captureLogs(self)
        acs = ListenerHarness(
            self, telnetListener(loginFailuresBeforeCooloff=1, cooloff=300)
        )
        client = yield acs.connect(client=RawClient())
        client.transport.write(self.SECRET.encode() + b"\r\nx\r\n")
        yield waitFor(reactor, lambda: b"Invalid login" in client.data)
        client.transport.write(self.SECRET.encode() + b"\r\nx\r\n")
        yield waitFor(reactor, lambda: client.data.count(b"Invalid login") == 2)
        self.assertNotLogged(events)

    @inlineCallbacks
    def test_shortUnknownLogged(self):
        """
        A short printable unknown login id is still logged, for operators
        chasing a misconfigured kiosk.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self)
        client = yield acs.connect()
        yield client.ask(login("kiosk9", "whatever"))
        self.assertIn(
            "unknown login 'kiosk9' from 127.0.0.1 refused", messages(events)
        )


    @inlineCallbacks
    def test_lostDelimiterBeforePassword(self):
        """
        A 93 that lost the delimiter before its password
        (C{CNkiosk9COsecret}) does not log the password as part of the
        login id.
        """
        events = captureLogs(self)
        acs = ListenerHarness(self)
        client = yield acs.connect()
        yield client.ask(b"9300CNkiosk9CO4711pw|CPMAIN|")
        texts = messages(events)
        self.assertFalse([t for t in texts if "4711pw" in t], texts)
        self.assertIn("unknown login 'kiosk9CO***' from 127.0.0.1 refused", texts)


class TLSMistakeTests(TestCase):
    """
    Issue 9 item 16: TLS mistakes are logged for what they are.
    """

    @inlineCallbacks
    def test_handshakeTimeout(self):
        """
        A client that connects to a TLS port and never handshakes is
        closed cleanly at the login timeout, logged as a handshake
        timeout.
        """
        events = captureLogs(self)
        clock = Clock()
        files = Files(self)
        acs = ListenerHarness(self, files.listener(loginTimeout=30), clock=clock)
        client = yield acs.connect(client=RawClient())
        yield waitFor(reactor, lambda: acs.built)
        clock.advance(30)
        yield client.lost
        self.assertEqual(client.data, b"")
        self.assertTrue(client.reason.check(ConnectionDone), client.reason)
        yield waitFor(reactor, lambda: acs.server.metrics.tlsHandshakeFailures)
        failed = [m for m in messages(events) if "TLS handshake" in m]
        self.assertEqual(
            failed,
            [
                "TLS handshake with 127.0.0.1 on tcp:0:interface=127.0.0.1 failed:"
                " no handshake within 30 s (handshake timeout)"
            ],
        )

    @inlineCallbacks
    def test_tlsOnPlainPort(self):
        """
        A TLS ClientHello on a raw or telnet port is logged as TLS on a
        plain port, in one line, and closes the connection unanswered.
        """
        hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32))
        for listener in [None, telnetListener()]:
            events = captureLogs(self)
            acs = ListenerHarness(self, listener)
            client = yield acs.connect(client=RawClient())
            client.transport.write(hello)
            yield client.lost
            self.assertNotIn(b"98", client.data)
            texts = messages(events)
            self.assertIn(
                "127.0.0.1 on tcp:0:interface=127.0.0.1 sent a TLS handshake: this"
                " looks like TLS on a plain port; closing",
                texts,
            )
            self.assertFalse([t for t in texts if "unknown" in t], texts)
