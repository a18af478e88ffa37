# -*- test-case-name: tests.test_dashboard -*-
"""
The admin listener's status page: server, listeners, kiosks, accounts,
adapter health, the last errors and the last hour's charts, refreshing
itself; and C{/status.json}, the same as data.
"""

from sip2acs.ops.dashboard.history import (
    SAMPLE_INTERVAL,
    ChartPoint,
    MetricsHistory,
    RecentErrors,
    quantile,
)
from sip2acs.ops.dashboard.page import REFRESH_SECONDS, Dashboard, renderPage
from sip2acs.ops.dashboard.status import (
    STALE_AFTER,
    HealthSource,
    connectedKiosks,
    describe,
    expiryText,
    gatewaySummaries,
    isoTime,
    relativeTime,
)

__all__ = [
    "REFRESH_SECONDS",
    "SAMPLE_INTERVAL",
    "STALE_AFTER",
    "ChartPoint",
    "Dashboard",
    "HealthSource",
    "MetricsHistory",
    "RecentErrors",
    "connectedKiosks",
    "describe",
    "expiryText",
    "gatewaySummaries",
    "isoTime",
    "quantile",
    "relativeTime",
    "renderPage",
]
