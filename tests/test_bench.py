"""
Tests for L{sip2acs.tools.bench}: the harness runs and reports what it measured.
Nothing here depends on how fast anything is.
"""

import io
import json
import os
import subprocess
import sys

from twisted.python.reflect import namedAny
from twisted.trial.unittest import SynchronousTestCase

from sip2acs import tools
from sip2acs.tools import bench, cli, pgcluster
from sip2acs.tools.bench import data, load, report, server
from tests import postgres


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


class PlacementTests(SynchronousTestCase):
    """
    L{server.placement}: which core each instance is pinned to.
    """

    def test_one(self) -> None:
        """
        One instance is pinned to the server core.
        """
        self.assertEqual(server.placement(1, 0, 1, cores=2), ([0], "pinned to core 0"))

    def test_enoughCores(self) -> None:
        """
        With enough cores each instance has one of its own, never the load
        generator's.
        """
        cores, words = server.placement(3, 0, 1, cores=4)
        self.assertEqual(cores, [0, 2, 3])
        self.assertIn("own", words)

    def test_tooFewCores(self) -> None:
        """
        On two cores, with the load generator on one, the instances share
        the other, and the words say so.
        """
        cores, words = server.placement(2, 0, 1, cores=2)
        self.assertEqual(cores, [0, 0])
        self.assertEqual(words, "sharing core(s) 0: 2 cores, core 1 is the load generator's")

    def test_notPinned(self) -> None:
        """
        A negative server core pins none.
        """
        self.assertEqual(server.placement(2, -1, 1), ([-1, -1], "not pinned"))


class CPUTests(SynchronousTestCase):
    """
    L{pgcluster.treeCPU} and the figures built from it.
    """

    def test_treeCPU(self) -> None:
        """
        The CPU of a process tree counts the root, its live children by
        role and the children it has reaped; a reaped child's time moves
        to C{exited}.
        """
        before = pgcluster.treeCPU(os.getpid())
        self.assertIn("root", before)
        subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
        after = pgcluster.treeCPU(os.getpid())
        self.assertGreater(after["exited"], before["exited"])
        self.assertEqual(pgcluster.treeCPU(2**22 + 7), {})

    def test_summarize(self) -> None:
        """
        CPU per request is given for sip2acs (all instances), PostgreSQL
        (by role too) and both; cores busy for each; memory per instance.
        """
        stats = report.Stats()
        stats.measuring = True
        for _ in range(100):
            stats.record("63", 0.001, True)
        instance = {"pid": 1, "core": 0, "cpu_s": 0.005, "rss": 2**20, "peak_rss": 2**21}
        figures = report.summarize(
            stats, 2.0, 0.01, (2 * 2**20, 2 * 2**21), [instance, dict(instance, pid=2)],
            {"backend": 0.002, "walwriter": 0.001}, 0.5)
        self.assertAlmostEqual(figures["server_cpu_us_per_request"], 100)
        self.assertAlmostEqual(figures["postgres_cpu_us_per_request"], 30)
        self.assertAlmostEqual(figures["total_cpu_us_per_request"], 130)
        self.assertAlmostEqual(figures["postgres_cpu_us_per_request_by_role"]["backend"], 20)
        self.assertAlmostEqual(figures["cores_busy"]["load"], 0.25)
        self.assertEqual([i["peak_rss_mb"] for i in figures["instances"]], [2.0, 2.0])
        out = io.StringIO()
        report.printReport("t", figures, out)
        self.assertIn("PostgreSQL CPU 30.0 us/request (backend 20.0, walwriter 10.0);"
                      " sip2acs + PostgreSQL 130.0 us/request", out.getvalue())
        self.assertIn("instance 2 (pid 2, core 0): CPU 50.0 us/request", out.getvalue())

    def test_gatewayCost(self) -> None:
        """
        Through a gateway the server's CPU is the gateway's, the upstream's
        is given apart and both count in the total; L{report.gatewayCost}
        sets the run beside the one at the upstream alone.
        """
        def run(seconds: float, cpu: float, upstreamCPU: float | None) -> dict:
            stats = report.Stats()
            stats.measuring = True
            for _ in range(100):
                stats.record("63", seconds, True)
            process = {"pid": 1, "core": 0, "cpu_s": cpu, "rss": 2**20, "peak_rss": 2**20}
            upstream = dict(process, pid=2, cpu_s=upstreamCPU) if upstreamCPU else None
            return report.summarize(stats, 1.0, cpu, (2**20, 2**20), [process],
                                    upstream=upstream)

        alone = run(0.001, 0.01, None)
        through = run(0.003, 0.02, 0.012)
        self.assertAlmostEqual(through["upstream"]["cpu_us_per_request"], 120)
        self.assertAlmostEqual(through["total_cpu_us_per_request"], 320)
        self.assertEqual(set(through["cores_busy"]), {"gateway", "upstream"})
        cost = report.gatewayCost(alone, through)
        self.assertAlmostEqual(cost["p50_ms_added"], 2)
        self.assertAlmostEqual(cost["gateway_cpu_us_per_request"], 200)
        self.assertAlmostEqual(cost["upstream_cpu_us_per_request_alone"], 100)
        self.assertAlmostEqual(cost["cpu_us_per_request_added"], 220)
        self.assertAlmostEqual(cost["requests_per_s_ratio"], 1)
        out = io.StringIO()
        report.printReport("t", through, out)
        report.printGatewayCost(cost, out)
        self.assertIn("gateway CPU 200.0 us/request", out.getvalue())
        self.assertIn("upstream CPU 120.0 us/request", out.getvalue())
        self.assertIn("gateway + upstream 320.0 us/request", out.getvalue())
        self.assertIn("CPU per relayed request: gateway 200.0 us; upstream 120.0 us through"
                      " the gateway, 100.0 us alone; 220.0 us added in all", out.getvalue())


class BenchRunner(SynchronousTestCase):
    """
    Runs a tiny bench and reads its JSON report.
    """

    def runBench(self, *argv):
        path = os.path.abspath(self.mktemp())
        code = cli.main([
            "bench", "--patrons", "40", "--items", "400", "--warmup", "0.3",
            "--server-core", "-1", "--client-core", "-1", "--json", path, *argv])
        self.assertEqual(code, 0)
        with open(path) as f:
            return json.load(f)


class HarnessTests(BenchRunner):

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

    def test_gateway(self) -> None:
        """
        C{--gateway} runs the load at the upstream alone, then through a
        sip2 gateway in front of it (its pool logged in to the upstream),
        and reports the gateway's and the upstream's CPU per request apart
        and what the gateway adds.
        """
        result = self.runBench(
            "--gateway", "--gateway-pool", "2", "--kiosks", "3", "--duration", "1",
            "--ils", "memory")
        alone, through, cost = result["alone"], result["gateway"], result["gateway_cost"]
        for figures in (alone, through):
            self.assertGreater(figures["requests"], 0)
            self.assertEqual((figures["errors"], figures["refusals"]), (0, 0))
            self.assertEqual(set(figures["by_type"]), {"63", "17", "11", "09"})
            self.assertGreater(figures["server_cpu_us_per_request"], 0)
        self.assertIsNone(alone["upstream"])
        upstream = through["upstream"]
        self.assertGreater(upstream["cpu_us_per_request"], 0)
        self.assertGreater(upstream["peak_rss_mb"], 0)
        self.assertNotEqual(upstream["pid"], through["instances"][0]["pid"])
        self.assertEqual(upstream["pid"], alone["instances"][0]["pid"])
        self.assertAlmostEqual(
            through["total_cpu_us_per_request"],
            through["server_cpu_us_per_request"] + upstream["cpu_us_per_request"])
        self.assertEqual(set(through["cores_busy"]), {"gateway", "upstream", "load"})
        self.assertEqual(cost, report.gatewayCost(alone, through))

    def test_churn(self) -> None:
        """
        C{--churn --tls} opens a connection per patron check (93, 63, 35)
        and reports connections per second, server CPU per connection and
        no resumed sessions; with C{--resume} the clients' sessions are
        resumed.
        """
        for extra, resumes in (([], False), (["--resume"], True)):
            result = self.runBench(
                "--churn", "--tls", "--kiosks", "2", "--duration", "1", "--ils", "memory",
                *extra)
            churn = result["churn"]
            self.assertGreater(churn["connections"], 0)
            self.assertEqual((churn["errors"], churn["refusals"]), (0, 0))
            self.assertGreater(churn["server_cpu_us_per_connection"], 0)
            self.assertGreater(churn["connections_per_s"], 0)
            if resumes:
                self.assertGreater(churn["resumed"], 0)
            else:
                self.assertEqual(churn["resumed"], 0)

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

    def test_refusedOptions(self) -> None:
        """
        Options that do not go together are refused in one line, before
        anything starts.
        """
        for argv, words in [
            (["--postgres", "--database", "x.sqlite3"], "--postgres starts a database"),
            (["--instances", "0"], "--instances must be 1 or more"),
            (["--idle", "5", "--instances", "2"], "--idle measures one server"),
            (["--password-file", "pw"], "--password-file is for a --database postgresql://"),
            (["--postgres", "--postgres-setting", "fsync"], "NAME=VALUE"),
            (["--target", "127.0.0.1:1", "--instances", "2"], "--target measures one"),
            (["--gateway-pool", "4"], "--gateway-pool is for --gateway"),
            (["--gateway", "--gateway-pool", "0"], "--gateway-pool must be between 1 and"),
            (["--gateway", "--instances", "2"], "--gateway starts an upstream and a gateway"),
            (["--gateway", "--idle", "5"], "--gateway starts an upstream and a gateway"),
            (["--resume"], "--resume is for --churn --tls"),
            (["--churn", "--resume"], "--resume is for --churn --tls"),
            (["--churn", "--idle", "5"], "--churn measures one server's connections"),
        ]:
            out = io.StringIO()
            self.patch(sys, "stdout", out)
            self.assertEqual(cli.main(["bench", "--client-core", "-1", *argv]), 3, argv)
            self.assertIn(words, out.getvalue())
            self.assertEqual(out.getvalue().count("\n"), 1)


class PostgresHarnessTests(BenchRunner):
    """
    C{--postgres}: the bench starts its own throwaway cluster, loads the
    data set into it with the db commands and measures one or two
    instances on it. Skipped without PostgreSQL, failing in CI like the
    other PostgreSQL tests.
    """

    def setUp(self) -> None:
        reason = postgres.unavailable()
        if reason is not None:
            raise postgres.skipOrFail(reason)

    def runPostgres(self, instances: int) -> dict:
        result = self.runBench(
            "--postgres", "--instances", str(instances), "--kiosks", "4", "--duration", "1",
            "--postgres-setting", "fsync=off")
        load = result["load"]
        self.assertEqual(set(result["import_seconds"]), {"init", "rules", "patrons", "items"})
        self.assertGreater(load["requests"], 0)
        # Refusals are possible: on so small a data set, concurrent
        # checkouts can conflict (SERIALIZABLE) past the retries.
        self.assertEqual(load["errors"], 0)
        self.assertIsInstance(load["refusals"], int)
        self.assertEqual(set(load["by_type"]), {"63", "17", "11", "09"})
        self.assertGreater(load["server_cpu_us_per_request"], 0)
        self.assertGreater(load["postgres_cpu_us_per_request"], 0)
        self.assertEqual(set(load["postgres_transactions"]), {"committed", "rolled_back"})
        self.assertGreater(load["postgres_cpu_us_per_request_by_role"]["backend"], 0)
        self.assertAlmostEqual(
            load["total_cpu_us_per_request"],
            load["server_cpu_us_per_request"] + load["postgres_cpu_us_per_request"])
        self.assertEqual(len(load["instances"]), instances)
        for instance in load["instances"]:
            self.assertGreater(instance["peak_rss_mb"], 0)
            self.assertGreater(instance["cpu_us_per_request"], 0)
        return result

    def test_oneInstance(self) -> None:
        """
        One instance on the bench's own PostgreSQL: figures for sip2acs and
        PostgreSQL.
        """
        self.runPostgres(1)

    def test_twoInstances(self) -> None:
        """
        Two instances on one PostgreSQL database, the kiosks round-robin
        over them: both serve (each used CPU), and the CPU per request
        adds theirs up.
        """
        load = self.runPostgres(2)["load"]
        self.assertAlmostEqual(
            load["server_cpu_us_per_request"],
            sum(i["cpu_us_per_request"] for i in load["instances"]))
