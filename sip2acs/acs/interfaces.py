"""
What the ACS core needs of a connection, whatever its transport.

A transport's protocol (raw TCP, telnet, TLS: see L{sip2acs.transports})
provides L{ISIPConnection} and registers itself in the server's
L{ConnectionRegistry <sip2acs.acs.registry.ConnectionRegistry>} while it is
open; the server's shutdown, its reload and the admin listener see open
connections only through this interface.
"""

from zope.interface import Attribute, Interface

__all__ = ["ISIPConnection"]


class ISIPConnection(Interface):
    """
    One open SC connection, as the server core sees it.
    """

    session = Attribute(
        "The connection's L{ACSSession <sip2acs.acs.session.ACSSession>}:"
        " its account, peer, listener and counts."
    )
    connectedAt = Attribute(
        "When the connection was made (the session clock's seconds), or"
        " L{None} before."
    )
    transport = Attribute(
        "The connection's L{ITransport <twisted.internet.interfaces.ITransport>}"
        " (the core uses its C{getPeer} and C{abortConnection}), or L{None}"
        " before the connection is made."
    )

    def close() -> None:
        """
        Stop reading and close the connection once pending replies are
        written.
        """

    def shutdown() -> None:
        """
        The server is stopping: read and take nothing more, answer the
        request in flight, if any, then close.
        """
