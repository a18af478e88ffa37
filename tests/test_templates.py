"""
Tests for L{sip2acs.acs.templates}: what a template sees of a patron, an
item and a fee, the sandbox (no private attributes, no mutation, no file,
no huge values), one line of at most 255 characters, syntax errors as one
sentence, render failures as an empty field logged once, screen-message
rewrites and hidden fields.
"""

from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.acs.templates import (
    MAX_LENGTH,
    TemplateError,
    compileTemplate,
    feeContext,
    hideFields,
    itemContext,
    patronContext,
    screenMessageRewriter,
    splitName,
)
from sip2acs.ils import values
from sip2acs.sip import codec
from tests.fixtures import captureLogs


def build(cls: type, defaults: dict[str, object], **changes: object) -> Any:
    """
    C{cls(**defaults)} with C{changes}.
    """
    return cls(**{**defaults, **changes})


def render(text: str, **context: object) -> str:
    return compileTemplate(text).render(**context)


def assertRendersAll(
    case: SynchronousTestCase, kind: str, context: object, expected: dict[str, str]
) -> None:
    """
    C{{{ kind.NAME }}} renders C{expected[NAME]} for each name, and the
    context offers no other names but a mapping (attributes, fields).
    """
    for name, text in expected.items():
        case.assertEqual(
            render("{{ %s.%s }}" % (kind, name), **{kind: context}), text, name
        )
    assert isinstance(context, Mapping)
    case.assertEqual(
        {name for name, value in context.items() if not isinstance(value, Mapping)},
        set(expected),
    )


ZONE = timezone.utc
DUE = datetime(2026, 5, 1, 23, 59, tzinfo=ZONE)


def aPatron(**changes: object) -> Any:
    return build(
        values.Patron,
        dict(
            found=True,
            patronId="P0001",
            name="Smith, Jane Ann",
            email="jane@example.org",
            phone="555-0100",
            homeAddress="1 Main St",
            birthDate=date(1990, 2, 3),
            expires=date(2027, 1, 31),
            patronClass="Adult",
            patronClassCode="AD",
            homeLibrary="CENTRAL",
            internetPrivileges="FULL",
            feeAmount=Decimal("2.50"),
            feeLimit=Decimal("10.00"),
            language="001",
            attributes=(("SCHOOL", "Elm High"), ("GRADE", "10")),
        ),
        **changes,
    )


def anItem(**changes: object) -> Any:
    return build(
        values.Item,
        dict(
            found=True,
            itemId="I0001",
            title="A Title",
            callNumber="641.5 SMI",
            collectionCode="COOK",
            mediaType="001",
            owner="CENTRAL",
            permanentLocation="CENTRAL",
            currentLocation="EAST",
            dueDate=DUE,
            fields=(("LOC", "Shelf 3"), ("NOTE", "Fragile")),
        ),
        **changes,
    )


def aFee(**changes: object) -> Any:
    return build(
        values.ItemRef,
        dict(
            itemId="I0001",
            title="A Title",
            amount=Decimal("1.5"),
            feeId="F42",
            feeType="04",
            date=datetime(2026, 3, 1, 10, 0, tzinfo=ZONE),
        ),
        **changes,
    )


class PatronContextTests(SynchronousTestCase):
    """
    L{patronContext}: every name a template sees of a patron.
    """

    def test_everyName(self) -> None:
        """
        Each name renders the patron's value; dates as C{YYYY-MM-DD},
        amounts as the decimals they are.
        """
        patron = patronContext(aPatron())
        expected = {
            "id": "P0001",
            "name": "Smith, Jane Ann",
            "surname": "Smith",
            "firstname": "Jane Ann",
            "email": "jane@example.org",
            "phone": "555-0100",
            "address": "1 Main St",
            "birthdate": "1990-02-03",
            "expires": "2027-01-31",
            "patron_class": "Adult",
            "patron_class_code": "AD",
            "home_library": "CENTRAL",
            "internet_privileges": "FULL",
            "fee_amount": "2.50",
            "fee_limit": "10.00",
            "language": "001",
            "cardnumber": "P0001",
            "dateexpiry": "2027-01-31",
            "dateofbirth": "1990-02-03",
            "branchcode": "CENTRAL",
            "categorycode": "AD",
        }
        assertRendersAll(self, "patron", patron, expected)

    def test_attributes(self) -> None:
        """
        C{patron.attributes} holds the patron's attributes by code, by
        attribute or by key; a missing one renders as nothing.
        """
        patron = patronContext(aPatron())
        self.assertEqual(
            render(
                "{{ patron.attributes.SCHOOL }}/{{ patron.attributes['GRADE'] }}/"
                "{{ patron.attributes.NONE }}",
                patron=patron,
            ),
            "Elm High/10/",
        )
        self.assertEqual(
            render(
                "{% for code, value in patron.attributes.items() %}{{ code }}={{ value }};"
                "{% endfor %}",
                patron=patron,
            ),
            "SCHOOL=Elm High;GRADE=10;",
        )

    def test_attributesAsMapping(self) -> None:
        """
        Attributes given as a mapping are read the same.
        """
        patron = patronContext(aPatron(attributes={"SCHOOL": "Elm High"}))
        self.assertEqual(render("{{ patron.attributes.SCHOOL }}", patron=patron), "Elm High")

    def test_nothingKnown(self) -> None:
        """
        A patron the adapter says little about: every name renders as
        nothing (never C{None}), and tests as false.
        """
        patron = patronContext(values.Patron(found=True, patronId="P2"))
        for name in (
            "email", "phone", "address", "birthdate", "expires", "patron_class",
            "patron_class_code", "home_library", "internet_privileges", "fee_amount",
            "fee_limit", "dateexpiry", "categorycode", "surname", "firstname",
        ):
            self.assertEqual(render("{{ patron.%s }}" % (name,), patron=patron), "", name)
            self.assertEqual(
                render("{%% if patron.%s %%}yes{%% endif %%}" % (name,), patron=patron), ""
            )
        self.assertEqual(render("{{ patron.attributes.X }}", patron=patron), "")

    def test_classCodeFallsBackToName(self) -> None:
        """
        When the circulation system gives no class code, the code names are
        the class's name.
        """
        patron = patronContext(aPatron(patronClassCode=None))
        self.assertEqual(
            render("{{ patron.patron_class_code }}/{{ patron.categorycode }}", patron=patron),
            "Adult/Adult",
        )

    def test_readOnly(self) -> None:
        """
        The context is a read-only mapping.
        """
        patron = patronContext(aPatron())
        def change(mapping: Any) -> None:
            mapping["id"] = "x"

        self.assertRaises(TypeError, change, patron)
        self.assertRaises(TypeError, change, patron["attributes"])

    def test_dateFormats(self) -> None:
        """
        Dates are dates: C{strftime} gives any format.
        """
        patron = patronContext(aPatron())
        self.assertEqual(
            render("{{ patron.expires.strftime('%Y%m%d') }}", patron=patron), "20270131"
        )

    def test_amountFormat(self) -> None:
        """
        Jinja's C{format} filter formats an amount.
        """
        patron = patronContext(aPatron(feeAmount=Decimal("3")))
        self.assertEqual(render('{{ "%.2f" | format(patron.fee_amount) }}', patron=patron), "3.00")


class SplitNameTests(SynchronousTestCase):
    """
    L{splitName}: a patron's surname and first name.
    """

    def test_forms(self) -> None:
        cases = {
            "Smith, Jane": ("Smith", "Jane"),
            "Smith,Jane": ("Smith", "Jane"),
            "  Smith ,  Jane  Ann ": ("Smith", "Jane Ann"),
            "van der Berg, Jan": ("van der Berg", "Jan"),
            "Smith, Jane, Jr.": ("Smith", "Jane, Jr."),
            "Jane Smith": ("Smith", "Jane"),
            "Jane Ann Smith": ("Smith", "Jane Ann"),
            "Jane   Smith": ("Smith", "Jane"),
            "Cher": ("Cher", ""),
            "": ("", ""),
            "   ": ("", ""),
            "Smith,": ("Smith", ""),
        }
        for name, expected in cases.items():
            self.assertEqual(splitName(name), expected, repr(name))

    def test_inTemplate(self) -> None:
        """
        Koha's usual AE template: surname, then the first name after a
        comma when there is one.
        """
        text = (
            "{{ patron.surname }}{% if patron.firstname %}, {{ patron.firstname }}{% endif %}"
        )
        self.assertEqual(render(text, patron=patronContext(aPatron(name="Jane Smith"))),
                         "Smith, Jane")
        self.assertEqual(render(text, patron=patronContext(aPatron(name="Cher"))), "Cher")


class ItemContextTests(SynchronousTestCase):
    """
    L{itemContext}: every name a template sees of an item.
    """

    def test_everyName(self) -> None:
        item = itemContext(anItem())
        expected = {
            "id": "I0001",
            "barcode": "I0001",
            "title": "A Title",
            "call_number": "641.5 SMI",
            "collection_code": "COOK",
            "media_type": "001",
            "owner": "CENTRAL",
            "permanent_location": "CENTRAL",
            "current_location": "EAST",
            "due_date": "2026-05-01 23:59:00+00:00",
            "itemcallnumber": "641.5 SMI",
            "homebranch": "CENTRAL",
            "holdingbranch": "EAST",
            "ccode": "COOK",
        }
        assertRendersAll(self, "item", item, expected)
        self.assertEqual(
            render("{{ item.due_date.strftime('%m/%d/%Y') }}", item=item), "05/01/2026"
        )

    def test_fields(self) -> None:
        """
        C{item.fields} holds the item's other fields by code.
        """
        item = itemContext(anItem())
        self.assertEqual(
            render("{{ item.fields.LOC }}; {{ item.fields['NOTE'] }}{{ item.fields.X }}",
                   item=item),
            "Shelf 3; Fragile",
        )

    def test_nothingKnown(self) -> None:
        item = itemContext(values.Item(found=False, itemId="X"))
        self.assertEqual(
            render("{{ item.barcode }}:{{ item.call_number }}:{{ item.due_date }}:"
                   "{{ item.fields.LOC }}", item=item),
            "X:::",
        )


class FeeContextTests(SynchronousTestCase):
    """
    L{feeContext}: every name an AV template sees of a fee.
    """

    def test_everyName(self) -> None:
        fee = feeContext(aFee())
        expected = {
            "id": "F42",
            "item_id": "I0001",
            "title": "A Title",
            "amount": "1.5",
            "type": "04",
            "date": "2026-03-01 10:00:00+00:00",
            "description": "A Title",
            "amountoutstanding": "1.5",
        }
        assertRendersAll(self, "fee", fee, expected)

    def test_kohaDefault(self) -> None:
        """
        The usual AV template: what the fee is for, then its amount.
        """
        self.assertEqual(
            render('{{ fee.description }} {{ "%.2f" | format(fee.amountoutstanding) }}',
                   fee=feeContext(aFee())),
            "A Title 1.50",
        )

    def test_formatInTemplateToolkitOrder(self) -> None:
        """
        C{format} also takes Template Toolkit's order (Koha's templates):
        the value first, the format as the argument.
        """
        fee = feeContext(aFee())
        self.assertEqual(render('{{ fee.amount | format("%.2f") }}', fee=fee), "1.50")
        self.assertEqual(render('{{ fee.title | format("%-9s") }}|', fee=fee), "A Title  ")
        self.assertEqual(render('{{ "%s-%s" | format("a", "b") }}'), "a-b")
        self.assertEqual(render('{{ "%s" | format("%d") }}'), "%d")

    def test_nothingKnown(self) -> None:
        fee = feeContext(values.ItemRef(itemId=""))
        self.assertEqual(render("{{ fee.id }}:{{ fee.amount }}:{{ fee.date }}", fee=fee), "::")


class RenderTests(SynchronousTestCase):
    """
    What L{sip2acs.acs.templates.Template.render} gives: one line, at most 255
    characters, undefined names as nothing.
    """

    def test_plainText(self) -> None:
        self.assertEqual(render("Hello"), "Hello")
        self.assertEqual(render(""), "")

    def test_undefined(self) -> None:
        """
        An undefined name, attribute of it, or item renders as nothing.
        """
        self.assertEqual(render("[{{ nobody }}{{ nobody.name.first }}{{ x['y'] }}]"), "[]")
        self.assertEqual(render("[{{ patron.nothing.deeper }}]", patron={}), "[]")

    def test_oneLine(self) -> None:
        """
        CR, LF, other control characters and the field delimiter C{|} are
        dropped, from the text and from the values alike.
        """
        self.assertEqual(render("a\r\nb\nc|d\te\x00f"), "abcdef")
        patron = patronContext(aPatron(name="Smith|\r\nJane"))
        self.assertEqual(render("{{ patron.name }}", patron=patron), "SmithJane")

    def test_multiLineTemplate(self) -> None:
        """
        A template written on several lines renders on one.
        """
        text = (
            "{{ patron.surname }}\n{% if patron.firstname %}\n"
            ", {{ patron.firstname }}\n{% endif %}\n"
        )
        self.assertEqual(render(text, patron=patronContext(aPatron(name="Jane Smith"))),
                         "Smith, Jane")

    def test_capped(self) -> None:
        """
        The output stops at L{MAX_LENGTH} characters.
        """
        patron = patronContext(aPatron(name="x" * 1000))
        self.assertEqual(render("{{ patron.name }}", patron=patron), "x" * MAX_LENGTH)
        self.assertEqual(MAX_LENGTH, 255)

    def test_cappedLoop(self) -> None:
        """
        A loop that would print a great deal stops being rendered at the
        cap.
        """
        patron = patronContext(aPatron(name="y" * 200))
        text = (
            "{% for a in patron.name %}{% for b in patron.name %}{% for c in patron.name %}"
            "{{ a }}{% endfor %}{% endfor %}{% endfor %}"
        )
        self.assertEqual(render(text, patron=patron), "y" * MAX_LENGTH)

    def test_allowed(self) -> None:
        """
        What templates usually do works: formats, small repetitions,
        powers and widths, string methods, filters.
        """
        cases = {
            '{{ "%.2f" | format(1.5) }}': "1.50",
            '{{ "%05d" % 42 }}': "00042",
            '{{ "%(a)s-%(b)s" | format(a=1, b=2) }}': "1-2",
            '{{ "ab" * 3 }}{{ 2 * "c" }}': "abababcc",
            "{{ 2 ** 10 }}": "1024",
            "{{ 7 % 3 }}": "1",
            '{{ "{:>5}".format("x") }}': "    x",
            '{{ "x" | center(5) }}': "  x  ",
            '{{ "abc".upper() }}{{ "a-b".replace("-", "+") }}': "ABCa+b",
            '{{ "abc" | truncate(5) }}': "abc",
            "{{ [3, 1, 2] | sort | join(',') }}": "1,2,3",
            "{{ 1.25 | round(1, 'ceil') }}": "1.3",
            "{{ 'a' ~ 'b' }}{{ [1] + [2] }}": "ab[1, 2]",
            "{{ none }}": "",
        }
        for text, expected in cases.items():
            self.assertEqual(render(text), expected, text)


class SandboxTests(SynchronousTestCase):
    """
    A template reaches nothing but the values it is given, changes nothing,
    reads no file, and cannot make a huge value: what it tries fails the
    rendering (an empty field, logged) or the compilation.
    """

    def assertRefused(self, text: str, error: str = "SecurityError", **context: object) -> None:
        """
        C{text} renders as nothing, and the log says why: C{error}.
        """
        logs = captureLogs(self)
        self.assertEqual(render(text, **context), "", text)
        self.assertEqual(len(logs), 1, text)
        self.assertTrue(logs[0]["error"].startswith(error + ":"), (text, logs[0]["error"]))

    def test_privateAttributes(self) -> None:
        """
        Attributes whose names start with an underscore (dunder names
        included) are refused, of context values and of their values.
        """
        patron = patronContext(aPatron())
        for text in (
            "{{ patron.__class__ }}",
            "{{ patron['__class__'] }}",
            "{{ patron.name.__class__.__mro__ }}",
            "{{ patron.expires.__class__.__subclasses__() }}",
            "{{ patron.attributes.__init__.__globals__ }}",
            "{{ patron.name.upper.__self__ }}",
            "{{ self._TemplateReference__context }}",
            "{{ ''.__class__.__base__.__subclasses__() }}",
            "{{ (1).__class__ }}",
            "{{ patron|attr('__class__') }}",
            "{{ '{0.__class__}'.format(patron) }}",
        ):
            self.assertRefused(text, patron=patron)

    def test_noTimeZone(self) -> None:
        """
        A date's time zone is not offered: its class methods reach the
        process's cache of zones and the zone files.
        """
        item = itemContext(anItem(dueDate=datetime(2026, 5, 1, tzinfo=ZoneInfo("Europe/Paris"))))
        for text in (
            "{{ item.due_date.tzinfo }}",
            "{{ item.due_date.tzinfo.clear_cache() }}",
            "{{ item.due_date.timetz().tzinfo.no_cache('UTC') }}",
            "{{ item.due_date['tzinfo'] }}",
        ):
            self.assertRefused(text, item=item)
        self.assertEqual(render("{{ item.due_date.strftime('%H:%M %Z') }}", item=item),
                         "00:00 CEST")

    def test_noMutation(self) -> None:
        """
        Methods that change a list, a dict or a set are refused; the
        context has none to change.
        """
        patron = patronContext(aPatron())
        for text in (
            "{% set l = [1] %}{{ l.append(2) }}",
            "{% set d = {} %}{{ d.update({'a': 1}) }}",
            "{% set d = {'a': 1} %}{{ d.pop('a') }}",
            "{% set s = [1] | unique | list %}{{ s.clear() }}",
        ):
            self.assertRefused(text, patron=patron)
        for text in (
            "{{ patron.attributes.update({'SCHOOL': 'x'}) }}",
            "{{ patron.clear() }}",
        ):
            self.assertRefused(text, "UndefinedError", patron=patron)
        self.assertEqual(render("{{ patron.attributes.SCHOOL }}", patron=patron), "Elm High")

    def test_noGlobals(self) -> None:
        """
        Jinja's globals (C{range}, C{lipsum}, C{dict}, C{namespace},
        C{cycler}, C{joiner}) are not offered, nor are Python's builtins.
        """
        for text in (
            "{{ range(10) }}",
            "{{ lipsum(1000) }}",
            "{{ dict(a=1) }}",
            "{{ namespace(a=1) }}",
            "{{ cycler(1, 2).next() }}",
            "{{ joiner()() }}",
            "{{ open('/etc/passwd').read() }}",
            "{{ __import__('os') }}",
        ):
            self.assertRefused(text, "UndefinedError")
        self.assertEqual(render("[{{ range }}{{ open }}]"), "[]")

    def test_noFiles(self) -> None:
        """
        C{include}, C{import}, C{from ... import} and C{extends} are
        refused when the template is compiled.
        """
        for text, word in (
            ("{% include '/etc/passwd' %}", "include"),
            ("{% import 'macros' as m %}", "import"),
            ("{% from 'macros' import m %}", "import"),
            ("x\n{% extends 'base' %}", "extends"),
        ):
            e = self.assertRaises(TemplateError, compileTemplate, text, "ae-template")
            self.assertIn(word, str(e))
            self.assertIn("reads no file", str(e))

    def test_repetitionBombs(self) -> None:
        """
        Repetitions, concatenations and powers past L{sip2acs.acs.templates.MAX_SIZE}
        are refused.
        """
        patron = patronContext(aPatron(name="x" * 9000))
        for text in (
            "{{ 'x' * 1000000000 }}",
            "{{ 1000000000 * 'x' }}",
            "{{ [0] * 10**9 }}",
            "{{ 2 ** 100000000 }}",
            "{{ 10 ** (10 ** 10) }}",
            "{{ patron.name + patron.name }}",
        ):
            self.assertRefused(text, patron=patron)

    def test_widthBombs(self) -> None:
        """
        Widths, precisions and counts past L{sip2acs.acs.templates.MAX_SIZE} are refused,
        in formats, filters and method calls.
        """
        for text in (
            "{{ '%999999999d' | format(1) }}",
            "{{ '%.999999999f' | format(1.0) }}",
            "{{ '%*d' | format(999999999, 1) }}",
            "{{ '%0999999999d' % 1 }}",
            "{{ '%(a)999999999s' % {'a': 1} }}",
            "{{ '{:>999999999}'.format(1) }}",
            "{{ '{:{w}}'.format(1, w=999999999) }}",
            "{{ '{0:>999999999}'.format_map({}) }}",
            "{{ 'x'.ljust(10**9) }}",
            "{{ 'x'.zfill(10**9) }}",
            "{{ 'x'.center(width=10**9) }}",
            "{{ 'x\\ty'.expandtabs(10**9) }}",
            "{{ 'x' | center(10**9) }}",
            "{{ 'a\\nb' | indent(10**9) }}",
            "{{ 'x' | batch(10**9, 'y') | list }}",
            "{{ 'x' | slice(10**9) | list }}",
            "{{ 1.5 | round(10**9, 'ceil') }}",
            "{% filter center(10**9) %}x{% endfilter %}",
            "{{ 'x' | map('center', 10**9) | join }}",
            "{{ range(10**9) | list }}",
        ):
            self.assertRefused(text)

    def test_recursion(self) -> None:
        """
        A macro calling itself forever fails the rendering.
        """
        self.assertRefused("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError")


class ErrorTests(SynchronousTestCase):
    """
    A template that does not compile is a L{TemplateError} of one sentence;
    one that fails to render gives an empty field, logged once.
    """

    def test_syntaxError(self) -> None:
        """
        The error names the template, the line and what is wrong, in one
        sentence.
        """
        e = self.assertRaises(
            TemplateError, compileTemplate, "{{ patron.name }}\n{{ patron.surname", "ae-template"
        )
        self.assertEqual(
            str(e),
            "The template of ae-template has an error on line 2: unexpected end of template,"
            " expected 'end of print statement'.",
        )

    def test_unnamed(self) -> None:
        e = self.assertRaises(TemplateError, compileTemplate, "{% if %}")
        self.assertTrue(str(e).startswith("The template has an error on line 1: "), str(e))

    def test_oneSentence(self) -> None:
        """
        Jinja's messages of several sentences become one.
        """
        for text in (
            "{% if x %}{% foo %}{% endif %}",
            "{% for x in y %}",
            "{{ x | nosuchfilter }}",
            "{% endif %}",
            "{{ x }",
        ):
            e = self.assertRaises(TemplateError, compileTemplate, text, "da-template")
            message = str(e)
            self.assertTrue(message.endswith("."), message)
            self.assertNotIn(". ", message)
            self.assertNotIn("\n", message)
            self.assertIn("da-template", message)
            self.assertIsInstance(e, ValueError)

    def test_renderErrorLoggedOnce(self) -> None:
        """
        A template that fails renders as nothing; only its first failure is
        logged, with the template's name and the error.
        """
        logs = captureLogs(self)
        template = compileTemplate("{{ patron.name.nosuch() }}", "ae-template")
        patron = patronContext(aPatron())
        self.assertEqual(template.render(patron=patron), "")
        self.assertEqual(template.render(patron=patron), "")
        self.assertEqual(len(logs), 1)
        event = logs[0]
        self.assertEqual(event["where"], "The template of ae-template")
        self.assertIn("UndefinedError", event["error"])
        other = compileTemplate("{{ 1 / 0 }}", "da-template")
        self.assertEqual(other.render(), "")
        self.assertEqual(len(logs), 2)
        self.assertIn("ZeroDivisionError", logs[1]["error"])

    def test_sometimesFails(self) -> None:
        """
        A template that fails for one patron still renders for another.
        """
        template = compileTemplate("{{ '%d' | format(patron.phone) }}")
        self.assertEqual(template.render(patron=patronContext(aPatron(phone="x"))), "")
        self.assertEqual(template.render(patron=patronContext(aPatron(phone=5))), "5")

    def test_templateKeepsText(self) -> None:
        template = compileTemplate("{{ x }}", "patron-fields.XY")
        self.assertEqual((template.text, template.name), ("{{ x }}", "patron-fields.XY"))


class ScreenMessageRewriterTests(SynchronousTestCase):
    """
    L{screenMessageRewriter}: an account's C{screen-message-rewrites}.
    """

    def test_none(self) -> None:
        rewrite = screenMessageRewriter([])
        self.assertEqual(rewrite("Hello"), "Hello")

    def test_inOrder(self) -> None:
        """
        Each pair applies to what the ones before it gave, every match
        replaced.
        """
        rewrite = screenMessageRewriter(
            [["Item checked in", "Thank you"], ("Thank", "Many thanks"), ["o", "0"]]
        )
        self.assertEqual(rewrite("Item checked in. Item checked in."),
                         "Many thanks y0u. Many thanks y0u.")
        self.assertEqual(rewrite("nothing"), "n0thing")

    def test_groups(self) -> None:
        rewrite = screenMessageRewriter(
            [(r"^Due (\d+)/(\d+)/(\d+)$", r"Due \3-\1-\2"),
             (r"(?P<word>hold)", r"\g<word>!")]
        )
        self.assertEqual(rewrite("Due 5/1/2026"), "Due 2026-5-1")
        self.assertEqual(rewrite("On hold"), "On hold!")

    def test_badPattern(self) -> None:
        e = self.assertRaises(TemplateError, screenMessageRewriter, [("a", "b"), ("(", "x")])
        self.assertEqual(
            str(e),
            "Screen message rewrite 2 has a bad pattern '(':"
            " missing ), unterminated subpattern at position 0.",
        )

    def test_badReplacement(self) -> None:
        """
        A replacement naming a group the pattern does not have is refused
        at once, even though it would fail only on a match.
        """
        for pair in (("(a)", r"\2"), ("a", r"\g<x>"), ("a", "\\")):
            e = self.assertRaises(TemplateError, screenMessageRewriter, [pair])
            self.assertTrue(
                str(e).startswith("Screen message rewrite 1 has a bad replacement "), str(e)
            )

    def test_notPairs(self) -> None:
        for bad in (["a"], ["a", "b", "c"], "ab", [1, "b"], None):
            e = self.assertRaises(TemplateError, screenMessageRewriter, [bad])
            self.assertEqual(
                str(e),
                "Screen message rewrite 1 must be a [pattern, replacement] pair of texts.",
            )


class HideFieldsTests(SynchronousTestCase):
    """
    L{hideFields}: an account's C{hide-fields} on an answer.
    """

    def response(self, **fields: object) -> Any:
        defaults: dict[str, object] = dict(
            patronStatus=" " * 14,
            language="000",
            transactionDate=datetime(2026, 1, 2, 3, 4, 5),
            holdItemsCount=0,
            overdueItemsCount=0,
            chargedItemsCount=0,
            fineItemsCount=0,
            recallItemsCount=0,
            unavailableHoldsCount=0,
            institutionId="MAIN",
            patronIdentifier="P0001",
            personalName="Jane Smith",
            emailAddress="jane@example.org",
            homePhoneNumber="555-0100",
            screenMessage=("Hello", "Welcome"),
            extra=(("PI", "FULL"), ("XX", "1"), ("PI", "LIMITED")),
        )
        defaults.update(fields)
        return codec.PatronInformationResponse(**defaults)

    def test_nothingHidden(self) -> None:
        """
        With no ids, or none the answer carries, the answer is returned as
        it is.
        """
        message = self.response()
        self.assertIs(hideFields(message, []), message)
        self.assertIs(hideFields(message, ["BD", "QQ", "CH"]), message)

    def test_fields(self) -> None:
        """
        A field of the message, repeatable or not, is gone from the frame.
        """
        hidden = hideFields(self.response(), ["BE", "AF"])
        self.assertEqual((hidden.emailAddress, hidden.screenMessage), (None, ()))
        frame = codec.encode(hidden)
        self.assertNotIn(b"BE", frame)
        self.assertNotIn(b"AF", frame)
        self.assertIn(b"BF555-0100|", frame)

    def test_extra(self) -> None:
        """
        Every extra field with a hidden id is dropped; the others stay in
        order.
        """
        hidden = hideFields(self.response(), iter(["PI"]))
        self.assertEqual(hidden.extra, (("XX", "1"),))
        self.assertEqual(hideFields(self.response(), ("XX",)).extra,
                         (("PI", "FULL"), ("PI", "LIMITED")))

    def test_required(self) -> None:
        """
        A required field is sent empty: the frame stays valid.
        """
        hidden = hideFields(self.response(), {"AE"})
        self.assertIn(b"|AE|", codec.encode(hidden))

    def test_emptyText(self) -> None:
        """
        A field sent empty is hidden too.
        """
        hidden = hideFields(self.response(homeAddress=""), ["BD"])
        self.assertNotIn(b"BD", codec.encode(hidden))

    def test_decoded(self) -> None:
        """
        A decoded message (say, relayed from another server) keeps the
        order of its other fields.
        """
        frame = b"24" + b" " * 14 + b"000" + b"20260102    030405" + b"AEJane|AAP1|BLY|AOM|PIX|"
        message = codec.decode(frame).message
        hidden = hideFields(message, ["BL", "PI"])
        self.assertEqual(
            codec.encode(hidden),
            b"24" + b" " * 14 + b"000" + b"20260102    030405" + b"AEJane|AAP1|AOM|",
        )

    def test_unchanged(self) -> None:
        """
        The message given is not changed.
        """
        message = self.response()
        hideFields(message, ["BE", "PI"])
        self.assertEqual(message, self.response())

