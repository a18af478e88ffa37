"""
C{bench/path.py} (the request path's CPU in-process) runs and answers every
request; and C{bench/logcost.py} runs. No timing is asserted.
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
