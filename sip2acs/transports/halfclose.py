# -*- test-case-name: tests.test_net_regressions -*-
"""
A protocol wrapper that passes half-closes through.

Twisted's L{ProtocolWrapper <twisted.protocols.policies.ProtocolWrapper>}
does not provide L{IHalfCloseableProtocol}, so a connection behind one (the
access gate's per-address count, the PROXY header reader, the TLS
handshake watch) is closed outright when the SC shuts down its sending
side, and the answers to its last requests are lost. L{HalfCloseableWrapper}
passes the half-close on to a wrapped protocol that takes it, and closes
the connection as before for one that does not.
"""

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.protocols.policies import ProtocolWrapper
from zope.interface import implementer

__all__ = ["HalfCloseableWrapper"]


@implementer(IHalfCloseableProtocol)
class HalfCloseableWrapper(ProtocolWrapper):
    """
    A L{ProtocolWrapper} that passes half-closes to the wrapped protocol.

    @ivar addressKey: The address key the L{AccessGate
        <sip2acs.transports.access.AccessGate>} counts this connection
        under; set only on the connections it counts.
    """

    addressKey: str

    def readConnectionLost(self) -> None:
        if IHalfCloseableProtocol.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.readConnectionLost()
        else:
            self.loseConnection()

    def writeConnectionLost(self) -> None:
        if IHalfCloseableProtocol.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.writeConnectionLost()
