# -*- test-case-name: tests.test_client_staff -*-
"""
What C{sip2acs client} tells staff when something goes wrong: the usual
causes of a refused login (L{loginHint}), and what the bytes a server
sent say about the port (L{transportHint}: a TLS port, a telnet port).
"""

from sip2acs.sip.exchange import ConnectionFailed, NoAnswer

__all__ = ["loginHint", "transportHint", "NO_LOGIN_WARNING"]

NO_LOGIN_WARNING = (
    "sip2acs client: warning: no --login given; most servers refuse every request"
    " before a 93 login (sip2acs answers only kiosks logged in by address)\n"
)

_IAC = 0xFF
_PROMPTS = (b"login:", b"username:", b"user name:", b"password:")


def loginHint(address: str | None = None) -> str:
    """
    The three usual causes of a refused login (a 940, or C{Invalid login}
    on a telnet port), naming the sip2acs configuration keys that govern
    them.

    @param address: This machine's address as the connection shows it,
        when known.
    """
    where = " (this machine is %s here)" % (address,) if address else ""
    return (
        "hint: the server refused the login. The usual causes:\n"
        "  - the password: it must match the [[account]]'s password hash"
        " (sip2acs hash-password makes one);\n"
        "  - the address: the [[account]]'s allow list must include the address"
        " the server sees%s;\n"
        "  - the TLS client certificate: an [[account]] with certificate-subject logs"
        " in only over a tls listener with client-ca, with that certificate"
        " (--certificate, --private-key).\n"
        "  The server's log says which one.\n" % (where,)
    )


def _looksLikeTLS(data: bytes) -> bool:
    # A TLS record: handshake (22) or alert (21), version 3.x.
    return len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03


def _looksLikeTelnet(data: bytes) -> bool:
    if _IAC in data[:3]:
        return True
    text = data.strip().lower()
    return any(text.endswith(prompt) for prompt in _PROMPTS)


def transportHint(
    transport: str, peer: str, received: bytes, error: ConnectionFailed
) -> str | None:
    """
    One sentence saying what C{received} shows about the port when a
    plain (raw or telnet) connection failed: TLS bytes, a telnet login
    prompt, or a connection closed with nothing said.

    @param transport: C{raw} or C{telnet} (TLS failures are explained by
        L{sip2acs.client.blocking.tlsReason}).
    @param received: The first bytes the server sent.
    @param error: What went wrong.
    @return: The hint (C{hint: ...}), or L{None} when the bytes say
        nothing useful.
    """
    if transport == "tls":
        return None
    if _looksLikeTLS(received):
        return (
            "hint: %s answered with TLS bytes: this looks like a TLS port; add --tls"
            " (and --ca)" % (peer,)
        )
    if transport == "raw" and _looksLikeTelnet(received):
        return (
            "hint: %s sent a telnet login prompt: this looks like a telnet port;"
            " add --telnet" % (peer,)
        )
    if not received and not isinstance(error, NoAnswer) and "closed" in str(error):
        return (
            "hint: %s closed the connection without a word: is this a TLS port"
            " (try --tls), or is this machine outside the listener's allow list?"
            % (peer,)
        )
    if transport == "telnet" and not received and isinstance(error, NoAnswer):
        return (
            "hint: %s sent no login prompt: is this a raw SIP2 port (drop --telnet)"
            " or a TLS port (--tls)?" % (peer,)
        )
    if received and isinstance(error, NoAnswer):
        return (
            "hint: %s sent %r, which is not SIP2: is this the right port?"
            % (peer, received[:40])
        )
    return None
