# -*- test-case-name: tests.test_upstream_gateway -*-
"""
L{SIP2UpstreamILS}: the gateway adapter. Every operation becomes a SIP2
request to the library's own SIP2 server (the upstream), and its answer
the domain result (see L{sip2acs.ils.upstream.translate}).

Pooled (C{pool-size} N > 0): every kiosk's requests share N upstream
connections logged in as the gateway. Pass-through (C{pool-size = 0}):
each sip2acs account gets its own upstream connection, logged in as the
account's C{upstream-login} (or the gateway's).

What a kiosk gets when the upstream fails (tap.md, "In front of your
ILS", has the table):

  - The request never reached the upstream, or it could not read it
    (L{UpstreamUnavailable}): a lookup fails (the session answers that
    the library system is not available); an operation that changes data
    is refused as I{not done}; a checkin (or an allowed checkout) goes to
    the offline queue instead when the institution has one.
  - The request went out and no usable answer came back
    (L{UpstreamUncertain}): a lookup is asked once more on another
    connection; an operation that changes data is never sent again: the
    kiosk is told the system is unavailable, and a warning for staff names
    the operation, the item and the kiosk, since it may have been done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import clientFromString, connectProtocol
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from sip2acs.client.protocol import SIP2ClientProtocol
from sip2acs.ils import values
from sip2acs.ils.interfaces import IILS, SESSION_OPERATIONS
from sip2acs.ils.upstream import translate
from sip2acs.ils.upstream.link import UpstreamLink, UpstreamUnavailable, UpstreamUncertain
from sip2acs.ils.upstream.offline import (
    OfflineLimitReached,
    OfflineQueue,
    QueuedOperation,
    QueueStatus,
    ReplayReport,
)
from sip2acs.ils.upstream.pool import UpstreamPool
from sip2acs.ils.upstream.settings import UpstreamSettings
from sip2acs.ils.upstream.stats import UpstreamStats
from sip2acs.ils.zones import HOST_ZONE
from sip2acs.sip.exchange import ClientCore

__all__ = ["NOT_DONE", "OFFLINE_CHECKIN", "OFFLINE_CHECKOUT", "SIP2UpstreamILS"]

NOT_DONE = "The library system is not available; nothing was done. Please try again later."
"""
The screen message of an operation the upstream certainly did not act on.
"""

OFFLINE_CHECKIN = (
    "Returned. The library system is offline: the return will be recorded when it is back."
)
OFFLINE_CHECKOUT = (
    "Checked out. The library system is offline: the loan will be recorded when it is back."
)
OFFLINE_LIMIT = (
    "The library system is offline and no more items can be checked out to this card"
    " until it is back."
)

_POLICY = {
    "checkin": "checkin",
    "checkout": "checkout",
    "renew": "renewal",
    "renewAll": "renewal",
    "blockPatron": "statusUpdate",
}
"""
The operations a 98 policy flag can forbid, and the flag.
"""


def _notDone(operation: str) -> object | None:
    """
    The refusal of an operation that changes data and certainly was not
    done, or L{None} where the session's own "not available" answer says
    it (the patron answers of 01 and 25).
    """
    screen = (NOT_DONE,)
    reason = values.Reason.UNAVAILABLE
    if operation in ("checkout", "renew"):
        return values.CirculationResult(ok=False, reason=reason, screenMessages=screen)
    if operation == "checkin":
        return values.CheckinResult(
            ok=False, reason=reason, resensitize=False, screenMessages=screen
        )
    if operation == "renewAll":
        return values.RenewAllResult(ok=False, reason=reason, screenMessages=screen)
    if operation == "hold":
        return values.HoldResult(ok=False, reason=reason, screenMessages=screen)
    if operation == "feePaid":
        return values.PaymentResult(accepted=False, reason=reason, screenMessages=screen)
    if operation == "updateItemStatus":
        return values.ItemStatusResult(ok=False, reason=reason, screenMessages=screen)
    if operation == "endPatronSession":
        return values.SessionEnd(ok=False, screenMessages=screen)
    return None


def _ok(result: object) -> bool:
    """
    Whether an operation's result says yes.
    """
    if isinstance(result, values.PaymentResult):
        return result.accepted
    if isinstance(result, (values.Patron, values.Item)):
        return result.found
    return bool(getattr(result, "ok", True))


@implementer(IILS)
class SIP2UpstreamILS(Service):
    """
    An institution's circulation, forwarded to its upstream SIP2 server.

    @ivar settings: The L{UpstreamSettings}.
    @ivar stats: The L{UpstreamStats} for C{/metrics}.
    @ivar status: The upstream's last L{UpstreamStatus
        <sip2acs.ils.upstream.translate.UpstreamStatus>} (its 98), or
        L{None} before the first.
    """

    log = Logger()
    name: str  # type: ignore[assignment]

    def __init__(
        self,
        settings: UpstreamSettings,
        reactor: Any,
        zone: tzinfo | None = None,
        connect: Callable[[str], Deferred[SIP2ClientProtocol]] | None = None,
    ) -> None:
        """
        @param reactor: The reactor: the clock, and what connects.
        @param connect: C{connect(peer)} opening one upstream connection;
            by default through C{settings.endpoint} on C{reactor}.
        @raise ValueError: The endpoint is not a client endpoint.
        """
        self.settings = settings
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.zone = HOST_ZONE if zone is None else zone
        self._peer = _peerName(settings.endpoint)
        self.name = "sip2:%s" % (self._peer,)
        self.stats = UpstreamStats()
        self.status: translate.UpstreamStatus | None = None
        self._online = True
        # When the upstream last answered anything (the clock's seconds).
        self._lastAnswer: float | None = None
        self._connect = connect or self._endpointConnector(reactor, settings)
        # Pooled: one pool for every kiosk and the 99s. Pass-through: a
        # pool of one per account, and one for the 99s.
        self._pool: UpstreamPool | None = None
        self._accountPools: dict[str, UpstreamPool] = {}
        self._refresh: LoopingCall | None = None
        self.queue: OfflineQueue | None = None
        self.queueStatus: QueueStatus | None = None
        # Whether the offline queue may hold entries: while it does, new
        # checkins join it rather than overtake it.
        self._backlog = False
        if settings.offline is not None:
            self.queue = OfflineQueue(settings.offline.queue, reactor, zone=self.zone)
        if not settings.passThrough:
            self._pool = self._newPool(settings.poolSize, settings.login, "pool")
            self._statusPool = self._pool
        else:
            self._statusPool = self._newPool(1, settings.login, "status")

    @classmethod
    def fromConfig(
        cls,
        institutionId: str,
        options: dict[str, Any],
        reactor: Any,
        zone: tzinfo | None = None,
        accounts: Iterable[tuple[str, str | None, str | None]] = (),
    ) -> SIP2UpstreamILS:
        """
        Build from an institution's table (see L{UpstreamSettings.fromOptions}).

        @raise ValueError: A setting is wrong.
        """
        return cls(UpstreamSettings.fromOptions(institutionId, options, accounts), reactor, zone)

    # -- connections --

    @staticmethod
    def _endpointConnector(
        reactor: Any, settings: UpstreamSettings
    ) -> Callable[[str], Deferred[SIP2ClientProtocol]]:
        try:
            endpoint = clientFromString(reactor, settings.endpoint)
        except Exception as e:
            raise ValueError(
                "upstream %r is not a Twisted client endpoint (e.g."
                " tcp:host=127.0.0.1:port=5550): %s" % (settings.endpoint, e)
            ) from None

        def connect(peer: str) -> Deferred[SIP2ClientProtocol]:
            core = ClientCore(
                encoding=settings.encoding,
                errorDetection=settings.errorDetection,
                terminator=settings.terminator,
                peer=peer,
            )
            protocol = SIP2ClientProtocol(reactor, core, settings.timeout)
            connected: Deferred[SIP2ClientProtocol] = connectProtocol(endpoint, protocol)
            return connected

        return connect

    def _newPool(self, size: int, login: Any, label: str) -> UpstreamPool:
        peer = self._peer
        links = [
            UpstreamLink(
                self.clock,
                lambda: self._connect(peer),
                login,
                "upstream %s (%s %d)" % (peer, label, number + 1) if size > 1
                else "upstream %s (%s)" % (peer, label),
                self.stats,
                connectTimeout=self.settings.connectTimeout,
                retryInitial=self.settings.retryInitial,
                retryMax=self.settings.retryMax,
            )
            for number in range(size)
        ]
        return UpstreamPool(self.clock, links, self.settings.queueTimeout)

    def _poolFor(self, terminal: values.Terminal) -> UpstreamPool:
        if self._pool is not None:
            return self._pool
        pool = self._accountPools.get(terminal.account)
        if pool is None:
            login = self.settings.loginFor(terminal.account)
            pool = self._accountPools[terminal.account] = self._newPool(
                1, login, "account %s" % (terminal.account,)
            )
        return pool

    def _pools(self) -> list[UpstreamPool]:
        """
        Every pool: the status pool (the shared one, pooled) and each
        account's.
        """
        return [self._statusPool, *self._accountPools.values()]

    # -- the service --

    def startService(self) -> Deferred[None]:
        """
        Open the offline queue, if any; then ask the upstream what it
        supports, now and every C{status-interval} seconds. An upstream
        that is down at start is logged, not fatal: requests are answered
        as unavailable (or queued) until it is back.

        @return: A Deferred firing once the offline queue is open, or
            failing with L{OfflineQueueError
            <sip2acs.ils.upstream.offline.OfflineQueueError>} saying why it
            cannot be used.
        """
        Service.startService(self)

        async def start() -> None:
            if self.queue is not None:
                await self.queue.startService()
                self.queueStatus = await self.queue.status()
                self._backlog = self.queueStatus.pending > 0
            self._refresh = LoopingCall(self.refreshStatus)
            self._refresh.clock = self.clock
            self._refresh.start(self.settings.statusInterval, now=True)

        return Deferred.fromCoroutine(start())

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        if self._refresh is not None and self._refresh.running:
            self._refresh.stop()
        for pool in self._pools():
            pool.close()
        if self.queue is not None and self.queue.running:
            stopped: Deferred[None] = self.queue.stopService()
            return stopped
        return succeed(None)

    def refreshStatus(self) -> Deferred[None]:
        """
        Send a 99 upstream and remember its 98; never fails.
        """

        async def refresh() -> None:
            try:
                answer = await self._statusPool.request(
                    translate.statusRequest(self._upstream(None), self._now())
                )
            except (UpstreamUnavailable, UpstreamUncertain) as e:
                self._setOnline(False, str(e))
                await self._readQueueStatus()
                return
            self._lastAnswer = self.clock.seconds()
            status = translate.statusFrom(answer, zone=self.zone)
            if status != self.status:
                self.log.info(
                    "{name}: the upstream supports {supported}",
                    name=self.name,
                    supported=", ".join(sorted(status.supported)) or "nothing",
                )
            self.status = status
            self._setOnline(status.online, "it reports online status N")
            if status.online:
                # Not awaited: a long replay must not hold up /health.
                self.replayQueue()

        return Deferred.fromCoroutine(refresh())

    def _setOnline(self, online: bool, why: str) -> None:
        if online != self._online:
            if online:
                self.log.info("{name}: the upstream is back", name=self.name)
            else:
                self.log.warn(
                    "{name}: the upstream is unavailable: {why}", name=self.name, why=why
                )
        self._online = online

    def online(self) -> bool:
        """
        Whether the upstream answered lately (99's online status).
        """
        return self._online

    def replayQueue(self) -> Deferred[ReplayReport | None]:
        """
        Send what the offline queue holds upstream, in order, if it holds
        anything (see L{OfflineQueue.replay}).
        """
        queue = self.queue
        if queue is None or not self._backlog:
            return succeed(None)

        async def replayed(report: ReplayReport) -> ReplayReport:
            # The queue logs what it replayed and refused.
            self._backlog = report.remaining > 0
            await self._readQueueStatus()
            return report

        return queue.replay(self._replayOne).addCallback(
            lambda report: Deferred.fromCoroutine(replayed(report))
        )

    def _replayOne(self, entry: QueuedOperation) -> Deferred[Any]:
        """
        Send one queued operation upstream. Not done, or not known to be
        done: the Deferred fails, and the replay stops there.
        """
        return Deferred.fromCoroutine(
            self._send(entry.operation, entry.terminal(), (entry.request(),), replay=True)
        )

    async def _readQueueStatus(self) -> None:
        """
        Keep what the status page shows of the offline queue up to date.
        """
        if self.queue is not None and self.queue.running:
            try:
                self.queueStatus = await self.queue.status()
            except Exception:
                self.log.failure("{name}: cannot read the offline queue", name=self.name)

    def summary(self) -> dict[str, Any]:
        """
        What the status page shows of this gateway: the upstream, whether
        it answers, the connections, and the offline queue (as of the last
        status check).
        """
        connections, busy, waiting = self.upstreamGauges()
        queue = self.queueStatus
        return {
            "name": self.name,
            "upstream": self.settings.endpoint,
            "online": self._online,
            "mode": "pass-through" if self.settings.passThrough else "pooled",
            "connections": connections,
            "busy": busy,
            "waiting": waiting,
            "offlineQueue": None if queue is None else {
                "path": queue.path,
                "pending": queue.pending,
                "refusals": queue.refusals,
                "oldest": None if queue.oldest is None else queue.oldest.isoformat(),
            },
        }

    def ready(self) -> bool:
        """
        Whether kiosks should be sent here: the upstream answers, or the
        offline queue takes what it can while it does not.
        """
        return self._online or self.settings.offline is not None

    def healthCheck(self) -> Deferred[None]:
        """
        Fires when the upstream answered within the last
        C{upstream-status-interval} seconds, or answers a 99 now, saying it
        is online; fails otherwise. (A busy pool is no reason to fail:
        its answers count.)
        """

        async def check() -> None:
            recent = self._lastAnswer is not None and (
                self.clock.seconds() - self._lastAnswer < self.settings.statusInterval
            )
            if self._online and recent:
                return
            await self.refreshStatus()
            if not self._online:
                raise UpstreamUnavailable("the upstream %s is unavailable" % (self.name,))

        return Deferred.fromCoroutine(check())

    def upstreamGauges(self) -> tuple[int, int, int]:
        """
        C{(connections, in use, requests waiting)} over every pool.
        """
        pools = self._pools()
        return (
            sum(pool.size for pool in pools),
            sum(pool.busy for pool in pools),
            sum(pool.waiting for pool in pools),
        )

    # -- IILS --

    def supports(self, operation: str) -> bool:
        if operation in SESSION_OPERATIONS:
            return True
        if not self._online and self._offline(operation):
            return True
        status = self.status
        if status is None:
            # Not asked yet: forward, and let the upstream answer.
            return True
        if operation not in status.supported:
            return False
        flag = _POLICY.get(operation)
        return flag is None or bool(getattr(status, flag))

    def lookupPatron(
        self,
        terminal: values.Terminal,
        patronId: str,
        pin: str | None = None,
        summary: values.Summary | None = None,
    ) -> Deferred[values.Patron]:
        return self._forward("lookupPatron", terminal, patronId, pin, summary)

    def lookupItem(self, terminal: values.Terminal, itemId: str) -> Deferred[values.Item]:
        return self._forward("lookupItem", terminal, itemId)

    def checkout(
        self, terminal: values.Terminal, request: values.CheckoutRequest
    ) -> Deferred[values.CirculationResult]:
        return self._forward("checkout", terminal, request)

    def checkin(
        self, terminal: values.Terminal, request: values.CheckinRequest
    ) -> Deferred[values.CheckinResult]:
        return self._forward("checkin", terminal, request)

    def renew(
        self, terminal: values.Terminal, request: values.RenewRequest
    ) -> Deferred[values.CirculationResult]:
        return self._forward("renew", terminal, request)

    def renewAll(
        self,
        terminal: values.Terminal,
        patronId: str,
        pin: str | None = None,
        feeAcknowledged: bool = False,
    ) -> Deferred[values.RenewAllResult]:
        return self._forward("renewAll", terminal, patronId, pin, feeAcknowledged)

    def hold(
        self, terminal: values.Terminal, request: values.HoldRequest
    ) -> Deferred[values.HoldResult]:
        return self._forward("hold", terminal, request)

    def feePaid(
        self, terminal: values.Terminal, payment: values.Payment
    ) -> Deferred[values.PaymentResult]:
        return self._forward("feePaid", terminal, payment)

    def blockPatron(
        self, terminal: values.Terminal, patronId: str, cardRetained: bool, reason: str
    ) -> Deferred[values.Patron]:
        return self._forward("blockPatron", terminal, patronId, cardRetained, reason)

    def enablePatron(
        self, terminal: values.Terminal, patronId: str, pin: str | None = None
    ) -> Deferred[values.Patron]:
        return self._forward("enablePatron", terminal, patronId, pin)

    def updateItemStatus(
        self, terminal: values.Terminal, itemId: str, properties: str
    ) -> Deferred[values.ItemStatusResult]:
        return self._forward("updateItemStatus", terminal, itemId, properties)

    def endPatronSession(
        self, terminal: values.Terminal, patronId: str, pin: str | None = None
    ) -> Deferred[values.SessionEnd]:
        return self._forward("endPatronSession", terminal, patronId, pin)

    # -- forwarding --

    def _upstream(self, terminal: values.Terminal | None) -> translate.Upstream:
        location = terminal.location if terminal is not None else None
        return translate.Upstream(
            institution=self.settings.institution,
            location=location or self.settings.location,
            terminalPassword=self.settings.terminalPassword,
            zone=self.zone,
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.seconds(), self.zone)

    def _forward(self, operation: str, terminal: values.Terminal, *args: Any) -> Deferred[Any]:
        return Deferred.fromCoroutine(self._send(operation, terminal, args))

    async def _send(
        self,
        operation: str,
        terminal: values.Terminal,
        args: tuple[Any, ...],
        replay: bool = False,
    ) -> Any:
        """
        Forward one operation and return its result (see the module's
        docstring for what failures become).

        @param replay: It comes from the offline queue: never queue it
            again, and fail rather than answer "not done".
        """
        if not replay and self._offline(operation) and self._backlog:
            # Older operations wait in the queue: do not overtake them.
            return await self._queue(operation, terminal, args[0])
        translation = translate.TRANSLATIONS[operation]
        upstream = self._upstream(terminal)
        message = translation.request(upstream, self._now(), *args)
        pool = self._poolFor(terminal)
        # A lookup whose answer was lost is asked once more; an operation
        # that changes data never is.
        attempts = 1 if translation.changesData else 2
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                answer = await pool.request(message)
            except UpstreamUnavailable as e:
                self.stats.answered(operation, "unavailable", None)
                self._setOnline(pool.ready, str(e))
                if replay:
                    raise
                if self._offline(operation):
                    return await self._queue(operation, terminal, args[0])
                notDone = _notDone(operation) if translation.changesData else None
                if notDone is None:
                    raise
                self.log.info(
                    "{name}: {operation} for {account}@{peer} not done: {error}",
                    name=self.name, operation=operation, account=terminal.account,
                    peer=terminal.peer, error=e,
                )
                return notDone
            except UpstreamUncertain as e:
                self.stats.answered(operation, "uncertain", None)
                if translation.changesData:
                    self.log.warn(
                        "{name}: {operation}{what} for {account}@{peer} was sent upstream"
                        " and its answer was lost ({error}); it may have been done:"
                        " staff should check it in the ILS",
                        name=self.name, operation=operation, what=_what(args),
                        account=terminal.account, peer=terminal.peer, error=e,
                    )
                    raise
                if attempt + 1 == attempts or e.cancelled:
                    raise
                continue
            result = translation.result(upstream, answer, *args)
            self._lastAnswer = self.clock.seconds()
            self._setOnline(True, "")
            if self._backlog and not replay:
                self.replayQueue()
            self.stats.answered(
                operation, "ok" if _ok(result) else "refused", time.monotonic() - started
            )
            return result
        raise AssertionError("unreachable")  # pragma: no cover


    def _offline(self, operation: str) -> bool:
        """
        Whether C{operation} goes to the offline queue when the upstream
        cannot take it.
        """
        offline = self.settings.offline
        if offline is None:
            return False
        return (operation == "checkin" and offline.checkins) or (
            operation == "checkout" and offline.checkouts
        )

    async def _queue(self, operation: str, terminal: values.Terminal, request: Any) -> Any:
        """
        Take a checkin (or an allowed checkout) into the offline queue and
        answer the kiosk that it was taken.
        """
        queue = self.queue
        offline = self.settings.offline
        assert queue is not None and offline is not None
        if operation == "checkout":
            if request.cancel:
                return _notDone(operation)
            try:
                entry = await queue.add(terminal, request, loanLimit=offline.checkoutLimit)
            except OfflineLimitReached:
                return values.CirculationResult(
                    ok=False, reason=values.Reason.LOAN_LIMIT, screenMessages=(OFFLINE_LIMIT,)
                )
            self._backlog = True
            self._queued(entry, terminal)
            await self._readQueueStatus()
            return values.CirculationResult(
                ok=True,
                desensitize=True,
                dueDate=request.nbDueDate,
                patronValid=True,
                screenMessages=(OFFLINE_CHECKOUT,),
            )
        entry = await queue.add(terminal, request)
        self._backlog = True
        self._queued(entry, terminal)
        await self._readQueueStatus()
        return values.CheckinResult(ok=True, resensitize=True, screenMessages=(OFFLINE_CHECKIN,))

    def _queued(self, entry: QueuedOperation, terminal: values.Terminal) -> None:
        self.log.info(
            "{name}: {operation} of item {item} for {account}@{peer} taken offline"
            " (queue entry {id})",
            name=self.name, operation=entry.operation, item=entry.itemId,
            account=terminal.account, peer=terminal.peer, id=entry.id,
        )


def _what(args: tuple[Any, ...]) -> str:
    """
    The item an operation was about, for staff (never a patron's PIN).
    """
    for arg in args:
        itemId = getattr(arg, "itemId", None)
        if itemId:
            return " of item %s" % (itemId,)
    return ""


def _peerName(endpoint: str) -> str:
    """
    C{host:port} of a client endpoint string, for logs, else the string.
    """
    parts = dict(
        part.split("=", 1) for part in endpoint.split(":")[1:] if "=" in part
    )
    if "host" in parts and "port" in parts:
        return "%s:%s" % (parts["host"], parts["port"])
    return endpoint

