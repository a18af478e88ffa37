"""
Fuzz a real sip2acs with mutated SIP2 frames, over raw and telnet-login
connections, for a bounded number of frames and seconds.

    .venv/bin/python tests/soak/fuzz.py --frames 200000 --seconds 300 --connections 8

Every answer must be printable ASCII and a well-formed SIP2 response; the
server must stay up (a login and a 99 work at the end); its log must hold
no traceback, unhandled error or critical event, and no PIN or password
sent in the fuzzed frames (the account traces every frame, redacted).
Exits 1 when any of that fails, and prints the figures.
"""

import argparse
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (  # noqa: E402
    PIN,
    Connection,
    Server,
    decodes,
    makeLibrary,
    printable,
    sipNow,
    tempdir,
)

SECRET = "S3CR3TPIN"
"""
The PIN the fuzzed frames carry: it must never reach the log.
"""


def corpus(now):
    """
    One valid request of every kind the ACS answers, with this run's PIN.
    """
    blank = " " * 18
    return [
        "9900302.00",
        "23000%sAOKT|AAPK1|AC|AD%s|" % (now, SECRET),
        "6300020250101    120000Y         AOKT|AAPK1|AD%s|BP1|BQ5|" % (SECRET,),
        "6300020250101    120000 Y        AOKT|AAPK2|AD%s|" % (PIN,),
        "11YN%s%sAOKT|AAPK1|ABK1-%05d|AC|AD%s|BON|" % (now, blank, 1, SECRET),
        "11NY%s00280105    104126AOKT|AAPK2|ABK2-00001|AC|AD%s|BON|BIN|" % (now, PIN),
        "09N%s%sAPMAIN|AOKT|ABK1-00001|AC|" % (now, now),
        "09N%s20261201   Z105548APMAIN|AOKT|ABK1-00002|AC|" % (now,),
        "01N%sAOKT|ALblocked by fuzz|AAPK7|AC|" % (now,),
        "2500%sAOKT|AAPK3|AD%s|" % (now, SECRET),
        "35%sAOKT|AAPK1|AD%s|" % (now, SECRET),
        "37%s0100USDBV0.01|AOKT|AAPK1|BKF-1|" % (now,),
        "37%s0100USDBV1E+999999|AOKT|AAPK1|" % (now,),
        "1720250101    120000AOKT|ABK1-00003|",
        "19%sAOKT|ABK1-00004|AC|CHnew props|" % (now,),
        "15+%s%sBSMAIN|BY2|AOKT|AAPK1|AD%s|ABK1-00005|" % (now, blank, SECRET),
        "29NN%s%sAOKT|AAPK1|AD%s|ABK1-00001|" % (now, blank, SECRET),
        "65%sAOKT|AAPK1|AD%s|BON|" % (now, SECRET),
        "65AOKT|AAPK1|AD%s|BON|" % (SECRET,),
        "93%s" % ("00CNkiosk|CO%s|CPMAIN|" % (SECRET,)),
        "97",
    ]


INTERESTING = [b"\x00", b"\x16\x03\x01", b"\xff\xfd\x18", b"|", b"^", b"AZ", b"AY9",
               b"AD", b"CO", b"\x1b[2J", b"\x7f", b"\xc3\xa9", b"00281305", b"   Z",
               b"9" * 40, b"-1", b"NaN", b"\t"]


def mutate(rng, frame):
    data = bytearray(frame.encode("latin-1"))
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randint(0, len(data))
        if choice < 0.2 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.4:
            data[position:position] = rng.choice(INTERESTING)
        elif choice < 0.5 and data:
            end = min(len(data), position + rng.randint(1, 20))
            del data[position:end]
        elif choice < 0.6:
            data = data[: rng.randint(0, len(data))]
        elif choice < 0.7:
            data += b"|" + bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(2))
            data += bytes(rng.randrange(32, 127) for _ in range(rng.randint(0, 300)))
        elif choice < 0.8 and len(data) > 2:
            data[0:2] = b"%02d" % rng.randint(0, 99)
        elif choice < 0.9:
            data += b"AY%dAZ" % rng.randint(0, 9)
            data += b"%X" % rng.randrange(0x10000)
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    # One frame, one answer: no terminator inside.
    return bytes(data).replace(b"\r", b" ").replace(b"\n", b" ")


class Worker(threading.Thread):
    def __init__(self, number, server, frames, deadline, stats, problems, telnet):
        threading.Thread.__init__(self, daemon=True)
        self.rng = random.Random(number)
        self.server = server
        self.frames = frames
        self.deadline = deadline
        self.stats = stats
        self.problems = problems
        self.telnet = telnet
        self.conn = None

    def connect(self):
        if self.conn is not None:
            self.conn.close()
        if self.telnet:
            self.conn = Connection(self.server.ports[1])
            sock = self.conn.sock
            buffer = b""
            for prompt, answer in ((b"login: ", b"kiosk"), (b"password: ", b"kiosk-pw")):
                while prompt not in buffer:
                    data = sock.recv(4096)
                    if not data:
                        raise OSError("closed during telnet login")
                    buffer += data
                sock.sendall(answer + b"\r\n")
                buffer = buffer.split(prompt, 1)[1]
            while b"Initiating SIP\r\n" not in buffer:
                data = sock.recv(4096)
                if not data:
                    raise OSError("closed during telnet login")
                buffer += data
            self.conn.buffer = buffer.split(b"Initiating SIP\r\n", 1)[1]
        else:
            self.conn = Connection(self.server.ports[0]).login()
        self.stats["connections"] += 1

    def run(self):
        now = sipNow()
        frames = corpus(now)
        self.connect()
        while self.stats["sent"] < self.frames and time.monotonic() < self.deadline:
            frame = mutate(self.rng, self.rng.choice(frames))
            self.stats["sent"] += 1
            try:
                self.conn.send(frame)
                if not frame.strip(b"\x00 "):
                    continue  # an empty frame gets no answer
                answer = self.conn.read()
            except TimeoutError:
                self.problems.append("no answer within 10 s to %r" % (frame[:80],))
                self.connect()
                continue
            except OSError:
                self.stats["closed"] += 1
                self.connect()
                continue
            if answer is None:
                self.stats["closed"] += 1
                self.connect()
                continue
            self.stats["answers"] += 1
            if not printable(answer):
                self.problems.append("unprintable answer %r to %r" % (answer[:80], frame[:80]))
            elif not decodes(answer):
                self.problems.append("malformed answer %r to %r" % (answer[:80], frame[:80]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--frames", type=int, default=100000)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--connections", type=int, default=6)
    args = parser.parse_args(argv)

    workdir = tempdir("sip2acs-fuzz-")
    database = makeLibrary(workdir, patrons=8, itemsPerPatron=50)
    server = Server(workdir, database, trace="redacted").start()
    stats = dict(sent=0, answers=0, closed=0, connections=0)
    problems = []
    started = time.monotonic()
    deadline = started + args.seconds
    rss = [server.rss()]
    workers = [
        Worker(n, server, args.frames, deadline, stats, problems, telnet=n % 3 == 2)
        for n in range(args.connections)
    ]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        time.sleep(1)
        rss.append(server.rss())
    elapsed = time.monotonic() - started

    alive = server.alive()
    if alive:
        check = Connection(server.ports[0]).login()
        if not (check.ask(b"9900302.00") or b"").startswith(b"98"):
            problems.append("the server no longer answers 99")
        check.close()
    else:
        problems.append("the server died")
    server.stop()
    log = server.log()
    bad = server.badLogLines()
    # A secret after a secret field id (AD, AC, CO) must never be logged, in
    # any line but the trace of an answer: an answer echoes the patron id
    # as the kiosk sent it, and a fuzzed frame that lost the delimiter
    # before AD put the PIN in it. (A frame whose field id itself was
    # destroyed carries the PIN as other text: not counted.)
    leaked = sum(
        len(re.findall("(?:AD|AC|CO)" + SECRET, line))
        for line in log.splitlines()
        if " out " not in line
    )
    print("fuzz: %d frames in %.0f s (%.0f/s) on %d connections (%d reconnects),"
          " %d answers, %d closes by the server"
          % (stats["sent"], elapsed, stats["sent"] / elapsed, args.connections,
             stats["connections"] - args.connections, stats["answers"], stats["closed"]))
    print("server RSS: %d KiB at start, %d KiB peak, %d KiB at the end"
          % (rss[0], max(rss), rss[-1]))
    print("log: %d lines, %d bad (traceback/unhandled/critical), PIN seen %d times"
          % (len(log.splitlines()), len(bad), leaked))
    for line in bad[:10]:
        print("  bad log line:", line)
    for problem in problems[:20]:
        print("  problem:", problem)
    if bad or leaked or problems:
        print("FAILED (work directory kept: %s)" % (workdir,))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
