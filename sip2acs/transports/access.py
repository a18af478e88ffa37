# -*- test-case-name: tests.test_access -*-
"""
Network access control on a listener: its allow list of addresses and
networks, and a cap on connections per address (L{AccessGate}). The
address lists themselves are L{sip2acs.acs.addresses}.
"""

from twisted.internet.interfaces import IAddress, IProtocol, IProtocolFactory
from twisted.logger import Logger
from twisted.protocols.policies import WrappingFactory

from sip2acs.acs.addresses import AddressList, addressKey
from sip2acs.transports.halfclose import HalfCloseableWrapper

__all__ = ["AccessGate"]


class AccessGate(WrappingFactory[HalfCloseableWrapper]):
    """
    Guards a listener: a connection from an address outside its allow list,
    or beyond its cap of connections per address, is closed before any
    byte is read (L{buildProtocol} returns L{None}, so the reactor closes
    the socket at once), and the refusal is logged with the address.

    The cap counts on C{addr.host} (normalized); Twisted's own
    C{LimitConnectionsByPeer} cannot be used, it fails on address objects.
    Several kiosks behind one NAT share one address: set the cap with that
    in mind.

    @ivar allow: The L{AddressList}, or L{None} for every address.
    @ivar maxPerAddress: The cap; C{0} for none.
    @ivar counts: Open connections per address key.
    """

    log = Logger()
    noisy = False
    protocol = HalfCloseableWrapper

    def __init__(
        self,
        wrappedFactory: IProtocolFactory,
        allow: AddressList | None = None,
        maxPerAddress: int = 0,
        endpoint: str = "",
    ) -> None:
        super().__init__(wrappedFactory)
        self.allow = allow
        self.maxPerAddress = maxPerAddress
        self.endpoint = endpoint
        self.counts: dict[str, int] = {}

    # Not always a WrappingFactory's wrapper: the wrapped factory's own
    # protocol when nothing is counted, None for a refusal.
    def buildProtocol(  # type: ignore[override]
        self, addr: IAddress | None
    ) -> IProtocol | None:
        host = getattr(addr, "host", None)
        if self.allow is not None and host not in self.allow:
            self.log.info(
                "refused a connection from {peer} on {endpoint}: not in the"
                " listener's allow list",
                peer=host,
                endpoint=self.endpoint,
            )
            return None
        if not self.maxPerAddress:
            # Nothing to count: no wrapper, no cost per byte.
            return self.wrappedFactory.buildProtocol(addr)
        key = addressKey(host)
        if self.counts.get(key, 0) >= self.maxPerAddress:
            self.log.info(
                "refused a connection from {peer} on {endpoint}: it already"
                " has {count} (max-connections-per-address)",
                peer=host,
                endpoint=self.endpoint,
                count=self.counts[key],
            )
            return None
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        protocol = self.protocol(self, wrapped)
        protocol.addressKey = key
        return protocol

    def registerProtocol(self, protocol: HalfCloseableWrapper) -> None:
        super().registerProtocol(protocol)
        key = protocol.addressKey
        self.counts[key] = self.counts.get(key, 0) + 1

    def unregisterProtocol(self, protocol: HalfCloseableWrapper) -> None:
        super().unregisterProtocol(protocol)
        key = protocol.addressKey
        left = self.counts.get(key, 0) - 1
        if left > 0:
            self.counts[key] = left
        else:
            self.counts.pop(key, None)
