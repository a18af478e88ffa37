# -*- test-case-name: tests.test_xmlconfig -*-
"""
The C{<institution>}s and C{<login>}s of a SIPconfig.xml / oils_sip.xml
file read as C{[[institution]]} and C{[[account]]} tables.

An institution's C{<policy>} and Evergreen's C{<implementation_config>}
are read with it (L{readInstitution}, L{readPolicy},
L{readImplementationConfig}); what its logins inherit from it (the
encoding, the list of items for 64, the terminator its implementation
implies) is kept in L{Institutions} for L{readAccount}. Clear passwords
are hashed here (L{hashXMLPassword}).
"""

import hmac
import os
import re
import xml.etree.ElementTree as ET

import attrs

from sip2acs.config import model
from sip2acs.config.writer import TableKey
from sip2acs.config.xmlimport.options import institutionDefaults, readLoginOptions
from sip2acs.config.xmlimport.report import (
    EncodingSource,
    Report,
    Table,
    asBoolean,
    isDigits,
    local,
)
from sip2acs.passwords import hashPassword, isHashed

PERL_ENCODINGS = {
    "ascii": "ascii",
    "usascii": "ascii",
    "utf8": "utf-8",
    "utf8strict": "utf-8",
    "latin1": "latin-1",
    "l1": "latin-1",
    "iso88591": "latin-1",
    "isolatin1": "latin-1",
    "cp850": "cp850",
    "ibm850": "cp850",
    "850": "cp850",
}
"""
Encoding names as Perl's Encode (and so Koha and Evergreen) accepts them,
lower-cased without C{-}, C{_} or blanks, to sip2acs's names.
"""


_hashKey = os.urandom(32)
_hashes: dict[bytes, str] = {}


def hashXMLPassword(password: str) -> str:
    """
    Hash a password from the XML file, the same way every time this
    process reads the same password (so that reading the file again on
    SIGHUP does not count as a change, nor costs an scrypt per account).
    Keyed by an HMAC under a key made at random for this process, never by
    the password itself. A value that already is a sip2acs hash is kept.
    """
    if isHashed(password):
        return password
    key = hmac.new(_hashKey, password.encode("utf-8"), "sha256").digest()
    stored = _hashes.get(key)
    if stored is None:
        if len(_hashes) > 10000:
            _hashes.clear()
        stored = _hashes[key] = hashPassword(password)
    return stored


@attrs.define
class Institutions:
    """
    What the institutions read so far give the logins that name them.

    @ivar implementations: Each institution's C{implementation} (C{""}
        when it has none), by id (L{None}: an institution without one).
    @ivar loginDefaults: Each institution's encoding (and the element that
        gave it) and list of items for 64, each L{None} when not given, by
        id.
    @ivar upstream: The ILS's own SIP2 server (a Twisted client endpoint)
        when the institutions are to be served through the gateway
        (C{config convert --upstream}), else L{None}: the embedded SQLite
        system.
    """

    implementations: dict[str | None, str] = attrs.Factory(dict)
    loginDefaults: dict[
        str | None, tuple[EncodingSource | None, str | None]
    ] = attrs.Factory(dict)
    upstream: str | None = None


def _begin(
    report: Report, element: ET.Element, kind: str, key: str
) -> tuple[dict[str, str], str | None, str, TableKey, Table]:
    """
    Begin reading an C{<institution>} or a C{<login>}, which its C{id}
    names.

    @param kind: The table it becomes: C{institution} or C{account}.
    @param key: The table's key for the C{id}.
    @return: C{(attributes, id, label, table, values)}: its attributes
        but C{id}; its C{id} (L{None} after reporting that it has none);
        its label in problems and warnings; its table's key; and the
        table's values so far.
    """
    attributes = dict(element.attrib)
    ident = attributes.pop("id", None)
    tag = local(element.tag)
    label = '%s "%s"' % (tag, ident) if ident is not None else tag
    table = report.nextTable(kind)
    values: Table = {}
    if ident is None:
        report.problem(element, label, "id: is required", table, key)
    else:
        values[key] = ident
    return attributes, ident, label, table, values


def readInstitution(report: Report, element: ET.Element, institutions: Institutions) -> None:
    """
    Read an C{<institution>} and its C{<policy>} as an C{[[institution]]}
    table, and keep in C{institutions} what its logins inherit.
    """
    attributes, ident, label, table, values = _begin(report, element, "institution", "id")
    implementation = attributes.pop("implementation", None)
    parms = attributes.pop("parms", None)
    institutions.implementations[ident] = implementation or ""
    _readAdapter(report, element, label, table, values, implementation, parms,
                 institutions.upstream)
    report.notCarried(element, label, sorted(attributes))
    policy = None
    encoding: EncodingSource | None = None
    implementationEncoding: EncodingSource | None = None
    others = []
    itemList: str | None = None
    options: dict[str, tuple[ET.Element, str]] = {}
    for child in element:
        name = local(child.tag)
        if name == "policy" and policy is None:
            policy = child
        elif name == "encoding":
            encoding = (child, (child.text or "").strip())
        elif name == "implementation_config":
            implementationEncoding, itemList, options = readImplementationConfig(
                report, child, label, values, table
            )
        else:
            others.append("<%s>" % (name,))
    report.notCarried(element, label, others)
    if policy is None:
        report.warn(
            element,
            label,
            "has no <policy>: checkin, checkout, renewal, status update and offline"
            " are all off, as in Koha and Evergreen",
        )
        policy = ET.Element("policy")
        report.lines[policy] = report.line(element)
    readPolicy(report, policy, label, values, table)
    defaults, unread = institutionDefaults(report, label, table, implementation, options)
    if unread:
        report.notCarried(
            element,
            label,
            ["option %s" % (name,) for name in unread],
            " (Evergreen options sip2acs has no equivalent for)",
        )
    values["account-defaults"] = defaults
    report.add("institution", element, label, values)
    if ident is not None:
        if itemList is None and (implementation or "").startswith("OpenILS"):
            # OpenILS::SIP lists titles in 64 unless told otherwise.
            itemList = "title"
        # Evergreen: the login's encoding, else the institution's, else
        # its implementation_config's.
        institutions.loginDefaults[ident] = (encoding or implementationEncoding, itemList)


def _readAdapter(
    report: Report,
    element: ET.Element,
    label: str,
    table: TableKey,
    values: Table,
    implementation: str | None,
    parms: str | None,
    upstream: str | None,
) -> None:
    """
    Choose what serves an institution, and say why in the TOML: the
    gateway to the ILS's own SIP2 server when C{upstream} is given, else
    the embedded SQLite system (with a warning: its database starts
    empty).
    """
    named = '"%s"' % (implementation,) if implementation is not None else "(none)"
    system = (
        "Evergreen"
        if (implementation or "").startswith("OpenILS")
        else "Koha" if implementation == "ILS" else "the ILS"
    )
    if upstream is not None:
        values["adapter"] = "sip2"
        values["upstream"] = upstream
        report.note(
            table,
            "adapter",
            "the gateway (config convert --upstream): %s keeps the circulation"
            " (implementation %s) and sip2acs answers the kiosks in front of its own"
            " SIP2 server" % (system, named),
        )
        report.note(
            table,
            "upstream",
            "%s's SIP2 server, moved off the kiosks' port; add upstream-login and"
            " upstream-password-file: a <login> of its own for sip2acs" % (system,),
        )
        return
    values["adapter"] = "sqlite"
    report.warn(
        element,
        label,
        "implementation %s%s is not carried over: sip2acs serves this institution"
        ' with adapter = "sqlite", its embedded database (sip2acs.sqlite3): import'
        " your patrons and items into it (sip2acs db), or convert with --upstream"
        " ENDPOINT to stay in front of %s's own SIP2 server"
        % (named, ' with parms "%s"' % (parms,) if parms else "", system),
    )
    report.note(
        table,
        "adapter",
        "the embedded SQLite system: implementation %s is %s's own code; convert"
        " with --upstream ENDPOINT for the gateway to %s's SIP2 server instead"
        % (named, system, system),
    )


def readPolicy(
    report: Report,
    element: ET.Element,
    label: str,
    values: Table,
    table: TableKey,
) -> None:
    attributes = dict(element.attrib)
    if "renew" in attributes and "renewal" not in attributes:
        attributes["renewal"] = attributes.pop("renew")
    for xmlName, key in (
        ("checkin", "checkin"),
        ("checkout", "checkout"),
        ("renewal", "renewal"),
        ("status_update", "status-update"),
        ("offline", "offline"),
    ):
        value = attributes.pop(xmlName, None)
        if value is None:
            values[key] = False
            continue
        flag = report.valueOf(
            element, label, table, key, "policy " + xmlName, value, asBoolean, "true or false"
        )
        if flag is not None:
            values[key] = flag
    timeout = attributes.pop("timeout", None)
    if timeout is not None:
        tenths = timeout.strip()
        if not isDigits(tenths) or int(tenths) > 999:
            report.problem(
                element,
                label,
                "policy timeout: %r is not 0-999 tenths of a second" % (timeout,),
                table,
                "timeout-period",
            )
        else:
            values["timeout-period"] = int(tenths) / 10
            report.note(
                table,
                "timeout-period",
                'policy timeout="%s" (tenths of a second)' % (timeout,),
            )
    retries = attributes.pop("retries", None)
    if retries is not None:
        if not isDigits(retries.strip()) or int(retries) > 999:
            report.problem(
                element,
                label,
                "policy retries: %r is not a count from 0 to 999" % (retries,),
                table,
                "retries",
            )
        else:
            values["retries"] = int(retries)
    report.notCarried(
        element, label, ["policy %s" % (name,) for name in sorted(attributes)]
    )


def readImplementationConfig(
    report: Report,
    element: ET.Element,
    label: str,
    values: Table,
    table: TableKey,
) -> tuple[EncodingSource | None, str | None, dict[str, tuple[ET.Element, str]]]:
    """
    Evergreen's C{<implementation_config>}: C{currency}, C{encoding}
    and the C{msg64_summary_datatype} option are carried over; the other
    C{<options>} are given back for L{institutionDefaults}.

    @return: C{(encoding, itemList, options)}: the first two L{None}
        when not given; the other options by name, each with its
        element and value.
    """
    encoding: EncodingSource | None = None
    itemList: str | None = None
    options: dict[str, tuple[ET.Element, str]] = {}
    others = []
    for child in element:
        name = local(child.tag)
        if name == "currency":
            values["currency"] = (child.text or "").strip()
        elif name == "encoding":
            encoding = (child, (child.text or "").strip())
        elif name == "options":
            for option in child:
                optionName = option.get("name")
                if optionName == "msg64_summary_datatype":
                    value = option.get("value", "")
                    itemList = "barcode" if value == "barcode" else "title"
                elif optionName:
                    options[optionName] = (option, option.get("value", ""))
        else:
            others.append("<%s>" % (name,))
    report.notCarried(
        element,
        label,
        others,
        " (supported messages come from the adapter; overrides and scripts are"
        " Evergreen's own)",
    )
    return encoding, itemList, options

# -- accounts -------------------------------------------------------


def readAccount(
    report: Report,
    element: ET.Element,
    institutions: Institutions,
    globalDelimiter: str | None,
) -> None:
    """
    Read a C{<login>} as an C{[[account]]} table, with what its
    institution gives it (L{Institutions}) and the document's
    C{delimiter}.
    """
    attributes, ident, label, table, values = _begin(report, element, "account", "login")
    password = attributes.pop("password", None)
    if not password:
        report.problem(
            element, label, "password: is required and must not be empty",
            table, "password",
        )
    else:
        values["password"] = hashXMLPassword(password)
        if password != values["password"]:
            report.note(table, "password", "the password of the XML file, hashed")
    institution = attributes.pop("institution", None)
    if institution is None:
        report.problem(element, label, "institution: is required", table, "institution")
    else:
        values["institution"] = institution
    defaults = institutions.loginDefaults.get(institution, (None, None))
    encoding = attributes.pop("encoding", None)
    source = element
    if encoding is None and defaults[0] is not None:
        source, encoding = defaults[0]
    if encoding is not None:
        name = PERL_ENCODINGS.get(re.sub(r"[-_\s]", "", encoding.lower()))
        if name is None or name not in model.ENCODINGS:
            report.problem(
                element,
                label,
                "encoding: %r is not one sip2acs can send (%s)%s"
                % (
                    encoding,
                    ", ".join(model.ENCODINGS),
                    "" if source is element else " (from line %d)" % (report.line(source),),
                ),
                table,
                "encoding",
            )
        else:
            values["encoding"] = name
    terminator = attributes.pop("terminator", None)
    if terminator is None:
        if institutions.implementations.get(institution, "").startswith("OpenILS"):
            values["terminator"] = "CR"
            report.note(table, "terminator", "Evergreen always ended answers with CR")
        else:
            values["terminator"] = "CRLF"
            report.note(table, "terminator", "Koha's default when terminator is left out")
    elif terminator.strip().upper() in model.TERMINATORS:
        values["terminator"] = terminator.strip().upper()
    else:
        report.problem(
            element, label, "terminator: %r is not CR or CRLF" % (terminator,),
            table, "terminator",
        )
    for name in ("error-detect", "error_detect"):
        if attributes.pop(name, None) is not None:
            values["error-detection"] = "auto"
            report.note(
                table,
                "error-detection",
                "Koha and Evergreen follow the kiosk's checksums whatever error-detect says",
            )
    delimiter = attributes.pop("delimiter", None)
    if delimiter is None:
        delimiter = globalDelimiter
    if delimiter is not None:
        values["delimiter"] = delimiter
    location = attributes.pop("location_code", None)
    if location:
        values["location"] = location
    if defaults[1] is not None:
        values["item-list"] = defaults[1]
    others = readLoginOptions(report, element, label, table, attributes, values)
    report.notCarried(
        element,
        label,
        sorted(attributes) + ["<%s>" % (local(c.tag),) for c in others],
        " (per-login options sip2acs has no equivalent for)",
    )
    report.add("account", element, label, values)
