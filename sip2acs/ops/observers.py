# -*- test-case-name: tests.test_observers -*-
"""
Log observers for busy servers, for C{twistd --logger}.

twistd's default text observer formats each event's time zone afresh,
renders every message through Twisted's call-aware formatter and flushes
the file after each line. At thousands of transactions a second (one log
line each) that is a third of the server's CPU. L{FastTextObserver} writes
the same classic text lines, cheaply:

 - the timestamp is formatted once per second;
 - messages are rendered with plain C{str.format}, falling back to
   Twisted's formatter for formats it cannot render;
 - lines are buffered and flushed within a second (by a small thread),
   and at once for warnings and errors.

Use it with::

    twistd --logger=sip2acs.ops.observers.stdout -n sip2acs     # standard output
    SIP2ACS_LOG=/var/log/sip2acs.log twistd --logger=sip2acs.ops.observers.logfile sip2acs

(C{--logger} replaces C{--logfile}: twistd passes nothing to the factory,
so the file name comes from the C{SIP2ACS_LOG} environment variable.)

Two more factories choose the other formats: L{jsonlines} (one JSON object
per event, to C{SIP2ACS_LOG} or standard output) and L{syslog} (facility
C{local6} unless C{SIP2ACS_SYSLOG_FACILITY} names another).
"""

import atexit
import os
import sys
import threading
import time
from typing import TextIO

from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
)
from zope.interface import implementer

__all__ = ["FastTextObserver", "stdout", "logfile", "jsonlines", "syslog"]

_FLUSH_INTERVAL = 1.0


@implementer(ILogObserver)
class FastTextObserver:
    """
    Classic twistd text lines (C{2026-11-22T22:44:40+0000 [namespace#info]
    message}), formatted and written cheaply.
    """

    def __init__(self, stream: TextIO, flushInterval: float = _FLUSH_INTERVAL) -> None:
        self._stream = stream
        self._flushInterval = flushInterval
        self._second: int | None = None
        self._stamp = ""
        self._lock = threading.Lock()
        self._dirty = False
        atexit.register(self.flush)
        flusher = threading.Thread(
            target=self._flushEvery, name="sip2acs-log-flush", daemon=True
        )
        flusher.start()

    def _flushEvery(self) -> None:
        while True:
            time.sleep(self._flushInterval)
            if self._dirty:
                self.flush()

    def _timestamp(self, when: float) -> str:
        second = int(when)
        if second != self._second:
            self._second = second
            self._stamp = formatTime(second)
        return self._stamp

    def __call__(self, event: LogEvent) -> None:
        if "log_failure" in event or "log_format" not in event:
            text = formatEventAsClassicLogText(event)
            if text is None:
                return
        else:
            try:
                message = event["log_format"].format(**event)
            except Exception:
                message = formatEvent(event)
            level = event.get("log_level", LogLevel.info)
            text = "%s [%s#%s] %s\n" % (
                self._timestamp(event.get("log_time", time.time())),
                event.get("log_system") or event.get("log_namespace", "-"),
                level.name,
                message.replace("\n", "\n\t"),
            )
        level = event.get("log_level", LogLevel.info)
        with self._lock:
            self._stream.write(text)
            if level >= LogLevel.warn:
                self._stream.flush()
            else:
                self._dirty = True

    def flush(self) -> None:
        """
        Write out buffered lines.
        """
        with self._lock:
            self._dirty = False
            try:
                self._stream.flush()
            except ValueError:
                pass  # closed at interpreter exit


def stdout() -> FastTextObserver:
    """
    A L{FastTextObserver} on standard output (for C{twistd --logger}).
    """
    return FastTextObserver(
        open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8",
             errors="replace", closefd=False)
    )


def logfile() -> FastTextObserver:
    """
    A L{FastTextObserver} appending to the file named by C{SIP2ACS_LOG}
    (default C{sip2acs.log}), for C{twistd --logger}.
    """
    path = os.environ.get("SIP2ACS_LOG", "sip2acs.log")
    return FastTextObserver(
        open(path, "a", buffering=1 << 16, encoding="utf-8", errors="replace")
    )


def _output() -> TextIO:
    path = os.environ.get("SIP2ACS_LOG")
    if path:
        return open(path, "a", encoding="utf-8", errors="replace")
    return open(sys.stdout.fileno(), "w", encoding="utf-8", errors="replace",
                closefd=False)


def jsonlines() -> ILogObserver:
    """
    Events as JSON, one per line, to the file named by C{SIP2ACS_LOG} or to
    standard output (for C{twistd --logger}). Read them back with
    L{twisted.logger.eventsFromJSONLogFile}.
    """
    from twisted.logger import jsonFileLogObserver

    return jsonFileLogObserver(_output(), recordSeparator="")


def syslog() -> ILogObserver:
    """
    Events to the local syslog daemon as C{sip2acs}, facility C{local6}
    (the one the SIP2 servers' documentation teaches) or the one named by
    C{SIP2ACS_SYSLOG_FACILITY} (e.g. C{local3}), for C{twistd --logger}.
    """
    import syslog as _syslog

    from twisted.logger import LegacyLogObserverWrapper
    from twisted.python.syslog import SyslogObserver

    name = os.environ.get("SIP2ACS_SYSLOG_FACILITY", "local6").upper()
    facility = getattr(_syslog, "LOG_" + name, None)
    if not isinstance(facility, int):
        raise SystemExit("SIP2ACS_SYSLOG_FACILITY: unknown facility %r" % (name,))
    # Twisted annotates the legacy observer as an ILogObserver; any callable
    # taking the event dict is what it wraps (here a bound method).
    return LegacyLogObserverWrapper(
        SyslogObserver("sip2acs", facility=facility).emit  # type: ignore[arg-type]
    )
