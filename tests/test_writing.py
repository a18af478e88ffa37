"""
Tests for L{sip2acs.transports.writing.writeNow}, over real loopback TCP.
"""

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.transports.writing import writeNow


class _Server(protocol.Protocol):
    def __init__(self, connected):
        self.connected_ = connected

    def connectionMade(self):
        self.connected_.callback(self)


class _Collector(protocol.Protocol):
    def __init__(self, expected):
        self.expected = expected
        self.data = b""
        self.done = defer.Deferred()

    def dataReceived(self, data):
        self.data += data
        if len(self.data) >= self.expected and not self.done.called:
            self.done.callback(self.data)


class WriteNowTests(TestCase):
    @defer.inlineCallbacks
    def pair(self, expected):
        connected = defer.Deferred()
        factory = protocol.Factory.forProtocol(lambda: _Server(connected))
        port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        self.addCleanup(port.stopListening)
        client = yield connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), _Collector(expected))
        server = yield connected
        self.addCleanup(server.transport.loseConnection)
        self.addCleanup(client.transport.loseConnection)
        return server, client

    @defer.inlineCallbacks
    def test_smallFrameSentAtOnce(self):
        """
        A frame on an idle connection is sent at once: the reactor is never
        asked to watch the socket for writing.
        """
        server, client = yield self.pair(10)
        writeNow(server.transport, b"98YYYYNN\r")
        self.assertNotIn(server.transport, reactor.getWriters())
        writeNow(server.transport, b"x")
        self.assertEqual((yield client.done), b"98YYYYNN\rx")

    @defer.inlineCallbacks
    def test_restBuffered(self):
        """
        What the socket does not take goes through Twisted's buffer, and
        later writes queue behind it, in order.
        """
        big = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than a socket buffer
        server, client = yield self.pair(len(big) + 3)
        writeNow(server.transport, big)
        self.assertIn(server.transport, reactor.getWriters())
        writeNow(server.transport, b"end")
        data = yield client.done
        self.assertEqual(data, big + b"end")

    def test_otherTransports(self):
        """
        Any other transport is written to as usual.
        """
        transport = StringTransport()
        writeNow(transport, b"99")
        self.assertEqual(transport.value(), b"99")


class ClosedTests(SynchronousTestCase):
    def test_disconnected(self):
        """
        A transport that is not connected gets the write (and ignores it, as
        Twisted's transports do).
        """
        transport = StringTransport()
        transport.loseConnection()
        writeNow(transport, b"x")
        self.assertEqual(transport.value(), b"x")
