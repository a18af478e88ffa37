# -*- test-case-name: tests.test_protocol -*-
"""
The protocol factory behind a listener: a fresh L{ACSSession
<sip2acs.acs.session.ACSSession>} and the listener's transport protocol for
each connection.
"""

from typing import TYPE_CHECKING

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import ServerFactory

from sip2acs.acs.server import ACSServer
from sip2acs.acs.session import ACSSession
from sip2acs.transports.protocol import SIP2Protocol
from sip2acs.transports.telnet import TelnetLoginProtocol

if TYPE_CHECKING:
    # For the type checker only: transports/ must not import config/ at
    # run time (tests/test_layers.py).
    from sip2acs.config import ListenerConfig

__all__ = ["SIP2ServerFactory"]


class SIP2ServerFactory(ServerFactory[SIP2Protocol]):
    """
    The factory behind one listener: it builds a L{SIP2Protocol
    <sip2acs.transports.protocol.SIP2Protocol>} (a L{TelnetLoginProtocol
    <sip2acs.transports.telnet.TelnetLoginProtocol>} on a telnet listener) with a
    fresh L{ACSSession <sip2acs.acs.session.ACSSession>} for each connection.
    On raw and TLS listeners an SC whose address an account is bound to
    starts logged in as that account.

    Not C{noisy}: the start-up banner says what listens where, instead of
    a "Starting factory" line per listener.
    """

    noisy = False

    def __init__(self, server: ACSServer, listener: "ListenerConfig") -> None:
        self.server = server
        self.listener = listener

    def buildProtocol(self, addr: IAddress | None) -> SIP2Protocol:
        peer = getattr(addr, "host", None)
        session = ACSSession(self.server, self.listener, peer=peer)
        if self.listener.transport == "telnet":
            protocol: SIP2Protocol = TelnetLoginProtocol(session, self.listener)
        else:
            session.loginByAddress()
            protocol = SIP2Protocol(session, self.listener)
        protocol.factory = self
        return protocol
