"""
Tests for L{sip2acs.config}: TOML configuration, validated with located
problems.
"""

import os

import attrs
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs.addresses import AddressList
from sip2acs.config import (
    AccessSettings,
    ConfigError,
    ListenerConfig,
    Problem,
    ProxySettings,
    TLSSettings,
    defaultConfig,
    loadConfig,
    parseConfig,
)
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
        self.assertEqual(
            demo.options,
            {"database": os.path.join(os.path.dirname(EXAMPLE), "sip2acs.sqlite3"), "demo": True},
        )
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
            "institution[0].retries: must be a whole number (like 10), not",
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


class ProblemTests(SynchronousTestCase):
    """
    L{Problem}: a problem's place as values, and its text as before.
    """

    def test_text(self) -> None:
        """
        A problem's text names its section, the table's index and the key
        that it has, then what is wrong.
        """
        self.assertEqual(
            [
                str(Problem("listener", 0, "max-frame", "too big")),
                str(Problem("admin", None, "endpoint", "taken")),
                str(Problem("institution", None, None, "at least one")),
                str(Problem.unplaced("cannot read it: gone")),
            ],
            [
                "listener[0].max-frame: too big",
                "admin.endpoint: taken",
                "institution: at least one",
                "cannot read it: gone",
            ],
        )
        self.assertIsNone(Problem.unplaced("x").where())

    def test_error(self) -> None:
        """
        L{ConfigError} takes problems as values or as text: C{details}
        holds them as values (text as an unplaced one), C{problems} as
        text, and its message lists them under the source.
        """
        placed = Problem("account", 2, "encoding", "must be one of ascii")
        error = ConfigError([placed, "cannot read it"], "x.toml")
        self.assertEqual(error.details, [placed, Problem.unplaced("cannot read it")])
        self.assertEqual(
            error.problems, ["account[2].encoding: must be one of ascii", "cannot read it"]
        )
        self.assertEqual(
            str(error),
            "x.toml has 2 problem(s):\n  account[2].encoding: must be one of ascii"
            "\n  cannot read it",
        )

    def test_parsed(self) -> None:
        """
        L{parseConfig} reports its problems as values, in the order of
        their text.
        """
        data = minimal(admin={"endpoint": "tcp:0:interface=127.0.0.1"}, extra={})
        data["listener"][0]["max-frame"] = 1
        with self.assertRaises(ConfigError) as raised:
            parseConfig(data)
        self.assertEqual(
            raised.exception.details,
            [
                Problem("listener", 0, "max-frame", "must be between 64 and 1048576 bytes"),
                Problem(
                    "admin",
                    None,
                    "endpoint",
                    "'tcp:0:interface=127.0.0.1' is also listener[0]'s endpoint",
                ),
                Problem("extra", None, None, "is not a known section"),
            ],
        )


class ListenerModelTests(SynchronousTestCase):
    """
    L{ListenerConfig} and its parts.
    """

    def test_parts(self) -> None:
        """
        Left out, a listener has no TLS or PROXY part, and the default
        access rules: every address, no cap, a cooling-off after 10 failed
        logins for 300 seconds.
        """
        listener = ListenerConfig(endpoint="tcp:0")
        self.assertEqual(
            (listener.tls, listener.proxy, listener.access),
            (None, None, AccessSettings(None, 0, 10, 300.0)),
        )
        self.assertFalse(listener.access.gated)

    def test_gated(self) -> None:
        """
        An allow list or a cap per address puts a gate before SIP2; the
        login cooling-off alone does not.
        """
        allow = AddressList.parse(["10.0.0.0/8"])[0]
        self.assertTrue(AccessSettings(allow=allow).gated)
        self.assertTrue(AccessSettings(maxConnectionsPerAddress=2).gated)
        self.assertFalse(AccessSettings(loginFailuresBeforeCooloff=3).gated)

    def test_tlsForTransport(self) -> None:
        """
        A listener has TLS settings exactly when its transport is C{tls}.
        """
        tls = TLSSettings("server.pem", "server.key")
        self.assertEqual(ListenerConfig("tcp:0", "tls", tls=tls).tls, tls)
        self.assertRaises(ValueError, ListenerConfig, "tcp:0", "tls")
        self.assertRaises(ValueError, ListenerConfig, "tcp:0", "raw", tls=tls)

    def test_hashable(self) -> None:
        """
        Listeners with the same settings, parts included, are equal and
        hash alike (the login throttles are kept by listener).
        """

        def make() -> ListenerConfig:
            return ListenerConfig(
                "tcp:0",
                "tls",
                tls=TLSSettings("server.pem", "server.key", clientCA="ca.pem"),
                proxy=ProxySettings(AddressList.parse(["192.0.2.10"])[0]),
                access=AccessSettings(cooloff=60.0),
            )

        throttles = {make(): "throttle"}
        self.assertEqual(throttles[make()], "throttle")
        self.assertNotIn(attrs.evolve(make(), access=AccessSettings()), throttles)

    def test_parsed(self) -> None:
        """
        The TOML keys of a listener fill its parts.
        """
        data = minimal()
        data["listener"][0].update(
            {"proxy-protocol": True, "allow": ["10.0.0.0/8"], "cooloff": 60}
        )
        listener = parseConfig(data).listeners[0]
        self.assertEqual(listener.proxy, ProxySettings(None))
        self.assertEqual(
            listener.access,
            AccessSettings(allow=AddressList.parse(["10.0.0.0/8"])[0], cooloff=60.0),
        )
        self.assertIsNone(listener.tls)

    def test_incompleteTLS(self) -> None:
        """
        A TLS listener without its private key is one problem; it still
        counts as asking for client certificates, so an account bound to a
        certificate subject is not a second one.
        """
        data = minimal()
        data["listener"][0].update(
            {"transport": "tls", "certificate": "server.pem", "client-ca": "ca.pem"}
        )
        data["account"][0]["certificate-subject"] = "CN=kiosk1"
        with self.assertRaises(ConfigError) as raised:
            parseConfig(data)
        self.assertEqual(
            raised.exception.problems,
            ['listener[0].private-key: is required for transport = "tls"'],
        )
