# -*- test-case-name: tests.test_faultproxy -*-
"""
A deliberately faulty SIP2 upstream for the gateway's tests: L{FaultProxy}
listens on 127.0.0.1 (an ephemeral port) and relays every client
connection to a real SIP2 server over a connection of its own, frame by
frame, doing to the requests a test has planned what real networks and
overloaded ILS servers do: answer late (L{Delay}), drop the connection
before or after the request reached the server (L{DropBeforeForward},
L{DropAfterForward}), answer with garbage (L{Garbage}) or a 96
(L{Resend}), or never answer (L{Silence}). L{FaultProxy.down} makes the
server look gone (connects refused) until L{FaultProxy.up}.

    proxy = FaultProxy(reactor, "127.0.0.1", upstreamPort)
    port = yield proxy.start()
    self.addCleanup(proxy.stop)
    proxy.plan(DropAfterForward(), match=commands("11"))   # the next checkout

Frames are cut at CR (a CRLF is one terminator: the LF goes along with
the next frame, where every SIP2 reader skips it) and relayed with their
bytes unchanged. SIP2 is strictly one request, then its answer, on each
connection: the proxy handles a client's requests one at a time, each
once the one before is finished (answered, or given a fault that ends
it), so that each answer is matched to its request. Empty frames are
dropped. The telnet login prelude is not supported (its prompts carry no
terminator).

Logs name the command and the fault, never the frame: it may carry a PIN.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IReactorTime
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from sip2acs.sip import codec

__all__ = [
    "Delay",
    "DropAfterForward",
    "DropBeforeForward",
    "Fault",
    "FaultProxy",
    "Garbage",
    "ProxyCounts",
    "Resend",
    "Silence",
    "commands",
]


# -- faults -------------------------------------------------------------------


@attrs.frozen
class Fault:
    """
    What the proxy does to one request frame instead of relaying it
    faithfully.
    """

    @property
    def kind(self) -> str:
        """
        The fault's name, its key in L{ProxyCounts.faulted} (C{"Delay"}, ...).
        """
        return type(self).__name__


@attrs.frozen
class Delay(Fault):
    """
    Forward the request; hold the upstream's answer C{seconds} before
    passing it on (on the proxy's clock).
    """

    seconds: float


@attrs.frozen
class DropBeforeForward(Fault):
    """
    Close the client's connection (and its upstream connection): the
    request never reaches the upstream.
    """


@attrs.frozen
class DropAfterForward(Fault):
    """
    Forward the request, wait for its answer, swallow it and close both
    connections: the operation happened, the client never learns it did.
    """


@attrs.frozen
class Garbage(Fault):
    """
    Answer with C{data} (terminator included, if any) instead of
    forwarding the request.
    """

    data: bytes


@attrs.frozen
class Resend(Fault):
    """
    Answer 96 (request SC resend) instead of forwarding the request, as a
    server does whose checksum check failed: C{96AZFEF6} when the request
    carries an C{AZ} checksum, C{96} alone otherwise.
    """


@attrs.frozen
class Silence(Fault):
    """
    Swallow the request and never answer it, keeping the connection open;
    the client's next request is relayed as usual.
    """


_CHECKSUMMED = re.compile(rb"AZ[0-9A-Fa-f]{4}\Z")


def _resendFor(request: bytes) -> bytes:
    """
    The 96 that answers C{request}: with a checksum when it has one.
    """
    if _CHECKSUMMED.search(request) is None:
        return b"96\r"
    prefix = b"96AZ"
    return prefix + codec.checksum(prefix).encode("ascii") + b"\r"


# -- matching -----------------------------------------------------------------


def commands(*codes: str) -> Callable[[bytes], bool]:
    """
    A C{match} for L{FaultProxy.plan}: frames whose command code is one of
    C{codes} (C{commands("11", "09")}: checkouts and checkins).
    """
    wanted = frozenset(code.encode("ascii") for code in codes)

    def match(frame: bytes) -> bool:
        return frame[:2] in wanted

    return match


_notLoginOrStatus = commands("93", "99")


def _anyOperation(frame: bytes) -> bool:
    """
    The default C{match}: any frame but a 93 login or a 99 status.
    """
    return not _notLoginOrStatus(frame)


@attrs.define
class _Planned:
    match: Callable[[bytes], bool]
    fault: Fault


# -- counts -------------------------------------------------------------------


@attrs.define
class ProxyCounts:
    """
    What a L{FaultProxy} has done since it was made.

    @ivar accepted: Client connections accepted.
    @ivar upstreamFailed: Client connections closed because the upstream
        could not be reached.
    @ivar requests: Request frames received from clients.
    @ivar forwarded: Request frames written to the upstream.
    @ivar answered: Upstream answers passed on to clients (delayed ones
        once released).
    @ivar held: Upstream answers a L{Delay} held back (released or not).
    @ivar faulted: Faults applied, by kind (L{Fault.kind}: C{"Delay"},
        C{"Silence"}, ...); a kind never applied is absent (C{get(kind,
        0)}).
    """

    accepted: int = 0
    upstreamFailed: int = 0
    requests: int = 0
    forwarded: int = 0
    answered: int = 0
    held: int = 0
    faulted: dict[str, int] = attrs.Factory(dict)


# -- the connections ----------------------------------------------------------


class _Frames:
    """
    Received bytes cut at CR into frames, each kept with its raw bytes.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """
        Add received bytes.

        @return: The frames now complete, as C{(text, raw)}: the frame
            without CR and LF, and its bytes as received (terminator
            included). Empty frames are left out.
        """
        self._buffer += data
        frames: list[tuple[bytes, bytes]] = []
        while True:
            end = self._buffer.find(b"\r")
            if end < 0:
                return frames
            if self._buffer[end + 1 : end + 2] == b"\n":
                end += 1
            raw, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
            text = raw.strip(b"\r\n")
            if text.strip(b"\x00"):
                frames.append((text, raw))


@attrs.define
class _Current:
    """
    The request a client connection handles: forwarded, and waiting for
    its answer.
    """

    code: str
    fault: Fault | None


class _Upstream(Protocol):
    """
    The proxy's connection to the upstream on behalf of one client.
    """

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.lost: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.client.upstreamData(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.client.upstreamLost()
        self.lost.callback(None)


class _Client(Protocol):
    """
    The proxy's side of one client's connection.
    """

    log = Logger()

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.lost: Deferred[None] = Deferred()
        self.upstream: _Upstream | None = None
        self._connecting: Deferred[_Upstream] | None = None
        self._requests = _Frames()
        self._answers = _Frames()
        self._waiting: deque[tuple[bytes, bytes]] = deque()
        self._current: _Current | None = None
        self._held: IDelayedCall | None = None
        self._closing = False

    # -- the client's side --

    def connectionMade(self) -> None:
        proxy = self.proxy
        proxy.counts.accepted += 1
        proxy._clients.add(self)
        endpoint = TCP4ClientEndpoint(
            proxy.reactor, proxy.upstreamHost, proxy.upstreamPort, timeout=proxy.connectTimeout
        )
        connecting = self._connecting = connectProtocol(endpoint, _Upstream(self))
        connecting.addCallbacks(self._upstreamConnected, self._upstreamFailed)

    def dataReceived(self, data: bytes) -> None:
        frames = self._requests.feed(data)
        self.proxy.counts.requests += len(frames)
        self._waiting.extend(frames)
        self._next()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closing = True
        self.proxy._clients.discard(self)
        if self._held is not None and self._held.active():
            self._held.cancel()
        self._held = None
        if self._connecting is not None:
            self._connecting.cancel()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.loseConnection()
        self.lost.callback(None)

    def close(self) -> None:
        """
        Close the client's connection and its upstream connection.
        """
        self._closing = True
        self._waiting.clear()
        if self.transport is not None:
            self.transport.loseConnection()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.loseConnection()

    # -- the upstream's side --

    def _upstreamConnected(self, upstream: _Upstream) -> None:
        self._connecting = None
        self.upstream = upstream
        self.proxy._upstreams.add(upstream)
        upstream.lost.addCallback(lambda ignored: self.proxy._upstreams.discard(upstream))
        if self._closing:
            assert upstream.transport is not None
            upstream.transport.loseConnection()
            return
        self._next()

    def _upstreamFailed(self, failure: Failure) -> None:
        self._connecting = None
        if self._closing:
            return
        self.proxy.counts.upstreamFailed += 1
        self.log.info(
            "fault proxy: upstream {host}:{port} unreachable ({why}); closing the client",
            host=self.proxy.upstreamHost, port=self.proxy.upstreamPort,
            why=failure.getErrorMessage(),
        )
        self.close()

    def upstreamData(self, data: bytes) -> None:
        """
        Bytes from the upstream: pass each answer on as the fault of the
        request it answers says.
        """
        for _text, raw in self._answers.feed(data):
            current = self._current
            if current is None or self._held is not None:
                # Nobody asked: pass it on (transparency over judgement).
                self._write(raw)
                continue
            fault = current.fault
            if isinstance(fault, DropAfterForward):
                self.log.info("fault proxy: swallowed the answer to a {code}; closing",
                              code=current.code)
                self._current = None
                self.close()
                return
            if isinstance(fault, Delay):
                self.proxy.counts.held += 1
                self._held = self.proxy.clock.callLater(fault.seconds, self._release, raw)
                continue
            self._answer(raw)

    def upstreamLost(self) -> None:
        """
        The upstream connection ended: so does the client's.
        """
        self.upstream = None
        self.close()

    # -- requests one at a time --

    def _next(self) -> None:
        while (
            self._current is None
            and self._waiting
            and self.upstream is not None
            and not self._closing
        ):
            text, raw = self._waiting.popleft()
            self._handle(text, raw)

    def _handle(self, text: bytes, raw: bytes) -> None:
        code = text[:2].decode("ascii", "replace")
        fault = self.proxy._faultFor(text)
        if fault is not None:
            counts = self.proxy.counts
            counts.faulted[fault.kind] = counts.faulted.get(fault.kind, 0) + 1
            self.log.info("fault proxy: {fault!r} on a {code}", fault=fault, code=code)
        if isinstance(fault, DropBeforeForward):
            self.close()
        elif isinstance(fault, Garbage):
            self._write(fault.data)
        elif isinstance(fault, Resend):
            self._write(_resendFor(text))
        elif isinstance(fault, Silence):
            pass
        else:
            assert self.upstream is not None and self.upstream.transport is not None
            self._current = _Current(code, fault)
            self.upstream.transport.write(raw)
            self.proxy.counts.forwarded += 1

    def _release(self, raw: bytes) -> None:
        self._held = None
        self._answer(raw)

    def _answer(self, raw: bytes) -> None:
        self._current = None
        self.proxy.counts.answered += 1
        self._write(raw)
        self._next()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(data)


class _ClientFactory(Factory):
    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    def buildProtocol(self, addr: Any) -> _Client:
        return _Client(self.proxy)


# -- the proxy ----------------------------------------------------------------


class FaultProxy:
    """
    A SIP2-frame-aware TCP proxy on 127.0.0.1 that injects the faults a
    test plans.

    Each client connection gets its own connection to the upstream, opened
    when the client connects (the client's requests wait for it); if the
    upstream cannot be reached, the client's connection is closed. When
    either connection of a pair ends, the proxy closes the other.

    @ivar port: The port it listens on (0 before L{start}); L{up} listens
        on the same one again.
    @ivar counts: L{ProxyCounts}.
    @ivar reactor: Carries the sockets.
    @ivar clock: Times L{Delay}s.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        upstreamHost: str,
        upstreamPort: int,
        clock: IReactorTime | None = None,
        connectTimeout: float = 5.0,
    ) -> None:
        """
        @param reactor: An L{IReactorTCP} and L{IReactorTime}.
        @param upstreamHost: The upstream SIP2 server's IPv4 address.
        @param upstreamPort: Its port.
        @param clock: What times L{Delay} (a L{Clock
            <twisted.internet.task.Clock>} in a test that advances time
            itself); the reactor by default.
        @param connectTimeout: Seconds to wait for each upstream connection.
        """
        self.reactor = reactor
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.clock: IReactorTime = reactor if clock is None else clock
        self.connectTimeout = connectTimeout
        self.port = 0
        self.counts = ProxyCounts()
        self._listening: IListeningPort | None = None
        self._plans: list[_Planned] = []
        self._clients: set[_Client] = set()
        self._upstreams: set[_Upstream] = set()

    # -- listening --

    def start(self) -> Deferred[int]:
        """
        Listen on 127.0.0.1, an ephemeral port.

        @return: A Deferred firing with the port (also L{port}).
        """
        self._listen(0)
        return succeed(self.port)

    def stop(self) -> Deferred[None]:
        """
        Stop listening and close every connection; forget the faults not
        applied yet.

        @return: A Deferred firing once every connection is closed.
        """
        self._plans.clear()
        return self.down()

    def down(self) -> Deferred[None]:
        """
        Make the upstream look gone: stop listening (connects are refused)
        and close every connection, until L{up}.

        @return: A Deferred firing once the port and every connection are
            closed.
        """
        waits: list[Deferred[Any]] = []
        if self._listening is not None:
            listening, self._listening = self._listening, None
            stopped = listening.stopListening()
            if stopped is not None:
                waits.append(stopped)
        for client in list(self._clients):
            waits.append(client.lost)
            client.close()
        for upstream in list(self._upstreams):
            waits.append(upstream.lost)
            if upstream.transport is not None:
                upstream.transport.loseConnection()
        self.log.info("fault proxy on port {port} is down", port=self.port)
        done = gatherResults(waits, consumeErrors=True)
        return done.addCallback(lambda ignored: None)

    def up(self) -> Deferred[None]:
        """
        Listen again, on the same port as before L{down}.

        @return: A Deferred firing once listening (failing with
            L{CannotListenError <twisted.internet.error.CannotListenError>}
            if another program took the port meanwhile).
        """
        if self._listening is None:
            self._listen(self.port)
        return succeed(None)

    def _listen(self, port: int) -> None:
        listening = self._listening = self.reactor.listenTCP(
            port, _ClientFactory(self), interface="127.0.0.1"
        )
        self.port = listening.getHost().port
        self.log.info("fault proxy listening on port {port}, relaying to {host}:{upstream}",
                      port=self.port, host=self.upstreamHost, upstream=self.upstreamPort)

    # -- faults --

    def plan(self, *faults: Fault, match: Callable[[bytes], bool] | None = None) -> None:
        """
        Give the next request frames that C{match} accepts these faults, one
        per frame, in order, on whichever connection they arrive; frames
        nothing planned for pass unchanged. A frame takes the earliest
        planned fault whose C{match} accepts it.

        @param match: Called with a request frame (no terminator); by
            default any frame that is not a 93 login or a 99 status. See
            L{commands}.
        """
        if match is None:
            match = _anyOperation
        self._plans.extend(_Planned(match, fault) for fault in faults)

    @property
    def planned(self) -> list[Fault]:
        """
        The faults planned and not applied yet, in order.
        """
        return [planned.fault for planned in self._plans]

    def _faultFor(self, frame: bytes) -> Fault | None:
        """
        Take the fault planned for C{frame}, if any.
        """
        for index, planned in enumerate(self._plans):
            if planned.match(frame):
                del self._plans[index]
                return planned.fault
        return None
