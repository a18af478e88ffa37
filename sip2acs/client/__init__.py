"""
A SIP2 client for use inside the reactor, and a blocking one for tools.

L{connect} opens a L{SIP2ClientProtocol} (C{request(message)} returns a
Deferred firing with the response); L{clientTLS} builds its TLS options.
L{sip2acs.client.blocking} is the same client for plain blocking code (the
C{sip2acs client} command). Both drive the sans-IO core of
L{sip2acs.sip.exchange}, whose errors and L{Exchange} they share.

This package imports only L{sip2acs.sip} and Twisted, so that an ILS
adapter (a SIP2 upstream gateway) can use it.
"""

from sip2acs.client.endpoints import clientTLS, connect
from sip2acs.client.protocol import SIP2ClientProtocol
from sip2acs.sip.exchange import (
    ConnectionFailed,
    Exchange,
    LoginRefused,
    NoAnswer,
    ProtocolError,
)

__all__ = [
    "SIP2ClientProtocol",
    "connect",
    "clientTLS",
    "Exchange",
    "ConnectionFailed",
    "NoAnswer",
    "ProtocolError",
    "LoginRefused",
]
