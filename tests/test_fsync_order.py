"""
No answer precedes its fsync: the real C{twistd -n sip2acs}, on the SQLite
system with its default C{synchronous = "full"}, runs under C{strace}
while several kiosks check items out at once; the trace then shows, for
every checkout answer (C{12}) written to a kiosk, a completed C{fsync} or
C{fdatasync} of the database's WAL that began after the kiosk's request
(C{11}) was read, and before the answer was written.

C{strace} observes every system call of every thread in the order they
happen, which is what this needs; no time is measured. Without strace the
test skips, saying so; with C{CI=true} that fails it instead.
"""

import os
import re
import shutil
import signal
import sys

from twisted.internet import reactor
from twisted.internet.defer import DeferredList, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.logger import Logger
from twisted.trial.unittest import SkipTest, TestCase

from tests.library import makeLibrary, writeFile
from tests.loopback import SIP2Client
from tests.process import TOP, ServerProcess, _ServerProcess
from tests.test_durability import CONFIG, WHEN

log = Logger()

STRACE = shutil.which("strace") or "/usr/bin/strace"
KIOSKS = 6
CHECKOUTS = 15

# One strace -f line: "PID syscall(args...) = result", or a call split by
# another thread's ("... <unfinished ...>", then "<... call resumed>...").
_LINE = re.compile(
    r"^(?P<pid>\d+) +(?:(?P<name>\w+)\((?P<args>.*?)(?P<unfinished> <unfinished \.\.\.>)?$"
    r"|<\.\.\. (?P<resumed>\w+) resumed>(?P<rest>.*)$)"
)
_FD = re.compile(r"^(\d+)")
_RESULT = re.compile(r"\) += (-?\d+)")


def stracePath() -> str | None:
    """
    The strace program, or L{None}.
    """
    return STRACE if os.access(STRACE, os.X_OK) else None


def skipOrFail(reason):
    """
    L{SkipTest}, or in CI (C{CI=true}) a failure.
    """
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true and %s" % (reason,))
    return SkipTest(reason)


def readTrace(path):
    """
    The events of an strace -f trace that matter here, in order.

    @return: A list of C{(kind, fd, data)}: C{("open", fd, path)},
        C{("syncStart", fd, None)}, C{("syncEnd", fd, None)} (a completed
        fsync or fdatasync), C{("read", fd, data)}, C{("write", fd, data)},
        C{data} being the start of the bytes as strace shows them.
    """
    events = []
    pending = {}  # pid -> (name, args) of an unfinished call
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            match = _LINE.match(line.rstrip("\n"))
            if match is None:
                continue
            pid = match.group("pid")
            if match.group("resumed"):
                name, args = pending.pop(pid, (match.group("resumed"), ""))
                args = args + match.group("rest")
                finished = True
            else:
                name, args = match.group("name"), match.group("args")
                finished = not match.group("unfinished")
                if not finished:
                    pending[pid] = (name, args)
            if name in ("fsync", "fdatasync"):
                fd = _FD.match(args)
                if fd is None:
                    continue
                if not match.group("resumed"):
                    events.append(("syncStart", int(fd.group(1)), None))
                if finished:
                    result = _RESULT.search(args)
                    if result is not None and result.group(1) == "0":
                        events.append(("syncEnd", int(fd.group(1)), None))
                continue
            if not finished:
                continue
            if name == "openat":
                opened = re.search(r'"([^"]*)".*\) += (\d+)', args)
                if opened:
                    events.append(("open", int(opened.group(2)), opened.group(1)))
            elif name in ("read", "recvfrom", "write", "sendto"):
                fd = _FD.match(args)
                data = re.match(r'\d+, "((?:[^"\\]|\\.)*)"', args)
                if fd and data:
                    kind = "read" if name in ("read", "recvfrom") else "write"
                    events.append((kind, int(fd.group(1)), data.group(1)))
    return events


def checkAnswersFollowSyncs(events, wal):
    """
    Check that every checkout answer follows a completed sync of the WAL
    that began after its request was read.

    @return: C{(answers checked, group sizes)}: for each WAL sync that
        preceded answers, how many checkout answers it was the covering
        sync of.
    @raise AssertionError: An answer without such a sync.
    """
    walFds = set()
    syncStarts = []  # index of each WAL sync start, for the open ones
    lastSyncEnd = None  # (start index, end index) of the last completed WAL sync
    openSyncs = {}  # fd -> start index
    requestAt = {}  # socket fd -> index of its last checkout request read
    covered = {}
    answers = 0
    for index, (kind, fd, data) in enumerate(events):
        if kind == "open":
            if os.path.basename(data) == os.path.basename(wal):
                walFds.add(fd)
            else:
                walFds.discard(fd)
        elif kind == "syncStart" and fd in walFds:
            openSyncs[fd] = index
            syncStarts.append(index)
        elif kind == "syncEnd" and fd in walFds:
            lastSyncEnd = (openSyncs.pop(fd, index), index)
        elif kind == "read" and data.startswith("11"):
            requestAt[fd] = index
        elif kind == "write" and data.startswith("12") and fd in requestAt:
            answers += 1
            request = requestAt.pop(fd)
            if lastSyncEnd is None or lastSyncEnd[0] < request:
                raise AssertionError(
                    "the checkout answer %r (event %d) was written without a WAL"
                    " sync begun after its request (event %d) was read; last sync %r"
                    % (data[:40], index, request, lastSyncEnd))
            covered[lastSyncEnd] = covered.get(lastSyncEnd, 0) + 1
    if not walFds:
        raise AssertionError("the trace shows no WAL file opened")
    return answers, sorted(covered.values(), reverse=True)


def childOf(pid):
    """
    The pid of a child of process C{pid}, or L{None}.
    """
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % (entry,)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            return int(entry)
    return None


class FsyncOrderTests(TestCase):
    timeout = 120

    @inlineCallbacks
    def startTraced(self, config, trace):
        """
        Start C{twistd -n sip2acs --config CONFIG} under C{strace -f},
        killed when the test ends.

        @return: A Deferred firing with C{(ServerProcess, server pid)}.
        """
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([TOP, env.get("PYTHONPATH", "")])
        proto = _ServerProcess()
        args = [
            STRACE, "-f", "-e", "trace=openat,fsync,fdatasync,read,write,sendto,recvfrom",
            "-s", "80", "-o", trace,
            sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
            "--nodaemon", "--pidfile=", "--logfile=-", "sip2acs", "--config", config,
        ]
        transport = reactor.spawnProcess(proto, STRACE, args, env=env, path=os.getcwd())
        served = []

        def cleanup():
            # The server first: strace killed alone would let it run on.
            for pid in served:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if transport.pid is not None:
                if not served:
                    transport.signalProcess("KILL")
                return proto.ended

        self.addCleanup(cleanup)
        yield proto.started
        pid = childOf(transport.pid)
        self.assertIsNotNone(pid)
        served.append(pid)
        return ServerProcess(transport, proto), pid

    @inlineCallbacks
    def test_noAnswerBeforeItsFsync(self):
        """
        Every checkout answer written to a kiosk follows a completed sync
        of the WAL begun after its request was read; several kiosks'
        checkouts share a sync (group commit).
        """
        if stracePath() is None:
            raise skipOrFail("strace is not installed (apt-get install strace)")
        from sip2acs.passwords import hashPassword

        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        database = makeLibrary(
            workdir,
            patrons=[("PK%d" % (n,), "Kiosk Tester %d" % (n,)) for n in range(KIOSKS)],
            items=[("K%d-%04d" % (n, i), "Book %d-%d" % (n, i))
                   for n in range(KIOSKS) for i in range(CHECKOUTS)],
        )
        config = os.path.join(workdir, "sip2acs.toml")
        writeFile(config, CONFIG % {
            "database": database, "hash": hashPassword("kiosk-pw", cost=10)})
        trace = os.path.join(workdir, "strace.txt")
        server, pid = yield self.startTraced(config, trace)

        acknowledged = []

        @inlineCallbacks
        def kiosk(number):
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.port, timeout=5)
            client = yield connectProtocol(endpoint, SIP2Client(reactor))
            try:
                reply = yield client.ask(b"9300CNkiosk|COkiosk-pw|", timeout=30)
                assert reply.message.ok, reply
                for index in range(CHECKOUTS):
                    item = "K%d-%04d" % (number, index)
                    reply = yield client.ask(("11NN%s%sAOKT|AAPK%d|AB%s|AC|" % (
                        WHEN, " " * 18, number, item)).encode("ascii"), timeout=30)
                    assert reply.message.ok, reply
                    acknowledged.append(item)
            finally:
                client.transport.loseConnection()

        results = yield DeferredList([kiosk(n) for n in range(KIOSKS)], consumeErrors=True)
        for success, result in results:
            self.assertTrue(success, result)
        self.assertEqual(len(acknowledged), KIOSKS * CHECKOUTS)
        os.kill(pid, signal.SIGTERM)
        yield server.proto.ended

        answers, groups = checkAnswersFollowSyncs(readTrace(trace), database + "-wal")
        self.assertEqual(answers, KIOSKS * CHECKOUTS)
        # How many checkouts each sync covered, in the test log.
        log.info("{answers} checkout answers after {syncs} WAL syncs; group sizes"
                 " {groups}", answers=answers, syncs=len(groups), groups=groups)


class TraceReadingTests(TestCase):
    """
    The trace reader and checker, on made-up traces.
    """

    TRACE = (
        '10 openat(AT_FDCWD, "/x/library.sqlite3-wal", O_RDWR|O_CREAT, 0600) = 7\n'
        '10 recvfrom(12, "11NN20250314    101500", 65536, 0, NULL, NULL) = 60\n'
        '11 fdatasync(7 <unfinished ...>\n'
        '10 recvfrom(13, "11NN20250314    101500", 65536, 0, NULL, NULL) = 60\n'
        '11 <... fdatasync resumed>)             = 0\n'
        '10 sendto(12, "121NNY20250314    101500", 80, 0, NULL, 0) = 80\n'
        '11 fdatasync(7)             = 0\n'
        '10 sendto(13, "121NNY20250314    101500", 80, 0, NULL, 0) = 80\n'
    )

    def check(self, text):
        path = self.mktemp()
        writeFile(path, text)
        return checkAnswersFollowSyncs(readTrace(path), "/x/library.sqlite3-wal")

    def test_ordered(self):
        """
        Answers each after a sync begun after their request pass; the
        group sizes are counted per sync.
        """
        self.assertEqual(self.check(self.TRACE), (2, [1, 1]))

    def test_answerBeforeSync(self):
        """
        An answer whose only sync began before its request was read fails.
        """
        lines = self.TRACE.splitlines(True)
        del lines[6]
        self.assertRaises(AssertionError, self.check, "".join(lines))

    def test_syncOfAnotherFile(self):
        """
        A sync of another file than the WAL does not count.
        """
        text = self.TRACE.replace("fdatasync(7", "fdatasync(8")
        self.assertRaises(AssertionError, self.check, text)
