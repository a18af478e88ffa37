# -*- test-case-name: tests.test_tap -*-
"""
C{twistd sip2acs}: command-line options and the service tree.

L{makeService} only builds objects and validates the configuration, so a
bad file fails before twistd daemonizes; adapters open their databases and
listeners bind when the services start.
"""

import atexit
import os
import resource
import sys
from collections.abc import Hashable
from typing import cast

from twisted.application import strports
from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from sip2acs.acs.server import ACSServer, makeAdapter
from sip2acs.config import (
    DEFAULT_ADMIN_ENDPOINT,
    Config,
    ConfigError,
    InstitutionConfig,
    ListenerConfig,
    defaultConfig,
    loadConfig,
)
from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.interfaces import IILS
from sip2acs.ils.zones import zoneName
from sip2acs.ops.admin import DrainService, makeSite
from sip2acs.ops.reload import ConfigReloader, ReloadService
from sip2acs.transports.access import AccessGate
from sip2acs.transports.factory import SIP2ServerFactory
from sip2acs.transports.proxy import ProxyHeaderFactory
from sip2acs.transports.tls import ServerTLS, TLSMaterialError

__all__ = [
    "ListeningService",
    "Options",
    "ServerService",
    "restrictUmask",
    "listenerFactory",
    "listenerService",
    "makeService",
    "serverTLS",
]

DEFAULT_ENDPOINT = "tcp:6001:interface=127.0.0.1"


class IServerReactor(IReactorCore, IReactorTime, IReactorTCP, IReactorThreads):
    """
    What the server and the bridge use of their reactor: its life cycle,
    its clock, TCP, and its threads (the password hashes, the signals).
    Every reactor twistd runs provides them all; this interface only names
    the sum, for type checking (as Twisted's own C{_IReactorCommon} does).
    """


class Options(usage.Options):
    """
    Options of C{twistd sip2acs}.
    """

    synopsis = (
        "[--config PATH.toml | [--sip ENDPOINT]... [--database PATH]"
        " [--admin ENDPOINT|none]]"
    )
    longdesc = (
        "Serve SIP2 to self-check kiosks, sorters and other SCs. With no "
        "options: raw SIP2 on 127.0.0.1:6001, the embedded SQLite circulation "
        "system in ./sip2acs.sqlite3 (created with demo data on first run) "
        "and one SC account, login 'demo', password 'demo', institution "
        "'DEMO'; metrics, health and a status page over HTTP on "
        "127.0.0.1:6080. For anything else write a TOML file (see etc/sip2acs.toml "
        "and tap.md) and pass --config."
    )
    optParameters = [
        [
            "config",
            "c",
            None,
            "TOML file declaring listeners, institutions and accounts (or a "
            "Koha SIPconfig.xml / Evergreen oils_sip.xml). Replaces the "
            "built-in demo configuration.",
        ],
        [
            "database",
            "d",
            "sip2acs.sqlite3",
            "SQLite database of the built-in configuration (created with "
            "demo data if missing). Not used with --config.",
        ],
        [
            "admin",
            None,
            None,
            "Admin HTTP listener (/metrics, /health, /ready, status page) of "
            "the built-in configuration, as a Twisted endpoint description; "
            "'none' for none. Default: %s. Not used with --config (see its "
            "[admin] table)." % (DEFAULT_ADMIN_ENDPOINT,),
        ],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["sip"] = []

    def opt_sip(self, endpoint: str) -> None:
        """
        Listen for raw SIP2 on this Twisted endpoint description, e.g.
        tcp:6001:interface=127.0.0.1 (repeatable; the default is
        tcp:6001:interface=127.0.0.1). Not used with --config.
        """
        self["sip"].append(endpoint)

    def postOptions(self) -> None:
        if self["config"] is not None:
            if self["sip"]:
                raise usage.UsageError(
                    "--sip is for the built-in configuration; declare "
                    "listeners in the [[listener]] tables of %s" % (self["config"],)
                )
            if self["admin"] is not None:
                raise usage.UsageError(
                    "--admin is for the built-in configuration; declare the "
                    "admin listener in the [admin] table of %s" % (self["config"],)
                )
            try:
                self["parsedConfig"] = loadConfig(self["config"])
            except ConfigError as e:
                raise usage.UsageError(str(e)) from e
        else:
            self["parsedConfig"] = defaultConfig(
                database=self["database"],
                endpoints=self["sip"] or [DEFAULT_ENDPOINT],
                admin=_adminEndpoint(self["admin"]),
            )


def _adminEndpoint(option: str | None) -> str | None:
    if option is None:
        return DEFAULT_ADMIN_ENDPOINT
    if option.lower() == "none":
        return None
    return option


class FileLimitService(Service):
    """
    Raise the soft limit on open files to the hard limit when the server
    starts (each kiosk connection is a file descriptor), and log what the
    limit is.
    """

    log = Logger()

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = max(soft, 1048576)
        if soft < hard:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            except (ValueError, OSError) as e:
                self.log.warn(
                    "cannot raise the open-file limit from {soft} to {hard}: {e}",
                    soft=soft,
                    hard=hard,
                    e=e,
                )
                return
            self.log.info(
                "raised the open-file limit from {soft} to {hard} (about {kiosks}"
                " kiosk connections)",
                soft=soft,
                hard=hard,
                kiosks=hard - 64,
            )
        else:
            self.log.info(
                "open-file limit {soft} (about {kiosks} kiosk connections)",
                soft=soft,
                kiosks=soft - 64,
            )


UMASK = 0o027
"""
The least the file creation mask is set to when the server is built: new
log files are then at most 0640 (the database is created 0600 anyway).
"""


def restrictUmask(mask: int = UMASK) -> int:
    """
    Make the process's file creation mask at least C{mask} (keeping any
    bit the operator's umask has besides), so that the files twistd and
    the loggers create next (C{--logfile}, C{SIP2ACS_LOG}, their rotations)
    are not readable by everyone. twistd's own C{--umask} is applied later
    and then wins.

    @return: The previous mask.
    """
    previous = os.umask(mask)
    os.umask(previous | mask)
    return previous


class ServerService(MultiService):
    """
    The top of the service tree: the ILS adapters (C{adapters}), the
    listeners and the rest, started and stopped in an order that keeps
    every promise made to an SC.

    Start: an adapter that cannot start (its C{startService} fails, e.g.
    with a database that is missing or damaged) stops the server, and the
    process exits with status 1. A failure the adapter explains
    (L{ILSUnavailable <sip2acs.ils.base.ILSUnavailable>}) is one line saying
    why; any other is logged with its traceback.

    Stop: first everything but the adapters (the listeners stop accepting;
    signals, the admin listener), then the open connections are closed as
    their requests in flight are answered (L{ACSServer.closeConnections
    <sip2acs.acs.server.ACSServer.closeConnections>}, at most the ILS timeout),
    and only then the adapters stop. A plain L{MultiService} would stop
    them all at once, under the requests in flight.

    Adapters are the children that provide L{IILS} or serve an
    institution; a configuration reload adds new ones to the running
    server (their start failing is logged, and the server runs on).

    @ivar acsServer: The L{ACSServer <sip2acs.acs.server.ACSServer>}.
    @ivar reloader: The L{ReloadService} (SIGHUP) re-reading the
        configuration and TLS files.
    @ivar adminService: The admin listener's service, or L{None} without
        one.
    """

    log = Logger()

    def __init__(self, reactor: IReactorCore) -> None:
        MultiService.__init__(self)
        self._reactor = reactor
        self.acsServer: ACSServer | None = None
        self.reloader: ReloadService | None = None
        self.adminService: IService | None = None

    def isAdapter(self, service: IService) -> bool:
        """
        Whether the child C{service} is an ILS adapter.
        """
        serving = self.acsServer.adapters.values() if self.acsServer else ()
        return IILS.providedBy(service) or any(service is a for a in serving)

    def addService(self, service: IService) -> None:
        if not self.running:
            return MultiService.addService(self, service)
        self.running = False
        try:
            MultiService.addService(self, service)
        finally:
            self.running = True
        service.privilegedStartService()
        self._start(service, fatal=False)

    def startService(self) -> None:
        """
        Start the adapters and everything else; the listeners, bound
        already, accept no connection until every adapter has started (a
        kiosk is never taken in by a server that cannot serve it).
        """
        Service.startService(self)
        listeners = [s for s in self if isinstance(s, ListeningService)]
        for service in self:
            if not self.isAdapter(service):
                self._start(service, fatal=True)
        for listener in listeners:
            listener.pauseAccepting()
        started = [self._start(s, fatal=True) for s in self if self.isAdapter(s)]

        def accept(results: list[bool]) -> None:
            if all(results):
                for listener in listeners:
                    listener.resumeAccepting()
                if self.acsServer is not None:
                    self.acsServer.compareCurrencies()

        gatherResults(started).addCallback(accept)

    def _start(self, service: IService, fatal: bool) -> Deferred[bool]:
        """
        Start C{service}.

        @return: A Deferred firing with whether it started.
        """
        d = maybeDeferred(service.startService)
        d.addCallbacks(lambda _: True, self._startFailed, errbackArgs=(service, fatal))
        return d

    def _startFailed(self, failure: Failure, service: IService, fatal: bool) -> bool:
        name = getattr(service, "name", None) or type(service).__name__
        then = "; sip2acs stops" if fatal else ""
        if failure.check(ILSUnavailable):
            self.log.critical(
                "{service} cannot start: {reason}{then}",
                service=name,
                reason=failure.getErrorMessage(),
                then=then,
            )
        else:
            # Not a known problem: its traceback helps.
            self.log.failure("{service} cannot start{then}", failure, service=name, then=then)
        if fatal:
            _exitWithFailure()
            self._reactor.callWhenRunning(self._reactor.stop)
        return False

    def stopService(self) -> Deferred[list[object]]:
        Service.stopService(self)
        adapters = [s for s in reversed(list(self)) if self.isAdapter(s)]
        rest = [s for s in reversed(list(self)) if not self.isAdapter(s)]
        d = gatherResults([maybeDeferred(s.stopService) for s in rest], consumeErrors=True)
        d.addBoth(self._closeConnections)
        d.addBoth(
            lambda _: gatherResults(
                [maybeDeferred(s.stopService) for s in adapters], consumeErrors=True
            )
        )
        return d

    def _closeConnections(self, result: object) -> Deferred[None] | None:
        if self.acsServer is None:
            return None
        return self.acsServer.closeConnections(self.acsServer.ilsTimeout)


def _exitWithFailure() -> None:
    """
    Make the process exit with status 1 once twistd has shut down cleanly
    (pid file removed, logs flushed): twistd itself always exits with 0
    after the reactor stops.
    """

    def exit() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

    atexit.register(exit)


class ListeningService(Service):
    """
    Listens on an endpoint built in code while the service runs. Unlike a
    plain C{StreamServerEndpointService}, a port that cannot be bound stops
    the start-up with its error (C{CannotListenError}) instead of only
    logging it.

    @ivar endpoint: An L{IStreamServerEndpoint}.
    @ivar factory: The protocol factory.
    @ivar port: The L{IListeningPort} while listening, else L{None}.
    """

    log = Logger()

    def __init__(self, endpoint: IStreamServerEndpoint, factory: IProtocolFactory) -> None:
        self.endpoint = endpoint
        self.factory = factory
        self.port: IListeningPort | None = None
        self._listening: Deferred[IListeningPort] | None = None
        self._paused = False

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        self._listen()

    def startService(self) -> None:
        Service.startService(self)
        if self._listening is None:
            self._listen()

    def _listen(self) -> None:
        failures: list[Failure] = []
        listening = self._listening = self.endpoint.listen(self.factory)
        listening.addCallbacks(self._gotPort, failures.append)
        if failures:
            self._listening = None
            failures[0].raiseException()
        listening.addErrback(
            lambda failure: self.log.failure("cannot listen", failure)
        )

    def _gotPort(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        if self._paused:
            self._reading("stopReading")
        return port

    def pauseAccepting(self) -> None:
        """
        Accept no connection for now: the port stays bound and connections
        wait in its backlog. (A port that is not a file descriptor the
        reactor reads, which no endpoint sip2acs accepts gives, cannot
        pause: it goes on accepting.)
        """
        self._paused = True
        self._reading("stopReading")

    def resumeAccepting(self) -> None:
        """
        Accept connections again.
        """
        self._paused = False
        self._reading("startReading")

    def _reading(self, name: str) -> None:
        method = getattr(self.port, name, None)
        if method is not None:
            method()

    def stopService(self) -> Deferred[None] | None:
        Service.stopService(self)
        listening, self._listening = self._listening, None
        port, self.port = self.port, None
        if port is not None:
            # stopListening gives a Deferred or None, which maybeDeferred's
            # overloads do not spell.
            return maybeDeferred(port.stopListening)  # type: ignore[call-overload]
        if listening is not None:
            listening.cancel()
        return None


def listenerFactory(
    server: ACSServer,
    listener: ListenerConfig,
    reactor: IReactorTime,
    tls: ServerTLS | None = None,
) -> IProtocolFactory:
    """
    The factory stack of one listener, outermost first: the PROXY header
    (if C{proxy-protocol}), the access gate (if C{allow} or
    C{max-connections-per-address}), TLS (if C{transport = "tls"}), then
    the SIP2 factory every listener shares (R2: transports differ only in
    framing, prelude and endpoint).

    @param server: The L{ACSServer}.
    @param listener: The L{ListenerConfig <sip2acs.config.ListenerConfig>}.
    @param tls: For TLS listeners, the L{ServerTLS}.
    """
    factory: IProtocolFactory = SIP2ServerFactory(server, listener)
    if listener.transport == "tls":
        if tls is None:
            raise TypeError("listener %s: TLS needs its ServerTLS" % (listener.endpoint,))
        factory = tls.wrapFactory(factory, reactor)
    access = listener.access
    if access.gated:
        factory = AccessGate(
            factory, access.allow, access.maxConnectionsPerAddress, listener.endpoint
        )
    if listener.proxy is not None:
        factory = ProxyHeaderFactory(
            factory,
            listener.proxy.trusted,
            timeout=listener.loginTimeout,
            clock=reactor,
            endpoint=listener.endpoint,
        )
    return factory


def serverTLS(server: ACSServer, listener: ListenerConfig) -> ServerTLS:
    """
    The L{ServerTLS} of a TLS listener, counting failed handshakes in the
    server's metrics.

    @raise TLSMaterialError: Its files cannot serve.
    """
    return ServerTLS(
        listener,
        handshakeFailed=lambda: server.metrics.tlsHandshakeFailed(listener.endpoint),
    )


def listenerService(
    server: ACSServer,
    listener: ListenerConfig,
    reactor: IServerReactor,
    reloader: ReloadService | None = None,
) -> IService:
    """
    The service of one listener. A plain raw listener is a strports
    service as always; the others are built in code (L{listenerFactory})
    on the endpoint their description names.

    @param reloader: The L{ReloadService}, to reload TLS files on SIGHUP.
    @raise SystemExit: The TLS files or the endpoint description are bad.
    """
    log = Logger()
    plain = (
        listener.transport == "raw" and not listener.access.gated and listener.proxy is None
    )
    if plain:
        factory = SIP2ServerFactory(server, listener)
        return strports.service(listener.endpoint, factory, reactor=reactor)
    tls = None
    if listener.transport == "tls":
        try:
            tls = serverTLS(server, listener)
        except TLSMaterialError as e:
            raise SystemExit("listener %s: %s" % (listener.endpoint, e)) from e
        if reloader is not None:
            reloader.addReloader("TLS files of %s" % (listener.endpoint,), tls.reload)
    if listener.proxy is not None and listener.proxy.trusted is None:
        log.warn(
            "{endpoint} takes PROXY headers from any address: set proxy-from to"
            " the load balancers' addresses, or anyone who reaches the port can"
            " claim any address",
            endpoint=listener.endpoint,
        )
    try:
        endpoint = serverFromString(reactor, listener.endpoint)
    except (ValueError, TypeError, KeyError) as e:
        raise SystemExit("listener %s: bad endpoint: %s" % (listener.endpoint, e)) from e
    return ListeningService(endpoint, listenerFactory(server, listener, reactor, tls))


def adapterKey(institution: InstitutionConfig) -> tuple[str, str, str]:
    """
    Institutions with equal keys share one adapter: the same adapter,
    options and time zone.
    """
    return (
        institution.adapter,
        repr(sorted(institution.options.items())),
        zoneName(institution.zone),
    )


def buildAdapters(config: Config, reactor: IServerReactor) -> dict[str, IILS]:
    """
    One adapter per distinct (adapter, options) pair, shared by the
    institutions that name the same ones.

    @return: A mapping of institution id to adapter.
    @raise ConfigError: An adapter cannot be built from its options.
    """
    built: dict[Hashable, IILS] = {}
    adapters: dict[str, IILS] = {}
    problems: list[str] = []
    for index, institution in enumerate(config.institutions.values()):
        key = adapterKey(institution)
        if key not in built:
            try:
                built[key] = makeAdapter(institution, reactor)
            except (ValueError, TypeError, ImportError, AttributeError) as e:
                problems.append(
                    "institution[%d] (%s): adapter %r: %s"
                    % (index, institution.id, institution.adapter, e)
                )
                continue
        adapters[institution.id] = built[key]
    if problems:
        raise ConfigError(problems)
    return adapters


def makeService(options: usage.Options, reactor: IServerReactor | None = None) -> ServerService:
    """
    Build the sip2acs service tree (a L{ServerService}): the ILS adapters'
    services first, then one listener per configured endpoint, the drain
    signals (SIGUSR1, SIGUSR2) and the admin listener, if configured
    (C{top.adminService}). Also restricts the file creation mask
    (L{restrictUmask}) before twistd opens its log file.

    @param options: Parsed L{Options}.
    @param reactor: The reactor; the global one by default.
    @rtype: L{MultiService}
    """
    if reactor is None:
        from twisted.internet import reactor as installed

        reactor = cast(IServerReactor, installed)
    restrictUmask()
    config = options["parsedConfig"]
    top = ServerService(reactor)
    FileLimitService().setServiceParent(top)
    try:
        adapters = buildAdapters(config, reactor)
    except ConfigError as e:
        raise SystemExit(str(e)) from e
    for adapter in {id(a): a for a in adapters.values()}.values():
        if IService.providedBy(adapter):
            adapter.setServiceParent(top)
    server = ACSServer(config, adapters, reactor)
    top.acsServer = server
    top.reloader = ReloadService(reactor)
    top.reloader.setServiceParent(top)
    if options["config"] is not None:
        top.reloader.addReloader(
            "configuration",
            ConfigReloader(
                options["config"],
                server,
                top,
                lambda institution: makeAdapter(institution, reactor),
                adapterKey,
            ),
        )
    for listener in config.listeners:
        service = listenerService(server, listener, reactor, top.reloader)
        service.setServiceParent(top)
    # SIGUSR1/SIGUSR2 drain and resume, with or without an admin listener.
    DrainService(server.readiness, reactor).setServiceParent(top)
    if config.admin.endpoint is not None:
        site = makeSite(server, reactor, config.admin.healthTimeout)
        top.adminService = strports.service(config.admin.endpoint, site, reactor=reactor)
        top.adminService.setServiceParent(top)
    return top
