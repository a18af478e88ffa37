# -*- test-case-name: tests.test_tap -*-
"""
The services of C{twistd sip2acs}'s tree: L{ServerService} (adapters
started before any listener accepts, an ordered stop), L{ListeningService}
(a listener that may wait to accept), L{FileLimitService} and the file
creation mask (L{restrictUmask}). L{sip2acs.app.tap.makeService} puts
them together.
"""

import atexit
import os
import resource
import sys
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import ILogObserver, Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure

from sip2acs.acs.server import ACSServer
from sip2acs.app.banner import Listening, bannerLines
from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.interfaces import IILS
from sip2acs.ops.reload import ReloadService

__all__ = [
    "FileLimitService",
    "IServerReactor",
    "ListeningService",
    "ServerService",
    "UMASK",
    "restrictUmask",
]

class IServerReactor(IReactorCore, IReactorTime, IReactorTCP, IReactorThreads):
    """
    What the server and the bridge use of their reactor: its life cycle,
    its clock, TCP, and its threads (the password hashes, the signals).
    Every reactor twistd runs provides them all; this interface only names
    the sum, for type checking (as Twisted's own C{_IReactorCommon} does).
    """


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
    @ivar logObserver: The log observer twistd is to use (see
        L{sip2acs.ops.observers.twistdObserver}), given to the application
        when the service joins it, or L{None} to leave twistd's choice.
    """

    log = Logger()

    def __init__(self, reactor: IReactorCore) -> None:
        MultiService.__init__(self)
        self._reactor = reactor
        self.acsServer: ACSServer | None = None
        self.reloader: ReloadService | None = None
        self.adminService: IService | None = None
        self.logObserver: ILogObserver | None = None

    def setServiceParent(self, parent: Any) -> None:
        """
        Join C{parent}; when it is twistd's application, hand it
        L{logObserver} (twistd asks the application for an L{ILogObserver}
        component before it starts logging, and only C{--logger} overrides
        it).
        """
        if self.logObserver is not None and isinstance(parent, Componentized):
            parent.setComponent(ILogObserver, self.logObserver)
        MultiService.setServiceParent(self, parent)

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

    def privilegedStartService(self) -> None:
        """
        Bind the listeners. A port that cannot be bound (in use, not
        allowed) stops the start-up with one line saying which and why.
        """
        try:
            MultiService.privilegedStartService(self)
        except CannotListenError as e:
            raise SystemExit(cannotListenMessage(e)) from None

    def startService(self) -> None:
        """
        Start the adapters and everything else; the listeners, bound
        already, accept no connection until every adapter has started (a
        kiosk is never taken in by a server that cannot serve it).
        """
        Service.startService(self)
        unbuffered = getattr(self.logObserver, "unbuffered", None)
        if unbuffered is not None:
            # Buffered log lines are written out when the reactor stops
            # (twistd may then end the process with a signal, skipping
            # atexit), and the last lines at once.
            self._reactor.addSystemEventTrigger("after", "shutdown", unbuffered)
        listeners = [
            s for s in self
            if isinstance(s, ListeningService) and s is not self.adminService
        ]
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
                self.logBanner()

        gatherResults(started).addCallback(accept)

    def logBanner(self) -> None:
        """
        Log the start-up banner (L{sip2acs.app.banner.bannerLines}): the
        version, the listeners' bound addresses, the admin URL, the
        institutions, and how to log in to a demo library created now.
        """
        if self.acsServer is None:
            return
        listening: list[Listening] = []
        for service in self:
            if isinstance(service, ListeningService) and service is not self.adminService:
                address = service.port.getHost() if service.port is not None else None
                listening.append((service.transport, service.description, address))
        admin = None
        if isinstance(self.adminService, ListeningService) and self.adminService.port:
            admin = self.adminService.port.getHost()
        demo = None
        for adapter in self.acsServer.adapters.values():
            created = getattr(adapter, "demoCreated", None)
            if isinstance(created, str):
                demo = created
        for line in bannerLines(self.acsServer.config, listening, admin, demo):
            self.log.info("{line}", line=line)

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


def cannotListenMessage(error: CannotListenError) -> str:
    """
    One sentence for a port start-up cannot bind.
    """
    reason = error.socketError
    why = getattr(reason, "strerror", None) or str(reason)
    errno = getattr(reason, "errno", None)
    if errno == 98 or "in use" in why.lower():
        why = "the address is already in use (is another sip2acs running?)"
    elif errno == 13:
        why = "permission denied (ports below 1024 need privileges)"
    return "sip2acs cannot start: cannot listen on %s:%s: %s" % (
        error.interface or "*", error.port, why,
    )


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

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
        transport: str = "raw",
        description: str = "",
    ) -> None:
        """
        @param transport: What it serves, for the banner (C{"raw"},
            C{"tls"}, C{"telnet"}, C{"http"}).
        @param description: Its endpoint description, for the banner.
        """
        self.endpoint = endpoint
        self.factory = factory
        self.transport = transport
        self.description = description
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


