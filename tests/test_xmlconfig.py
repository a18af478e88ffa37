"""
Tests for L{sip2acs.config.xml}: Koha's SIPconfig.xml and Evergreen's
oils_sip.xml read as a sip2acs configuration, C{sip2acs config convert},
and C{--config FILE.xml}.

The two files under C{tests/data} are written for these tests in the style
of those projects' examples: C{koha-SIPconfig.xml} (two RAW services,
logins with Koha's per-login options and sub-elements, two institutions)
and C{evergreen-oils_sip.xml} (namespace, C{server-params}, http, telnet
and RAW services, an C{OpenILS::SIP} institution with its policy and
C{implementation_config}).
"""

import io
import os
import sys
import tomllib

from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.app.tap import Options
from sip2acs.config import (
    ConfigError,
    Problem,
    loadConfig,
    model as configModel,
    parseConfig,
    writer,
    xml as xmlconfig,
)
from sip2acs.config.xmlimport import document, report as xmlreport
from sip2acs.passwords import hashPassword, verifyPassword
from sip2acs.tools import cli

HERE = os.path.dirname(os.path.abspath(__file__))
KOHA = os.path.join(HERE, "data", "koha-SIPconfig.xml")
EVERGREEN = os.path.join(HERE, "data", "evergreen-oils_sip.xml")

KOHA_PASSWORDS = {
    "rpl-main-sc1": "Shelf&Stack-42",
    "rpl-main-sc2": 'say "renew"',
    "rpl-east-sorter": "s0rt3r!",
    "rpl-east-selfcheck": "tr3ehouse",
}
EVERGREEN_PASSWORDS = {
    "scclient-br1": "cl1ent-pwd",
    "sorter-br2": "b1n$orter",
    "ebooks": "eb00k-sip",
}

MINIMAL = """\
<acsconfig xmlns="http://openncip.org/acs-config/1.0/">
  <listeners>
    <service port="%(port)s" transport="RAW" protocol="SIP/2.00" timeout="60" client_timeout="600" />
  </listeners>
  <accounts>
    <login id="term1" password="pw" institution="%(login_institution)s" %(login)s/>
  </accounts>
  <institutions>
    <institution id="LIB" implementation="ILS">
      <policy checkin="true" checkout="true" renewal="true" %(policy)s/>
    </institution>
  </institutions>
</acsconfig>
"""  # noqa: E501 (the file as an operator writes it)


def minimal(port="127.0.0.1:6001/tcp", login_institution="LIB", login="", policy=""):
    """
    A small SIPconfig.xml; C{login} and C{policy} add attributes.
    """
    return MINIMAL % dict(
        port=port, login_institution=login_institution, login=login, policy=policy
    )


def loadConverted(path):
    """
    Load a TOML file written by C{config convert}, as L{loadConfig} does.
    """
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return parseConfig(data, path)


def warningsOf(path):
    """
    Load C{path} and return its warnings.
    """
    warnings = []
    loadConfig(path, warnings)
    return warnings


class XMLTestCase(SynchronousTestCase):
    def writeXML(self, text, suffix=".xml"):
        """
        Write C{text} to a new file and return its path.
        """
        path = self.mktemp() + suffix
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def problems(self, text):
        """
        The problems of an XML configuration, and its path.
        """
        path = self.writeXML(text)
        with self.assertRaises(ConfigError) as caught:
            loadConfig(path)
        return caught.exception.problems, path


class KohaTests(XMLTestCase):
    """
    A Koha SIPconfig.xml.
    """

    def setUp(self):
        XMLTestCase.setUp(self)
        self.warnings = []
        self.config = loadConfig(KOHA, self.warnings)

    def test_listeners(self) -> None:
        """
        Each RAW C{<service>} is a raw listener: C{IP:PORT/tcp} becomes a
        TCP endpoint on that interface, C{PORT/tcp} one on 127.0.0.1,
        C{timeout} the login timeout and C{client_timeout} the idle
        timeout (0: never).
        """
        self.assertEqual(
            [
                (l.endpoint, l.transport, l.loginTimeout, l.idleTimeout)
                for l in self.config.listeners
            ],
            [
                ("tcp:6001:interface=127.0.0.1", "raw", 60.0, 600.0),
                ("tcp:6002:interface=127.0.0.1", "raw", 30.0, None),
            ],
        )
        self.assertFalse(self.config.listeners[0].statusBeforeLogin)

    def test_loopbackWarning(self) -> None:
        """
        A port without an address, which SIPServer bound on every address,
        stays on loopback, and a warning says so with the file's line.
        """
        [warning] = [w for w in self.warnings if "6002/tcp" in w]
        self.assertTrue(warning.startswith(KOHA + ":33: "), warning)
        self.assertIn("127.0.0.1 only", warning)
        self.assertIn('port="0.0.0.0:6002/tcp"', warning)

    def test_institutions(self) -> None:
        """
        Each C{<institution>} and its C{<policy>}: flags as written, flags
        left out off (as in Koha), C{timeout} in tenths of a second, and
        the embedded SQLite adapter.
        """
        rpl = self.config.institutions["RPL"]
        self.assertEqual(
            (rpl.checkin, rpl.checkout, rpl.renewal, rpl.statusUpdate, rpl.offline),
            (True, True, True, False, False),
        )
        self.assertEqual((rpl.timeoutPeriod, rpl.retries, rpl.adapter), (10.0, 5, "sqlite"))
        east = self.config.institutions["RPL-EAST"]
        self.assertEqual(
            (east.checkin, east.checkout, east.renewal, east.statusUpdate, east.offline),
            (True, True, False, False, False),
        )
        self.assertEqual((east.timeoutPeriod, east.retries), (2.5, 3))

    def test_accounts(self) -> None:
        """
        Each C{<login>} is an account: encodings under Perl's names map to
        sip2acs's, a login without C{terminator} gets Koha's default CRLF,
        C{location_code} is the location and error detection is C{auto}.
        """
        accounts = self.config.accounts
        self.assertEqual(list(accounts), list(KOHA_PASSWORDS))
        self.assertEqual(
            [(a.institution, a.encoding, a.terminator, a.location) for a in accounts.values()],
            [
                ("RPL", "utf-8", b"\r\n", "MAIN"),
                ("RPL", "ascii", b"\r", "MAIN"),
                ("RPL-EAST", "latin-1", b"\r\n", "EAST"),
                ("RPL-EAST", "cp850", b"\r\n", None),
            ],
        )
        for account in accounts.values():
            self.assertEqual(
                (account.errorDetection, account.delimiter, account.itemList),
                ("auto", "|", "barcode"),
            )

    def test_passwordsHashed(self) -> None:
        """
        Passwords are hashed as the file is read, entities and quotes
        included; the clear text verifies against the hash.
        """
        for login, password in KOHA_PASSWORDS.items():
            stored = self.config.accounts[login].passwordHash
            self.assertTrue(stored.startswith("scrypt$"))
            self.assertNotIn(password, stored)
            self.assertTrue(verifyPassword(password, stored), login)

    def test_notCarriedOver(self) -> None:
        """
        Koha's per-login options are carried over (see
        C{tests.test_xmlconfig_options}); what sip2acs has no equivalent
        for, such as system preference overrides, is listed in one
        warning per login, at its line.
        """
        [selfcheck] = [w for w in self.warnings if 'login "rpl-east-selfcheck"' in w]
        self.assertTrue(selfcheck.startswith(KOHA + ":53: "), selfcheck)
        self.assertIn("not carried over: <syspref_overrides>", selfcheck)
        for login in ("rpl-main-sc1", "rpl-main-sc2", "rpl-east-sorter"):
            self.assertFalse([w for w in self.warnings if 'login "%s"' % (login,) in w])

    def test_serverWarnings(self) -> None:
        """
        Net::Server parameters, the global syspref overrides and each
        institution's C{implementation} are reported as not carried over.
        """
        [params] = [w for w in self.warnings if "server-params" in w]
        self.assertIn("max_servers, min_servers, min_spare_servers, syslog_facility", params)
        self.assertTrue(
            [
                w
                for w in self.warnings
                if w.startswith(KOHA + ":89: ") and "<syspref_overrides>" in w
            ]
        )
        implementations = [w for w in self.warnings if 'implementation "ILS"' in w]
        self.assertEqual(len(implementations), 2)
        self.assertIn('adapter = "sqlite"', implementations[0])

    def test_warningsInLineOrder(self) -> None:
        """
        Warnings come in the order of the file.
        """
        lines = [int(w[len(KOHA) + 1 :].split(":")[0]) for w in self.warnings]
        self.assertEqual(lines, sorted(lines))

    def test_sameConfigWhenReadAgain(self) -> None:
        """
        Reading the file again (as SIGHUP does) gives an equal
        configuration: a password read again gets the same hash.
        """
        self.assertEqual(loadConfig(KOHA, []), self.config)


class EvergreenTests(XMLTestCase):
    """
    An Evergreen oils_sip.xml.
    """

    def setUp(self):
        XMLTestCase.setUp(self)
        self.warnings = []
        self.config = loadConfig(EVERGREEN, self.warnings)

    def test_listeners(self) -> None:
        """
        The http service is skipped with a warning; the telnet and RAW
        services become listeners. C{allow_sc_status_then_login} turns on
        status-before-login, answered, as Evergreen does, with the policy
        of the alphabetically first login's institution.
        """
        self.assertEqual(
            [
                (l.endpoint, l.transport, l.loginTimeout, l.idleTimeout)
                for l in self.config.listeners
            ],
            [
                ("tcp:8023:interface=127.0.0.1", "telnet", 60.0, 600.0),
                ("tcp:6001:interface=127.0.0.1", "raw", 45.0, 600.0),
            ],
        )
        raw = self.config.listeners[1]
        self.assertEqual((raw.statusBeforeLogin, raw.institution), (True, "NORTHCONS-EBOOK"))
        [http] = [w for w in self.warnings if "0:8080/tcp" in w]
        self.assertTrue(http.startswith(EVERGREEN + ":13: "), http)
        self.assertIn("skipped", http)
        idle = [w for w in self.warnings if "no client_timeout" in w]
        self.assertEqual(len(idle), 2)

    def test_policy(self) -> None:
        """
        The policy's C{timeout="600"} is 600 tenths of a second: 60
        seconds. C{implementation_config} gives the currency.
        """
        cons = self.config.institutions["NORTHCONS"]
        self.assertEqual(
            (cons.checkin, cons.checkout, cons.renewal, cons.statusUpdate, cons.offline),
            (True, True, True, False, False),
        )
        self.assertEqual((cons.timeoutPeriod, cons.retries, cons.currency), (60.0, 3, "CAD"))
        ebook = self.config.institutions["NORTHCONS-EBOOK"]
        self.assertEqual(
            (ebook.checkin, ebook.checkout, ebook.timeoutPeriod, ebook.retries, ebook.currency),
            (False, True, 30.0, 2, None),
        )
        # No currency: the circulation system's, else USD (see currencyOf).

    def test_accounts(self) -> None:
        """
        Encoding follows Evergreen's order (the login's, the institution's
        C{<encoding>}, then C{implementation_config}'s, then ascii);
        answers end in CR as Evergreen's did; C{msg64_summary_datatype}
        gives barcodes in 64, and OpenILS::SIP's default is titles.
        """
        accounts = self.config.accounts
        self.assertEqual(
            [
                (a.login, a.institution, a.encoding, a.terminator, a.location, a.itemList)
                for a in accounts.values()
            ],
            [
                ("scclient-br1", "NORTHCONS", "utf-8", b"\r", "BR1", "barcode"),
                ("sorter-br2", "NORTHCONS", "utf-8", b"\r", "BR2", "barcode"),
                ("ebooks", "NORTHCONS-EBOOK", "ascii", b"\r", None, "title"),
            ],
        )
        for login, password in EVERGREEN_PASSWORDS.items():
            self.assertTrue(verifyPassword(password, accounts[login].passwordHash))

    def test_notCarriedOver(self) -> None:
        """
        Evergreen's login attributes, policy attributes and
        C{implementation_config} entries sip2acs has no use for are listed.
        """
        text = "\n".join(self.warnings)
        for name in [
            "patron_status_always_permit_loans",
            "policy client_location_code",
            "<bootstrap>",
            "<supports>",
            "<checkin_override>",
            'implementation "OpenILS::SIP"',
            "max_servers",
        ]:
            self.assertIn(name, text)
        for name in ("msg64_summary_datatype", "<currency>", "av_format", "patron_type_uses_code"):
            self.assertNotIn(name, text)

    def test_telnetUnsupported(self) -> None:
        """
        Where sip2acs has no telnet transport, a telnet C{<service>} is a
        problem naming the transport, at its line, not a crash.
        """
        self.patch(configModel, "TRANSPORTS", ("raw",))
        with self.assertRaises(ConfigError) as caught:
            loadConfig(EVERGREEN)
        [problem] = caught.exception.problems
        self.assertTrue(problem.startswith(EVERGREEN + ':18: service "8023/tcp": transport: '))
        self.assertIn("telnet is not supported by this sip2acs", problem)


class ReadingTests(XMLTestCase):
    """
    Dialect details, dispatch and located problems.
    """

    def test_withoutNamespace(self) -> None:
        """
        A file without the acs-config namespace reads the same.
        """
        text = minimal().replace(' xmlns="http://openncip.org/acs-config/1.0/"', "")
        self.assertNotIn("xmlns", text)
        path = self.writeXML(text)
        self.assertEqual(loadConfig(path, []), loadConfig(self.writeXML(minimal()), []))

    def test_otherNamespace(self) -> None:
        """
        Another namespace is read too, with a warning.
        """
        path = self.writeXML(minimal().replace("openncip.org", "example.org"))
        [warning] = [w for w in warningsOf(path) if "namespace" in w]
        self.assertIn("http://example.org/acs-config/1.0/", warning)

    def test_addresses(self) -> None:
        """
        Net::Server's address forms: C{*} and C{0} are every address,
        C{[::1]} an IPv6 one (colons escaped for the endpoint), C{localhost}
        loopback; C{/TCP} is read as tcp.
        """
        for port, endpoint in [
            ("*:6001/tcp", "tcp:6001:interface=0.0.0.0"),
            ("0:6001/tcp", "tcp:6001:interface=0.0.0.0"),
            ("0.0.0.0:6001/TCP", "tcp:6001:interface=0.0.0.0"),
            ("10.0.4.2:6001/tcp", "tcp:6001:interface=10.0.4.2"),
            ("[::1]:6001/tcp", "tcp:6001:interface=\\:\\:1"),
            ("localhost:6001", "tcp:6001:interface=127.0.0.1"),
        ]:
            path = self.writeXML(minimal(port=port))
            self.assertEqual(loadConfig(path, []).listeners[0].endpoint, endpoint, port)

    def test_badPort(self) -> None:
        """
        A port that is not C{[ADDRESS:]PORT/tcp}, is out of range or is
        not TCP is a problem at the service's line.
        """
        for port, text in [
            ("6001/udp", "port: udp is not supported, only tcp"),
            ("127.0.0.1:99999/tcp", "port: 99999 is not a TCP port (1-65535)"),
            ("sip-port", "port: 'sip-port' is not [ADDRESS:]PORT/tcp"),
            ("[not:an:address]:6001/tcp", "port: 'not:an:address' is not an address"),
            ("my host:6001/tcp", "port: 'my host' is not an address"),
        ]:
            problems, path = self.problems(minimal(port=port))
            self.assertEqual(len(problems), 1, problems)
            self.assertTrue(
                problems[0].startswith('%s:3: service "%s": %s' % (path, port, text)), problems
            )

    def test_missingInstitution(self) -> None:
        """
        A login naming an institution that is not configured is a problem
        at the login's line, in the XML's terms.
        """
        problems, path = self.problems(minimal(login_institution="NOPE"))
        self.assertEqual(
            problems,
            [
                "%s:6: login \"term1\": institution: 'NOPE' is not a configured institution"
                % (path,)
            ],
        )

    def test_unknownEncoding(self) -> None:
        """
        An encoding sip2acs cannot send is a problem naming those it can.
        """
        problems, path = self.problems(minimal(login='encoding="koi8-r" '))
        self.assertEqual(len(problems), 1)
        self.assertTrue(
            problems[0].startswith(
                "%s:6: login \"term1\": encoding: 'koi8-r' is not one sip2acs can send (" % (path,)
            ),
            problems,
        )
        self.assertIn("cp850", problems[0])

    def test_encodingNames(self) -> None:
        """
        Perl's spellings of the four encodings are understood.
        """
        for name, expected in [
            ("UTF-8", "utf-8"),
            ("utf8", "utf-8"),
            ("US-ASCII", "ascii"),
            ("iso-8859-1", "latin-1"),
            ("latin1", "latin-1"),
            ("cp850", "cp850"),
            ("IBM850", "cp850"),
        ]:
            path = self.writeXML(minimal(login='encoding="%s" ' % (name,)))
            self.assertEqual(loadConfig(path, []).accounts["term1"].encoding, expected, name)

    def test_everyProblemAtOnce(self) -> None:
        """
        Every problem of a file is reported at once, in line order, each
        at its line.
        """
        problems, path = self.problems(
            minimal(
                port="6001/udp",
                login='terminator="LF" delimiter="ab" ',
                policy='timeout="1200" offline="perhaps"',
            )
        )
        self.assertEqual(
            problems,
            [
                '%s:3: service "6001/udp": port: udp is not supported, only tcp' % (path,),
                "%s:6: login \"term1\": terminator: 'LF' is not CR or CRLF" % (path,),
                '%s:6: login "term1": delimiter: must be one punctuation character, like |'
                % (path,),
                "%s:10: institution \"LIB\": policy offline: 'perhaps' is not true or false"
                % (path,),
                "%s:10: institution \"LIB\": policy timeout: '1200' is not 0-999 tenths of a second"
                % (path,),
            ],
        )

    def test_duplicateLogin(self) -> None:
        """
        A login defined twice is a problem at the second one.
        """
        text = minimal().replace(
            "  </accounts>",
            '    <login id="term1" password="pw" institution="LIB" />\n  </accounts>',
        )
        problems, path = self.problems(text)
        self.assertEqual(
            problems, ["%s:7: login \"term1\": id: 'term1' is defined twice" % (path,)]
        )

    def test_missingAttributes(self) -> None:
        """
        A service without port or transport and a login without id or
        password are problems, each reported once.
        """
        text = minimal().replace(
            'port="127.0.0.1:6001/tcp" transport="RAW"', ""
        ).replace('id="term1" password="pw"', "")
        problems, path = self.problems(text)
        self.assertEqual(
            problems,
            [
                "%s:3: service: port: is required, like 127.0.0.1:6001/tcp" % (path,),
                "%s:3: service: transport: is required: RAW or telnet" % (path,),
                "%s:6: login: id: is required" % (path,),
                "%s:6: login: password: is required and must not be empty" % (path,),
            ],
        )

    def test_nothingToListenOn(self) -> None:
        """
        A file whose only service is http has nothing sip2acs can serve.
        """
        text = minimal().replace('transport="RAW"', 'transport="http"')
        problems, path = self.problems(text)
        self.assertEqual(
            problems, ["%s: <listeners>: no RAW or telnet <service> to listen on" % (path,)]
        )

    def test_notWellFormed(self) -> None:
        """
        XML that does not parse is a problem at the line expat stopped on.
        """
        problems, path = self.problems(minimal().replace("</accounts>", "</acounts>"))
        self.assertEqual(len(problems), 1)
        self.assertTrue(
            problems[0].startswith("%s:7: is not well-formed XML: mismatched tag" % (path,)),
            problems,
        )

    def test_notACSConfig(self) -> None:
        """
        An XML document that is not an C{<acsconfig>} is refused.
        """
        problems, path = self.problems("<yazgfs><server/></yazgfs>\n")
        self.assertEqual(
            problems,
            [
                "%s:1: is not a SIPconfig.xml or oils_sip.xml: its root element is <yazgfs>, "
                "not <acsconfig>" % (path,)
            ],
        )

    def test_hashedPasswordKept(self) -> None:
        """
        A password that already is a sip2acs hash is kept as it is.
        """
        stored = hashPassword("pw", cost=4)
        path = self.writeXML(minimal().replace('password="pw"', 'password="%s"' % (stored,)))
        self.assertEqual(loadConfig(path, []).accounts["term1"].passwordHash, stored)

    def test_globalDelimiterAndTimeout(self) -> None:
        """
        The C{<acsconfig>} C{delimiter} is every login's, unless a login
        has its own; a service's C{timeout="0"} falls back on the global
        C{timeout}, as in Koha.
        """
        text = minimal(login='delimiter="^" ').replace(
            '<acsconfig xmlns="http://openncip.org/acs-config/1.0/">',
            '<acsconfig xmlns="http://openncip.org/acs-config/1.0/" delimiter="~" timeout="20">',
        ).replace('timeout="60"', 'timeout="0"')
        text = text.replace(
            "  </accounts>",
            '    <login id="term2" password="pw" institution="LIB" />\n  </accounts>',
        )
        loaded = loadConfig(self.writeXML(text), [])
        self.assertEqual(loaded.accounts["term1"].delimiter, "^")
        self.assertEqual(loaded.accounts["term2"].delimiter, "~")
        self.assertEqual(loaded.listeners[0].loginTimeout, 20.0)

    def test_noPolicy(self) -> None:
        """
        An institution without C{<policy>} has every flag off, as in Koha
        and Evergreen, and a warning says so.
        """
        text = minimal().replace('<policy checkin="true" checkout="true" renewal="true" />', "")
        self.assertNotIn("<policy", text)
        path = self.writeXML(text)
        warnings = []
        institution = loadConfig(path, warnings).institutions["LIB"]
        self.assertEqual(
            (institution.checkin, institution.checkout, institution.renewal), (False, False, False)
        )
        self.assertTrue([w for w in warnings if "has no <policy>" in w])

    def test_dispatch(self) -> None:
        """
        L{loadConfig} reads a file as XML when its name ends in C{.xml} or
        its text starts with C{<}; anything else is TOML.
        """
        self.assertTrue(xmlconfig.looksLikeXML("SIPconfig.xml", b""))
        self.assertTrue(
            xmlconfig.looksLikeXML("sip.conf", b'\xef\xbb\xbf\n  <?xml version="1.0"?>')
        )
        self.assertFalse(xmlconfig.looksLikeXML("sip2acs.toml", b"# <listener>\n"))
        path = self.writeXML(minimal(), suffix=".conf")
        self.assertEqual(loadConfig(path, []).institutions["LIB"].timeoutPeriod, 60.0)
        toml = self.writeXML('[[listener]]\nendpoint = "tcp:0"\n', suffix=".conf")
        with self.assertRaises(ConfigError) as caught:
            loadConfig(toml)
        self.assertIn("institution: at least one [[institution]] is needed", str(caught.exception))

    def test_warningsLogged(self) -> None:
        """
        Without a list to collect them, L{loadConfig} logs an XML file's
        warnings (so C{twistd} and SIGHUP reloads show them).
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        loadConfig(KOHA)
        logged = [e for e in events if "configWarning" in e]
        self.assertEqual([e["configWarning"] for e in logged], warningsOf(KOHA))
        self.assertEqual({e["log_level"].name for e in logged}, {"warn"})


class TOMLTests(XMLTestCase):
    """
    L{xmlconfig.toTOML}: the TOML written by C{sip2acs config convert}.
    """

    def convert(self, path):
        conversion = xmlconfig.convertXML(path)
        text = xmlconfig.toTOML(conversion)
        toml = self.mktemp() + ".toml"
        with open(toml, "w", encoding="utf-8") as f:
            f.write(text)
        return conversion, text, toml

    def test_roundTrip(self) -> None:
        """
        The TOML loads back to a configuration equal to the XML file's.
        """
        for path in (KOHA, EVERGREEN):
            conversion, text, toml = self.convert(path)
            self.assertEqual(loadConverted(toml), conversion.config, path)
            self.assertEqual(loadConverted(toml), loadConfig(path, []), path)

    def test_noClearPasswords(self) -> None:
        """
        No password of the XML file is in the TOML, in any spelling; every
        account has a hash.
        """
        for path, passwords in ((KOHA, KOHA_PASSWORDS), (EVERGREEN, EVERGREEN_PASSWORDS)):
            conversion, text, toml = self.convert(path)
            for password in passwords.values():
                for spelling in (password, xmlconfig.tomlString(password)[1:-1]):
                    self.assertNotIn(spelling, text)
            self.assertEqual(text.count('password = "scrypt$'), len(passwords))

    def test_warningsAtTheTop(self) -> None:
        """
        The warnings are comments above the first table.
        """
        conversion, text, toml = self.convert(KOHA)
        head = text.split("[[", 1)[0]
        self.assertTrue(conversion.warnings)
        for warning in conversion.warnings:
            self.assertIn("# - " + warning, head)

    def test_comments(self) -> None:
        """
        Tables say where they came from and how derived values were
        derived.
        """
        conversion, text, toml = self.convert(EVERGREEN)
        self.assertIn('# evergreen-oils_sip.xml:44: <institution> "NORTHCONS"', text)
        self.assertIn(
            'timeout-period = 60.0  # policy timeout="600" (tenths of a second)', text
        )
        self.assertIn(
            'terminator = "CR"  # Evergreen always ended answers with CR', text
        )

    def test_escaping(self) -> None:
        """
        Strings with quotes, backslashes, control and non-ASCII characters
        are escaped so that they read back the same.
        """
        login = 'caf\u00e9 "desk"\\\t2'
        text = minimal().replace('id="term1"', 'id="caf\u00e9 &quot;desk&quot;\\&#9;2"')
        conversion, text, toml = self.convert(self.writeXML(text))
        self.assertIn(login, conversion.config.accounts)
        self.assertEqual(loadConfig(toml), conversion.config)
        self.assertEqual(
            xmlconfig.tomlString('a"b\\c\nd\x01\x7f'), '"a\\"b\\\\c\\nd\\u0001\\u007F"'
        )

    def test_values(self) -> None:
        """
        L{xmlconfig.tomlValue} writes booleans, integers, floats, arrays
        and inline tables as TOML reads them back.
        """
        value = {"a b": [True, 3, 2.5, 1e-05], "c": {"d": "e"}}
        line = "x = " + xmlconfig.tomlValue(value)
        self.assertEqual(tomllib.loads(line), {"x": value})
        self.assertRaises(ValueError, xmlconfig.tomlValue, float("nan"))
        self.assertRaises(TypeError, xmlconfig.tomlValue, None)


class CommandTests(XMLTestCase):
    """
    C{sip2acs config convert} and C{sip2acs config check} on XML files.
    """

    def command(self, *argv):
        """
        Run the C{sip2acs} command; return its exit status, standard
        output and standard error.
        """
        out, err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", out)
        self.patch(sys, "stderr", err)
        status = cli.main(list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_convertToFile(self) -> None:
        """
        C{convert -o} writes a TOML file that loads to the same
        configuration, and lists the warnings on standard error.
        """
        output = self.mktemp() + ".toml"
        status, out, err = self.command("config", "convert", KOHA, "-o", output)
        self.assertEqual(status, 0)
        self.assertEqual(out, "")
        self.assertEqual(loadConverted(output), loadConfig(KOHA, []))
        warnings = warningsOf(KOHA)
        self.assertEqual(err.count("warning: "), len(warnings))
        self.assertIn(
            "wrote %s: 2 listener(s), 2 institution(s), 4 account(s); %d warning(s), also at "
            "the top of the file" % (output, len(warnings)),
            err,
        )
        with open(output, encoding="utf-8") as f:
            text = f.read()
        for password in KOHA_PASSWORDS.values():
            self.assertNotIn(password, text)

    def test_convertToStandardOutput(self) -> None:
        """
        Without C{-o} the TOML goes to standard output.
        """
        status, out, err = self.command("config", "convert", EVERGREEN)
        self.assertEqual(status, 0)
        data = tomllib.loads(out)
        self.assertEqual(parseConfig(data), loadConfig(EVERGREEN, []))
        self.assertIn("warning: %s:13: " % (EVERGREEN,), err)

    def test_convertProblems(self) -> None:
        """
        A file with problems is not converted: the located problems go to
        standard error, the status is 1 and no file is written.
        """
        path = self.writeXML(minimal(login_institution="NOPE"))
        output = self.mktemp()
        status, out, err = self.command("config", "convert", path, "-o", output)
        self.assertEqual(status, 1)
        self.assertIn("%s:6: login \"term1\": institution: 'NOPE'" % (path,), err)
        self.assertFalse(os.path.exists(output))

    def test_convertTOML(self) -> None:
        """
        A TOML file needs no conversion.
        """
        path = self.writeXML('[[listener]]\nendpoint = "tcp:0"\n', suffix=".toml")
        status, out, err = self.command("config", "convert", path)
        self.assertEqual(status, 1)
        self.assertIn("needs no conversion", err)

    def test_convertOverItself(self) -> None:
        """
        C{-o} naming the XML file itself is refused.
        """
        path = self.writeXML(minimal())
        status, out, err = self.command("config", "convert", path, "-o", path)
        self.assertEqual(status, 1)
        self.assertIn("will not write over the file being converted", err)
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), minimal())

    def test_convertMissingFile(self) -> None:
        """
        A file that cannot be read is reported with status 1.
        """
        status, out, err = self.command("config", "convert", "no-such-SIPconfig.xml")
        self.assertEqual(status, 1)
        self.assertIn("cannot read it", err)

    def test_checkXML(self) -> None:
        """
        C{config check} reads an XML file, says it is ok and prints its
        warnings on standard error.
        """
        status, out, err = self.command("config", "check", KOHA)
        self.assertEqual(status, 0)
        self.assertEqual(
            out, "%s: ok (2 listener(s), 2 institution(s), 4 account(s))\n" % (KOHA,)
        )
        self.assertEqual(
            err, "".join("warning: %s\n" % (w,) for w in warningsOf(KOHA))
        )

    def test_checkXMLProblems(self) -> None:
        """
        C{config check} of an XML file with problems lists them, status 1.
        """
        path = self.writeXML(minimal(login='encoding="ebcdic" '))
        status, out, err = self.command("config", "check", path)
        self.assertEqual(status, 1)
        self.assertIn("%s has 1 problem(s):" % (path,), err)
        self.assertIn("%s:6: login \"term1\": encoding: 'ebcdic'" % (path,), err)


class TwistdOptionsTests(XMLTestCase):
    """
    C{twistd sip2acs --config FILE.xml}.
    """

    def test_configXML(self) -> None:
        """
        C{--config} takes a SIPconfig.xml.
        """
        options = Options()
        options.parseOptions(["--config", EVERGREEN])
        self.assertEqual(options["parsedConfig"], loadConfig(EVERGREEN, []))

    def test_badConfigXML(self) -> None:
        """
        An XML file with problems stops option parsing with the located
        problems.
        """
        path = self.writeXML(minimal(port="6001/udp"))
        with self.assertRaises(SystemExit) as caught:
            Options().parseOptions(["--config", path])
        self.assertIn('%s:3: service "6001/udp": port:' % (path,), str(caught.exception))


class WriterTests(SynchronousTestCase):
    """
    L{sip2acs.config.writer} writes any L{writer.Converted}, not only an
    XML conversion, and its names stay importable from
    L{sip2acs.config.xml}.
    """

    def test_anyConverted(self) -> None:
        """
        A plain object with the four attributes of L{writer.Converted} is
        written as commented TOML that reads back to its data.
        """

        class Converted:
            source = "/etc/other.conf"
            data = {
                "listener": [{"endpoint": "tcp:6001", "idle-timeout": 60.0}],
                "institution": [],
                "account": [],
            }
            warnings = ("other.conf:3: not carried over: x",)
            notes = {("listener", 0): ("other.conf:2: <service>", {"endpoint": "port 6001"})}

        text = writer.toTOML(Converted())
        self.assertIn("converted from other.conf", text)
        self.assertIn("# - other.conf:3: not carried over: x", text)
        self.assertIn('endpoint = "tcp:6001"  # port 6001', text)
        self.assertEqual(tomllib.loads(text), {"listener": Converted.data["listener"]})

    def test_reExported(self) -> None:
        """
        The writer's names are importable from L{sip2acs.config.xml}.
        """
        for name in ("toTOML", "tomlString", "tomlValue", "tomlKey"):
            self.assertIs(getattr(xmlconfig, name), getattr(writer, name), name)


class PublicNamesTests(SynchronousTestCase):
    """
    L{sip2acs.config.xml} stays the public face of the XML import, whose
    parts live in L{sip2acs.config.xmlimport}.
    """

    def test_publicNames(self) -> None:
        """
        The names it has always exported import from it, and every name of
        its C{__all__} is there.
        """
        from sip2acs.config.xml import (  # noqa: F401 (importable is the test)
            NAMESPACE,
            Conversion,
            convertFile,
            convertXML,
            loadXMLConfig,
            looksLikeXML,
            tomlKey,
            tomlString,
            tomlValue,
            toTOML,
        )

        for name in xmlconfig.__all__:
            self.assertTrue(hasattr(xmlconfig, name), name)

    def test_namespace(self) -> None:
        """
        L{sip2acs.config.xml.NAMESPACE} is the one the document walker
        reads.
        """
        self.assertEqual(xmlconfig.NAMESPACE, "http://openncip.org/acs-config/1.0/")
        self.assertIs(xmlconfig.NAMESPACE, document.NAMESPACE)


class ReportTests(SynchronousTestCase):
    """
    L{xmlreport.Report} keeps the tables read and the problems, warnings
    and notes, each located in the file.
    """

    def setUp(self) -> None:
        root, lines = document.parse(
            "s.xml", b'<acsconfig>\n  <listeners>\n    <service port="1/tcp"/>'
            b"\n  </listeners>\n</acsconfig>"
        )
        self.service = root[0][0]
        self.report = xmlreport.Report("s.xml", lines)

    def test_located(self) -> None:
        """
        Problems and warnings start with the file and the element's line;
        a problem about a table's key is remembered as reported, and its
        kind as troubled.
        """
        table = self.report.nextTable("listener")
        self.report.problem(self.service, 'service "1/tcp"', "port: bad", table, "endpoint")
        self.report.warn(self.service, None, "careful")
        self.assertEqual(self.report.problems, [(3, 's.xml:3: service "1/tcp": port: bad')])
        self.assertEqual(self.report.warnings, [(3, "s.xml:3: careful")])
        self.assertEqual(self.report.reported, {("listener", 0, "endpoint")})
        self.assertEqual(self.report.troubled, {"listener"})

    def test_tables(self) -> None:
        """
        L{xmlreport.Report.nextTable} is the key of the table that
        L{xmlreport.Report.add} keeps next, with its origin.
        """
        self.assertEqual(self.report.nextTable("listener"), ("listener", 0))
        self.report.add("listener", self.service, "service", {"transport": "raw"})
        self.assertEqual(self.report.nextTable("listener"), ("listener", 1))
        self.assertEqual(self.report.data["listener"], [{"transport": "raw"}])
        self.assertEqual(self.report.origins["listener"], [(self.service, "service")])

    def test_valueOf(self) -> None:
        """
        L{xmlreport.Report.valueOf} converts a value, or reports what it
        should have been.
        """
        table = self.report.nextTable("listener")
        read = self.report.valueOf(
            self.service, "service", table, "idle-timeout", "client_timeout", "60",
            xmlreport.asNumber, "a number of seconds",
        )
        self.assertEqual((read, self.report.problems), (60.0, []))
        read = self.report.valueOf(
            self.service, "service", table, "idle-timeout", "client_timeout", "soon",
            xmlreport.asNumber, "a number of seconds",
        )
        self.assertIsNone(read)
        self.assertEqual(
            self.report.problems,
            [(3, "s.xml:3: service: client_timeout: 'soon' is not a number of seconds")],
        )
        self.assertEqual(self.report.reported, {("listener", 0, "idle-timeout")})

    def test_notCarried(self) -> None:
        """
        L{xmlreport.Report.notCarried} warns once of each name, in order,
        and not at all when there are none.
        """
        self.report.notCarried(self.service, "service", [])
        self.report.notCarried(self.service, "service", ["b", "a", "b"], " (why)")
        self.assertEqual(
            self.report.warnings, [(3, "s.xml:3: service: not carried over: b, a (why)")]
        )

    def test_values(self) -> None:
        """
        Koha and Evergreen booleans and numbers.
        """
        self.assertEqual(
            [xmlreport.asBoolean(v) for v in ("Enabled", " 1 ", "0", "", "off", "maybe")],
            [True, True, False, False, False, None],
        )
        self.assertEqual(
            [xmlreport.asNumber(v) for v in ("30", " 2.5", "-1", "inf", "x")],
            [30.0, 2.5, None, None, None],
        )
        self.assertTrue(xmlreport.isDigits("600"))
        self.assertFalse(xmlreport.isDigits("6.0"))
        self.assertEqual(xmlreport.local("{%s}service" % (xmlconfig.NAMESPACE,)), "service")

    def test_translateTable(self) -> None:
        """
        L{document.translate} places a problem of a table at the element
        it was read from, naming the key as the XML did; one already
        reported while reading is not repeated.
        """
        self.report.add("listener", self.service, 'service "1/tcp"', {})
        self.assertEqual(
            document.translate(
                self.report, Problem("listener", 0, "login-timeout", "must be a float")
            ),
            (3, 's.xml:3: service "1/tcp": timeout: must be a float'),
        )
        self.assertEqual(
            document.translate(self.report, Problem("listener", 0, "max-frame", "too big")),
            (3, 's.xml:3: service "1/tcp": max-frame: too big'),
        )
        self.report.problem(
            self.service, 'service "1/tcp"', "port: bad", ("listener", 0), "endpoint"
        )
        self.assertIsNone(
            document.translate(self.report, Problem("listener", 0, "endpoint", "required"))
        )

    def test_translateSection(self) -> None:
        """
        A missing kind of table is said in the XML's terms, unless a
        problem of that kind was already reported; other problems keep
        their text, at the file.
        """
        none = Problem("listener", None, None, "at least one [[listener]] is needed")
        self.assertEqual(
            document.translate(self.report, none),
            (0, "s.xml: <listeners>: no RAW or telnet <service> to listen on"),
        )
        self.assertEqual(
            document.translate(self.report, Problem("admin", None, "endpoint", "taken")),
            (0, "s.xml: admin.endpoint: taken"),
        )
        self.report.problem(self.service, 'service "1/tcp"', "port: bad")
        self.assertIsNone(document.translate(self.report, none))
