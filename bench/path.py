"""
The CPU cost of sip2acs's SIP2 request path alone, in this process: no
socket, no reactor, no thread.

The bench's kiosk loop (63, 17, 11, 09) goes through the real listener
factory, protocol, session, dispatcher, handlers, codec and log line (to
the observer a plain run uses, writing to /dev/null), on the in-memory
adapter with the bench's data set (as `sip2acs bench --ils memory`). What
`sip2acs bench --ils memory` measures on top of this is the reactor, the
sockets and the kiosks' timing.

    .venv/bin/python bench/path.py [--rounds N] [--connections N] [--profile [SORT]]

Prints the best of several rounds (process CPU time, so other processes do
not count), and with --profile a cProfile of one more round sorted by SORT
(tottime by default; cumulative, ncalls...).
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogBeginner

from sip2acs.acs.server import ACSServer
from sip2acs.config import loadConfig
from sip2acs.ops.observers import LineObserver, TextRenderer
from sip2acs.passwords import hashPassword
from sip2acs.tools.bench.data import INSTITUTION, LOGIN, PASSWORD, benchLibrary, itemId, patronId
from sip2acs.tools.bench.load import BLANK_DATE, DATE
from sip2acs.tools.bench.server import CONFIG
from sip2acs.transports.factory import SIP2ServerFactory


class _Sink(StringTransport):
    """
    A transport keeping only the last frame written.
    """

    last = b""

    def write(self, data: bytes) -> None:
        self.last = data


def _inline(function: Any, *args: Any) -> Deferred[Any]:
    return succeed(function(*args))


def frames(patrons: int, items: int, steps: int) -> list[bytes]:
    """
    The bench kiosk's requests for C{steps} loops of 63, 17, 11, 09.
    """
    out = []
    for step in range(steps):
        patron, item = patronId(step % patrons), itemId(step % items)
        out += [
            "63001%s          AO%s|AA%s|\r" % (DATE, INSTITUTION, patron),
            "17%sAO%s|AB%s|\r" % (DATE, INSTITUTION, itemId((step * 31) % items)),
            "11NN%s%sAO%s|AA%s|AB%s|AC|\r" % (DATE, BLANK_DATE, INSTITUTION, patron, item),
            "09N%s%sAPMAIN|AO%s|AB%s|AC|\r" % (DATE, DATE, INSTITUTION, item),
        ]
    return [frame.encode("ascii") for frame in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--patrons", type=int, default=1000)
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--connections", type=int, default=1,
                        help="logged-in connections taking the requests in turn, as"
                        " the reactor serves kiosks (default 1)")
    parser.add_argument("--profile", nargs="?", const="tottime", metavar="SORT")
    args = parser.parse_args()
    sink = open(os.devnull, "w", buffering=1 << 16)
    globalLogBeginner.beginLoggingTo(
        [LineObserver(TextRenderer(), sink, flushInterval=3600)],
        redirectStandardIO=False, discardBuffer=True)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "path.toml")
        with open(path, "w") as f:
            f.write(CONFIG.format(
                port=0, tls="", proxy="", institution=INSTITUTION, login=LOGIN, accounts="",
                hash=hashPassword(PASSWORD, cost=10),
                adapter='adapter = "sip2acs.tools.bench.benchLibrary"'))
        config = loadConfig(path)
    adapter = benchLibrary({"patrons": args.patrons, "items": args.items}, None)
    server = ACSServer(config, {INSTITUTION: adapter}, Clock(), runInThread=_inline)
    factory = SIP2ServerFactory(server, config.listeners[0])
    connections = []
    for number in range(args.connections):
        peer = IPv4Address("TCP", "127.0.0.1", 40001 + number)
        protocol = factory.buildProtocol(peer)
        transport = _Sink(peerAddress=peer)
        protocol.makeConnection(transport)
        protocol.dataReceived(b"9300CN%s|CO%s|CPMAIN|\r" % (LOGIN.encode(), PASSWORD.encode()))
        if not transport.last.startswith(b"941"):
            raise SystemExit("bench/path.py: the login was refused: %r" % (transport.last,))
        connections.append((protocol, transport))
    requests = frames(args.patrons, args.items, 200)
    # Each request goes to the next connection in turn.
    turns = [(connections[n % len(connections)], frame) for n, frame in enumerate(requests)]

    def run(times: int) -> None:
        for _ in range(times):
            for (protocol, _), frame in turns:
                protocol.dataReceived(frame)

    # Once through, checking every answer: the figure is of requests served.
    expected = {b"63": b"64", b"17": b"18", b"11": b"121", b"09": b"101"}
    for (protocol, transport), frame in turns:
        protocol.dataReceived(frame)
        if not transport.last.startswith(expected[frame[:2]]):
            raise SystemExit("bench/path.py: %r was answered %r" % (frame, transport.last))
    run(1)
    best = min(_timed(run, len(requests)) for _ in range(args.rounds))
    print("%.1f µs of CPU per request (63, 17, 11, 09; %d connection(s); best of %d rounds"
          " of %d)" % (best, args.connections, args.rounds, 5 * len(requests)))
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        run(5)
        profile.disable()
        pstats.Stats(profile, stream=sys.stdout).sort_stats(args.profile).print_stats(40)


def _timed(run: Any, count: int) -> float:
    started = time.process_time()
    run(5)
    return (time.process_time() - started) / (5 * count) * 1e6


if __name__ == "__main__":
    main()
