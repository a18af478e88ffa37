"""
Tests for how the configuration speaks to its operator: problems that name
the line of their key (L{sip2acs.config.lines}) and the setting meant, in
the file's words rather than Python's, and relative file names read from
the configuration file's directory.
"""

import os
import re

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.config import ConfigError, Problem, loadConfig, parseConfig
from sip2acs.config.lines import TOMLLines, locate
from sip2acs.config.toml import tomlValue
from sip2acs.passwords import hashPassword

from .certs import CertificateAuthority

PASSWORD = hashPassword("pw", cost=4)

SITE = """\
# A site's configuration.

[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"

[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"
transprot = "telnet"

[[institution]]
id = "LIB"
database = "lib.sqlite3"

[[account]]
login = "sc1"
password = "%s"
institution = "LIB"
""" % (PASSWORD,)


class LinesTests(SynchronousTestCase):
    """
    L{TOMLLines} finds the line of a table or key that L{parseConfig}
    names.
    """

    TEXT = """\
top = 1
admin.health-timeout = 3

[[listener]]   # the first
endpoint = "x"
rewrites = [
  ["[[listener]]", "b"],
  [
    "not = a key",
  ],
]
note = \"\"\"
[[listener]]
endpoint = "inside a string"
\"\"\"

[[listener]]
"max-frame" = 10
tls = { certificate = "c.pem",
  private-key = "k.pem" }
after = true

[[institution]]
id = "A"

[institution.account-defaults]
hide-fields = ["AE"]

[institution.account-defaults.payment-types]
"01" = "cash"

[[institution]]
id = "B"
account-defaults.due-date-format = "x"
"""

    def setUp(self) -> None:
        self.lines = TOMLLines(self.TEXT)

    def test_keys(self) -> None:
        """
        A key of the C{index}th array table is found in it, past arrays,
        inline tables and multi-line strings that look like headers or
        keys.
        """
        self.assertEqual(self.lines.line("listener", 0, "endpoint"), 5)
        self.assertEqual(self.lines.line("listener", 0, "note"), 12)
        self.assertEqual(self.lines.line("listener", 1, "endpoint"), 17)
        self.assertEqual(self.lines.line("listener", 1, "max-frame"), 18)
        self.assertEqual(self.lines.line("listener", 1, "after"), 21)

    def test_table(self) -> None:
        """
        A problem of a table, or of a key it leaves out, is at its header.
        """
        self.assertEqual(self.lines.line("listener", 1, None), 17)
        self.assertEqual(self.lines.line("listener", 1, "transport"), 17)
        self.assertEqual(self.lines.line("institution", 1, None), 32)

    def test_subTables(self) -> None:
        """
        C{account-defaults.x} is found in an C{[institution.account-defaults]}
        sub-table or as a dotted key; a key below a table it names
        (C{payment-types.01}) or an element of a list (C{rewrites[1]}) is at
        the nearest line that names it.
        """
        self.assertEqual(
            self.lines.line("institution", 0, "account-defaults.hide-fields"), 27
        )
        self.assertEqual(
            self.lines.line("institution", 0, "account-defaults.payment-types.01"), 30
        )
        self.assertEqual(self.lines.line("institution", 0, "account-defaults.nope"), 26)
        self.assertEqual(
            self.lines.line("institution", 1, "account-defaults.due-date-format"), 34
        )
        self.assertEqual(self.lines.line("listener", 0, "rewrites[1]"), 6)

    def test_dottedTop(self) -> None:
        """
        A table written as dotted keys at the top (C{admin.x = ...}) is
        found there.
        """
        self.assertEqual(self.lines.line("admin", None, "health-timeout"), 2)
        self.assertEqual(self.lines.line("top", None, None), 1)

    def test_absent(self) -> None:
        """
        A problem about what the file does not have, or of the file as a
        whole, has no line.
        """
        self.assertIsNone(self.lines.line("account", None, None))
        self.assertIsNone(self.lines.line("listener", 2, "endpoint"))
        self.assertIsNone(self.lines.line(None, None, None))

    def test_locate(self) -> None:
        """
        L{locate} gives each problem its line; a problem that has one keeps
        it.
        """
        located = locate(
            self.TEXT,
            [
                Problem("listener", 1, "max-frame", "too small"),
                Problem("listener", 0, "endpoint", "bad", line=99),
                Problem.unplaced("whole"),
            ],
        )
        self.assertEqual([p.line for p in located], [18, 99, None])
        self.assertEqual(
            located[0].located("site.toml"),
            "site.toml line 18: listener[1].max-frame: too small",
        )
        self.assertEqual(located[2].located("site.toml"), "whole")


class LoadedProblemTests(SynchronousTestCase):
    """
    L{loadConfig} reports each problem of a TOML file at its line, with the
    setting that was probably meant.
    """

    def load(self, text: str) -> ConfigError:
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "sip2acs.toml")
        with open(path, "w") as f:
            f.write(text)
        with self.assertRaises(ConfigError) as raised:
            loadConfig(path)
        self.path = path
        return raised.exception

    def test_lineAndDidYouMean(self) -> None:
        """
        A misspelt key is named at its line, with the known key it is
        closest to.
        """
        error = self.load(SITE)
        self.assertEqual(
            error.problems,
            [
                '%s line 8: listener[1].transprot: is not a known setting;'
                ' did you mean "transport"?' % (self.path,)
            ],
        )
        self.assertIn("has 1 problem(s):\n  %s line 8: " % (self.path,), str(error))

    def test_farWord(self) -> None:
        """
        A key close to no known one is only said to be unknown.
        """
        error = self.load(SITE.replace("transprot", "colour"))
        self.assertEqual(
            error.problems,
            ["%s line 8: listener[1].colour: is not a known setting" % (self.path,)],
        )

    def test_section(self) -> None:
        """
        A misspelt section is named at its header, with the section meant.
        """
        error = self.load(
            SITE.replace("transprot", "transport") + '\n[[acount]]\nlogin = "x"\n'
        )
        self.assertEqual(
            error.problems,
            [
                '%s line 19: acount: is not a known section; did you mean "account"?'
                % (self.path,)
            ],
        )

    def test_accountDefaults(self) -> None:
        """
        A misspelt key of C{[institution.account-defaults]} is found in that
        sub-table, and the known keys include the templates.
        """
        error = self.load(
            SITE.replace("transprot", "transport").replace(
                'database = "lib.sqlite3"\n',
                'database = "lib.sqlite3"\n\n[institution.account-defaults]\n'
                'av-templat = "x"\n',
            )
        )
        self.assertEqual(
            error.problems,
            [
                '%s line 15: institution[0].account-defaults.av-templat: is not a'
                ' known setting; did you mean "av-template"?' % (self.path,)
            ],
        )

    def test_endpointProblem(self) -> None:
        """
        An endpoint start-up would refuse is named at its line too.
        """
        error = self.load(
            SITE.replace(
                'endpoint = "tcp:0:interface=127.0.0.1"\ntransprot = "telnet"',
                'endpoint = "blah:0"',
            )
        )
        self.assertEqual(len(error.problems), 1)
        self.assertTrue(
            error.problems[0].startswith("%s line 7: listener[1].endpoint: " % (self.path,)),
            error.problems[0],
        )


class PlainWordsTests(SynchronousTestCase):
    """
    A value of the wrong kind is described in the file's words: no Python
    type names, values written as TOML writes them.
    """

    def problemOf(self, table: str, key: str, value: object) -> str:
        data = {
            "listener": [{"endpoint": "tcp:0"}],
            "institution": [{"id": "LIB"}],
            "account": [{"login": "a", "password": PASSWORD, "institution": "LIB"}],
            "admin": {},
        }
        target = data[table]
        (target[0] if isinstance(target, list) else target)[key] = value
        with self.assertRaises(ConfigError) as raised:
            parseConfig(data)
        return "\n".join(problem.text for problem in raised.exception.details)

    def test_kinds(self) -> None:
        """
        Each kind of setting is named plainly.
        """
        cases = [
            ("listener", "cooloff", "ten", 'must be a number (like 10), not "ten"'),
            ("listener", "max-frame", 1.5, "must be a whole number (like 10), not 1.5"),
            ("listener", "max-frame", True, "must be a whole number (like 10), not true"),
            ("listener", "status-before-login", "yes", 'must be true or false, not "yes"'),
            ("account", "location", 6001, "must be text in quotes, not 6001"),
            ("listener", "allow", "10.0.0.0/8", 'must be a list in brackets, not "10.0.0.0/8"'),
            ("account", "patron-fields", ["AE"], 'must be a table, not ["AE"]'),
            ("account", "ae-template", 5, "must be a template (text in quotes), not 5"),
            ("account", "encoding", False, "must be text in quotes, not false"),
        ]
        for table, key, value, text in cases:
            self.assertEqual(self.problemOf(table, key, value), text, key)

    def test_choices(self) -> None:
        """
        A word that is not one of the choices is quoted as the file has it.
        """
        self.assertEqual(
            self.problemOf("listener", "transport", "blah"),
            'must be one of raw, telnet, tls, not "blah"',
        )

    def test_tomlValue(self) -> None:
        """
        L{tomlValue} writes values as TOML does.
        """
        self.assertEqual(tomlValue('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"')
        self.assertEqual(tomlValue([1, "a", True]), '[1, "a", true]')
        self.assertEqual(tomlValue({"a": 1}), "a table")
        self.assertEqual(tomlValue(2.5), "2.5")


class RelativePathTests(SynchronousTestCase):
    """
    The file names of a configuration file are read from its directory,
    not the working directory.
    """

    def write(self, text: str) -> str:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        path = os.path.join(self.directory, "sip2acs.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def here(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def test_database(self) -> None:
        """
        An SQLite C{database} is in the file's directory; an absolute one,
        a PostgreSQL URL and C{:memory:} stay as they are.
        """
        text = SITE.replace('transprot = "telnet"', "")
        text += '\n[[institution]]\nid = "ABS"\ndatabase = "/srv/abs.sqlite3"\n'
        text += (
            '\n[[institution]]\nid = "PG"\ndatabase = "postgresql://u@h/db"\n'
            'database-password-file = "secrets/pg"\n'
        )
        text += '\n[[institution]]\nid = "MEM"\ndatabase = ":memory:"\n'
        config = loadConfig(self.write(text))
        options = {i: config.institutions[i].options for i in config.institutions}
        self.assertEqual(options["LIB"]["database"], self.here("lib.sqlite3"))
        self.assertEqual(options["ABS"]["database"], "/srv/abs.sqlite3")
        self.assertEqual(options["PG"]["database"], "postgresql://u@h/db")
        self.assertEqual(options["PG"]["database-password-file"], self.here("secrets/pg"))
        self.assertEqual(options["MEM"]["database"], ":memory:")

    def test_gateway(self) -> None:
        """
        The gateway's password file and offline queue, and an account's
        upstream password file, are in the file's directory.
        """
        text = SITE.replace('transprot = "telnet"', "").replace(
            'database = "lib.sqlite3"',
            'adapter = "sip2"\nupstream = "tcp:host=127.0.0.1:port=1"\n'
            'upstream-password-file = "up.pw"\noffline-queue = "queue/offline.sqlite3"',
        )
        text = text.replace(
            'upstream-password-file = "up.pw"',
            'upstream-login = "gateway"\nupstream-password-file = "up.pw"\n'
            'pool-size = 0\noffline-checkins = true',
        )
        text += 'upstream-login = "kiosk"\nupstream-password-file = "kiosk.pw"\n'
        path = self.write(text)
        for name in ("up.pw", "kiosk.pw"):
            with open(self.here(name), "w") as f:
                f.write("secret\n")
        config = loadConfig(path)
        options = config.institutions["LIB"].options
        self.assertEqual(options["upstream-password-file"], self.here("up.pw"))
        self.assertEqual(options["offline-queue"], self.here("queue/offline.sqlite3"))
        self.assertEqual(config.accounts["sc1"].upstreamPasswordFile, self.here("kiosk.pw"))

    def test_customAdapter(self) -> None:
        """
        A custom adapter's options are given to it as written.
        """
        text = SITE.replace('transprot = "telnet"', "").replace(
            'database = "lib.sqlite3"', 'adapter = "mine.factory"\ndatabase = "lib.sqlite3"'
        )
        config = loadConfig(self.write(text))
        self.assertEqual(config.institutions["LIB"].options["database"], "lib.sqlite3")

    def test_tls(self) -> None:
        """
        A TLS listener's certificate and key are found next to the file,
        whatever the working directory.
        """
        path = self.write("")
        certificate, key = CertificateAuthority().issue("localhost").write(
            self.directory, "server"
        )
        text = SITE.replace(
            'transprot = "telnet"',
            'transport = "tls"\ncertificate = "%s"\nprivate-key = "%s"'
            % (os.path.basename(certificate), os.path.basename(key)),
        )
        with open(path, "w") as f:
            f.write(text)
        elsewhere = self.mktemp()
        os.makedirs(elsewhere)
        cwd = os.getcwd()
        os.chdir(elsewhere)
        self.addCleanup(os.chdir, cwd)
        config = loadConfig(path)
        tls = config.listeners[1].tls
        assert tls is not None
        self.assertEqual((tls.certificate, tls.privateKey), (certificate, key))

    def test_parsedStaysRelative(self) -> None:
        """
        Parsed data with no file (C{base} not given) keeps its names
        relative to the working directory.
        """
        config = parseConfig(
            {
                "listener": [{"endpoint": "tcp:0"}],
                "institution": [{"id": "LIB", "database": "lib.sqlite3"}],
            }
        )
        self.assertEqual(config.institutions["LIB"].options["database"], "lib.sqlite3")


class ReadmeTests(SynchronousTestCase):
    """
    The README's commands work as written after its first command, which
    installs C{sip2acs} in C{.venv/bin} and not on the C{PATH}.
    """

    def setUp(self) -> None:
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(os.path.dirname(here), "README.md")) as f:
            self.text = f.read()
        self.blocks = re.findall(r"```sh\n(.*?)```", self.text, re.S)

    def test_pathSaidFirst(self) -> None:
        """
        Before the first command that calls C{sip2acs} bare, the README says
        to run C{.venv/bin/sip2acs} or activate the virtual environment.
        """
        bare = re.search(r"^sip2acs ", self.text, re.M)
        assert bare is not None
        mention = re.search(r"`sip2acs db", self.text)
        assert mention is not None
        first = min(bare.start(), mention.start())
        self.assertIn("`.venv/bin/sip2acs`", self.text[:first])
        self.assertIn("`. .venv/bin/activate`", self.text[:first])

    def test_clientPasswords(self) -> None:
        """
        Every C{sip2acs client} example logging in has its password: from
        C{--password} or C{SIP2ACS_PASSWORD}, given on its line or exported
        before it in its block.
        """
        examples = 0
        for block in self.blocks:
            exported = False
            for line in block.splitlines():
                if line.startswith("export SIP2ACS_PASSWORD="):
                    exported = True
                if "sip2acs client" in line and "--login" in line:
                    examples += 1
                    self.assertTrue(
                        exported or "SIP2ACS_PASSWORD=" in line or "--password" in line,
                        line,
                    )
        self.assertGreaterEqual(examples, 3)
