# -*- test-case-name: tests.test_xmlconfig_options -*-
"""
Koha's per-login options and Evergreen's C{<options>} read as sip2acs's
per-account behaviour keys (tap.md, "Per-account behaviour"; the
C{Behaviour} of L{sip2acs.acs.behaviour}).

  - L{readLoginOptions}: a C{<login>}'s attributes (C{checked_in_ok},
    C{hide_fields}, C{ae_field_template}, Evergreen's C{av_format}, ...)
    and sub-elements (C{<screen_msg_regex>}, C{<patron_attribute>},
    C{<custom_patron_field>}, C{<item_field>}, C{<custom_item_field>}) as
    keys of its C{[[account]]} table;
  - L{institutionDefaults}: what Koha or Evergreen did without being told
    (a checkin of an item not on loan refused by Koha, no desensitize on
    a renewal, Evergreen's due dates and fee lines, ...) and Evergreen's
    C{<options>}, as the C{[institution.account-defaults]} of the
    institution.

Templates are translated by L{sip2acs.config.xmlimport.toolkit}; one that
cannot be is dropped with a warning naming it.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from sip2acs.config.writer import TableKey, TOMLValue
from sip2acs.config.xmlimport.report import Report, Table, asBoolean, local
from sip2acs.config.xmlimport.toolkit import ITEM, Untranslatable, translateToolkit

__all__ = [
    "BEHAVIOUR_KEYS",
    "XML_NAMES",
    "EG_LEGACY_TEMPLATE",
    "EVERGREEN_DUE_DATE",
    "readLoginOptions",
    "institutionDefaults",
    "readRegex",
]

KOHA_US_DATE = "%m/%d/%Y"
"""
Koha's due dates with C{format_due_date} under its default C{dateformat}
preference, C{us}.
"""

BEHAVIOUR_KEYS = (
    "checkin-not-out",
    "cv-on-success",
    "alert-only-with-cv",
    "always-send-ct",
    "holds-block-checkin",
    "holds-capture",
    "lost-items-block-checkout",
    "overdues-block-checkout",
    "blocked-item-types",
    "overpayment",
    "payment-types",
    "register-id",
    "empty-pin",
    "home-library-in-af",
    "hide-fields",
    "allow-fields",
    "hold-list",
    "fee-format",
    "due-date-format",
    "renewal-desensitize",
    "unknown-item-security",
    "patron-status-permit",
    "patron-class",
    "expiry-field",
    "ae-template",
    "da-template",
    "av-template",
    "patron-fields",
    "item-fields",
    "screen-message-rewrites",
    "show-outstanding-amount",
    "show-checkin-message",
    "nonprinting-characters",
)
"""
The per-account behaviour keys, as an C{[[account]]} and an
C{[institution.account-defaults]} table take them.
"""

XML_NAMES = {
    "checkin-not-out": "checked_in_ok",
    "cv-on-success": "cv_send_00_on_success",
    "alert-only-with-cv": "cv_triggers_alert",
    "always-send-ct": "ct_always_send",
    "holds-block-checkin": "holds_block_checkin",
    "holds-capture": "holds_get_captured",
    "lost-items-block-checkout": "lost_block_checkout",
    "overdues-block-checkout": "overdues_block_checkout",
    "blocked-item-types": "blocked_item_types",
    "overpayment": "disallow_overpayment",
    "payment-types": "payment_type_writeoff",
    "register-id": "register_id",
    "empty-pin": "allow_empty_passwords",
    "home-library-in-af": "send_patron_home_library_in_af",
    "hide-fields": "hide_fields",
    "allow-fields": "allow_fields",
    "hold-list": "msg64_hold_datatype",
    "fee-format": "av_format",
    "due-date-format": "use_sip_date_format",
    "patron-status-permit": "patron_status_permit_loans",
    "patron-class": "patron_type_uses_code",
    "ae-template": "ae_field_template",
    "da-template": "da_field_template",
    "av-template": "av_field_template",
    "patron-fields": "<patron_attribute> / <custom_patron_field>",
    "item-fields": "<item_field> / <custom_item_field>",
    "screen-message-rewrites": "<screen_msg_regex>",
    "show-outstanding-amount": "show_outstanding_amount",
    "show-checkin-message": "show_checkin_message",
    "nonprinting-characters": "convert_nonprinting_characters",
}
"""
What each behaviour key was called in the XML, for the problems
L{parseConfig <sip2acs.config.toml.parseConfig>} finds.
"""

EG_LEGACY_TEMPLATE = '{{ "%.2f" | format(fee.amount) }} {{ fee.type }} {{ fee.title }}'
"""
Evergreen's C{eg_legacy} fee line (its default C{av_format}): the amount
owed, the kind of the last charge and the title (Evergreen added the
author, which sip2acs does not keep).
"""

EVERGREEN_DUE_DATE = "%Y-%m-%d %H:%M:%S"
"""
Evergreen's due dates, unless told to use the SIP format.
"""

_AV_FORMATS = {"3m": "3m", "swyer_a": "swyer-a", "swyer_b": "swyer-b"}
_FIELD_ID = re.compile(r"^[A-Za-z0-9]{2}$")

# Koha login attribute -> (TOML key, value for true, value for false).
_FLAGS: Mapping[str, tuple[str, TOMLValue, TOMLValue]] = {
    "checked_in_ok": ("checkin-not-out", "ok", "refused"),
    "cv_send_00_on_success": ("cv-on-success", True, False),
    "cv_triggers_alert": ("alert-only-with-cv", True, False),
    "ct_always_send": ("always-send-ct", True, False),
    "holds_block_checkin": ("holds-block-checkin", True, False),
    "holds_get_captured": ("holds-capture", True, False),
    "overdues_block_checkout": ("overdues-block-checkout", True, False),
    "disallow_overpayment": ("overpayment", "refused", "credit"),
    "allow_empty_passwords": ("empty-pin", "accepted", "refused"),
    "send_patron_home_library_in_af": ("home-library-in-af", True, False),
    "show_outstanding_amount": ("show-outstanding-amount", True, False),
    "show_checkin_message": ("show-checkin-message", True, False),
}

# Koha login attribute -> (TOML key, the Koha variables it may use).
_TEMPLATES = {
    "ae_field_template": ("ae-template", {"patron": "patron"}),
    "da_field_template": ("da-template", {"patron": "patron"}),
    "av_field_template": ("av-template", {"accountline": "fee"}),
}


def _template(
    report: Report,
    element: ET.Element,
    label: str,
    name: str,
    text: str,
    roots: Mapping[str, str],
) -> str | None:
    """
    Translate one Koha template, or warn that it is dropped.

    @param name: What the warning calls it: C{ae_field_template}.
    """
    try:
        return translateToolkit(text, roots)
    except Untranslatable as e:
        report.warn(
            element,
            label,
            "%s %r is not carried over: %s (write it as a sip2acs template, see"
            " tap.md)" % (name, text, e),
        )
        return None


def readRegex(find: str) -> str:
    """
    A Perl regular expression (Koha's C{<screen_msg_regex find>}) as a
    Python one: C{(?<name>} is C{(?P<name>}, C{\\z} is C{\\Z}.

    @raise ValueError: Python cannot compile it.
    """
    pattern = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", find)
    pattern = re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", pattern)
    re.compile(pattern)
    return pattern


def _fieldId(report: Report, child: ET.Element, label: str, what: str) -> str | None:
    field = (child.get("field") or "").strip()
    if not _FIELD_ID.match(field):
        report.warn(
            child,
            label,
            "<%s field=%r> is not carried over: a field id is two letters or digits"
            % (what, field),
        )
        return None
    return field


def _checkoutBlocks(
    report: Report, element: ET.Element, label: str, attributes: dict[str, str]
) -> Table:
    """
    Koha's C{lost_block_checkout} (with C{lost_block_checkout_value}) and
    C{blocked_item_types} (item types separated by C{|}) as their keys,
    taken out of C{attributes}.
    """
    values: Table = {}
    count = attributes.pop("lost_block_checkout", None)
    threshold = attributes.pop("lost_block_checkout_value", None)
    if count is not None and count.strip():
        if not count.strip().isdigit():
            report.warn(
                element, label,
                "lost_block_checkout=%r is not carried over: it is not a number" % (count,),
            )
        elif int(count) > 0:
            values["lost-items-block-checkout"] = int(count)
            if threshold is not None and threshold.strip() not in ("", "1"):
                report.warn(
                    element, label,
                    "lost_block_checkout_value=%r is not carried over: sip2acs has one"
                    " lost status, so every lost item on loan counts towards"
                    " lost-items-block-checkout" % (threshold,),
                )
    types = attributes.pop("blocked_item_types", None)
    if types is not None:
        codes = [code.strip() for code in types.split("|") if code.strip()]
        if codes:
            values["blocked-item-types"] = list(codes)
    return values


def readLoginOptions(
    report: Report,
    element: ET.Element,
    label: str,
    table: TableKey,
    attributes: dict[str, str],
    values: Table,
) -> list[ET.Element]:
    """
    Read a C{<login>}'s behaviour options into its table C{values},
    taking them out of C{attributes}.

    @return: The sub-elements not read (for the caller's warning).
    """
    for name, (key, yes, no) in _FLAGS.items():
        value = attributes.pop(name, None)
        if value is None:
            continue
        flag = asBoolean(value)
        if flag is None:
            report.warn(
                element, label, "%s=%r is not carried over: it is not 0 or 1" % (name, value)
            )
        else:
            values[key] = yes if flag else no
    formatDueDate = attributes.pop("format_due_date", None)
    if formatDueDate is not None and asBoolean(formatDueDate):
        values["due-date-format"] = KOHA_US_DATE
        report.warn(
            element,
            label,
            "format_due_date is carried over as due-date-format = %r, Koha's \"us\" date"
            " format: Koha follows its dateformat preference, which SIPconfig.xml does not"
            " hold; for \"metric\" write %%d/%%m/%%Y, for \"iso\" %%Y-%%m-%%d, for"
            " \"dmydot\" %%d.%%m.%%Y" % (KOHA_US_DATE,),
        )
    writeoff = attributes.pop("payment_type_writeoff", None)
    if writeoff is not None and writeoff.strip():
        code = writeoff.strip()
        if re.match(r"^[0-9]{2}$", code):
            values["payment-types"] = {code: "writeoff"}
        else:
            report.warn(
                element,
                label,
                "payment_type_writeoff=%r is not carried over: a SIP payment type is"
                " two digits, 00-99" % (writeoff,),
            )
    values.update(_checkoutBlocks(report, element, label, attributes))
    nonprinting = attributes.pop("convert_nonprinting_characters", None)
    if nonprinting is not None:
        if nonprinting in ("keep", "replace"):
            # sip2acs reads these two words as settings, not as text.
            report.warn(
                element,
                label,
                "convert_nonprinting_characters=%r is not carried over: write"
                " nonprinting-characters yourself (\"keep\", \"replace\" for a space,"
                " or another replacement)" % (nonprinting,),
            )
        else:
            values["nonprinting-characters"] = nonprinting
    register = attributes.pop("register_id", None)
    if register is not None and register.strip():
        values["register-id"] = register.strip()
    for xmlName, key in (("hide_fields", "hide-fields"), ("allow_fields", "allow-fields")):
        listed = attributes.pop(xmlName, None)
        if listed is not None:
            fields = [f.strip() for f in listed.split(",") if f.strip()]
            if fields:
                values[key] = list(fields)
    for name, (key, roots) in _TEMPLATES.items():
        text = attributes.pop(name, None)
        if text is None or not text.strip():
            continue
        translated = _template(report, element, label, name, text, roots)
        if translated is not None:
            if key == "av-template":
                values["fee-format"] = "template"
            values[key] = translated
            report.note(table, key, "%s, translated from Template Toolkit" % (name,))
    avFormat = attributes.pop("av_format", None)
    if avFormat is not None:
        values.update(_avFormat(report, element, label, avFormat))
    rewrites: list[TOMLValue] = []
    patronFields: dict[str, TOMLValue] = {}
    itemFields: dict[str, TOMLValue] = {}
    others = []
    for child in element:
        name = local(child.tag)
        if name == "screen_msg_regex":
            find = child.get("find")
            replace = child.get("replace", "")
            if not find:
                report.warn(child, label, "<screen_msg_regex> without find= is not carried over")
                continue
            try:
                pattern = readRegex(find)
            except (ValueError, re.error) as e:
                report.warn(
                    child,
                    label,
                    "<screen_msg_regex find=%r> is not carried over: Python cannot read"
                    " it as a regular expression (%s)" % (find, e),
                )
                continue
            # Koha's replacement is literal text: no \1 nor $1.
            rewrites.append([pattern, replace.replace("\\", "\\\\")])
        elif name in ("patron_attribute", "item_field"):
            field = _fieldId(report, child, label, name)
            code = (child.get("code") or "").strip()
            if field is None:
                continue
            if not code:
                report.warn(child, label, "<%s> without code= is not carried over" % (name,))
                continue
            if name == "patron_attribute":
                _add(report, child, label, patronFields, field, _attribute("patron", code))
            elif code in ITEM:
                _add(report, child, label, itemFields, field, "{{ item.%s }}" % (ITEM[code],))
            else:
                _add(report, child, label, itemFields, field, _attribute("item", code))
        elif name in ("custom_patron_field", "custom_item_field"):
            field = _fieldId(report, child, label, name)
            text = child.get("template")
            if field is None:
                continue
            if not text:
                report.warn(child, label, "<%s> without template= is not carried over" % (name,))
                continue
            root = "patron" if name == "custom_patron_field" else "item"
            translated = _template(
                report, child, label, "<%s field=%r> template" % (name, field), text,
                {root: root},
            )
            if translated is not None:
                target = patronFields if root == "patron" else itemFields
                _add(report, child, label, target, field, translated)
        else:
            others.append(child)
    if rewrites:
        values["screen-message-rewrites"] = rewrites
    if patronFields:
        values["patron-fields"] = patronFields
    if itemFields:
        values["item-fields"] = itemFields
    return others


def _attribute(root: str, code: str) -> str:
    """
    The template giving one of a patron's attributes or an item's fields.
    """
    container = "attributes" if root == "patron" else "fields"
    if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", code):
        return "{{ %s.%s.%s }}" % (root, container, code)
    return '{{ %s.%s["%s"] }}' % (root, container, code.replace("\\", "\\\\").replace('"', '\\"'))


def _add(
    report: Report,
    child: ET.Element,
    label: str,
    fields: dict[str, TOMLValue],
    field: str,
    template: str,
) -> None:
    """
    Add an extra field, unless the login already has one of that id.
    """
    if field in fields:
        report.warn(
            child,
            label,
            "<%s field=%r> is not carried over: the login already sends %s (sip2acs"
            " sends one field of each id from a template: join them in one)"
            % (local(child.tag), field, field),
        )
        return
    fields[field] = template


def _avFormat(
    report: Report, element: ET.Element, label: str, value: str
) -> dict[str, TOMLValue]:
    """
    Evergreen's C{av_format} as C{fee-format} (and C{av-template} for
    C{eg_legacy}).
    """
    name = value.strip().lower()
    if name in _AV_FORMATS:
        return {"fee-format": _AV_FORMATS[name]}
    if name != "eg_legacy":
        report.warn(
            element,
            label,
            "av_format=%r is not eg_legacy, 3m, swyer_a or swyer_b: read as eg_legacy,"
            " as Evergreen does" % (value,),
        )
    return {"fee-format": "template", "av-template": EG_LEGACY_TEMPLATE}


_EVERGREEN_OPTIONS = (
    "msg64_hold_datatype",
    "patron_type_uses_code",
    "av_format",
    "use_sip_date_format",
    "due_date_use_sip_date_format",
    "patron_status_permit_loans",
    "patron_status_permit_all",
)


def institutionDefaults(
    report: Report,
    label: str,
    table: TableKey,
    implementation: str | None,
    options: Mapping[str, tuple[ET.Element, str]],
) -> tuple[Table, list[str]]:
    """
    The C{account-defaults} of an institution: what its implementation
    did without being told, and Evergreen's C{<options>}.

    @param options: Evergreen's C{<option name value>}s, by name, each
        with its element.
    @return: C{(defaults, unread)}: the table, and the names of the
        options not read.
    """
    defaults: Table = {}

    def note(key: str, text: str) -> None:
        report.note(table, "account-defaults." + key, text)

    evergreen = (implementation or "").startswith("OpenILS")
    # Koha and Evergreen answer N to desensitize on a renewal.
    defaults["renewal-desensitize"] = False
    note("renewal-desensitize", "%s answers N on a renewal" % (
        "Evergreen" if evergreen else "Koha",))
    if not evergreen:
        defaults["checkin-not-out"] = "refused"
        note("checkin-not-out", "Koha refuses it unless the login says checked_in_ok")
        defaults["overpayment"] = "credit"
        note("overpayment", "Koha keeps it as a credit unless the login says disallow_overpayment")
        return defaults, sorted(options)

    def flag(name: str) -> bool | None:
        if name not in options:
            return None
        element, value = options[name]
        parsed = asBoolean(value)
        if parsed is None:
            parsed = "true" in value.lower()
        return parsed

    hold = options.get("msg64_hold_datatype")
    defaults["hold-list"] = "barcode" if hold is not None and hold[1] == "barcode" else "title"
    if hold is None:
        note("hold-list", "Evergreen lists titles unless msg64_hold_datatype says barcode")
    if flag("patron_type_uses_code"):
        defaults["patron-class"] = "code"
    if flag("use_sip_date_format") or flag("due_date_use_sip_date_format"):
        defaults["due-date-format"] = "sip"
    else:
        defaults["due-date-format"] = EVERGREEN_DUE_DATE
        note("due-date-format", "Evergreen's due dates unless use_sip_date_format is true")
    if flag("patron_status_permit_all"):
        defaults["patron-status-permit"] = "all"
    elif flag("patron_status_permit_loans"):
        defaults["patron-status-permit"] = "loans"
    if "av_format" in options:
        element, value = options["av_format"]
        defaults.update(_avFormat(report, element, label, value))
    else:
        defaults.update({"fee-format": "template", "av-template": EG_LEGACY_TEMPLATE})
        note("av-template", "Evergreen's eg_legacy fee line (without the author)")
    return defaults, sorted(n for n in options if n not in _EVERGREEN_OPTIONS)
