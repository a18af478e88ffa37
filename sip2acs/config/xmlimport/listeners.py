# -*- test-case-name: tests.test_xmlconfig -*-
"""
A C{<service>} of a SIPconfig.xml / oils_sip.xml file read as a
C{[[listener]]} table: L{readListener}, and L{readEndpoint} for its
Net::Server C{port="[ADDRESS:]PORT/tcp"}.
"""

import ipaddress
import re
import xml.etree.ElementTree as ET

from sip2acs.config import model
from sip2acs.config.writer import TableKey
from sip2acs.config.xmlimport.report import Report, Table, asBoolean, asNumber


def readListener(
    report: Report,
    element: ET.Element,
    firstInstitution: tuple[str | None, str | None] | None,
    globalTimeout: str | None,
) -> None:
    """
    Read a C{<service>} as a C{[[listener]]} table, or skip it (http).

    @param firstInstitution: The institution and id of the alphabetically
        first login, which Evergreen uses for a 99 before login.
    @param globalTimeout: The document's C{timeout}, for a service
        without one.
    """
    attributes = dict(element.attrib)
    port = attributes.pop("port", None)
    label = 'service "%s"' % (port,) if port is not None else "service"
    table = report.nextTable("listener")
    values: Table = {}
    transport = attributes.pop("transport", None)
    protocol = attributes.pop("protocol", None)
    if transport is not None and transport.strip().lower() == "http":
        report.warn(
            element,
            label,
            "skipped: the http transport was never implemented by Koha or Evergreen",
        )
        return
    if port is None:
        report.problem(
            element, label, "port: is required, like 127.0.0.1:6001/tcp", table, "endpoint"
        )
    else:
        endpoint, interface = readEndpoint(report, element, label, port, table)
        if endpoint is not None:
            values["endpoint"] = endpoint
            if interface is None:
                report.warn(
                    element,
                    label,
                    "port gives no address: sip2acs listens on 127.0.0.1 only"
                    " (SIPServer listened on every address); where kiosks"
                    ' connect from other machines write port="0.0.0.0:%s/tcp"'
                    " (or the address they connect to)" % (port.split("/")[0],),
                )
                report.note(
                    table, "endpoint", "port=%s: loopback only, see the warning" % (port,)
                )
    if transport is None:
        report.problem(element, label, "transport: is required: RAW or telnet")
    else:
        name = transport.strip().lower()
        if name not in ("raw", "telnet"):
            report.problem(
                element, label, "transport: %r is not RAW, telnet or http" % (transport,)
            )
        elif name not in model.TRANSPORTS:
            report.problem(
                element,
                label,
                "transport: %s is not supported by this sip2acs (it serves: %s);"
                " remove this <service> or make it RAW"
                % (transport, ", ".join(model.TRANSPORTS)),
            )
        else:
            values["transport"] = name
    if protocol is not None and not protocol.strip().upper().startswith("SIP/"):
        report.warn(element, label, "protocol %s is read as SIP/2.00" % (protocol,))
    timeout = attributes.pop("timeout", None)
    if timeout is None or asNumber(timeout) == 0:
        # Koha and Evergreen fall back on a global timeout, then 30 s.
        timeout = globalTimeout
    if timeout is not None:
        seconds = report.valueOf(
            element, label, table, "login-timeout", "timeout", timeout, asNumber,
            "a number of seconds",
        )
        if seconds:
            values["login-timeout"] = seconds
    clientTimeout = attributes.pop("client_timeout", None)
    if clientTimeout is None:
        report.warn(
            element,
            label,
            "no client_timeout: Koha and Evergreen then closed connections idle for"
            " timeout (%s s); sip2acs closes them after idle-timeout = 600 s, longer"
            " than the 5-7 minutes between kiosks' 99 keep-alives"
            % (timeout if timeout is not None else 30,),
        )
    else:
        seconds = report.valueOf(
            element, label, table, "idle-timeout", "client_timeout", clientTimeout, asNumber,
            "a number of seconds",
        )
        if seconds is not None:
            values["idle-timeout"] = seconds
            if not seconds:
                report.note(table, "idle-timeout", "client_timeout=0: never")
    before = attributes.pop("allow_sc_status_then_login", None)
    if before is not None:
        flag = report.valueOf(
            element, label, table, "status-before-login", "allow_sc_status_then_login",
            before, asBoolean, "enabled or disabled",
        )
        if flag is not None:
            values["status-before-login"] = flag
            if flag and firstInstitution is not None and firstInstitution[0]:
                # Evergreen answers a 99 before login with the policy of
                # the alphabetically first account's institution.
                values["institution"] = firstInstitution[0]
                report.note(
                    table,
                    "institution",
                    "a 99 before login got the policy of the alphabetically first"
                    ' login\'s institution ("%s")' % (firstInstitution[1],),
                )
    report.notCarried(element, label, sorted(attributes))
    report.add("listener", element, label, values)

def readEndpoint(
    report: Report, element: ET.Element, label: str, port: str, table: TableKey
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
        report.problem(
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
        report.problem(
            element, label, "port: %d is not a TCP port (1-65535)" % (number,),
            table, "endpoint",
        )
        return None, None
    if proto != "tcp":
        report.problem(
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
            report.problem(
                element, label, "port: %r is not an address" % (host,), table, "endpoint"
            )
            return None, None
    return "tcp:%d:interface=%s" % (number, host.replace(":", "\\:")), host
