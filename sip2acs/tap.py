# -*- test-case-name: tests.test_tap -*-
"""
C{twistd sip2acs}: command-line options and the service tree.

L{makeService} only builds objects and validates the configuration, so a
bad file fails before twistd daemonizes; adapters open their databases and
listeners bind when the services start.
"""

import resource

from twisted.application import strports
from twisted.application.service import IService, MultiService, Service
from twisted.logger import Logger
from twisted.python import usage

from sip2acs.config import ConfigError, defaultConfig, loadConfig
from sip2acs.reload import ConfigReloader, ReloadService
from sip2acs.server import ACSServer, SIP2ServerFactory, makeAdapter

__all__ = ["Options", "makeService"]

DEFAULT_ENDPOINT = "tcp:6001:interface=127.0.0.1"


class Options(usage.Options):
    """
    Options of C{twistd sip2acs}.
    """

    synopsis = "[--config PATH.toml | [--sip ENDPOINT]... [--database PATH]]"
    longdesc = (
        "Serve SIP2 to self-check kiosks, sorters and other SCs. With no "
        "options: raw SIP2 on 127.0.0.1:6001, the embedded SQLite circulation "
        "system in ./sip2acs.sqlite3 (created with demo data on first run) "
        "and one SC account, login 'demo', password 'demo', institution "
        "'DEMO'. For anything else write a TOML file (see etc/sip2acs.toml "
        "and tap.md) and pass --config."
    )
    optParameters = [
        [
            "config",
            "c",
            None,
            "TOML file declaring listeners, institutions and accounts. "
            "Replaces the built-in demo configuration.",
        ],
        [
            "database",
            "d",
            "sip2acs.sqlite3",
            "SQLite database of the built-in configuration (created with "
            "demo data if missing). Not used with --config.",
        ],
    ]

    def __init__(self):
        usage.Options.__init__(self)
        self["sip"] = []

    def opt_sip(self, endpoint):
        """
        Listen for raw SIP2 on this Twisted endpoint description, e.g.
        tcp:6001:interface=127.0.0.1 (repeatable; the default is
        tcp:6001:interface=127.0.0.1). Not used with --config.
        """
        self["sip"].append(endpoint)

    def postOptions(self):
        if self["config"] is not None:
            if self["sip"]:
                raise usage.UsageError(
                    "--sip is for the built-in configuration; declare "
                    "listeners in the [[listener]] tables of %s" % (self["config"],)
                )
            try:
                self["parsedConfig"] = loadConfig(self["config"])
            except ConfigError as e:
                raise usage.UsageError(str(e))
        else:
            self["parsedConfig"] = defaultConfig(
                database=self["database"],
                endpoints=self["sip"] or [DEFAULT_ENDPOINT],
            )


class FileLimitService(Service):
    """
    Raise the soft limit on open files to the hard limit when the server
    starts (each kiosk connection is a file descriptor), and log what the
    limit is.
    """

    log = Logger()

    def privilegedStartService(self):
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


def adapterKey(institution):
    """
    Institutions with equal keys share one adapter.
    """
    return (institution.adapter, repr(sorted(institution.options.items())))


def buildAdapters(config, reactor):
    """
    One adapter per distinct (adapter, options) pair, shared by the
    institutions that name the same ones.

    @return: A mapping of institution id to adapter.
    @raise ConfigError: An adapter cannot be built from its options.
    """
    built = {}
    adapters = {}
    problems = []
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


def makeService(options, reactor=None):
    """
    Build the sip2acs service tree: the ILS adapters' services first, then
    one listener per configured endpoint.

    @param options: Parsed L{Options}.
    @param reactor: The reactor; the global one by default.
    @rtype: L{MultiService}
    """
    if reactor is None:
        from twisted.internet import reactor
    config = options["parsedConfig"]
    top = MultiService()
    FileLimitService().setServiceParent(top)
    try:
        adapters = buildAdapters(config, reactor)
    except ConfigError as e:
        raise SystemExit(str(e))
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
        factory = SIP2ServerFactory(server, listener)
        service = strports.service(listener.endpoint, factory, reactor=reactor)
        service.setServiceParent(top)
    return top
