"""
A real HAProxy for the tests, configured from the shipped
C{etc/haproxy.cfg} (L{renderConfig}): its C{defaults} and the frontends and
backends a test names, as they are, with loopback addresses and the ports
of the test's own instances, a global section of the test's (no chroot, no
user switch, a stats socket in a temporary folder, the log on standard
error) and quicker health checks.

L{startHAProxy} runs C{haproxy -f CFG -db} (from C{PATH} or C{/usr/sbin})
until the test ends. Without HAProxy the tests skip, saying how to install
it; when the environment has C{CI=true} a missing HAProxy fails them
instead, as with PostgreSQL (L{tests.postgres}).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest

from sip2acs.tools.ports import freePort

__all__ = [
    "TEMPLATE",
    "Server",
    "HAProxy",
    "renderConfig",
    "program",
    "requireHAProxy",
    "startHAProxy",
]

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(TOP, "etc", "haproxy.cfg")

INSTALL = (
    "HAProxy is not installed (no haproxy on PATH or in /usr/sbin): install it"
    " with `apt-get install haproxy` to run these tests"
)


def program() -> str | None:
    """
    The path of C{haproxy}, or L{None}.
    """
    found = shutil.which("haproxy")
    if found:
        return found
    if os.access("/usr/sbin/haproxy", os.X_OK):
        return "/usr/sbin/haproxy"
    return None


def requireHAProxy() -> str:
    """
    The path of C{haproxy}.

    @raise SkipTest: It is missing (outside CI).
    @raise RuntimeError: It is missing and the environment has C{CI=true}.
    """
    found = program()
    if found is not None:
        return found
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true and %s" % (INSTALL,))
    raise SkipTest(INSTALL)


@attrs.frozen
class Server:
    """
    One instance, as a backend's C{server} line names it.

    @ivar name: Its name in HAProxy (C{acs1}).
    @ivar port: Its listener's port on 127.0.0.1.
    @ivar checkPort: Its admin listener's port (C{/ready}).
    """

    name: str
    port: int
    checkPort: int


_SECTION = re.compile(r"^(global|defaults|frontend|backend|listen)\b\s*(\S*)")
_SERVER = re.compile(r"^(\s*)server\s+(\S+)\s+\S+:\d+(.*)$")
_BIND = re.compile(r"^(\s*)bind\s+\S+:\d+(.*)$")
_INTERVALS = re.compile(r"\b(inter|fastinter|downinter)\s+\S+")


def _sections(text: str) -> list[tuple[str, str, list[str]]]:
    """
    The sections of a configuration: C{(kind, name, body lines)}, comments
    and blank lines left out.
    """
    sections: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        bare = line.split("#", 1)[0].rstrip()
        if not bare.strip():
            continue
        match = _SECTION.match(bare)
        if match:
            sections.append((match.group(1), match.group(2), []))
        elif sections:
            sections[-1][2].append(bare)
    return sections


def renderConfig(template: str, binds: Mapping[str, int],
                 servers: Mapping[str, Sequence[Server]], statsSocket: str,
                 interval: str = "200ms", maxconn: int = 5000) -> str:
    """
    A test configuration from the text of C{etc/haproxy.cfg}.

    The template's C{defaults} are kept as they are. Of its frontends, those
    named in C{binds} are kept, each C{bind} on 127.0.0.1 and the port
    given; of its backends, those named in C{servers}, the first C{server}
    line serving as the pattern of one line for each L{Server} (address
    127.0.0.1, its port, C{check port} its admin port, C{track} naming its
    own name). Health-check intervals become C{interval}. The C{global}
    section is the test's.

    @param binds: Frontend name -> port to listen on.
    @param servers: Backend name -> its instances.
    @param statsSocket: Where the stats socket goes.
    @raise ValueError: A named frontend or backend is missing.
    """
    out = [
        "global",
        "    maxconn %d" % (maxconn,),
        "    stats socket %s mode 600 level admin" % (statsSocket,),
        "    log stderr format short local0 info",
    ]
    found = set()
    for kind, name, body in _sections(template):
        if kind == "global":
            continue
        if kind in ("frontend", "backend") and name not in (binds if kind == "frontend"
                                                             else servers):
            continue
        found.add((kind, name))
        out.append("")
        out.append("%s %s" % (kind, name) if name else kind)
        pattern = None
        for line in body:
            bind = _BIND.match(line)
            server = _SERVER.match(line)
            if bind:
                out.append("%sbind 127.0.0.1:%d%s" % (bind.group(1), binds[name],
                                                     bind.group(2)))
            elif server:
                if pattern is None:
                    pattern = server
                    out.extend(_serverLine(pattern, each, interval) for each in servers[name])
            else:
                out.append(_INTERVALS.sub(lambda m: "%s %s" % (m.group(1), interval), line))
    missing = [("frontend", n) for n in binds] + [("backend", n) for n in servers]
    absent = [" ".join(each) for each in missing if each not in found]
    if absent:
        raise ValueError("the template has no %s" % (", ".join(absent),))
    return "\n".join(out) + "\n"


def _serverLine(pattern: re.Match[str], server: Server, interval: str) -> str:
    """
    One C{server} line for C{server}, shaped like C{pattern}.
    """
    rest = pattern.group(3)
    rest = re.sub(r"\bport\s+\d+", "port %d" % (server.checkPort,), rest)
    rest = re.sub(r"\btrack\s+([^/\s]+)/\S+", r"track \1/" + server.name, rest)
    rest = _INTERVALS.sub(lambda m: "%s %s" % (m.group(1), interval), rest)
    return "%sserver %s 127.0.0.1:%d%s" % (pattern.group(1), server.name, server.port, rest)


class _Output(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.output = b""
        self.ended: defer.Deferred[Any] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(reason.value)


class _Answer(protocol.Protocol):
    """
    Sends one stats socket command and collects the answer until the
    socket closes.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.received = b""
        self.done: defer.Deferred[str] = defer.Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.command.encode("ascii") + b"\n")

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(self.received.decode("utf-8", "replace"))


class HAProxy:
    """
    A running HAProxy.

    @ivar config: Its configuration text.
    @ivar ports: Frontend name -> the port it listens on.
    """

    def __init__(self, transport: Any, proto: _Output, config: str,
                 ports: Mapping[str, int], statsSocket: str) -> None:
        self._transport = transport
        self._proto = proto
        self.config = config
        self.ports = dict(ports)
        self._socket = statsSocket

    @property
    def output(self) -> str:
        """
        What it logged so far.
        """
        return self._proto.output.decode("utf-8", "replace")

    def command(self, command: str) -> defer.Deferred[str]:
        """
        The answer to one stats socket command (C{show stat}).
        """
        endpoint = UNIXClientEndpoint(reactor, self._socket, timeout=5)
        answer = _Answer(command)
        return connectProtocol(endpoint, answer).addCallback(lambda _: answer.done)

    @defer.inlineCallbacks
    def servers(self, backend: str) -> Any:
        """
        The state of C{backend}'s servers, from C{show stat}.

        @return: A Deferred firing with C{{name: row}}, each row a dict of
            the CSV columns (C{status}: C{UP}, C{DOWN}...; C{scur}: current
            connections; C{stot}: connections so far).
        """
        text = yield self.command("show stat")
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {
            row["svname"]: row for row in rows
            if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND",
                                                                           "BACKEND")
        }

    @defer.inlineCallbacks
    def waitFor(self, backend: str, states: Mapping[str, str], timeout: float = 30.0) -> Any:
        """
        Wait until each server of C{backend} named in C{states} has the
        status given (C{UP}, C{DOWN}).

        @raise RuntimeError: Not within C{timeout} seconds.
        """
        deadline = reactor.seconds() + timeout
        while True:
            servers = yield self.servers(backend)
            now = {name: servers.get(name, {}).get("status", "").split(" ")[0]
                   for name in states}
            if now == dict(states):
                return servers
            if reactor.seconds() > deadline:
                raise RuntimeError(
                    "HAProxy's %s servers are %s, not %s after %ss:\n%s"
                    % (backend, now, dict(states), timeout, self.output[-3000:])
                )
            yield deferLater(reactor, 0.1)

    def stop(self) -> defer.Deferred[Any]:
        """
        Stop it (SIGTERM) and wait for the exit.
        """
        if self._proto.ended.called:
            return defer.succeed(None)
        self._transport.signalProcess("TERM")
        return self._proto.ended


@defer.inlineCallbacks
def startHAProxy(testCase: Any, servers: Mapping[str, Sequence[Server]],
                 frontends: Sequence[str], interval: str = "200ms",
                 timeout: float = 30.0) -> Any:
    """
    Start HAProxy on the configuration L{renderConfig} makes of
    C{etc/haproxy.cfg}, each frontend in C{frontends} on a free loopback
    port, and wait until its stats socket answers. It is killed when the
    test ends, whatever happens.

    @return: A Deferred firing with an L{HAProxy}.
    """
    executable = requireHAProxy()
    # Not under _trial_temp: a unix socket's path must stay short.
    folder = tempfile.mkdtemp(prefix="sip2acs-haproxy-")
    testCase.addCleanup(shutil.rmtree, folder, True)
    statsSocket = os.path.join(folder, "stats.sock")
    ports: dict[str, int] = {}
    for name in frontends:
        ports[name] = freePort(avoid=ports.values())
    with open(TEMPLATE) as f:
        config = renderConfig(f.read(), ports, servers, statsSocket, interval)
    path = os.path.join(folder, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(config)
    proto = _Output()
    transport = reactor.spawnProcess(
        proto, executable, [executable, "-f", path, "-db"], env=dict(os.environ),
        path=folder,
    )

    def cleanup() -> Any:
        if not proto.ended.called:
            transport.signalProcess("KILL")
            return proto.ended
        return None

    testCase.addCleanup(cleanup)
    running = HAProxy(transport, proto, config, ports, statsSocket)
    deadline = reactor.seconds() + timeout
    while True:
        if proto.ended.called:
            raise RuntimeError("haproxy exited:\n%s\n%s" % (running.output, config))
        if os.path.exists(statsSocket):
            try:
                yield running.command("show info")
                return running
            except Exception:
                pass
        if reactor.seconds() > deadline:
            raise RuntimeError("haproxy did not start within %ss:\n%s"
                               % (timeout, running.output))
        yield deferLater(reactor, 0.1)
