"""
Tests for TLS session resumption on a TLS listener and the idle-memory
setting of its connections: Python's C{ssl} module as the kiosk, against
a real loopback listener, resuming with the ticket of its previous
connection (TLS 1.2 and 1.3); a resumed mutual-TLS session is still
bound to its client certificate; OpenSSL's buffers are released while a
connection is idle.
"""

import socket
import ssl

from OpenSSL import SSL
from OpenSSL._util import lib as _lib
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.sip import codec
from sip2acs.transports.tls import loadMaterial, sessionContext
from tests.fixtures import captureLogs, login, makeAccount
from tests.listeners import ListenerHarness
from tests.test_tls import STATUS, Files, messages

TIMEOUT = 10


def _readLine(sock: ssl.SSLSocket) -> bytes:
    data = b""
    while not data.endswith(b"\r"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class Kiosk:
    """
    A blocking Python C{ssl} kiosk (run it in a thread): one connection
    per L{visit}, resuming the session of the previous one.
    """

    def __init__(self, files: Files, port: int, version: ssl.TLSVersion, leaf=None):
        self.port = port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.load_verify_locations(files.caPath)
        self.context.check_hostname = False
        self.context.minimum_version = version
        self.context.maximum_version = version
        if leaf is not None:
            certificate, key = leaf.write(files.directory, leaf.subject.split(",")[0][3:])
            self.context.load_cert_chain(certificate, key)
        self.session: ssl.SSLSession | None = None

    def visit(self, *frames: bytes) -> tuple[bool, list[bytes]]:
        """
        Connect, send each frame and read its answer, close.

        @return: C{(session reused, answers)}.
        """
        with socket.create_connection(("127.0.0.1", self.port), TIMEOUT) as raw:
            with self.context.wrap_socket(raw, session=self.session) as sock:
                answers = []
                for frame in frames:
                    sock.sendall(frame + b"\r")
                    answers.append(_readLine(sock))
                self.session = sock.session
                return sock.session_reused, answers

    def open(self, frame: bytes) -> tuple[ssl.SSLSocket, bytes]:
        """
        Connect, send C{frame} and read its answer; leave the connection
        open.

        @return: C{(the socket, the answer)}.
        """
        raw = socket.create_connection(("127.0.0.1", self.port), TIMEOUT)
        sock = self.context.wrap_socket(raw)
        sock.sendall(frame + b"\r")
        return sock, _readLine(sock)


class ResumptionTests(TestCase):
    """
    The listener offers session tickets; a kiosk presenting the ticket of
    its previous connection gets an abbreviated handshake.
    """

    @inlineCallbacks
    def resumes(self, version: ssl.TLSVersion):
        files = Files(self)
        acs = ListenerHarness(self, files.listener())
        kiosk = Kiosk(files, acs.port, version)
        reused, answers = yield deferToThread(kiosk.visit, login(), STATUS)
        self.assertFalse(reused)
        self.assertTrue(answers[0].startswith(b"941"), answers)
        self.assertIsNotNone(kiosk.session)
        for _ in range(2):
            reused, answers = yield deferToThread(kiosk.visit, login(), STATUS)
            self.assertTrue(reused)
            self.assertTrue(answers[0].startswith(b"941"), answers)
            self.assertTrue(answers[1].startswith(b"98"), answers)

    def test_tls12(self):
        """
        TLS 1.2: a session ticket resumes the session.
        """
        return self.resumes(ssl.TLSVersion.TLSv1_2)

    def test_tls13(self):
        """
        TLS 1.3: a ticket (PSK) resumes the session.
        """
        return self.resumes(ssl.TLSVersion.TLSv1_3)

    @inlineCallbacks
    def test_reloadEndsResumption(self):
        """
        After a reload the old tickets are not accepted (the ticket keys
        are the old settings'): the kiosk gets a full handshake and is
        served as before.
        """
        files = Files(self)
        acs = ListenerHarness(self, files.listener())
        kiosk = Kiosk(files, acs.port, ssl.TLSVersion.TLSv1_3)
        yield deferToThread(kiosk.visit, login())
        acs.tls.reload()
        reused, answers = yield deferToThread(kiosk.visit, login())
        self.assertFalse(reused)
        self.assertTrue(answers[0].startswith(b"941"), answers)


class MutualResumptionTests(TestCase):
    """
    A resumed mutual-TLS session keeps its client certificate: the
    account's certificate binding judges it as on the full handshake.
    """

    def setUp(self):
        self.files = Files(self)
        self.events = captureLogs(self)
        account = makeAccount(certificateSubject=self.files.kiosk1.subject)
        self.acs = ListenerHarness(
            self, self.files.listener(mutual=True), accounts=[account]
        )

    @inlineCallbacks
    def bound(self, version: ssl.TLSVersion):
        thief = Kiosk(self.files, self.acs.port, version, leaf=self.files.kiosk2)
        owner = Kiosk(self.files, self.acs.port, version, leaf=self.files.kiosk1)
        for expected in (False, True, True):
            reused, answers = yield deferToThread(thief.visit, login())
            self.assertEqual(reused, expected)
            self.assertEqual(
                codec.decode(answers[0].rstrip(b"\r")).message, codec.LoginResponse(ok=False)
            )
            self.assertEqual(
                self.acs.built[-1].session.certificateSubject, self.files.kiosk2.subject
            )
            reused, answers = yield deferToThread(owner.visit, login(), STATUS)
            self.assertEqual(reused, expected)
            self.assertTrue(answers[0].startswith(b"941"), answers)
            self.assertEqual(
                self.acs.built[-1].session.certificateSubject, self.files.kiosk1.subject
            )
        refusal = (
            "login 'kiosk' from 127.0.0.1 refused: the TLS client certificate is"
            " CN=kiosk2,OU=East,O=Harbour Street Library, not"
            " CN=kiosk1,OU=East,O=Harbour Street Library"
        )
        self.assertEqual(messages(self.events).count(refusal), 3)

    def test_tls12(self):
        """
        TLS 1.2: resumed, kiosk2's session is still refused the account
        bound to kiosk1, and kiosk1's still logs in.
        """
        return self.bound(ssl.TLSVersion.TLSv1_2)

    def test_tls13(self):
        """
        TLS 1.3: the same.
        """
        return self.bound(ssl.TLSVersion.TLSv1_3)


class SessionContextTests(SynchronousTestCase):
    """
    L{sessionContext}: which listeners accept each other's sessions.
    """

    def test_derived(self):
        """
        The same endpoint, client CAs and floor give the same 32 bytes
        (instances configured alike); another endpoint, floor or client
        CA bundle gives another.
        """
        files = Files(self)
        plain = loadMaterial(files.certificate, files.privateKey)
        mutual = loadMaterial(files.certificate, files.privateKey, clientCA=files.caPath)
        one = sessionContext("tcp:45550", mutual)
        self.assertEqual(len(one), 32)
        self.assertEqual(one, sessionContext("tcp:45550", mutual, "1.2"))
        others = {
            sessionContext("tcp:45551", mutual),
            sessionContext("tcp:45550", plain),
            sessionContext("tcp:45550", mutual, "1.3"),
        }
        self.assertNotIn(one, others)
        self.assertEqual(len(others), 3)


class IdleBufferTests(TestCase):
    """
    OpenSSL frees a connection's record buffers while it is idle.
    """

    @inlineCallbacks
    def test_releaseBuffers(self):
        """
        After the handshake and a message, the server side's OpenSSL
        connection has C{MODE_RELEASE_BUFFERS} set.
        """
        files = Files(self)
        acs = ListenerHarness(self, files.listener())
        kiosk = Kiosk(files, acs.port, ssl.TLSVersion.TLSv1_3)
        sock, answer = yield deferToThread(kiosk.open, login())
        self.addCleanup(sock.close)
        self.assertTrue(answer.startswith(b"941"), answer)
        handle = acs.built[0].transport.getHandle()
        self.assertIsInstance(handle, SSL.Connection)
        # SSL_set_mode with no bits to add returns the connection's mode.
        self.assertTrue(_lib.SSL_set_mode(handle._ssl, 0) & SSL.MODE_RELEASE_BUFFERS)
