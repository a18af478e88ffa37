# -*- test-case-name: tests.test_client -*-
"""
A blocking SIP2 client (L{socket}, L{ssl}; no reactor), for the
C{sip2acs client} command: L{openSocket} connects (with TLS from
L{makeTLSContext}), L{SIP2Connection} talks. What to send and what the
answers mean is decided by the sans-IO core of L{sip2acs.sip.exchange};
this module only moves bytes and keeps time.
"""

from __future__ import annotations

import socket
import ssl
import time

from sip2acs.sip import codec
from sip2acs.sip.exchange import (
    ClientCore,
    ConnectionFailed,
    Exchange,
    FrameBuffer,
    NoAnswer,
    Resend,
    TelnetPrelude,
)

__all__ = ["SIP2Connection", "openSocket", "makeTLSContext", "reason", "tlsReason"]

#: How many of the first bytes received a connection keeps, for diagnosis.
FIRST_BYTES = 256


class TLSFilesError(Exception):
    """
    The TLS files given to L{makeTLSContext} cannot be loaded.
    """


def reason(error: OSError) -> str:
    """
    What went wrong, in words, for an L{OSError}.
    """
    return error.strerror or str(error) or type(error).__name__


# OpenSSL's verification error codes, by what they mean for the user.
_UNTRUSTED = {2, 18, 19, 20, 21}
_NAME_MISMATCH = {62, 64}
_EXPIRED = 10
_NOT_YET_VALID = 9
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
            "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "WRONG_SSL_VERSION")


def _verificationReason(error: ssl.SSLCertVerificationError, peer: str, name: str) -> str:
    """
    Why the server's certificate was not accepted, in one sentence naming
    C{peer} and what to do.
    """
    code = error.verify_code
    head = "the TLS certificate of %s was not accepted: " % (peer,)
    tail = " (--insecure skips the check, for testing only)"
    if code in _UNTRUSTED:
        return head + (
            "it is not issued by a CA this client trusts; give the CA's certificate"
            " with --ca" + tail
        )
    if code in _NAME_MISMATCH:
        return head + (
            "it does not name %r; connect with a name it carries or give that name"
            " with --server-name" % (name,) + tail
        )
    if code == _EXPIRED:
        return head + "it has expired; the server needs a renewed certificate" + tail
    if code == _NOT_YET_VALID:
        return head + (
            "it is not valid yet; check the clocks of this machine and the server" + tail
        )
    return head + "%s (see --ca and --server-name)%s" % (
        error.verify_message or error.reason, tail
    )


def tlsReason(error: OSError, peer: str) -> str:
    """
    What went wrong in a TLS handshake or on a TLS connection, in words
    naming C{peer} and what to do.

    @param error: An L{ssl.SSLError}, or the L{OSError} of a connection
        closed or reset during the handshake.
    """
    code = getattr(error, "reason", None) or ""
    if isinstance(error, ssl.SSLError):
        text = "%s %s" % (code, error)
    else:
        text = str(error)
    if any(word in text for word in _NOT_TLS):
        return (
            "%s answered the TLS handshake with something that is not TLS: is this"
            " a plain (raw or telnet) port? Drop --tls, or use the server's TLS port"
            % (peer,)
        )
    if "CERTIFICATE_REQUIRED" in text:
        return (
            "%s requires a TLS client certificate: give one with --certificate"
            " (and --private-key)" % (peer,)
        )
    if "UNKNOWN_CA" in text or "BAD_CERTIFICATE" in text:
        return (
            "%s refused this client's TLS certificate: is it issued by the CA the"
            " server trusts for kiosks (client-ca)?" % (peer,)
        )
    if "PROTOCOL_VERSION" in text or "UNSUPPORTED_PROTOCOL" in text:
        return (
            "%s and this client have no TLS version in common (the server's"
            " tls-minimum, or an old server)" % (peer,)
        )
    if (
        isinstance(error, (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError))
        or "EOF" in text
    ):
        return (
            "%s closed the connection during the TLS handshake: is this a TLS port?"
            " (a plain SIP2 port closes on TLS bytes; drop --tls there)" % (peer,)
        )
    return "TLS with %s failed: %s" % (peer, code or reason(error))


class SIP2Connection:
    """
    A blocking SIP2 connection to a server, from the kiosk's side.

    @ivar core: The L{ClientCore}.
    @ivar peer: C{host:port}, for messages.
    @ivar firstBytes: The first bytes received (up to L{FIRST_BYTES}), to
        tell a TLS or telnet port from a SIP2 one.
    """

    def __init__(
        self,
        sock: socket.socket,
        encoding: str = "ascii",
        delimiter: str = "|",
        errorDetection: bool = False,
        terminator: bytes = b"\r",
        timeout: float = 10.0,
        sequence: int = 0,
        peer: str = "the server",
    ) -> None:
        """
        @param sock: A connected socket (plain or TLS).
        @param errorDetection: Send C{AY}/C{AZ} and check the server's.
        @param terminator: What ends each request (C{b"\\r"} by the spec).
        @param timeout: Seconds to wait for each response.
        """
        self.sock = sock
        self.timeout = timeout
        self.peer = peer
        self.core = ClientCore(encoding, delimiter, errorDetection, terminator, sequence, peer)
        self._frames = FrameBuffer(peer)
        self.firstBytes = b""

    @property
    def encoding(self) -> str:
        return self.core.encoding

    @property
    def delimiter(self) -> str:
        return self.core.delimiter

    @property
    def sequence(self) -> int:
        """
        The C{AY} digit of the next request when error detection is on.
        """
        return self.core.sequence

    def close(self) -> None:
        """
        Close the connection (errors closing it are ignored).
        """
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass

    # -- bytes --

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except TimeoutError as e:
            raise NoAnswer("%s does not accept data (timed out sending)" % (self.peer,)) from e
        except OSError as e:
            raise ConnectionFailed("cannot send to %s: %s" % (self.peer, reason(e))) from e

    def _recv(self, deadline: float, waitingFor: str) -> bytes:
        late = NoAnswer("no %s from %s within %g seconds" % (waitingFor, self.peer, self.timeout))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise late
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(4096)
        except TimeoutError as e:
            raise late from e
        except ssl.SSLError as e:
            raise ConnectionFailed(tlsReason(e, self.peer)) from e
        except OSError as e:
            raise ConnectionFailed("connection to %s failed: %s" % (self.peer, reason(e))) from e
        if len(self.firstBytes) < FIRST_BYTES:
            self.firstBytes = (self.firstBytes + data)[:FIRST_BYTES]
        if not data:
            raise ConnectionFailed("%s closed the connection" % (self.peer,))
        return data

    def readFrame(self) -> bytes:
        """
        Read one response. CR, CRLF and LF all end a frame; empty frames
        (the LF of a CRLF) are skipped.

        @return: The frame without its terminator.
        @raise NoAnswer: Nothing complete arrived within the timeout.
        @raise ConnectionFailed: The connection was closed or broke.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            frame = self._frames.next()
            if frame is not None:
                return frame
            self._frames.feed(self._recv(deadline, "response"))

    # -- the telnet prelude --

    def telnetLogin(self, user: str, password: str) -> None:
        """
        Log in through the telnet prelude (L{TelnetPrelude}).

        @raise LoginRefused: The server said the login is wrong.
        @raise NoAnswer: A prompt or the verdict did not come in time.
        """
        prelude = TelnetPrelude(user, password, self.encoding, self.peer)
        while prelude.waitingFor is not None:
            waitingFor = prelude.waitingFor
            deadline = time.monotonic() + self.timeout
            while prelude.waitingFor == waitingFor:
                try:
                    data = self._recv(deadline, waitingFor)
                except ConnectionFailed as e:
                    raise prelude.failed(e) from None
                out = prelude.dataReceived(data)
                if out:
                    self._send(out)
        self._frames.feed(prelude.rest)

    # -- requests --

    def frameFor(self, request: codec.Message | str) -> tuple[bytes, int | None]:
        """
        The bytes of C{request} and its sequence digit: see
        L{ClientCore.frameFor}.
        """
        return self.core.frameFor(request)

    def exchange(self, request: codec.Message | str, name: str | None = None) -> Exchange:
        """
        Send one request and read its response (see L{ClientCore} for the
        checks made and the warnings given).

        @param request: A L{codec.Message}, or the text of a raw message.
        @param name: The request's name for the L{Exchange}.
        @raise ConnectionFailed: No usable answer.
        """
        data = self.core.send(request, name)
        try:
            while True:
                self._send(data)
                step = self.core.frameReceived(self.readFrame())
                if not isinstance(step, Resend):
                    return step
                data = step.data
        finally:
            self.core.abandon()


def makeTLSContext(
    ca: str | None = None,
    certificate: str | None = None,
    privateKey: str | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """
    A client TLS context: the server's certificate is verified against
    C{ca} (or the system's CAs) and must name the host.

    @param ca: A PEM file of trusted CA certificates.
    @param certificate: A PEM file with the client certificate (and its
        key, unless C{privateKey} is given), for servers that require one.
    @param insecure: Verify nothing (testing only: anyone in the middle
        can read the passwords).
    @raise TLSFilesError: A file cannot be loaded.
    """
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        if certificate:
            context.load_cert_chain(certificate, privateKey)
    except (OSError, ssl.SSLError) as e:
        raise TLSFilesError("cannot load the TLS files: %s" % (reason(e),)) from e
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def openSocket(
    host: str,
    port: int,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
    serverName: str | None = None,
) -> socket.socket:
    """
    Connect to C{host:port}, with TLS when C{context} is given.

    @param serverName: The name the server's certificate must carry (and
        the SNI sent); C{host} by default.
    @return: A L{socket.socket} or L{ssl.SSLSocket}.
    @raise ConnectionFailed: The connection or the TLS handshake failed.
    """
    peer = "%s:%d" % (host, port)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as e:
        raise NoAnswer("no answer from %s within %g seconds (connecting)" % (peer, timeout)) from e
    except OSError as e:
        raise ConnectionFailed("cannot connect to %s: %s" % (peer, reason(e))) from e
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname=serverName or host)
    except ssl.SSLCertVerificationError as e:
        sock.close()
        raise ConnectionFailed(_verificationReason(e, peer, serverName or host)) from e
    except TimeoutError as e:
        sock.close()
        raise NoAnswer(
            "no TLS handshake from %s within %g seconds: is this a TLS port? (a plain"
            " SIP2 port waits silently for a request; drop --tls there)" % (peer, timeout)
        ) from e
    except OSError as e:
        sock.close()
        raise ConnectionFailed(tlsReason(e, peer)) from e
