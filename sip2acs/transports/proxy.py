# -*- test-case-name: tests.test_access -*-
"""
The PROXY protocol (versions 1 and 2), for listeners behind a TCP load
balancer (HAProxy, nginx stream, AWS NLB, ...): the balancer opens each
connection with a header naming the kiosk's real address, and sip2acs uses
that address for its allow lists, its per-address cap, its cooling-off,
its logs and the adapter's terminal.

L{ProxyHeaderFactory} sits outermost on a listener. It reads the header
first, and only then builds the rest of the listener's stack (access
checks, TLS, SIP2) for the address it names; a connection whose header is
missing, malformed or late is closed, and so is one from an address not
allowed to send headers (C{proxy-from}).

Twisted's C{twisted.protocols.haproxy} is not used: its wrapper builds the
wrapped protocol on accept, with the balancer's address, before the header
has been read; it closes a connection whose first read is shorter than
8 bytes; and its parsers are private.
"""

import ipaddress
import struct
from typing import cast

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IAddress,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import directlyProvides, providedBy

from sip2acs.acs.addresses import AddressList
from sip2acs.transports.halfclose import HalfCloseableWrapper

__all__ = ["InvalidHeader", "ProxyHeaderFactory", "parseHeader", "V2_SIGNATURE"]

V1_PREFIX = b"PROXY "
V1_MAX = 107
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_MAX = 16 + 1024
"""
Longest v2 header accepted: the addresses and a reasonable amount of TLVs.
"""

Header = tuple[IPv4Address | IPv6Address | None, IPv4Address | IPv6Address | None, int]
"""
A parsed header: C{(source, destination, size)} (see L{parseHeader}).
"""


class InvalidHeader(ValueError):
    """
    The bytes are not a PROXY protocol header.
    """


def _port(text: str) -> int:
    if not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise InvalidHeader("bad port %r" % (text,))
    return int(text)


def _parseV1(buffer: bytes) -> Header | None:
    end = buffer.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(buffer) >= V1_MAX:
            raise InvalidHeader("version 1 header without CRLF in 107 bytes")
        return None
    parts = buffer[:end].decode("ascii", "replace").split(" ")
    size = end + 2
    if len(parts) < 2:
        raise InvalidHeader("version 1 header without a protocol")
    if parts[1] == "UNKNOWN":
        return None, None, size
    if parts[1] not in ("TCP4", "TCP6") or len(parts) != 6:
        raise InvalidHeader("malformed version 1 header")
    version = 4 if parts[1] == "TCP4" else 6
    kind = IPv4Address if version == 4 else IPv6Address
    try:
        source = ipaddress.ip_address(parts[2])
        destination = ipaddress.ip_address(parts[3])
    except ValueError as e:
        raise InvalidHeader("bad address in version 1 header") from e
    if source.version != version or destination.version != version:
        raise InvalidHeader("address family does not match %s" % (parts[1],))
    return (
        kind("TCP", str(source), _port(parts[4])),
        kind("TCP", str(destination), _port(parts[5])),
        size,
    )


def _parseV2(buffer: bytes) -> Header | None:
    if len(buffer) < 16:
        return None
    command = buffer[12]
    if command >> 4 != 2:
        raise InvalidHeader("version 2 signature with version %d" % (command >> 4,))
    if command & 0x0F not in (0, 1):
        raise InvalidHeader("unknown version 2 command %d" % (command & 0x0F,))
    family = buffer[13]
    (length,) = struct.unpack("!H", buffer[14:16])
    size = 16 + length
    if size > V2_MAX:
        raise InvalidHeader("version 2 header of %d bytes" % (size,))
    if len(buffer) < size:
        return None
    if command & 0x0F == 0:
        # LOCAL: the balancer's own connection (a health check).
        return None, None, size
    body = buffer[16:size]
    kind: type[IPv4Address] | type[IPv6Address]
    convert: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]
    if family == 0x11:
        if length < 12:
            raise InvalidHeader("short version 2 IPv4 addresses")
        source, destination, sport, dport = struct.unpack("!4s4sHH", body[:12])
        kind, convert = IPv4Address, ipaddress.IPv4Address
    elif family == 0x21:
        if length < 36:
            raise InvalidHeader("short version 2 IPv6 addresses")
        source, destination, sport, dport = struct.unpack("!16s16sHH", body[:36])
        kind, convert = IPv6Address, ipaddress.IPv6Address
    else:
        # UNSPEC, UDP or UNIX: use the connection's own addresses.
        return None, None, size
    return (
        kind("TCP", str(convert(source)), sport),
        kind("TCP", str(convert(destination)), dport),
        size,
    )


def parseHeader(buffer: bytes) -> Header | None:
    """
    Parse a PROXY header at the start of C{buffer}.

    @type buffer: L{bytes}
    @return: L{None} while the header is incomplete; then C{(source,
        destination, size)}, where the addresses are L{IPv4Address} or
        L{IPv6Address} (both L{None} for a v2 LOCAL, a v1 UNKNOWN or a
        family other than TCP over IP: the connection's own addresses
        apply) and C{size} is the header's length in bytes.
    @raise InvalidHeader: C{buffer} does not start with a valid header.
    """
    if buffer.startswith(V2_SIGNATURE):
        return _parseV2(buffer)
    if buffer.startswith(V1_PREFIX):
        return _parseV1(buffer)
    if V2_SIGNATURE.startswith(buffer[:12]) or V1_PREFIX.startswith(buffer[:6]):
        return None
    raise InvalidHeader("no PROXY protocol header")


class _ProxyHeaderProtocol(HalfCloseableWrapper, TimeoutMixin):
    """
    Reads the PROXY header, then builds the wrapped protocol for the
    address it names and relays everything after it.

    @ivar wrappedProtocol: L{None} until the header is read.
    """

    transport: ITransport
    # ProtocolWrapper's is never None; this one is until the header is read.
    wrappedProtocol: IProtocol | None  # type: ignore[assignment]

    def __init__(
        self, factory: "ProxyHeaderFactory", addr: IPv4Address | IPv6Address
    ) -> None:
        HalfCloseableWrapper.__init__(self, factory, None)  # type: ignore[arg-type]
        # TimeoutMixin's way to run its timer on another clock (the
        # factory's): mypy sees a method replaced.
        self.callLater = factory.clock.callLater  # type: ignore[method-assign,assignment]
        self._buffer: bytes | None = b""
        self._peer = addr
        self._host: IPv4Address | IPv6Address | None = None

    def logPrefix(self) -> str:
        return "ProxyHeaderProtocol"

    def makeConnection(self, transport: ITransport) -> None:
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)

    def connectionMade(self) -> None:
        self.setTimeout(self.factory.timeout)

    def dataReceived(self, data: bytes) -> None:
        if self.wrappedProtocol is not None:
            self.wrappedProtocol.dataReceived(data)
            return
        if self._buffer is None:
            return
        self._buffer += data
        try:
            parsed = parseHeader(self._buffer)
        except InvalidHeader as e:
            self.factory.log.info(
                "closing a connection from {peer} on {endpoint}: {reason}",
                peer=self._peer.host,
                endpoint=self.factory.endpoint,
                reason=e,
            )
            self._buffer = None
            self.setTimeout(None)
            self.transport.loseConnection()
            return
        if parsed is None:
            return
        self.setTimeout(None)
        source, destination, size = parsed
        rest, self._buffer = self._buffer[size:], None
        if source is not None:
            self._peer, self._host = source, destination
        protocol = self.factory.wrappedFactory.buildProtocol(self._peer)
        if protocol is None:
            self.transport.loseConnection()
            return
        self.wrappedProtocol = protocol
        protocol.makeConnection(self)
        if rest and self.wrappedProtocol is not None and self.connected:
            protocol.dataReceived(rest)

    def timeoutConnection(self) -> None:
        self.factory.log.info(
            "closing a connection from {peer} on {endpoint}: no PROXY header"
            " within {timeout} s",
            peer=self._peer.host,
            endpoint=self.factory.endpoint,
            timeout=self.factory.timeout,
        )
        self._buffer = None
        self.transport.loseConnection()

    def getPeer(self) -> IAddress:
        return self._peer

    def getHost(self) -> IAddress:
        return self._host if self._host is not None else self.transport.getHost()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.setTimeout(None)
        self.connected = 0
        self.factory.unregisterProtocol(self)
        wrapped, self.wrappedProtocol = self.wrappedProtocol, None
        if wrapped is not None:
            wrapped.connectionLost(reason)


class ProxyHeaderFactory(WrappingFactory[_ProxyHeaderProtocol]):
    """
    Accepts the PROXY protocol on a listener: see the module docstring.

    @ivar trusted: An L{AddressList <sip2acs.acs.addresses.AddressList>} of the
        balancers allowed to send headers, or L{None} for any address.
    @ivar timeout: Seconds a connection has to send its header.
    """

    log = Logger()
    protocol = _ProxyHeaderProtocol
    noisy = False

    def __init__(
        self,
        wrappedFactory: IProtocolFactory,
        trusted: AddressList | None = None,
        timeout: float = 10.0,
        clock: IReactorTime | None = None,
        endpoint: str = "",
    ) -> None:
        super().__init__(wrappedFactory)
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self.trusted = trusted
        self.timeout = timeout
        self.clock = clock
        self.endpoint = endpoint

    # None refuses the connection, which WrappingFactory's never does.
    def buildProtocol(  # type: ignore[override]
        self, addr: IAddress | None
    ) -> _ProxyHeaderProtocol | None:
        host = getattr(addr, "host", None)
        if self.trusted is not None and host not in self.trusted:
            self.log.info(
                "refused a connection from {peer} on {endpoint}: not a load"
                " balancer allowed to send PROXY headers (proxy-from)",
                peer=host,
                endpoint=self.endpoint,
            )
            return None
        # A TCP listener's peer: an IP address.
        return self.protocol(self, cast("IPv4Address | IPv6Address", addr))
