# -*- test-case-name: tests.test_auth -*-
"""
Logins, through L{twisted.cred}: one path for the 93, the telnet prelude
and address or certificate login.

  - Credentials: L{SIPPassword} (a login id and password, from a 93 or the
    telnet prelude) and L{SIPAddress} (an SC asking to be the account bound
    to its address); both say where they come from (L{ISIPCredentials}).
  - Checkers: L{PasswordChecker} (the login throttle, the scrypt check in a
    thread, the allow list and certificate check) and L{AddressChecker}
    (the accounts' C{addresses}). A refused login fails with
    L{UnauthorizedLogin}; the password checker logs why.
  - The realm, L{AccountRealm}, whose avatar is the account
    (L{ISIPAccount}), and L{makePortal}, which puts them together for one
    configuration's accounts.

L{ACSSession.authenticate <sip2acs.acs.session.ACSSession.authenticate>}
logs the SC in with what the portal answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ICredentials
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from sip2acs.acs.addresses import parseAddress
from sip2acs.acs.throttle import ListenerThrottles, LoginThrottle
from sip2acs.passwords import VerifiedCache, hashPassword, verifyPassword
from sip2acs.sip import codec

if TYPE_CHECKING:
    # For the annotations only: acs/ must not import config/ at run time
    # (tests/test_layers.py).
    from sip2acs.config import ListenerConfig

__all__ = [
    "ISIPAccount",
    "ISIPCredentials",
    "ISIPPassword",
    "IAddressLogin",
    "SIPPassword",
    "SIPAddress",
    "PasswordChecker",
    "AddressChecker",
    "AccountRealm",
    "makePortal",
    "bindsAddresses",
    "describeLogin",
    "loginRefusal",
    "LOGGED_IN",
    "REFUSED",
]

PLAUSIBLE_LOGIN = 32
"""
Longest unknown login id the log shows; a longer one is logged by its
length only (it may be a password typed into the login field).
"""

LOGGED_IN = {
    "93": "{login} logged in from {peer}",
    "telnet": "{login} logged in from {peer} (telnet)",
    "address": "{login} logged in from {peer} by its address",
}
"""
The log line of a successful login, by L{ISIPCredentials.via}.
"""

REFUSED = {
    "93": "{login} from {peer} refused",
    "telnet": "telnet {login} from {peer} refused",
}
"""
The log line of a refused login, by L{ISIPCredentials.via}. An address
login that finds no account has no line: it is no failed login, and is not
counted as one.
"""

RunInThread = Callable[..., Deferred[Any]]

AvatarId = bytes | tuple[()]
"""
What a checker answers (L{ICredentialsChecker.requestAvatarId}): here
always the login id, UTF-8 encoded.
"""


class ISIPAccount(Interface):
    """
    The avatar of a login: an SC account (an L{AccountConfig
    <sip2acs.config.AccountConfig>}), as far as logging in needs it.
    """

    login = Attribute("The login id (L{str}).")
    passwordHash = Attribute("The password's hash (see L{sip2acs.passwords}).")
    institution = Attribute("The id of the institution the account serves.")
    allow = Attribute(
        "An L{AddressList} of the addresses it may log in from, or L{None}."
    )
    addresses = Attribute(
        "An L{AddressList} of addresses logged in as this account without a"
        " 93, or L{None}."
    )
    certificateSubject = Attribute(
        "The subject the SC's TLS client certificate must have, or L{None}."
    )


class ISIPCredentials(ICredentials):
    """
    Where a login comes from.
    """

    peer = Attribute("The SC's address (a host string), or L{None}.")
    listener = Attribute(
        "The L{ListenerConfig <sip2acs.config.ListenerConfig>} the SC connected"
        " to (its cooling-off settings apply), or L{None}."
    )
    subject = Attribute(
        "The subject of the SC's TLS client certificate (see"
        " L{sip2acs.transports.tls.peerSubject}), or L{None}."
    )
    via = Attribute(
        'How the SC logs in: C{"93"}, C{"telnet"} or C{"address"} (see'
        " L{LOGGED_IN} and L{REFUSED})."
    )


class ISIPPassword(ISIPCredentials):
    """
    A login id and password, as text (Twisted's L{IUsernamePassword
    <twisted.cred.credentials.IUsernamePassword>} holds bytes; SIP2 logins
    are decoded with the account's encoding before they are checked).
    """

    username = Attribute("The login id (L{str}).")
    password = Attribute("The password (L{str}).")


class IAddressLogin(ISIPCredentials):
    """
    An SC asking to be the account bound to its address (and certificate):
    no login id, no password.
    """


@implementer(ISIPPassword)
@attrs.frozen
class SIPPassword:
    """
    A login id and password an SC sent (in a 93, or to the telnet prompts).
    """

    username: str
    password: str = attrs.field(repr=False)
    peer: str | None = None
    listener: ListenerConfig | None = None
    subject: str | None = None
    via: str = "93"


@implementer(IAddressLogin)
@attrs.frozen
class SIPAddress:
    """
    An SC at C{peer}, with the certificate C{subject}, asking to be the
    account bound to its address.
    """

    peer: str | None
    subject: str | None = None
    listener: ListenerConfig | None = None
    via: str = "address"


def describeLogin(login: str, accounts: Mapping[str, Any]) -> str:
    """
    How a login id appears in the log. A configured login is shown as it
    is; an unknown one only when it is short and printable, since it may be
    a password typed into the login field, and masked from a secret field id
    on (L{maskSecrets <sip2acs.sip.codec.maskSecrets>}: a 93 that lost the
    delimiter before its password).

    @param login: The login id the SC sent.
    @param accounts: Login to account: the configured logins.
    @return: E.g. C{"login 'kiosk1'"}, C{"unknown login 'kiosk9'"},
        C{"an unknown login of 40 characters"}.
    """
    if login in accounts:
        return "login %r" % (login,)
    if not login:
        return "an empty login"
    # A 93 that lost the delimiter before its password (CO).
    login = codec.maskSecrets(login)
    if len(login) <= PLAUSIBLE_LOGIN and login.isascii() and login.isprintable():
        return "unknown login %r" % (login,)
    return "an unknown login of %d characters" % (len(login),)


def loginRefusal(account: Any, peer: str | None, subject: str | None = None) -> str | None:
    """
    Why an SC at C{peer}, whose TLS client certificate has C{subject}, may
    not log in as C{account} whatever its password.

    @param account: An L{ISIPAccount} provider.
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


def _avatarId(login: str) -> bytes:
    """
    The avatar id of a login id: Twisted's checkers answer bytes.
    """
    return login.encode("utf-8")


_dummyHash: str | None = None


def _hashOfNothing() -> str:
    """
    A hash no login has, checked for unknown logins (made once, lazily).
    """
    global _dummyHash
    if _dummyHash is None:
        _dummyHash = hashPassword("-")
    return _dummyHash


@implementer(ICredentialsChecker)
class PasswordChecker:
    """
    Checks a login id and password against the configured accounts, and
    that the SC may log in as that account from where it is
    (L{loginRefusal}).

    On a listener with a cooling-off, each attempt takes a slot of its
    (address, login) count before the password is checked (see
    L{LoginThrottle}): a login cooling off after repeated failures is
    refused without a check, and an attempt waits while as many checks are
    in progress as failures are left before the cooling-off. Logins that
    are not configured are all counted under one key per address: guessing
    at made-up login ids costs as many checks as guessing one account's
    password.

    The hash comparison costs tens of milliseconds of CPU, so it runs in a
    thread (C{runInThread}), never on the reactor thread; a password
    verified against the same hash within the L{VerifiedCache}'s time is
    answered from the cache at once, without a thread. An unknown login
    costs the same as a known one, so the answer's timing does not tell
    which logins exist.

    @ivar accounts: Login to L{ISIPAccount} provider.
    @ivar throttles: The L{ListenerThrottles}, or L{None} for no cooling-off.
    @ivar runInThread: C{f(function, *args)} running blocking work off the
        reactor thread, returning a Deferred of its result.
    @ivar log: Where refusals are logged, with their reason.
    """

    credentialInterfaces = (ISIPPassword,)

    def __init__(
        self,
        accounts: Mapping[str, Any],
        runInThread: RunInThread,
        throttles: ListenerThrottles | None = None,
        verified: VerifiedCache | None = None,
        log: Logger | None = None,
    ) -> None:
        """
        @param verified: The L{VerifiedCache} of recent successful checks; a
            new one by default.
        @param log: A L{Logger}; one of this class by default.
        """
        self.accounts = accounts
        self.runInThread = runInThread
        self.throttles = throttles
        self.verified = verified if verified is not None else VerifiedCache(size=1000)
        self.log = log if log is not None else Logger()

    def verify(self, password: str, stored: str | None) -> bool:
        """
        Whether C{password} matches the hash C{stored}; blocking (run it in
        a thread).

        @param stored: The account's password hash, or L{None} for an
            unknown login, which is checked against a hash no login has.
        """
        if stored is None:
            verifyPassword(password, _hashOfNothing())
            return False
        return bool(self.verified.verify(password, stored))

    def requestAvatarId(self, credentials: Any) -> Deferred[AvatarId]:
        """
        Check C{credentials}, an L{ISIPPassword} provider.

        @return: A Deferred firing with the avatar id (the login id, UTF-8
            encoded), or failing with L{UnauthorizedLogin} saying why.
        """
        login = credentials.username
        peer = credentials.peer
        throttle = None
        if self.throttles is not None:
            throttle = self.throttles.forListener(credentials.listener)
        # The login id the throttle counts the attempt under: None for
        # every login that is not configured.
        counted = login if login in self.accounts else None
        if throttle is None:
            return self._check(None, credentials, None, None)
        d = throttle.attempt(peer, counted)
        return d.addCallback(self._check, credentials, throttle, counted)

    def _check(
        self,
        refusal: str | None,
        credentials: Any,
        throttle: LoginThrottle | None,
        counted: str | None,
    ) -> Deferred[AvatarId]:
        """
        The throttle answered (C{refusal}, or L{None} for go on): check the
        password in a thread.
        """
        login = credentials.username
        peer = credentials.peer
        if refusal is not None:
            self.log.info(
                "{login} from {peer} refused: {reason}",
                login=describeLogin(login, self.accounts),
                peer=peer,
                reason=refusal,
            )
            raise UnauthorizedLogin(refusal)
        account = self.accounts.get(login)
        stored = account.passwordHash if account is not None else None
        d: Deferred[Any]
        if stored is not None and self.verified.remembers(credentials.password, stored):
            # Verified against this very hash a moment ago (a vendor that
            # connects per patron check): an HMAC, answered here without
            # a thread. A changed password has a new hash, which the
            # cache does not know.
            d = succeed(True)
        else:
            d = self.runInThread(self.verify, credentials.password, stored)
        d.addCallback(self._verified, credentials, account, throttle, counted)
        if throttle is not None:
            d.addErrback(self._released, peer, throttle, counted)
        return d

    def _released(
        self, failure: Failure, peer: str | None, throttle: LoginThrottle, counted: str | None
    ) -> Failure:
        """
        The check could not be made: give back its throttle slot.
        """
        if not failure.check(UnauthorizedLogin):
            throttle.released(peer, counted)
        return failure

    def _verified(
        self,
        ok: bool,
        credentials: Any,
        account: Any,
        throttle: LoginThrottle | None,
        counted: str | None,
    ) -> bytes:
        login = credentials.username
        peer = credentials.peer
        reason = "wrong login or password"
        if ok:
            refusal = loginRefusal(account, peer, credentials.subject)
            if refusal is None:
                if throttle is not None:
                    throttle.succeeded(peer, counted)
                return _avatarId(login)
            self.log.warn(
                "{login} from {peer} refused: {reason}",
                login=describeLogin(login, self.accounts),
                peer=peer,
                reason=refusal,
            )
            reason = refusal
        if throttle is not None and throttle.failed(peer, counted):
            self.log.warn(
                "{peer}: {count} failed logins as {login} on {endpoint}; refusing"
                " them for {seconds:.0f} s",
                peer=peer,
                count=throttle.limit,
                login=describeLogin(login, self.accounts),
                endpoint=credentials.listener.endpoint,
                seconds=throttle.period,
            )
        raise UnauthorizedLogin(reason)


@implementer(ICredentialsChecker)
class AddressChecker:
    """
    Finds the account bound to an SC's address by its C{addresses}, if the
    SC may log in as it from there (L{loginRefusal}): for SCs that never
    send a 93 (a 93 still overrides it).

    @ivar accounts: Login to L{ISIPAccount} provider.
    """

    credentialInterfaces = (IAddressLogin,)

    def __init__(self, accounts: Mapping[str, Any]) -> None:
        self.accounts = accounts
        self._bound = tuple(a for a in accounts.values() if a.addresses is not None)

    @property
    def bindsAny(self) -> bool:
        """
        Whether any account is bound to addresses: if not, no address login
        can succeed.
        """
        return bool(self._bound)

    def accountFor(self, peer: str | None, subject: str | None = None) -> Any:
        """
        The account bound to C{peer}, if any, and if the SC may log in as it
        from there with the certificate C{subject}.

        @return: An L{ISIPAccount} provider or L{None}.
        """
        if not self._bound:
            return None
        address = parseAddress(peer)
        if address is None:
            return None
        for account in self._bound:
            if address in account.addresses:
                if loginRefusal(account, peer, subject) is None:
                    return account
                return None
        return None

    def requestAvatarId(self, credentials: Any) -> Deferred[AvatarId]:
        """
        Check C{credentials}, an L{IAddressLogin} provider; the answer is
        there at once.

        @return: A Deferred firing with the avatar id of the bound account,
            or failing with L{UnauthorizedLogin}.
        """
        account = self.accountFor(credentials.peer, credentials.subject)
        if account is None:
            return fail(UnauthorizedLogin("no account is bound to the address"))
        return succeed(_avatarId(account.login))


@implementer(IRealm)
class AccountRealm:
    """
    The accounts of one configuration: the avatar of a login id is its
    account (L{ISIPAccount}). Logging out has nothing to release.
    """

    def __init__(self, accounts: Mapping[str, Any]) -> None:
        self.accounts = accounts

    def requestAvatar(
        self, avatarId: Any, mind: object, *interfaces: Any
    ) -> tuple[Any, Any, Callable[[], None]]:
        """
        The account of C{avatarId}, the avatar id a checker answered.
        """
        if ISIPAccount not in interfaces:
            raise NotImplementedError("only ISIPAccount avatars are served")
        account = self.accounts.get(avatarId.decode("utf-8"))
        if account is None:
            raise UnauthorizedLogin("the account is gone")
        return ISIPAccount, account, lambda: None


def bindsAddresses(portal: Portal) -> bool:
    """
    Whether an address login through C{portal} can succeed at all: L{False}
    when its L{AddressChecker} has no account bound to an address, so a
    connection need not try (the refusal it would get is neither logged
    nor counted).
    """
    checker = portal.checkers.get(IAddressLogin)
    return not isinstance(checker, AddressChecker) or checker.bindsAny


def makePortal(checker: PasswordChecker) -> Portal:
    """
    The portal every login of one configuration goes through: the accounts
    of C{checker}, checked by password (C{checker}) or address (an
    L{AddressChecker}), with an L{AccountRealm} of them.
    """
    accounts = checker.accounts
    return Portal(AccountRealm(accounts), [checker, AddressChecker(accounts)])
