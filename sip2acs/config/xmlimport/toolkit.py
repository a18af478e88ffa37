# -*- test-case-name: tests.test_xmlconfig_options -*-
"""
Koha's field templates (Template Toolkit) translated into sip2acs's
template language (Jinja, see L{sip2acs.acs.templates}):
L{translateToolkit}.

Koha renders C{ae_field_template}, C{da_field_template},
C{custom_patron_field} with a C{patron} (a C{Koha::Patron}),
C{av_field_template} with an C{accountline} and C{custom_item_field} with
an C{item}. The common forms are translated:

  - literal text;
  - C{[% patron.surname %]}, C{[% GET patron.surname %]}: the value, its
    name mapped to sip2acs's context (L{PATRON}, L{FEE}, L{ITEM});
  - filters C{format('%.2f')}, C{upper}, C{lower}, C{trim}, chained;
  - C{[% IF c %]}, C{[% UNLESS c %]}, C{[% ELSIF c %]}, C{[% ELSE %]},
    C{[% END %]}, with conditions made of values, quoted strings, numbers,
    C{==}, C{!=}, C{<}, C{>}, C{<=}, C{>=}, C{AND}/C{&&}, C{OR}/C{||},
    C{NOT}/C{!} and parentheses;
  - comments C{[%# ... %]} (dropped) and the chomp markers C{[%-}, C{-%]}.

Anything else (C{FOREACH}, C{SET}, method calls with arguments, a patron
column sip2acs does not know, ...) raises L{Untranslatable}: the caller
drops the whole option with a warning rather than send half of it.
"""

import re
from collections.abc import Callable, Mapping

__all__ = ["Untranslatable", "translateToolkit", "PATRON", "FEE", "ITEM", "ROOTS"]


class Untranslatable(ValueError):
    """
    A template has a form L{translateToolkit} does not translate; the
    message says which, in a few words ("FOREACH is not translated").
    """


PATRON: Mapping[str, str] = {
    "surname": "surname",
    "firstname": "firstname",
    "cardnumber": "id",
    "email": "email",
    "phone": "phone",
    "address": "address",
    "dateexpiry": "expires",
    "dateofbirth": "birthdate",
    "branchcode": "home_library",
    "library.branchcode": "home_library",
    "categorycode": "patron_class_code",
    "category.categorycode": "patron_class_code",
    "category.description": "patron_class",
    "lang": "language",
}
"""
Koha's patron columns (and the few related values templates use) to the
names of sip2acs's C{patron} context.
"""

FEE: Mapping[str, str] = {
    "accountlines_id": "id",
    "itemnumber": "item_id",
    "description": "title",
    "item.biblio.title": "title",
    "amountoutstanding": "amount",
    "debit_type_code": "type",
    "accounttype": "type",
    "date": "date",
}
"""
Koha's C{accountline} columns to sip2acs's C{fee} context. C{amount} (the
original amount, before payments) has no equivalent: sip2acs knows what
is owed, which is C{amountoutstanding}.
"""

ITEM: Mapping[str, str] = {
    "barcode": "barcode",
    "itemcallnumber": "call_number",
    "homebranch": "permanent_location",
    "holdingbranch": "current_location",
    "ccode": "collection_code",
    "biblio.title": "title",
    "title": "title",
}
"""
Koha's item columns to sip2acs's C{item} context; any other column
C{X} is C{item.fields.X}, the item's extra field of that code (imported
with a C{field:X} column).
"""

ROOTS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "patron": ("patron", PATRON),
    "accountline": ("fee", FEE),
    "item": ("item", ITEM),
}
"""
Each Koha template variable: its name in sip2acs and the map of its
attributes.
"""

_DIRECTIVE = re.compile(r"\[%(?P<pre>[-+=~]?)(?P<body>.*?)(?P<post>[-+=~]?)%\]", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!|(),])
    )""",
    re.X,
)
_FILTERS = {"upper": "upper", "lower": "lower", "trim": "trim"}
_COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")
_KEYWORDS = ("IF", "UNLESS", "ELSIF", "ELSE", "END", "GET", "NOT")


def _tokens(body: str) -> list[tuple[str, str]]:
    """
    The tokens of a directive: C{(kind, text)} pairs.
    """
    tokens = []
    position = 0
    body = body.rstrip()
    while position < len(body):
        match = _TOKEN.match(body, position)
        if match is None or match.end() == position:
            raise Untranslatable("%r is not translated" % (body[position:].strip()[:20],))
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """
    One directive's tokens, read into a Jinja expression.
    """

    def __init__(self, tokens: list[tuple[str, str]], roots: Mapping[str, str]) -> None:
        self.tokens = tokens
        self.position = 0
        self.roots = roots

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise Untranslatable("a directive ends too early")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        kind, value = self.take()
        if value != text:
            raise Untranslatable("%r where %r was expected" % (value, text))

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise Untranslatable("%r is not translated" % (token[1],))

    def value(self) -> str:
        """
        A value with its filters: C{x | format('%.2f') | upper}.
        """
        expression = self.operand()
        while self.peek() == ("op", "|"):
            self.take()
            kind, name = self.take()
            if kind != "name":
                raise Untranslatable("%r is not a filter" % (name,))
            if name == "format":
                self.expect("(")
                kind, pattern = self.take()
                if kind != "string":
                    raise Untranslatable("format takes a quoted pattern")
                self.expect(")")
                expression = "(%s | format(%s))" % (_string(pattern), expression)
            elif name in _FILTERS:
                expression = "(%s | %s)" % (expression, _FILTERS[name])
            else:
                raise Untranslatable("the filter %s is not translated" % (name,))
        return expression

    def operand(self) -> str:
        kind, text = self.take()
        if kind == "string":
            return _string(text)
        if kind == "number":
            return text
        if kind == "op" and text == "(":
            inner = self.condition()
            self.expect(")")
            return "(%s)" % (inner,)
        if kind == "name":
            if self.peek() == ("op", "("):
                raise Untranslatable("the call %s(...) is not translated" % (text,))
            return self.path(text)
        raise Untranslatable("%r is not translated" % (text,))

    def path(self, text: str) -> str:
        root, _, rest = text.partition(".")
        if root.isupper():
            raise Untranslatable("%s is not translated" % (root,))
        if root not in self.roots:
            raise Untranslatable("%s is not a value these templates have" % (text,))
        name = self.roots[root]
        _, names = ROOTS[root]
        if not rest:
            raise Untranslatable("%s alone is not translated" % (root,))
        if rest in names:
            return "%s.%s" % (name, names[rest])
        if root == "item" and "." not in rest:
            return "item.fields.%s" % (rest,)
        raise Untranslatable("%s has no equivalent in sip2acs" % (text,))

    def condition(self) -> str:
        return self.joined(self.conjunction, "OR", "||", "or")

    def conjunction(self) -> str:
        return self.joined(self.negation, "AND", "&&", "and")

    def joined(self, part: Callable[[], str], word: str, symbol: str, jinja: str) -> str:
        """
        Parts joined by an operator written C{word} or C{symbol}.
        """
        parts = [part()]
        while self.peek() in (("name", word), ("op", symbol)):
            self.take()
            parts.append(part())
        return (" %s " % (jinja,)).join(parts)

    def negation(self) -> str:
        if self.peek() in (("name", "NOT"), ("op", "!")):
            self.take()
            return "not %s" % (self.negation(),)
        left = self.value()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in _COMPARISONS:
            self.take()
            return "%s %s %s" % (left, token[1], self.value())
        return left


def _string(literal: str) -> str:
    """
    A Template Toolkit quoted string as a Jinja one.
    """
    quote, inner = literal[0], literal[1:-1]
    if quote == "'":
        inner = inner.replace("\\'", "'").replace("\\\\", "\\")
    else:
        if "$" in inner:
            raise Untranslatable("a string with $variables is not translated")
        inner = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)),
                       inner)
    return '"%s"' % (inner.replace("\\", "\\\\").replace('"', '\\"'),)


def _literal(text: str) -> str:
    """
    Literal text as Jinja source: as it is, unless it holds Jinja's own
    delimiters.
    """
    if not re.search(r"\{[{%#]|[}%#]\}", text):
        return text
    return "{{ %s }}" % ('"%s"' % (text.replace("\\", "\\\\").replace('"', '\\"'),),)


def translateToolkit(text: str, roots: Mapping[str, str] | None = None) -> str:
    """
    Translate a Koha field template into sip2acs's template language.

    @param text: The Template Toolkit template, e.g. C{[% patron.surname
        %][% IF patron.firstname %], [% patron.firstname %][% END %]}.
    @param roots: The Koha variables this template may use, each to its
        name in sip2acs (e.g. C{{"patron": "patron"}}); all of L{ROOTS}
        when L{None}.
    @return: The Jinja template, e.g. C{{{ patron.surname }}{% if
        patron.firstname %}, {{ patron.firstname }}{% endif %}}.
    @raise Untranslatable: A form this does not translate.
    """
    if roots is None:
        roots = {name: target for name, (target, _) in ROOTS.items()}
    out: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _DIRECTIVE.finditer(text):
        out.append(_literal(text[position : match.start()]))
        position = match.end()
        body = match.group("body")
        left = "-" if match.group("pre") == "-" else ""
        right = "-" if match.group("post") == "-" else ""
        if match.group("pre") in "+=~" and match.group("pre"):
            raise Untranslatable("the chomp marker %s is not translated" % (match.group("pre"),))
        if match.group("post") in "+=~" and match.group("post"):
            raise Untranslatable("the chomp marker %s is not translated" % (match.group("post"),))
        if body.lstrip().startswith("#"):
            if left or right:
                out.append("{#%s #%s}" % (left, right))
            continue
        if ";" in body:
            raise Untranslatable("several directives in one [% %] are not translated")
        words = body.split(None, 1)
        if words and words[0].isupper() and words[0] not in _KEYWORDS:
            raise Untranslatable("%s is not translated" % (words[0],))
        parser = _Parser(_tokens(body), roots)
        first = parser.peek()
        keyword = first[1] if first is not None and first[0] == "name" else ""
        if keyword in ("IF", "UNLESS", "ELSIF"):
            parser.take()
            condition = parser.condition()
            parser.done()
            if keyword == "UNLESS":
                condition = "not (%s)" % (condition,)
            if keyword == "ELSIF":
                if not stack or stack[-1] != "if":
                    raise Untranslatable("ELSIF without IF")
                out.append("{%%%s elif %s %s%%}" % (left, condition, right))
            else:
                stack.append("if")
                out.append("{%%%s if %s %s%%}" % (left, condition, right))
        elif keyword == "ELSE":
            parser.take()
            parser.done()
            if not stack or stack[-1] != "if":
                raise Untranslatable("ELSE without IF")
            out.append("{%%%s else %s%%}" % (left, right))
        elif keyword == "END":
            parser.take()
            parser.done()
            if not stack:
                raise Untranslatable("END without IF")
            stack.pop()
            out.append("{%%%s endif %s%%}" % (left, right))
        else:
            if keyword == "GET":
                parser.take()
            elif keyword.isupper():
                raise Untranslatable("%s is not translated" % (keyword,))
            expression = parser.value()
            parser.done()
            if expression.startswith("(") and expression.endswith(")"):
                expression = expression[1:-1]
            out.append("{{%s %s %s}}" % (left, expression, right))
    if stack:
        raise Untranslatable("an IF has no END")
    rest = text[position:]
    if "[%" in rest or "%]" in rest:
        raise Untranslatable("an unclosed [% or a stray %]")
    out.append(_literal(rest))
    return "".join(out)
