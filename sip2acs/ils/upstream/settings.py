# -*- test-case-name: tests.test_upstream_settings -*-
"""
The gateway's settings, read from an institution's table with
C{adapter = "sip2"} (see tap.md, "In front of your ILS").

Every key of the table but the institution's own becomes one field of
L{UpstreamSettings}; L{UpstreamSettings.fromOptions} checks them and says
in one sentence what is wrong. Passwords come from files (or, for the
gateway's own login, the environment variable C{SIP2ACS_UPSTREAM_PASSWORD}),
never from the TOML itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from sip2acs.ils.base import UnknownSettings

__all__ = [
    "ENVIRONMENT_PASSWORD",
    "OfflineSettings",
    "UpstreamLogin",
    "UpstreamSettings",
    "readPasswordFile",
]

ENVIRONMENT_PASSWORD = "SIP2ACS_UPSTREAM_PASSWORD"
"""
The environment variable holding the gateway's upstream password when the
institution names no C{upstream-password-file}.
"""

_ENCODINGS = ("ascii", "latin-1", "cp850", "utf-8")
_TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n"}


def readPasswordFile(path: str, key: str) -> str:
    """
    The password in C{path}: its first line, without the line end.

    @param key: The setting that names the file, for the message.
    @raise ValueError: The file cannot be read, or its first line is empty.
    """
    try:
        with open(path, encoding="utf-8") as f:
            password = f.readline().rstrip("\r\n")
    except OSError as e:
        raise ValueError(
            "%s: cannot read %s: %s" % (key, path, (e.strerror or str(e)).lower())
        ) from None
    if not password:
        raise ValueError("%s: the first line of %s is empty" % (key, path))
    return password


@attrs.frozen
class UpstreamLogin:
    """
    A login on the upstream SIP2 server (its 93).

    @ivar login: C{CN}.
    @ivar password: C{CO}; never shown in a C{repr}.
    @ivar location: C{CP}, or L{None}.
    """

    login: str
    password: str = attrs.field(repr=False)
    location: str | None = None


@attrs.frozen
class OfflineSettings:
    """
    What the gateway accepts while the upstream is down.

    @ivar queue: The SQLite file of the offline queue.
    @ivar checkins: Take checkins into the queue.
    @ivar checkouts: Take checkouts into the queue too (only where the
        institution explicitly allows it).
    @ivar checkoutLimit: Queued checkouts allowed per patron.
    """

    queue: str
    checkins: bool = True
    checkouts: bool = False
    checkoutLimit: int = 0


@attrs.frozen
class UpstreamSettings:
    """
    Where the gateway forwards an institution's operations, and how.

    @ivar endpoint: A Twisted client endpoint string (C{tcp:host=...:port=...},
        C{tls:host=...:port=...:trustRoots=...}).
    @ivar login: The gateway's own upstream login, or L{None} for an
        upstream that needs none.
    @ivar institution: The C{AO} sent upstream.
    @ivar location: The location sent upstream when the kiosk has none.
    @ivar poolSize: Upstream connections shared by every kiosk; 0 for
        pass-through (one connection per sip2acs account, logged in as
        that account's C{accounts} entry, or as C{login}).
    @ivar accounts: sip2acs account login to its own upstream login
        (pass-through mode).
    @ivar timeout: Seconds the upstream has to answer a request.
    @ivar connectTimeout: Seconds to connect and log in.
    @ivar queueTimeout: Seconds a request may wait for a free pool
        connection.
    @ivar retryMax: The longest pause between reconnection attempts.
    @ivar statusInterval: Seconds between the 99s that refresh what the
        upstream supports.
    @ivar offline: L{OfflineSettings}, or L{None} for no offline mode.
    """

    endpoint: str
    institution: str
    login: UpstreamLogin | None = None
    location: str | None = None
    terminalPassword: str = attrs.field(default="", repr=False)
    encoding: str = "ascii"
    errorDetection: bool = False
    terminator: bytes = b"\r"
    poolSize: int = 4
    accounts: Mapping[str, UpstreamLogin] = attrs.field(factory=dict)
    timeout: float = 10.0
    connectTimeout: float = 10.0
    queueTimeout: float = 10.0
    retryInitial: float = 1.0
    retryMax: float = 60.0
    statusInterval: float = 60.0
    offline: OfflineSettings | None = None

    @property
    def passThrough(self) -> bool:
        """
        Whether each account gets its own upstream connection.
        """
        return self.poolSize == 0

    def loginFor(self, account: str) -> UpstreamLogin | None:
        """
        The upstream login an account's requests go out under.
        """
        if self.passThrough:
            return self.accounts.get(account, self.login)
        return self.login

    @classmethod
    def fromOptions(
        cls,
        institutionId: str,
        options: Mapping[str, Any],
        accounts: Iterable[tuple[str, str | None, str | None]] = (),
        environ: Mapping[str, str] | None = None,
    ) -> UpstreamSettings:
        """
        Read an institution's gateway settings.

        @param options: The institution's table but its own keys.
        @param accounts: C{(sip2acs login, upstream-login,
            upstream-password-file)} of each of the institution's accounts.
        @param environ: Where C{SIP2ACS_UPSTREAM_PASSWORD} is looked up
            (L{os.environ} by default).
        @raise ValueError: A key is unknown, missing or wrong.
        """
        environ = os.environ if environ is None else environ
        rest = dict(options)
        rest.pop("type", None)

        def take(key: str, kind: type, default: Any = None) -> Any:
            if key not in rest:
                return default
            value = rest.pop(key)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError("%s must be %s, not %r" % (key, _KINDS[kind], value))
            return value

        def seconds(key: str, default: float) -> float:
            value: float = take(key, float, default)
            if not 0 < value <= 3600:
                raise ValueError("%s must be more than 0 and at most 3600 seconds" % (key,))
            return value

        endpoint = take("upstream", str)
        if not endpoint or not endpoint.strip():
            raise ValueError(
                "upstream is required: the upstream SIP2 server as a Twisted client"
                " endpoint, e.g. tcp:host=127.0.0.1:port=5550"
            )
        if "upstream-password" in rest:
            raise ValueError(
                "upstream-password must not be written in the configuration: put it"
                " in a file named by upstream-password-file, or in the environment"
                " variable %s" % (ENVIRONMENT_PASSWORD,)
            )
        location = take("upstream-location", str)
        loginName = take("upstream-login", str)
        passwordFile = take("upstream-password-file", str)
        login = None
        if loginName is not None:
            if passwordFile is not None:
                password = readPasswordFile(passwordFile, "upstream-password-file")
            elif environ.get(ENVIRONMENT_PASSWORD):
                password = environ[ENVIRONMENT_PASSWORD]
            else:
                raise ValueError(
                    "upstream-login %r needs a password: name a file with"
                    " upstream-password-file, or set %s"
                    % (loginName, ENVIRONMENT_PASSWORD)
                )
            login = UpstreamLogin(loginName, password, location)
        elif passwordFile is not None:
            raise ValueError("upstream-password-file is set but upstream-login is not")
        poolSize = take("pool-size", int, 4)
        if not 0 <= poolSize <= 1000:
            raise ValueError("pool-size must be between 0 (pass-through) and 1000")
        encoding = take("upstream-encoding", str, "ascii")
        if encoding not in _ENCODINGS:
            raise ValueError(
                "upstream-encoding must be one of %s, not %r" % (", ".join(_ENCODINGS), encoding)
            )
        terminator = take("upstream-terminator", str, "CR")
        if terminator not in _TERMINATORS:
            raise ValueError("upstream-terminator must be CR or CRLF, not %r" % (terminator,))
        perAccount = {}
        for account, upstreamLogin, accountPasswordFile in accounts:
            if upstreamLogin is None and accountPasswordFile is None:
                continue
            if poolSize != 0:
                raise ValueError(
                    "account %r names its own upstream-login, which only pass-through"
                    " mode (pool-size = 0) uses" % (account,)
                )
            if upstreamLogin is None or accountPasswordFile is None:
                raise ValueError(
                    "account %r needs both upstream-login and upstream-password-file"
                    % (account,)
                )
            perAccount[account] = UpstreamLogin(
                upstreamLogin,
                readPasswordFile(accountPasswordFile, "account %r upstream-password-file"
                                 % (account,)),
                location,
            )
        offline = None
        queue = take("offline-queue", str)
        offlineCheckins = take("offline-checkins", bool, False)
        offlineCheckouts = take("offline-checkouts", bool, False)
        checkoutLimit = take("offline-checkout-limit", int, 0)
        if offlineCheckouts and checkoutLimit < 1:
            raise ValueError(
                "offline-checkouts needs offline-checkout-limit, the queued checkouts"
                " allowed per patron (1 or more)"
            )
        if offlineCheckins or offlineCheckouts:
            if queue is None:
                raise ValueError(
                    "offline-checkins and offline-checkouts need offline-queue, the"
                    " SQLite file that keeps what was taken while the upstream was down"
                )
            offline = OfflineSettings(queue, offlineCheckins, offlineCheckouts, checkoutLimit)
        elif queue is not None:
            raise ValueError("offline-queue is set but neither offline-checkins nor"
                             " offline-checkouts is true")
        settings = cls(
            endpoint=endpoint.strip(),
            institution=take("upstream-institution", str, institutionId),
            login=login,
            location=location,
            encoding=encoding,
            errorDetection=take("upstream-error-detection", bool, False),
            terminator=_TERMINATORS[terminator],
            poolSize=poolSize,
            accounts=perAccount,
            timeout=seconds("upstream-timeout", 10.0),
            connectTimeout=seconds("upstream-connect-timeout", 10.0),
            queueTimeout=seconds("upstream-queue-timeout", 10.0),
            retryMax=seconds("upstream-retry-max", 60.0),
            statusInterval=seconds("upstream-status-interval", 60.0),
            offline=offline,
        )
        if rest:
            raise UnknownSettings("sip2 gateway", rest, KEYS)
        return settings


_KINDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}

KEYS = (
    "upstream",
    "upstream-login",
    "upstream-password-file",
    "upstream-location",
    "upstream-institution",
    "upstream-encoding",
    "upstream-error-detection",
    "upstream-terminator",
    "upstream-timeout",
    "upstream-connect-timeout",
    "upstream-queue-timeout",
    "upstream-retry-max",
    "upstream-status-interval",
    "pool-size",
    "offline-checkins",
    "offline-checkouts",
    "offline-checkout-limit",
    "offline-queue",
)
"""
The institution keys of the gateway, as tap.md lists them.
"""
