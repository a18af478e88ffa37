# -*- test-case-name: tests.test_xmlconfig -*-
"""
Koha's C{SIPconfig.xml} and Evergreen's C{oils_sip.xml}: read them as a
sip2acs configuration, or convert them to TOML.

The TOML writer (L{toTOML}, L{tomlString}, L{tomlValue}, L{tomlKey}) is
L{sip2acs.config.writer}; its names are importable from here too. The
reading itself is the L{sip2acs.config.xmlimport} package: this module is
its public face.

Both projects inherit one XML dialect from SIPServer: an C{<acsconfig>}
document (usually in the C{http://openncip.org/acs-config/1.0/}
namespace; files without it are read the same way) with C{<listeners>} of
C{<service>}, C{<accounts>} of C{<login>} and C{<institutions>} of
C{<institution>}, each with a C{<policy>}. L{convertXML} turns one into the
dictionary shape that L{sip2acs.config.parseConfig} validates, so both
formats share their validation; the problems it finds are reported at
their place in the XML file (C{SIPconfig.xml:31: login "term1":
encoding: ...}).

What sip2acs has no equivalent for (Net::Server parameters, Koha's system
preference overrides, Evergreen's C{bootstrap}, ...) is not an error: it
is listed in warnings, so the operator knows what was not carried over.
Koha's per-login options and Evergreen's C{<options>} are carried over
as per-account behaviour keys (L{sip2acs.config.xmlimport.options}), Koha's
field templates translated (L{sip2acs.config.xmlimport.toolkit}). The
rules, in short (tap.md has the full tables):

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
  - Each institution is served by the embedded SQLite system, or, with
    C{upstream} (C{config convert --upstream ENDPOINT}), by the gateway to
    the ILS's own SIP2 server; the TOML says which, and why.
"""

import os
import re
import sys
from typing import Any, TextIO, cast

import attrs
from twisted.logger import Logger

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
from sip2acs.config.xmlimport.document import (
    NAMESPACE as NAMESPACE,
    parse,
    readDocument,
    translate,
)
from sip2acs.config.xmlimport.report import Report, local

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

log = Logger()


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



def _portClashes(report: Report, upstream: str) -> None:
    """
    Warn of a converted listener on the port of the upstream, on this
    machine: the ILS's SIP2 server must move off the kiosks' port.
    """
    match = re.match(r"^(?:tcp|tls):(?:.*:)?port=(\d+)", upstream)
    host = re.search(r"(?:^|:)host=([^:]+)", upstream)
    if match is None or host is None:
        return
    if host.group(1) not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return
    for index, table in enumerate(report.data["listener"]):
        endpoint = str(table.get("endpoint", ""))
        if re.match(r"^tcp:%s:" % (match.group(1),), endpoint):
            element, label = report.origins["listener"][index]
            report.warn(
                element,
                label,
                "listens on port %s, where --upstream %s expects the ILS's own SIP2"
                " server: move one of them (the ILS's server usually)"
                % (match.group(1), upstream),
            )


def convertXML(path: str, raw: bytes | None = None, upstream: str | None = None) -> Conversion:
    """
    Read a SIPconfig.xml or oils_sip.xml file as a sip2acs configuration.

    @param path: The file (also used in problems and warnings).
    @param raw: The file's bytes, when already read.
    @param upstream: The ILS's own SIP2 server, a Twisted client endpoint
        like C{tcp:host=127.0.0.1:port=6101}: each institution is then
        served through the gateway (C{adapter = "sip2"}) rather than the
        embedded SQLite system.
    @rtype: L{Conversion}
    @raise ConfigError: With every problem found, each located in the file.
    """
    if raw is None:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ConfigError(["cannot read it: %s" % (e.strerror,)], path) from e
    root, lines = parse(path, raw)
    report = Report(path, lines)
    readDocument(report, root, upstream)
    if upstream is not None:
        _portClashes(report, upstream)
    problems = list(report.problems)
    if local(root.tag) != "acsconfig":
        raise ConfigError([text for line, text in problems], path)
    try:
        config = parseConfig(report.data, path)
    except ConfigError as e:
        for problem in e.details:
            located = translate(report, problem)
            if located is not None:
                problems.append(located)
    if problems:
        problems.sort(key=lambda p: p[0])
        raise ConfigError([text for line, text in problems], path)
    warnings = tuple(text for line, text in sorted(report.warnings, key=lambda w: w[0]))
    notes: dict[TableKey, tuple[str, dict[str, str]]] = {}
    for kind, origins in report.origins.items():
        for index, (element, label) in enumerate(origins):
            origin = "%s:%d: <%s> %s" % (
                os.path.basename(path),
                report.line(element),
                local(element.tag),
                label.partition(" ")[2],
            )
            notes[(kind, index)] = (origin.rstrip(), report.notes.get((kind, index), {}))
    return Conversion(path, report.data, config, warnings, notes)


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


def upstreamProblem(upstream: str) -> str | None:
    """
    What is wrong with C{config convert --upstream ENDPOINT}, in one
    sentence, or L{None}: it must be a Twisted client endpoint.
    """
    from twisted.internet.endpoints import clientFromString

    if not re.match(r"^[a-z0-9]+:", upstream):
        return (
            "--upstream %r is not a client endpoint, like tcp:host=127.0.0.1:port=6101"
            % (upstream,)
        )
    try:
        # Parsing only: nothing connects, so no reactor is needed.
        clientFromString(cast(Any, None), upstream)  # type: ignore[no-untyped-call]
    except Exception as e:
        return "--upstream %r is not a client endpoint Twisted can read: %s" % (upstream, e)
    return None


def convertFile(
    path: str,
    output: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    upstream: str | None = None,
) -> int:
    """
    C{sip2acs config convert}: write the TOML equivalent of a
    SIPconfig.xml or oils_sip.xml file to C{output} (standard output when
    L{None}), and its warnings to standard error.

    @param upstream: C{--upstream}: serve the institutions through the
        gateway to this SIP2 server (see L{convertXML}).
    @return: The exit status: 0, or 1 when the file has problems (then
        nothing is written).
    """
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    if upstream is not None:
        problem = upstreamProblem(upstream)
        if problem is not None:
            print(problem, file=stderr)
            return 1
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
        conversion = convertXML(path, raw, upstream)
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
