# -*- test-case-name: tests.test_xmlconfig -*-
"""
The walk through one SIPconfig.xml / oils_sip.xml document: L{parse}
reads its bytes into a tree that remembers each element's line,
L{readDocument} reads the tree into a L{Report} (handing each
C{<service>} to L{sip2acs.config.xmlimport.listeners}, each
C{<institution>} and C{<login>} to L{sip2acs.config.xmlimport.accounts}),
and L{translate} locates in the file a problem that L{parseConfig
<sip2acs.config.toml.parseConfig>} found in the tables read.
"""

import xml.etree.ElementTree as ET
from xml.parsers import expat

from sip2acs.config.problems import ConfigError, Problem
from sip2acs.config.xmlimport.accounts import (
    Institutions,
    readAccount,
    readInstitution,
)
from sip2acs.config.xmlimport.listeners import readListener
from sip2acs.config.xmlimport.options import XML_NAMES as _OPTION_NAMES
from sip2acs.config.xmlimport.report import Located, Report, local

NAMESPACE = "http://openncip.org/acs-config/1.0/"
"""
The namespace of an C{<acsconfig>} document.
"""

# What each key of the TOML tables was called in the XML, for problems
# found by parseConfig.
_XML_NAMES = {
    "listener": {
        "endpoint": "port",
        "login-timeout": "timeout",
        "idle-timeout": "client_timeout",
        "status-before-login": "allow_sc_status_then_login",
    },
    "institution": {
        "timeout-period": "policy timeout",
        "status-update": "policy status_update",
        "checkin": "policy checkin",
        "checkout": "policy checkout",
        "renewal": "policy renewal",
        "offline": "policy offline",
        "retries": "policy retries",
    },
    "account": {
        "login": "id",
        "location": "location_code",
        "error-detection": "error-detect",
        "item-list": "msg64_summary_datatype",
        **_OPTION_NAMES,
    },
}

_WHY = {
    "syspref_overrides": " (Koha system preferences)",
    "cache": " (Evergreen's memcached for the Multiplex personality)",
    "filters": " (SIP filters)",
}


def parse(path: str, raw: bytes) -> tuple[ET.Element, dict[ET.Element, int]]:
    """
    Parse XML bytes into an L{ElementTree <xml.etree.ElementTree>} tree,
    remembering the line where each element starts.

    @return: C{(root, lines)}, C{lines} mapping each element to its line.
    @raise ConfigError: The file is not well-formed XML.
    """
    builder = ET.TreeBuilder()
    lines: dict[ET.Element, int] = {}
    parser = expat.ParserCreate(namespace_separator="}")

    def name(raw: str) -> str:
        return "{" + raw if "}" in raw else raw

    def start(tag: str, attributes: dict[str, str]) -> None:
        element = builder.start(
            name(tag), {name(k): v for k, v in attributes.items()}
        )
        lines[element] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(name(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as e:
        raise ConfigError(
            [
                "%s:%d: is not well-formed XML: %s (column %d)"
                % (path, e.lineno, expat.ErrorString(e.code), e.offset + 1)
            ],
            path,
        ) from e
    return builder.close(), lines


def readDocument(report: Report, root: ET.Element, upstream: str | None = None) -> None:
    """
    Read an C{<acsconfig>} tree into C{report}: its institutions first,
    then its logins (which inherit from their institution), then its
    services; and warn of everything else that is not carried over.

    @param upstream: The ILS's own SIP2 server (a Twisted client
        endpoint), to serve every institution through the gateway; L{None}
        for the embedded SQLite system.
    """
    if local(root.tag) != "acsconfig":
        report.problem(
            root,
            None,
            "is not a SIPconfig.xml or oils_sip.xml: its root element is <%s>, "
            "not <acsconfig>" % (local(root.tag),),
        )
        return
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else None
    if namespace not in (None, NAMESPACE):
        report.warn(
            root,
            "acsconfig",
            "namespace %s is not %s; read as SIPconfig.xml anyway" % (namespace, NAMESPACE),
        )
    attributes = dict(root.attrib)
    globalDelimiter = attributes.pop("delimiter", None)
    globalTimeout = attributes.pop("timeout", None)
    attributes.pop("xmlns", None)
    report.notCarried(root, "acsconfig", sorted(attributes))
    children: dict[str, list[ET.Element]] = {}
    for child in root:
        children.setdefault(local(child.tag), []).append(child)
    for element in children.pop("delimiter", []):
        globalDelimiter = (element.text or "").strip()
    for element in children.pop("timeout", []):
        globalTimeout = (element.text or "").strip()
    # Both projects detect checksums per message whatever <error-detect>
    # says: error-detection = "auto" on every account.
    children.pop("error-detect", None)
    for element in children.pop("server-params", []):
        report.notCarried(
            element,
            "server-params",
            sorted(element.attrib) + ["<%s>" % local(c.tag) for c in element],
            " (Net::Server settings: sip2acs is one process with no pool to size;"
            " logging, --uid/--gid and --pidfile are twistd options, see tap.md)",
        )
    institutions = [
        i
        for section in children.pop("institutions", [])
        for i in readSection(report, section, "institution")
    ]
    defaults = Institutions(upstream=upstream)
    for element in institutions:
        readInstitution(report, element, defaults)
    accounts = [
        a for section in children.pop("accounts", []) for a in readSection(report, section, "login")
    ]
    firstInstitution = None
    if accounts:
        first = min(accounts, key=lambda a: a.get("id", ""))
        firstInstitution = (first.get("institution"), first.get("id"))
    for element in accounts:
        readAccount(report, element, defaults, globalDelimiter)
    for section in children.pop("listeners", []):
        for element in readSection(report, section, "service"):
            readListener(report, element, firstInstitution, globalTimeout)
    for name, elements in children.items():
        for element in elements:
            report.notCarried(element, None, ["<%s>" % (name,)], _WHY.get(name, ""))


def readSection(report: Report, element: ET.Element, kind: str) -> list[ET.Element]:
    """
    The C{kind} elements of a section (C{<listeners>}, C{<accounts>},
    C{<institutions>}), warning of any other.
    """
    found = []
    for child in element:
        if local(child.tag) == kind:
            found.append(child)
        else:
            report.notCarried(
                child,
                local(element.tag),
                ["<%s>" % (local(child.tag),)],
                " (only <%s> is read here)" % (kind,),
            )
    return found


# What to say instead when a whole kind of table is missing.
_NONE_OF = {
    "listener": "<listeners>: no RAW or telnet <service> to listen on",
    "institution": "<institutions>: at least one <institution> is needed"
    " (Koha 25.11 and later keep institutions and SIP accounts in its"
    " database instead: write them as [[institution]] and [[account]]"
    " tables of a TOML file)",
}


def translate(report: Report, problem: Problem) -> Located | None:
    """
    Locate a problem reported by L{parseConfig} in the XML file, by the
    table and key it names.

    @return: C{(line, text)}, or L{None} for a problem already
        reported while reading.
    """
    if problem.section not in report.origins or problem.index is None:
        if problem.key is None and problem.section is not None:
            if problem.section in report.troubled:
                # "At least one is needed", after reporting why one is not.
                return None
            text = _NONE_OF.get(problem.section, str(problem))
        else:
            text = str(problem)
        return 0, "%s: %s" % (report.path, text)
    kind, index, key = problem.section, problem.index, problem.key
    if (kind, index, key) in report.reported:
        return None
    element, label = report.origins[kind][index]
    text = problem.text
    if key is not None:
        text = "%s: %s" % (_XML_NAMES[kind].get(key, key), text)
    return report.line(element), "%s %s" % (report.at(element, label), text)
