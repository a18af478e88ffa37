# -*- test-case-name: tests.test_dashboard -*-
"""
What the dashboard remembers between pages: the last hour of the server's
counters, sampled every few seconds (L{MetricsHistory}), and the last
warnings and errors logged (L{RecentErrors}).
"""

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import attrs
from twisted.logger import ILogObserver, LogEvent, formatEvent
from zope.interface import implementer

from sip2acs.acs.metrics import Metrics
from sip2acs.ops.observers import WARNING_LEVELS

__all__ = [
    "HISTORY_SECONDS",
    "SAMPLE_INTERVAL",
    "ChartPoint",
    "MetricsHistory",
    "RecentErrors",
    "quantile",
]

SAMPLE_INTERVAL = 10.0
"""
Seconds between two samples of the counters.
"""

HISTORY_SECONDS = 3600.0
"""
How far back the charts reach.
"""


@attrs.frozen
class _Sample:
    when: float
    requests: int
    refusals: int
    buckets: tuple[int, ...]


@attrs.frozen
class ChartPoint:
    """
    What happened between two samples.

    @ivar when: The end of the interval (Unix time, the clock's).
    @ivar rate: Requests answered per second.
    @ivar refusals: Requests refused in the interval.
    @ivar p50: The median answer time in seconds, L{None} without requests;
        likewise C{p90} and C{p99}.
    """

    when: float
    rate: float
    refusals: int
    p50: float | None
    p90: float | None
    p99: float | None


def quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float | None:
    """
    Estimate a quantile from histogram buckets the way Prometheus'
    C{histogram_quantile} does: linearly within the bucket it falls in.

    @param q: Between 0 and 1.
    @param bounds: The buckets' upper bounds, ascending (C{+Inf} implied).
    @param counts: Observations per bucket (not cumulative), one more than
        C{bounds}.
    @return: The estimate in seconds, the highest finite bound when it
        falls in the C{+Inf} bucket, or L{None} without observations.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(bounds):
                return bounds[-1]
            lower = bounds[index - 1] if index else 0.0
            return lower + (bounds[index] - lower) * (rank - seen) / count
        seen += count
    return bounds[-1]


class MetricsHistory:
    """
    A ring buffer of samples of L{Metrics}: call L{sample} every
    L{SAMPLE_INTERVAL} seconds (the admin site does, with a
    L{LoopingCall <twisted.internet.task.LoopingCall>}); L{points} gives
    what happened between consecutive samples, for the charts.
    """

    def __init__(
        self,
        metrics: Metrics,
        interval: float = SAMPLE_INTERVAL,
        span: float = HISTORY_SECONDS,
    ) -> None:
        """
        @param metrics: The server's L{Metrics}.
        @param interval: Seconds between samples (for the buffer's size).
        @param span: Seconds the buffer covers.
        """
        self.metrics = metrics
        self.interval = interval
        self._samples: deque[_Sample] = deque(maxlen=int(math.ceil(span / interval)) + 1)

    def sample(self, now: float) -> None:
        """
        Take one sample of the counters.

        @param now: The clock's time.
        """
        metrics = self.metrics
        requests = refusals = 0
        for (_, _, outcome), count in metrics.messages.items():
            requests += count
            if outcome == "refused":
                refusals += count
        buckets = [0] * (len(metrics.buckets) + 1)
        for histogram in metrics.latency.values():
            for index, count in enumerate(histogram.counts):
                buckets[index] += count
        self._samples.append(_Sample(now, requests, refusals, tuple(buckets)))

    def points(self) -> list[ChartPoint]:
        """
        @return: One L{ChartPoint} per interval between samples, oldest
            first.
        """
        bounds = self.metrics.buckets
        result = []
        samples = list(self._samples)
        for before, after in zip(samples, samples[1:], strict=False):
            seconds = after.when - before.when
            if seconds <= 0:
                continue
            counts = [a - b for a, b in zip(after.buckets, before.buckets, strict=True)]
            result.append(
                ChartPoint(
                    when=after.when,
                    rate=max(0, after.requests - before.requests) / seconds,
                    refusals=max(0, after.refusals - before.refusals),
                    p50=quantile(0.5, bounds, counts),
                    p90=quantile(0.9, bounds, counts),
                    p99=quantile(0.99, bounds, counts),
                )
            )
        return result



@implementer(ILogObserver)
class RecentErrors:
    """
    A log observer keeping the last warnings and errors, for the
    dashboard: the text of each event as the log file has it (which
    never holds a PIN or password), with the exception's type when it
    carries one, never its traceback.
    """

    def __init__(self, size: int = 20) -> None:
        """
        @param size: How many events to keep.
        """
        self._events: deque[dict[str, Any]] = deque(maxlen=size)

    def __call__(self, event: LogEvent) -> None:
        level = event.get("log_level")
        if level is None or level not in WARNING_LEVELS:
            return
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None and getattr(failure, "type", None) is not None:
            text = "%s (%s)" % (text, failure.type.__name__)
        self._events.append(
            {
                "time": event.get("log_time"),
                "level": level.name,
                "namespace": event.get("log_namespace"),
                "text": text,
            }
        )

    def recent(self) -> list[dict[str, Any]]:
        """
        @return: The kept events, newest first: dicts with C{time} (Unix
            time), C{level} (C{"warn"}, C{"error"} or C{"critical"}),
            C{namespace} and C{text}.
        """
        return list(reversed(self._events))
