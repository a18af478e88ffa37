"""
C{bench/path.py} (the request path's CPU in-process) runs and answers every
request; C{bench/logcost.py} and C{bench/tlsfront.py} run. No timing is
asserted.
"""

import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*argv: str) -> str:
    env = dict(os.environ, PYTHONPATH=TOP)
    done = subprocess.run(
        [sys.executable, *argv], cwd=TOP, env=env, capture_output=True, text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(done.stdout + done.stderr)
    return done.stdout


class BenchScriptTests(SynchronousTestCase):
    def test_path(self) -> None:
        """
        C{bench/path.py --rounds 1 --profile} logs in, runs the kiosk loop
        and prints its figure and a profile.
        """
        out = _run("bench/path.py", "--rounds", "1", "--patrons", "50", "--items", "200",
                   "--profile")
        self.assertRegex(out, r"\d+\.\d µs of CPU per request \(63, 17, 11, 09")
        self.assertIn("Ordered by: internal time", out)

    def test_logcost(self) -> None:
        """
        C{bench/logcost.py} prints a figure for each way of logging.
        """
        out = _run("bench/logcost.py", "--lines", "200", "--rounds", "1")
        self.assertEqual(out.count("µs per line"), 5)


class TLSFrontTests(SynchronousTestCase):
    """
    C{bench/tlsfront.py}: HAProxy terminating TLS in front of sip2acs's
    PROXY listener, churning clients and idle kiosks all answered.
    """

    def setUp(self) -> None:
        from tests.haproxy import requireHAProxy

        requireHAProxy()

    def test_churn(self) -> None:
        """
        With C{--churn --resume} every connection's 93, 63 and 35 are
        answered through HAProxy, its sessions are resumed, and the report
        gives each process's CPU.
        """
        out = _run("bench/tlsfront.py", "--churn", "--resume", "--kiosks", "2",
                   "--duration", "0.5", "--warmup", "0.3", "--patrons", "40",
                   "--items", "400", "--server-core", "-1", "--client-core", "-1")
        self.assertIn("errors 0, refusals 0", out)
        self.assertRegex(out, r"TLS sessions resumed: (\d+) of \1\n")
        self.assertRegex(out, r"of which sip2acs \d+\.\d µs, HAProxy \d+\.\d µs")

    def test_idle(self) -> None:
        """
        C{--idle N} logs N kiosks in through HAProxy and reports the two
        processes' memory.
        """
        out = _run("bench/tlsfront.py", "--idle", "20", "--patrons", "40", "--items", "400",
                   "--server-core", "-1", "--client-core", "-1")
        self.assertIn("20 idle logged-in connections over TLS, terminated by HAProxy", out)
        self.assertRegex(out, r"together \d+\.\d -> \d+\.\d MB")
