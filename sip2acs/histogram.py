# -*- test-case-name: tests.test_admin -*-
"""
L{Histogram}: observations counted in fixed buckets, as Prometheus
histograms count them, for the server's answer times
(L{sip2acs.acs.metrics}) and a gateway's upstream times
(L{sip2acs.ils.upstream}). Shared by every layer; no dependency.
"""

import math
from bisect import bisect_left
from collections.abc import Iterable

__all__ = ["LATENCY_BUCKETS", "Histogram"]

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""
Upper bounds, in seconds, of the answer-time histogram's buckets (C{+Inf}
is implied). A memory adapter answers in well under a millisecond, the
embedded SQLite system in a few; 30 s is the ILS timeout, after which the
SC gets a refusal.
"""


class Histogram:
    """
    Observations counted in fixed buckets, as Prometheus histograms do.

    @ivar bounds: The buckets' upper bounds, ascending (C{+Inf} implied).
    @ivar counts: Observations per bucket (not cumulative); the last entry
        counts those above every bound.
    @ivar sum: The sum of every observation.
    @ivar count: How many observations.
    """

    def __init__(self, bounds: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """
        Count one observation: it falls in the first bucket whose bound is
        at least C{value}.
        """
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """
        @return: C{(bound, observations at most bound)} pairs, the last
            bound being C{math.inf}.
        @rtype: L{list}
        """
        result = []
        total = 0
        for bound, count in zip(self.bounds + (math.inf,), self.counts, strict=True):
            total += count
            result.append((bound, total))
        return result
