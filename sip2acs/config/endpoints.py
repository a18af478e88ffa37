# -*- test-case-name: tests.test_startup -*-
"""
Endpoint descriptions checked the way start-up will read them.

A listener's C{endpoint}, the admin listener's and a gateway's C{upstream}
are Twisted endpoint descriptions. Start-up hands them to
C{serverFromString} / C{clientFromString}; here they are handed to the same
functions on a L{MemoryReactor <twisted.internet.testing.MemoryReactor>},
and "listened on" or "connected" there, so that nothing binds or connects
while what start-up would refuse (an unknown type, a misspelt option, a
port out of range) is found first and said in one sentence.
"""

import difflib
import re
from collections.abc import Callable
from typing import Any

from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor

from sip2acs.config.model import Config
from sip2acs.config.problems import Problem

__all__ = ["serverEndpointProblem", "clientEndpointProblem", "endpointProblems"]

# The options of the endpoint types an operator writes, for "did you mean".
_OPTIONS = {
    "tcp": ("port", "interface", "backlog"),
    "tcp6": ("port", "interface", "backlog"),
    "unix": ("address", "mode", "backlog", "lockfile"),
    "systemd": ("domain", "index", "name"),
    "ssl": ("port", "interface", "backlog", "privateKey", "certKey", "extraCertChain",
            "sslmethod", "dhParameters"),
}
_CLIENT_OPTIONS = {
    "tcp": ("host", "port", "timeout", "bindAddress"),
    "tcp6": ("host", "port", "timeout", "bindAddress"),
    "unix": ("path", "timeout", "checkPID"),
    "tls": ("host", "port", "timeout", "bindAddress", "certificate", "privateKey",
            "trustRoots", "endpoint"),
    "ssl": ("host", "port", "timeout", "bindAddress", "certKey", "privateKey",
            "caCertsDir"),
}
_UNEXPECTED = re.compile(r"unexpected keyword argument '([^']*)'")
_MISSING = re.compile(r"missing \d+ required positional arguments?: (.*)$")
# "127.0.0.1:7402", "[::1]:7402", "6001", "host.example.org:7402": an
# address where the type should be.
_LOOKS_LIKE_ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.]*\]|[\w-]*[.\d][\w.-]*)(:\d+)?$")


def _kind(description: str) -> str:
    return description.split(":", 1)[0].strip().lower()


def _explain(
    description: str, error: Exception, options: dict[str, tuple[str, ...]], example: str
) -> str:
    """
    One sentence for what C{serverFromString} or C{clientFromString} raised.
    """
    kind = _kind(description)
    text = str(error)
    if isinstance(error, ValueError) and text.startswith("Unknown endpoint type"):
        if _LOOKS_LIKE_ADDRESS.match(description.strip()):
            return "%r has no endpoint type: write it like %s" % (description, example)
        known = ", ".join(sorted(options))
        guess = difflib.get_close_matches(kind, options, 1)
        hint = " (did you mean %s?)" % (guess[0],) if guess else ""
        return "%r is not an endpoint type%s; the usual ones are %s, e.g. %s" % (
            kind, hint, known, example,
        )
    unexpected = _UNEXPECTED.search(text)
    if unexpected is not None:
        name = unexpected.group(1)
        guess = difflib.get_close_matches(name, options.get(kind, ()), 1)
        hint = " (did you mean %s?)" % (guess[0],) if guess else ""
        return "%r is not an option of a %s endpoint%s" % (name, kind, hint)
    missing = _MISSING.search(text)
    if missing is not None:
        return "a %s endpoint needs %s, e.g. %s" % (
            kind, missing.group(1).replace("'", ""), example,
        )
    if isinstance(error, ValueError) and "invalid literal for int()" in text:
        return "%r has a number that is not one (%s), e.g. %s" % (
            description, text.rsplit(": ", 1)[-1], example,
        )
    return "%r is not an endpoint description Twisted can read (%s)" % (description, text)


def _portProblem(port: object, lowest: int) -> str | None:
    if isinstance(port, int) and not lowest <= port <= 65535:
        return "port %d is out of range: a port is %d to 65535" % (port, lowest)
    return None


def _systemdProblem(description: str) -> str | None:
    """
    A systemd endpoint names a socket systemd passes at start; outside
    systemd there is none to build, so only its options are read.
    """
    options: dict[str, str] = {}
    for part in description.split(":")[1:]:
        key, sep, value = part.partition("=")
        if not sep:
            return "%r: a systemd endpoint takes key=value options" % (description,)
        options[key] = value
    for key in options:
        if key not in _OPTIONS["systemd"]:
            guess = difflib.get_close_matches(key, _OPTIONS["systemd"], 1)
            hint = " (did you mean %s?)" % (guess[0],) if guess else ""
            return "%r is not an option of a systemd endpoint%s" % (key, hint)
    if "domain" not in options:
        return "a systemd endpoint needs domain=INET or domain=INET6"
    if "index" in options and not options["index"].isdigit():
        return "a systemd endpoint's index must be a number from 0"
    return None


def _endpointProblem(description: str, server: bool) -> str | None:
    """
    Build the endpoint of C{description} on a L{MemoryReactor}, listen
    (C{server}) or connect with it there, and say what is wrong, or
    L{None}.
    """
    if not description.strip():
        return "must not be empty"
    reactor = MemoryReactor()  # type: ignore[no-untyped-call]
    factory = Factory.forProtocol(Protocol)
    try:
        if server:
            endpoint = serverFromString(reactor, description)  # type: ignore[no-untyped-call]
            endpoint.listen(factory).addErrback(lambda f: None)
        else:
            client = clientFromString(reactor, description)  # type: ignore[no-untyped-call]
            client.connect(factory).addErrback(lambda f: None)
    except Exception as e:
        if server:
            return _explain(description, e, _OPTIONS, "tcp:6001:interface=127.0.0.1")
        return _explain(description, e, _CLIENT_OPTIONS, "tcp:host=127.0.0.1:port=6101")
    if server:
        ports = [each[0] for each in reactor.tcpServers + reactor.sslServers]
    else:
        ports = [each[1] for each in reactor.tcpClients + reactor.sslClients]
    for port in ports:
        problem = _portProblem(port, 0 if server else 1)
        if problem is not None:
            return problem
    return None


def serverEndpointProblem(description: str) -> str | None:
    """
    What start-up would find wrong with a server endpoint description, in
    one sentence, or L{None}.
    """
    if _kind(description) == "systemd":
        return _systemdProblem(description)
    return _endpointProblem(description, server=True)


def clientEndpointProblem(description: str) -> str | None:
    """
    What connecting would find wrong with a client endpoint description (a
    gateway's C{upstream}), in one sentence, or L{None}.
    """
    return _endpointProblem(description, server=False)


def endpointProblems(config: Config) -> list[Problem]:
    """
    Every endpoint of C{config} start-up would refuse: the listeners', the
    admin listener's, and each gateway institution's C{upstream}.
    """
    problems: list[Problem] = []

    def check(
        where: tuple[str, int | None, str], description: Any,
        problem: Callable[[str], str | None],
    ) -> None:
        if isinstance(description, str):
            text = problem(description)
            if text is not None:
                problems.append(Problem(*where, text))

    for index, listener in enumerate(config.listeners):
        check(("listener", index, "endpoint"), listener.endpoint, serverEndpointProblem)
    if config.admin.endpoint is not None:
        check(("admin", None, "endpoint"), config.admin.endpoint, serverEndpointProblem)
    for index, institution in enumerate(config.institutions.values()):
        if institution.adapter == "sip2":
            check(
                ("institution", index, "upstream"),
                institution.options.get("upstream"),
                clientEndpointProblem,
            )
    return problems
