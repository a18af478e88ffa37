"""
Tests for L{sip2acs.tools.cli}: the C{sip2acs} command's own behaviour
(versions, pipes), as a user runs it: a real process.
"""

import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from sip2acs._version import __version__

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """
    C{python -m sip2acs ARGV} with C{stdin} on a pipe.
    """
    env = dict(os.environ, PYTHONPATH=TOP)
    return subprocess.run(
        [sys.executable, "-m", "sip2acs", *argv], input=stdin, capture_output=True,
        env=env, cwd=TOP, timeout=60,
    )


class VersionTests(SynchronousTestCase):
    def test_version(self) -> None:
        """
        C{sip2acs --version} and C{python -m sip2acs --version} print the
        version.
        """
        result = run("--version")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().strip(), "sip2acs %s" % (__version__,))

    def test_twistdVersion(self) -> None:
        """
        C{twistd sip2acs --version} prints sip2acs's version, not only
        twistd's.
        """
        env = dict(os.environ, PYTHONPATH=TOP)
        result = subprocess.run(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
             "sip2acs", "--version"],
            capture_output=True, env=env, cwd=TOP, timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("sip2acs %s (Twisted " % (__version__,), result.stdout.decode())


class PipeTests(SynchronousTestCase):
    def test_hashPasswordFromPipe(self) -> None:
        """
        C{echo pw | sip2acs hash-password} (no C{--stdin}) reads the
        password from the pipe and prints a hash, no traceback.
        """
        result = run("hash-password", stdin=b"s3cret\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith(b"scrypt$"))
        self.assertEqual(result.stderr, b"")

    def test_closedPipe(self) -> None:
        """
        A reader that goes away (C{sip2acs ... | head -1}) ends the command
        quietly: no traceback.
        """
        env = dict(os.environ, PYTHONPATH=TOP)
        shell = subprocess.run(
            ["/bin/sh", "-c", '"%s" -m sip2acs config convert --help | head -1' % (
                sys.executable,)],
            capture_output=True, env=env, cwd=TOP, timeout=60,
        )
        self.assertNotIn(b"Traceback", shell.stderr)
        # A long output cut short by a reader that takes one line: a
        # command writing 10 MB, as `sip2acs client ... | head` does.
        script = (
            "import sys\n"
            "from sip2acs.tools import cli\n"
            "def spam(args):\n"
            "    for _ in range(100000):\n"
            "        print('x' * 100)\n"
            "    return 0\n"
            "cli._hashPassword = spam\n"
            "sys.exit(cli.main(['hash-password']))\n"
        )
        shell = subprocess.run(
            ["/bin/sh", "-c", '"%s" -c "$SCRIPT" | head -1' % (sys.executable,)],
            capture_output=True, env=dict(env, SCRIPT=script), cwd=TOP, timeout=60,
        )
        self.assertEqual(shell.stdout, b"x" * 100 + b"\n")
        self.assertNotIn(b"Traceback", shell.stderr)
        self.assertNotIn(b"BrokenPipe", shell.stderr)
