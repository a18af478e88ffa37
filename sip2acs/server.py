# -*- test-case-name: tests.test_protocol -*-
"""
The ACS server: state shared by every connection (accounts, institutions,
ILS adapters, open connections) and the factories the listeners use.
"""

from twisted.internet.defer import succeed
from twisted.internet.protocol import ServerFactory
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.reflect import namedAny

from sip2acs.passwords import VerifiedCache, hashPassword, verifyPassword

__all__ = ["ACSServer", "SIP2ServerFactory", "makeAdapter"]

ILS_TIMEOUT = 30.0

_DUMMY_HASH = None


def makeAdapter(institution, reactor):
    """
    Build the ILS adapter an institution names.

    @param institution: An L{InstitutionConfig
        <sip2acs.config.InstitutionConfig>}; C{adapter} is C{"sqlite"} or
        the dotted name of a factory C{f(options, reactor)}.
    @return: An L{IILS <sip2acs.interfaces.IILS>} provider (which may also
        be an L{IService <twisted.application.service.IService>} to start
        and stop with the server).
    """
    if institution.adapter == "sqlite":
        from sip2acs.ils.sqlite import SQLiteILS

        return SQLiteILS.fromConfig(institution.options, reactor)
    factory = namedAny(institution.adapter)
    return factory(institution.options, reactor)


class ACSServer:
    """
    What every SC connection of one process shares.

    @ivar institutions: Institution id to L{InstitutionConfig}.
    @ivar accounts: Login to L{AccountConfig}.
    @ivar adapters: Institution id to its L{IILS} provider; institutions
        with the same adapter and options share one.
    @ivar connections: The open L{SIP2Protocol
        <sip2acs.protocol.SIP2Protocol>}s.
    """

    log = Logger()

    def __init__(self, config, adapters, reactor, ilsTimeout=ILS_TIMEOUT):
        self.config = config
        self.institutions = config.institutions
        self.accounts = config.accounts
        self.adapters = adapters
        self.reactor = reactor
        self.ilsTimeout = ilsTimeout
        self.connections = set()
        self._verified = VerifiedCache(size=1000)

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
        for protocol in list(self.connections):
            protocol.session.configChanged()

    def transactionDone(self, session, request, response, outcome, seconds):
        """
        Called by each session after it answers a request: a hook for
        metrics. Does nothing here.

        @param session: The L{ACSSession <sip2acs.session.ACSSession>}.
        @param request: The request's command identifier, e.g. C{"11"}.
        @param response: The response's command identifier.
        @param outcome: C{"ok"} or C{"refused"} (see
            L{sip2acs.session.outcome}).
        @param seconds: How long the answer took.
        """

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

    def checkLogin(self, login, password, peer=None):
        """
        Check an SC's login and password.

        The hash comparison costs tens of milliseconds of CPU, so it runs
        in the reactor's thread pool, never on the reactor thread.

        @return: A Deferred firing with the L{AccountConfig} or L{None}.
        """
        account = self.accounts.get(login)
        stored = account.passwordHash if account is not None else None
        d = self._deferToThread(self._verify, password, stored)
        return d.addCallback(lambda ok: account if ok else None)

    def _deferToThread(self, f, *args):
        getThreadPool = getattr(self.reactor, "getThreadPool", None)
        if getThreadPool is None:
            # A test clock without threads: run inline.
            return succeed(f(*args))
        return deferToThreadPool(self.reactor, getThreadPool(), f, *args)


class SIP2ServerFactory(ServerFactory):
    """
    The factory behind one listener: it builds a L{SIP2Protocol
    <sip2acs.protocol.SIP2Protocol>} with a fresh L{ACSSession
    <sip2acs.session.ACSSession>} for each connection.
    """

    def __init__(self, server, listener):
        self.server = server
        self.listener = listener

    def buildProtocol(self, addr):
        from sip2acs.protocol import SIP2Protocol
        from sip2acs.session import ACSSession

        peer = getattr(addr, "host", None)
        session = ACSSession(self.server, self.listener, peer=peer)
        protocol = SIP2Protocol(session, self.listener)
        protocol.factory = self
        return protocol
