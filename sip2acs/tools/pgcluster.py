"""
A throwaway PostgreSQL cluster: made with C{initdb} in a temporary folder,
started with C{pg_ctl} on a free loopback port (its unix socket in that
folder), and removed when stopped. C{sip2acs bench --postgres} measures
against one, and the tests (C{tests/postgres.py}) run against one.

The programs are found on C{PATH} or in C{/usr/lib/postgresql/*/bin}
(L{programs}). Run as root, the cluster runs as the C{postgres} user
(C{runuser -u postgres --}), in a folder that user owns. L{missing} says
why no cluster can be started here, if it cannot.

The CPU the cluster uses (L{Cluster.cpu}) is read from /proc: the
postmaster, each of its live children, and the children it has reaped.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from sip2acs.tools.ports import freePort

__all__ = [
    "INSTALL",
    "SERVER_USER",
    "Cluster",
    "programs",
    "missing",
    "freePort",
    "children",
    "processCPU",
    "treeCPU",
]

INSTALL = (
    "PostgreSQL is not installed (no initdb and pg_ctl on PATH or in"
    " /usr/lib/postgresql/*/bin): install it with `apt-get install postgresql`"
)

SERVER_USER = "postgres"
"""
The user a cluster runs as when this process is root.
"""

SETTINGS: Mapping[str, str] = {"max_connections": "200"}
"""
Settings of every cluster, besides its address, port and socket folder.
"""


def programs() -> tuple[str, str] | None:
    """
    The paths of C{initdb} and C{pg_ctl}, or L{None}.
    """
    initdb, pgCtl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pgCtl:
        return initdb, pgCtl
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        initdb, pgCtl = os.path.join(folder, "initdb"), os.path.join(folder, "pg_ctl")
        if os.access(initdb, os.X_OK) and os.access(pgCtl, os.X_OK):
            return initdb, pgCtl
    return None


def missing(found: tuple[str, str] | None, install: str = INSTALL) -> str | None:
    """
    Why no cluster can be started here, or L{None} when one can.

    @param found: What L{programs} found.
    @param install: The sentence saying how to install PostgreSQL.
    """
    if found is None:
        return install
    if os.getuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return "there is no %s user to run PostgreSQL as: %s" % (SERVER_USER, install)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install -e . (it is in install_requires)"
    return None


def statFields(pid: int) -> list[str]:
    """
    The fields of C{/proc/PID/stat} after the command name (the state
    first).

    @raise OSError: The process is gone.
    """
    with open("/proc/%d/stat" % (pid,)) as f:
        return f.read().rsplit(")", 1)[1].split()


def _seconds(fields: list[str], first: int) -> float:
    """
    The CPU seconds of two adjacent tick counts of C{fields}: user and
    system time (C{11}), or those of the reaped children (C{13}).
    """
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def processCPU(pid: int) -> float:
    """
    CPU seconds (user + system, all threads) a process has used.

    @raise OSError: The process is gone.
    """
    return _seconds(statFields(pid), 11)


def _stat(pid: int) -> tuple[int, list[str]] | None:
    """
    The parent pid and the fields after it of C{/proc/PID/stat}, or
    L{None} if the process is gone.
    """
    try:
        fields = statFields(pid)
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields


def _role(pid: int) -> str:
    """
    What a PostgreSQL child process does, from the title it sets: a
    C{backend} serving a client, or the background process's own name
    (C{walwriter}, C{checkpointer}...).
    """
    try:
        with open("/proc/%d/cmdline" % (pid,), "rb") as f:
            title = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "gone"
    name = title.removeprefix("postgres: ")
    if "(" in name or "[local]" in name:
        return "backend"
    return name.split(" ")[0] if name else "other"


def children(root: int) -> list[int]:
    """
    The process ids of the live children of process C{root}.
    """
    return [pid for pid, _ in _children(root)]


def _children(root: int) -> list[tuple[int, list[str]]]:
    """
    The live children of process C{root}, each with its C{stat} fields.
    """
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            child = _stat(int(entry))
            if child is not None and child[0] == root:
                found.append((int(entry), child[1]))
    return found


def treeCPU(root: int) -> dict[str, float]:
    """
    CPU seconds (user + system) used by process C{root} and its children,
    by role: C{"root"} itself, C{"exited"} for the children it has reaped,
    and each live child's role (L{_role}, summed).

    Between two calls the differences add up to the CPU used meanwhile,
    also by children that exited meanwhile.
    """
    found = _stat(root)
    if found is None:
        return {}
    _, fields = found
    cpu = {"root": _seconds(fields, 11), "exited": _seconds(fields, 13)}
    for pid, childFields in _children(root):
        role = _role(pid)
        cpu[role] = cpu.get(role, 0.0) + _seconds(childFields, 11)
    return cpu


class Cluster:
    """
    One throwaway cluster (start it with L{start}).

    @ivar port: Its loopback TCP port.
    @ivar folder: The temporary folder holding its data, log and socket.
    @ivar data: Its data folder.
    """

    def __init__(self, initdb: str, pgCtl: str, settings: Mapping[str, str] | None = None,
                 prefix: str = "sip2acs-postgres-") -> None:
        """
        @param settings: Server settings (C{name: value}) besides
            L{SETTINGS}, e.g. C{{"fsync": "off"}}.
        @param prefix: The start of the temporary folder's name.
        """
        self._pgCtl = pgCtl
        self._initdb = initdb
        self._asRoot = os.getuid() == 0
        self._settings = {**SETTINGS, **(settings or {})}
        self.folder = tempfile.mkdtemp(prefix=prefix)
        self.data = os.path.join(self.folder, "data")
        self.log = os.path.join(self.folder, "server.log")
        self.port = freePort()
        self._names = itertools.count(1)
        self._templates: dict[Any, str] = {}

    def _run(self, *command: str) -> None:
        if self._asRoot:
            command = ("runuser", "-u", SERVER_USER, "--") + command
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, check=False,
        )
        if result.returncode:
            tail = ""
            if os.path.exists(self.log):
                with open(self.log, encoding="utf-8", errors="replace") as f:
                    tail = f.read()[-2000:]
            raise RuntimeError(
                "%s failed (%d):\n%s\n%s" % (command, result.returncode, result.stdout, tail)
            )

    def start(self) -> None:
        """
        Make the cluster (trusting local logins: it is reachable only from
        this host) and start it.

        @raise RuntimeError: C{initdb} or C{pg_ctl} failed; the message
            has their output and the end of the server's log.
        """
        if self._asRoot:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run(self._initdb, "-D", self.data, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-instructions")
        options = " ".join(
            ["-c listen_addresses=127.0.0.1 -p %d -k %s" % (self.port, self.folder)]
            + ["-c %s=%s" % item for item in sorted(self._settings.items())]
        )
        self._run(self._pgCtl, "-D", self.data, "-l", self.log, "-w", "-t", "60",
                  "-o", options, "start")

    def restart(self) -> None:
        """
        Restart the cluster as a failover would look to its clients: every
        connection is closed by the server (C{-m fast}), and the server
        is back when this returns.
        """
        self._run(self._pgCtl, "-D", self.data, "-l", self.log, "-m", "fast", "-w",
                  "-t", "60", "restart")

    def stopServer(self) -> None:
        """
        Stop the server, keeping its data; L{restart} starts it again.
        """
        self._run(self._pgCtl, "-D", self.data, "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        """
        Stop the cluster at once and remove its folder.
        """
        try:
            self._run(self._pgCtl, "-D", self.data, "-m", "immediate", "-w", "stop")
        except (RuntimeError, OSError):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        """
        The URL of C{database} in this cluster.
        """
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, database)

    def admin(self, sql: str) -> None:
        """
        Run one statement in the C{postgres} database, outside a
        transaction.
        """
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.encode("utf-8"))

    def createDatabase(self, template: str | None = None, prefix: str = "test") -> str:
        """
        A new empty database (or a copy of C{template}).

        @param prefix: The start of its name (then this process's id and
            a number).
        @return: Its name.
        """
        name = "%s_%d_%d" % (prefix, os.getpid(), next(self._names))
        self.admin(
            "CREATE DATABASE %s%s" % (name, " TEMPLATE %s" % (template,) if template else "")
        )
        return name

    def template(self, key: Any, fill: Callable[[str], None]) -> str:
        """
        A database filled by C{fill(url)} once per process, to copy.
        """
        if key not in self._templates:
            name = self.createDatabase()
            fill(self.url(name))
            self._templates[key] = name
        return self._templates[key]

    def pid(self) -> int:
        """
        The postmaster's process id (from its C{postmaster.pid}).
        """
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def cpu(self) -> dict[str, float]:
        """
        CPU seconds the cluster's processes have used, by role
        (L{treeCPU}).
        """
        return treeCPU(self.pid())
