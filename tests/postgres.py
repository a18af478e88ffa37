"""
A throwaway PostgreSQL cluster for the tests: started once per test
process (L{cluster}), on a free loopback port with its unix socket in its
own temporary folder, and stopped when the process exits; each test gets a
fresh database (L{freshDatabase}).

The programs (C{initdb}, C{pg_ctl}) are found on C{PATH} or in
C{/usr/lib/postgresql/*/bin}. Run as root, the cluster runs as the
C{postgres} user (C{runuser -u postgres --}), in a folder that user owns.
Without PostgreSQL the tests skip, saying how to install it; when the
environment has C{CI=true} a missing PostgreSQL fails them instead.
"""

import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from typing import Any

from twisted.trial.unittest import SkipTest

__all__ = ["Cluster", "cluster", "freshDatabase", "unavailable"]

INSTALL = (
    "PostgreSQL is not installed (no initdb and pg_ctl on PATH or in"
    " /usr/lib/postgresql/*/bin): install it with `apt-get install postgresql`"
    " to run these tests"
)

SERVER_USER = "postgres"


def _programs() -> tuple[str, str] | None:
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


def _freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """
    One running throwaway cluster.

    @ivar port: Its loopback TCP port.
    @ivar folder: The temporary folder holding its data, log and socket.
    """

    def __init__(self, initdb: str, pgCtl: str) -> None:
        self._pgCtl = pgCtl
        self._initdb = initdb
        self._asRoot = os.getuid() == 0
        self.folder = tempfile.mkdtemp(prefix="sip2acs-postgres-")
        self.data = os.path.join(self.folder, "data")
        self.port = _freePort()
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
            log = os.path.join(self.folder, "server.log")
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""
            raise RuntimeError(
                "%s failed (%d):\n%s\n%s" % (command, result.returncode, result.stdout, tail)
            )

    def start(self) -> None:
        """
        Make the cluster (trusting local logins: it is reachable only from
        this host) and start it.
        """
        if self._asRoot:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run(self._initdb, "-D", self.data, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-instructions")
        options = (
            "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            % (self.port, self.folder)
        )
        self._run(self._pgCtl, "-D", self.data, "-l",
                  os.path.join(self.folder, "server.log"), "-w", "-t", "60",
                  "-o", options, "start")

    def restart(self) -> None:
        """
        Restart the cluster as a failover would look to its clients: every
        connection is closed by the server (C{-m fast}), and the server
        is back when this returns.
        """
        self._run(self._pgCtl, "-D", self.data, "-l",
                  os.path.join(self.folder, "server.log"), "-m", "fast", "-w",
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
            conn.execute(sql)

    def createDatabase(self, template: str | None = None) -> str:
        """
        A new empty database (or a copy of C{template}).

        @return: Its name.
        """
        name = "test_%d_%d" % (os.getpid(), next(self._names))
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


_cluster: Cluster | None = None
_failure: str | None = None


def unavailable() -> str | None:
    """
    Why there is no PostgreSQL to test against, or L{None} when there is.
    """
    if _programs() is None:
        return INSTALL
    if os.getuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return "there is no %s user to run PostgreSQL as: %s" % (SERVER_USER, INSTALL)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install -e . (it is in install_requires)"
    return None


def cluster() -> Cluster:
    """
    The cluster of this test process, started on first use.

    @raise SkipTest: PostgreSQL is missing (outside CI).
    @raise RuntimeError: PostgreSQL is missing in CI, or would not start
        (then each test that asks tries again, and fails saying why).
    """
    global _cluster, _failure
    if _cluster is not None:
        return _cluster
    if _failure is None:
        _failure = unavailable()
    if _failure is None:
        programs = _programs()
        assert programs is not None
        started = Cluster(*programs)
        atexit.register(started.stop)
        started.start()
        _cluster = started
        return started
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true and %s" % (_failure,))
    raise SkipTest(_failure)


def freshDatabase(testCase: Any, template: str | None = None) -> str:
    """
    A database for this test only (a copy of C{template}, if given),
    dropped when it ends.

    @return: Its URL.
    """
    running = cluster()
    name = running.createDatabase(template)
    testCase.addCleanup(running.admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % (name,))
    return running.url(name)
