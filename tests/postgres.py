"""
A throwaway PostgreSQL cluster for the tests (L{sip2acs.tools.pgcluster}):
started once per test process (L{cluster}), on a free loopback port with
its unix socket in its own temporary folder, and stopped when the process
exits; each test gets a fresh database (L{freshDatabase}).

The programs (C{initdb}, C{pg_ctl}) are found on C{PATH} or in
C{/usr/lib/postgresql/*/bin}. Run as root, the cluster runs as the
C{postgres} user (C{runuser -u postgres --}), in a folder that user owns.
The tests' cluster does not sync to disk (C{fsync}, C{synchronous_commit}
and C{full_page_writes} off). Without PostgreSQL the tests skip, saying
how to install it; when the environment has C{CI=true} a missing
PostgreSQL fails them instead (L{skipOrFail}).
"""

import atexit
import os
from typing import Any

from twisted.trial.unittest import SkipTest

from sip2acs.tools import pgcluster
from sip2acs.tools.pgcluster import SERVER_USER, Cluster

__all__ = ["Cluster", "cluster", "freshDatabase", "unavailable", "skipOrFail", "INSTALL",
           "SERVER_USER"]

INSTALL = pgcluster.INSTALL + " to run these tests"

SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""
The tests' cluster trades durability for speed.
"""

_programs = pgcluster.programs
_cluster: Cluster | None = None
_failure: str | None = None


def unavailable() -> str | None:
    """
    Why there is no PostgreSQL to test against, or L{None} when there is.
    """
    return pgcluster.missing(_programs(), INSTALL)


def skipOrFail(reason: str) -> SkipTest:
    """
    What a test without PostgreSQL raises: L{SkipTest}, or in CI
    (C{CI=true}) a failure.

    @raise RuntimeError: In CI.
    """
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true and %s" % (reason,))
    return SkipTest(reason)


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
        started = Cluster(*programs, settings=SETTINGS)
        atexit.register(started.stop)
        started.start()
        _cluster = started
        return started
    raise skipOrFail(_failure)


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

