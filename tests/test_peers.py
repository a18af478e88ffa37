"""
Tests for C{bench/peers/run.py}: a tiny side-by-side run of sip2acs (SQLite
and in-memory) and pysip2 in which every server answers every request as
expected. Nothing here depends on how fast anything is.
"""

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

RUN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "bench", "peers", "run.py")


class PeersTests(SynchronousTestCase):

    def setUp(self) -> None:
        if importlib.util.find_spec("pysip2") is None:
            raise SkipTest("pysip2 is not installed: pip install -e '.[test]' installs it")

    def runPeers(self, *argv: str) -> tuple[dict[str, Any], str]:
        path = os.path.abspath(self.mktemp())
        process = subprocess.run(
            [sys.executable, RUN, "--kiosks", "2", "--duration", "0.5", "--warmup", "0.3",
             "--patrons", "40", "--items", "400", "--server-core", "-1",
             "--client-core", "-1", "--json", path, *argv],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(process.returncode, 0, process.stdout + process.stderr)
        with open(path) as f:
            return json.load(f), process.stdout

    def test_sideBySide(self) -> None:
        """
        One run measures the durable sip2acs, the in-memory sip2acs and
        pysip2 under the same kiosk loop (63, 17, 11, 09): each answers
        every request as expected, with no errors, and the table gives
        each server's CPU per request and the ratios to pysip2's.
        """
        report, out = self.runPeers()
        self.assertEqual(list(report["servers"]), ["durable", "memory", "pysip2"])
        for name, figures in report["servers"].items():
            self.assertGreater(figures["requests"], 0, name)
            self.assertEqual((figures["errors"], figures["refusals"]), (0, 0), name)
            self.assertEqual(set(figures["by_type"]), {"63", "17", "11", "09"}, name)
            self.assertGreater(figures["server_cpu_us_per_request"], 0, name)
        self.assertEqual(set(report["ratios"]), {"durable/pysip2", "memory/pysip2"})
        self.assertIn("pysip2 0.1.0, in-memory backend", out)
        self.assertIn("CPU per request, memory/pysip2", out)

    def test_floors(self) -> None:
        """
        The floors (canned answers on Twisted and on asyncio) answer every
        request of the kiosk loop as the kiosks expect, checksums
        included, and get their ratio to pysip2.
        """
        report, out = self.runPeers("--servers", "twisted-floor,asyncio-floor,pysip2")
        self.assertEqual(list(report["servers"]),
                         ["twisted-floor", "asyncio-floor", "pysip2"])
        for name, figures in report["servers"].items():
            self.assertGreater(figures["requests"], 0, name)
            self.assertEqual((figures["errors"], figures["refusals"]), (0, 0), name)
        self.assertEqual(set(report["ratios"]),
                         {"twisted-floor/pysip2", "asyncio-floor/pysip2"})
        self.assertIn("floor: asyncio, canned answers", out)

    def test_pins(self) -> None:
        """
        With C{--pins} the pysip2 backend checks the PIN the kiosks send
        and still answers every request as expected.
        """
        report, _ = self.runPeers("--pins", "--servers", "pysip2")
        figures = report["servers"]["pysip2"]
        self.assertGreater(figures["requests"], 0)
        self.assertEqual((figures["errors"], figures["refusals"]), (0, 0))
