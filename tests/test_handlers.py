"""
Tests for the seams of the ACS core: the handler table
(L{sip2acs.acs.handlers}), refusals (L{sip2acs.acs.refusals}), the framing
of responses (L{sip2acs.acs.wire}), the ILS watchdog
(L{sip2acs.acs.watchdog}), the connection interface and registry
(L{sip2acs.acs.interfaces}, L{sip2acs.acs.registry}).

No sockets: connections are L{StringTransport}s and time a L{Clock}.
"""

from datetime import datetime

import attrs
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from sip2acs.acs import handlers
from sip2acs.acs.frames import MAX_BAD_FRAMES, FrameChecks, Reply, Request
from sip2acs.acs.interfaces import ISIPConnection
from sip2acs.acs.refusals import ADAPTER_OPERATIONS, NEGATIVE, REFUSALS, refusal
from sip2acs.acs.registry import ConnectionRegistry
from sip2acs.acs.watchdog import ILSWatchdog
from sip2acs.acs.wire import WireFormat, wrapPrint
from sip2acs.sip import codec
from sip2acs.sip.spec import OPERATIONS, RESPONSE_TO
from tests.loopback import ADA, connectInMemory, login, request


class HandlerTableTests(SynchronousTestCase):
    """
    L{handlers.HANDLERS} answers every request of the one operation table.
    """

    def test_everyRequestHasAHandler(self) -> None:
        """
        Every request of L{OPERATIONS} has a handler, except those the frame
        pipeline answers itself; there is no handler for anything else.
        """
        expected = {
            o.request for o in OPERATIONS if o.name not in handlers.PIPELINE_OPERATIONS
        }
        self.assertEqual(set(handlers.HANDLERS), expected)
        self.assertEqual(
            {o.name for o in OPERATIONS if o.request not in handlers.HANDLERS},
            set(handlers.PIPELINE_OPERATIONS),
        )
        for handler in handlers.HANDLERS.values():
            self.assertTrue(callable(handler))

    def test_pipelineOperationsExist(self) -> None:
        """
        The operations the pipeline answers are operations of the table.
        """
        self.assertLessEqual(
            set(handlers.PIPELINE_OPERATIONS), {o.name for o in OPERATIONS}
        )

    def test_missingHandler(self) -> None:
        """
        Building the table fails when an operation has no handler.
        """
        table = dict(handlers._BY_OPERATION)
        del table["hold"]
        self.patch(handlers, "_BY_OPERATION", table)
        error = self.assertRaises(RuntimeError, handlers._handlers)
        self.assertIn("missing ['hold']", str(error))

    def test_unknownHandler(self) -> None:
        """
        Building the table fails when a handler answers no operation.
        """
        table = dict(handlers._BY_OPERATION, fortune=handlers.status.scStatus)
        self.patch(handlers, "_BY_OPERATION", table)
        error = self.assertRaises(RuntimeError, handlers._handlers)
        self.assertIn("unknown ['fortune']", str(error))

    def test_sessionDispatchesThroughTable(self) -> None:
        """
        The session answers a request with the handler the table names for
        its code.
        """
        protocol, transport, clock = connectInMemory()
        seen = []

        def stub(session, message):
            seen.append((session, message.patronIdentifier))
            return succeed(
                refusal("23", message, "stubbed", session.now(), session.institution.id)
            )

        original = handlers.HANDLERS["23"]
        handlers.HANDLERS["23"] = stub
        self.addCleanup(handlers.HANDLERS.__setitem__, "23", original)
        protocol.dataReceived(login() + b"\r")
        transport.clear()
        protocol.dataReceived(
            request(codec.PatronStatus, patronIdentifier=ADA, patronPassword="") + b"\r"
        )
        self.assertEqual(seen, [(protocol.session, ADA)])
        response = codec.decode(transport.value().rstrip(b"\r")).message
        self.assertEqual((response.code, response.screenMessage), ("24", ("stubbed",)))


class RefusalTests(SynchronousTestCase):
    """
    L{refusal} builds the negative answer to each adapter request.
    """

    def test_everyAdapterRequestRefusable(self) -> None:
        """
        Every request that goes to the adapter has negative values, and its
        refusal is the response the operation table gives it.
        """
        self.assertEqual(set(NEGATIVE), set(ADAPTER_OPERATIONS))
        for code, (cls, _) in REFUSALS.items():
            self.assertEqual(cls.spec.code, RESPONSE_TO[code])

    def test_echoes(self) -> None:
        """
        A refusal carries the date, the screen message and the identifiers
        of the request that its response has fields for.
        """
        when = datetime(2025, 3, 14, 10, 15)
        frame = request(codec.Checkout, patronIdentifier="P1", itemIdentifier="B1")
        message = codec.decode(frame).message
        response = refusal("11", message, "No.", when, "DEMO")
        self.assertEqual(
            (
                response.code,
                response.ok,
                response.patronIdentifier,
                response.itemIdentifier,
                response.institutionId,
                response.screenMessage,
                response.transactionDate,
            ),
            ("12", False, "P1", "B1", "DEMO", ("No.",), when),
        )

    def test_undecodedRequest(self) -> None:
        """
        A request that could not be decoded echoes nothing.
        """
        when = datetime(2025, 3, 14, 10, 15)
        response = refusal("23", None, "Malformed request.", when, "")
        self.assertEqual(
            (response.code, response.patronIdentifier, response.language),
            ("24", "", "000"),
        )


@attrs.frozen
class _Account:
    encoding: str = "ascii"
    delimiter: str = "|"
    terminator: bytes = b"\r\n"
    errorDetection: str = "auto"


class _Session:
    """
    What L{FrameChecks} sees of a session.
    """

    log = Logger()
    peer = "192.0.2.7"

    def __init__(self, authenticated: bool = True, statusBeforeLogin: bool = False) -> None:
        self.authenticated = authenticated
        self.listener = attrs.make_class("Listener", ["statusBeforeLogin"])(statusBeforeLogin)

    def refuse(self, code: str, request: object, text: str) -> codec.Message:
        return refusal(code, request, text, datetime(2025, 3, 3, 10, 0), "DEMO")


class FrameChecksTests(SynchronousTestCase):
    """
    L{FrameChecks} answers what it can before dispatch, and hands back the
    rest as a L{Request}.
    """

    wire = WireFormat()

    def test_request(self) -> None:
        """
        A readable request is handed back to dispatch, keyed by its frame
        when it carries a checksum.
        """
        checks = FrameChecks(_Session())
        frame = request(codec.ItemInformation, sequence=1, checksum=True, itemIdentifier="B1")
        checked = checks.check(frame, self.wire)
        assert isinstance(checked, Request)
        self.assertIsInstance(checked.decoded.message, codec.ItemInformation)
        self.assertEqual(checked.key, frame)
        plain = checks.check(request(codec.ItemInformation, itemIdentifier="B1"), self.wire)
        assert isinstance(plain, Request)
        self.assertIsNone(plain.key)

    def test_resendAndReplay(self) -> None:
        """
        A 97 gets the last response again, as does a byte-identical
        retransmission of the request it answered.
        """
        checks = FrameChecks(_Session())
        frame = request(codec.ItemInformation, sequence=1, checksum=True, itemIdentifier="B1")
        checked = checks.check(frame, self.wire)
        assert isinstance(checked, Request)
        checks.answered(b"18...\r", checked)
        self.assertEqual(checks.check(frame, self.wire), Reply(b"18...\r"))
        self.assertEqual(checks.check(b"97", self.wire), Reply(b"18...\r"))

    def test_badFramesInARow(self) -> None:
        """
        After login an unreadable frame gets a 96; the
        L{MAX_BAD_FRAMES}th in a row also closes.
        """
        checks = FrameChecks(_Session())
        replies = [checks.check(b"garbage", self.wire) for _ in range(MAX_BAD_FRAMES)]
        self.assertEqual(replies[0], Reply(b"96\r"))
        self.assertEqual([r.close for r in replies], [False] * (MAX_BAD_FRAMES - 1) + [True])

    def test_loginGate(self) -> None:
        """
        Before login only a 93 passes, and a 99 where the listener allows
        it; anything else closes the connection.
        """
        checks = FrameChecks(_Session(authenticated=False))
        self.assertIsInstance(checks.check(login(), self.wire), Request)
        status = request(codec.SCStatus, statusCode="0", maxPrintWidth=40, protocolVersion="2.00")
        self.assertEqual(checks.check(status, self.wire), Reply(close=True))
        allowed = FrameChecks(_Session(authenticated=False, statusBeforeLogin=True))
        self.assertIsInstance(allowed.check(status, self.wire), Request)


class WireFormatTests(SynchronousTestCase):
    """
    L{WireFormat} frames a session's responses.
    """

    def test_beforeLogin(self) -> None:
        """
        Without an account, frames are ASCII, C{|}, CR, mirrored.
        """
        self.assertEqual(WireFormat.forAccount(None), WireFormat("ascii", "|", b"\r", "auto"))

    def test_mirrors(self) -> None:
        """
        A response to a checksummed request is checksummed with its
        sequence number, and ends in the account's terminator.
        """
        wire = WireFormat.forAccount(_Account())
        decoded = codec.decode(codec.encode(codec.SCStatus(
            statusCode="0", maxPrintWidth=40, protocolVersion="2.00"), sequence=3,
            checksum=True))
        data = wire.encode(codec.RequestSCResend(), decoded)
        self.assertEqual(data, codec.encode(
            codec.RequestSCResend(), sequence=3, checksum=True) + b"\r\n")
        self.assertEqual(wire.encode(codec.RequestSCResend()), b"96\r\n")

    def test_required(self) -> None:
        """
        An account requiring error detection gets checksums on every
        response and every 96; one with it off gets none.
        """
        required = WireFormat.forAccount(_Account(errorDetection="required"))
        self.assertEqual(required.resendRequest(False), codec.encode(
            codec.RequestSCResend(), checksum=True) + b"\r\n")
        off = WireFormat.forAccount(_Account(errorDetection="off"))
        self.assertEqual(off.resendRequest(True), b"96\r\n")

    def test_wrapPrint(self) -> None:
        """
        Print lines longer than the width are wrapped; others are kept.
        """
        response = codec.EndSessionResponse(
            endSession=True,
            transactionDate=datetime(2025, 3, 14),
            institutionId="DEMO",
            patronIdentifier="P1",
            printLine=("one two three", "four"),
        )
        self.assertIs(wrapPrint(response, None), response)
        self.assertIs(wrapPrint(response, 20), response)
        self.assertEqual(
            wrapPrint(response, 7).printLine, ("one two", "three", "four")
        )


class ILSWatchdogTests(SynchronousTestCase):
    """
    L{ILSWatchdog} cancels an adapter call older than the timeout.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.late: list[None] = []
        self.watchdog = ILSWatchdog(self.clock, lambda: 10.0, lambda: self.late.append(None))

    def test_cancelsAfterTimeout(self) -> None:
        """
        A call that has not answered after the timeout is cancelled.
        """
        d: Deferred[object] = Deferred()
        self.watchdog.watch(d)
        self.clock.advance(9.9)
        self.assertNoResult(d)
        self.clock.advance(0.1)
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.late, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_answeredInTime(self) -> None:
        """
        A call that answered is not cancelled, and the timer is not re-armed.
        """
        d: Deferred[object] = Deferred()
        self.watchdog.watch(d)
        d.callback("ok")
        self.watchdog.answered()
        self.clock.advance(10)
        self.assertEqual(self.successResultOf(d), "ok")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_oneTimer(self) -> None:
        """
        A younger call found when the timer fires gets the time it has left.
        """
        first: Deferred[object] = Deferred()
        self.watchdog.watch(first)
        self.clock.advance(6)
        first.callback(None)
        self.watchdog.answered()
        second: Deferred[object] = Deferred()
        self.watchdog.watch(second)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(4)
        self.assertNoResult(second)
        self.clock.advance(5.9)
        self.assertNoResult(second)
        self.clock.advance(0.1)
        self.failureResultOf(second, CancelledError)

    def test_startedLate(self) -> None:
        """
        A call the adapter cannot withdraw any more (its canceller chains
        the real answer) is reported, and answers later.
        """
        later: Deferred[object] = Deferred()

        def chainLater(failure: Failure) -> Deferred[object]:
            failure.trap(ValueError)
            return later

        # As SerialWorker does: the canceller fails the Deferred with a
        # marker, and an errback chains the real answer.
        d: Deferred[object] = Deferred(lambda d: d.errback(ValueError()))
        d.addErrback(chainLater)
        self.watchdog.watch(d)
        self.clock.advance(10)
        self.assertEqual(self.late, [None])
        later.callback("real")
        self.assertEqual(self.successResultOf(d), "real")

    def test_stop(self) -> None:
        """
        Stopping cancels the timer.
        """
        d: Deferred[object] = Deferred()
        self.watchdog.watch(d)
        self.watchdog.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.watchdog.stop()


@implementer(ISIPConnection)
class _Connection:
    """
    A connection that closes when told to shut down, or never.
    """

    def __init__(self, registry: ConnectionRegistry, obliging: bool = True) -> None:
        self.registry = registry
        self.obliging = obliging
        self.session = None
        self.connectedAt = 0.0
        self.transport = self
        self.aborted = False
        registry.register(self)

    def close(self) -> None:
        self.registry.unregister(self)

    def shutdown(self) -> None:
        if self.obliging:
            self.close()

    def abortConnection(self) -> None:
        self.aborted = True
        self.close()


class ConnectionRegistryTests(SynchronousTestCase):
    """
    L{ConnectionRegistry} keeps the open connections and closes them.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.registry = ConnectionRegistry(self.clock, Logger())

    def test_registerUnregister(self) -> None:
        """
        Registered connections are counted and iterated until unregistered;
        unregistering twice is harmless.
        """
        one = _Connection(self.registry)
        two = _Connection(self.registry)
        self.assertEqual((len(self.registry), set(self.registry)), (2, {one, two}))
        self.assertIn(one, self.registry)
        for connection in self.registry:
            connection.close()
        self.assertFalse(self.registry)
        self.registry.unregister(one)

    def test_shutdownNone(self) -> None:
        """
        With no connection, shutting down is done at once.
        """
        self.assertIsNone(self.successResultOf(self.registry.shutdown(5)))

    def test_shutdownGraceful(self) -> None:
        """
        Each connection is asked to shut down; the result fires once they
        are all gone.
        """
        slow = _Connection(self.registry, obliging=False)
        _Connection(self.registry)
        d = self.registry.shutdown(5, interval=1)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.assertNoResult(d)
        slow.close()
        self.clock.advance(1)
        self.successResultOf(d)
        self.assertFalse(slow.aborted)

    def test_shutdownAborts(self) -> None:
        """
        Connections still open after the timeout are aborted.
        """
        stuck = _Connection(self.registry, obliging=False)
        d = self.registry.shutdown(2, interval=0.5)
        self.clock.pump([0.5] * 3)
        self.assertNoResult(d)
        self.clock.advance(0.5)
        self.successResultOf(d)
        self.assertTrue(stuck.aborted)

    def test_protocolRegisters(self) -> None:
        """
        The raw transport's protocol provides L{ISIPConnection} and is
        registered with its server while it is connected.
        """
        protocol, transport, clock = connectInMemory()
        verifyObject(ISIPConnection, protocol)
        connections = protocol.session.server.connections
        self.assertEqual(list(connections), [protocol])
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(list(connections), [])
