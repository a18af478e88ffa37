"""
Tests for L{sip2acs.tools.bench}: the harness runs and reports what it measured.
Nothing here depends on how fast anything is.
"""

import json
import os

from twisted.python.reflect import namedAny
from twisted.trial.unittest import SynchronousTestCase

from sip2acs import tools
from sip2acs.tools import bench, cli
from sip2acs.tools.bench import data, load, report, server


class PercentileTests(SynchronousTestCase):
    def test_nearestRank(self) -> None:
        """
        Percentiles are nearest-rank over sorted values.
        """
        values = list(range(1, 101))
        self.assertEqual(bench.percentile(values, 0.50), 50)
        self.assertEqual(bench.percentile(values, 0.99), 99)
        self.assertEqual(bench.percentile(values, 1.0), 100)
        self.assertEqual(bench.percentile([7], 0.99), 7)


class PackageTests(SynchronousTestCase):
    """
    The package's modules and what L{sip2acs.tools.bench} re-exports.
    """

    def test_reexports(self) -> None:
        """
        Every name the package promises is the object of the module it
        lives in, and the memory adapter factory the bench's server
        configuration names imports.
        """
        modules = (data, load, report, server)
        for name in bench.__all__:
            if name in ("register", "run"):
                continue
            homes = [m for m in modules if getattr(m, name, None) is getattr(bench, name)]
            self.assertTrue(homes, name)
        self.assertIs(namedAny("sip2acs.tools.bench.benchLibrary"), data.benchLibrary)

    def test_dataSet(self) -> None:
        """
        The data set's patrons and items, the same in SQLite and in the
        memory adapter.
        """
        self.assertEqual((data.patronId(7), data.itemId(7)), ("BP000007", "BI0000007"))
        ils = data.benchLibrary({"patrons": 3, "items": 5}, None)
        self.assertEqual((sorted(ils.patrons), sorted(ils.items)[-1]),
                         (["BP000000", "BP000001", "BP000002"], "BI0000004"))
        ils.calls.append("kept?")
        self.assertEqual(list(ils.calls), [])

    def test_statsWindow(self) -> None:
        """
        L{report.Stats} counts only inside the measured window.
        """
        stats = report.Stats()
        stats.record("63", 0.5, True)
        stats.measuring = True
        stats.record("63", 0.25, False)
        self.assertEqual((stats.completed, stats.latencies, stats.refusals),
                         (1, {"63": [0.25]}, {"63": 1}))

    def test_serverImportsThisPackage(self) -> None:
        """
        The started server is given the folder holding this very
        C{sip2acs} package on its C{PYTHONPATH}.
        """
        self.assertEqual(
            os.path.join(server.packageFolder(), "sip2acs", "tools", "__init__.py"),
            os.path.abspath(tools.__file__),
        )


class HarnessTests(SynchronousTestCase):
    def runBench(self, *argv):
        path = os.path.abspath(self.mktemp())
        code = cli.main([
            "bench", "--patrons", "40", "--items", "400", "--warmup", "0.3",
            "--server-core", "-1", "--client-core", "-1", "--json", path, *argv])
        self.assertEqual(code, 0)
        with open(path) as f:
            return json.load(f)

    def test_load(self) -> None:
        """
        A short load run imports its data set with the project's import
        path, starts a server, runs kiosks through 63/17/11/09 and reports
        throughput, latency per type, server CPU per request and memory,
        with no errors or refusals.
        """
        report = self.runBench("--kiosks", "2", "--duration", "1")
        self.assertEqual(set(report["import_seconds"]), {"init", "rules", "patrons", "items"})
        load = report["load"]
        self.assertGreater(load["requests"], 0)
        self.assertEqual((load["errors"], load["refusals"]), (0, 0))
        self.assertEqual(set(load["by_type"]), {"63", "17", "11", "09"})
        self.assertGreater(load["server_cpu_us_per_request"], 0)
        self.assertGreater(load["server_peak_rss_mb"], 0)
        self.assertIn("machine", report)

    def test_memoryAdapter(self) -> None:
        """
        C{--ils memory} runs the same load against the in-memory adapter
        (no data set to import).
        """
        report = self.runBench("--kiosks", "2", "--duration", "0.5", "--ils", "memory")
        self.assertNotIn("import_seconds", report)
        self.assertEqual((report["load"]["errors"], report["load"]["refusals"]), (0, 0))

    def test_tls(self) -> None:
        """
        C{--tls} runs the kiosks over TLS (the client's TLS layer runs on
        the bench's own reactor).
        """
        report = self.runBench(
            "--kiosks", "2", "--duration", "0.5", "--ils", "memory", "--tls")
        self.assertGreater(report["load"]["requests"], 0)
        self.assertEqual((report["load"]["errors"], report["load"]["refusals"]), (0, 0))

    def test_idle(self) -> None:
        """
        Idle mode opens logged-in connections and reports memory per
        connection.
        """
        report = self.runBench("--idle", "20")
        self.assertEqual(report["idle"]["connections"], 20)
        self.assertIn("kb_per_connection", report["idle"])

    def test_loopbackOnly(self) -> None:
        """
        A target that is not a loopback address is refused.
        """
        code = cli.main(["bench", "--target", "192.0.2.7:6001", "--client-core", "-1"])
        self.assertEqual(code, 3)
