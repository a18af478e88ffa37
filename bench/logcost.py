"""
What one transaction's log line costs the server, in CPU microseconds.

Logs the line a transaction logs (the session's format and fields, through
the session's L{QuickLogger} kept per session, Twisted's global log
publisher and the observer a plain C{twistd sip2acs} run uses) to
C{/dev/null}, and, for comparison, the same line through Twisted's own
C{Logger} read from the class (as code does by default) and through
twistd's own text observer (what C{twistd --logger} can still choose).

    .venv/bin/python bench/logcost.py [--lines N] [--rounds R]

Prints the best of R rounds of N lines each (process CPU time, so other
processes on the machine do not count) for each combination.
"""

import argparse
import sys
import time

from twisted.logger import (
    Logger,
    globalLogBeginner,
    globalLogPublisher,
    textFileLogObserver,
)

from sip2acs.ops.observers import LineObserver, TextRenderer, renderJournal, renderJSON
from sip2acs.quicklog import QuickLogger

FORMAT = "{account}@{peer} on {listener}: {request}->{response} {outcome} in {ms:.1f} ms"
FIELDS = dict(account="kiosk1", peer="10.0.4.21", listener="tcp:6001:interface=0.0.0.0",
              request="17", response="18", outcome="ok", ms=0.4321)


class Session:
    log = QuickLogger()

    def __init__(self) -> None:
        self.log = self.log


class TwistedSession:
    log = Logger()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    sink = open("/dev/null", "w", buffering=1 << 16)
    observer = LineObserver(TextRenderer(), sink, flushInterval=3600)
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False,
                                     discardBuffer=True)
    session, twistedSession = Session(), TwistedSession()
    twistdObserver = textFileLogObserver(sink)
    cases = {
        "sip2acs (text lines, the default)": (session, TextRenderer(), None),
        "sip2acs (journal lines, under systemd)": (session, renderJournal, None),
        "sip2acs (--log-format json)": (session, renderJSON, None),
        "Twisted Logger, sip2acs text observer": (twistedSession, TextRenderer(), None),
        "Twisted Logger, twistd's own text observer": (twistedSession, None, twistdObserver),
    }
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (who, render, other) in cases.items():
            if other is not None:
                globalLogPublisher.removeObserver(observer)
                globalLogPublisher.addObserver(other)
            else:
                observer._render = render
            started = time.process_time()
            for _ in range(args.lines):
                who.log.info(FORMAT, **FIELDS)
            spent = (time.process_time() - started) / args.lines * 1e6
            best[name] = min(best.get(name, spent), spent)
            if other is not None:
                globalLogPublisher.removeObserver(other)
                globalLogPublisher.addObserver(observer)
    width = max(map(len, best))
    for name, spent in best.items():
        print("%-*s  %6.2f µs per line" % (width, name, spent))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
