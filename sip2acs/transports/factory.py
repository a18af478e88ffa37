# -*- test-case-name: tests.test_protocol -*-
"""
The protocol factory behind a listener: a fresh L{ACSSession
<sip2acs.acs.session.ACSSession>} and the listener's transport protocol for
each connection.
"""

from twisted.internet.protocol import ServerFactory

from sip2acs.acs.session import ACSSession
from sip2acs.transports.protocol import SIP2Protocol
from sip2acs.transports.telnet import TelnetLoginProtocol

__all__ = ["SIP2ServerFactory"]


class SIP2ServerFactory(ServerFactory):
    """
    The factory behind one listener: it builds a L{SIP2Protocol
    <sip2acs.transports.protocol.SIP2Protocol>} (a L{TelnetLoginProtocol
    <sip2acs.transports.telnet.TelnetLoginProtocol>} on a telnet listener) with a
    fresh L{ACSSession <sip2acs.acs.session.ACSSession>} for each connection.
    On raw and TLS listeners an SC whose address an account is bound to
    starts logged in as that account.
    """

    def __init__(self, server, listener):
        self.server = server
        self.listener = listener

    def buildProtocol(self, addr):
        peer = getattr(addr, "host", None)
        session = ACSSession(self.server, self.listener, peer=peer)
        if self.listener.transport == "telnet":
            protocol = TelnetLoginProtocol(session, self.listener)
        else:
            session.loginByAddress()
            protocol = SIP2Protocol(session, self.listener)
        protocol.factory = self
        return protocol
