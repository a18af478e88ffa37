# -*- test-case-name: tests.test_templates -*-
"""
Response shaping: the field templates of an account (C{ae-template},
C{da-template}, C{av-template}, C{patron-fields}, C{item-fields}), its
screen-message rewrites and its hidden fields.

Templates are Jinja2 (U{https://jinja.palletsprojects.com/}) in its
immutable sandbox: C{{{ patron.surname }}}, C{{% if patron.email %}...{%
endif %}}, C{{{ "%.2f" | format(fee.amount) }}}. A template sees only the
values it is given (L{patronContext}, L{itemContext}, L{feeContext}): no
globals (not even C{range}), no loader (no C{include}, C{import} or
C{extends}: a template reads no file), no attribute whose name starts
with an underscore, no method that changes a list or a dict. What would
make a huge value is refused: a repetition (C{*}), a power (C{**}), a
concatenation (C{+}) or a width (C{format}, C{center}, C{indent},
C{"x".ljust(n)}...) beyond L{MAX_SIZE}. An undefined name or attribute
renders as nothing, and so does L{None}.

A template is compiled when the configuration loads (L{compileTemplate}
raises L{TemplateError}, one sentence naming the line) and rendered for
each answer (L{Template.render}): a rendering that fails gives an empty
field, logged once per template, never an error on the wire. What it
renders is one line of at most L{MAX_LENGTH} characters: control
characters (CR, LF...) and C{|} are dropped.

L{screenMessageRewriter} turns an account's C{screen-message-rewrites}
into one function on a screen message; L{hideFields} drops an account's
C{hide-fields} from an answer.

Pure: no reactor, nothing blocking.
"""

import functools
import math
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import tzinfo
from types import MappingProxyType
from typing import Any, cast

import attrs
from jinja2 import ChainableUndefined, Template as _JinjaTemplate, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from twisted.logger import Logger

from sip2acs.ils import values
from sip2acs.sip import codec
from sip2acs.sip.spec import FIELDS

__all__ = [
    "MAX_LENGTH",
    "MAX_SIZE",
    "Template",
    "TemplateError",
    "compileTemplate",
    "feeContext",
    "hideFields",
    "itemContext",
    "patronContext",
    "screenMessageRewriter",
    "splitName",
]

_log = Logger()

MAX_LENGTH = 255
"""
The most characters a template renders: the longest variable-length field
of SIP2.
"""

MAX_SIZE = 10_000
"""
The largest size a template may ask for: the length of a repeated or
concatenated text or list, a width or a precision, an integer given to a
method or a size filter.
"""

_MAX_POWER_BITS = 4096
"""
The largest integer (in bits) a power (C{**}) may make.
"""


class TemplateError(ValueError):
    """
    A template or a screen-message rewrite that cannot be used: the message
    is one sentence saying what and where.
    """


# -- the sandbox ------------------------------------------------------------

_PRINTF = re.compile(
    r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?([a-zA-Z%])"
)


def _checkPrintf(text: str) -> None:
    """
    Refuse a printf-style format (C{%}) whose width or precision is a star
    or above L{MAX_SIZE}.

    @raise SecurityError: It is.
    """
    for match in _PRINTF.finditer(text):
        for number in match.group(1, 2):
            if number == "*":
                raise SecurityError("a format's width cannot be given as *")
            if number and int(number) > MAX_SIZE:
                raise SecurityError("a format's width is above %d" % (MAX_SIZE,))


def _checkBraceFormat(text: str) -> None:
    """
    Refuse a C{str.format} text with a nested or too large width.

    @raise SecurityError: It has one.
    """
    for _, _, spec, _ in string.Formatter().parse(text):
        if not spec:
            continue
        if "{" in spec:
            raise SecurityError("a format's width cannot be a field")
        if any(int(n) > MAX_SIZE for n in re.findall(r"\d+", spec)):
            raise SecurityError("a format's width is above %d" % (MAX_SIZE,))


def _checkSize(size: int) -> None:
    if size > MAX_SIZE:
        raise SecurityError("a value above %d items is refused" % (MAX_SIZE,))


def _checkInts(args: Iterable[object]) -> None:
    """
    Refuse an integer argument above L{MAX_SIZE} (a width, a count).
    """
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_SIZE:
            raise SecurityError("a number above %d is refused here" % (MAX_SIZE,))


def _sized(value: object) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _multiply(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        size = _sized(sequence)
        if size is not None and isinstance(count, int):
            _checkSize(size * count)
    return left * right


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        if right * math.log2(abs(left)) > _MAX_POWER_BITS:
            raise SecurityError("a power above %d bits is refused" % (_MAX_POWER_BITS,))
    return left**right


def _add(left: Any, right: Any) -> Any:
    sizes = (_sized(left), _sized(right))
    if None not in sizes:
        _checkSize(sum(s for s in sizes if s is not None))
    return left + right


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _checkPrintf(left)
    return left % right


def _boundedFilter(function: Callable[..., Any]) -> Callable[..., Any]:
    """
    A filter that refuses integer arguments (widths, counts) above
    L{MAX_SIZE}; the value filtered is not checked.
    """

    # Jinja gives a filter marked so (functools.wraps copies the mark) its
    # context or environment before the value.
    leading = 2 if hasattr(function, "jinja_pass_arg") else 1

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _checkInts(args[leading:])
        _checkInts(kwargs.values())
        return function(*args, **kwargs)

    return bounded


def _format(value: object, *args: Any, **kwargs: Any) -> str:
    """
    Jinja's C{format} filter (printf style: C{"%.2f" | format(amount)}),
    with its widths bounded. Template Toolkit's order, C{amount |
    format("%.2f")} (Koha's templates), works too: a value that is no
    format given one format.
    """
    if args and kwargs:
        raise TypeError("format takes either positional or keyword arguments")
    text = str(value)
    if (
        len(args) == 1
        and not kwargs
        and isinstance(args[0], str)
        and _PRINTF.search(args[0])
        and not _PRINTF.search(text)
    ):
        text, args = args[0], (value,)
    _checkPrintf(text)
    return text % (kwargs or args)


class _Undefined(ChainableUndefined):
    """
    An undefined name or attribute: renders as nothing, and so does any
    attribute of it.
    """

    __slots__ = ()


def _finalize(value: object) -> object:
    return "" if value is None else value


class _Sandbox(ImmutableSandboxedEnvironment):
    """
    Jinja's immutable sandbox with no globals and the size limits of this
    module.
    """

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self) -> None:
        super().__init__(
            autoescape=False,
            undefined=_Undefined,
            finalize=_finalize,
            loader=None,
            cache_size=0,
            auto_reload=False,
        )
        self.globals.clear()
        self.binop_table = dict(self.binop_table)
        self.binop_table.update({"*": _multiply, "**": _power, "+": _add, "%": _modulo})
        for name in ("center", "indent", "batch", "slice", "round"):
            self.filters[name] = _boundedFilter(self.filters[name])
        self.filters["format"] = _format

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """
        Jinja's rules, and no time zone: a zone's class methods reach the
        process's cache of zones and the zone files.
        """
        if attr == "tzinfo" or isinstance(obj, tzinfo) or isinstance(value, tzinfo):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        """
        An unsafe attribute fails the rendering (instead of rendering as
        nothing), so that it is logged.
        """
        raise SecurityError(
            "access to attribute %r of a %s is refused" % (attribute, type(obj).__name__)
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """
        C{str.format} and C{format_map} sandboxed by Jinja, with their
        widths bounded.
        """
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _checkBraceFormat(value.__self__)
        return wrapped

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """
        A call from a template, refused when it gives an integer above
        L{MAX_SIZE} (C{"x".ljust(10**9)}).
        """
        _checkInts(args)
        _checkInts(kwargs.values())
        return super().call(__context, __obj, *args, **kwargs)


_SANDBOX = _Sandbox()

_NO_FILES = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Extends: "extends",
}

_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f|]")


def _where(name: str | None) -> str:
    return "The template" if name is None else "The template of %s" % (name,)


def _sentence(message: str) -> str:
    """
    Jinja's message as part of one sentence.
    """
    text = " ".join(message.split()).rstrip(".")
    return text.replace(". ", "; ")


@attrs.define(eq=False)
class Template:
    """
    A compiled template (see L{compileTemplate}).

    @ivar text: The template's text, as configured.
    @ivar name: What the template is for (a configuration key), in log
        lines; or L{None}.
    """

    text: str
    name: str | None
    _compiled: _JinjaTemplate = attrs.field(repr=False)
    _failed: bool = attrs.field(default=False, repr=False)

    def render(self, **context: object) -> str:
        """
        The template rendered with C{context} (e.g. C{patron=patronContext(p)}),
        as one line of at most L{MAX_LENGTH} characters. Never raises: a
        rendering that fails gives C{""}, logged the first time only.
        """
        try:
            return self._render(context)
        except Exception as e:
            if not self._failed:
                self._failed = True
                _log.warn(
                    "{where} failed to render ({error}); its field is sent empty"
                    " (further failures of this template are not logged)",
                    where=_where(self.name),
                    error="%s: %s" % (type(e).__name__, e),
                )
            return ""

    def _render(self, context: Mapping[str, object]) -> str:
        kept: list[str] = []
        length = 0
        chunks: Iterator[str] = self._compiled.generate(**context)
        try:
            for chunk in chunks:
                text = _NOT_ONE_LINE.sub("", chunk)
                kept.append(text)
                length += len(text)
                if length >= MAX_LENGTH:
                    break
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return "".join(kept)[:MAX_LENGTH]


def compileTemplate(text: str, name: str | None = None) -> Template:
    """
    Compile a template.

    @param text: The template, in Jinja's syntax.
    @param name: What the template is for (a configuration key, say
        C{"ae-template"}), named in the error and in log lines.
    @raise TemplateError: C{text} is not a template this module renders: a
        syntax error, an unknown filter, an C{include}.
    """
    where = _where(name)
    try:
        tree = _SANDBOX.parse(text)
        for kind, word in _NO_FILES.items():
            found = next(iter(tree.find_all(kind)), None)
            if found is not None:
                raise TemplateError(
                    "%s uses %s on line %d, which a template cannot do (it reads no file)."
                    % (where, word, found.lineno)
                )
        compiled = _SANDBOX.from_string(text)
    except TemplateSyntaxError as e:
        raise TemplateError(
            "%s has an error on line %d: %s." % (where, e.lineno, _sentence(e.message or ""))
        ) from None
    except TemplateError:
        raise
    except Exception as e:
        raise TemplateError(
            "%s cannot be compiled: %s." % (where, _sentence(str(e)))
        ) from None
    return Template(text, name, compiled)


# -- the values offered -----------------------------------------------------


def splitName(name: str) -> tuple[str, str]:
    """
    A patron's name as C{(surname, firstname)}: C{"Surname, First"} is
    split at its first comma, C{"First Middle Surname"} before its last
    word; a single word is a surname.
    """
    name = " ".join(name.split())
    if "," in name:
        surname, _, firstname = name.partition(",")
        return surname.strip(), firstname.strip()
    firstname, _, surname = name.rpartition(" ")
    return surname, firstname


def _pairs(value: object) -> Mapping[str, str]:
    """
    Read-only mapping of a value's C{(code, value)} pairs (or a mapping):
    a code given twice keeps its values joined with C{", "}.
    """
    if value is None:
        return MappingProxyType({})
    items: Iterable[tuple[object, object]] = (
        value.items() if isinstance(value, Mapping) else cast(Any, value)
    )
    joined: dict[str, str] = {}
    for code, text in items:
        code, text = str(code), str(text)
        joined[code] = joined[code] + ", " + text if code in joined else text
    return MappingProxyType(joined)


_PATRON_NAMES = {
    "id": "patronId",
    "cardnumber": "patronId",
    "name": "name",
    "email": "email",
    "phone": "phone",
    "address": "homeAddress",
    "birthdate": "birthDate",
    "dateofbirth": "birthDate",
    "expires": "expires",
    "dateexpiry": "expires",
    "patron_class": "patronClass",
    "home_library": "homeLibrary",
    "branchcode": "homeLibrary",
    "internet_privileges": "internetPrivileges",
    "fee_amount": "feeAmount",
    "fee_limit": "feeLimit",
    "language": "language",
}
_ITEM_NAMES = {
    "id": "itemId",
    "barcode": "itemId",
    "title": "title",
    "call_number": "callNumber",
    "itemcallnumber": "callNumber",
    "collection_code": "collectionCode",
    "ccode": "collectionCode",
    "media_type": "mediaType",
    "owner": "owner",
    "permanent_location": "permanentLocation",
    "homebranch": "permanentLocation",
    "current_location": "currentLocation",
    "holdingbranch": "currentLocation",
    "due_date": "dueDate",
}
_FEE_NAMES = {
    "id": "feeId",
    "item_id": "itemId",
    "title": "title",
    "description": "title",
    "amount": "amount",
    "amountoutstanding": "amount",
    "type": "feeType",
    "date": "date",
}
"""
The names a template sees of a patron, an item, a fee (Koha's among them),
and the attributes of the value they stand for.
"""


def _read(value: object, names: Mapping[str, str]) -> dict[str, object]:
    """
    The attributes of C{value} under the names a template sees (L{None}
    for an attribute the value does not have).
    """
    return {name: getattr(value, attribute, None) for name, attribute in names.items()}


def patronContext(patron: values.Patron) -> Mapping[str, object]:
    """
    What a template sees as C{patron}: C{id}, C{name}, C{surname},
    C{firstname} (see L{splitName}), C{email}, C{phone}, C{address},
    C{birthdate}, C{expires} (dates), C{patron_class} (the class's name),
    C{patron_class_code} (its code, or its name when the circulation
    system gives no code), C{home_library}, C{internet_privileges},
    C{fee_amount}, C{fee_limit} (decimals), C{language}, C{attributes}
    (the patron's attributes, by code); and Koha's names C{cardnumber},
    C{dateexpiry}, C{dateofbirth}, C{branchcode}, C{categorycode} (the
    class code).
    """
    context = _read(patron, _PATRON_NAMES)
    context["surname"], context["firstname"] = splitName(patron.name)
    code = getattr(patron, "patronClassCode", None)
    context["patron_class_code"] = context["categorycode"] = (
        patron.patronClass if code is None else code
    )
    context["attributes"] = _pairs(getattr(patron, "attributes", None))
    return MappingProxyType(context)


def itemContext(item: values.Item) -> Mapping[str, object]:
    """
    What a template sees as C{item}: C{id} and C{barcode} (the item
    identifier), C{title}, C{call_number}, C{collection_code},
    C{media_type}, C{owner}, C{permanent_location}, C{current_location},
    C{due_date} (a date and time), C{fields} (the item's other fields, by
    code); and Koha's names C{itemcallnumber}, C{homebranch} (the
    permanent location), C{holdingbranch} (the current location),
    C{ccode}.
    """
    context = _read(item, _ITEM_NAMES)
    context["fields"] = _pairs(getattr(item, "fields", None))
    return MappingProxyType(context)


def feeContext(fee: values.ItemRef) -> Mapping[str, object]:
    """
    What a template sees as C{fee} (an entry of a patron's fines, for
    C{av-template}): C{id} (the fee's own identifier, or nothing),
    C{item_id}, C{title}, C{amount} (a decimal), C{type} (the SIP2 fee
    type), C{date} (when it was charged); and Koha's names C{description}
    (the title) and C{amountoutstanding} (the amount).
    """
    return MappingProxyType(_read(fee, _FEE_NAMES))


# -- screen messages and hidden fields --------------------------------------


def screenMessageRewriter(
    pairs: Iterable[tuple[str, str] | list[str]],
) -> Callable[[str], str]:
    """
    The function an account applies to each screen message (C{AF}): each
    C{(pattern, replacement)} of C{pairs} in turn, as Python's C{re.sub}
    (every match replaced; C{\\1} or C{\\g<name>} in the replacement is a
    group).

    @raise TemplateError: A pair is not two texts, or its pattern or its
        replacement is not valid.
    """
    rules: list[tuple[re.Pattern[str], str]] = []
    for number, pair in enumerate(pairs, 1):
        if (
            not isinstance(pair, tuple | list)
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise TemplateError(
                "Screen message rewrite %d must be a [pattern, replacement] pair of texts."
                % (number,)
            )
        pattern, replacement = pair
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise TemplateError(
                "Screen message rewrite %d has a bad pattern %r: %s." % (number, pattern, e)
            ) from None
        try:
            # Compiles the replacement (group references) even with no match.
            compiled.sub(replacement, "")
        except (re.error, IndexError) as e:
            raise TemplateError(
                "Screen message rewrite %d has a bad replacement %r: %s."
                % (number, replacement, e)
            ) from None
        rules.append((compiled, replacement))

    def rewrite(message: str) -> str:
        for compiled, replacement in rules:
            message = compiled.sub(replacement, message)
        return message

    return rewrite


def hideFields(message: codec.Message, ids: Iterable[str]) -> codec.Message:
    """
    C{message} without the identified fields whose ids are in C{ids}, its
    C{extra} ones included. A field the message requires is sent empty
    (the frame stays valid); a repeatable field loses every value.

    @return: C{message} itself when it carries none of them, else a copy.
    """
    hidden = frozenset(ids)
    if not hidden:
        return message
    changes: dict[str, object] = {}
    for fid in message.spec.fields:
        if fid in hidden:
            info = FIELDS[fid]
            if info.repeatable:
                if getattr(message, info.name):
                    changes[info.name] = ()
            elif getattr(message, info.name) is not None:
                changes[info.name] = None
    extra = tuple((fid, text) for fid, text in message.extra if fid not in hidden)
    if len(extra) != len(message.extra):
        changes["extra"] = extra
    if not changes:
        return message
    copy: codec.Message = attrs.evolve(cast(Any, message), **changes)
    return copy
