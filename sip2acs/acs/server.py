# -*- test-case-name: tests.test_protocol -*-
"""
The ACS server: state shared by every connection (accounts, institutions,
ILS adapters, open connections, the login portal of L{sip2acs.acs.auth}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.reflect import namedAny

from sip2acs.acs.auth import (
    PLAUSIBLE_LOGIN as PLAUSIBLE_LOGIN,  # moved there
    PasswordChecker,
    RunInThread,
    describeLogin,
    makePortal,
)
from sip2acs.acs.failurelog import FailureLog
from sip2acs.acs.metrics import Metrics, Readiness
from sip2acs.acs.registry import ConnectionRegistry
from sip2acs.acs.throttle import IThrottleStore, ListenerThrottles
from sip2acs.ils.interfaces import IILS
from sip2acs.passwords import VerifiedCache

if TYPE_CHECKING:
    # For the annotations only: the session module needs none of this one
    # at run time, and acs/ must not import config/ at run time
    # (tests/test_layers.py).
    from sip2acs.acs.session import ACSSession
    from sip2acs.config import AccountConfig, Config, InstitutionConfig

__all__ = ["ACSServer", "makeAdapter"]

ILS_TIMEOUT = 30.0


def makeAdapter(institution: InstitutionConfig, reactor: IReactorTime) -> IILS:
    """
    Build the ILS adapter an institution names.

    @param institution: An L{InstitutionConfig
        <sip2acs.config.InstitutionConfig>}; C{adapter} is C{"sqlite"} (the
        embedded circulation system: on a SQLite file, or on PostgreSQL
        when its C{database} is a C{postgresql://} URL), C{"postgresql"},
        C{"sip2"} (the gateway to an upstream SIP2 server, see
        L{sip2acs.ils.upstream}), or the dotted name of a factory
        C{f(options, reactor)}.
    @return: An L{IILS <sip2acs.ils.interfaces.IILS>} provider (which may also
        be an L{IService <twisted.application.service.IService>} to start
        and stop with the server). The embedded systems work in the
        institution's time zone; other adapters get aware times in it (see
        L{sip2acs.ils.zones}).
    """
    if institution.adapter in ("sqlite", "postgresql"):
        from sip2acs.ils.sql.store import isPostgresURL

        if institution.adapter == "postgresql" or isPostgresURL(
            institution.options.get("database")
        ):
            from sip2acs.ils.postgres import PostgresILS

            return PostgresILS.fromConfig(
                institution.options, reactor, zone=institution.zone
            )
        from sip2acs.ils.sqlite import SQLiteILS

        return SQLiteILS.fromConfig(
            institution.options, reactor, zone=institution.zone
        )
    if institution.adapter == "sip2":
        from sip2acs.ils.upstream import SIP2UpstreamILS

        return SIP2UpstreamILS.fromConfig(
            institution.id,
            institution.options,
            reactor,
            zone=institution.zone,
            accounts=institution.accountLogins,
        )
    factory = namedAny(institution.adapter)
    return factory(institution.options, reactor)


class ACSServer:
    """
    What every SC connection of one process shares.

    @ivar institutions: Institution id to L{InstitutionConfig}.
    @ivar accounts: Login to L{AccountConfig}.
    @ivar adapters: Institution id to its L{IILS} provider; institutions
        with the same adapter and options share one.
    @ivar connections: The L{ConnectionRegistry
        <sip2acs.acs.registry.ConnectionRegistry>} of open connections (each an
        L{ISIPConnection <sip2acs.acs.interfaces.ISIPConnection>}).
    @ivar metrics: The L{Metrics <sip2acs.acs.metrics.Metrics>} the admin
        listener reports.
    @ivar readiness: The L{Readiness <sip2acs.acs.metrics.Readiness>}: whether
        C{/ready} says this server accepts new kiosks.
    @ivar failureLog: The L{FailureLog <sip2acs.acs.failurelog.FailureLog>}
        every session logs adapter failures through.
    @ivar portal: The L{Portal <twisted.cred.portal.Portal>} every login
        goes through (see L{sip2acs.acs.auth}), rebuilt when the
        configuration is reloaded.
    @ivar throttles: The L{ListenerThrottles
        <sip2acs.acs.throttle.ListenerThrottles>} of the listeners'
        cooling-off: counted in this process, and in the shared
        L{IThrottleStore <sip2acs.acs.throttle.IThrottleStore>} that
        C{throttleStore} finds among the adapters, if any.
    """

    log = Logger()

    def __init__(
        self,
        config: Config,
        adapters: Mapping[str, IILS],
        reactor: IReactorTime,
        ilsTimeout: float = ILS_TIMEOUT,
        runInThread: RunInThread | None = None,
        throttleStore: Callable[[Mapping[str, IILS]], IThrottleStore | None] | None = None,
    ) -> None:
        """
        @param reactor: The clock of timeouts and cooling-off; for the
            default C{runInThread}, also an L{IReactorThreads} provider.
        @param runInThread: C{f(function, *args)} running blocking work
            (the password hash) off the reactor thread, returning a
            Deferred of its result; the reactor's thread pool by default.
        @param throttleStore: C{f(adapters)} finding where failed logins
            are counted with other instances (an L{IThrottleStore}), or
            L{None}; asked again when the configuration is reloaded. By
            default they are counted in this process only.
        """
        self.config = config
        self.institutions = config.institutions
        self.accounts = config.accounts
        self.adapters = adapters
        self.reactor = reactor
        self.ilsTimeout = ilsTimeout
        if runInThread is None:
            # Only a real reactor has threads; tests on a Clock pass their
            # own runInThread.
            threads = cast(IReactorThreads, reactor)

            def runInThread(f: Callable[..., Any], *args: Any) -> Deferred[Any]:
                return deferToThreadPool(threads, threads.getThreadPool(), f, *args)

        self.runInThread = runInThread
        self.connections = ConnectionRegistry(reactor, self.log)
        self._verified = VerifiedCache(size=1000)
        self._throttleStore = throttleStore
        self.throttles = ListenerThrottles(reactor, self._sharedThrottles(adapters))
        self.portal = self._makePortal(config.accounts)
        self.metrics = Metrics()
        self.readiness = Readiness()
        self.failureLog = FailureLog(self.log, reactor)

    def applyConfig(self, config: Config, adapters: Mapping[str, IILS]) -> None:
        """
        Use a reloaded configuration: new logins see its accounts and
        institutions at once, and connected SCs whose account still exists
        continue under its new settings without being dropped.

        @param adapters: Institution id to adapter, for the new config.
        """
        self.config = config
        self.institutions = config.institutions
        self.accounts = config.accounts
        self.adapters = adapters
        self.throttles.share(self._sharedThrottles(adapters))
        self.portal = self._makePortal(config.accounts)
        for connection in self.connections:
            connection.session.configChanged()

    def _sharedThrottles(self, adapters: Mapping[str, IILS]) -> IThrottleStore | None:
        if self._throttleStore is None:
            return None
        return self._throttleStore(adapters)

    def compareCurrencies(self) -> Deferred[None]:
        """
        Warn of each institution whose C{currency} setting differs from the
        currency its circulation system keeps amounts in (adapters that
        say, with a C{currency(institution)} method, as the SQLite system
        does): the system's is the one sent, so the setting is misleading.

        @return: A Deferred firing when every adapter has answered; it
            never fails (an adapter that cannot say is skipped).
        """
        checks: list[Deferred[None]] = []
        for institution in self.institutions.values():
            currency = getattr(self.adapters.get(institution.id), "currency", None)
            if institution.currency is None or not callable(currency):
                continue
            d = maybeDeferred(currency, institution.id)
            d.addCallback(self._compareCurrency, institution)
            d.addErrback(lambda _: None)
            checks.append(d)
        return gatherResults(checks).addCallback(lambda _: None)

    def _compareCurrency(self, kept: str, institution: InstitutionConfig) -> None:
        if kept != institution.currency:
            self.log.warn(
                "institution {id}: its currency setting is {setting}, but its"
                " circulation system keeps amounts in {kept}, which the kiosks"
                " are told; remove the setting, or change the system's currency"
                " (sip2acs db init --currency {setting} for the embedded one)",
                id=institution.id,
                setting=institution.currency,
                kept=kept,
            )

    def transactionDone(
        self, session: ACSSession, request: str, response: str, outcome: str, seconds: float
    ) -> None:
        """
        Called by each session after it answers a request: count it in
        L{metrics}, and for its account when the SC is logged in.

        @param session: The L{ACSSession <sip2acs.acs.session.ACSSession>}.
        @param request: The request's command identifier, e.g. C{"11"}.
        @param response: The response's command identifier.
        @param outcome: C{"ok"} or C{"refused"} (see
            L{sip2acs.acs.session.outcome}).
        @param seconds: How long the answer took.
        """
        self.metrics.transactionDone(request, response, outcome, seconds)
        if session.account is not None:
            self.metrics.accountTransaction(session.account.login, outcome)

    def ilsFor(self, institution: str) -> IILS:
        """
        The adapter serving C{institution}.
        """
        return self.adapters[institution]

    def _makePortal(self, accounts: Mapping[str, AccountConfig]) -> Portal:
        """
        The portal of C{accounts}: see L{sip2acs.acs.auth.makePortal}. The
        throttles and the cache of checked passwords are the server's, so
        they outlive a reload.
        """
        checker = PasswordChecker(
            accounts, self.runInThread, self.throttles, self._verified, self.log
        )
        return makePortal(checker)

    def describeLogin(self, login: str) -> str:
        """
        How a login id appears in the log: see
        L{describeLogin <sip2acs.acs.auth.describeLogin>}.

        @type login: L{str}
        @rtype: L{str}
        """
        return describeLogin(login, self.accounts)

    def closeConnections(self, timeout: float, interval: float = 0.05) -> Deferred[None]:
        """
        Shut down gracefully (after the listeners stopped accepting): see
        L{ConnectionRegistry.shutdown
        <sip2acs.acs.registry.ConnectionRegistry.shutdown>}.

        @return: A Deferred firing with L{None} once no connection is left.
        """
        return self.connections.shutdown(timeout, interval)
