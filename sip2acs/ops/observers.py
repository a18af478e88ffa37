# -*- test-case-name: tests.test_observers -*-
"""
Where sip2acs's log lines go, and what they look like.

A plain C{twistd sip2acs} run logs through L{LineObserver}, chosen by
L{twistdObserver} from twistd's own options:

  - C{-n} with no C{--logfile} (or C{--logfile -}): standard output. Under
    systemd (C{JOURNAL_STREAM} names standard output) each line starts with
    its syslog priority (C{<4>} for a warning), so C{journalctl -p warning}
    works, and carries no timestamp of its own (the journal adds one, and
    the PID).
  - C{--logfile PATH}: that file, created mode 0640 at most, appended to and
    never rotated by sip2acs: when logrotate moves it away, sip2acs notices
    within a second and opens a new file at C{PATH} (C{copytruncate} works
    too). twistd's own 1 MB rotation and its SIGUSR1 handler are not used;
    SIGUSR1 drains (see L{sip2acs.ops.admin.DrainService}).
  - C{--syslog}: the local syslog daemon through L{SyslogObserver}, with the
    PID, facility C{local6} (or C{SIP2ACS_SYSLOG_FACILITY}), each level at
    its own priority (an error is C{err}, never C{alert}).
  - C{twistd sip2acs --log-format json}: one flat JSON object per line
    (L{renderJSON}), to the same places.

A line costs a few microseconds: the timestamp is formatted once a second,
messages are rendered with plain C{str.format} (falling back to Twisted's
formatter for formats it cannot render), and lines are buffered, flushed
within a second by a small thread and at once for warnings and errors.

C{twistd --logger=...} still chooses an observer by name, bypassing all of
this: L{stdout}, L{logfile} (the file named by C{SIP2ACS_LOG}), L{jsonlines},
L{journal} and L{syslog} are those names.
"""

from __future__ import annotations

import atexit
import json
import os
import string
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
)
from zope.interface import implementer

__all__ = [
    "LOG_FORMATS",
    "WARNING_LEVELS",
    "FastTextObserver",
    "LineObserver",
    "LogFile",
    "SyslogObserver",
    "TextRenderer",
    "journal",
    "jsonlines",
    "logfile",
    "renderJSON",
    "renderJournal",
    "stdout",
    "syslog",
    "twistdObserver",
    "twistdText",
]

_FLUSH_INTERVAL = 1.0

WARNING_LEVELS = frozenset({LogLevel.warn, LogLevel.error, LogLevel.critical})
"""
The levels of warnings and errors: written out at once rather than within
a second (and kept for the status page, see
L{sip2acs.ops.dashboard.history.RecentErrors}).
"""

_PRIORITY = {
    LogLevel.debug: 7,
    LogLevel.info: 6,
    LogLevel.warn: 4,
    LogLevel.error: 3,
    LogLevel.critical: 2,
}
"""
Each level's syslog priority (debug, info, warning, err, crit), for the
journal's line prefix and for syslog.
"""

LOG_FORMATS = ("auto", "text", "journal", "json")
"""
The values of C{twistd sip2acs --log-format}: C{auto} is C{journal} when
standard output is the systemd journal and C{text} otherwise.
"""

Renderer = Callable[[LogEvent], "str | None"]


def _message(event: LogEvent) -> str:
    """
    The event's message, cheaply: C{str.format} when it can, Twisted's
    formatter for the rest (method calls, missing fields).
    """
    try:
        return event["log_format"].format_map(event)
    except Exception:
        return formatEvent(event)


def _plain(event: LogEvent) -> bool:
    """
    Whether the event is a formatted message with no failure attached (the
    fast path of every renderer).
    """
    return "log_format" in event and "log_failure" not in event


def _system(event: LogEvent) -> str:
    return event.get("log_system") or event.get("log_namespace", "-")


class TextRenderer:
    """
    Classic twistd text lines: C{2026-11-22T22:44:40+0000
    [sip2acs.acs.session.Session#info] message}. The timestamp is formatted
    once per second.
    """

    def __init__(self) -> None:
        self._second: int | None = None
        self._stamp = ""

    def _timestamp(self, when: float) -> str:
        second = int(when)
        if second != self._second:
            self._second = second
            self._stamp = formatTime(second)
        return self._stamp

    def __call__(self, event: LogEvent) -> str | None:
        if not _plain(event):
            return formatEventAsClassicLogText(event)
        message = _message(event)
        if "\n" in message:
            message = message.replace("\n", "\n\t")
        return "%s [%s#%s] %s\n" % (
            self._timestamp(event.get("log_time") or time.time()),
            _system(event),
            event.get("log_level", LogLevel.info).name,
            message,
        )


def _priority(event: LogEvent) -> int:
    return _PRIORITY.get(event.get("log_level", LogLevel.info), 6)


def renderJournal(event: LogEvent) -> str | None:
    """
    A line for the systemd journal's standard-output stream: the priority
    prefix C{<N>} journald reads (see C{sd-daemon(3)}), then the system and
    level and the message, no timestamp (the journal keeps its own). A
    traceback's lines are indented and carry the same priority.
    """
    if _plain(event):
        text = _message(event)
    else:
        text = formatEvent(event)
        if "log_failure" in event:
            text += "\n" + event["log_failure"].getTraceback()
    prefix = "<%d>" % (_priority(event),)
    return "%s[%s#%s] %s\n" % (
        prefix,
        _system(event),
        event.get("log_level", LogLevel.info).name,
        text.rstrip("\n").replace("\n", "\n" + prefix + "\t"),
    )


_FORMATTER = string.Formatter()
_FIELDS: dict[str, tuple[str, ...]] = {}


def _fieldNames(format: str) -> tuple[str, ...]:
    """
    The top-level field names a format string uses (cached per format).
    """
    names = _FIELDS.get(format)
    if names is None:
        found = []
        try:
            for _, name, _, _ in _FORMATTER.parse(format):
                if name:
                    base = name.split(".", 1)[0].split("[", 1)[0].split("(", 1)[0]
                    if base and base not in found:
                        found.append(base)
        except ValueError:
            pass
        names = _FIELDS[format] = tuple(found)
    return names


class _Process:
    """
    The process id, read once (and again in a child after a fork), and the
    UTC second last formatted.
    """

    pid = os.getpid()
    second = -1
    stamp = ""

    @classmethod
    def forked(cls) -> None:
        cls.pid = os.getpid()

    @classmethod
    def utc(cls, when: float) -> str:
        """
        C{when} as ISO 8601 UTC with milliseconds (C{2026-12-01T09:14:03.217Z}).
        """
        second = int(when)
        if second != cls.second:
            cls.second = second
            cls.stamp = datetime.fromtimestamp(second, timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S")
        return "%s.%03dZ" % (cls.stamp, int((when - second) * 1000))


os.register_at_fork(after_in_child=_Process.forked)


_JSON = json.JSONEncoder(ensure_ascii=False, default=str).encode
"""
One encoder for every line (C{json.dumps} with options builds a new one
each call).
"""


def renderJSON(event: LogEvent) -> str | None:
    """
    One flat JSON object per line, for log shippers: C{time} (UTC, ISO 8601
    with milliseconds), C{level}, C{system}, C{pid}, C{message} (as the text
    line shows it), C{failure} (the traceback) when there is one, and the
    message's own fields whose values are strings, numbers, booleans or null
    (C{account}, C{peer}, C{request}, C{response}, C{outcome}, C{ms} for a
    transaction). Field names never start with C{log_}; fields named like
    the fixed keys are left out.
    """
    record: dict[str, Any] = {
        "time": _Process.utc(event.get("log_time") or time.time()),
        "level": event.get("log_level", LogLevel.info).name,
        "system": _system(event),
        "pid": _Process.pid,
        "message": _message(event) if "log_format" in event else formatEvent(event),
    }
    if "log_failure" in event:
        record["failure"] = event["log_failure"].getTraceback()
    fmt = event.get("log_format")
    if isinstance(fmt, str):
        for name in _fieldNames(fmt):
            value = event.get(name)
            if name not in record and (
                value is None or isinstance(value, (str, int, float, bool))
            ):
                record[name] = value
    return _JSON(record) + "\n"


class LogFile:
    """
    A log file sip2acs appends to and never rotates. Created mode 0640 at
    most (the umask may take more away). When the file at C{path} is no
    longer the one open (logrotate moved it away, or it was deleted),
    L{reopenIfMoved} opens a new one there.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.stream = self._open()

    def _open(self) -> TextIO:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        return open(fd, "a", buffering=1 << 16, encoding="utf-8", errors="replace")

    def moved(self) -> bool:
        """
        Whether C{path} no longer names the open file.
        """
        try:
            there = os.stat(self.path)
        except OSError:
            return True
        here = os.fstat(self.stream.fileno())
        return (there.st_dev, there.st_ino) != (here.st_dev, here.st_ino)

    def reopenIfMoved(self) -> bool:
        """
        Open a new file at C{path} if the open one was moved or deleted
        (called with the observer's lock held).

        @return: Whether it was reopened.
        """
        if not self.moved():
            return False
        try:
            stream = self._open()
        except OSError:
            return False  # keep writing to the old file rather than nowhere
        old, self.stream = self.stream, stream
        try:
            old.close()
        except (OSError, ValueError):
            pass
        return True


def _standardOutput() -> TextIO:
    return open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8",
                errors="replace", closefd=False)


@implementer(ILogObserver)
class LineObserver:
    """
    Writes each event as the line C{render} makes of it, buffered: a small
    thread flushes within C{flushInterval} seconds (and, for a L{LogFile},
    reopens it after logrotate moved it); warnings and errors are flushed
    at once. Safe to call from any thread.
    """

    def __init__(
        self,
        render: Renderer,
        output: TextIO | LogFile,
        flushInterval: float = _FLUSH_INTERVAL,
    ) -> None:
        """
        @param render: Makes an event's line (ending in a newline), or
            L{None} to write nothing.
        @param output: A stream, or a L{LogFile} (followed across rotation).
        @param flushInterval: Seconds between flushes of buffered lines.
        """
        self._render = render
        self._file = output if isinstance(output, LogFile) else None
        self._stream = output.stream if isinstance(output, LogFile) else output
        self._flushInterval = flushInterval
        self._dirty = False
        self._buffering = True
        atexit.register(self.flush)
        self._startFlusher()
        # twistd builds the observer before it daemonizes, and a thread
        # does not survive the fork: start another one in the child.
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _restart(me))

    def _startFlusher(self) -> None:
        self._lock = threading.Lock()  # a new one after a fork, too
        threading.Thread(
            target=self._flushEvery, name="sip2acs-log-flush", daemon=True
        ).start()

    def _flushEvery(self) -> None:
        while True:
            time.sleep(self._flushInterval)
            if self._dirty:
                self.flush()
            if self._file is not None:
                self.followRotation()

    def __call__(self, event: LogEvent) -> None:
        text = self._render(event)
        if text is None:
            return
        with self._lock:
            self._stream.write(text)
            if event.get("log_level") in WARNING_LEVELS or not self._buffering:
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
            except (OSError, ValueError):
                pass  # closed at interpreter exit, or the disk is full

    def unbuffered(self) -> None:
        """
        Write out buffered lines, and every later line at once. For the end
        of a run: twistd ends a run stopped by a signal by raising that
        signal again, which leaves no time for C{atexit}.
        """
        self._buffering = False
        self.flush()

    def followRotation(self) -> bool:
        """
        For a L{LogFile}: after its file was moved away, flush what is
        buffered to the old file and go on in a new one.

        @return: Whether a new file was opened.
        """
        if self._file is None:
            return False
        with self._lock:
            if not self._file.moved():
                return False
            try:
                self._stream.flush()
            except (OSError, ValueError):
                pass
            reopened = self._file.reopenIfMoved()
            self._stream = self._file.stream
            return reopened


def _restart(observer: weakref.ref[LineObserver]) -> None:
    alive = observer()
    if alive is not None:
        alive._startFlusher()


class FastTextObserver(LineObserver):
    """
    Classic twistd text lines (L{TextRenderer}) on a stream: the observer's
    first name, kept for scripts and tests.
    """

    def __init__(self, stream: TextIO, flushInterval: float = _FLUSH_INTERVAL) -> None:
        LineObserver.__init__(self, TextRenderer(), stream, flushInterval)


def _facility(environ: Mapping[str, str]) -> int:
    import syslog as _syslog

    name = environ.get("SIP2ACS_SYSLOG_FACILITY", "local6").upper()
    facility = getattr(_syslog, "LOG_" + name, None)
    if not isinstance(facility, int):
        raise SystemExit(
            "SIP2ACS_SYSLOG_FACILITY: %r is not a syslog facility (local0 ... local7,"
            " daemon, user)" % (name.lower(),)
        )
    return facility


@implementer(ILogObserver)
class SyslogObserver:
    """
    Events to the local syslog daemon, with the PID, each at its level's
    priority (debug, info, warning, err, crit). A traceback's lines follow
    their message, one syslog record each, indented.
    """

    def __init__(self, ident: str, facility: int) -> None:
        import syslog as _syslog

        self._syslog = _syslog.syslog
        _syslog.openlog(ident, _syslog.LOG_PID, facility)

    def __call__(self, event: LogEvent) -> None:
        text = _message(event) if "log_format" in event else formatEvent(event)
        if "log_failure" in event:
            text += "\n" + event["log_failure"].getTraceback()
        priority = _priority(event)
        system = _system(event)
        for number, line in enumerate(text.rstrip("\n").split("\n")):
            self._syslog(priority, ("[%s] %s" % (system, line)) if number == 0
                         else "\t" + line)


def _underJournal(environ: Mapping[str, str]) -> bool:
    """
    Whether standard output is the systemd journal (C{JOURNAL_STREAM} holds
    its device and inode).
    """
    stream = environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        here = os.fstat(sys.stdout.fileno())
    except (ValueError, OSError):
        return False
    return (here.st_dev, here.st_ino) == (device, inode)


def _renderer(logFormat: str, onStandardOutput: bool,
              environ: Mapping[str, str]) -> Renderer:
    if logFormat == "auto":
        logFormat = "journal" if onStandardOutput and _underJournal(environ) else "text"
    if logFormat == "json":
        return renderJSON
    if logFormat == "journal":
        return renderJournal
    return TextRenderer()


def twistdObserver(
    twistdOptions: Mapping[str, Any],
    logFormat: str = "auto",
    environ: Mapping[str, str] = os.environ,
) -> ILogObserver | None:
    """
    The observer a C{twistd sip2acs} run logs to, from twistd's options (see
    the module's docstring).

    @param twistdOptions: twistd's parsed options (C{logfile}, C{syslog},
        C{prefix}, C{nodaemon}, C{logger}).
    @param logFormat: One of L{LOG_FORMATS}.
    @return: The observer, or L{None} to leave the choice to twistd (a
        C{--logger} was given, or a daemon was asked to log to standard
        output, which twistd refuses).
    """
    if twistdOptions.get("logger"):
        return None
    if twistdOptions.get("syslog"):
        prefix = twistdOptions.get("prefix") or "sip2acs"
        return SyslogObserver("sip2acs" if prefix == "twisted" else prefix,
                              _facility(environ))
    path = twistdOptions.get("logfile") or ""
    nodaemon = bool(twistdOptions.get("nodaemon"))
    if path == "-" or (not path and nodaemon):
        if not nodaemon:
            return None
        return LineObserver(_renderer(logFormat, True, environ), _standardOutput())
    return LineObserver(_renderer(logFormat, False, environ),
                        LogFile(path or "twistd.log"))


# Factories for twistd --logger=...


def stdout() -> LineObserver:
    """
    Classic text lines on standard output (C{twistd --logger}).
    """
    return FastTextObserver(_standardOutput())


def logfile() -> LineObserver:
    """
    Classic text lines appended to the file named by C{SIP2ACS_LOG} (default
    C{sip2acs.log}), followed across rotation (C{twistd --logger}).
    """
    return LineObserver(TextRenderer(), LogFile(os.environ.get("SIP2ACS_LOG", "sip2acs.log")))


def _textOrFile(render: Renderer) -> LineObserver:
    path = os.environ.get("SIP2ACS_LOG")
    return LineObserver(render, LogFile(path) if path else _standardOutput())


def jsonlines() -> LineObserver:
    """
    Flat JSON lines (L{renderJSON}) to the file named by C{SIP2ACS_LOG} or to
    standard output (C{twistd --logger}).
    """
    return _textOrFile(renderJSON)


def journal() -> LineObserver:
    """
    Journal lines (L{renderJournal}) on standard output (C{twistd --logger}).
    """
    return LineObserver(renderJournal, _standardOutput())


def twistdText() -> ILogObserver:
    """
    twistd's own text observer (Twisted's C{textFileLogObserver}), on the
    file named by C{SIP2ACS_LOG} or standard output, for C{twistd --logger}:
    what a plain run used before sip2acs wrote its own lines (about seven
    times the CPU per line; see C{bench/logcost.py}).
    """
    from twisted.logger import textFileLogObserver

    path = os.environ.get("SIP2ACS_LOG")
    return textFileLogObserver(open(path, "a", encoding="utf-8") if path else sys.stdout)


def syslog() -> SyslogObserver:
    """
    Events to the local syslog daemon as C{sip2acs}, with the PID, facility
    C{local6} (the one the SIP2 servers' documentation teaches) or the one
    named by C{SIP2ACS_SYSLOG_FACILITY} (e.g. C{local3}), for C{twistd
    --logger}.
    """
    return SyslogObserver("sip2acs", _facility(os.environ))
