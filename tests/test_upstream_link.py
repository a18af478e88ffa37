"""
Tests for L{sip2acs.ils.upstream.link} and L{sip2acs.ils.upstream.pool}:
one upstream connection (login, reconnection with backoff, what a failure
means for the request) and the pool that shares them, on a L{Clock} with
a scripted upstream.
"""

from __future__ import annotations

from datetime import datetime

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.client.protocol import SIP2ClientProtocol
from sip2acs.ils.upstream.link import UpstreamLink, UpstreamUnavailable, UpstreamUncertain
from sip2acs.ils.upstream.pool import UpstreamPool
from sip2acs.ils.upstream.settings import UpstreamLogin
from sip2acs.ils.upstream.stats import UpstreamStats
from sip2acs.sip import codec
from sip2acs.sip.exchange import ClientCore


class ScriptedUpstream:
    """
    Connections to nowhere: each is a L{SIP2ClientProtocol} on a
    L{StringTransport}; the test reads what it wrote and answers.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.protocols: list[SIP2ClientProtocol] = []
        self.refuse = False
        self.autoLogin: bool | None = True

    def connect(self) -> Deferred[SIP2ClientProtocol]:
        if self.refuse:
            return fail(ConnectionRefusedError("Connection refused"))
        protocol = SIP2ClientProtocol(self.clock, ClientCore(peer="ils:5550"), timeout=5.0)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.protocols.append(protocol)
        original = transport.write

        def write(data: bytes) -> None:
            original(data)
            if data.startswith(b"93") and self.autoLogin is not None:
                protocol.dataReceived(b"94%d\r" % (self.autoLogin,))

        transport.write = write  # type: ignore[method-assign]
        return succeed(protocol)

    def sent(self, index: int = -1) -> list[bytes]:
        protocol = self.protocols[index]
        transport = protocol.transport
        assert isinstance(transport, StringTransport)
        return transport.value().split(b"\r")[:-1]

    def answer(self, data: bytes, index: int = -1) -> None:
        self.protocols[index].dataReceived(data)

    def drop(self, index: int = -1) -> None:
        self.protocols[index].connectionLost(Failure(ConnectionRefusedError("gone")))


ITEM = codec.ItemInformation(
    transactionDate=datetime(2026, 12, 1, 12, 0), institutionId="MAIN", itemIdentifier="I0001"
)
ANSWER = b"1803020120261201    120000ABI0001|AJA title|\r"


def makeLink(upstream: ScriptedUpstream, clock: Clock, login: bool = True) -> UpstreamLink:
    return UpstreamLink(
        clock,
        upstream.connect,
        UpstreamLogin("gw", "secret", "MAIN") if login else None,
        "upstream ils:5550",
        UpstreamStats(),
        retryInitial=1.0,
        retryMax=8.0,
        jitter=lambda: 1.0,
    )


class LinkTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.upstream = ScriptedUpstream(self.clock)
        self.link = makeLink(self.upstream, self.clock)

    def request(self) -> Deferred[codec.Message]:
        return Deferred.fromCoroutine(self.link.request(ITEM))

    def test_logsInThenSends(self) -> None:
        """
        The first request connects, logs in with a 93 (password sent, never
        logged) and then goes out; the answer is the decoded 18.
        """
        d = self.request()
        frames = self.upstream.sent()
        self.assertTrue(frames[0].startswith(b"9300CNgw|COsecret|CPMAIN"))
        self.assertTrue(frames[1].startswith(b"17"))
        self.upstream.answer(ANSWER)
        self.assertEqual(self.successResultOf(d).code, "18")
        self.assertEqual(self.link.stats.connects, 1)

    def test_reusesConnection(self) -> None:
        d = self.request()
        self.upstream.answer(ANSWER)
        self.successResultOf(d)
        d = self.request()
        self.upstream.answer(ANSWER)
        self.successResultOf(d)
        self.assertEqual(len(self.upstream.protocols), 1)

    def test_refusedConnectionIsNotDone(self) -> None:
        """
        A connection refused: the request certainly did not happen; the
        link waits before trying again, doubling up to retryMax.
        """
        self.upstream.refuse = True
        failure = self.failureResultOf(self.request(), UpstreamUnavailable)
        self.assertIn("cannot connect: connection refused", str(failure.value))
        # Within the pause: refused at once, without a connection attempt.
        failure = self.failureResultOf(self.request(), UpstreamUnavailable)
        self.assertIn("next attempt in 1 s", str(failure.value))
        delays = []
        for _ in range(5):
            before = self.clock.seconds()
            self.clock.advance(100)
            self.failureResultOf(self.request(), UpstreamUnavailable)
            delays.append(self.link._retryAt - before - 100)
        self.assertEqual(delays, [2.0, 4.0, 8.0, 8.0, 8.0])
        self.upstream.refuse = False
        self.clock.advance(8)
        d = self.request()
        self.upstream.answer(ANSWER)
        self.successResultOf(d)

    def test_loginRefused(self) -> None:
        self.upstream.autoLogin = False
        failure = self.failureResultOf(self.request(), UpstreamUnavailable)
        self.assertIn("refused the login gw", str(failure.value))
        self.assertNotIn("secret", str(failure.value))

    def test_droppedAfterSendingIsUncertain(self) -> None:
        """
        The connection drops with the request on the wire: uncertain; the
        next request connects again.
        """
        d = self.request()
        self.upstream.drop()
        self.failureResultOf(d, UpstreamUncertain)
        d = self.request()
        self.assertEqual(len(self.upstream.protocols), 2)
        self.upstream.answer(ANSWER)
        self.successResultOf(d)
        self.assertEqual(self.link.stats.losses, 1)

    def test_droppedWhileIdle(self) -> None:
        """
        A connection the upstream closed while idle is replaced before the
        request goes out: the request is not at risk.
        """
        d = self.request()
        self.upstream.answer(ANSWER)
        self.successResultOf(d)
        self.upstream.drop()
        d = self.request()
        self.assertEqual(len(self.upstream.protocols), 2)
        self.upstream.answer(ANSWER)
        self.successResultOf(d)

    def test_timeoutIsUncertain(self) -> None:
        d = self.request()
        self.clock.advance(5)
        self.failureResultOf(d, UpstreamUncertain)

    def test_garbageIsUncertain(self) -> None:
        d = self.request()
        self.upstream.answer(b"\x00\xffgarbage\r")
        self.failureResultOf(d, UpstreamUncertain)

    def test_wrongAnswerIsUncertain(self) -> None:
        d = self.request()
        self.upstream.answer(b"941\r")
        failure = self.failureResultOf(d, UpstreamUncertain)
        self.assertIn("answered a 17 with a 94", str(failure.value))

    def test_resendOnceThenAnswer(self) -> None:
        d = self.request()
        self.upstream.answer(b"96\r")
        self.assertEqual(len([f for f in self.upstream.sent() if f.startswith(b"17")]), 2)
        self.upstream.answer(ANSWER)
        self.successResultOf(d)

    def test_resendTwiceIsNotDone(self) -> None:
        """
        96 to the request and to its resend: the upstream cannot read it,
        so it did not act on it.
        """
        d = self.request()
        self.upstream.answer(b"96\r")
        self.upstream.answer(b"96\r")
        self.failureResultOf(d, UpstreamUnavailable)

    def test_concurrentOpensShareOneAttempt(self) -> None:
        """
        Requests arriving while the link connects share one connection.
        """
        self.upstream.autoLogin = None
        first = Deferred.fromCoroutine(self.link._open())
        second = Deferred.fromCoroutine(self.link._open())
        self.upstream.answer(b"941\r")
        self.assertIs(self.successResultOf(first), self.successResultOf(second))
        self.assertEqual(len(self.upstream.protocols), 1)

    def test_closed(self) -> None:
        self.link.close()
        self.failureResultOf(self.request(), UpstreamUnavailable)


class PoolTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.upstream = ScriptedUpstream(self.clock)
        self.links = [makeLink(self.upstream, self.clock) for _ in range(2)]
        self.pool = UpstreamPool(self.clock, self.links, queueTimeout=3.0)

    def request(self) -> Deferred[codec.Message]:
        return Deferred.fromCoroutine(self.pool.request(ITEM))

    def test_oneRequestPerLink(self) -> None:
        """
        Two requests take two links; a third waits for the first free one.
        """
        first, second, third = self.request(), self.request(), self.request()
        self.assertEqual((self.pool.busy, self.pool.waiting), (2, 1))
        self.assertEqual(len(self.upstream.protocols), 2)
        self.upstream.answer(ANSWER, 1)
        self.successResultOf(second)
        self.assertNoResult(third)
        self.assertEqual(len([f for f in self.upstream.sent(1) if f.startswith(b"17")]), 2)
        self.upstream.answer(ANSWER, 1)
        self.successResultOf(third)
        self.assertNoResult(first)
        self.upstream.answer(ANSWER, 0)
        self.successResultOf(first)
        self.assertEqual((self.pool.busy, self.pool.waiting), (0, 0))

    def test_slowRequestHoldsOnlyItsLink(self) -> None:
        """
        One request that the upstream does not answer holds one link; the
        other keeps serving.
        """
        slow = self.request()
        for _ in range(5):
            d = self.request()
            self.upstream.answer(ANSWER, 1)
            self.successResultOf(d)
        self.assertNoResult(slow)

    def test_waitTooLong(self) -> None:
        self.request(), self.request()
        third = self.request()
        self.clock.advance(3)
        failure = self.failureResultOf(third, UpstreamUnavailable)
        self.assertIn("all 2 upstream connections stayed busy for 3 seconds", str(failure.value))
        self.assertEqual(self.pool.waiting, 0)

    def test_cancelWhileWaiting(self) -> None:
        self.request(), self.request()
        third = self.request()
        third.cancel()
        self.assertEqual(self.pool.waiting, 0)
        self.failureResultOf(third)

    def test_prefersConnectedLink(self) -> None:
        d = self.request()
        self.upstream.answer(ANSWER)
        self.successResultOf(d)
        for _ in range(3):
            d = self.request()
            self.upstream.answer(ANSWER)
            self.successResultOf(d)
        self.assertEqual(len(self.upstream.protocols), 1)

    def test_close(self) -> None:
        self.request(), self.request()
        third = self.request()
        self.pool.close()
        self.failureResultOf(third, UpstreamUnavailable)
        self.failureResultOf(self.request(), UpstreamUnavailable)


class CancelTests(SynchronousTestCase):
    def test_cancelInFlight(self) -> None:
        """
        A request given up while the upstream has it (the session's ILS
        timeout): the connection is closed (a late answer must not be
        taken for the next request's) and the link is free again.
        """
        clock = Clock()
        upstream = ScriptedUpstream(clock)
        pool = UpstreamPool(clock, [makeLink(upstream, clock)])
        d = Deferred.fromCoroutine(pool.request(ITEM))
        self.assertEqual(pool.busy, 1)
        d.cancel()
        self.failureResultOf(d)
        self.assertEqual(pool.busy, 0)
        transport = upstream.protocols[0].transport
        assert isinstance(transport, StringTransport)
        self.assertTrue(transport.disconnecting)
