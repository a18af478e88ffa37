"""
Tests for L{sip2acs.acs.auth}: the credentials, checkers, realm and portal
every login goes through, and L{ACSSession.authenticate}, without sockets
(the password check runs inline, the throttle on a L{Clock}).
"""

from typing import Any

import attrs
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin, UnhandledCredentials
from twisted.cred.portal import IRealm
from twisted.internet.defer import fail
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import Interface
from zope.interface.verify import verifyObject

from sip2acs.acs.addresses import AddressList
from sip2acs.acs.auth import (
    AccountRealm,
    AddressChecker,
    IAddressLogin,
    ISIPAccount,
    ISIPPassword,
    PasswordChecker,
    SIPAddress,
    SIPPassword,
    bindsAddresses,
    describeLogin,
    loginRefusal,
    makePortal,
)
from sip2acs.acs.server import ACSServer
from sip2acs.acs.session import ACSSession
from sip2acs.acs.throttle import ListenerThrottles
from tests import loopback
from tests.fixtures import makeListener
from tests.loopback import INSTITUTION, LOGIN, PASSWORD, captureLogs, makeAccount

PEER = "10.0.0.7"
SUBJECT = "CN=kiosk1,O=Harbour Street Library"


def accounts(*configured):
    """
    Login to account, for C{configured} accounts (by default C{kiosk}).
    """
    return {a.login: a for a in configured or (makeAccount(),)}


def makeServer(config):
    """
    An L{ACSServer} for C{config} on a L{Clock}, checking passwords inline.
    """
    adapters = {INSTITUTION: loopback.makeILS()}
    return ACSServer(config, adapters, Clock(), runInThread=loopback.runInline)


def texts(events):
    return [formatEvent(e) for e in events]


def cooling(failures=2, cooloff=60.0):
    return makeListener("tcp:0", loginFailuresBeforeCooloff=failures, cooloff=cooloff)


class RecordingRunner:
    """
    A C{runInThread} that runs the work at once and records it.
    """

    def __init__(self):
        self.calls = []

    def __call__(self, f, *args):
        self.calls.append(args)
        return loopback.runInline(f, *args)


class DescribeLoginTests(SynchronousTestCase):
    def test_kinds(self) -> None:
        """
        A configured login is shown as it is, an unknown short printable
        one as unknown, anything else by its length only.
        """
        known = accounts()
        self.assertEqual(describeLogin(LOGIN, known), "login 'kiosk'")
        self.assertEqual(describeLogin("kiosk9", known), "unknown login 'kiosk9'")
        self.assertEqual(describeLogin("", known), "an empty login")
        self.assertEqual(
            describeLogin("x" * 40, known), "an unknown login of 40 characters"
        )


class LoginRefusalTests(SynchronousTestCase):
    def test_anywhere(self) -> None:
        """
        An account with no allow list and no certificate may log in from
        anywhere.
        """
        self.assertIsNone(loginRefusal(makeAccount(), PEER))

    def test_allowList(self) -> None:
        allow, _ = AddressList.parse(["192.0.2.0/24"])
        self.assertEqual(
            loginRefusal(makeAccount(allow=allow), PEER),
            "the address is not in the account's allow list",
        )
        self.assertIsNone(loginRefusal(makeAccount(allow=allow), "192.0.2.9"))

    def test_certificate(self) -> None:
        account = makeAccount(certificateSubject=SUBJECT)
        self.assertEqual(
            loginRefusal(account, PEER),
            "the account needs a TLS client certificate (%s)" % (SUBJECT,),
        )
        self.assertEqual(
            loginRefusal(account, PEER, "CN=other"),
            "the TLS client certificate is CN=other, not %s" % (SUBJECT,),
        )
        self.assertIsNone(loginRefusal(account, PEER, SUBJECT))


class PasswordCheckerTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.runner = RecordingRunner()
        self.checker = PasswordChecker(
            accounts(), self.runner, ListenerThrottles(self.clock)
        )
        self.events = captureLogs(self)

    def check(self, login=LOGIN, password=PASSWORD, listener=None, **where):
        where.setdefault("peer", PEER)
        return self.checker.requestAvatarId(
            SIPPassword(login, password, listener=listener, **where)
        )

    def test_provides(self) -> None:
        self.assertTrue(verifyObject(ICredentialsChecker, self.checker))
        self.assertEqual(self.checker.credentialInterfaces, (ISIPPassword,))

    def test_rightPassword(self) -> None:
        """
        The right password answers the login id as the avatar id; the hash
        is checked through C{runInThread}.
        """
        self.assertEqual(self.successResultOf(self.check()), b"kiosk")
        self.assertEqual(
            self.runner.calls, [(PASSWORD, makeAccount().passwordHash)]
        )

    def test_cachedPasswordInline(self) -> None:
        """
        A password verified a moment ago against the same hash is answered
        from the checker's cache at once, without a thread (a vendor that
        connects per patron check); a wrong one still goes to the thread.
        """
        self.successResultOf(self.check())
        self.assertEqual(len(self.runner.calls), 1)
        self.assertEqual(self.successResultOf(self.check()), b"kiosk")
        self.assertEqual(len(self.runner.calls), 1)
        self.failureResultOf(self.check(password="wrong"), UnauthorizedLogin)
        self.assertEqual(len(self.runner.calls), 2)

    def test_cachedPasswordChanged(self) -> None:
        """
        Once the account's password changes (a reload gives it a new
        hash), the cached password is refused: it is checked again, in
        the thread, against the new hash.
        """
        self.successResultOf(self.check())
        self.checker.accounts = accounts(makeAccount(password="new password"))
        self.failureResultOf(self.check(), UnauthorizedLogin)
        self.assertEqual(len(self.runner.calls), 2)
        self.assertEqual(self.successResultOf(self.check(password="new password")), b"kiosk")

    def test_cachedPasswordStillRefusedElsewhere(self) -> None:
        """
        A cached password still passes the account's other checks: from
        an address outside its allow list it is refused.
        """
        allow, _ = AddressList.parse(["192.0.2.0/24"])
        self.checker.accounts = accounts(makeAccount(allow=allow))
        self.successResultOf(self.check(peer="192.0.2.9"))
        self.failureResultOf(self.check(), UnauthorizedLogin)
        self.assertEqual(len(self.runner.calls), 1)

    def test_wrongPassword(self) -> None:
        self.failureResultOf(self.check(password="wrong"), UnauthorizedLogin)

    def test_unknownLoginCheckedAnyway(self) -> None:
        """
        An unknown login costs a hash check too, against a hash no login
        has, and is refused.
        """
        self.failureResultOf(self.check("nobody", PASSWORD), UnauthorizedLogin)
        self.assertEqual(self.runner.calls, [(PASSWORD, None)])
        self.assertFalse(self.checker.verify(PASSWORD, None))

    def test_allowListAfterPassword(self) -> None:
        """
        The right password from an address outside the account's allow
        list is refused, and the reason logged as a warning.
        """
        allow, _ = AddressList.parse(["192.0.2.0/24"])
        self.checker.accounts = accounts(makeAccount(allow=allow))
        failure = self.failureResultOf(self.check(), UnauthorizedLogin)
        reason = "the address is not in the account's allow list"
        self.assertEqual(failure.value.args, (reason,))
        self.assertIn(
            "login 'kiosk' from %s refused: %s" % (PEER, reason), texts(self.events)
        )

    def test_certificateSubject(self) -> None:
        """
        An account that needs a client certificate logs in only with it.
        """
        self.checker.accounts = accounts(makeAccount(certificateSubject=SUBJECT))
        self.failureResultOf(self.check(), UnauthorizedLogin)
        self.assertEqual(self.successResultOf(self.check(subject=SUBJECT)), b"kiosk")

    def test_coolingOff(self) -> None:
        """
        On a listener with a cooling-off, the failures that start it are
        logged; during it even the right password is refused unchecked;
        after it the right password logs in.
        """
        listener = cooling(failures=2, cooloff=60)
        for _ in range(2):
            self.failureResultOf(self.check(password="bad", listener=listener))
        self.assertIn(
            "%s: 2 failed logins as login 'kiosk' on tcp:0; refusing them for 60 s"
            % (PEER,),
            texts(self.events),
        )
        checked = len(self.runner.calls)
        self.failureResultOf(self.check(listener=listener), UnauthorizedLogin)
        self.assertEqual(len(self.runner.calls), checked)
        self.assertIn(
            "login 'kiosk' from %s refused: cooling off after repeated failed"
            " logins (60 s left)" % (PEER,),
            texts(self.events),
        )
        self.clock.advance(60)
        self.assertEqual(self.successResultOf(self.check(listener=listener)), b"kiosk")

    def test_madeUpLoginsCountedTogether(self) -> None:
        """
        Logins that are not configured share one count per address.
        """
        listener = cooling(failures=2)
        self.failureResultOf(self.check("made-up-1", listener=listener))
        self.failureResultOf(self.check("made-up-2", listener=listener))
        checked = len(self.runner.calls)
        self.failureResultOf(self.check("made-up-3", listener=listener))
        self.assertEqual(len(self.runner.calls), checked)
        self.assertEqual(self.successResultOf(self.check(listener=listener)), b"kiosk")

    def test_slotReleasedWhenCheckFails(self) -> None:
        """
        When the check itself fails (not a refusal), its error is passed
        on and its throttle slot given back: the next attempt goes on.
        """
        listener = cooling(failures=1)
        self.checker.runInThread = lambda f, *args: fail(RuntimeError("no threads"))
        self.failureResultOf(self.check(listener=listener), RuntimeError)
        self.checker.runInThread = self.runner
        self.assertEqual(self.successResultOf(self.check(listener=listener)), b"kiosk")

    def test_noListenerNoThrottle(self) -> None:
        """
        Without a listener (or throttles) nothing is counted.
        """
        self.checker.throttles = None
        for _ in range(5):
            self.failureResultOf(self.check(password="bad", listener=cooling(1)))
        self.assertEqual(self.successResultOf(self.check()), b"kiosk")


class AddressCheckerTests(SynchronousTestCase):
    def setUp(self):
        bound, _ = AddressList.parse(["10.0.0.0/24"])
        self.checker = AddressChecker(
            accounts(
                makeAccount(),
                makeAccount(login="bound", addresses=bound),
            )
        )

    def test_provides(self) -> None:
        self.assertTrue(verifyObject(ICredentialsChecker, self.checker))
        self.assertEqual(self.checker.credentialInterfaces, (IAddressLogin,))

    def test_bound(self) -> None:
        """
        An address in an account's C{addresses} gets that account, at once.
        """
        self.assertEqual(
            self.successResultOf(self.checker.requestAvatarId(SIPAddress(PEER))),
            b"bound",
        )
        self.assertEqual(self.checker.accountFor(PEER).login, "bound")

    def test_unbound(self) -> None:
        for peer in ("192.0.2.1", None, "not an address"):
            self.failureResultOf(
                self.checker.requestAvatarId(SIPAddress(peer)), UnauthorizedLogin
            )

    def test_certificateNeeded(self) -> None:
        """
        A bound account that needs a client certificate is not found
        without it.
        """
        bound, _ = AddressList.parse(["10.0.0.0/24"])
        checker = AddressChecker(
            accounts(makeAccount(addresses=bound, certificateSubject=SUBJECT))
        )
        self.assertIsNone(checker.accountFor(PEER))
        self.assertEqual(checker.accountFor(PEER, SUBJECT).login, LOGIN)


class RealmTests(SynchronousTestCase):
    def test_avatarIsAccount(self) -> None:
        account = makeAccount()
        realm = AccountRealm(accounts(account))
        self.assertTrue(verifyObject(IRealm, realm))
        interface, avatar, logout = realm.requestAvatar(b"kiosk", None, ISIPAccount)
        self.assertIs(interface, ISIPAccount)
        self.assertIs(avatar, account)
        self.assertIsNone(logout())

    def test_otherInterface(self) -> None:
        realm = AccountRealm(accounts())
        self.assertRaises(NotImplementedError, realm.requestAvatar, b"kiosk", None, Interface)


class PortalTests(SynchronousTestCase):
    def setUp(self):
        bound, _ = AddressList.parse(["10.0.0.0/24"])
        self.bound = makeAccount(login="bound", addresses=bound)
        checker = PasswordChecker(accounts(makeAccount(), self.bound), loopback.runInline)
        self.portal = makePortal(checker)

    def test_password(self) -> None:
        _, account, _ = self.successResultOf(
            self.portal.login(SIPPassword(LOGIN, PASSWORD), None, ISIPAccount)
        )
        self.assertEqual(account.login, LOGIN)
        self.failureResultOf(
            self.portal.login(SIPPassword(LOGIN, "bad"), None, ISIPAccount),
            UnauthorizedLogin,
        )

    def test_address(self) -> None:
        _, account, _ = self.successResultOf(
            self.portal.login(SIPAddress(PEER), None, ISIPAccount)
        )
        self.assertIs(account, self.bound)

    def test_otherCredentials(self) -> None:
        from twisted.cred.credentials import UsernamePassword

        self.failureResultOf(
            self.portal.login(UsernamePassword(b"kiosk", b"secret"), None, ISIPAccount),
            UnhandledCredentials,
        )


class ServerPortalTests(SynchronousTestCase):
    """
    L{ACSServer.portal} and L{ACSServer.throttles}.
    """

    def setUp(self):
        self.config = loopback.makeConfig()
        self.server = makeServer(self.config)

    def checkLogin(self, credentials: Any) -> Any:
        """
        The account the server's portal logs C{credentials} in as, or
        L{None} when it refuses them.
        """
        d = self.server.portal.login(credentials, None, ISIPAccount)
        d.addCallbacks(lambda result: result[1], lambda f: f.trap(UnauthorizedLogin) and None)
        return self.successResultOf(d)

    def test_checkLogin(self) -> None:
        self.assertEqual(self.checkLogin(SIPPassword(LOGIN, PASSWORD)).login, LOGIN)
        self.assertIsNone(self.checkLogin(SIPPassword(LOGIN, "bad")))

    def test_rebuiltOnReload(self) -> None:
        """
        After C{applyConfig}, logins see the new accounts; the throttles
        are kept.
        """
        throttles = self.server.throttles
        other = makeAccount(login="other", password="pw2")
        config = attrs.evolve(self.config, accounts=accounts(other))
        self.server.applyConfig(config, self.server.adapters)
        self.assertIsNone(self.checkLogin(SIPPassword(LOGIN, PASSWORD)))
        self.assertIs(self.checkLogin(SIPPassword("other", "pw2")), other)
        self.assertIs(self.server.throttles, throttles)

    def test_accountForAddress(self) -> None:
        bound, _ = AddressList.parse(["10.0.0.0/24"])
        account = makeAccount(addresses=bound)
        config = attrs.evolve(self.config, accounts=accounts(account))
        self.server.applyConfig(config, self.server.adapters)
        self.assertIs(self.checkLogin(SIPAddress(PEER)), account)
        self.assertIsNone(self.checkLogin(SIPAddress("192.0.2.1")))

    def test_throttleFor(self) -> None:
        listener = cooling()
        throttles = self.server.throttles
        self.assertIs(throttles.forListener(listener), throttles.forListener(listener))
        self.assertIsNone(throttles.forListener(cooling(failures=0)))
        self.assertIsNone(throttles.forListener(None))


class AuthenticateTests(SynchronousTestCase):
    """
    L{ACSSession.authenticate}: the one login entry of a session.
    """

    def setUp(self):
        bound, _ = AddressList.parse(["10.0.0.0/24"])
        config = loopback.makeConfig(
            accounts=[makeAccount(), makeAccount(login="bound", addresses=bound)]
        )
        self.server = makeServer(config)
        self.listener = config.listeners[0]
        self.session = ACSSession(self.server, self.listener, peer=PEER)
        self.events = captureLogs(self)

    def password(self, password=PASSWORD, via="93"):
        return SIPPassword(LOGIN, password, PEER, self.listener, via=via)

    def test_loggedIn(self) -> None:
        """
        Accepted credentials log the SC in, at the location given.
        """
        self.assertIs(
            self.successResultOf(self.session.authenticate(self.password(), "NORTH")),
            True,
        )
        self.assertEqual(self.session.account.login, LOGIN)
        self.assertEqual(self.session.terminal.location, "NORTH")
        self.assertIn("kiosk logged in from %s" % (PEER,), texts(self.events))

    def test_telnetLines(self) -> None:
        self.successResultOf(self.session.authenticate(self.password(via="telnet")))
        self.successResultOf(
            self.session.authenticate(self.password("bad", via="telnet"))
        )
        self.assertIn("kiosk logged in from %s (telnet)" % (PEER,), texts(self.events))
        self.assertIn("telnet login 'kiosk' from %s refused" % (PEER,), texts(self.events))

    def test_refusedCounted(self) -> None:
        """
        A refusal is logged and counted; it ends an earlier login; the
        third in a row says the connection must close.
        """
        self.successResultOf(self.session.authenticate(self.password()))
        for _ in range(3):
            self.assertFalse(self.session.tooManyLoginFailures)
            self.assertIs(
                self.successResultOf(self.session.authenticate(self.password("bad"))),
                False,
            )
            self.assertIsNone(self.session.account)
        self.assertTrue(self.session.tooManyLoginFailures)
        self.assertIn("login 'kiosk' from %s refused" % (PEER,), texts(self.events))
        self.assertIn("%s: 3 failed logins; closing" % (PEER,), texts(self.events))
        self.assertEqual(self.session.loginFailures, 3)

    def test_loginFailed(self) -> None:
        self.assertFalse(self.session.loginFailed())
        self.assertFalse(self.session.loginFailed())
        self.assertTrue(self.session.loginFailed())

    def test_addressMissIsNoFailure(self) -> None:
        """
        An address login that finds no account is refused, but neither
        logged nor counted.
        """
        self.session.peer = "192.0.2.1"
        self.assertFalse(self.session.loginByAddress())
        self.assertEqual(self.session.loginFailures, 0)
        self.assertEqual(texts(self.events), [])

    def test_noBoundAccountNoPortal(self) -> None:
        """
        When no account is bound to an address, an address login is not
        tried through the portal at all: it is refused as quietly.
        """
        server = makeServer(loopback.makeConfig(accounts=[makeAccount()]))
        session = ACSSession(server, self.listener, peer=PEER)
        self.assertFalse(bindsAddresses(server.portal))
        self.assertTrue(bindsAddresses(self.server.portal))
        self.patch(server.portal, "login", lambda *a: self.fail("portal asked"))
        self.assertFalse(session.loginByAddress())
        self.assertEqual(session.loginFailures, 0)
        self.assertIsNone(session.account)
        self.assertEqual(texts(self.events), [])

    def test_address(self) -> None:
        self.assertTrue(self.session.loginByAddress())
        self.assertEqual(self.session.account.login, "bound")
        self.assertIn(
            "bound logged in from %s by its address" % (PEER,), texts(self.events)
        )

    def test_notWanted(self) -> None:
        """
        When C{wanted} says no once the check is over, the outcome is
        dropped: no login, no count.
        """
        d = self.session.authenticate(self.password(), wanted=lambda: False)
        self.assertIsNone(self.successResultOf(d))
        d = self.session.authenticate(self.password("bad"), wanted=lambda: False)
        self.assertIsNone(self.successResultOf(d))
        self.assertIsNone(self.session.account)
        self.assertEqual(self.session.loginFailures, 0)

    def test_checkFailurePassedOn(self) -> None:
        """
        A check that could not be made fails the Deferred; nothing is
        counted.
        """
        checker = self.server.portal.checkers[ISIPPassword]
        checker.runInThread = lambda f, *args: fail(RuntimeError("no threads"))
        self.failureResultOf(self.session.authenticate(self.password()), RuntimeError)
        self.assertEqual(self.session.loginFailures, 0)
