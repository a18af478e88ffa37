"""
Tests for what an installation uses (tap.md, "Production install"): the
LICENSE in the package metadata, C{sip2acs config example} and the example
files shipped as package data (L{sip2acs.tools.examples}), and the hardening
of the systemd units in C{etc/}.
"""

import configparser
import contextlib
import io
import os
import re
import shutil
import subprocess

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.config import loadConfig
from sip2acs.tools import cli
from sip2acs.tools.examples import EXAMPLES, exampleConfiguration

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGED = os.path.join(TOP, "sip2acs", "examples")
UNITS = ("sip2acs.service", "sip2acs@.service")


def _setupConfig() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(os.path.join(TOP, "setup.cfg"), encoding="utf-8")
    return parser


class LicenseTests(SynchronousTestCase):
    def test_mit(self) -> None:
        """
        LICENSE is the MIT licence of the sip2acs contributors, and
        setup.cfg declares MIT and puts the file in the metadata.
        """
        with open(os.path.join(TOP, "LICENSE"), encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.startswith("MIT License\n"))
        self.assertIn("Copyright (c) 2026 the sip2acs contributors\n", text)
        self.assertIn("THE SOFTWARE IS PROVIDED \"AS IS\"", text)
        metadata = _setupConfig()["metadata"]
        self.assertEqual(metadata["license"], "MIT")
        self.assertEqual(metadata["license_files"].split(), ["LICENSE"])


class ExampleTests(SynchronousTestCase):
    def test_etcIsThePackagedExample(self) -> None:
        """
        The configurations, units and logrotate file under C{etc/} are
        byte for byte the files shipped in C{sip2acs/examples/}: edit the
        packaged file and copy it to C{etc/}.
        """
        for name in EXAMPLES.values():
            with open(os.path.join(PACKAGED, name), "rb") as f:
                packaged = f.read()
            with open(os.path.join(TOP, "etc", name), "rb") as f:
                checkout = f.read()
            self.assertEqual(
                checkout, packaged,
                "etc/%s differs from sip2acs/examples/%s: cp sip2acs/examples/%s etc/"
                % (name, name, name),
            )

    def test_packageData(self) -> None:
        """
        setup.cfg ships every example file as package data of C{sip2acs},
        so that an installed wheel has them.
        """
        packageData = _setupConfig()["options.package_data"]["sip2acs"].split()
        present = [
            os.path.relpath(os.path.join(folder, name), PACKAGED)
            for folder, _, names in os.walk(PACKAGED) for name in names
        ]
        shipped = {
            name for name in present
            if any(re.fullmatch(p.replace(".", r"\.").replace("*", "[^/]*"),
                                "examples/" + name) for p in packageData)
        }
        self.assertEqual(shipped, set(EXAMPLES.values()))

    def _command(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = cli.main(list(argv))
        return status, out.getvalue()

    def test_configExample(self) -> None:
        """
        C{sip2acs config example} prints the standalone example, and
        C{--gateway} the gateway's; each is the packaged file.
        """
        status, text = self._command("config", "example")
        self.assertEqual(status, 0)
        self.assertEqual(text, exampleConfiguration())
        self.assertIn('adapter = "sqlite"', text)
        status, text = self._command("config", "example", "--gateway")
        self.assertEqual(status, 0)
        self.assertEqual(text, exampleConfiguration("gateway"))
        self.assertIn('adapter = "sip2"', text)
        for flag, kind, marker in [
            ("--unit", "unit", "ExecStart=/opt/sip2acs/bin/twistd --nodaemon"),
            ("--instance-unit", "instance-unit", "instance-%i.toml"),
            ("--logrotate", "logrotate", "create 0640 sip2acs sip2acs"),
        ]:
            status, text = self._command("config", "example", flag)
            self.assertEqual(status, 0)
            self.assertEqual(text, exampleConfiguration(kind))
            self.assertIn(marker, text)

    def test_printedExampleLoads(self) -> None:
        """
        What C{sip2acs config example [--gateway]} prints, saved to a file,
        passes C{sip2acs config check} (once the gateway's password file
        exists).
        """
        password = os.path.abspath(self.mktemp())
        with open(password, "w") as f:
            f.write("pw\n")
        for argv in (("config", "example"), ("config", "example", "--gateway")):
            status, text = self._command(*argv)
            self.assertEqual(status, 0)
            text = text.replace("/etc/sip2acs/upstream.pw", password)
            path = self.mktemp()
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            loadConfig(path)
            status, report = self._command("config", "check", path)
            self.assertEqual(status, 0)
            self.assertIn(": ok (", report)


class UnitHardeningTests(SynchronousTestCase):
    def test_exposure(self) -> None:
        """
        C{systemd-analyze security --offline=true} rates both units in
        C{etc/} under 3.0 (OK), the hardening tap.md's "Production install"
        relies on.
        """
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            raise self.skipTest("systemd-analyze is not installed: the units' hardening"
                                " is not rated")
        for unit in UNITS:
            result = subprocess.run(
                [analyze, "security", "--offline=true", "--no-pager",
                 os.path.join(TOP, "etc", unit)],
                capture_output=True, text=True, timeout=60,
            )
            found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
            self.assertIsNotNone(found, "%s: %s%s" % (unit, result.stdout, result.stderr))
            assert found is not None
            self.assertLess(float(found.group(1)), 3.0, "%s:\n%s" % (unit, result.stdout))

    def test_unitsAgree(self) -> None:
        """
        The template unit is hardened exactly as the single unit: the two
        [Service] sections differ only in the configuration file.
        """
        def settings(unit: str) -> list[str]:
            with open(os.path.join(TOP, "etc", unit), encoding="utf-8") as f:
                text = f.read()
            service = text.split("[Service]\n", 1)[1].split("\n[", 1)[0]
            return [line for line in service.splitlines()
                    if line and not line.startswith("#") and not line.startswith("ExecStart=")]

        self.assertEqual(settings(UNITS[0]), settings(UNITS[1]))
