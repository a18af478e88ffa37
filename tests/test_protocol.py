"""
Tests for L{sip2acs.transports.protocol}: framing, flow control and timeouts of the
raw SIP2 transport.

Most tests talk to a real server on a 127.0.0.1 loopback socket, the way a
kiosk does; the timer tests drive the same protocol on a
L{StringTransport} with a L{Clock}.
"""

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.ils.memory import MemoryILS
from sip2acs.sip import codec
from tests.loopback import (
    ADA,
    ADA_PIN,
    FREE_ITEM,
    OTHER_ITEM,
    LoopbackServer,
    captureLogs,
    connectInMemory,
    login,
    makeConfig,
    makeILS,
    request,
    withChecksum,
)


def patronStatus(patron=ADA, sequence=None, **fields):
    """
    A 23 for C{patron}.
    """
    return request(
        codec.PatronStatus, sequence=sequence, patronIdentifier=patron, **fields
    )


def itemInformation(item=FREE_ITEM, sequence=None):
    """
    A 17 for C{item}.
    """
    return request(codec.ItemInformation, sequence=sequence, itemIdentifier=item)


def checkout(item=FREE_ITEM, patron=ADA, sequence=None):
    """
    An 11 checking C{item} out to C{patron}.
    """
    return request(
        codec.Checkout,
        sequence=sequence,
        patronIdentifier=patron,
        itemIdentifier=item,
    )


def messages(events):
    """
    The text of captured log events.
    """
    return [formatEvent(event) for event in events]


class SlowCheckoutILS(MemoryILS):
    """
    A memory ILS whose checkouts answer only when the test says so.

    @ivar pending: C{(deferred, result)} for each checkout not answered
        yet; fire C{deferred} with C{result} to answer it.
    """

    def __init__(self, *args, **kwargs):
        MemoryILS.__init__(self, *args, **kwargs)
        self.pending = []

    def checkout(self, terminal, request):
        results = []
        MemoryILS.checkout(self, terminal, request).addCallback(results.append)
        d = Deferred()
        self.pending.append((d, results[0]))
        return d

    def answerNext(self):
        """
        Answer the oldest pending checkout.
        """
        d, result = self.pending.pop(0)
        d.callback(result)


class FramingTests(TestCase):
    """
    Frames end at CR, CRLF or a bare LF; the stray bytes real kiosks send
    around frames are tolerated. All over a loopback socket.
    """

    def setUp(self):
        self.acs = LoopbackServer(self)

    @inlineCallbacks
    def test_carriageReturn(self):
        """
        A frame ending in CR (the standard terminator) is answered, with a
        CR-terminated reply.
        """
        client = yield self.acs.connect()
        reply = yield client.exchange(login() + b"\r")
        self.assertEqual(reply, b"941")
        self.assertEqual(client.data, b"941\r")

    @inlineCallbacks
    def test_crlf(self):
        """
        A kiosk ending every frame with CRLF gets exactly one reply per
        frame: the LF is not taken for a frame of its own, nor for garbage.
        """
        events = captureLogs(self)
        client = yield self.acs.connect()
        self.assertEqual((yield client.exchange(login() + b"\r\n")), b"941")
        first = yield client.exchange(patronStatus(sequence=1) + b"\r\n")
        second = yield client.exchange(itemInformation(sequence=2) + b"\r\n")
        self.assertEqual(codec.decode(first).message.code, "24")
        self.assertEqual(codec.decode(first).sequence, 1)
        self.assertEqual(codec.decode(second).message.code, "18")
        self.assertEqual(codec.decode(second).sequence, 2)
        self.assertEqual(client.frames, [])
        self.assertEqual(client.data.count(b"\r"), 3)
        self.assertEqual(client.server.session.frames.badFrames, 0)
        self.assertFalse(
            [text for text in messages(events) if "unreadable" in text]
        )

    @inlineCallbacks
    def test_bareLineFeed(self):
        """
        A bare LF ends a frame too.
        """
        client = yield self.acs.connect()
        self.assertEqual((yield client.exchange(login() + b"\n")), b"941")
        reply = yield client.exchange(itemInformation(sequence=4) + b"\n")
        self.assertEqual(codec.decode(reply).message.itemIdentifier, FREE_ITEM)
        self.assertEqual(client.frames, [])

    @inlineCallbacks
    def test_strayLineFeedAtFrameStart(self):
        """
        A LF at the start of a frame (left over from a CRLF sender whose CR
        ended the previous frame) is dropped.
        """
        client = yield self.acs.connect()
        self.assertEqual((yield client.exchange(b"\n" + login() + b"\r")), b"941")
        reply = yield client.exchange(b"\n" + patronStatus(sequence=0) + b"\r")
        decoded = codec.decode(reply)
        self.assertEqual(
            (decoded.message.code, decoded.message.patronIdentifier), ("24", ADA)
        )

    @inlineCallbacks
    def test_trailingDelimiters(self):
        """
        Trailing C{|||} after the last field, or before the error-detection
        trailer, is tolerated.
        """
        client = yield self.acs.connect()
        self.assertEqual((yield client.exchange(login() + b"|||\r")), b"941")
        plain = yield client.exchange(itemInformation() + b"||\r")
        self.assertEqual(codec.decode(plain).message.itemIdentifier, FREE_ITEM)
        checked = withChecksum(
            b"2300120250314    101500AODEMO|AA" + ADA.encode() + b"|AC||||AY5AZ"
        )
        reply = codec.decode((yield client.exchange(checked + b"\r")))
        self.assertEqual(
            (reply.message.code, reply.message.personalName, reply.sequence),
            ("24", "Ada Quillfeather", 5),
        )
        status = yield client.exchange(b"9900802.00|||\r")
        self.assertEqual(codec.decode(status).message.code, "98")

    @inlineCallbacks
    def test_emptyFramesIgnored(self):
        """
        Empty frames (a run of terminators) get no reply: each real
        request gets exactly one reply, in order.
        """
        client = yield self.acs.connect()
        client.send(b"\r\r\r" + login() + b"\r\r\n\r\n")
        client.send(b"\n\r" + itemInformation(sequence=1) + b"\r\r\r")
        client.send(b"\r" + itemInformation(OTHER_ITEM, sequence=2) + b"\r")
        replies = yield client.replies(3)
        self.assertEqual(replies[0], b"941")
        self.assertEqual(
            [codec.decode(r).message.itemIdentifier for r in replies[1:]],
            [FREE_ITEM, OTHER_ITEM],
        )
        # One more request: its reply is the next frame, so nothing extra
        # was sent for the empty frames.
        status = yield client.exchange(b"9900802.00\r")
        self.assertEqual(status[:2], b"98")
        self.assertEqual(client.data.count(b"\r"), 4)

    @inlineCallbacks
    def test_twoMessagesInOnePacket(self):
        """
        Two requests written at once (one packet, one read by the server)
        get two replies, in order.
        """
        client = yield self.acs.loggedIn()
        packet = (
            itemInformation(OTHER_ITEM, sequence=1) + b"\r"
            + patronStatus(sequence=2) + b"\r"
        )
        client.send(packet)
        first, second = yield client.replies(2)
        self.assertIn(packet, client.server.reads)
        self.assertEqual(
            (codec.decode(first).message.code, codec.decode(first).sequence),
            ("18", 1),
        )
        self.assertEqual(
            (codec.decode(second).message.code, codec.decode(second).sequence),
            ("24", 2),
        )

    @inlineCallbacks
    def test_loginAndRequestInOnePacket(self):
        """
        A request sent in the same packet as the login waits for the login
        to be checked (which happens off the reactor thread) and is then
        answered as a logged-in request.
        """
        client = yield self.acs.connect()
        client.send(login() + b"\r" + itemInformation() + b"\r")
        first, second = yield client.replies(2)
        self.assertEqual(first, b"941")
        self.assertEqual(codec.decode(second).message.titleIdentifier, "Clockwork Gardens")

    @inlineCallbacks
    def test_messageSplitOverThreePackets(self):
        """
        One request arriving in three packets (three reads) is reassembled
        and answered once.
        """
        client = yield self.acs.loggedIn()
        frame = patronStatus(sequence=3, patronPassword=ADA_PIN) + b"\r"
        pieces = [frame[:7], frame[7:30], frame[30:]]
        yield client.sendInPieces(pieces)
        reply = codec.decode((yield client.reply()))
        self.assertEqual(client.server.reads[-3:], pieces)
        self.assertEqual(
            (reply.message.code, reply.message.validPatronPassword, reply.sequence),
            ("24", True, 3),
        )
        self.assertEqual(client.frames, [])

    @inlineCallbacks
    def test_terminatorInItsOwnPacket(self):
        """
        A frame whose CR arrives in a packet of its own is answered when the
        CR arrives.
        """
        client = yield self.acs.loggedIn()
        yield client.sendInPieces([itemInformation(sequence=7), b"\r"])
        reply = codec.decode((yield client.reply()))
        self.assertEqual((reply.message.code, reply.sequence), ("18", 7))


class FrameSizeTests(TestCase):
    """
    A frame longer than the listener's maximum closes the connection and is
    logged.
    """

    @inlineCallbacks
    def test_frameOverMaximumCloses(self):
        """
        A terminated frame one byte over C{maxFrame} closes the connection
        with no reply, and the server logs why.
        """
        events = captureLogs(self)
        acs = LoopbackServer(self, config=makeConfig(maxFrame=256))
        client = yield acs.loggedIn()
        frame = itemInformation()
        frame += b"ZZ" + b"x" * (256 - len(frame) - 2) + b"!"
        self.assertEqual(len(frame), 257)
        client.send(frame + b"\r")
        yield client.waitForClose()
        self.assertEqual(client.data, b"941\r")
        self.assertIn(
            "frame from 127.0.0.1 longer than 256 bytes; closing", messages(events)
        )

    @inlineCallbacks
    def test_frameAtMaximumAnswered(self):
        """
        A frame of exactly C{maxFrame} bytes (unknown fields padding it) is
        answered.
        """
        acs = LoopbackServer(self, config=makeConfig(maxFrame=256))
        client = yield acs.loggedIn()
        frame = itemInformation()
        frame += b"ZZ" + b"x" * (256 - len(frame) - 3) + b"|"
        self.assertEqual(len(frame), 256)
        reply = yield client.exchange(frame + b"\r")
        self.assertEqual(codec.decode(reply).message.itemIdentifier, FREE_ITEM)

    @inlineCallbacks
    def test_unterminatedFrameOverDefaultMaximumCloses(self):
        """
        With the default maximum (16 KiB), bytes that never end a frame
        close the connection once there are more than 16 KiB of them.
        """
        events = captureLogs(self)
        acs = LoopbackServer(self)
        self.assertEqual(acs.listener.maxFrame, 16384)
        client = yield acs.loggedIn()
        client.send(b"23" + b"7" * 16383)
        yield client.waitForServerBytes(client.server.bytesReceived + 16385)
        self.assertTrue(client.connected)
        client.send(b"7")
        yield client.waitForClose()
        self.assertEqual(client.data, b"941\r")
        self.assertIn(
            "frame from 127.0.0.1 longer than 16384 bytes; closing",
            messages(events),
        )


class GarbageTests(TestCase):
    """
    Frames that are not SIP2 requests: before login the connection is
    closed silently, after login the SC is asked to resend, and several in
    a row close it.
    """

    def setUp(self):
        self.acs = LoopbackServer(self)

    @inlineCallbacks
    def test_garbageBeforeLogin(self):
        """
        A connection whose first frame is garbage (here, an HTTP request)
        is closed without any reply.
        """
        client = yield self.acs.connect()
        client.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        yield client.waitForClose()
        self.assertEqual(client.data, b"")

    @inlineCallbacks
    def test_binaryGarbageBeforeLogin(self):
        """
        Binary garbage with a CR in it (a TLS hello on the raw port, say) is
        closed without any reply.
        """
        client = yield self.acs.connect()
        client.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r")
        yield client.waitForClose()
        self.assertEqual(client.data, b"")

    @inlineCallbacks
    def test_requestBeforeLogin(self):
        """
        A valid request other than 93 as the first message closes the
        connection with no reply, and never reaches the adapter.
        """
        client = yield self.acs.connect()
        client.send(checkout() + b"\r")
        yield client.waitForClose()
        self.assertEqual(client.data, b"")
        self.assertEqual(self.acs.adapter.calls, [])

    @inlineCallbacks
    def test_garbageAfterLogin(self):
        """
        After login, a garbage frame is answered with a 96 (no checksum:
        there was none to mirror) and the connection stays usable.
        """
        client = yield self.acs.loggedIn()
        self.assertEqual((yield client.exchange(b"hello?\r")), b"96")
        self.assertEqual((yield client.exchange(b"42\r")), b"96")
        reply = yield client.exchange(itemInformation() + b"\r")
        self.assertEqual(codec.decode(reply).message.code, "18")

    @inlineCallbacks
    def test_fiveGarbageFramesClose(self):
        """
        Five garbage frames in a row get five 96s and then the connection
        is closed; frames after the fifth are not read.
        """
        client = yield self.acs.loggedIn()
        client.send(b"".join(b"junk%d\r" % (n,) for n in range(1, 8)))
        yield client.waitForClose()
        self.assertEqual(client.data, b"941\r" + b"96\r" * 5)

    @inlineCallbacks
    def test_goodFrameResetsGarbageCount(self):
        """
        Only garbage frames in a row count: four, a good request, and four
        more leave the connection open.
        """
        client = yield self.acs.loggedIn()
        junk = b"junk\r" * 4
        client.send(junk + itemInformation() + b"\r" + junk)
        replies = yield client.replies(9)
        self.assertEqual(replies[:4] + replies[5:], [b"96"] * 8)
        self.assertEqual(replies[4][:2], b"18")
        reply = yield client.exchange(b"9900802.00\r")
        self.assertEqual(reply[:2], b"98")


class OneRequestInFlightTests(TestCase):
    """
    Only one request per connection is in flight: the next frame is not
    even read until the reply to the previous one is written, so replies
    stay in order however late the adapter answers.
    """

    @inlineCallbacks
    def test_pipelinedRequestsAnsweredInOrder(self):
        """
        A slow checkout followed, in the same packet, by an item lookup the
        adapter could answer at once: the lookup is not dispatched until
        the checkout's reply is written, and the replies come in request
        order.
        """
        adapter = makeILS(SlowCheckoutILS)
        acs = LoopbackServer(self, adapter=adapter)
        client = yield acs.loggedIn()
        packet = checkout(sequence=1) + b"\r" + itemInformation(OTHER_ITEM, sequence=2) + b"\r"
        before = client.server.bytesReceived
        client.send(packet)
        yield client.waitForServerBytes(before + len(packet))

        self.assertEqual(adapter.calls, [("checkout", ADA, FREE_ITEM)])
        self.assertEqual(len(adapter.pending), 1)
        self.assertTrue(client.server.paused)
        self.assertEqual(client.data, b"941\r")

        adapter.answerNext()
        self.assertEqual(
            adapter.calls,
            [("checkout", ADA, FREE_ITEM), ("lookupItem", OTHER_ITEM)],
        )
        first, second = yield client.replies(2)
        first, second = codec.decode(first), codec.decode(second)
        self.assertEqual(
            (first.message.code, first.sequence, first.message.ok), ("12", 1, True)
        )
        self.assertEqual((second.message.code, second.sequence), ("18", 2))
        self.assertFalse(client.server.paused)

    @inlineCallbacks
    def test_secondSlowRequestWaitsForFirst(self):
        """
        Two slow checkouts in one packet: the second reaches the adapter
        only after the first is answered, and each reply follows its own
        request.
        """
        adapter = makeILS(SlowCheckoutILS)
        acs = LoopbackServer(self, adapter=adapter)
        client = yield acs.loggedIn()
        packet = checkout(sequence=1) + b"\r" + checkout(OTHER_ITEM, sequence=2) + b"\r"
        before = client.server.bytesReceived
        client.send(packet)
        yield client.waitForServerBytes(before + len(packet))
        self.assertEqual(len(adapter.pending), 1)
        adapter.answerNext()
        first = codec.decode((yield client.reply()))
        self.assertEqual(len(adapter.pending), 1)
        self.assertEqual(
            adapter.calls,
            [("checkout", ADA, FREE_ITEM), ("checkout", ADA, OTHER_ITEM)],
        )
        adapter.answerNext()
        second = codec.decode((yield client.reply()))
        self.assertEqual(
            [(r.sequence, r.message.itemIdentifier) for r in (first, second)],
            [(1, FREE_ITEM), (2, OTHER_ITEM)],
        )


class LoopbackTimeoutTests(TestCase):
    """
    The login and idle timeouts close real connections.
    """

    @inlineCallbacks
    def test_loginTimeoutRealTime(self):
        """
        A connection that never logs in is closed, with no reply, after the
        listener's login timeout (0.2 s here, on the real reactor).
        """
        from twisted.internet import reactor

        acs = LoopbackServer(self, config=makeConfig(loginTimeout=0.2))
        started = reactor.seconds()
        client = yield acs.connect()
        yield client.waitForClose()
        self.assertGreater(reactor.seconds() - started, 0.15)
        self.assertEqual(client.data, b"")

    @inlineCallbacks
    def test_loginTimeout(self):
        """
        With the sessions' timers on a clock: an unauthenticated connection
        is still open just before the login timeout and closed, with no
        reply, when it expires.
        """
        clock = Clock()
        acs = LoopbackServer(
            self, config=makeConfig(loginTimeout=5, idleTimeout=60), clock=clock
        )
        client = yield acs.connect()
        clock.advance(4.9)
        self.assertFalse(client.server.transport.disconnecting)
        clock.advance(0.1)
        yield client.waitForClose()
        self.assertEqual(client.data, b"")

    @inlineCallbacks
    def test_idleTimeoutAfterLogin(self):
        """
        Once logged in, the connection is subject to the idle timeout
        instead of the login timeout; every request restarts it.
        """
        clock = Clock()
        acs = LoopbackServer(
            self, config=makeConfig(loginTimeout=5, idleTimeout=60), clock=clock
        )
        client = yield acs.loggedIn()
        clock.advance(59)
        self.assertFalse(client.server.transport.disconnecting)
        reply = yield client.exchange(b"9900802.00\r")
        self.assertEqual(reply[:2], b"98")
        clock.advance(59.9)
        self.assertFalse(client.server.transport.disconnecting)
        clock.advance(0.1)
        yield client.waitForClose()


class TimerTests(SynchronousTestCase):
    """
    Timers and flow control of L{SIP2Protocol}, on a L{StringTransport}
    with a L{Clock}.
    """

    def test_loginTimeout(self):
        """
        An unauthenticated connection is closed exactly when the login
        timeout expires.
        """
        protocol, transport, clock = connectInMemory(
            config=makeConfig(loginTimeout=10)
        )
        clock.advance(9.99)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.01)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")

    def test_partialFrameDoesNotExtendLoginTimeout(self):
        """
        Bytes that do not complete a frame do not keep an unauthenticated
        connection open.
        """
        protocol, transport, clock = connectInMemory(
            config=makeConfig(loginTimeout=10)
        )
        frame = login()
        for offset in range(9):
            protocol.dataReceived(frame[offset : offset + 1])
            clock.advance(1)
        self.assertFalse(transport.disconnecting)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_emptyFramesDoNotExtendLoginTimeout(self):
        """
        Empty frames are not activity: they do not restart the timer.
        """
        protocol, transport, clock = connectInMemory(
            config=makeConfig(loginTimeout=10)
        )
        for _ in range(10):
            clock.advance(1)
            protocol.dataReceived(b"\r\n")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")

    def test_idleTimeoutReplacesLoginTimeout(self):
        """
        After a successful login the idle timeout applies: the connection
        outlives the login timeout and closes after C{idleTimeout} of
        silence.
        """
        protocol, transport, clock = connectInMemory(
            config=makeConfig(loginTimeout=10, idleTimeout=120)
        )
        protocol.dataReceived(login() + b"\r")
        self.assertEqual(transport.value(), b"941\r")
        clock.advance(119)
        self.assertFalse(transport.disconnecting)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_failedLoginKeepsLoginTimeout(self):
        """
        A refused login leaves the connection under the login timeout.
        """
        protocol, transport, clock = connectInMemory(
            config=makeConfig(loginTimeout=10, idleTimeout=120)
        )
        clock.advance(5)
        protocol.dataReceived(login(password="guess") + b"\r")
        self.assertEqual(transport.value(), b"940\r")
        clock.advance(10)
        self.assertTrue(transport.disconnecting)

    def test_statusDoesNotExtendLoginTimeout(self):
        """
        Where 99 is answered before login, answered 99s do not extend the
        login timeout: the SC must log in within it of connecting.
        """
        protocol, transport, clock = connectInMemory(
            config=makeConfig(loginTimeout=10, statusBeforeLogin=True)
        )
        for _ in range(9):
            protocol.dataReceived(b"9900302.00\r")
            clock.advance(1)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(transport.value().count(b"\r98"), 8)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_noIdleTimeout(self):
        """
        With C{idleTimeout} L{None}, a logged-in connection has no timer.
        """
        protocol, transport, clock = connectInMemory(
            config=makeConfig(loginTimeout=10, idleTimeout=None)
        )
        protocol.dataReceived(login() + b"\r")
        self.assertEqual(transport.value(), b"941\r")
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(86400)
        self.assertFalse(transport.disconnecting)

    def test_timerCancelledWhenConnectionLost(self):
        """
        Losing the connection cancels the timeout, leaving no delayed call
        behind.
        """
        protocol, transport, clock = connectInMemory()
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_readingPausedWhileRequestInFlight(self):
        """
        While the adapter works on a request, frames already buffered wait
        (one request in flight); they are answered in order once the reply
        is written. A kiosk that sends one request at a time costs no
        transport pause.
        """
        adapter = makeILS(SlowCheckoutILS)
        protocol, transport, clock = connectInMemory(adapter=adapter)
        protocol.dataReceived(login() + b"\r")
        transport.clear()
        protocol.dataReceived(checkout() + b"\r" + itemInformation() + b"\r")
        self.assertTrue(protocol.paused)
        self.assertEqual(transport.producerState, "producing")
        self.assertEqual(transport.value(), b"")
        self.assertNotIn(("lookupItem", FREE_ITEM), adapter.calls)
        adapter.answerNext()
        self.assertFalse(protocol.paused)
        replies = transport.value().split(b"\r")
        self.assertEqual([r[:2] for r in replies], [b"12", b"18", b""])

    def test_backPressureOnFlood(self):
        """
        An SC that keeps sending while its request is in flight is pushed
        back on TCP once more than a frame's worth waits, and reading
        resumes when the reply is out; every buffered request is answered.
        """
        adapter = makeILS(SlowCheckoutILS)
        protocol, transport, clock = connectInMemory(
            adapter=adapter, config=makeConfig(maxFrame=256)
        )
        protocol.dataReceived(login() + b"\r")
        transport.clear()
        protocol.dataReceived(checkout() + b"\r")
        for _ in range(12):
            protocol.dataReceived(itemInformation() + b"\r")
        self.assertEqual(transport.producerState, "paused")
        adapter.answerNext()
        self.assertEqual(transport.producerState, "producing")
        replies = transport.value().split(b"\r")
        self.assertEqual([r[:2] for r in replies], [b"12"] + [b"18"] * 12 + [b""])

    def test_lateReplyAfterTimeoutDropped(self):
        """
        When the idle timeout closes a connection while a request is in
        flight, the late reply is not written and reading does not resume.
        """
        adapter = makeILS(SlowCheckoutILS)
        protocol, transport, clock = connectInMemory(
            adapter=adapter, config=makeConfig(idleTimeout=20), ilsTimeout=60
        )
        protocol.dataReceived(login() + b"\r")
        transport.clear()
        protocol.dataReceived(checkout() + b"\r" + itemInformation() + b"\r")
        clock.advance(20)
        self.assertTrue(transport.disconnecting)
        adapter.answerNext()
        self.assertEqual(transport.value(), b"")
        self.assertTrue(protocol.paused)
        self.assertNotIn(("lookupItem", FREE_ITEM), adapter.calls)

