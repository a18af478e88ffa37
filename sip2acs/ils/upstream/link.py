# -*- test-case-name: tests.test_upstream_link -*-
"""
L{UpstreamLink}: one connection to the upstream SIP2 server, logged in,
connected again when it is lost.

A link sends one request at a time and says, when a request fails,
whether the upstream certainly did not act on it:

  - L{UpstreamUnavailable}: the request never left (the upstream could
    not be reached or refused the login, the link waits before trying
    again), or the upstream answered 96 twice (it could not read it).
    An operation that changes data was B{not done}.
  - L{UpstreamUncertain}: the request went out and no trustworthy answer
    came back (timeout, dropped connection, garbage). Whether a checkout
    happened is unknown: it must not be sent again blindly.

Reconnection waits grow from C{retryInitial} to C{retryMax}, doubling,
each multiplied by a random factor between 0.5 and 1.5 (jitter), so that
many gateways do not hammer an upstream that comes back all at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from sip2acs.client.protocol import SIP2ClientProtocol
from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.upstream.settings import UpstreamLogin
from sip2acs.ils.upstream.stats import UpstreamStats
from sip2acs.sip import codec
from sip2acs.sip.exchange import ConnectionFailed, LoginRefused, ResendRefused

__all__ = ["UpstreamLink", "UpstreamUncertain", "UpstreamUnavailable"]


class UpstreamUnavailable(ILSUnavailable):
    """
    The upstream did not act on the request: it was never sent, or the
    upstream could not read it. (An L{ILSUnavailable}: the session logs
    its sentence, not a traceback.)
    """


class UpstreamUncertain(ILSUnavailable):
    """
    The request was sent and no trustworthy answer came back: whether the
    upstream acted on it is unknown.

    @ivar cancelled: The caller gave up waiting (the session's ILS
        timeout), rather than the upstream failing.
    """

    def __init__(self, message: str, cancelled: bool = False) -> None:
        ILSUnavailable.__init__(self, message)
        self.cancelled = cancelled


Connector = Callable[[], "Deferred[SIP2ClientProtocol]"]
"""
C{connect()}: open a new connection to the upstream (not logged in).
"""


class UpstreamLink:
    """
    One upstream connection, opened on demand and after every loss.

    @ivar name: For logs: the upstream and this link's number.
    @ivar protocol: The open L{SIP2ClientProtocol}, or L{None}.
    @ivar lastError: Why the last attempt to connect failed, or L{None}.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        connect: Connector,
        login: UpstreamLogin | None,
        name: str,
        stats: UpstreamStats,
        connectTimeout: float = 10.0,
        retryInitial: float = 1.0,
        retryMax: float = 60.0,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        """
        @param connect: Opens a connection (see L{Connector}).
        @param login: What to log in with (a 93), or L{None} for none.
        @param jitter: A factor for each wait, C{random.uniform(0.5, 1.5)}
            by default.
        """
        self.clock = clock
        self._connect = connect
        self.login = login
        self.name = name
        self.stats = stats
        self.connectTimeout = connectTimeout
        self.retryInitial = retryInitial
        self.retryMax = retryMax
        self._jitter = jitter or (lambda: random.uniform(0.5, 1.5))
        self.protocol: SIP2ClientProtocol | None = None
        self.lastError: str | None = None
        self._failures = 0
        self._retryAt = 0.0
        self._opening: list[Deferred[SIP2ClientProtocol]] | None = None
        self._closed = False
        self._everConnected = False

    @property
    def ready(self) -> bool:
        """
        Whether the link is connected and logged in.
        """
        return self.protocol is not None and self.protocol.usable

    @property
    def waiting(self) -> bool:
        """
        Whether the link is waiting before it tries to connect again.
        """
        return not self.ready and self.clock.seconds() < self._retryAt

    async def request(self, message: codec.Message) -> codec.Message:
        """
        Send C{message} and return the upstream's answer.

        @raise UpstreamUnavailable: It was not acted on.
        @raise UpstreamUncertain: It went out and no usable answer came.
        """
        protocol = await self._open()
        try:
            exchange = await protocol.exchange(message)
        except ResendRefused as e:
            raise UpstreamUnavailable(str(e)) from e
        except ConnectionFailed as e:
            self._lost(str(e))
            raise UpstreamUncertain(str(e)) from e
        answer = exchange.decoded.message
        if exchange.unexpected:
            error = "%s answered a %s with a %s; %s expected" % (
                self.name, message.code, answer.code, exchange.expected)
            self._lost(error)
            protocol.disconnect()
            raise UpstreamUncertain(error)
        return answer

    def close(self) -> None:
        """
        Close the connection and open no other.
        """
        self._closed = True
        if self.protocol is not None:
            self.protocol.disconnect()
            self.protocol = None

    # -- connecting --

    async def _open(self) -> SIP2ClientProtocol:
        if self.protocol is not None and self.protocol.usable:
            return self.protocol
        if self.protocol is not None:
            self._lost("%s closed the connection" % (self.name,))
        if self._closed:
            raise UpstreamUnavailable("the gateway is stopping")
        now = self.clock.seconds()
        if now < self._retryAt:
            raise UpstreamUnavailable(
                "the upstream %s is unavailable (%s); next attempt in %.0f s"
                % (self.name, self.lastError, self._retryAt - now)
            )
        # Every request arriving while the link connects waits for the
        # same attempt.
        waiter: Deferred[SIP2ClientProtocol] = Deferred()
        if self._opening is not None:
            self._opening.append(waiter)
        else:
            self._opening = [waiter]
            Deferred.fromCoroutine(self._connectAndLogIn()).addBoth(self._opened)
        return await waiter

    def _opened(self, result: SIP2ClientProtocol | Failure) -> None:
        waiters, self._opening = self._opening or [], None
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)

    async def _connectAndLogIn(self) -> SIP2ClientProtocol:
        try:
            connecting = self._connect()
            connecting.addTimeout(self.connectTimeout, self.clock)
            protocol = await connecting
        except Exception as e:
            if isinstance(e, TimeoutError):
                reason = "no connection within %g seconds" % (self.connectTimeout,)
            else:
                reason = _describe(e)
            raise self._failed("cannot connect: %s" % (reason,)) from None
        if self.login is not None:
            try:
                await self._logIn(protocol, self.login)
            except LoginRefused as e:
                protocol.disconnect()
                raise self._failed(str(e)) from None
            except ConnectionFailed as e:
                raise self._failed("the login went unanswered: %s" % (e,)) from None
        if self._closed:
            protocol.disconnect()
            raise UpstreamUnavailable("the gateway is stopping")
        self.protocol = protocol
        self.stats.connected()
        self.log.info(
            "{link}: connected{again}{login}",
            link=self.name,
            again=" again" if self._everConnected else "",
            login=" and logged in as %s" % (self.login.login,) if self.login else "",
        )
        self._everConnected = True
        self._failures = 0
        self._retryAt = 0.0
        self.lastError = None
        return protocol

    async def _logIn(self, protocol: SIP2ClientProtocol, login: UpstreamLogin) -> None:
        answer = await protocol.request(
            codec.Login(
                uidAlgorithm="0",
                pwdAlgorithm="0",
                loginUserId=login.login,
                loginPassword=login.password,
                locationCode=login.location,
            )
        )
        if not answer.ok:
            raise LoginRefused("the upstream refused the login %s" % (login.login,))

    def _failed(self, reason: str) -> UpstreamUnavailable:
        """
        Note a failed attempt to connect and when to try again.
        """
        self._failures += 1
        delay = min(self.retryMax, self.retryInitial * 2 ** (self._failures - 1))
        delay *= self._jitter()
        self._retryAt = self.clock.seconds() + delay
        self.stats.connectFailed()
        if reason != self.lastError:
            # Once per kind of failure, not once per attempt.
            self.log.warn(
                "{link}: {reason}; trying again in {delay:.1f} s (and backing off)",
                link=self.name,
                reason=reason,
                delay=delay,
            )
        self.lastError = reason
        return UpstreamUnavailable("the upstream %s is unavailable: %s" % (self.name, reason))

    def _lost(self, reason: str) -> None:
        if self.protocol is not None:
            self.protocol = None
            self.stats.lost()
            self.log.info("{link}: connection lost: {reason}", link=self.name, reason=reason)


def _describe(error: BaseException) -> str:
    """
    A connection error as one lower-case clause.
    """
    text = str(error).strip() or error.__class__.__name__
    # Twisted's errors read "Connection was refused by other side: 111:
    # Connection refused."; keep what a person needs.
    if ": " in text and text.split(": ")[-1]:
        text = text.split(": ")[-1]
    return text.rstrip(".").lower()
