"""
Tests for L{sip2acs.ils.upstream.settings}: the gateway's keys in an
institution's table, and the per-account upstream logins of the TOML.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.config import ConfigError, loadConfig
from sip2acs.ils.upstream.settings import UpstreamSettings


class SettingsTests(SynchronousTestCase):
    def passwordFile(self, text: str = "s3cret\n") -> str:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_defaults(self) -> None:
        settings = UpstreamSettings.fromOptions("MAIN", {"upstream": "tcp:host=ils:port=5550"})
        self.assertEqual(settings.endpoint, "tcp:host=ils:port=5550")
        self.assertEqual(settings.institution, "MAIN")
        self.assertEqual(settings.poolSize, 4)
        self.assertIsNone(settings.login)
        self.assertIsNone(settings.offline)

    def test_everything(self) -> None:
        path = self.passwordFile()
        settings = UpstreamSettings.fromOptions(
            "MAIN",
            {
                "upstream": "tcp:host=ils:port=5550",
                "upstream-login": "gw",
                "upstream-password-file": path,
                "upstream-location": "BR1",
                "upstream-institution": "ILSINST",
                "upstream-encoding": "utf-8",
                "upstream-error-detection": True,
                "upstream-terminator": "CRLF",
                "upstream-timeout": 5,
                "pool-size": 20,
                "offline-checkins": True,
                "offline-queue": "offline.sqlite3",
            },
        )
        self.assertEqual(settings.login.login, "gw")
        self.assertEqual(settings.login.password, "s3cret")
        self.assertNotIn("s3cret", repr(settings))
        self.assertEqual(settings.login.location, "BR1")
        self.assertEqual(settings.institution, "ILSINST")
        self.assertEqual(settings.terminator, b"\r\n")
        self.assertEqual(settings.timeout, 5.0)
        self.assertEqual(settings.offline.queue, "offline.sqlite3")

    def test_passwordFromEnvironment(self) -> None:
        settings = UpstreamSettings.fromOptions(
            "MAIN",
            {"upstream": "tcp:host=ils:port=5550", "upstream-login": "gw"},
            environ={"SIP2ACS_UPSTREAM_PASSWORD": "fromenv"},
        )
        self.assertEqual(settings.login.password, "fromenv")

    def assertRefused(self, options: dict, text: str, **kw: object) -> None:
        with self.assertRaises(ValueError) as caught:
            UpstreamSettings.fromOptions("MAIN", options, environ={}, **kw)  # type: ignore[arg-type]
        self.assertIn(text, str(caught.exception))

    def test_problems(self) -> None:
        up = {"upstream": "tcp:host=ils:port=5550"}
        self.assertRefused({}, "upstream is required")
        self.assertRefused({**up, "upstream-password": "x"}, "must not be written")
        self.assertRefused({**up, "upstream-login": "gw"}, "needs a password")
        self.assertRefused(
            {**up, "upstream-login": "gw", "upstream-password-file": "/nonexistent"},
            "cannot read /nonexistent",
        )
        self.assertRefused({**up, "pool-size": -1}, "pool-size must be between 0")
        self.assertRefused({**up, "pool-size": "four"}, "pool-size must be a whole number")
        self.assertRefused({**up, "upstream-timeout": 0}, "more than 0")
        self.assertRefused({**up, "upstream-encoding": "ebcdic"}, "upstream-encoding must be")
        self.assertRefused({**up, "offline-checkins": True}, "need offline-queue")
        self.assertRefused(
            {**up, "offline-checkouts": True, "offline-queue": "q"}, "offline-checkout-limit"
        )
        self.assertRefused({**up, "upstrem": "x"}, "unknown sip2 gateway settings: upstrem")
        self.assertRefused(
            up, "only pass-through", accounts=[("kiosk1", "ilskiosk1", self.passwordFile())]
        )

    def test_passThroughAccounts(self) -> None:
        path = self.passwordFile("kiosk-pw\n")
        settings = UpstreamSettings.fromOptions(
            "MAIN",
            {"upstream": "tcp:host=ils:port=5550", "pool-size": 0},
            accounts=[("kiosk1", "ilsk1", path), ("kiosk2", None, None)],
        )
        self.assertTrue(settings.passThrough)
        self.assertEqual(settings.loginFor("kiosk1").login, "ilsk1")
        self.assertEqual(settings.loginFor("kiosk1").password, "kiosk-pw")
        self.assertIsNone(settings.loginFor("kiosk2"))


class ConfigTests(SynchronousTestCase):
    """
    The TOML carries each account's upstream login to its institution.
    """

    def test_accountLogins(self) -> None:
        from tests.fixtures import _hash

        path = self.mktemp()
        secret = os.path.abspath(self.mktemp())
        with open(secret, "w") as f:
            f.write("pw\n")
        with open(path, "w") as f:
            f.write(
                '[[listener]]\nendpoint = "tcp:0:interface=127.0.0.1"\n'
                '[[institution]]\nid = "MAIN"\nadapter = "sip2"\n'
                'upstream = "tcp:host=127.0.0.1:port=5550"\npool-size = 0\n'
                '[[account]]\nlogin = "kiosk1"\npassword = "%s"\ninstitution = "MAIN"\n'
                'upstream-login = "ilsk1"\nupstream-password-file = "%s"\n'
                '[[account]]\nlogin = "kiosk2"\npassword = "%s"\ninstitution = "MAIN"\n'
                % (_hash("a"), secret, _hash("b"))
            )
        config = loadConfig(path)
        self.assertEqual(
            config.institutions["MAIN"].accountLogins, (("kiosk1", "ilsk1", secret),)
        )
        self.assertEqual(config.accounts["kiosk1"].upstreamLogin, "ilsk1")
        self.assertEqual(config.institutions["MAIN"].adapter, "sip2")
        os.remove(path)


class RecipeTests(SynchronousTestCase):
    """
    The TOML of tap.md's chapter "In front of your ILS" is a valid
    configuration, and its gateway settings read.
    """

    def test_recipes(self) -> None:
        import re

        from sip2acs.app.tap import buildAdapters
        from tests.fixtures import _hash

        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "tap.md")) as f:
            text = f.read()
        chapter = text[text.index("## In front of your ILS"):]
        blocks = re.findall(r"```toml\n(.*?)```", chapter, re.S)
        self.assertGreaterEqual(len(blocks), 4)
        # Absolute: a relative name is read from the configuration's directory.
        password = os.path.abspath(self.mktemp())
        with open(password, "w") as f:
            f.write("pw\n")
        for block in blocks:
            block = re.sub(r'"/etc/sip2acs/[^"]*\.pw"', '"%s"' % (password,), block)
            block = block.replace("scrypt$...", _hash("kiosk"))
            if "[[institution]]" not in block:
                continue
            # The recipes' TLS listeners name certificate files of a real
            # host; a plain one stands in.
            block = block[block.index("[[institution]]"):]
            path = self.mktemp()
            with open(path, "w") as f:
                f.write('[[listener]]\nendpoint = "tcp:0:interface=127.0.0.1"\n' + block)
            config = loadConfig(path)
            for institution in config.institutions.values():
                self.assertEqual(institution.adapter, "sip2")
                UpstreamSettings.fromOptions(institution.id, institution.options)
            from twisted.internet import reactor

            adapters = buildAdapters(config, reactor)  # type: ignore[arg-type]
            self.assertEqual(len(adapters), len(config.institutions))


class ExampleTests(SynchronousTestCase):
    def test_shippedExample(self) -> None:
        """
        The shipped C{etc/gateway.toml} loads once its password file
        exists (and is refused, naming the file, before), and its gateway
        settings read.
        """
        here = os.path.dirname(os.path.abspath(__file__))
        shipped = os.path.join(here, "..", "etc", "gateway.toml")
        error = self.assertRaises(ConfigError, loadConfig, shipped)
        self.assertIn("cannot read /etc/sip2acs/upstream.pw", str(error))
        password = os.path.abspath(self.mktemp())
        with open(password, "w") as f:
            f.write("pw\n")
        path = self.mktemp()
        with open(shipped) as f, open(path, "w") as copy:
            copy.write(f.read().replace("/etc/sip2acs/upstream.pw", password))
        config = loadConfig(path)
        institution = config.institutions["MAIN"]
        self.assertEqual(institution.adapter, "sip2")
        settings = UpstreamSettings.fromOptions("MAIN", institution.options)
        self.assertEqual((settings.poolSize, settings.login.login), (20, "sip2acs"))
        self.assertTrue(settings.offline.checkins)
