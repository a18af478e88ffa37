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
  - C{/} and C{/status}: an HTML page listing the connected SCs (account,
    address, listener, connected since, last message, message count);
    C{/status.json} gives the same as JSON.

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

import html
import json
import signal
from datetime import datetime
from typing import Any, overload

from twisted.internet.defer import Deferred, TimeoutError, maybeDeferred
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from sip2acs._version import __version__
from sip2acs.acs.interfaces import ISIPConnection
from sip2acs.acs.metrics import Readiness
from sip2acs.acs.server import ACSServer
from sip2acs.ils.interfaces import IILS, optionalFlag
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


@overload
def _isoTime(seconds: float) -> str: ...
@overload
def _isoTime(seconds: float | None) -> str | None: ...


def _isoTime(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def connectedKiosks(server: ACSServer) -> list[dict[str, Any]]:
    """
    Describe the open connections of C{server}, for the status page.

    @param server: An L{ACSServer <sip2acs.acs.server.ACSServer>}, whose
        C{connections} are L{ISIPConnection
        <sip2acs.acs.interfaces.ISIPConnection>}s.
    @return: One L{dict} per connection, sorted by listener, account and
        address, with C{account} (L{None} before login), C{address},
        C{port}, C{listener}, C{connectedAt} and C{lastMessageAt} (Unix
        times from the session clock, L{None} if unknown or no message
        was answered yet), C{connectedSince} and C{lastMessage} (the same
        as local ISO 8601 times) and C{messages} (requests answered).
    """
    kiosks = []
    for connection in server.connections:
        session = connection.session
        port = None
        if connection.transport is not None:
            port = getattr(connection.transport.getPeer(), "port", None)
        connectedAt = connection.connectedAt
        lastMessageAt = session.lastMessageAt
        kiosks.append(
            {
                "account": _account(connection),
                "address": session.peer,
                "port": port,
                "listener": session.listener.endpoint,
                "connectedAt": connectedAt,
                "connectedSince": _isoTime(connectedAt),
                "lastMessageAt": lastMessageAt,
                "lastMessage": _isoTime(lastMessageAt),
                "messages": session.messages,
            }
        )
    kiosks.sort(
        key=lambda k: (
            k["listener"],
            k["account"] is None,
            k["account"] or "",
            str(k["address"]),
            k["port"] or 0,
        )
    )
    return kiosks


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

    def _check(self, adapter: IILS) -> "Deferred[object]":
        """
        Run C{adapter.healthCheck()}, or join the run in progress.

        @return: A Deferred of its own for the caller, timed out after
            C{timeout} seconds.
        """
        check = getattr(adapter, "healthCheck", None)
        if check is None:
            ready: Deferred[object] = Deferred()
            ready.callback(None)
            return ready
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

    def render_GET(self, request: Request) -> int:
        finished: list[object] = []
        request.notifyFinish().addBoth(finished.append)
        adapters = self.acs.adapters
        distinct = {id(adapter): adapter for adapter in adapters.values()}
        results: dict[int, str | None] = {}
        pending = [len(distinct)]

        def done(outcome: str | None, key: int) -> None:
            results[key] = outcome
            pending[0] -= 1
            if pending[0] == 0:
                self._answer(request, finished, results)

        if not distinct:
            self._answer(request, finished, results)
            return NOT_DONE_YET
        for key, adapter in distinct.items():
            # None for a healthy adapter, else what went wrong.
            d = self._check(adapter).addCallbacks(lambda _: None, self._describe)
            d.addCallback(done, key)
        return NOT_DONE_YET

    def _describe(self, failure: Failure) -> str:
        if failure.check(TimeoutError):
            return "no answer within %g s" % (self.timeout,)
        return "%s: %s" % (failure.type.__name__, failure.getErrorMessage())

    def _answer(
        self, request: Request, finished: list[object], results: dict[int, str | None]
    ) -> None:
        institutions = {}
        failing = []
        for name, adapter in sorted(self.acs.adapters.items()):
            error = results.get(id(adapter))
            entry = {"status": "ok", "adapter": getattr(adapter, "name", None)}
            if error is not None:
                entry["status"] = "failing"
                entry["error"] = error
                failing.append(name)
            institutions[name] = entry
        self._logChanges(institutions)
        if finished:
            # The client went away while the adapters were checked.
            return
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


_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sip2acs status</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #eee; }}
td.n {{ text-align: right; }}
.draining {{ color: #a40; font-weight: bold; }}
</style>
</head>
<body>
<h1>sip2acs {version}</h1>
<p>{state}. {count} connection(s) open. Page generated {now}.
Also as <a href="status.json">JSON</a>; metrics at <a href="metrics">/metrics</a>.</p>
<table>
<thead><tr><th>Account</th><th>Address</th><th>Listener</th><th>Connected since</th>\
<th>Last message</th><th>Messages</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
{upstreams}
</body>
</html>
"""

_ROW = (
    "<tr><td>{account}</td><td>{address}</td><td>{listener}</td>"
    "<td>{connectedSince}</td><td>{lastMessage}</td><td class=\"n\">{messages}</td></tr>"
)


def gatewaySummaries(server: ACSServer) -> list[dict[str, Any]]:
    """
    The C{summary()} of each gateway adapter (see
    L{sip2acs.ils.upstream.adapter.SIP2UpstreamILS.summary}), with the
    institutions it serves.
    """
    found: dict[int, dict[str, Any]] = {}
    for name, adapter in sorted(server.adapters.items()):
        summary = getattr(adapter, "summary", None)
        if summary is None:
            continue
        entry = found.get(id(adapter))
        if entry is None:
            entry = found[id(adapter)] = dict(summary(), institutions=[])
        entry["institutions"].append(name)
    return list(found.values())


def _upstreamTable(upstreams: list[dict[str, Any]]) -> str:
    """
    The status page's table of gateways, or nothing.
    """
    if not upstreams:
        return ""
    e = html.escape
    rows = []
    for entry in upstreams:
        queue = entry["offlineQueue"]
        if queue is None:
            offline = "off"
        else:
            offline = "%d waiting, %d refused (<code>sip2acs offline show %s</code>)" % (
                queue["pending"], queue["refusals"], e(queue["path"]))
        rows.append(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
            "<td class=\"n\">%d of %d busy, %d waiting</td><td>%s</td></tr>"
            % (
                e(", ".join(entry["institutions"])),
                e(entry["upstream"]),
                "yes" if entry["online"] else '<span class="draining">no</span>',
                e(entry["mode"]),
                entry["busy"], entry["connections"], entry["waiting"],
                offline,
            )
        )
    return (
        "<h2>Upstream ILS</h2>\n<table>\n<thead><tr><th>Institutions</th><th>Upstream</th>"
        "<th>Online</th><th>Mode</th><th>Connections</th><th>Offline queue</th></tr></thead>\n"
        "<tbody>\n%s\n</tbody>\n</table>" % ("\n".join(rows),)
    )


class StatusResource(Resource):
    """
    C{/}, C{/status}: the connected SCs as an HTML page; with C{asJSON}
    true (C{/status.json}), as JSON: C{{"ready": ..., "connections": N,
    "kiosks": [...]}} (see L{connectedKiosks}).
    """

    def __init__(self, server: ACSServer, clock: IReactorTime, asJSON: bool = False) -> None:
        Resource.__init__(self)
        self.acs = server
        self.clock = clock
        self.asJSON = asJSON

    def render_GET(self, request: Request) -> bytes:
        kiosks = connectedKiosks(self.acs)
        ready = self.acs.readiness.ready
        upstreams = gatewaySummaries(self.acs)
        if self.asJSON:
            body: dict[str, Any] = {
                "version": __version__,
                "ready": ready,
                "connections": len(kiosks),
                "kiosks": kiosks,
            }
            if upstreams:
                body["upstreams"] = upstreams
            return _json(request, 200, body)
        e = html.escape
        rows = []
        for kiosk in kiosks:
            address = "" if kiosk["address"] is None else str(kiosk["address"])
            if kiosk["port"] is not None:
                address = "%s:%s" % (address, kiosk["port"])
            rows.append(
                _ROW.format(
                    account=(
                        e(kiosk["account"])
                        if kiosk["account"] is not None
                        else "<i>not logged in</i>"
                    ),
                    address=e(address),
                    listener=e(kiosk["listener"]),
                    connectedSince=e(kiosk["connectedSince"] or "-"),
                    lastMessage=e(kiosk["lastMessage"] or "-"),
                    messages=int(kiosk["messages"]),
                )
            )
        if not rows:
            rows.append('<tr><td colspan="6">No SC is connected.</td></tr>')
        state = (
            "Ready: accepting kiosks"
            if ready
            else '<span class="draining">Draining</span>: /ready answers 503;'
            " connected kiosks carry on"
        )
        page = _PAGE.format(
            version=e(__version__),
            state=state,
            count=len(kiosks),
            now=e(_isoTime(self.clock.seconds())),
            rows="\n".join(rows),
            upstreams=_upstreamTable(upstreams),
        )
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(
            b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"
        )
        _commonHeaders(request)
        return page.encode("utf-8")


class AdminSite(Site):
    """
    The admin listener's site: no access log, no tracebacks.
    """

    displayTracebacks = False

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
    @param clock: The L{IReactorTime} for health-check timeouts and the
        status page's time; the server's reactor by default.
    @param healthTimeout: Seconds an adapter has to answer C{/health}.
    @rtype: L{AdminSite}
    """
    if clock is None:
        clock = server.reactor
    root = Resource()
    status = StatusResource(server, clock)
    root.putChild(b"", status)
    root.putChild(b"status", status)
    root.putChild(b"status.json", StatusResource(server, clock, asJSON=True))
    root.putChild(b"metrics", MetricsResource(server))
    root.putChild(b"health", HealthResource(server, clock, healthTimeout))
    root.putChild(b"ready", ReadyResource(server))
    return AdminSite(root)


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
