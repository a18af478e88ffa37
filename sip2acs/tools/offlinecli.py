# -*- test-case-name: tests.test_upstream_offline -*-
"""
C{sip2acs offline}: what a gateway's offline queue holds, for staff.

    sip2acs offline show FILE        the entries waiting and the refusals,
                                     one line each
    sip2acs offline clear FILE ID    forget refusal ID (staff dealt with it)

FILE is the queue's SQLite file (L{sip2acs.ils.upstream.offline}). Both
run without the server and may run while it does. No PIN is ever stored,
so none can be shown.
"""

import argparse
import sqlite3
import sys
from contextlib import closing

from sip2acs.ils.upstream.offline import (
    OfflineQueueError,
    deleteRefusal,
    describeOperation,
    describeRefusal,
    openQueueFile,
    readPending,
    readRefusals,
)
from sip2acs.tools import Subparsers

__all__ = ["register", "runShow", "runClear"]

ERRORS = (OfflineQueueError, sqlite3.Error, OSError)
"""
What a command reports in one line (and exits 1) rather than as a
traceback.
"""


def _fail(command: str, error: object) -> int:
    print("sip2acs offline %s: error: %s" % (command, error), file=sys.stderr)
    return 1


def runShow(args: argparse.Namespace) -> int:
    """
    C{sip2acs offline show FILE}: the entries waiting, then the refusals.

    @return: The exit code.
    """
    try:
        with closing(openQueueFile(args.file, create=False)) as conn:
            pending = readPending(conn)
            refusals = readRefusals(conn)
    except ERRORS as e:
        return _fail("show", e)
    print("%s: %d waiting to be replayed, %d refused by the upstream."
          % (args.file, len(pending), len(refusals)))
    for entry in pending:
        print(describeOperation(entry))
    for refusal in refusals:
        print(describeRefusal(refusal))
    return 0


def runClear(args: argparse.Namespace) -> int:
    """
    C{sip2acs offline clear FILE ID}: forget a refusal.

    @return: The exit code.
    """
    try:
        with closing(openQueueFile(args.file, create=False)) as conn:
            found = deleteRefusal(conn, args.id)
    except ERRORS as e:
        return _fail("clear", e)
    if not found:
        return _fail("clear", "%s holds no refusal %d (sip2acs offline show lists them)"
                     % (args.file, args.id))
    print("%s: refusal %d cleared." % (args.file, args.id))
    return 0


def register(subparsers: Subparsers) -> argparse.ArgumentParser:
    """
    Add the C{offline} command to the C{sip2acs} command line.

    @param subparsers: The result of C{ArgumentParser.add_subparsers()}.
    @return: The C{offline} parser. Parsed arguments get C{func}, a
        function taking them and returning the exit code.
    """
    offline = subparsers.add_parser(
        "offline",
        help="a gateway's offline queue: what waits for the upstream, and its refusals",
        description="Show or clear a gateway's offline queue (the SQLite file of"
        " checkins and checkouts taken while the upstream ILS was down).",
    )
    commands = offline.add_subparsers(dest="offlineCommand", metavar="COMMAND")
    commands.required = True

    show = commands.add_parser(
        "show", help="list the entries waiting and the refusals, one line each"
    )
    show.add_argument("file", metavar="FILE", help="the offline queue's file")
    show.set_defaults(func=runShow)

    clear = commands.add_parser(
        "clear", help="forget a refusal staff have dealt with"
    )
    clear.add_argument("file", metavar="FILE", help="the offline queue's file")
    clear.add_argument("id", metavar="ID", type=int,
                       help="the refusal's number, as show lists it")
    clear.set_defaults(func=runClear)
    return offline
