"""
Tests for L{sip2acs.ops.observers}.
"""

import io

from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

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

        from sip2acs.ops import observers

        for name in ("stdout", "logfile", "jsonlines", "syslog"):
            self.assertIs(namedAny("sip2acs.observers." + name), getattr(observers, name))
