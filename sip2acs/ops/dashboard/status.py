# -*- test-case-name: tests.test_dashboard -*-
"""
What the status page and C{/status.json} say: the server, its listeners,
the connected kiosks, the accounts' counters, adapter health, the last
errors and the last hour's charts, as plain data (JSON-ready).
"""

import math
import os
import socket
from datetime import UTC, datetime
from typing import Any, Protocol, overload

from cryptography import x509

from sip2acs._version import __version__
from sip2acs.acs.metrics import UNKNOWN_LOGIN
from sip2acs.acs.server import ACSServer
from sip2acs.ops.dashboard.history import MetricsHistory, RecentErrors

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "STALE_AFTER",
    "HealthSource",
    "accountCounters",
    "certificateInfo",
    "connectedKiosks",
    "describe",
    "expiryText",
    "gatewaySummaries",
    "isoTime",
    "listenerRows",
    "relativeTime",
    "staleAfter",
]

STALE_AFTER = 600.0
"""
Seconds without a message after which a kiosk is highlighted as stale
(or half its listener's idle timeout, when that is shorter: the server
closes it at the timeout).
"""

EXPIRY_WARNING_DAYS = 30
"""
A listener's certificate expiring in fewer days than this is highlighted.
"""


class HealthSource(Protocol):
    """
    Where the dashboard finds the adapters' health: C{/health}'s last
    result (see L{HealthResource <sip2acs.ops.admin.HealthResource>}).
    """

    lastResult: dict[str, dict[str, Any]] | None
    lastCheckedAt: float | None

    def refresh(self, maxAge: float) -> None:
        """
        Start a check unless the last result is younger than C{maxAge}
        seconds or one is running.
        """


@overload
def isoTime(seconds: float) -> str: ...
@overload
def isoTime(seconds: float | None) -> str | None: ...


def isoTime(seconds: float | None) -> str | None:
    """
    A Unix time as local ISO 8601 to the second, or L{None}.
    """
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def relativeTime(seconds: float) -> str:
    """
    A duration as an operator reads it: C{"42 s"}, C{"3 min"}, C{"2 h 5
    min"}, C{"3 d 4 h"}.

    @param seconds: Not negative (a negative one reads as C{"0 s"}).
    """
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "%d s" % (seconds,)
    minutes = seconds // 60
    if minutes < 60:
        return "%d min" % (minutes,)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return "%d h %d min" % (hours, minutes) if minutes else "%d h" % (hours,)
    days, hours = divmod(hours, 24)
    return "%d d %d h" % (days, hours) if hours else "%d d" % (days,)


def expiryText(notAfter: float, now: float) -> tuple[str, str]:
    """
    How soon a certificate expires, and how alarming that is.

    @param notAfter: Its expiry (Unix time).
    @param now: The clock's time.
    @return: C{(text, level)}: e.g. C{("expires in 23 days", "warn")};
        the level is C{"ok"}, C{"warn"} (fewer than
        L{EXPIRY_WARNING_DAYS} days left) or C{"bad"} (expired).
    """
    left = notAfter - now
    if left <= 0:
        days = int(-left // 86400)
        if days == 0:
            return "expired today", "bad"
        return "expired %d day%s ago" % (days, "" if days == 1 else "s"), "bad"
    days = int(left // 86400)
    if days == 0:
        text = "expires in %s" % (relativeTime(left),)
    else:
        text = "expires in %d day%s" % (days, "" if days == 1 else "s")
    return text, "warn" if days < EXPIRY_WARNING_DAYS else "ok"


_certificates: dict[str, tuple[float, dict[str, Any]]] = {}


def certificateInfo(path: str) -> dict[str, Any]:
    """
    The subject and expiry of the first certificate in a PEM file, read
    again only when the file changes.

    @return: C{{"subject": ..., "notAfter": unix time}}, or C{{"error":
        sentence}} when the file cannot be read.
    """
    try:
        modified = os.stat(path).st_mtime
    except OSError as e:
        return {"error": "cannot read %s: %s" % (path, e.strerror)}
    cached = _certificates.get(path)
    if cached is None or cached[0] != modified:
        try:
            with open(path, "rb") as f:
                certificate = x509.load_pem_x509_certificates(f.read())[0]
        except (OSError, ValueError):
            return {"error": "%s holds no readable certificate" % (path,)}
        cached = _certificates[path] = (
            modified,
            {
                "subject": certificate.subject.rfc4514_string(),
                "notAfter": certificate.not_valid_after_utc.timestamp(),
            },
        )
    return dict(cached[1])


def listenerRows(server: ACSServer, now: float) -> list[dict[str, Any]]:
    """
    Each configured listener: C{endpoint} (its name and address),
    C{transport}, C{connections} open on it, C{idleTimeout}, its
    C{certificate} (L{None} unless TLS; see L{certificateInfo}, with
    C{expires} text and C{level} from L{expiryText}) and whether it asks
    kiosks for client certificates (C{mutual}).
    """
    counts: dict[str, int] = {}
    for connection in server.connections:
        endpoint = connection.session.listener.endpoint
        counts[endpoint] = counts.get(endpoint, 0) + 1
    rows = []
    for listener in server.config.listeners:
        row: dict[str, Any] = {
            "endpoint": listener.endpoint,
            "transport": listener.transport,
            "connections": counts.get(listener.endpoint, 0),
            "idleTimeout": listener.idleTimeout,
            "certificate": None,
            "mutual": False,
        }
        if listener.tls is not None:
            info = certificateInfo(listener.tls.certificate)
            if "notAfter" in info:
                info["expires"], info["level"] = expiryText(info["notAfter"], now)
                info["notAfterISO"] = datetime.fromtimestamp(
                    info["notAfter"], UTC
                ).strftime("%Y-%m-%d")
            row["certificate"] = info
            row["mutual"] = listener.tls.clientCA is not None
        rows.append(row)
    return rows


def staleAfter(idleTimeout: float | None) -> float:
    """
    Seconds of silence after which a kiosk on a listener with this idle
    timeout is stale: L{STALE_AFTER}, or half the timeout when shorter.
    """
    if idleTimeout is None:
        return STALE_AFTER
    return min(STALE_AFTER, idleTimeout / 2)


def connectedKiosks(server: ACSServer, now: float | None = None) -> list[dict[str, Any]]:
    """
    Describe the open connections of C{server}, for the status page.

    @param server: An L{ACSServer <sip2acs.acs.server.ACSServer>}, whose
        C{connections} are L{ISIPConnection
        <sip2acs.acs.interfaces.ISIPConnection>}s.
    @param now: The clock's time, for C{connectedFor}, C{idleFor} and
        C{stale}; the server's reactor's by default.
    @return: One L{dict} per connection, sorted by listener, account and
        address, with C{account} (L{None} before login), C{address},
        C{port}, C{listener}, C{connectedAt} and C{lastMessageAt} (Unix
        times from the session clock, L{None} if unknown or no message
        was answered yet), C{connectedSince} and C{lastMessage} (the same
        as local ISO 8601 times), C{messages} (requests answered),
        C{location} and C{institution} (L{None} before login),
        C{transport}, C{certificateSubject} (the TLS client certificate's,
        or L{None}), C{connectedFor} and C{idleFor} (seconds, or L{None}
        if unknown) and C{stale} (idle longer than L{staleAfter}).
    """
    if now is None:
        now = server.reactor.seconds()
    kiosks = []
    for connection in server.connections:
        session = connection.session
        port = None
        if connection.transport is not None:
            port = getattr(connection.transport.getPeer(), "port", None)
        connectedAt = connection.connectedAt
        lastMessageAt = session.lastMessageAt
        quietSince = lastMessageAt if lastMessageAt is not None else connectedAt
        idleFor = None if quietSince is None else max(0.0, now - quietSince)
        kiosks.append(
            {
                "account": session.account.login if session.account else None,
                "address": session.peer,
                "port": port,
                "listener": session.listener.endpoint,
                "connectedAt": connectedAt,
                "connectedSince": isoTime(connectedAt),
                "lastMessageAt": lastMessageAt,
                "lastMessage": isoTime(lastMessageAt),
                "messages": session.messages,
                "location": session.terminal.location if session.terminal else None,
                "institution": session.institution.id if session.institution else None,
                "transport": session.listener.transport,
                "certificateSubject": session.certificateSubject,
                "connectedFor": None if connectedAt is None else max(0.0, now - connectedAt),
                "idleFor": idleFor,
                "stale": idleFor is not None
                and idleFor > staleAfter(session.listener.idleTimeout),
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


def accountCounters(server: ACSServer, kiosks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    Per account with something to show (a kiosk connected, a request or a
    failed login counted): C{account}, C{institution}, C{kiosks} connected
    now, C{requests}, C{refusals} and C{failedLogins}, sorted by account;
    refused logins that named no account last, as L{UNKNOWN_LOGIN
    <sip2acs.acs.metrics.UNKNOWN_LOGIN>}.
    """
    metrics = server.metrics
    connected: dict[str, int] = {}
    for kiosk in kiosks:
        if kiosk["account"] is not None:
            connected[kiosk["account"]] = connected.get(kiosk["account"], 0) + 1
    names = (
        set(connected)
        | set(metrics.accountRequests)
        | set(metrics.accountRefusals)
        | set(metrics.accountLoginFailures)
    )
    names.discard(UNKNOWN_LOGIN)
    rows = []
    for name in sorted(names):
        account = server.accounts.get(name)
        rows.append(
            {
                "account": name,
                "institution": account.institution if account is not None else None,
                "kiosks": connected.get(name, 0),
                "requests": metrics.accountRequests.get(name, 0),
                "refusals": metrics.accountRefusals.get(name, 0),
                "failedLogins": metrics.accountLoginFailures.get(name, 0),
            }
        )
    unknown = metrics.accountLoginFailures.get(UNKNOWN_LOGIN)
    if unknown:
        rows.append(
            {
                "account": UNKNOWN_LOGIN,
                "institution": None,
                "kiosks": 0,
                "requests": 0,
                "refusals": 0,
                "failedLogins": unknown,
            }
        )
    return rows


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


def _health(server: ACSServer, health: HealthSource | None) -> list[dict[str, Any]]:
    last = health.lastResult if health is not None else None
    rows = []
    for name, adapter in sorted(server.adapters.items()):
        entry = (last or {}).get(name)
        row: dict[str, Any] = {
            "institution": name,
            "adapter": getattr(adapter, "name", None),
            "status": entry["status"] if entry else "unknown",
        }
        if entry and "error" in entry:
            row["error"] = entry["error"]
        rows.append(row)
    return rows


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def describe(
    server: ACSServer,
    now: float,
    history: MetricsHistory,
    errors: RecentErrors,
    health: HealthSource | None = None,
) -> dict[str, Any]:
    """
    Everything C{/status.json} gives.

    @return: A JSON-ready L{dict}: C{version}, C{ready}, C{connections}
        and C{kiosks} (see L{connectedKiosks}), C{upstreams} when there
        are gateways, and C{host}, C{now}, C{startTime}, C{uptime}
        (seconds), C{listeners} (see L{listenerRows}), C{accounts} (see
        L{accountCounters}), C{health} (per institution: C{status} C{"ok"},
        C{"failing"} or C{"unknown"} before the first check, C{adapter},
        C{error}), C{healthCheckedAt}, C{errors} (see L{RecentErrors.recent
        <sip2acs.ops.dashboard.history.RecentErrors.recent>}) and
        C{history}: per sampled interval C{when}, C{rate} (requests/s),
        C{refusals}, C{p50}, C{p90} and C{p99} (seconds or L{None}).
    """
    kiosks = connectedKiosks(server, now)
    status: dict[str, Any] = {
        "version": __version__,
        "ready": server.readiness.ready,
        "connections": len(kiosks),
        "kiosks": kiosks,
        "host": socket.gethostname(),
        "now": now,
        "startTime": server.metrics.startTime,
        "uptime": max(0.0, now - server.metrics.startTime),
        "listeners": listenerRows(server, now),
        "accounts": accountCounters(server, kiosks),
        "health": _health(server, health),
        "healthCheckedAt": health.lastCheckedAt if health is not None else None,
        "errors": errors.recent(),
        "history": [
            {
                "when": point.when,
                "rate": point.rate,
                "refusals": point.refusals,
                "p50": _finite(point.p50),
                "p90": _finite(point.p90),
                "p99": _finite(point.p99),
            }
            for point in history.points()
        ],
    }
    upstreams = gatewaySummaries(server)
    if upstreams:
        status["upstreams"] = upstreams
    return status
