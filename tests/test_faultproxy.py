"""
Tests for L{tests.faultproxy}: a real sip2acs (the embedded SQLite system
with the demo library) on 127.0.0.1, a L{FaultProxy} in front of it, and
kiosks of L{sip2acs.client} talking to the proxy; each fault does to them
what it says. L{Delay}s and the kiosks' timeouts run on a L{Clock} where
the test is about time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from sip2acs.client import SIP2ClientProtocol
from sip2acs.client.endpoints import connect
from sip2acs.sip import codec
from sip2acs.sip.exchange import (
    ClientCore,
    ConnectionFailed,
    NoAnswer,
    ProtocolError,
    ResendRefused,
)
from sip2acs.tools.ports import freePort
from tests.faultproxy import (
    Delay,
    DropAfterForward,
    DropBeforeForward,
    FaultProxy,
    Garbage,
    Resend,
    Silence,
    commands,
)
from tests.fixtures import TIMEOUT, login, request, startDemoILS
from tests.listeners import RawClient, waitFor
from tests.loopback import LoopbackServer
from tests.test_endtoend import LOANS_OF

NOW = datetime(2025, 3, 14, 10, 15)

LOGIN_REQUEST = codec.decode(login()).message
"""
The 93 of the upstream's account C{kiosk}.
"""


def itemInformation(item: str = "I0001") -> codec.Message:
    """
    A 17 asking about C{item} of the demo library.
    """
    return codec.ItemInformation(transactionDate=NOW, institutionId="DEMO", itemIdentifier=item)


def checkout(item: str = "I0001") -> codec.Message:
    """
    A 11 lending C{item} to the demo library's patron C{P0001}.
    """
    return codec.Checkout(
        scRenewalPolicy=False, noBlock=False, transactionDate=NOW, institutionId="DEMO",
        patronIdentifier="P0001", itemIdentifier=item, terminalPassword="",
        patronPassword="1234",
    )


class FaultProxyTests(TestCase):
    """
    A L{FaultProxy} between kiosks and a real sip2acs.
    """

    timeout = 60

    @inlineCallbacks
    def setUp(self) -> Any:
        self.ils = yield startDemoILS(self, NOW)
        self.acs = LoopbackServer(self, adapter=self.ils)
        self.clock = Clock()
        self.proxy = FaultProxy(
            reactor, "127.0.0.1", self.acs.port.getHost().port, clock=self.clock
        )
        port = yield self.proxy.start()
        self.assertEqual(port, self.proxy.port)
        self.addCleanup(self.proxy.stop)

    @inlineCallbacks
    def kiosk(
        self, clock: Clock | None = None, timeout: float = TIMEOUT, loggedIn: bool = True,
        **options: Any,
    ) -> Any:
        """
        Connect a kiosk to the proxy and log it in.

        @param clock: What times the kiosk's answers; the reactor if
            L{None} (the kiosk is then made by L{connect}).
        @param options: L{ClientCore} arguments.
        @return: A Deferred firing with the L{SIP2ClientProtocol}, closed
            when the test ends.
        """
        if clock is None:
            client = yield connect(
                reactor, "127.0.0.1", self.proxy.port, timeout=timeout, **options
            )
        else:
            client = SIP2ClientProtocol(clock, ClientCore(peer="proxy", **options), timeout)
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.proxy.port, TIMEOUT)
            yield connectProtocol(endpoint, client)
        self.addCleanup(self.closed, client)
        if loggedIn:
            response = yield client.request(LOGIN_REQUEST)
            self.assertEqual(response, codec.LoginResponse(ok=True))
        return client

    def closed(self, client: SIP2ClientProtocol) -> Deferred[None]:
        """
        Close C{client}'s connection, if open.

        @return: A Deferred firing once it is closed.
        """
        client.disconnect()
        transport: Any = client.transport
        return waitFor(reactor, lambda: not transport.connected)

    @inlineCallbacks
    def raw(self) -> Any:
        """
        Connect a L{RawClient} to the proxy.

        @return: A Deferred firing with it, closed when the test ends.
        """
        client = RawClient()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.proxy.port, TIMEOUT)
        yield connectProtocol(endpoint, client)

        def close() -> Deferred[None]:
            if client.connected:
                client.transport.loseConnection()
            return client.lost

        self.addCleanup(close)
        return client

    def loansOf(self, barcode: str) -> Deferred[int]:
        """
        How many loans of item C{barcode} the upstream's database holds.
        """
        ils = self.ils
        return ils._defer(lambda: ils._conn.execute(LOANS_OF, (barcode,)).fetchone()[0])

    # -- relaying --

    @inlineCallbacks
    def test_relays(self) -> Any:
        """
        With no fault planned, requests and answers pass unchanged, one
        upstream connection per kiosk, and are counted.
        """
        first = yield self.kiosk()
        second = yield self.kiosk()
        item = yield first.request(itemInformation())
        self.assertEqual(item.circulationStatus, "03")
        out = yield second.request(checkout())
        self.assertTrue(out.ok, out)
        item = yield first.request(itemInformation())
        self.assertEqual(item.circulationStatus, "04")
        counts = self.proxy.counts
        self.assertEqual(
            (counts.accepted, counts.requests, counts.forwarded, counts.answered),
            (2, 5, 5, 5),
        )
        self.assertEqual((counts.faulted, counts.upstreamFailed, counts.held), ({}, 0, 0))
        self.assertEqual(len(self.acs.factory.protocols), 2)

    @inlineCallbacks
    def test_framesInOneWrite(self) -> Any:
        """
        Requests written together, ended by CRLF, are relayed one at a
        time and answered in order.
        """
        client = yield self.raw()
        frames = [login(), request(codec.ItemInformation, itemIdentifier="I0001"),
                  request(codec.ItemInformation, itemIdentifier="I0003")]
        client.transport.write(b"".join(frame + b"\r\n" for frame in frames))
        yield waitFor(reactor, lambda: client.data.count(b"\r") == 3)
        answers = [codec.decode(frame).message for frame in client.data.split(b"\r")[:3]]
        self.assertEqual(answers[0], codec.LoginResponse(ok=True))
        self.assertEqual(
            [(answer.itemIdentifier, answer.circulationStatus) for answer in answers[1:]],
            [("I0001", "03"), ("I0003", "04")],
        )
        self.assertEqual(self.proxy.counts.forwarded, 3)

    # -- the faults --

    @inlineCallbacks
    def test_delay(self) -> Any:
        """
        L{Delay} forwards the request and holds the upstream's answer for
        its seconds on the proxy's clock.
        """
        client = yield self.kiosk()
        self.proxy.plan(Delay(30))
        answer = client.request(itemInformation())
        yield waitFor(reactor, lambda: self.proxy.counts.held == 1)
        self.clock.advance(29)
        self.assertNoResult(answer)
        self.assertEqual(self.proxy.counts.answered, 1)
        self.clock.advance(1)
        item = yield answer
        self.assertEqual(item.itemIdentifier, "I0001")
        self.assertEqual(self.proxy.counts.answered, 2)
        self.assertEqual(self.proxy.counts.faulted, {"Delay": 1})

    @inlineCallbacks
    def test_delayBeyondTimeout(self) -> Any:
        """
        A kiosk whose timeout is shorter than the L{Delay} gives up with
        L{NoAnswer}; the held answer is dropped with the connection.
        """
        client = yield self.kiosk(self.clock, timeout=10)
        self.proxy.plan(Delay(30))
        answer = client.request(checkout())
        yield waitFor(reactor, lambda: self.proxy.counts.held == 1)
        self.clock.advance(10)
        error = yield self.assertFailure(answer, NoAnswer)
        self.assertEqual(str(error), "no response from proxy within 10 seconds")
        yield waitFor(reactor, lambda: not self.clock.getDelayedCalls())
        self.assertEqual(self.proxy.counts.answered, 1)
        loans = yield self.loansOf("I0001")
        self.assertEqual(loans, 1)

    @inlineCallbacks
    def assertDropped(self, fault: DropBeforeForward | DropAfterForward, loans: int) -> Any:
        """
        With C{fault} planned, a kiosk's checkout fails with
        L{ConnectionFailed}, the upstream connection is closed too, and the
        upstream's database then holds C{loans} loans of the item.
        """
        client = yield self.kiosk()
        self.proxy.plan(fault)
        error = yield self.assertFailure(client.request(checkout()), ConnectionFailed)
        self.assertEqual(str(error), "127.0.0.1:%d closed the connection" % (self.proxy.port,))
        held = yield self.loansOf("I0001")
        self.assertEqual(held, loans)
        self.assertEqual(
            (self.proxy.counts.forwarded, self.proxy.counts.answered), (1 + loans, 1)
        )
        self.assertEqual(self.proxy.counts.faulted, {fault.kind: 1})
        yield waitFor(reactor, lambda: not self.acs.server.connections)

    def test_dropBeforeForward(self) -> Any:
        """
        L{DropBeforeForward} closes the kiosk's connection, and the
        checkout never reaches the upstream's database.
        """
        return self.assertDropped(DropBeforeForward(), loans=0)

    def test_dropAfterForward(self) -> Any:
        """
        L{DropAfterForward} lets the checkout happen upstream, swallows the
        answer and closes the kiosk's connection.
        """
        return self.assertDropped(DropAfterForward(), loans=1)

    @inlineCallbacks
    def test_garbage(self) -> Any:
        """
        L{Garbage} answers with its bytes instead of forwarding: the kiosk
        sees a L{ProtocolError}.
        """
        client = yield self.kiosk()
        self.proxy.plan(Garbage(b"\x00\xffxx\r"))
        error = yield self.assertFailure(client.request(checkout()), ProtocolError)
        self.assertIn("sent something that is not a SIP2 response", str(error))
        self.assertEqual(error.frame, b"\x00\xffxx")
        loans = yield self.loansOf("I0001")
        self.assertEqual(loans, 0)
        self.assertEqual(self.proxy.counts.forwarded, 1)

    @inlineCallbacks
    def test_resend(self) -> Any:
        """
        L{Resend} answers 96 instead of forwarding; the kiosk sends the
        request again, which reaches the upstream once.
        """
        client = yield self.kiosk(errorDetection=True)
        self.proxy.plan(Resend())
        exchange = yield client.exchange(checkout())
        self.assertTrue(exchange.decoded.message.ok)
        self.assertEqual(
            exchange.warnings, ("the server asked for the request again (96); resent it",)
        )
        loans = yield self.loansOf("I0001")
        self.assertEqual(loans, 1)
        counts = self.proxy.counts
        self.assertEqual((counts.requests, counts.forwarded), (3, 2))
        self.assertEqual(counts.faulted, {"Resend": 1})

    @inlineCallbacks
    def test_resendTwice(self) -> Any:
        """
        Two L{Resend}s in a row: the kiosk gives up with L{ResendRefused},
        and the request never reached the upstream.
        """
        client = yield self.kiosk()
        self.proxy.plan(Resend(), Resend())
        error = yield self.assertFailure(client.request(checkout()), ResendRefused)
        self.assertIn("answered 96 (request SC resend) twice", str(error))
        self.assertEqual(self.proxy.planned, [])
        self.assertEqual(self.proxy.counts.forwarded, 1)

    @inlineCallbacks
    def test_resendChecksum(self) -> Any:
        """
        The 96 carries a checksum (and no sequence number) exactly when the
        request carries one.
        """
        client = yield self.raw()
        self.proxy.plan(Resend(), Resend(), match=commands("17"))
        client.transport.write(request(codec.ItemInformation, itemIdentifier="I1") + b"\r")
        yield waitFor(reactor, lambda: client.data == b"96\r")
        client.transport.write(
            request(codec.ItemInformation, sequence=3, checksum=True, itemIdentifier="I1")
            + b"\r"
        )
        yield waitFor(reactor, lambda: client.data == b"96\r96AZFEF6\r")
        self.assertEqual(self.proxy.counts.forwarded, 0)

    @inlineCallbacks
    def test_silence(self) -> Any:
        """
        L{Silence} swallows the request and keeps the connection open: the
        kiosk times out with L{NoAnswer}.
        """
        client = yield self.kiosk(self.clock, timeout=10)
        self.proxy.plan(Silence())
        answer = client.request(checkout())
        yield waitFor(reactor, lambda: self.proxy.counts.faulted == {"Silence": 1})
        self.clock.advance(9)
        self.assertNoResult(answer)
        self.assertTrue(client.transport.connected)
        self.clock.advance(1)
        yield self.assertFailure(answer, NoAnswer)
        loans = yield self.loansOf("I0001")
        self.assertEqual(loans, 0)
        self.assertEqual((self.proxy.counts.forwarded, self.proxy.counts.answered), (1, 1))

    @inlineCallbacks
    def test_silenceThenNext(self) -> Any:
        """
        The request after a silenced one is relayed and answered.
        """
        client = yield self.raw()
        self.proxy.plan(Silence(), match=commands("17"))
        client.transport.write(login() + b"\r")
        client.transport.write(request(codec.ItemInformation, itemIdentifier="I0001") + b"\r")
        client.transport.write(request(codec.ItemInformation, itemIdentifier="I0003") + b"\r")
        yield waitFor(reactor, lambda: client.data.count(b"\r") == 2)
        answer = codec.decode(client.data.split(b"\r")[1]).message
        self.assertEqual(answer.itemIdentifier, "I0003")
        self.assertTrue(client.connected)

    # -- planning --

    @inlineCallbacks
    def test_match(self) -> Any:
        """
        Planned faults go to the next frames C{match} accepts, in order;
        by default any but a 93 or a 99. Other frames pass.
        """
        client = yield self.kiosk(loggedIn=False)
        self.proxy.plan(Garbage(b"first\r"), Resend(), match=commands("17"))
        self.proxy.plan(Delay(5))
        self.assertEqual(self.proxy.planned, [Garbage(b"first\r"), Resend(), Delay(5)])
        yield client.request(LOGIN_REQUEST)
        status = codec.SCStatus(statusCode="0", maxPrintWidth=40, protocolVersion="2.00")
        yield client.request(status)
        self.assertEqual(len(self.proxy.planned), 3)
        error = yield self.assertFailure(client.request(itemInformation()), ProtocolError)
        self.assertEqual(error.frame, b"first")
        self.assertEqual(self.proxy.planned, [Resend(), Delay(5)])

    # -- the upstream's connections --

    @inlineCallbacks
    def test_downAndUp(self) -> Any:
        """
        L{FaultProxy.down} closes every connection and refuses new ones;
        L{FaultProxy.up} listens on the same port again.
        """
        client = yield self.kiosk()
        port = self.proxy.port
        yield self.proxy.down()
        yield self.assertFailure(client.request(itemInformation()), ConnectionFailed)
        yield waitFor(reactor, lambda: not self.acs.server.connections)
        yield self.assertFailure(self.kiosk(), ConnectionRefusedError)
        yield self.proxy.up()
        self.assertEqual(self.proxy.port, port)
        again = yield self.kiosk()
        item = yield again.request(itemInformation())
        self.assertEqual(item.circulationStatus, "03")
        self.assertEqual(self.proxy.counts.accepted, 2)

    @inlineCallbacks
    def test_upstreamUnreachable(self) -> Any:
        """
        A client whose upstream connection is refused is closed.
        """
        proxy = FaultProxy(reactor, "127.0.0.1", freePort())
        yield proxy.start()
        self.addCleanup(proxy.stop)
        client = RawClient()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", proxy.port, TIMEOUT)
        yield connectProtocol(endpoint, client)
        client.transport.write(login() + b"\r")
        yield client.lost
        self.assertEqual(client.data, b"")
        self.assertEqual((proxy.counts.accepted, proxy.counts.upstreamFailed), (1, 1))

    @inlineCallbacks
    def test_upstreamCloses(self) -> Any:
        """
        When the upstream closes its connection, the proxy closes the
        client's.
        """
        client = yield self.kiosk()
        for protocol in self.acs.factory.protocols:
            protocol.transport.loseConnection()
        yield self.assertFailure(client.request(itemInformation()), ConnectionFailed)
