"""
Tests for the per-account behaviour options of Koha's SIPconfig.xml and
Evergreen's oils_sip.xml carried over by the XML import
(L{sip2acs.config.xmlimport.options}), the Template Toolkit translation
(L{sip2acs.config.xmlimport.toolkit}) and C{config convert --upstream}.

C{tests/data/koha-SIPconfig-full.xml} and
C{tests/data/evergreen-oils_sip-full.xml} are written for these tests with
every option sip2acs carries over, and a few it truly has no equivalent
for.
"""

import os
import re
import tomllib
from decimal import Decimal

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs import templates
from sip2acs.config import loadConfig, parseConfig, xml as xmlconfig
from sip2acs.config.xmlimport.options import EG_LEGACY_TEMPLATE, readRegex
from sip2acs.config.xmlimport.toolkit import Untranslatable, translateToolkit
from sip2acs.ils import values
from tests import test_xmlconfig

HERE = os.path.dirname(os.path.abspath(__file__))
KOHA = os.path.join(HERE, "data", "koha-SIPconfig-full.xml")
EVERGREEN = os.path.join(HERE, "data", "evergreen-oils_sip-full.xml")
UPSTREAM = "tcp:host=127.0.0.1:port=6101"

SMALL = """\
<acsconfig xmlns="http://openncip.org/acs-config/1.0/">
  <listeners>
    <service port="127.0.0.1:6001/tcp" transport="RAW" timeout="60" client_timeout="600" />
  </listeners>
  <accounts>
    <login id="term1" password="pw" institution="LIB" %(attributes)s>%(children)s</login>
  </accounts>
  <institutions>
    <institution id="LIB" implementation="%(implementation)s">
      <policy checkin="true" checkout="true" renewal="true" />%(config)s
    </institution>
  </institutions>
</acsconfig>
"""


def tablesOf(conversion):
    """
    The institution and account tables of a conversion, by id and login.
    """
    return (
        {t["id"]: t for t in conversion.data["institution"]},
        {t["login"]: t for t in conversion.data["account"]},
    )


def unlocated(warnings, path):
    """
    The warnings without their C{PATH:LINE: } prefix.
    """
    return [w.split(": ", 1)[1] for w in warnings if w.startswith(path + ":")]


class ToolkitTests(SynchronousTestCase):
    """
    L{translateToolkit}: Koha's Template Toolkit field templates as Jinja.
    """

    def render(self, template, **context):
        return templates.compileTemplate(template).render(**context)

    def test_values(self) -> None:
        """
        C{[% patron.X %]} is C{{{ patron.Y }}}, Koha's column names mapped
        to sip2acs's context; literal text stays.
        """
        self.assertEqual(
            translateToolkit("Card [% patron.cardnumber %] expires [% patron.dateexpiry %]."),
            "Card {{ patron.id }} expires {{ patron.expires }}.",
        )
        self.assertEqual(
            translateToolkit("[% GET patron.category.description %]"),
            "{{ patron.patron_class }}",
        )

    def test_koha(self) -> None:
        """
        Koha's own examples of C{ae_field_template} and
        C{av_field_template} translate, and render as Koha renders them.
        """
        ae = translateToolkit(
            "[% patron.surname %][% IF patron.firstname %], [% patron.firstname %][% END %]"
        )
        self.assertEqual(
            ae,
            "{{ patron.surname }}{% if patron.firstname %}, {{ patron.firstname }}{% endif %}",
        )
        av = translateToolkit(
            "[% accountline.description %] [% accountline.amountoutstanding | format('%.2f') %]"
        )
        self.assertEqual(av, '{{ fee.title }} {{ "%.2f" | format(fee.amount) }}')
        self.assertEqual(self.render(ae, patron={"surname": "Doe", "firstname": "Jo"}), "Doe, Jo")
        self.assertEqual(self.render(ae, patron={"surname": "Doe"}), "Doe")
        self.assertEqual(self.render(av, fee={"title": "Dune", "amount": 2.5}), "Dune 2.50")

    def test_conditions(self) -> None:
        """
        IF, UNLESS, ELSIF and ELSE with comparisons, AND, OR, NOT, quoted
        strings and the chomp markers.
        """
        template = translateToolkit(
            "[%- IF patron.categorycode == 'ST' AND NOT patron.email -%]student"
            "[% ELSIF patron.categorycode != \"AD\" || patron.phone %]other"
            "[% ELSE %]adult[% END %][% UNLESS patron.email %]!"
            "[% END %]"
        )
        self.assertEqual(
            template,
            '{%- if patron.patron_class_code == "ST" and not patron.email -%}student'
            '{% elif patron.patron_class_code != "AD" or patron.phone %}other'
            "{% else %}adult{% endif %}{% if not (patron.email) %}!{% endif %}",
        )
        self.assertEqual(self.render(template, patron={"patron_class_code": "ST"}), "student!")
        self.assertEqual(
            self.render(template, patron={"patron_class_code": "AD", "email": "a@b"}), "adult"
        )

    def test_filters(self) -> None:
        """
        C{upper}, C{lower}, C{trim} and C{format}, chained in order.
        """
        template = translateToolkit("[% patron.surname | trim | upper | format('%-6s') %]]")
        self.assertEqual(template, '{{ "%-6s" | format(((patron.surname | trim) | upper)) }}]')
        self.assertEqual(self.render(template, patron={"surname": " doe "}), "DOE   ]")

    def test_items(self) -> None:
        """
        Koha's item columns map to the item context where it has them;
        any other is one of the item's fields.
        """
        self.assertEqual(
            translateToolkit("[% item.itemcallnumber %]/[% item.itemnumber %]", {"item": "item"}),
            "{{ item.call_number }}/{{ item.fields.itemnumber }}",
        )

    def test_literalDelimiters(self) -> None:
        """
        Literal text holding Jinja's own delimiters is quoted.
        """
        template = translateToolkit("{{x}} [% patron.surname %]")
        self.assertEqual(template, '{{ "{{x}} " }}{{ patron.surname }}')
        self.assertEqual(self.render(template, patron={"surname": "Doe"}), "{{x}} Doe")

    def test_comments(self) -> None:
        """
        Template Toolkit comments are dropped.
        """
        self.assertEqual(translateToolkit("a[%# the name %]b"), "ab")

    def test_untranslatable(self) -> None:
        """
        What is not one of the common forms raises L{Untranslatable}
        saying what, rather than giving half a template.
        """
        for template, reason in [
            ("[% FOREACH a IN patron.attributes %]x[% END %]", "FOREACH"),
            ("[% SET x = 1 %]", "SET"),
            ("[% patron.borrowernumber %]", "patron.borrowernumber has no equivalent"),
            ("[% accountline.amount %]", "accountline.amount has no equivalent"),
            ("[% patron.extended_attributes.count() %]", "call"),
            ("[% biblio.title %]", "biblio.title is not a value"),
            ("[% IF patron.email %]x", "IF has no END"),
            ("x[% END %]", "END without IF"),
            ("[% patron.surname | html %]", "filter html"),
            ('[% "Hi $name" %]', "$variables"),
            ("[% patron.surname %", "unclosed"),
            ("[% patron.surname; patron.firstname %]", "several directives"),
        ]:
            with self.assertRaises(Untranslatable) as caught:
                translateToolkit(template)
            self.assertIn(reason, str(caught.exception), template)

    def test_roots(self) -> None:
        """
        A template may use only the values Koha gives it: an
        C{ae_field_template} has no C{accountline}.
        """
        with self.assertRaises(Untranslatable):
            translateToolkit("[% accountline.description %]", {"patron": "patron"})


class RegexTests(SynchronousTestCase):
    """
    L{readRegex}: Koha's Perl C{<screen_msg_regex find>} as Python's.
    """

    def test_same(self) -> None:
        """
        The common forms are the same in both.
        """
        self.assertEqual(readRegex(r"^Greetings from Koha\.$"), r"^Greetings from Koha\.$")

    def test_differences(self) -> None:
        """
        Perl's C{(?<name>...)} and C{\\z} become Python's; lookbehinds stay.
        """
        self.assertEqual(readRegex(r"(?<word>\w+)\z"), r"(?P<word>\w+)\Z")
        self.assertEqual(readRegex(r"(?<=a)b(?<!c)"), r"(?<=a)b(?<!c)")

    def test_unreadable(self) -> None:
        """
        A pattern Python cannot compile raises.
        """
        with self.assertRaises(re.error):
            readRegex("(unclosed")


class KohaFullTests(SynchronousTestCase):
    """
    C{koha-SIPconfig-full.xml}: every per-login option Koha has that
    sip2acs carries over.
    """

    def setUp(self):
        self.conversion = xmlconfig.convertXML(KOHA)
        self.institutions, self.accounts = tablesOf(self.conversion)

    def test_onlyTheUnsupportedWarned(self) -> None:
        """
        Nothing but what sip2acs truly has no equivalent for is warned of:
        Net::Server's settings, system preference overrides, and the
        embedded database that starts empty; and C{format_due_date},
        carried over with the date format to check.
        """
        warnings = unlocated(self.conversion.warnings, KOHA)
        self.assertEqual(len(warnings), 6, warnings)
        self.assertTrue(warnings[0].startswith("server-params: not carried over"))
        self.assertEqual(
            warnings[1],
            'login "lsr-main-sc": not carried over: <syspref_overrides> (per-login options'
            " sip2acs has no equivalent for)",
        )
        # Carried over, with what the operator must check.
        self.assertTrue(
            warnings[2].startswith(
                'login "lsr-sorter": format_due_date is carried over as due-date-format'
            )
        )
        for warning, institution in zip(warnings[3:5], ("LSR", "LSR-WEB"), strict=True):
            self.assertTrue(
                warning.startswith('institution "%s": implementation "ILS"' % (institution,))
            )
            self.assertIn("--upstream ENDPOINT", warning)
        self.assertTrue(warnings[5].startswith("not carried over: <syspref_overrides>"))

    def test_login(self) -> None:
        """
        Each option of a login is its account's key.
        """
        account = self.accounts["lsr-main-sc"]
        expected = {
            "checkin-not-out": "ok",
            "cv-on-success": True,
            "alert-only-with-cv": True,
            "always-send-ct": True,
            "holds-block-checkin": True,
            "holds-capture": False,
            "lost-items-block-checkout": 2,
            "blocked-item-types": ["REF", "EQUIP"],
            "overpayment": "refused",
            "payment-types": {"06": "writeoff"},
            "register-id": "7",
            "empty-pin": "accepted",
            "home-library-in-af": True,
            "show-outstanding-amount": True,
            "show-checkin-message": True,
            "nonprinting-characters": " ",
            "hide-fields": ["BD", "BE", "PB"],
            "ae-template": "{{ patron.firstname }} {{ patron.surname }}",
            "da-template": "{% if patron.firstname %}{{ patron.firstname }} {% endif %}"
            "{{ patron.surname }}",
            "fee-format": "template",
            "av-template": '{{ fee.title }} {{ "%.2f" | format(fee.amount) }}',
            "screen-message-rewrites": [
                [r"Greetings from Koha\.", "Welcome to Lakeside!"],
                # Koha's replacement is literal: its backslash is escaped
                # for re.sub.
                ["^Patron blocked", "Please see a librarian \\\\o/"],
            ],
            "patron-fields": {
                "XY": "{{ patron.attributes.SCHOOL }}",
                "XZ": '{{ patron.attributes["GRADE-LEVEL"] }}',
                "DE": "{{ patron.expires }}",
                "ZC": "{{ patron.patron_class_code | lower }}",
            },
            "item-fields": {
                "ZY": "{{ item.call_number }}",
                "ZL": "{{ item.fields.location }}",
                "IN": '{% if item.collection_code == "DVD" %}Video{% else %}'
                "{{ item.collection_code }}{% endif %}",
            },
        }
        for key, value in expected.items():
            self.assertEqual(account[key], value, key)

    def test_falseOptions(self) -> None:
        """
        An option set to 0 is written too: C{checked_in_ok="0"} refuses,
        C{allow_empty_passwords="0"} refuses.
        """
        self.assertEqual(self.accounts["lsr-sorter"]["checkin-not-out"], "refused")
        self.assertIs(self.accounts["lsr-sorter"]["overdues-block-checkout"], True)
        self.assertEqual(self.accounts["lsr-ebooks"]["empty-pin"], "refused")
        self.assertEqual(self.accounts["lsr-ebooks"]["hide-fields"], ["AE"])
        self.assertEqual(
            self.accounts["lsr-sorter"]["allow-fields"], ["AB", "AJ", "AQ", "CL", "CT", "CV"]
        )
        self.assertEqual(self.accounts["lsr-sorter"]["due-date-format"], "%m/%d/%Y")

    def test_institutionDefaults(self) -> None:
        """
        What Koha does without being told is each institution's
        C{account-defaults}: a checkin of an item not on loan refused, an
        overpayment kept as a credit, N to desensitize on a renewal.
        """
        for institution in self.institutions.values():
            self.assertEqual(
                institution["account-defaults"],
                {
                    "renewal-desensitize": False,
                    "checkin-not-out": "refused",
                    "overpayment": "credit",
                },
            )
            self.assertEqual(institution["adapter"], "sqlite")

    def test_toml(self) -> None:
        """
        The TOML holds every table as it was read, the defaults as an
        C{[institution.account-defaults]} sub-table, and says why the
        embedded system serves the institution.
        """
        text = xmlconfig.toTOML(self.conversion)
        data = tomllib.loads(text)
        self.assertEqual(data["institution"], self.conversion.data["institution"])
        for read, written in zip(self.conversion.data["account"], data["account"], strict=True):
            self.assertEqual(written, read)
        self.assertEqual(text.count("[institution.account-defaults]"), 2)
        self.assertIn(
            'adapter = "sqlite"  # the embedded SQLite system: implementation "ILS" is'
            " Koha's own code; convert with --upstream ENDPOINT",
            text,
        )
        self.assertIn("screen-message-rewrites = [\n", text)

    def test_loads(self) -> None:
        """
        The file loads (with C{--config}), and each account's
        L{Behaviour} has its options.
        """
        config = loadConfig(KOHA, [])
        self.assertEqual(sorted(config.accounts), ["lsr-ebooks", "lsr-main-sc", "lsr-sorter"])
        behaviour = config.accounts["lsr-main-sc"].behaviour
        self.assertEqual(behaviour.checkinNotOut, "ok")
        self.assertEqual(behaviour.hiddenFields, ("BD", "BE", "PB"))
        self.assertEqual(
            (behaviour.showOutstandingAmount, behaviour.showCheckinMessage,
             behaviour.nonprintingCharacters),
            (True, True, " "),
        )
        self.assertEqual(
            config.accounts["lsr-sorter"].behaviour.allowedFields,
            ("AB", "AJ", "AQ", "CL", "CT", "CV"),
        )
        self.assertFalse(config.accounts["lsr-sorter"].behaviour.renewalDesensitize)


class EvergreenFullTests(SynchronousTestCase):
    """
    C{evergreen-oils_sip-full.xml}: every Evergreen option sip2acs
    carries over.
    """

    def setUp(self):
        self.conversion = xmlconfig.convertXML(EVERGREEN)
        self.institutions, self.accounts = tablesOf(self.conversion)

    def test_onlyTheUnsupportedWarned(self) -> None:
        """
        Warned of: Net::Server's settings, OpenSRF's C{<bootstrap>}, and
        the embedded database that starts empty.
        """
        warnings = unlocated(self.conversion.warnings, EVERGREEN)
        self.assertEqual(len(warnings), 4, warnings)
        self.assertTrue(warnings[0].startswith("server-params: not carried over"))
        self.assertIn('implementation "OpenILS::SIP" is not carried over', warnings[1])
        self.assertTrue(
            warnings[2].startswith('institution "NWLC-BR1": not carried over: <bootstrap>')
        )
        self.assertIn('implementation "OpenILS::SIP" is not carried over', warnings[3])

    def test_options(self) -> None:
        """
        C{<options>} are the institution's account defaults, with what
        Evergreen does without them.
        """
        self.assertEqual(
            self.institutions["NWLC-BR1"]["account-defaults"],
            {
                "renewal-desensitize": False,
                "hold-list": "barcode",
                "patron-class": "code",
                "due-date-format": "sip",
                "patron-status-permit": "loans",
                "fee-format": "template",
                "av-template": EG_LEGACY_TEMPLATE,
            },
        )
        self.assertEqual(
            self.institutions["NWLC-WEB"]["account-defaults"],
            {
                "renewal-desensitize": False,
                "hold-list": "title",
                "due-date-format": "%Y-%m-%d %H:%M:%S",
                "patron-status-permit": "all",
                "fee-format": "template",
                "av-template": EG_LEGACY_TEMPLATE,
            },
        )

    def test_logins(self) -> None:
        """
        A login's C{av_format} is its C{fee-format}; C{msg64_summary_datatype}
        stays the account's C{item-list}.
        """
        self.assertEqual(
            [(a.get("fee-format"), a["item-list"]) for a in self.accounts.values()],
            [(None, "barcode"), ("swyer-a", "barcode"), ("3m", "title")],
        )

    def test_toml(self) -> None:
        """
        The TOML reads back to the same tables.
        """
        data = tomllib.loads(xmlconfig.toTOML(self.conversion))
        self.assertEqual(data["institution"], self.conversion.data["institution"])
        self.assertEqual(
            [{k: v for k, v in a.items() if k != "password"} for a in data["account"]],
            [
                {k: v for k, v in a.items() if k != "password"}
                for a in self.conversion.data["account"]
            ],
        )


class OptionProblemsTests(SynchronousTestCase):
    """
    Options that cannot be carried over as written are dropped with a
    warning naming them; the rest of the login is kept.
    """

    def convert(self, attributes="", children="", implementation="ILS", config=""):
        path = self.mktemp() + ".xml"
        with open(path, "w", encoding="utf-8") as f:
            f.write(
                SMALL
                % dict(
                    attributes=attributes,
                    children=children,
                    implementation=implementation,
                    config=config,
                )
            )
        conversion = xmlconfig.convertXML(path)
        return conversion.data["account"][0], unlocated(conversion.warnings, path)

    def test_untranslatableTemplate(self) -> None:
        """
        A template of an untranslated form is dropped, and the warning
        names it and why.
        """
        account, warnings = self.convert(
            'ae_field_template="[% patron.borrowernumber %]"'
            ' da_field_template="[% patron.surname %]"'
        )
        self.assertNotIn("ae-template", account)
        self.assertEqual(account["da-template"], "{{ patron.surname }}")
        [warning] = [w for w in warnings if "ae_field_template" in w]
        self.assertIn("'[% patron.borrowernumber %]' is not carried over", warning)
        self.assertIn("patron.borrowernumber has no equivalent", warning)

    def test_untranslatableFeeTemplate(self) -> None:
        """
        Without its template, an C{av_field_template} leaves the fee
        format as it was.
        """
        account, warnings = self.convert('av_field_template="[% accountline.amount %]"')
        self.assertNotIn("fee-format", account)
        self.assertNotIn("av-template", account)

    def test_badRegex(self) -> None:
        """
        A C{<screen_msg_regex>} Python cannot read is dropped; the others
        are kept, in order.
        """
        account, warnings = self.convert(
            children='<screen_msg_regex find="(" replace="x"/>'
            '<screen_msg_regex find="a+" replace="b"/>'
        )
        self.assertEqual(account["screen-message-rewrites"], [["a+", "b"]])
        self.assertIn("<screen_msg_regex find='('> is not carried over", warnings[0])

    def test_fields(self) -> None:
        """
        A field id that is not two characters is dropped, and so is a
        second field of one id.
        """
        account, warnings = self.convert(
            children='<patron_attribute field="XYZ" code="A"/>'
            '<patron_attribute field="XY" code="B"/>'
            '<custom_patron_field field="XY" template="[% patron.surname %]"/>'
        )
        self.assertEqual(account["patron-fields"], {"XY": "{{ patron.attributes.B }}"})
        self.assertEqual(len(warnings), 3, warnings)
        self.assertIn("two letters or digits", warnings[0])
        self.assertIn("already sends XY", warnings[1])

    def test_badValues(self) -> None:
        """
        A flag that is no boolean and a payment type that is no SIP
        payment type are dropped with a warning.
        """
        account, warnings = self.convert(
            'checked_in_ok="maybe" payment_type_writeoff="cash" register_id=""'
        )
        for key in ("checkin-not-out", "payment-types", "register-id"):
            self.assertNotIn(key, account)
        self.assertEqual(len(warnings), 3, warnings)

    def test_nonprintingCharacters(self) -> None:
        """
        Koha's C{convert_nonprinting_characters} is the replacement text,
        an empty one included (they are dropped); the two words sip2acs
        reads as settings are warned of instead.
        """
        account, warnings = self.convert('convert_nonprinting_characters=""')
        self.assertEqual(account["nonprinting-characters"], "")
        self.assertFalse([w for w in warnings if "nonprinting" in w])
        account, warnings = self.convert('convert_nonprinting_characters="?"')
        self.assertEqual(account["nonprinting-characters"], "?")
        account, warnings = self.convert('convert_nonprinting_characters="keep"')
        self.assertNotIn("nonprinting-characters", account)
        self.assertTrue(
            [w for w in warnings if "convert_nonprinting_characters='keep' is not" in w]
        )

    def test_unknownAvFormat(self) -> None:
        """
        An C{av_format} Evergreen does not know is read as C{eg_legacy},
        as Evergreen does, with a warning.
        """
        account, warnings = self.convert('av_format="fancy"', implementation="OpenILS::SIP")
        self.assertEqual(
            (account["fee-format"], account["av-template"]), ("template", EG_LEGACY_TEMPLATE)
        )
        self.assertTrue([w for w in warnings if "av_format='fancy'" in w])

    def test_otherEvergreenOptions(self) -> None:
        """
        An Evergreen option sip2acs has no equivalent for is listed.
        """
        account, warnings = self.convert(
            implementation="OpenILS::SIP",
            config="<implementation_config><options>"
            "<option name='msg64_hold_items_available' value='true'/>"
            "</options></implementation_config>",
        )
        self.assertTrue([w for w in warnings if "option msg64_hold_items_available" in w])


class UpstreamTests(SynchronousTestCase):
    """
    C{config convert --upstream ENDPOINT}: the converted institutions are
    served through the gateway to the ILS's own SIP2 server.
    """

    command = test_xmlconfig.CommandTests.command

    def test_gateway(self) -> None:
        """
        Each institution is C{adapter = "sip2"} with C{upstream}; its
        implementation is not warned of, and the TOML says why the gateway
        serves it.
        """
        status, out, err = self.command("config", "convert", KOHA, "--upstream", UPSTREAM)
        self.assertEqual(status, 0, err)
        data = tomllib.loads(out)
        for institution in data["institution"]:
            self.assertEqual(
                (institution["adapter"], institution["upstream"]), ("sip2", UPSTREAM)
            )
        self.assertNotIn("implementation", err)
        self.assertIn(
            'adapter = "sip2"  # the gateway (config convert --upstream): Koha keeps the'
            ' circulation (implementation "ILS")',
            out,
        )
        self.assertIn("add upstream-login and upstream-password-file", out)
        self.assertEqual(parseConfig(data).institutions["LSR"].adapter,
                         "sip2")

    def test_portClash(self) -> None:
        """
        A converted listener on the upstream's port of this machine is
        warned of: one of the two must move.
        """
        conversion = xmlconfig.convertXML(EVERGREEN, upstream="tcp:host=127.0.0.1:port=6001")
        [clash] = [w for w in conversion.warnings if "--upstream" in w]
        self.assertIn("listens on port 6001", clash)
        conversion = xmlconfig.convertXML(EVERGREEN, upstream=UPSTREAM)
        self.assertFalse([w for w in conversion.warnings if "--upstream" in w])

    def test_badEndpoint(self) -> None:
        """
        An C{--upstream} that is no client endpoint is refused in one
        sentence, and nothing is written.
        """
        for value in ("127.0.0.1:6001", "tcp:host=x:port=notaport"):
            status, out, err = self.command("config", "convert", KOHA, "--upstream", value)
            self.assertEqual((status, out), (1, ""))
            self.assertIn("--upstream %r is not a client endpoint" % (value,), err)
            self.assertEqual(err.count("\n"), 1)


class TemplatesCompileTests(SynchronousTestCase):
    """
    What the conversion writes is what L{sip2acs.acs.templates} reads:
    every template compiles, renders from the values of the circulation
    system, and the screen-message rewrites are valid.
    """

    def templatesOf(self, table):
        for key in ("ae-template", "da-template", "av-template"):
            if key in table:
                yield key, table[key]
        for key in ("patron-fields", "item-fields"):
            for field, text in table.get(key, {}).items():
                yield "%s.%s" % (key, field), text

    def test_compile(self) -> None:
        """
        Every template of both example files compiles.
        """
        count = 0
        for path in (KOHA, EVERGREEN):
            conversion = xmlconfig.convertXML(path)
            tables = conversion.data["account"] + [
                t["account-defaults"] for t in conversion.data["institution"]
            ]
            for table in tables:
                for name, text in self.templatesOf(table):
                    templates.compileTemplate(text, name)
                    count += 1
                templates.screenMessageRewriter(table.get("screen-message-rewrites", []))
        self.assertEqual(count, 12)

    def test_render(self) -> None:
        """
        The translated templates render as Koha rendered them; Koha's
        literal replacement stays literal.
        """
        account = tablesOf(xmlconfig.convertXML(KOHA))[1]["lsr-main-sc"]
        patron = values.Patron(found=True, patronId="21", name="Doe, Jo")
        context = templates.patronContext(patron)
        self.assertEqual(
            templates.compileTemplate(account["ae-template"]).render(patron=context), "Jo Doe"
        )
        fee = templates.feeContext(
            values.ItemRef(itemId="31", title="Overdue: Dune", amount=Decimal("2.5"))
        )
        self.assertEqual(
            templates.compileTemplate(account["av-template"]).render(fee=fee),
            "Overdue: Dune 2.50",
        )
        rewrite = templates.screenMessageRewriter(account["screen-message-rewrites"])
        self.assertEqual(rewrite("Patron blocked"), "Please see a librarian \\o/")
        self.assertEqual(rewrite("Greetings from Koha."), "Welcome to Lakeside!")
