"""
What the soak scripts share: a library on disk, a real C{twistd -n sip2acs}
on loopback, a blocking SIP2 connection, and a reader for the server's log.

These scripts are not unit tests (trial does not collect this folder): they
run for a bounded count and time, print figures, and exit non-zero when
they find a defect. See C{tests/soak/README.md}.
"""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TOP)

from sip2acs.passwords import hashPassword  # noqa: E402
from sip2acs.sip import codec  # noqa: E402

LOGIN = "kiosk"
PASSWORD = "kiosk-pw"
PIN = "7391"
INSTITUTION = "KT"

_PORT = re.compile(r"SIP2ServerFactory(?: \([^)]*\))* starting on (\d+)")
_ADMIN = re.compile(r"Site starting on (\d+)")

BAD_LOG = re.compile(
    r"Traceback \(most recent call last\)|Unhandled [Ee]rror|Unhandled error in Deferred"
    r"|\[-\] Unhandled|CRITICAL|critical"
)


def run(argv, **kw):
    """
    Run C{sip2acs ARGV} (the command-line tool) and fail loudly if it fails.
    """
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from sip2acs.tools.cli import main; sys.exit(main())",
         *argv],
        cwd=TOP, capture_output=True, text=True, **kw,
    )
    if result.returncode != 0:
        raise SystemExit(
            "sip2acs %s failed:\n%s%s" % (" ".join(argv), result.stdout, result.stderr)
        )
    return result.stdout


def makeLibrary(workdir, patrons=8, itemsPerPatron=400):
    """
    A library for the scripts: institution KT, branch MAIN, patrons
    C{PK0..} with PIN L{PIN}, items C{K<patron>-<n>}; loans of 14 days, no
    limits that a long run would hit.

    @return: The database path.
    """
    database = os.path.join(workdir, "library.sqlite3")

    def write(name, text):
        path = os.path.join(workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    rules = write("rules.csv", "patron_class,item_type,loan_days,max_loans,max_renewals\n"
                  "*,*,14,100000,1000\n")
    people = write("patrons.csv", "barcode,name,pin\n" + "".join(
        "PK%d,Soak Tester %d,%s\n" % (n, n, PIN) for n in range(patrons)))
    items = write("items.csv", "barcode,title\n" + "".join(
        "K%d-%05d,Book %d-%d\n" % (n, i, n, i)
        for n in range(patrons) for i in range(itemsPerPatron)))
    run(["db", "init", "--database", database, "--institution", INSTITUTION,
         "--branch", "MAIN"])
    run(["db", "import", "rules", rules, "--replace", "--database", database])
    run(["db", "import", "patrons", people, "--database", database])
    run(["db", "import", "items", items, "--database", database])
    return database


CONFIG = """
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"
login-failures-before-cooloff = %(failures)d

[[listener]]
endpoint = "tcp:interface=127.0.0.1:port=0"
transport = "telnet"
login-failures-before-cooloff = %(failures)d

[admin]
endpoint = "tcp:port=0:interface=127.0.0.1"

[[institution]]
id = "%(institution)s"
database = "%(database)s"
allow-overpayment = true

[[account]]
login = "%(login)s"
password = "%(hash)s"
institution = "%(institution)s"
trace = "%(trace)s"
"""


class Server:
    """
    A real C{twistd -n sip2acs --config FILE} in a child process, its log
    in a file.

    @ivar ports: The SIP2 ports (raw, then telnet).
    @ivar admin: The admin HTTP port.
    """

    def __init__(self, workdir, database, trace="redacted", failuresBeforeCooloff=0,
                 logName="server.log"):
        self.workdir = workdir
        self.config = os.path.join(workdir, "sip2acs.toml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(CONFIG % dict(
                institution=INSTITUTION, database=database, login=LOGIN,
                hash=hashPassword(PASSWORD, cost=10), trace=trace,
                failures=failuresBeforeCooloff))
        self.logPath = os.path.join(workdir, logName)
        self.process = None
        self.ports = []
        self.admin = None

    def start(self, timeout=30):
        env = dict(os.environ, PYTHONPATH=TOP)
        self._log = open(self.logPath, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
             "--nodaemon", "--pidfile=", "--logfile=-", "sip2acs", "--config", self.config],
            cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            self.ports = [int(p) for p in _PORT.findall(text)]
            admin = _ADMIN.findall(text)
            if len(self.ports) >= 2 and admin:
                self.admin = int(admin[0])
                return self
            if self.process.poll() is not None:
                raise SystemExit("twistd exited:\n" + text)
            time.sleep(0.1)
        raise SystemExit("twistd did not listen within %d s:\n%s" % (timeout, self.log()))

    def log(self):
        with open(self.logPath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def rss(self):
        """
        The server's resident memory in KiB.
        """
        with open("/proc/%d/status" % (self.process.pid,)) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def badLogLines(self):
        """
        The log lines that show a defect: tracebacks, unhandled errors,
        critical events.
        """
        return [line for line in self.log().splitlines() if BAD_LOG.search(line)]


class Connection:
    """
    A blocking SIP2 connection: one request, one answer.
    """

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def send(self, frame):
        self.sock.sendall(frame + b"\r")

    def read(self):
        """
        The next answer (without its CR), or L{None} when the server closed.
        """
        while b"\r" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        frame, _, self.buffer = self.buffer.partition(b"\r")
        return frame

    def ask(self, frame):
        self.send(frame)
        return self.read()

    def login(self, login=LOGIN, password=PASSWORD):
        reply = self.ask(b"9300CN%s|CO%s|CPMAIN|" % (login.encode(), password.encode()))
        if reply != b"941":
            raise SystemExit("login refused: %r" % (reply,))
        return self

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def sipNow():
    return time.strftime("%Y%m%d    %H%M%S")


def printable(frame):
    """
    Whether an answer carries printable ASCII only (the terminator excluded).
    """
    return all(32 <= b < 127 for b in frame)


def decodes(frame):
    """
    Whether an answer is a well-formed SIP2 response.
    """
    try:
        decoded = codec.decode(frame)
    except codec.SIP2Error:
        return False
    return decoded.message.spec.request is not True


def tempdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def openDatabase(path):
    return sqlite3.connect(path, timeout=30)
