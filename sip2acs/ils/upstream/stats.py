# -*- test-case-name: tests.test_upstream_gateway -*-
"""
L{UpstreamStats}: what a gateway counts about its upstream, for
C{/metrics} (see L{sip2acs.ops.metrics}).
"""

from __future__ import annotations

from sip2acs.histogram import Histogram

__all__ = ["UpstreamStats"]


class UpstreamStats:
    """
    Counters of one gateway's traffic with its upstream. Called on the
    reactor thread only.

    @ivar requests: C{(operation, outcome)} to count; the outcome is
        C{ok}, C{refused} (the upstream said no), C{unavailable} (not sent,
        or not readable upstream) or C{uncertain} (sent, no usable answer).
    @ivar latency: Operation to the L{Histogram} of its upstream answer
        times, in seconds.
    @ivar connects: Connections opened and logged in.
    @ivar connectFailures: Attempts to connect or log in that failed.
    @ivar losses: Connections lost while open.
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.connects = 0
        self.connectFailures = 0
        self.losses = 0

    def answered(self, operation: str, outcome: str, seconds: float | None) -> None:
        """
        Count one request; C{seconds} is its answer time, when it had one.
        """
        key = (operation, outcome)
        self.requests[key] = self.requests.get(key, 0) + 1
        if seconds is not None:
            histogram = self.latency.get(operation)
            if histogram is None:
                histogram = self.latency[operation] = Histogram()
            histogram.observe(seconds)

    def connected(self) -> None:
        self.connects += 1

    def connectFailed(self) -> None:
        self.connectFailures += 1

    def lost(self) -> None:
        self.losses += 1
