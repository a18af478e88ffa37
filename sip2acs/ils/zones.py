# -*- test-case-name: tests.test_time_regressions -*-
"""
The time model of the adapter boundary: the host's zone (L{HostZone},
L{HOST_ZONE}), reading and naming an institution's zone setting
(L{zoneNamed}, L{zoneName}), and the two conversions (L{inZone},
L{wallTime}).

Every institution has a time zone: its C{timezone} setting (an IANA name
such as C{America/Chicago}), by default the host's local zone
(L{HOST_ZONE}, which follows the host's clock, daylight saving included).
One model holds everywhere:

  - Every L{datetime} crossing the adapter boundary, in a request (due
    dates, transaction and return dates, hold expirations) or in a result,
    is I{aware}, in the institution's zone. Adapters are built with that
    zone (L{sip2acs.acs.server.makeAdapter}) and compute with aware times only.
  - The session converts at the wire. A SIP2 date with a blank zone is the
    ACS's local time, that is the institution's zone: the zone is attached.
    A date with a zone letter (C{Z} for UTC) is converted to the
    institution's zone. Dates the session sends go out as the institution's
    local wall time with a blank zone (L{wallTime}).
  - The embedded SQLite system stores the institution's local wall time as
    text, C{YYYY-MM-DD HH:MM:SS} (see L{sip2acs.ils.sqlite.store.writeTime}
    and L{sip2acs.ils.sqlite.store.readTime}).

L{inZone} and L{wallTime} are the two conversions; L{zoneNamed} reads a
zone setting. A date is a calendar date (L{datetime.date}) and has no zone.
"""

import time
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["HostZone", "HOST_ZONE", "zoneNamed", "zoneName", "inZone", "wallTime"]

_EPOCH = datetime(1970, 1, 1)


class HostZone(tzinfo):
    """
    The host's local time zone as the C library sees it (C{TZ}, else
    C{/etc/localtime}), daylight saving included: each offset is asked of
    C{time.localtime} for the moment in question, so this zone always
    agrees with the host's clock. Outside the range the C library can
    convert, the standard offset is used.
    """

    def _stamp(self, dt: datetime) -> float | None:
        # The POSIX time of the wall time dt (honouring fold), or None.
        try:
            return dt.replace(tzinfo=None).timestamp()
        except (OverflowError, OSError, ValueError):
            return None

    def _local(self, dt: datetime) -> time.struct_time | None:
        stamp = self._stamp(dt)
        if stamp is None:
            return None
        try:
            return time.localtime(stamp)
        except (OverflowError, OSError, ValueError):
            return None

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        if dt is None:
            return None
        local = self._local(dt)
        return timedelta(
            seconds=local.tm_gmtoff if local is not None else -time.timezone
        )

    def dst(self, dt: datetime | None) -> timedelta | None:
        if dt is None:
            return None
        local = self._local(dt)
        if local is None or local.tm_isdst <= 0:
            return timedelta(0)
        return timedelta(seconds=local.tm_gmtoff + time.timezone)

    def tzname(self, dt: datetime | None) -> str:
        local = self._local(dt) if dt is not None else None
        return local.tm_zone if local is not None else time.tzname[0]

    def fromutc(self, dt: datetime) -> datetime:
        if not isinstance(dt, datetime) or dt.tzinfo is not self:
            raise ValueError("fromutc: dt.tzinfo is not self")
        naive = dt.replace(tzinfo=None)
        try:
            local = datetime.fromtimestamp((naive - _EPOCH).total_seconds())
        except (OverflowError, OSError, ValueError):
            return (naive + timedelta(seconds=-time.timezone)).replace(tzinfo=self)
        return local.replace(tzinfo=self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostZone)

    def __hash__(self) -> int:
        return hash(HostZone)

    def __repr__(self) -> str:
        return "HostZone()"

    def __str__(self) -> str:
        return "local"


HOST_ZONE = HostZone()
"""
The host's local zone: the default zone of an institution.
"""


def zoneNamed(name: str | None) -> tzinfo:
    """
    The time zone an institution's C{timezone} setting names.

    @param name: An IANA zone name such as C{"America/Chicago"}, or
        L{None} for the host's local zone.
    @raise ValueError: If the name is not a known zone.
    """
    if name is None:
        return HOST_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            "%r is not a known time zone (use an IANA name such as"
            " \"America/Chicago\")" % (name,)
        ) from None


def zoneName(zone: tzinfo) -> str:
    """
    The setting that names C{zone}: its IANA key, or C{"local"} for
    L{HOST_ZONE}.
    """
    return getattr(zone, "key", None) or str(zone)


def inZone(value: datetime | None, zone: tzinfo) -> datetime | None:
    """
    C{value} as an aware time in C{zone}: a naive value is taken as wall
    time there, an aware one converted.

    @return: The aware time, or L{None} for L{None} or a time that cannot
        be represented in C{zone} (at the very ends of the calendar).
    """
    if value is None:
        return None
    if value.utcoffset() is None:
        return value.replace(tzinfo=zone)
    try:
        return value.astimezone(zone)
    except (OverflowError, ValueError):
        return None


def wallTime(value: datetime | None, zone: tzinfo) -> datetime | None:
    """
    C{value} as a naive wall time in C{zone}: what the session sends as a
    SIP2 date with a blank zone. A naive value is returned as it is.

    @return: The naive time, or L{None} for L{None} or a time that cannot
        be represented in C{zone}.
    """
    value = inZone(value, zone)
    return None if value is None else value.replace(tzinfo=None)
