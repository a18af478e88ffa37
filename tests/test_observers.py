"""
Tests for L{sip2acs.ops.observers}.
"""

import io
import json
import os
import sys

from twisted.logger import LogLevel, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.ops import observers
from sip2acs.ops.observers import FastTextObserver


class Stream(io.StringIO):
    flushes = 0

    def flush(self):
        self.flushes += 1


class FastTextObserverTests(SynchronousTestCase):
    def setUp(self):
        self.stream = Stream()
        self.observer = FastTextObserver(self.stream, flushInterval=3600)

    def event(self, **fields):
        event = {"log_time": 1_763_850_000.5, "log_level": LogLevel.info,
                 "log_namespace": "sip2acs.acs.session.ACSSession"}
        event.update(fields)
        return event

    def test_classicLine(self) -> None:
        """
        An event becomes one classic twistd text line: time, namespace and
        level, the formatted message.
        """
        self.observer(self.event(
            log_format="{account}@{peer} {request}->{response} in {ms:.1f} ms",
            account="demo", peer="127.0.0.1", request="11", response="12", ms=3.14159))
        line = self.stream.getvalue()
        self.assertTrue(line.endswith(
            " [sip2acs.acs.session.ACSSession#info] demo@127.0.0.1 11->12 in 3.1 ms\n"))
        self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ")

    def test_twistedFormatFallback(self) -> None:
        """
        Formats plain C{str.format} cannot render (Twisted's method calls)
        fall back to Twisted's formatter.
        """
        class Thing:
            def name(self):
                return "called"

        self.observer(self.event(log_format="{thing.name()}", thing=Thing()))
        self.assertIn("called", self.stream.getvalue())

    def test_failure(self) -> None:
        """
        An event with a failure is written with its traceback.
        """
        try:
            1 / 0  # noqa: B018 (raises, for the traceback)
        except ZeroDivisionError:
            failure = Failure()
        self.observer(self.event(log_format="it broke", log_failure=failure,
                                 log_level=LogLevel.critical))
        self.assertIn("ZeroDivisionError", self.stream.getvalue())

    def test_buffering(self) -> None:
        """
        Info lines are buffered; a warning is flushed at once.
        """
        self.observer(self.event(log_format="quiet"))
        self.assertEqual(self.stream.flushes, 0)
        self.observer(self.event(log_format="loud", log_level=LogLevel.warn))
        self.assertEqual(self.stream.flushes, 1)
        self.observer.flush()
        self.assertEqual(self.stream.flushes, 2)


class OldNamesTests(SynchronousTestCase):
    def test_oldLoggerNames(self):
        """
        C{twistd --logger=sip2acs.observers.stdout} (and the other
        observers' first names) still work after the move to
        L{sip2acs.ops.observers}.
        """
        from twisted.python.reflect import namedAny

        for name in ("stdout", "logfile", "jsonlines", "syslog"):
            self.assertIs(namedAny("sip2acs.observers." + name), getattr(observers, name))


class RendererTests(SynchronousTestCase):
    """
    The journal and JSON lines.
    """

    def event(self, **fields):
        event = {"log_time": 1_763_850_000.25, "log_level": LogLevel.info,
                 "log_namespace": "sip2acs.acs.session.ACSSession",
                 "log_format": "{account}@{peer} {request}->{response} {outcome} in {ms:.1f} ms",
                 "account": "demo", "peer": "127.0.0.1", "request": "11", "response": "12",
                 "outcome": "ok", "ms": 3.14159, "log_logger": object()}
        event.update(fields)
        return event

    def test_journal(self) -> None:
        """
        A journal line starts with the level's syslog priority and has no
        timestamp; a traceback's lines keep the priority.
        """
        self.assertEqual(
            observers.renderJournal(self.event()),
            "<6>[sip2acs.acs.session.ACSSession#info] demo@127.0.0.1 11->12 ok in 3.1 ms\n",
        )
        self.assertTrue(observers.renderJournal(
            self.event(log_level=LogLevel.warn)).startswith("<4>"))
        try:
            1 / 0  # noqa: B018 (raises, for the traceback)
        except ZeroDivisionError:
            failure = Failure()
        text = observers.renderJournal(self.event(
            log_format="it broke", log_failure=failure, log_level=LogLevel.critical))
        lines = text.splitlines()
        self.assertTrue(all(line.startswith("<2>") for line in lines), lines)
        self.assertIn("ZeroDivisionError", text)

    def test_json(self) -> None:
        """
        A JSON line is one flat object: time, level, system, pid, message
        and the message's own simple fields, never Twisted's C{log_*} keys.
        """
        record = json.loads(observers.renderJSON(self.event()))
        self.assertEqual(record["time"], "2025-11-22T22:20:00.250Z")
        self.assertEqual(record["message"], "demo@127.0.0.1 11->12 ok in 3.1 ms")
        self.assertEqual(
            (record["level"], record["system"], record["pid"]),
            ("info", "sip2acs.acs.session.ACSSession", os.getpid()),
        )
        self.assertEqual((record["account"], record["ms"]), ("demo", 3.14159))
        self.assertFalse([key for key in record if key.startswith("log_")])

    def test_jsonFailure(self) -> None:
        """
        A failure's traceback is the record's C{failure}.
        """
        try:
            1 / 0  # noqa: B018 (raises, for the traceback)
        except ZeroDivisionError:
            failure = Failure()
        record = json.loads(observers.renderJSON(self.event(log_failure=failure)))
        self.assertIn("ZeroDivisionError", record["failure"])


class LogFileTests(SynchronousTestCase):
    """
    A log file is followed across logrotate's moves, never rotated.
    """

    def test_followsRotation(self) -> None:
        """
        After the file is renamed (logrotate's C{create} mode), the lines
        buffered go to the old file and the next ones to a new file at the
        same path, created 0640 at most.
        """
        path = self.mktemp()
        observer = observers.LineObserver(
            observers.TextRenderer(), observers.LogFile(path), flushInterval=3600)
        observer({"log_format": "first", "log_level": LogLevel.info, "log_time": 1.0})
        os.rename(path, path + ".1")
        self.assertTrue(observer.followRotation())
        observer({"log_format": "second", "log_level": LogLevel.warn, "log_time": 2.0})
        with open(path + ".1") as old, open(path) as new:
            self.assertIn("first", old.read())
            self.assertEqual(new.read().count("second"), 1)
        self.assertEqual(os.stat(path).st_mode & 0o777 & ~0o640, 0)
        self.assertFalse(observer.followRotation())

    def test_copytruncate(self) -> None:
        """
        With logrotate's C{copytruncate} the file is the same: lines go on at
        its (new) end.
        """
        path = self.mktemp()
        observer = observers.LineObserver(
            observers.TextRenderer(), observers.LogFile(path), flushInterval=3600)
        observer({"log_format": "before", "log_level": LogLevel.warn, "log_time": 1.0})
        os.truncate(path, 0)
        observer({"log_format": "after", "log_level": LogLevel.warn, "log_time": 2.0})
        with open(path) as f:
            text = f.read()
        self.assertNotIn("before", text)
        self.assertTrue(text.startswith("1970"), text)

    def test_unbuffered(self) -> None:
        """
        After L{LineObserver.unbuffered} (the reactor has stopped) every line
        is written at once.
        """
        stream = Stream()
        observer = FastTextObserver(stream, flushInterval=3600)
        observer({"log_format": "quiet", "log_level": LogLevel.info, "log_time": 1.0})
        observer.unbuffered()
        self.assertEqual(stream.flushes, 1)
        observer({"log_format": "last", "log_level": LogLevel.info, "log_time": 1.0})
        self.assertEqual(stream.flushes, 2)


class TwistdObserverTests(SynchronousTestCase):
    """
    L{observers.twistdObserver} follows twistd's options.
    """

    def test_logger(self) -> None:
        """
        With C{--logger} twistd chooses; so it does for a daemon asked to log
        to standard output (which it refuses).
        """
        self.assertIsNone(observers.twistdObserver({"logger": lambda: None}))
        self.assertIsNone(observers.twistdObserver({"logfile": "-", "nodaemon": False}))

    def test_standardOutput(self) -> None:
        """
        C{-n} alone: text lines on standard output; C{json} on request;
        journal lines when standard output is the journal.
        """
        text = observers.twistdObserver({"nodaemon": True, "logfile": ""}, environ={})
        self.assertIsInstance(text._render, observers.TextRenderer)
        json_ = observers.twistdObserver({"nodaemon": True}, "json", environ={})
        self.assertIs(json_._render, observers.renderJSON)
        here = os.fstat(sys.stdout.fileno())
        journal = observers.twistdObserver(
            {"nodaemon": True}, "auto",
            environ={"JOURNAL_STREAM": "%d:%d" % (here.st_dev, here.st_ino)})
        self.assertIs(journal._render, observers.renderJournal)
        elsewhere = observers.twistdObserver(
            {"nodaemon": True}, "auto", environ={"JOURNAL_STREAM": "1:2"})
        self.assertIsInstance(elsewhere._render, observers.TextRenderer)

    def test_logfile(self) -> None:
        """
        C{--logfile PATH}: a L{observers.LogFile} there (not twistd's
        rotating one).
        """
        path = self.mktemp()
        observer = observers.twistdObserver({"logfile": path, "nodaemon": True}, environ={})
        self.assertEqual(observer._file.path, path)
        self.assertTrue(os.path.exists(path))

    def test_syslog(self) -> None:
        """
        C{--syslog}: the syslog observer, with the PID, named by C{--prefix}
        (C{sip2acs} for twistd's default), each level at its own priority.
        """
        import syslog

        opened, sent = [], []
        self.patch(syslog, "openlog", lambda *args: opened.append(args))
        self.patch(syslog, "syslog", lambda *args: sent.append(args))
        observer = observers.twistdObserver(
            {"syslog": True, "prefix": "twisted"}, environ={})
        self.assertEqual(opened, [("sip2acs", syslog.LOG_PID, syslog.LOG_LOCAL6)])
        observer({"log_format": "a {what}", "what": "typo", "log_level": LogLevel.error,
                  "log_namespace": "sip2acs.ops.reload"})
        observer({"log_format": "fine", "log_level": LogLevel.info, "log_namespace": "x"})
        self.assertEqual(sent, [(syslog.LOG_ERR, "[sip2acs.ops.reload] a typo"),
                                (syslog.LOG_INFO, "[x] fine")])
        observers.twistdObserver(
            {"syslog": True, "prefix": "library"}, environ={"SIP2ACS_SYSLOG_FACILITY": "local3"})
        self.assertEqual(opened[-1], ("library", syslog.LOG_PID, syslog.LOG_LOCAL3))


class QuickLoggerTests(SynchronousTestCase):
    """
    L{QuickLogger} emits the events Twisted's L{Logger} does.
    """

    def test_sameEvents(self) -> None:
        """
        The same keys and values (but the time), to the same observer, with
        C{log_trace} honoured.
        """
        from twisted.logger import Logger

        from sip2acs.quicklog import QuickLogger

        seen: list[dict] = []
        for kind in (Logger, QuickLogger):
            log = kind(namespace="ns", source=self, observer=seen.append)
            log.info("hello {who}", who="kiosk", log_trace=[])
        twisted, quick = seen
        self.assertEqual(set(twisted), set(quick))
        for key in twisted:
            if key not in ("log_time", "log_logger", "log_trace"):
                self.assertEqual(twisted[key], quick[key], key)
        self.assertEqual(len(quick["log_trace"]), 1)

    def test_invalidLevel(self) -> None:
        """
        A level that is not a L{LogLevel} is reported as Twisted reports it.
        """
        from sip2acs.quicklog import QuickLogger

        seen: list[dict] = []
        QuickLogger(observer=seen.append).emit("loud", "x")  # type: ignore[arg-type]
        self.assertEqual(len(seen), 1)
        self.assertIn("invalid log level", formatEvent(seen[0]).lower())
