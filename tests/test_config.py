"""
Tests for L{sip2acs.config}: TOML configuration, validated with located
problems.
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.config import ConfigError, defaultConfig, loadConfig, parseConfig
from sip2acs.passwords import hashPassword, verifyPassword

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "etc", "sip2acs.toml")


def minimal(**overrides):
    data = {
        "listener": [{"endpoint": "tcp:0:interface=127.0.0.1"}],
        "institution": [{"id": "LIB", "database": "x.sqlite3"}],
        "account": [
            {"login": "sc1", "password": hashPassword("pw", cost=4), "institution": "LIB"}
        ],
    }
    data.update(overrides)
    return data


class ConfigTests(SynchronousTestCase):
    def test_example(self) -> None:
        """
        The shipped C{etc/sip2acs.toml} loads as it is: two listeners, the
        DEMO institution on SQLite and the demo account, whose password
        hash matches "demo".
        """
        config = loadConfig(EXAMPLE)
        self.assertEqual(
            [l.endpoint for l in config.listeners],
            ["tcp:6001:interface=127.0.0.1", "tcp:5550:interface=127.0.0.1"],
        )
        self.assertTrue(config.listeners[1].statusBeforeLogin)
        demo = config.institutions["DEMO"]
        self.assertEqual(demo.adapter, "sqlite")
        self.assertEqual(demo.options, {"database": "sip2acs.sqlite3", "demo": True})
        account = config.accounts["demo"]
        self.assertTrue(verifyPassword("demo", account.passwordHash))
        self.assertEqual(account.terminator, b"\r")

    def test_defaults(self) -> None:
        """
        Keys left out take the documented defaults.
        """
        config = parseConfig(minimal())
        listener = config.listeners[0]
        self.assertEqual(
            (listener.transport, listener.loginTimeout, listener.idleTimeout, listener.maxFrame),
            ("raw", 30.0, 600.0, 16384),
        )
        account = config.accounts["sc1"]
        self.assertEqual(
            (account.errorDetection, account.encoding, account.delimiter, account.itemList),
            ("auto", "ascii", "|", "barcode"),
        )
        self.assertEqual(config.institutions["LIB"].options, {"database": "x.sqlite3"})

    def test_idleZeroMeansNever(self) -> None:
        """
        C{idle-timeout = 0} disables the idle timeout.
        """
        data = minimal(listener=[{"endpoint": "tcp:0", "idle-timeout": 0}])
        self.assertIsNone(parseConfig(data).listeners[0].idleTimeout)

    def test_crlf(self) -> None:
        """
        C{terminator = "CRLF"} makes the account's replies end in CR LF.
        """
        data = minimal()
        data["account"][0]["terminator"] = "CRLF"
        self.assertEqual(parseConfig(data).accounts["sc1"].terminator, b"\r\n")

    def test_everyProblemLocated(self) -> None:
        """
        Every problem is reported at once, each with where it is.
        """
        data = minimal()
        data["listener"][0]["max-frame"] = 10
        data["listener"][0]["colour"] = "blue"
        data["account"][0].update(encoding="ebcdic", password="demo", institution="NOPE")
        data["institution"][0]["retries"] = "three"
        with self.assertRaises(ConfigError) as raised:
            parseConfig(data, "site.toml")
        problems = "\n".join(raised.exception.problems)
        for expected in [
            "listener[0].max-frame",
            "listener[0].colour: is not a known setting",
            "account[0].encoding: must be one of",
            "account[0].password: must be a hash",
            "account[0].institution: 'NOPE' is not a configured institution",
            "institution[0].retries: must be a int",
        ]:
            self.assertIn(expected, problems)
        self.assertIn("site.toml has 6 problem(s)", str(raised.exception))

    def test_missing(self) -> None:
        """
        Required keys and sections are reported when missing.
        """
        with self.assertRaises(ConfigError) as raised:
            parseConfig({"account": [{"login": "x"}]})
        problems = raised.exception.problems
        self.assertIn("account[0].password: is required", problems)
        self.assertIn("listener: at least one [[listener]] is needed", problems)
        self.assertIn("institution: at least one [[institution]] is needed", problems)

    def test_duplicates(self) -> None:
        """
        An account or institution defined twice is a problem.
        """
        data = minimal()
        data["account"].append(dict(data["account"][0]))
        data["institution"].append({"id": "LIB"})
        with self.assertRaises(ConfigError) as raised:
            parseConfig(data)
        self.assertIn("account[1].login: 'sc1' is defined twice", raised.exception.problems)
        self.assertIn("institution[1].id: 'LIB' is defined twice", raised.exception.problems)

    def test_badDelimiter(self) -> None:
        """
        A delimiter must be one punctuation character.
        """
        data = minimal()
        data["account"][0]["delimiter"] = "ab"
        with self.assertRaises(ConfigError):
            parseConfig(data)

    def test_unreadable(self) -> None:
        """
        A missing file or invalid TOML is a L{ConfigError} naming the file.
        """
        with self.assertRaises(ConfigError) as raised:
            loadConfig(self.mktemp())
        self.assertIn("cannot read it", str(raised.exception))
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("[[listener]\n")
        with self.assertRaises(ConfigError) as raised:
            loadConfig(path)
        self.assertIn("is not valid TOML", str(raised.exception))

    def test_defaultConfig(self) -> None:
        """
        The built-in configuration: raw SIP2 on loopback port 6001, DEMO on
        SQLite with demo data, account demo/demo.
        """
        config = defaultConfig()
        self.assertEqual(config.listeners[0].endpoint, "tcp:6001:interface=127.0.0.1")
        self.assertEqual(
            config.institutions["DEMO"].options,
            {"database": "sip2acs.sqlite3", "demo": True},
        )
        self.assertTrue(verifyPassword("demo", config.accounts["demo"].passwordHash))
