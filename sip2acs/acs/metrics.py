# -*- test-case-name: tests.test_admin -*-
"""
What the server counts as it works: answered requests and their answer
times, refused logins, failed TLS handshakes, and whether it is ready for
new kiosks. L{sip2acs.ops.metrics} writes them for Prometheus; the ACS core
only counts.

Everything here is called on the reactor thread.
"""

import os
import time
from collections.abc import Iterable

from twisted.logger import Logger

from sip2acs.histogram import LATENCY_BUCKETS, Histogram

__all__ = [
    "LATENCY_BUCKETS",
    "UNKNOWN_LOGIN",
    "Histogram",
    "Metrics",
    "Readiness",
    "processStartTime",
]

UNKNOWN_LOGIN = "(unknown login)"
"""
Where L{Metrics.accountLoginFailed} counts refused logins that name no
configured account.
"""

_IMPORTED = time.time()


def processStartTime() -> float:
    """
    When this process started, in seconds since the Unix epoch: from
    C{/proc} on Linux, else when this module was imported.

    @rtype: L{float}
    """
    try:
        with open("/proc/self/stat", "rb") as f:
            # The command name may hold spaces and parentheses: skip past
            # its closing parenthesis. Field 22 (starttime) is then 20th.
            fields = f.read().rpartition(b")")[2].split()
        ticks = int(fields[19])
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    boot = int(line.split()[1])
                    break
            else:
                return _IMPORTED
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _IMPORTED


class Metrics:
    """
    The counters of one server process.

    L{ACSServer <sip2acs.acs.server.ACSServer>} records every answered request
    (L{transactionDone}); the session records refused logins
    (L{loginFailed}); a TLS listener records failed handshakes
    (L{tlsHandshakeFailed}). Gauges (open connections, readiness) are not
    kept here: L{families <sip2acs.ops.metrics.families>} is given them at scrape
    time.

    @ivar messages: C{(request, response, outcome)} to count.
    @ivar latency: Request command identifier to its L{Histogram}.
    @ivar loginFailures: Listener endpoint to count.
    @ivar tlsHandshakeFailures: Listener endpoint to count.
    @ivar startTime: When the process started (Unix time).
    @ivar accountRequests: Account login to requests answered while the SC
        was logged in as it.
    @ivar accountRefusals: Account login to those of its requests that
        were refused.
    @ivar accountLoginFailures: Account login to refused logins that gave
        it (only configured logins: anything else an SC sends is counted
        under L{UNKNOWN_LOGIN}, so the table cannot grow without bound).
    """

    def __init__(
        self, buckets: Iterable[float] = LATENCY_BUCKETS, startTime: float | None = None
    ) -> None:
        """
        @param buckets: The answer-time histogram's bucket bounds, seconds.
        @param startTime: When the process started; read from the system
            by default (L{processStartTime}).
        """
        self.buckets = tuple(sorted(buckets))
        self.messages: dict[tuple[str, str, str], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.loginFailures: dict[str, int] = {}
        self.tlsHandshakeFailures: dict[str, int] = {}
        self.startTime = processStartTime() if startTime is None else startTime
        self.accountRequests: dict[str, int] = {}
        self.accountRefusals: dict[str, int] = {}
        self.accountLoginFailures: dict[str, int] = {}

    def transactionDone(self, request: str, response: str, outcome: str, seconds: float) -> None:
        """
        Count one answered request.

        @param request: The request's command identifier, e.g. C{"11"}.
        @param response: The response's command identifier, e.g. C{"12"}.
        @param outcome: C{"ok"} or C{"refused"}.
        @param seconds: How long the answer took.
        """
        key = (request, response, outcome)
        self.messages[key] = self.messages.get(key, 0) + 1
        histogram = self.latency.get(request)
        if histogram is None:
            histogram = self.latency[request] = Histogram(self.buckets)
        histogram.observe(seconds)

    def loginFailed(self, listener: str) -> None:
        """
        Count one refused login (a 93 answered with C{940}).

        @param listener: The endpoint description of the listener the SC
            connected to.
        """
        self.loginFailures[listener] = self.loginFailures.get(listener, 0) + 1

    def accountTransaction(self, account: str, outcome: str) -> None:
        """
        Count one answered request of an SC logged in as C{account} (along
        with L{transactionDone}).

        @param account: The account's login.
        @param outcome: C{"ok"} or C{"refused"}.
        """
        self.accountRequests[account] = self.accountRequests.get(account, 0) + 1
        if outcome == "refused":
            self.accountRefusals[account] = self.accountRefusals.get(account, 0) + 1

    def accountLoginFailed(self, login: str | None) -> None:
        """
        Count one refused login by the login id it gave (along with
        L{loginFailed}).

        @param login: A configured account's login, or L{None} (or
            L{UNKNOWN_LOGIN}) when the SC gave none or one that no account
            has.
        """
        key = UNKNOWN_LOGIN if login is None else login
        self.accountLoginFailures[key] = self.accountLoginFailures.get(key, 0) + 1

    def tlsHandshakeFailed(self, listener: str) -> None:
        """
        Count one failed TLS handshake. A TLS listener calls this (on the
        reactor thread) when a connection is lost before its handshake
        completed, or the handshake itself fails: an expired or untrusted
        client certificate, a protocol version or cipher below the floor,
        or a plain-text kiosk on the TLS port.

        @param listener: The endpoint description of the TLS listener, as
            in its configuration.
        """
        self.tlsHandshakeFailures[listener] = (
            self.tlsHandshakeFailures.get(listener, 0) + 1
        )


class Readiness:
    """
    Whether the server accepts new kiosks (C{/ready} answers 200) or drains
    before maintenance (C{/ready} answers 503, so a load balancer stops
    sending new kiosks here). Draining refuses nothing: kiosks already
    connected, and any that still connect, are served as usual.

    @ivar ready: L{True} unless draining.
    """

    log = Logger()

    def __init__(self, ready: bool = True) -> None:
        self.ready = ready

    def drain(self, why: str = "on request") -> None:
        """
        Stop reporting ready.

        @param why: What asked, for the log.
        """
        if self.ready:
            self.ready = False
            self.log.info(
                "draining ({why}): /ready answers 503; connected kiosks carry on",
                why=why,
            )

    def resume(self, why: str = "on request") -> None:
        """
        Report ready again.

        @param why: What asked, for the log.
        """
        if not self.ready:
            self.ready = True
            self.log.info("ready again ({why}): /ready answers 200", why=why)
