# -*- test-case-name: tests.test_tap -*-
"""
C{twistd sip2acs}: command-line options and the service tree.

L{makeService} only builds objects and validates the configuration, so a
bad file fails before twistd daemonizes; adapters open their databases and
listeners bind when the services start.
"""

from collections.abc import Hashable, Mapping
from typing import cast

from twisted.application.service import IService
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python import usage
from zope.interface import directlyProvides

from sip2acs._version import __version__
from sip2acs.acs.server import ACSServer, makeAdapter
from sip2acs.acs.throttle import IThrottleStore
from sip2acs.app.services import (
    FileLimitService,
    IServerReactor,
    ListeningService,
    ServerService,
    restrictUmask,
)
from sip2acs.config import (
    DEFAULT_ADMIN_ENDPOINT,
    Config,
    ConfigError,
    InstitutionConfig,
    ListenerConfig,
    defaultConfig,
    loadConfig,
)
from sip2acs.config.endpoints import serverEndpointProblem
from sip2acs.ils.interfaces import IILS
from sip2acs.ils.zones import zoneName
from sip2acs.ops.admin import DrainService, makeSite
from sip2acs.ops.observers import LOG_FORMATS, twistdObserver
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
        [
            "log-format",
            None,
            "auto",
            "How log lines look: text (twistd's classic lines), journal "
            "(priority-prefixed lines for the systemd journal), json (one "
            "flat JSON object per line) or auto (journal under systemd, "
            "text otherwise). They go where twistd's --logfile, --syslog "
            "or -n say; twistd's --logger overrides all of this.",
        ],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["sip"] = []

    def opt_version(self) -> None:
        """
        Print the sip2acs version (and Twisted's) and exit.
        """
        import twisted

        print("sip2acs %s (Twisted %s)" % (__version__, twisted.__version__))
        raise SystemExit(0)

    def opt_sip(self, endpoint: str) -> None:
        """
        Listen for raw SIP2 on this Twisted endpoint description, e.g.
        tcp:6001:interface=127.0.0.1 (repeatable; the default is
        tcp:6001:interface=127.0.0.1). Not used with --config.
        """
        self["sip"].append(endpoint)

    def postOptions(self) -> None:
        if self["log-format"] not in LOG_FORMATS:
            raise usage.UsageError(
                "--log-format must be one of %s, not %r"
                % (", ".join(LOG_FORMATS), self["log-format"])
            )
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
                # The file is wrong, not the command line: the problems
                # alone, without twistd's page of usage text before them.
                raise SystemExit(str(e)) from e
        else:
            for option, endpoint in [("--sip", each) for each in self["sip"]] + [
                ("--admin", self["admin"])
            ]:
                if endpoint is not None and endpoint.lower() != "none":
                    problem = serverEndpointProblem(endpoint)
                    if problem is not None:
                        raise usage.UsageError("%s %s: %s" % (option, endpoint, problem))
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
    # A plain raw listener's factory is the SIP2 factory itself.
    plain = (
        listener.transport == "raw" and not listener.access.gated and listener.proxy is None
    )
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
    endpoint = _serverEndpoint(reactor, listener.endpoint, "listener")
    factory = SIP2ServerFactory(server, listener) if plain else listenerFactory(
        server, listener, reactor, tls
    )
    return ListeningService(endpoint, factory, listener.transport, listener.endpoint)


def _serverEndpoint(
    reactor: IServerReactor, description: str, what: str
) -> IStreamServerEndpoint:
    """
    The endpoint of C{description}, or one line saying why there is none.

    @raise SystemExit: It is not a description start-up can use.
    """
    problem = serverEndpointProblem(description)
    if problem is not None:
        raise SystemExit("%s %s: %s" % (what, description, problem))
    try:
        return serverFromString(reactor, description)
    except Exception as e:
        raise SystemExit("%s %s: bad endpoint: %s" % (what, description, e)) from e


def adapterKey(institution: InstitutionConfig) -> tuple[str, str, str, str]:
    """
    Institutions with equal keys share one adapter: the same adapter,
    options, time zone and (for a gateway) accounts' upstream logins.
    """
    return (
        institution.adapter,
        repr(sorted(institution.options.items())),
        zoneName(institution.zone),
        repr(institution.accountLogins),
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


def sharedThrottleStore(adapters: Mapping[str, IILS]) -> IThrottleStore | None:
    """
    Where the listeners' cooling-off counts failed logins together with
    other instances: the database of the first institution (in the order
    of the configuration) on PostgreSQL, which every instance serving it
    shares. L{None} when no institution is on PostgreSQL: each process
    counts alone.
    """
    from sip2acs.ils.postgres import PostgresILS

    for adapter in adapters.values():
        if isinstance(adapter, PostgresILS):
            store = adapter.loginFailures()
            directlyProvides(store, IThrottleStore)
            return IThrottleStore(store)
    return None


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
    twistdOptions = getattr(options, "parent", None)
    if twistdOptions is not None:
        # Run by twistd: log the sip2acs way (see sip2acs.ops.observers).
        top.logObserver = twistdObserver(twistdOptions, options["log-format"])
    FileLimitService().setServiceParent(top)
    try:
        adapters = buildAdapters(config, reactor)
    except ConfigError as e:
        raise SystemExit(str(e)) from e
    for adapter in {id(a): a for a in adapters.values()}.values():
        if IService.providedBy(adapter):
            adapter.setServiceParent(top)
    server = ACSServer(config, adapters, reactor, throttleStore=sharedThrottleStore)
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
        site.noisy = False
        top.adminService = ListeningService(
            _serverEndpoint(reactor, config.admin.endpoint, "admin"),
            site,
            "http",
            config.admin.endpoint,
        )
        top.adminService.setServiceParent(top)
    return top
