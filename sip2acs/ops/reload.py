# -*- test-case-name: tests.test_reload -*-
"""
SIGHUP: reload what can change without dropping a kiosk.

L{ReloadService} installs the SIGHUP handler while the server runs and
calls each registered reload function in turn (the configuration's
accounts and institutions, TLS certificates). A reload function that fails
is logged as one error line (what is wrong, and that the running
configuration stays; never a critical) and leaves what it manages as it
was; the others still run.
"""

import signal
from collections.abc import Callable, Hashable, Mapping

from twisted.application.service import IService, IServiceCollection
from twisted.internet.interfaces import IReactorThreads
from twisted.logger import Logger, LogLevel

from sip2acs.acs.server import ACSServer
from sip2acs.config import Config, ConfigError, InstitutionConfig, loadConfig
from sip2acs.ils.interfaces import IILS
from sip2acs.ops.signals import SignalService

__all__ = ["ReloadService", "ConfigReloader", "ReloadRefused"]


class ReloadRefused(ConfigError):
    """
    The configuration file was refused, and why has been logged in one
    line already; L{ReloadService} logs nothing more.
    """


class ReloadService(SignalService):
    """
    Calls the registered reload functions on SIGHUP (or L{reload}).
    """

    log = Logger()
    signals = (signal.SIGHUP,)

    def __init__(self, reactor: IReactorThreads, installSignal: bool = True) -> None:
        SignalService.__init__(self, reactor, installSignal)
        self.reloaders: list[tuple[str, Callable[[], object]]] = []

    def addReloader(self, name: str, function: Callable[[], object]) -> None:
        """
        Register C{function()} to run on each reload, under C{name} in logs.
        """
        self.reloaders.append((name, function))

    def signalled(self, signum: int) -> None:
        self.reload()

    def reload(self) -> list[str]:
        """
        Run every reload function.

        @return: The names of those that succeeded.
        """
        self.log.info("reloading on request (SIGHUP)")
        done = []
        for name, function in self.reloaders:
            try:
                function()
            except ReloadRefused:
                # Said already, in one line: no traceback, no critical.
                pass
            except ConfigError as e:
                self.log.error(
                    "not reloading {name}: {problems}; the running {name} stays",
                    name=name,
                    problems="; ".join(e.problems),
                )
            except (OSError, ValueError) as e:
                # A file that cannot be read or used (TLS files, ...).
                self.log.error(
                    "reloading {name} failed: {reason}; the running {name} stays",
                    name=name,
                    reason=str(e) or type(e).__name__,
                )
            except Exception:
                # Not a problem of the files but a defect: its traceback
                # helps, at the error level still (a typo must not page).
                self.log.failure(
                    "reloading {name} failed; the running {name} stays",
                    name=name,
                    level=LogLevel.error,
                )
            else:
                done.append(name)
        return done


class ConfigReloader:
    """
    Re-reads the configuration file and applies its accounts and
    institutions to a running server: new adapters are started, and those
    no institution uses any more are stopped.

    @ivar path: The TOML (or other supported) configuration file.
    """

    log = Logger()

    def __init__(
        self,
        path: str,
        server: ACSServer,
        parent: IServiceCollection,
        makeAdapter: Callable[[InstitutionConfig], IILS],
        adapterKey: Callable[[InstitutionConfig], Hashable],
    ) -> None:
        """
        @param server: The L{ACSServer <sip2acs.acs.server.ACSServer>}.
        @param parent: The service tree, for new adapters' services.
        @param makeAdapter: C{f(institution)} building an adapter.
        @param adapterKey: C{f(institution)} telling which institutions
            share an adapter.
        """
        self.path = path
        self.server = server
        self.parent = parent
        self.makeAdapter = makeAdapter
        self.adapterKey = adapterKey

    def __call__(self) -> None:
        try:
            config = loadConfig(self.path)
        except ConfigError as e:
            self.log.error(
                "not reloading {path}: {problems}; the running configuration stays",
                path=self.path,
                problems="; ".join(e.problems),
            )
            raise ReloadRefused(e.details, e.source) from e
        old = self.server.config
        # Any listener setting (its port, transport, TLS files' names, allow
        # list, ...) needs a restart; the TLS files' contents reload apart.
        if config.listeners != old.listeners:
            self.log.warn(
                "listener changes in {path} take effect at the next restart",
                path=self.path,
            )
        if config.admin != old.admin:
            self.log.warn(
                "[admin] changes in {path} take effect at the next restart",
                path=self.path,
            )
        adapters, new = self._adapters(config)
        # Stop the adapters nothing will use before starting the new ones:
        # a new one may have the old one's name (the same database with
        # other options). Nothing runs in between, so no request meets
        # the old one stopped.
        self._stopUnused(self.server.adapters, adapters)
        for adapter in new:
            if IService.providedBy(adapter):
                adapter.setServiceParent(self.parent)
        self.server.applyConfig(config, adapters)
        self.log.info(
            "reloaded {path}: {accounts} account(s), {institutions} institution(s)",
            path=self.path,
            accounts=len(config.accounts),
            institutions=len(config.institutions),
        )

    def _stopUnused(self, replaced: Mapping[str, IILS], adapters: Mapping[str, IILS]) -> None:
        """
        Stop the adapters no institution will use any more (their options
        changed, or their institutions are gone). What an old one has been
        asked to do it finishes before it closes (see L{SQLiteILS.stopService
        <sip2acs.ils.sqlite.SQLiteILS.stopService>}).
        """
        inUse = {id(adapter) for adapter in adapters.values()}
        unused = {id(a): a for a in replaced.values() if id(a) not in inUse}
        for adapter in unused.values():
            if IService.providedBy(adapter) and adapter.parent is not None:
                self.log.info(
                    "stopping {adapter}: no institution uses it any more",
                    adapter=getattr(adapter, "name", None) or adapter,
                )
                adapter.disownServiceParent()

    def _adapters(self, config: Config) -> tuple[dict[str, IILS], list[IILS]]:
        """
        Adapters for the new institutions: the running one where the adapter
        and its options are unchanged, a new one otherwise.

        @return: C{(institution id to adapter, the new adapters)}; the new
            ones are not started yet.
        """
        running: dict[Hashable, IILS] = {}
        for name, institution in self.server.institutions.items():
            running[self.adapterKey(institution)] = self.server.adapters[name]
        adapters: dict[str, IILS] = {}
        new: list[IILS] = []
        for name, institution in config.institutions.items():
            key = self.adapterKey(institution)
            if key not in running:
                running[key] = self.makeAdapter(institution)
                new.append(running[key])
            adapters[name] = running[key]
        return adapters, new
