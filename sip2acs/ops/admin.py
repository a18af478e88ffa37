# -*- test-case-name: tests.test_admin -*-
"""
The admin HTTP listener: metrics, health, readiness and a status page, for
monitoring and for draining a server before maintenance.

Resources (see L{makeSite}):

  - C{/metrics}: every metric of L{sip2acs.acs.metrics.Metrics}, in the
    Prometheus text format 0.0.4;
  - C{/health}: 200 when the process is up and every ILS adapter answers
    its health check within the timeout, 503 naming each failing
    institution otherwise (JSON both ways);
  - C{/ready}: 200 while the server accepts kiosks, 503 while it drains
    (JSON);
  - C{/} and C{/status}: the dashboard (L{sip2acs.ops.dashboard}): the
    server, its listeners, the connected SCs, per-account counters,
    adapter health, the last errors and the last hour's charts, refreshing
    itself; C{/status.json} gives the same as JSON.

Draining: SIGUSR1 sets the server draining, SIGUSR2 ready again (see
L{DrainService}). Draining only changes what C{/ready} (and the
C{sip2acs_ready} gauge) say, so that a load balancer or a kiosk
management system stops sending new kiosks here: kiosks already connected
keep working, and a kiosk that still connects is served.

The listener keeps no access log (a scraper every few seconds would fill
the log); health changes and drain/resume are logged.

An adapter may offer C{healthCheck()}, returning a Deferred that fires when
its circulation system answers and fails when it does not. Adapters
without one count as healthy.
"""

import json
import secrets
import signal
from typing import Any

from twisted.internet.defer import Deferred, TimeoutError, gatherResults, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from sip2acs.acs.interfaces import ISIPConnection
from sip2acs.acs.metrics import Readiness
from sip2acs.acs.server import ACSServer
from sip2acs.ils.interfaces import IILS, optionalFlag
from sip2acs.ops.dashboard import Dashboard, connectedKiosks, gatewaySummaries
from sip2acs.ops.metrics import CONTENT_TYPE, Scrape, exposition, makeRegistry
from sip2acs.ops.signals import SignalService

__all__ = [
    "HEALTH_TIMEOUT",
    "AdminSite",
    "DrainService",
    "HealthResource",
    "MetricsResource",
    "ReadyResource",
    "StatusResource",
    "connectedKiosks",
    "gatewaySummaries",
    "makeSite",
]

HEALTH_TIMEOUT = 5.0
"""
Seconds an adapter has to answer a health check before C{/health} reports
it failing.
"""


def _commonHeaders(request: Request) -> None:
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"x-content-type-options", b"nosniff")


def _json(request: Request, code: int, value: object) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    _commonHeaders(request)
    return json.dumps(value, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def _account(connection: ISIPConnection) -> str | None:
    account = connection.session.account
    return account.login if account is not None else None


class MetricsResource(Resource):
    """
    C{/metrics}: the Prometheus text exposition, written by
    C{prometheus_client} from a registry of this resource's own (see
    L{makeRegistry <sip2acs.ops.metrics.makeRegistry>}), on the reactor
    thread.

    @ivar acs: The L{ACSServer <sip2acs.acs.server.ACSServer>} (not C{server}:
        L{Resource.putChild} overwrites that attribute).
    @ivar registry: The C{prometheus_client} L{CollectorRegistry
        <prometheus_client.registry.CollectorRegistry>} it writes.
    """

    def __init__(self, server: ACSServer) -> None:
        Resource.__init__(self)
        self.acs = server
        self.registry = makeRegistry(server.metrics, self.scrape)

    def scrape(self) -> Scrape:
        """
        What the server holds now besides its counters.

        @rtype: L{Scrape <sip2acs.ops.metrics.Scrape>}
        """
        server = self.acs
        return Scrape(
            connections=[
                (connection.session.listener.endpoint, _account(connection) or "")
                for connection in server.connections
            ],
            listeners=[listener.endpoint for listener in server.config.listeners],
            ready=server.readiness.ready,
            upstreams=[
                adapter
                for adapter in {id(a): a for a in server.adapters.values()}.values()
                if hasattr(adapter, "upstreamGauges")
            ],
        )

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE)
        _commonHeaders(request)
        return exposition(self.registry)


class ReadyResource(Resource):
    """
    C{/ready}: 200 C{{"status": "ready"}} while the server accepts kiosks,
    503 C{{"status": "draining"}} while it drains, and 503 C{{"status":
    "unavailable", "institutions": [...]}} while an institution's system
    is away and nothing can be taken in its absence (a gateway whose
    upstream is down, without an offline queue).
    """

    def __init__(self, server: ACSServer) -> None:
        Resource.__init__(self)
        self.acs = server

    def render_GET(self, request: Request) -> bytes:
        if not self.acs.readiness.ready:
            return _json(request, 503, {"status": "draining"})
        away = sorted(
            name
            for name, adapter in self.acs.adapters.items()
            if not optionalFlag(adapter, "ready")
        )
        if away:
            return _json(request, 503, {"status": "unavailable", "institutions": away})
        return _json(request, 200, {"status": "ready"})


class HealthResource(Resource):
    """
    C{/health}: whether the process is up and every ILS adapter answers.

    Each distinct adapter is checked once per request (institutions sharing
    an adapter share its result); concurrent requests share one check per
    adapter, so a stuck circulation system does not collect a queue of
    checks.

    The answer is 200 with C{{"status": "ok", "institutions": {...}}}, or
    503 with C{"status": "failing"}, C{"failing"} listing the institutions
    whose adapter failed, and for each institution its C{status}
    (C{"ok"} or C{"failing"}), C{adapter} name and C{error}.
    """

    log = Logger()

    def __init__(
        self, server: ACSServer, clock: IReactorTime, timeout: float = HEALTH_TIMEOUT
    ) -> None:
        """
        @param server: The L{ACSServer <sip2acs.acs.server.ACSServer>}.
        @param clock: The L{IReactorTime} timing the checks out.
        @param timeout: Seconds an adapter has to answer.
        """
        Resource.__init__(self)
        self.acs = server
        self.clock = clock
        self.timeout = timeout
        self._inflight: dict[int, list[Deferred[object]]] = {}
        self._failing: set[str] = set()
        self._checking = False
        self.lastResult: dict[str, dict[str, Any]] | None = None
        self.lastCheckedAt: float | None = None

    def _check(self, adapter: IILS) -> "Deferred[object]":
        """
        Run C{adapter.healthCheck()}, or join the run in progress.

        @return: A Deferred of its own for the caller, timed out after
            C{timeout} seconds.
        """
        check = getattr(adapter, "healthCheck", None)
        if check is None:
            return succeed(None)
        key = id(adapter)
        waiting = self._inflight.get(key)
        start = waiting is None
        if waiting is None:
            waiting = self._inflight[key] = []
        d: Deferred[object] = Deferred()
        waiting.append(d)
        if start:
            maybeDeferred(check).addBoth(self._checked, key)
        return d.addTimeout(self.timeout, self.clock)

    def _checked(self, result: object, key: int) -> None:
        for d in self._inflight.pop(key):
            if not d.called:
                if isinstance(result, Failure):
                    d.errback(result)
                else:
                    d.callback(result)

    def check(self) -> "Deferred[dict[str, dict[str, Any]]]":
        """
        Check every distinct adapter once, log what changed and keep the
        result (L{lastResult}, L{lastCheckedAt}).

        @return: A Deferred firing with institution to C{{"status": "ok"
            or "failing", "adapter": name, "error": text}} (C{error} only
            when failing); it never fails.
        """
        distinct = {id(adapter): adapter for adapter in self.acs.adapters.values()}
        # None for a healthy adapter, else what went wrong: none fails.
        checks = [
            self._check(adapter).addCallbacks(lambda _: None, self._describe)
            for adapter in distinct.values()
        ]
        return gatherResults(checks).addCallback(
            lambda outcomes: self._collect(dict(zip(distinct, outcomes, strict=True)))
        )

    def refresh(self, maxAge: float) -> None:
        """
        Start a L{check} unless the last is younger than C{maxAge} seconds
        or one started here is still running (for the dashboard).
        """
        if self._checking:
            return
        if self.lastCheckedAt is not None and self.clock.seconds() - self.lastCheckedAt < maxAge:
            return
        self._checking = True

        def over(result: object) -> None:
            self._checking = False

        self.check().addBoth(over)

    def render_GET(self, request: Request) -> int:
        finished: list[object] = []
        request.notifyFinish().addBoth(finished.append)
        self.check().addCallback(self._answer, request, finished)
        return NOT_DONE_YET

    def _describe(self, failure: Failure) -> str:
        if failure.check(TimeoutError):
            return "no answer within %g s" % (self.timeout,)
        return "%s: %s" % (failure.type.__name__, failure.getErrorMessage())

    def _collect(self, results: dict[int, str | None]) -> dict[str, dict[str, Any]]:
        institutions = {}
        for name, adapter in sorted(self.acs.adapters.items()):
            error = results.get(id(adapter))
            entry = {"status": "ok", "adapter": getattr(adapter, "name", None)}
            if error is not None:
                entry["status"] = "failing"
                entry["error"] = error
            institutions[name] = entry
        self._logChanges(institutions)
        self.lastResult = institutions
        self.lastCheckedAt = self.clock.seconds()
        return institutions

    def _answer(
        self,
        institutions: dict[str, dict[str, Any]],
        request: Request,
        finished: list[object],
    ) -> None:
        if finished:
            # The client went away while the adapters were checked.
            return
        failing = [
            name for name, entry in institutions.items() if entry["status"] == "failing"
        ]
        if failing:
            body = _json(
                request,
                503,
                {"status": "failing", "failing": failing, "institutions": institutions},
            )
        else:
            body = _json(request, 200, {"status": "ok", "institutions": institutions})
        request.write(body)
        request.finish()

    def _logChanges(self, institutions: dict[str, dict[str, Any]]) -> None:
        for name, entry in institutions.items():
            if entry["status"] == "failing" and name not in self._failing:
                self._failing.add(name)
                self.log.warn(
                    "health check: institution {institution} ({adapter}) is"
                    " failing: {error}",
                    institution=name,
                    adapter=entry["adapter"],
                    error=entry["error"],
                )
            elif entry["status"] == "ok" and name in self._failing:
                self._failing.discard(name)
                self.log.info(
                    "health check: institution {institution} ({adapter}) is"
                    " healthy again",
                    institution=name,
                    adapter=entry["adapter"],
                )


class StatusResource(Resource):
    """
    C{/}, C{/status}: the dashboard (see L{sip2acs.ops.dashboard}); with
    C{asJSON} true (C{/status.json}), the same as JSON: C{{"ready": ...,
    "connections": N, "kiosks": [...], ...}} (see L{describe
    <sip2acs.ops.dashboard.describe>}).
    """

    def __init__(
        self,
        server: ACSServer,
        clock: IReactorTime,
        asJSON: bool = False,
        dashboard: Dashboard | None = None,
    ) -> None:
        """
        @param dashboard: The L{Dashboard <sip2acs.ops.dashboard.Dashboard>}
            to show; one of its own (not sampling) by default.
        """
        Resource.__init__(self)
        self.acs = server
        self.clock = clock
        self.asJSON = asJSON
        self.dashboard = Dashboard(server, clock) if dashboard is None else dashboard

    def render_GET(self, request: Request) -> bytes:
        if self.asJSON:
            return _json(request, 200, self.dashboard.status())
        nonce = secrets.token_urlsafe(16)
        page = self.dashboard.page(nonce)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(
            b"content-security-policy",
            (
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-%s';"
                " connect-src 'self'" % (nonce,)
            ).encode("ascii"),
        )
        _commonHeaders(request)
        return page.encode("utf-8")


class AdminSite(Site):
    """
    The admin listener's site: no access log, no tracebacks. While it
    listens its L{Dashboard <sip2acs.ops.dashboard.Dashboard>} samples the
    counters and watches the log.

    @ivar dashboard: The L{Dashboard <sip2acs.ops.dashboard.Dashboard>},
        or L{None}.
    """

    displayTracebacks = False

    def __init__(self, resource: Resource, dashboard: Dashboard | None = None) -> None:
        Site.__init__(self, resource)
        self.dashboard = dashboard

    def startFactory(self) -> None:
        """
        The first port listens: start the dashboard.
        """
        Site.startFactory(self)
        if self.dashboard is not None:
            self.dashboard.start()

    def stopFactory(self) -> None:
        """
        The last port stopped: stop the dashboard.
        """
        if self.dashboard is not None:
            self.dashboard.stop()
        Site.stopFactory(self)

    def log(self, request: http.Request) -> None:
        """
        Keep no access log.
        """


def makeSite(
    server: ACSServer,
    clock: IReactorTime | None = None,
    healthTimeout: float = HEALTH_TIMEOUT,
) -> AdminSite:
    """
    Build the admin listener's site.

    @param server: The L{ACSServer <sip2acs.acs.server.ACSServer>}, whose
        C{metrics}, C{readiness}, C{adapters} and C{connections} it
        reports.
    @param clock: The L{IReactorTime} for health-check timeouts, the
        status page's time and the dashboard's samples; the server's
        reactor by default.
    @param healthTimeout: Seconds an adapter has to answer C{/health}.
    @rtype: L{AdminSite}
    """
    if clock is None:
        clock = server.reactor
    root = Resource()
    health = HealthResource(server, clock, healthTimeout)
    dashboard = Dashboard(server, clock, health)
    status = StatusResource(server, clock, dashboard=dashboard)
    root.putChild(b"", status)
    root.putChild(b"status", status)
    root.putChild(b"status.json", StatusResource(server, clock, True, dashboard))
    root.putChild(b"metrics", MetricsResource(server))
    root.putChild(b"health", health)
    root.putChild(b"ready", ReadyResource(server))
    return AdminSite(root, dashboard)


class DrainService(SignalService):
    """
    SIGUSR1 sets the server draining (C{/ready} answers 503), SIGUSR2 ready
    again (see L{SignalService <sip2acs.ops.signals.SignalService>}).
    """

    signals = (signal.SIGUSR1, signal.SIGUSR2)

    def __init__(
        self, readiness: Readiness, reactor: IReactorThreads, installSignals: bool = True
    ) -> None:
        """
        @param readiness: The server's L{Readiness
            <sip2acs.acs.metrics.Readiness>}.
        @param reactor: The reactor to hand the change to.
        @param installSignals: Whether to install the signal handlers.
        """
        SignalService.__init__(self, reactor, installSignals)
        self.readiness = readiness

    def signalled(self, signum: int) -> None:
        """
        Act on a drain signal, on the reactor thread.

        @param signum: C{signal.SIGUSR1} (drain) or C{signal.SIGUSR2}
            (resume).
        """
        if signum == signal.SIGUSR1:
            self.readiness.drain("SIGUSR1")
        elif signum == signal.SIGUSR2:
            self.readiness.resume("SIGUSR2")
