# -*- test-case-name: tests.test_protocol -*-
"""
The ACS server: state shared by every connection (accounts, institutions,
ILS adapters, open connections) and the factories the listeners use.
"""

from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.reflect import namedAny

from sip2acs.acs.addresses import parseAddress
from sip2acs.acs.failurelog import FailureLog
from sip2acs.acs.metrics import Metrics, Readiness
from sip2acs.acs.registry import ConnectionRegistry
from sip2acs.acs.throttle import LoginThrottle
from sip2acs.passwords import VerifiedCache, hashPassword, verifyPassword
from sip2acs.sip import codec

__all__ = ["ACSServer", "makeAdapter"]

ILS_TIMEOUT = 30.0

_DUMMY_HASH = None

PLAUSIBLE_LOGIN = 32
"""
Longest unknown login id the log shows; a longer one is logged by its
length only (it may be a password typed into the login field).
"""


def makeAdapter(institution, reactor):
    """
    Build the ILS adapter an institution names.

    @param institution: An L{InstitutionConfig
        <sip2acs.config.InstitutionConfig>}; C{adapter} is C{"sqlite"} or
        the dotted name of a factory C{f(options, reactor)}.
    @return: An L{IILS <sip2acs.ils.interfaces.IILS>} provider (which may also
        be an L{IService <twisted.application.service.IService>} to start
        and stop with the server). The embedded SQLite system works in the
        institution's time zone; other adapters get aware times in it (see
        L{sip2acs.ils.base}).
    """
    if institution.adapter == "sqlite":
        from sip2acs.ils.sqlite import SQLiteILS

        return SQLiteILS.fromConfig(
            institution.options, reactor, zone=institution.zone
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
    """

    log = Logger()

    def __init__(self, config, adapters, reactor, ilsTimeout=ILS_TIMEOUT, runInThread=None):
        """
        @param runInThread: C{f(function, *args)} running blocking work
            (the password hash) off the reactor thread, returning a
            Deferred of its result; the reactor's thread pool by default.
        """
        self.config = config
        self.institutions = config.institutions
        self.accounts = config.accounts
        self.adapters = adapters
        self.reactor = reactor
        self.ilsTimeout = ilsTimeout
        if runInThread is None:

            def runInThread(f, *args):
                return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args)

        self.runInThread = runInThread
        self.connections = ConnectionRegistry(reactor, self.log)
        self._verified = VerifiedCache(size=1000)
        self.throttles = {}
        self._addressIndex = (None, ())
        self.metrics = Metrics()
        self.readiness = Readiness()
        self.failureLog = FailureLog(self.log, reactor)

    def applyConfig(self, config, adapters):
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
        for connection in self.connections:
            connection.session.configChanged()

    def transactionDone(self, session, request, response, outcome, seconds):
        """
        Called by each session after it answers a request: count it in
        L{metrics}.

        @param session: The L{ACSSession <sip2acs.acs.session.ACSSession>}.
        @param request: The request's command identifier, e.g. C{"11"}.
        @param response: The response's command identifier.
        @param outcome: C{"ok"} or C{"refused"} (see
            L{sip2acs.acs.session.outcome}).
        @param seconds: How long the answer took.
        """
        self.metrics.transactionDone(request, response, outcome, seconds)

    def ilsFor(self, institution):
        """
        The adapter serving C{institution}.
        """
        return self.adapters[institution]

    def _verify(self, password, stored):
        global _DUMMY_HASH
        if stored is None:
            # Unknown login: spend the same time as a real check, so the
            # answer's timing does not tell which logins exist.
            if _DUMMY_HASH is None:
                _DUMMY_HASH = hashPassword("-")
            stored = _DUMMY_HASH
            verifyPassword(password, stored)
            return False
        return self._verified.verify(password, stored)

    def describeLogin(self, login):
        """
        How a login id appears in the log. A configured login is shown as
        it is; an unknown one only when it is short and printable, since
        it may be a password typed into the login field, and masked from a
        secret field id on (L{maskSecrets <sip2acs.sip.codec.maskSecrets>}: a 93
        that lost the delimiter before its password).

        @param login: The login id the SC sent.
        @type login: L{str}
        @return: E.g. C{"login 'kiosk1'"}, C{"unknown login 'kiosk9'"},
            C{"an unknown login of 40 characters"}.
        @rtype: L{str}
        """
        if login in self.accounts:
            return "login %r" % (login,)
        if not login:
            return "an empty login"
        # A 93 that lost the delimiter before its password (CO).
        login = codec.maskSecrets(login)
        if len(login) <= PLAUSIBLE_LOGIN and login.isascii() and login.isprintable():
            return "unknown login %r" % (login,)
        return "an unknown login of %d characters" % (len(login),)

    def checkLogin(self, login, password, peer=None, listener=None, subject=None):
        """
        Check an SC's login and password, and that it may log in as that
        account from where it is (L{loginRefusal}).

        On a listener with a cooling-off, each attempt takes a slot of its
        (address, login) count before the password is checked (see
        L{LoginThrottle <sip2acs.acs.throttle.LoginThrottle>}): a login cooling
        off after repeated failures is refused without a check, and an
        attempt waits while as many checks are in progress as failures are
        left before the cooling-off. Logins that are not configured are
        all counted under one key per address: guessing at made-up login
        ids costs as many checks as guessing one account's password.

        The hash comparison costs tens of milliseconds of CPU, so it runs
        in the reactor's thread pool, never on the reactor thread.

        @param peer: The SC's address (its host string).
        @param listener: The L{ListenerConfig} it connected to, whose
            cooling-off settings apply; L{None} for none.
        @param subject: The subject of its TLS client certificate (see
            L{sip2acs.transports.tls.peerSubject}), or L{None}.
        @return: A Deferred firing with the L{AccountConfig} or L{None}.
        """
        throttle = self.throttleFor(listener)
        # The login id the throttle counts the attempt under: None for every
        # login that is not configured.
        counted = login if login in self.accounts else None
        if throttle is None:
            return self._check(None, login, password, peer, listener, subject, None, None)
        d = throttle.attempt(peer, counted)
        return d.addCallback(
            self._check, login, password, peer, listener, subject, throttle, counted
        )

    def _check(self, refusal, login, password, peer, listener, subject, throttle, counted):
        if refusal is not None:
            self.log.info(
                "{login} from {peer} refused: {reason}",
                login=self.describeLogin(login),
                peer=peer,
                reason=refusal,
            )
            return None
        account = self.accounts.get(login)
        stored = account.passwordHash if account is not None else None
        d = self.runInThread(self._verify, password, stored)
        d.addCallback(
            self._cbVerified, login, account, peer, subject, throttle, counted, listener
        )
        if throttle is not None:
            d.addErrback(self._ebVerified, peer, throttle, counted)
        return d

    def _ebVerified(self, failure, peer, throttle, counted):
        throttle.released(peer, counted)
        return failure

    def _cbVerified(self, ok, login, account, peer, subject, throttle, counted, listener):
        if ok:
            refusal = self.loginRefusal(account, peer, subject)
            if refusal is None:
                if throttle is not None:
                    throttle.succeeded(peer, counted)
                return account
            self.log.warn(
                "{login} from {peer} refused: {reason}",
                login=self.describeLogin(login),
                peer=peer,
                reason=refusal,
            )
        if throttle is not None and throttle.failed(peer, counted):
            self.log.warn(
                "{peer}: {count} failed logins as {login} on {endpoint}; refusing"
                " them for {seconds:.0f} s",
                peer=peer,
                count=throttle.limit,
                login=self.describeLogin(login),
                endpoint=listener.endpoint,
                seconds=throttle.period,
            )
        return None

    def loginRefusal(self, account, peer, subject=None):
        """
        Why an SC at C{peer}, whose TLS client certificate has C{subject},
        may not log in as C{account} whatever its password.

        @return: The reason, or L{None} if it may.
        """
        if account.allow is not None and peer not in account.allow:
            return "the address is not in the account's allow list"
        wanted = account.certificateSubject
        if wanted is not None and subject != wanted:
            if subject is None:
                return "the account needs a TLS client certificate (%s)" % (wanted,)
            return "the TLS client certificate is %s, not %s" % (subject, wanted)
        return None

    def accountForAddress(self, peer, subject=None):
        """
        The account bound to C{peer} by its C{addresses}, if any, and if
        the SC may log in as it from there (L{loginRefusal}).

        @return: An L{AccountConfig} or L{None}.
        """
        accounts, bound = self._addressIndex
        if accounts is not self.accounts:
            bound = tuple(a for a in self.accounts.values() if a.addresses is not None)
            self._addressIndex = (self.accounts, bound)
        if not bound:
            return None
        address = parseAddress(peer)
        if address is None:
            return None
        for account in bound:
            if address in account.addresses:
                if self.loginRefusal(account, peer, subject) is None:
                    return account
                return None
        return None

    def throttleFor(self, listener):
        """
        The L{LoginThrottle} of C{listener}, or L{None} if it has none.
        """
        if listener is None or not listener.loginFailuresBeforeCooloff:
            return None
        throttle = self.throttles.get(listener)
        if throttle is None:
            throttle = self.throttles[listener] = LoginThrottle(
                listener.loginFailuresBeforeCooloff, listener.cooloff, self.reactor
            )
        return throttle

    def closeConnections(self, timeout, interval=0.05):
        """
        Shut down gracefully (after the listeners stopped accepting): see
        L{ConnectionRegistry.shutdown
        <sip2acs.acs.registry.ConnectionRegistry.shutdown>}.

        @return: A Deferred firing with L{None} once no connection is left.
        """
        return self.connections.shutdown(timeout, interval)
