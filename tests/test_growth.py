"""
Tests for C{bench/growth.py}: a tiny run of each of its parts (two kiosk
counts, two library sizes, the query plans) prints its tables, answers
every request as expected, and shows no plan scanning a table that grows
with the library. Nothing here depends on how fast anything is.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from types import ModuleType
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

GROWTH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "bench", "growth.py")

BIG_SCAN = re.compile(r"^\s*SCAN (patrons|items|loans|holds)\b")


def loadGrowth() -> ModuleType:
    """
    C{bench/growth.py} as a module (it is a script, not in the package).
    """
    spec = importlib.util.spec_from_file_location("growth", GROWTH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class GrowthRunTests(SynchronousTestCase):
    """
    The script run as a user runs it, in its tiny mode.
    """

    def runGrowth(self, *argv: str) -> tuple[dict[str, Any], str]:
        path = os.path.abspath(self.mktemp())
        process = subprocess.run(
            [sys.executable, GROWTH, "--patrons", "40", "--data-items", "400",
             "--duration", "1", "--warmup", "0.3", "--load-kiosks", "2", "--rounds", "10",
             "--server-core", "-1", "--client-core", "-1", "--json", path, *argv],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(process.returncode, 0, process.stdout + process.stderr)
        with open(path) as f:
            return json.load(f), process.stdout

    def test_everything(self) -> None:
        """
        C{--kiosks 1,2 --items 200,400 --plans}: a row per kiosk count and
        per library size, with no errors, and the plan of every statement
        the hot operations run, none a scan of patrons, items, loans or
        holds.
        """
        report, out = self.runGrowth("--kiosks", "1,2", "--items", "200,400", "--plans")

        self.assertIn("== CPU per request by kiosks", out)
        self.assertIn("kiosks  requests/s   p50 ms   p99 ms   CPU us/req   RSS MB", out)
        runs = report["kiosks"]["runs"]
        self.assertEqual([run["kiosks"] for run in runs], [1, 2])
        for run in runs:
            self.assertGreater(run["requests"], 0)
            self.assertEqual((run["errors"], run["refusals"]), (0, 0))
            self.assertGreater(run["server_cpu_us_per_request"], 0)

        self.assertIn("== Cost by library size", out)
        sizes = report["items"]["runs"]
        self.assertEqual([run["items"] for run in sizes], [200, 400])
        for run in sizes:
            self.assertIn("items", run["import_seconds"])
            self.assertIn("items", run["import_cpu_seconds"])
            # A window on a busy machine may miss a type; never another one.
            self.assertTrue(run["one_kiosk"]["by_type"])
            self.assertLessEqual(set(run["one_kiosk"]["by_type"]), {"63", "17", "11", "09"})
            for load in (run["load"], run["one_kiosk"]):
                self.assertEqual((load["errors"], load["refusals"]), (0, 0))
            self.assertEqual(run["direct_cpu_us"]["refused"], 0)
            self.assertGreater(run["direct_cpu_us"]["11"], 0)
        self.assertRegex(out, r"(?m)^\s+200\s")
        self.assertRegex(out, r"(?m)^\s+400\s")

        self.assertIn("== Query plans of the statements", out)
        self.assertIn("every lookup of a big table uses an index", out)
        plans = report["plans"]
        self.assertEqual(plans["items"], 400)
        statements = [s["sql"] for s in plans["statements"]]
        for wanted in ("WHERE patrons.barcode = ?",
                       "WHERE items.barcode = ?",
                       "loans.returned_at IS NULL",
                       "INSERT INTO transaction_log",
                       "INSERT INTO loans",
                       "FROM holds"):
            self.assertTrue(any(wanted in sql for sql in statements), wanted)
        for statement in plans["statements"]:
            self.assertEqual(statement["big_scans"], [], statement["sql"])
            for line in statement["plan"]:
                self.assertIsNone(BIG_SCAN.match(line), (statement["sql"], line))
        for line in out.splitlines():
            self.assertIsNone(BIG_SCAN.match(line), line)
            self.assertNotIn("<-- SCAN of a big table", line)

    def test_nothingAsked(self) -> None:
        """
        Without C{--kiosks}, C{--items} or C{--plans} the script says what
        to ask for and exits 2.
        """
        process = subprocess.run([sys.executable, GROWTH], capture_output=True, text=True,
                                 timeout=60)
        self.assertEqual(process.returncode, 2)
        self.assertIn("--kiosks, --items and/or --plans", process.stderr)


class ScansTests(SynchronousTestCase):
    """
    L{scans} flags a scan of a big table, by name or by alias, and nothing
    else.
    """

    def setUp(self) -> None:
        self.growth = loadGrowth()

    def test_bigTable(self) -> None:
        """
        A C{SCAN} of a big table, even through an index, is flagged.
        """
        sql = "SELECT * FROM holds WHERE item_id = 1 OR title_key = 'x'"
        self.assertEqual(
            self.growth.scans(sql, ["SCAN holds USING INDEX holds_active_by_title"]),
            ["SCAN holds USING INDEX holds_active_by_title"])
        self.assertEqual(self.growth.scans("SELECT * FROM items", ["SCAN items"]),
                         ["SCAN items"])

    def test_alias(self) -> None:
        """
        A big table scanned under its alias is flagged.
        """
        sql = "SELECT * FROM loans l JOIN items AS i ON i.id = l.item_id"
        self.assertEqual(self.growth.scans(sql, ["SCAN l", "SEARCH i USING INTEGER PRIMARY KEY"]),
                         ["SCAN l"])

    def test_searchAndSmallTables(self) -> None:
        """
        Searches, and scans of the small reference tables, are not.
        """
        sql = "SELECT * FROM branches JOIN items ON items.home_branch = branches.code"
        self.assertEqual(self.growth.scans(sql, [
            "SCAN branches USING COVERING INDEX sqlite_autoindex_branches_1",
            "SEARCH items USING INDEX sqlite_autoindex_items_1 (barcode=?)",
            "MULTI-INDEX OR"]), [])

    def test_shape(self) -> None:
        """
        Statements differing only in their values have one shape.
        """
        self.assertEqual(
            self.growth.shape("SELECT * FROM patrons WHERE barcode = 'BP''1' AND id = 12"),
            self.growth.shape("SELECT  * FROM patrons WHERE barcode = 'X' AND id = 3.5"))


class ImportSpeedupTests(SynchronousTestCase):
    """
    The import's faster checks (for the 1,000,000-item import) refuse and
    skip exactly what the old ones did.
    """

    def test_codeWhitespace(self) -> None:
        """
        A code with any character C{str.isspace} calls space in it (not
        only ASCII) is refused; others are kept as they are.
        """
        from sip2acs.ils.sql.importing import _code, _ruleCode

        for space in (" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1c"):
            self.assertTrue(space.isspace())
            self.assertRaises(ValueError, _code, "BI%s1" % (space,))
            self.assertRaises(ValueError, _ruleCode, "A%sB" % (space,))
        self.assertEqual(_code("BI0000001"), "BI0000001")
        self.assertEqual(_code("\u200bBI"), "\u200bBI")  # zero width: not a space
        self.assertRaises(ValueError, _code, "*")
        self.assertEqual(_ruleCode("*"), "*")

    def test_blankRows(self) -> None:
        """
        A row of blank cells is skipped; a row with one filled cell is
        read, and its line number kept.
        """
        from sip2acs.ils.sql.importing import KINDS, _parseRows

        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as f:
            f.write("barcode,title\n ,\t\nBI1,One\n,\n")
        _, rows = _parseRows(KINDS["items"], path)
        self.assertEqual([(line, values["barcode"]) for line, values in rows], [(3, "BI1")])
