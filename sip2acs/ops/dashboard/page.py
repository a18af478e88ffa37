# -*- test-case-name: tests.test_dashboard -*-
"""
The dashboard: L{Dashboard} keeps the history and the last errors while
the admin listener listens, and renders the status page (a Jinja2
template, autoescaped) and C{/status.json}.
"""

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import LogPublisher, globalLogPublisher

from sip2acs.acs.server import ACSServer
from sip2acs.ops.dashboard.charts import lineChart
from sip2acs.ops.dashboard.history import (
    HISTORY_SECONDS,
    SAMPLE_INTERVAL,
    MetricsHistory,
    RecentErrors,
)
from sip2acs.ops.dashboard.status import HealthSource, describe, isoTime, relativeTime

__all__ = ["HEALTH_MAX_AGE", "REFRESH_SECONDS", "Dashboard", "renderPage"]

REFRESH_SECONDS = 5
"""
How often the page refreshes itself.
"""

HEALTH_MAX_AGE = 60.0
"""
A page shown when the adapters' last health check is older than this
starts a new one (its answer shows on a later refresh).
"""

_environment = Environment(
    loader=PackageLoader("sip2acs.ops.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
)


def _milliseconds(seconds: float) -> str:
    return "%.1f ms" % (seconds * 1000,)


def _charts(status: dict[str, Any], slots: int) -> dict[str, Markup]:
    history = status["history"]
    return {
        "rate": lineChart(
            "Requests/s",
            [("requests/s", "#1f5fa8", [p["rate"] for p in history])],
            slots,
            lambda v: "%.2f" % (v,),
        ),
        "latency": lineChart(
            "Answer time",
            [
                ("p50", "#2a8a2a", [p["p50"] for p in history]),
                ("p90", "#c08000", [p["p90"] for p in history]),
                ("p99", "#b00000", [p["p99"] for p in history]),
            ],
            slots,
            _milliseconds,
        ),
        "refusals": lineChart(
            "Refusals per %g s" % (SAMPLE_INTERVAL,),
            [("refusals", "#b00000", [float(p["refusals"]) for p in history])],
            slots,
            lambda v: "%d" % (v,),
        ),
    }


def renderPage(status: dict[str, Any], nonce: str, slots: int) -> str:
    """
    The status page.

    @param status: What L{describe
        <sip2acs.ops.dashboard.status.describe>} gives.
    @param nonce: The script's CSP nonce.
    @param slots: How many sample intervals the charts' width holds.
    @rtype: L{str}
    """
    template = _environment.get_template("status.html")
    return template.render(
        status=status,
        nonce=nonce,
        refresh=REFRESH_SECONDS,
        charts=_charts(status, slots),
        rel=relativeTime,
        iso=isoTime,
    )


class Dashboard:
    """
    The status page's memory: a L{MetricsHistory} sampled every
    C{interval} seconds and a L{RecentErrors} observing the log, both
    running between L{start} and L{stop} (the admin site calls them when
    its port starts and stops listening).

    @ivar history: The L{MetricsHistory}.
    @ivar errors: The L{RecentErrors}.
    @ivar health: The L{HealthSource} of adapter health, or L{None}.
    """

    def __init__(
        self,
        server: ACSServer,
        clock: IReactorTime,
        health: HealthSource | None = None,
        interval: float = SAMPLE_INTERVAL,
        publisher: LogPublisher | None = None,
    ) -> None:
        """
        @param server: The L{ACSServer <sip2acs.acs.server.ACSServer>}.
        @param clock: Times the samples and the page.
        @param health: Where adapter health comes from.
        @param interval: Seconds between samples.
        @param publisher: The log publisher to observe; the global one by
            default.
        """
        self.server = server
        self.clock = clock
        self.health = health
        self.interval = interval
        self.history = MetricsHistory(server.metrics, interval)
        self.errors = RecentErrors()
        self._publisher = globalLogPublisher if publisher is None else publisher
        self._sampler = LoopingCall(self._sample)
        self._sampler.clock = clock

    def _sample(self) -> None:
        self.history.sample(self.clock.seconds())

    def start(self) -> None:
        """
        Start sampling (one sample now) and observing the log.
        """
        if not self._sampler.running:
            self._sampler.start(self.interval, now=True)
            self._publisher.addObserver(self.errors)

    def stop(self) -> None:
        """
        Stop sampling and observing; leaves no delayed call.
        """
        if self._sampler.running:
            self._sampler.stop()
            self._publisher.removeObserver(self.errors)

    def status(self) -> dict[str, Any]:
        """
        What C{/status.json} gives (see L{describe
        <sip2acs.ops.dashboard.status.describe>}); also starts a health
        check when the last is older than L{HEALTH_MAX_AGE}.
        """
        if self.health is not None:
            self.health.refresh(HEALTH_MAX_AGE)
        return describe(
            self.server, self.clock.seconds(), self.history, self.errors, self.health
        )

    def page(self, nonce: str) -> str:
        """
        The status page, with C{nonce} on its script.
        """
        slots = max(1, int(HISTORY_SECONDS / self.interval))
        return renderPage(self.status(), nonce, slots)
