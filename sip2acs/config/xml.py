# -*- test-case-name: tests.test_xmlconfig -*-
"""
Koha's C{SIPconfig.xml} and Evergreen's C{oils_sip.xml}: read them as a
sip2acs configuration, or convert them to TOML.

The TOML writer (L{toTOML}, L{tomlString}, L{tomlValue}, L{tomlKey}) is
L{sip2acs.config.writer}; its names are importable from here too.

Both projects inherit one XML dialect from SIPServer: an C{<acsconfig>}
document (usually in the C{http://openncip.org/acs-config/1.0/}
namespace; files without it are read the same way) with C{<listeners>} of
C{<service>}, C{<accounts>} of C{<login>} and C{<institutions>} of
C{<institution>}, each with a C{<policy>}. L{convertXML} turns one into the
dictionary shape that L{sip2acs.config.parseConfig} validates, so both
formats share their validation; the problems it finds are reported at
their place in the XML file (C{SIPconfig.xml:31: login "term1":
encoding: ...}).

What sip2acs has no equivalent for (Net::Server parameters, Koha's
per-login options, Evergreen's C{implementation_config}, ...) is not an
error: it is listed in warnings, so the operator knows what was not
carried over. The rules, in short (tap.md has the full table):

  - C{<service port="IP:PORT/tcp">} becomes C{endpoint =
    "tcp:PORT:interface=IP"}; without an IP the listener stays on
    127.0.0.1 (SIPServer listened everywhere), with a warning.
    C{transport} RAW and telnet are kept, http (never implemented by
    either project) is skipped. C{timeout} is the login timeout,
    C{client_timeout} the idle timeout.
  - C{<policy timeout="600">} is in tenths of a second, as the 98
    message sends it: C{timeout-period = 60.0}. Policy flags left out are
    off, as in Koha and Evergreen.
  - C{<login password="...">} is hashed when the file is read: the clear
    password is never written to the TOML.
  - C{terminator}: CR or CRLF as written; left out, CRLF for Koha (whose
    default it is) and CR for Evergreen (C{implementation="OpenILS::SIP"}).
  - C{error-detect}: Koha and Evergreen switch checksums on and off with
    what the kiosk sends whatever it says, which is C{error-detection =
    "auto"}.
"""

import hmac
import ipaddress
import math
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import TextIO, TypeAlias
from xml.parsers import expat

import attrs
from twisted.logger import Logger

from sip2acs.config import model as _config
from sip2acs.config.model import Config, ConfigError
from sip2acs.config.toml import parseConfig
from sip2acs.config.writer import (
    TableKey,
    TOMLValue,
    tomlKey as tomlKey,
    tomlString as tomlString,
    tomlValue as tomlValue,
    toTOML as toTOML,
)
from sip2acs.passwords import hashPassword, isHashed

__all__ = [
    "NAMESPACE",
    "Conversion",
    "looksLikeXML",
    "convertXML",
    "loadXMLConfig",
    "toTOML",
    "tomlString",
    "tomlValue",
    "tomlKey",
    "convertFile",
]

NAMESPACE = "http://openncip.org/acs-config/1.0/"

_Located: TypeAlias = tuple[int, str]
"""
A problem or warning: the line of the XML file it is about, and its text.
"""

_EncodingSource: TypeAlias = tuple[ET.Element, str]
"""
An encoding name and the element that gave it.
"""

log = Logger()

_TRUE = ("true", "yes", "y", "enabled", "on")
_FALSE = ("false", "no", "n", "disabled", "off", "")

_ENCODINGS = {
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
    },
}

_KINDS = {"service": "listener", "institution": "institution", "login": "account"}

_PROBLEM = re.compile(r"^(listener|institution|account)\[(\d+)\](?:\.([\w-]+))?: (.*)$", re.DOTALL)

_hashKey = os.urandom(32)
_hashes: dict[bytes, str] = {}


def _hash(password: str) -> str:
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


@attrs.frozen
class Conversion:
    """
    A SIPconfig.xml / oils_sip.xml file read as a sip2acs configuration.

    @ivar source: The file's path.
    @ivar data: The configuration as TOML-shaped data: what
        L{parseConfig} takes and L{toTOML} writes.
    @ivar config: The validated L{Config}.
    @ivar warnings: What was not carried over, or was changed, each with
        its place in the file.
    @ivar notes: C{(table, index) -> (origin, {key: comment})}: where each
        table came from and how some of its values were derived, for the
        comments of L{toTOML}.
    """

    source: str
    data: dict[str, list[dict[str, TOMLValue]]]
    config: Config
    warnings: tuple[str, ...]
    notes: dict[TableKey, tuple[str, dict[str, str]]] = attrs.field(eq=False, repr=False)


def looksLikeXML(path: str, raw: bytes) -> bool:
    """
    Whether a configuration file is XML rather than TOML: its name ends in
    C{.xml}, or its text starts with C{<}.

    @type raw: L{bytes}
    """
    if str(path).lower().endswith(".xml"):
        return True
    text = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1] == b"<"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse(path: str, raw: bytes) -> tuple[ET.Element, dict[ET.Element, int]]:
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


def _digits(value: str) -> bool:
    """
    Whether C{value} is a decimal count, like C{"600"}.
    """
    return re.match(r"^[0-9]+$", value) is not None


def _bool(value: str) -> bool | None:
    """
    A Koha or Evergreen boolean (C{true}, C{enabled}, C{1}, ...), or
    L{None} for something else.
    """
    value = value.strip().lower()
    if value in _TRUE or (_digits(value) and int(value) != 0):
        return True
    if value in _FALSE or (_digits(value) and int(value) == 0):
        return False
    return None


def _number(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


class _Reader:
    """
    Walks one C{<acsconfig>} tree and builds the TOML-shaped data, with
    problems and warnings located in the file.
    """

    def __init__(self, path: str, lines: dict[ET.Element, int]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[_Located] = []
        self.warnings: list[_Located] = []
        self.data: dict[str, list[dict[str, TOMLValue]]] = {
            "listener": [],
            "institution": [],
            "account": [],
        }
        # The element and label each table came from.
        self.origins: dict[str, list[tuple[ET.Element, str]]] = {
            "listener": [],
            "institution": [],
            "account": [],
        }
        self.notes: dict[TableKey, dict[str, str]] = {}
        # The (kind, index, key) of each problem reported while reading.
        self.reported: set[tuple[str, int, str | None]] = set()
        # The kinds of table with a problem (None: at the document).
        self.troubled: set[str | None] = set()
        self.globalDelimiter: str | None = None
        self.globalTimeout: str | None = None
        # Each institution's implementation, by id (None: an institution
        # without one).
        self.implementations: dict[str | None, str] = {}
        # Each institution's encoding and item list for its logins, by id.
        self.institutionDefaults: dict[
            str | None, tuple[_EncodingSource | None, str | None]
        ] = {}

    # -- reporting ------------------------------------------------------

    def line(self, element: ET.Element) -> int:
        return self.lines.get(element, 0)

    def at(self, element: ET.Element, label: str | None = None) -> str:
        where = "%s:%d:" % (self.path, self.line(element))
        if label:
            where += " " + label + ":"
        return where

    def problem(
        self,
        element: ET.Element,
        label: str | None,
        text: str,
        table: TableKey | None = None,
        key: str | None = None,
    ) -> None:
        self.problems.append((self.line(element), "%s %s" % (self.at(element, label), text)))
        self.troubled.add(_KINDS.get((label or "").partition(" ")[0]))
        if table is not None:
            self.reported.add(table + (key,))

    def warn(self, element: ET.Element, label: str | None, text: str) -> None:
        self.warnings.append((self.line(element), "%s %s" % (self.at(element, label), text)))

    def notCarried(
        self, element: ET.Element, label: str | None, names: Iterable[str], why: str = ""
    ) -> None:
        unique = list(dict.fromkeys(names))
        if unique:
            self.warn(
                element,
                label,
                "not carried over: %s%s" % (", ".join(unique), why),
            )

    def note(self, table: TableKey, key: str, text: str) -> None:
        self.notes.setdefault(table, {})[key] = text

    # -- the document ---------------------------------------------------

    def read(self, root: ET.Element) -> None:
        if _local(root.tag) != "acsconfig":
            self.problem(
                root,
                None,
                "is not a SIPconfig.xml or oils_sip.xml: its root element is <%s>, "
                "not <acsconfig>" % (_local(root.tag),),
            )
            return
        namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else None
        if namespace not in (None, NAMESPACE):
            self.warn(
                root,
                "acsconfig",
                "namespace %s is not %s; read as SIPconfig.xml anyway" % (namespace, NAMESPACE),
            )
        attributes = dict(root.attrib)
        self.globalDelimiter = attributes.pop("delimiter", None)
        self.globalTimeout = attributes.pop("timeout", None)
        attributes.pop("xmlns", None)
        self.notCarried(root, "acsconfig", sorted(attributes))
        children: dict[str, list[ET.Element]] = {}
        for child in root:
            children.setdefault(_local(child.tag), []).append(child)
        for element in children.pop("delimiter", []):
            self.globalDelimiter = (element.text or "").strip()
        for element in children.pop("timeout", []):
            self.globalTimeout = (element.text or "").strip()
        # Both projects detect checksums per message whatever <error-detect>
        # says: error-detection = "auto" on every account.
        children.pop("error-detect", None)
        for element in children.pop("server-params", []):
            self.notCarried(
                element,
                "server-params",
                sorted(element.attrib) + ["<%s>" % _local(c.tag) for c in element],
                " (Net::Server settings: sip2acs is one process with no pool to size;"
                " logging, --uid/--gid and --pidfile are twistd options, see tap.md)",
            )
        institutions = [
            i
            for section in children.pop("institutions", [])
            for i in self.section(section, "institution")
        ]
        for element in institutions:
            self.institution(element)
        accounts = [
            a for section in children.pop("accounts", []) for a in self.section(section, "login")
        ]
        firstInstitution = None
        if accounts:
            first = min(accounts, key=lambda a: a.get("id", ""))
            firstInstitution = (first.get("institution"), first.get("id"))
        for element in accounts:
            self.account(element)
        for section in children.pop("listeners", []):
            for element in self.section(section, "service"):
                self.listener(element, firstInstitution)
        for name, elements in children.items():
            for element in elements:
                self.notCarried(element, None, ["<%s>" % (name,)], _WHY.get(name, ""))

    def section(self, element: ET.Element, kind: str) -> list[ET.Element]:
        found = []
        for child in element:
            if _local(child.tag) == kind:
                found.append(child)
            else:
                self.notCarried(
                    child,
                    _local(element.tag),
                    ["<%s>" % (_local(child.tag),)],
                    " (only <%s> is read here)" % (kind,),
                )
        return found

    # -- listeners ------------------------------------------------------

    def listener(
        self, element: ET.Element, firstInstitution: tuple[str | None, str | None] | None
    ) -> None:
        attributes = dict(element.attrib)
        port = attributes.pop("port", None)
        label = 'service "%s"' % (port,) if port is not None else "service"
        index = len(self.data["listener"])
        table = ("listener", index)
        values: dict[str, TOMLValue] = {}
        transport = attributes.pop("transport", None)
        protocol = attributes.pop("protocol", None)
        if transport is not None and transport.strip().lower() == "http":
            self.warn(
                element,
                label,
                "skipped: the http transport was never implemented by Koha or Evergreen",
            )
            return
        if port is None:
            self.problem(
                element, label, "port: is required, like 127.0.0.1:6001/tcp", table, "endpoint"
            )
        else:
            endpoint, interface = self.endpoint(element, label, port, table)
            if endpoint is not None:
                values["endpoint"] = endpoint
                if interface is None:
                    self.warn(
                        element,
                        label,
                        "port gives no address: sip2acs listens on 127.0.0.1 only"
                        " (SIPServer listened on every address); where kiosks"
                        ' connect from other machines write port="0.0.0.0:%s/tcp"'
                        " (or the address they connect to)" % (port.split("/")[0],),
                    )
                    self.note(
                        table, "endpoint", "port=%s: loopback only, see the warning" % (port,)
                    )
        if transport is None:
            self.problem(element, label, "transport: is required: RAW or telnet")
        else:
            name = transport.strip().lower()
            if name not in ("raw", "telnet"):
                self.problem(
                    element, label, "transport: %r is not RAW, telnet or http" % (transport,)
                )
            elif name not in _config.TRANSPORTS:
                self.problem(
                    element,
                    label,
                    "transport: %s is not supported by this sip2acs (it serves: %s);"
                    " remove this <service> or make it RAW"
                    % (transport, ", ".join(_config.TRANSPORTS)),
                )
            else:
                values["transport"] = name
        if protocol is not None and not protocol.strip().upper().startswith("SIP/"):
            self.warn(element, label, "protocol %s is read as SIP/2.00" % (protocol,))
        timeout = attributes.pop("timeout", None)
        if timeout is None or _number(timeout) == 0:
            # Koha and Evergreen fall back on a global timeout, then 30 s.
            timeout = self.globalTimeout
        if timeout is not None:
            seconds = _number(timeout)
            if seconds is None:
                self.problem(
                    element, label, "timeout: %r is not a number of seconds" % (timeout,),
                    table, "login-timeout",
                )
            elif seconds:
                values["login-timeout"] = seconds
        clientTimeout = attributes.pop("client_timeout", None)
        if clientTimeout is None:
            self.warn(
                element,
                label,
                "no client_timeout: Koha and Evergreen then closed connections idle for"
                " timeout (%s s); sip2acs closes them after idle-timeout = 600 s, longer"
                " than the 5-7 minutes between kiosks' 99 keep-alives"
                % (timeout if timeout is not None else 30,),
            )
        else:
            seconds = _number(clientTimeout)
            if seconds is None:
                self.problem(
                    element,
                    label,
                    "client_timeout: %r is not a number of seconds" % (clientTimeout,),
                    table,
                    "idle-timeout",
                )
            else:
                values["idle-timeout"] = seconds
                if not seconds:
                    self.note(table, "idle-timeout", "client_timeout=0: never")
        before = attributes.pop("allow_sc_status_then_login", None)
        if before is not None:
            flag = _bool(before)
            if flag is None:
                self.problem(
                    element,
                    label,
                    "allow_sc_status_then_login: %r is not enabled or disabled" % (before,),
                    table,
                    "status-before-login",
                )
            else:
                values["status-before-login"] = flag
                if flag and firstInstitution is not None and firstInstitution[0]:
                    # Evergreen answers a 99 before login with the policy of
                    # the alphabetically first account's institution.
                    values["institution"] = firstInstitution[0]
                    self.note(
                        table,
                        "institution",
                        "a 99 before login got the policy of the alphabetically first"
                        ' login\'s institution ("%s")' % (firstInstitution[1],),
                    )
        self.notCarried(element, label, sorted(attributes))
        self.data["listener"].append(values)
        self.origins["listener"].append((element, label))

    def endpoint(
        self, element: ET.Element, label: str, port: str, table: TableKey
    ) -> tuple[str | None, str | None]:
        """
        Net::Server's C{[host:]port[/proto]} as a Twisted endpoint.

        @return: C{(endpoint, interface)}; C{(None, None)} after reporting
            a problem.
        """
        match = re.match(
            r"^\s*(?:(?P<host>\[[^\]]*\]|[^:/\[\]]*):)?(?P<port>\d+)(?:/(?P<proto>\w+))?\s*$",
            port,
        )
        if match is None:
            self.problem(
                element,
                label,
                "port: %r is not [ADDRESS:]PORT/tcp, like 127.0.0.1:6001/tcp" % (port,),
                table,
                "endpoint",
            )
            return None, None
        number = int(match.group("port"))
        proto = (match.group("proto") or "tcp").lower()
        if not 0 < number <= 65535:
            self.problem(
                element, label, "port: %d is not a TCP port (1-65535)" % (number,),
                table, "endpoint",
            )
            return None, None
        if proto != "tcp":
            self.problem(
                element, label, "port: %s is not supported, only tcp" % (proto,),
                table, "endpoint",
            )
            return None, None
        host = match.group("host")
        if host is not None:
            host = host.strip("[]")
        if not host:
            return "tcp:%d:interface=127.0.0.1" % (number,), None
        if host in ("*", "0"):
            host = "0.0.0.0"
        elif host.lower() == "localhost":
            host = "127.0.0.1"
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", host):
                self.problem(
                    element, label, "port: %r is not an address" % (host,), table, "endpoint"
                )
                return None, None
        return "tcp:%d:interface=%s" % (number, host.replace(":", "\\:")), host

    # -- institutions ---------------------------------------------------

    def institution(self, element: ET.Element) -> None:
        attributes = dict(element.attrib)
        ident = attributes.pop("id", None)
        label = 'institution "%s"' % (ident,) if ident is not None else "institution"
        index = len(self.data["institution"])
        table = ("institution", index)
        values: dict[str, TOMLValue] = {}
        if ident is None:
            self.problem(element, label, "id: is required", table, "id")
        else:
            values["id"] = ident
        implementation = attributes.pop("implementation", None)
        parms = attributes.pop("parms", None)
        self.implementations[ident] = implementation or ""
        values["adapter"] = "sqlite"
        self.warn(
            element,
            label,
            "implementation %s%s is not carried over: sip2acs serves this institution"
            ' with adapter = "sqlite", its embedded database (sip2acs.sqlite3): import'
            " your patrons and items into it (sip2acs db) or name your own adapter"
            % (
                '"%s"' % (implementation,) if implementation is not None else "(none)",
                ' with parms "%s"' % (parms,) if parms else "",
            ),
        )
        self.note(
            table,
            "adapter",
            "was implementation=%s: point this at your circulation system" % (implementation,),
        )
        self.notCarried(element, label, sorted(attributes))
        policy = None
        encoding: _EncodingSource | None = None
        implementationEncoding: _EncodingSource | None = None
        others = []
        itemList: str | None = None
        for child in element:
            name = _local(child.tag)
            if name == "policy" and policy is None:
                policy = child
            elif name == "encoding":
                encoding = (child, (child.text or "").strip())
            elif name == "implementation_config":
                implementationEncoding, itemList = self.implementationConfig(
                    child, label, values, table
                )
            else:
                others.append("<%s>" % (name,))
        self.notCarried(element, label, others)
        if policy is None:
            self.warn(
                element,
                label,
                "has no <policy>: checkin, checkout, renewal, status update and offline"
                " are all off, as in Koha and Evergreen",
            )
            policy = ET.Element("policy")
            self.lines[policy] = self.line(element)
        self.policy(policy, label, values, table)
        self.data["institution"].append(values)
        self.origins["institution"].append((element, label))
        if ident is not None:
            if itemList is None and (implementation or "").startswith("OpenILS"):
                # OpenILS::SIP lists titles in 64 unless told otherwise.
                itemList = "title"
            # Evergreen: the login's encoding, else the institution's, else
            # its implementation_config's.
            self.institutionDefaults[ident] = (encoding or implementationEncoding, itemList)

    def policy(
        self,
        element: ET.Element,
        label: str,
        values: dict[str, TOMLValue],
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
            flag = _bool(value)
            if flag is None:
                self.problem(
                    element,
                    label,
                    "policy %s: %r is not true or false" % (xmlName, value),
                    table,
                    key,
                )
            else:
                values[key] = flag
        timeout = attributes.pop("timeout", None)
        if timeout is not None:
            tenths = timeout.strip()
            if not _digits(tenths) or int(tenths) > 999:
                self.problem(
                    element,
                    label,
                    "policy timeout: %r is not 0-999 tenths of a second" % (timeout,),
                    table,
                    "timeout-period",
                )
            else:
                values["timeout-period"] = int(tenths) / 10
                self.note(
                    table,
                    "timeout-period",
                    'policy timeout="%s" (tenths of a second)' % (timeout,),
                )
        retries = attributes.pop("retries", None)
        if retries is not None:
            if not _digits(retries.strip()) or int(retries) > 999:
                self.problem(
                    element,
                    label,
                    "policy retries: %r is not a count from 0 to 999" % (retries,),
                    table,
                    "retries",
                )
            else:
                values["retries"] = int(retries)
        self.notCarried(
            element, label, ["policy %s" % (name,) for name in sorted(attributes)]
        )

    def implementationConfig(
        self,
        element: ET.Element,
        label: str,
        values: dict[str, TOMLValue],
        table: TableKey,
    ) -> tuple[_EncodingSource | None, str | None]:
        """
        Evergreen's C{<implementation_config>}: C{currency}, C{encoding}
        and the C{msg64_summary_datatype} option are carried over.

        @return: C{(encoding, itemList)}, each L{None} when not given.
        """
        encoding: _EncodingSource | None = None
        itemList: str | None = None
        others = []
        for child in element:
            name = _local(child.tag)
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
                    else:
                        others.append("option %s" % (optionName,))
            else:
                others.append("<%s>" % (name,))
        self.notCarried(
            element,
            label,
            others,
            " (supported messages come from the adapter; overrides and scripts are"
            " Evergreen's own)",
        )
        return encoding, itemList

    # -- accounts -------------------------------------------------------

    def account(self, element: ET.Element) -> None:
        attributes = dict(element.attrib)
        ident = attributes.pop("id", None)
        label = 'login "%s"' % (ident,) if ident is not None else "login"
        index = len(self.data["account"])
        table = ("account", index)
        values: dict[str, TOMLValue] = {}
        if ident is None:
            self.problem(element, label, "id: is required", table, "login")
        else:
            values["login"] = ident
        password = attributes.pop("password", None)
        if not password:
            self.problem(
                element, label, "password: is required and must not be empty",
                table, "password",
            )
        else:
            values["password"] = _hash(password)
            if password != values["password"]:
                self.note(table, "password", "the password of the XML file, hashed")
        institution = attributes.pop("institution", None)
        if institution is None:
            self.problem(element, label, "institution: is required", table, "institution")
        else:
            values["institution"] = institution
        defaults = self.institutionDefaults.get(institution, (None, None))
        encoding = attributes.pop("encoding", None)
        source = element
        if encoding is None and defaults[0] is not None:
            source, encoding = defaults[0]
        if encoding is not None:
            name = _ENCODINGS.get(re.sub(r"[-_\s]", "", encoding.lower()))
            if name is None or name not in _config.ENCODINGS:
                self.problem(
                    element,
                    label,
                    "encoding: %r is not one sip2acs can send (%s)%s"
                    % (
                        encoding,
                        ", ".join(_config.ENCODINGS),
                        "" if source is element else " (from line %d)" % (self.line(source),),
                    ),
                    table,
                    "encoding",
                )
            else:
                values["encoding"] = name
        terminator = attributes.pop("terminator", None)
        if terminator is None:
            if self.implementations.get(institution, "").startswith("OpenILS"):
                values["terminator"] = "CR"
                self.note(table, "terminator", "Evergreen always ended answers with CR")
            else:
                values["terminator"] = "CRLF"
                self.note(table, "terminator", "Koha's default when terminator is left out")
        elif terminator.strip().upper() in _config.TERMINATORS:
            values["terminator"] = terminator.strip().upper()
        else:
            self.problem(
                element, label, "terminator: %r is not CR or CRLF" % (terminator,),
                table, "terminator",
            )
        for name in ("error-detect", "error_detect"):
            if attributes.pop(name, None) is not None:
                values["error-detection"] = "auto"
                self.note(
                    table,
                    "error-detection",
                    "Koha and Evergreen follow the kiosk's checksums whatever error-detect says",
                )
        delimiter = attributes.pop("delimiter", None)
        if delimiter is None:
            delimiter = self.globalDelimiter
        if delimiter is not None:
            values["delimiter"] = delimiter
        location = attributes.pop("location_code", None)
        if location:
            values["location"] = location
        if defaults[1] is not None:
            values["item-list"] = defaults[1]
        self.notCarried(
            element,
            label,
            sorted(attributes) + ["<%s>" % (_local(c.tag),) for c in element],
            " (per-login options sip2acs has no equivalent for)",
        )
        self.data["account"].append(values)
        self.origins["account"].append((element, label))

    # -- problems found by parseConfig ----------------------------------

    def translate(self, problem: str) -> _Located | None:
        """
        Locate a problem reported by L{parseConfig} in the XML file.

        @return: C{(line, text)}, or L{None} for a problem already
            reported while reading.
        """
        match = _PROBLEM.match(problem)
        if match is None:
            if problem.partition(":")[0] in self.troubled:
                # "At least one is needed", after reporting why one is not.
                return None
            text = {
                "listener": "<listeners>: no RAW or telnet <service> to listen on",
                "institution": "<institutions>: at least one <institution> is needed"
                " (Koha 25.11 and later keep institutions and SIP accounts in its"
                " database instead: write them as [[institution]] and [[account]]"
                " tables of a TOML file)",
            }.get(problem.partition(":")[0], problem)
            return 0, "%s: %s" % (self.path, text)
        kind, number, key, text = match.groups()
        index = int(number)
        if (kind, index, key) in self.reported:
            return None
        element, label = self.origins[kind][index]
        if key is not None:
            text = "%s: %s" % (_XML_NAMES[kind].get(key, key), text)
        return self.line(element), "%s %s" % (self.at(element, label), text)


_WHY = {
    "syspref_overrides": " (Koha system preferences)",
    "cache": " (Evergreen's memcached for the Multiplex personality)",
    "filters": " (SIP filters)",
}


def convertXML(path: str, raw: bytes | None = None) -> Conversion:
    """
    Read a SIPconfig.xml or oils_sip.xml file as a sip2acs configuration.

    @param path: The file (also used in problems and warnings).
    @param raw: The file's bytes, when already read.
    @rtype: L{Conversion}
    @raise ConfigError: With every problem found, each located in the file.
    """
    if raw is None:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ConfigError(["cannot read it: %s" % (e.strerror,)], path) from e
    root, lines = _parse(path, raw)
    reader = _Reader(path, lines)
    reader.read(root)
    problems = list(reader.problems)
    if _local(root.tag) != "acsconfig":
        raise ConfigError([text for line, text in problems], path)
    try:
        config = parseConfig(reader.data, path)
    except ConfigError as e:
        for problem in e.problems:
            located = reader.translate(problem)
            if located is not None:
                problems.append(located)
    if problems:
        problems.sort(key=lambda p: p[0])
        raise ConfigError([text for line, text in problems], path)
    warnings = tuple(text for line, text in sorted(reader.warnings, key=lambda w: w[0]))
    notes: dict[TableKey, tuple[str, dict[str, str]]] = {}
    for kind, origins in reader.origins.items():
        for index, (element, label) in enumerate(origins):
            origin = "%s:%d: <%s> %s" % (
                os.path.basename(path),
                reader.line(element),
                _local(element.tag),
                label.partition(" ")[2],
            )
            notes[(kind, index)] = (origin.rstrip(), reader.notes.get((kind, index), {}))
    return Conversion(path, reader.data, config, warnings, notes)


def loadXMLConfig(
    path: str, raw: bytes | None = None, warnings: list[str] | None = None
) -> Config:
    """
    L{convertXML}'s configuration, for L{sip2acs.config.loadConfig}.

    @param warnings: A list to append the warnings to; when L{None} they
        are logged.
    @rtype: L{Config}
    """
    conversion = convertXML(path, raw)
    if warnings is None:
        for warning in conversion.warnings:
            log.warn("{configWarning}", configWarning=warning)
    else:
        warnings.extend(conversion.warnings)
    return conversion.config


def convertFile(
    path: str,
    output: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """
    C{sip2acs config convert}: write the TOML equivalent of a
    SIPconfig.xml or oils_sip.xml file to C{output} (standard output when
    L{None}), and its warnings to standard error.

    @return: The exit status: 0, or 1 when the file has problems (then
        nothing is written).
    """
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        print(ConfigError(["cannot read it: %s" % (e.strerror,)], path), file=stderr)
        return 1
    if not looksLikeXML(path, raw):
        print(
            "%s: is not a SIPconfig.xml or oils_sip.xml file (XML); a TOML file needs"
            " no conversion: check it with `sip2acs config check`" % (path,),
            file=stderr,
        )
        return 1
    try:
        conversion = convertXML(path, raw)
    except ConfigError as e:
        print(e, file=stderr)
        return 1
    text = toTOML(conversion)
    for warning in conversion.warnings:
        print("warning: %s" % (warning,), file=stderr)
    if output is None:
        stdout.write(text)
        return 0
    if os.path.exists(output) and os.path.samefile(output, path):
        print("%s: will not write over the file being converted" % (output,), file=stderr)
        return 1
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        print("%s: cannot write it: %s" % (output, e.strerror), file=stderr)
        return 1
    config = conversion.config
    print(
        "wrote %s: %d listener(s), %d institution(s), %d account(s); %d warning(s)%s"
        % (
            output,
            len(config.listeners),
            len(config.institutions),
            len(config.accounts),
            len(conversion.warnings),
            ", also at the top of the file" if conversion.warnings else "",
        ),
        file=stderr,
    )
    return 0
