"""
Tests for L{sip2acs.acs.session}: login, status, every request type, error
detection, resend and replay, encodings and secrets, as a kiosk sees them.

The kiosks talk to the server in memory (L{tests.memory}): no socket, a
L{Clock} for every timer, password checks inline, so almost every test is
synchronous. Framing across reads, TLS, telnet and the like are tested over
real sockets in L{tests.test_protocol} and the transport modules.
"""

import re
from datetime import datetime
from decimal import Decimal

from twisted.internet import reactor
from twisted.internet.defer import (
    Deferred,
    fail,
    inlineCallbacks,
    succeed,
)
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.python.threadable import isInIOThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.acs.auth import ISIPPassword
from sip2acs.ils.base import (
    HoldResult,
    ILSBase,
    ItemRef,
    ItemStatusResult,
    Patron,
    PaymentResult,
    RenewAllResult,
    SessionEnd,
    UnsupportedOperation,
)
from sip2acs.ils.interfaces import OPERATIONS
from sip2acs.ils.memory import MemoryILS, MemoryPatron
from sip2acs.sip import codec
from tests.fixtures import (
    ADA,
    ADA_LOAN,
    ADA_PIN,
    FREE_ITEM,
    INSTITUTION,
    OTHER_ITEM,
    ZOE,
    captureLogs,
    login,
    makeAccount,
    makeConfig,
    makeILS,
    request,
    withChecksum,
)
from tests.memory import InMemoryServer, NoReply

UNAVAILABLE = "This service is not available at this library."
SYSTEM_DOWN = "The library system is not available. Please try again later."
TRAILER = re.compile(rb"AY(\d)AZ([0-9A-F]{4})\Z")


def decode(frame, encoding="ascii"):
    """
    Decode a reply; the codec checks its checksum when it has one.
    """
    return codec.decode(frame, encoding=encoding)


class FullILS(MemoryILS):
    """
    A memory ILS that implements every operation, so that each request
    type can be seen reaching the adapter and being answered.
    """

    operations = frozenset(OPERATIONS)

    def blockPatron(self, terminal, patronId, cardRetained, reason):
        self.calls.append(("blockPatron", patronId, cardRetained, reason))
        patron = self.patrons[patronId]
        return succeed(
            Patron(
                found=True,
                patronId=patronId,
                name=patron.name,
                flags={
                    "chargePrivilegesDenied",
                    "renewalPrivilegesDenied",
                    "recallPrivilegesDenied",
                    "holdPrivilegesDenied",
                },
                screenMessages=["Please see the desk."],
            )
        )

    def updateItemStatus(self, terminal, itemId, properties):
        self.calls.append(("updateItemStatus", itemId, properties))
        return succeed(
            ItemStatusResult(
                ok=True, title=self.items[itemId].title, properties=properties
            )
        )

    def enablePatron(self, terminal, patronId, pin=None):
        self.calls.append(("enablePatron", patronId))
        patron = self.patrons[patronId]
        return succeed(
            Patron(
                found=True,
                patronId=patronId,
                name=patron.name,
                pinValid=self._pinValid(patron, pin),
                language="001",
            )
        )

    def hold(self, terminal, request):
        self.calls.append(("hold", request.mode, request.patronId, request.itemId))
        return succeed(
            HoldResult(
                ok=True,
                available=False,
                queuePosition=2,
                pickupLocation=request.pickupLocation,
                itemId=request.itemId,
                title=self.items[request.itemId].title,
                screenMessages=["Hold placed."],
            )
        )

    def renewAll(self, terminal, patronId, pin=None, feeAcknowledged=False):
        self.calls.append(("renewAll", patronId))
        loans = [i.itemId for i in self.items.values() if i.borrower == patronId]
        return succeed(RenewAllResult(ok=True, renewed=loans, unrenewed=["B9999 lost"]))

    def feePaid(self, terminal, payment):
        self.calls.append(("feePaid", payment.patronId, payment.amount, payment.feeId))
        return succeed(
            PaymentResult(
                accepted=True,
                transactionId="ACS-%d" % (len(self.calls),),
                screenMessages=["Thank you for your payment."],
            )
        )


class ListsILS(MemoryILS):
    """
    A memory ILS whose first patron has something in each of the six item
    lists of 64, and some limits.
    """

    def lookupPatron(self, terminal, patronId, pin=None, summary=None):
        self.calls.append(("lookupPatron", patronId))
        if patronId != ADA:
            return MemoryILS.lookupPatron(self, terminal, patronId, pin, summary)
        return succeed(
            Patron(
                found=True,
                patronId=ADA,
                name="Ada Quillfeather",
                pinValid=None if pin is None else pin == ADA_PIN,
                flags={"excessiveOutstandingFines"},
                holdItems=[ItemRef("H1", "Hold One"), ItemRef("H2", "Hold Two")],
                overdueItems=[ItemRef("O1", "Overdue One")],
                chargedItems=[ItemRef("C%d" % (n,), "Loan %d" % (n,)) for n in range(1, 6)],
                fineItems=[
                    ItemRef("F1", "Late fee", amount=Decimal("1.5")),
                    ItemRef("F2", "Damage", amount=Decimal("12")),
                ],
                recallItems=[ItemRef("R1", "Recalled One")],
                unavailableHoldItems=[ItemRef("U%d" % (n,), "Wait %d" % (n,)) for n in range(1, 4)],
                chargedItemsLimit=20,
                feeAmount=Decimal("13.5"),
                feeLimit=Decimal("10"),
                email="ada@example.org",
            )
        )


class FailingILS(MemoryILS):
    """
    A memory ILS whose checkouts fail and whose item lookups raise.
    """

    def checkout(self, terminal, request):
        self.calls.append(("checkout", request.patronId, request.itemId))
        return fail(RuntimeError("the circulation database is on fire"))

    def lookupItem(self, terminal, itemId):
        self.calls.append(("lookupItem", itemId))
        raise ValueError("bad item table")


class SilentILS(MemoryILS):
    """
    A memory ILS whose checkouts never answer.

    @ivar pending: The Deferreds handed out.
    @ivar cancelled: Those the session cancelled.
    """

    def __init__(self, *args, **kwargs):
        MemoryILS.__init__(self, *args, **kwargs)
        self.pending = []
        self.cancelled = []

    def checkout(self, terminal, request):
        self.calls.append(("checkout", request.patronId, request.itemId))
        d = Deferred(lambda d: self.cancelled.append(d))
        self.pending.append(d)
        return d


class ChangedMindILS(MemoryILS):
    """
    A memory ILS that claims to renew but then says it cannot.
    """

    def renew(self, terminal, request):
        self.calls.append(("renew", request.patronId, request.itemId))
        return fail(UnsupportedOperation("renew"))


LONG_LINE = (
    "Thank you for visiting Harbour Street Library today; your loans are"
    " due back in two weeks"
)


class ReceiptILS(MemoryILS):
    """
    A memory ILS whose end of session prints a long receipt line.
    """

    def endPatronSession(self, terminal, patronId, pin=None):
        self.calls.append(("endPatronSession", patronId))
        return succeed(SessionEnd(ok=True, printLines=[LONG_LINE, "Goodbye."]))


class CheckinOnlyILS(ILSBase):
    """
    An adapter that only checks items in.
    """

    operations = frozenset({"checkin"})


def patronStatus(patron=ADA, sequence=None, **fields):
    return request(codec.PatronStatus, sequence=sequence, patronIdentifier=patron, **fields)


def checkout(item=FREE_ITEM, patron=ADA, sequence=None, **fields):
    return request(
        codec.Checkout,
        sequence=sequence,
        patronIdentifier=patron,
        itemIdentifier=item,
        **fields,
    )


class LoginTests(SynchronousTestCase):
    """
    Until a 93 succeeds only 93 (and 99 where the listener allows it) is
    answered.
    """

    def setUp(self):
        self.acs = InMemoryServer(self)

    def test_goodLogin(self):
        """
        A 93 with a configured login and its password is answered 941 and
        logs the SC in with the account's institution and location.
        """
        client = self.acs.connect()
        reply = client.exchange(login(locationCode="NORTH") + b"\r")
        self.assertEqual(reply, b"941")
        session = client.server.session
        self.assertEqual(session.account.login, "kiosk")
        self.assertEqual(
            (session.terminal.institution, session.terminal.location),
            (INSTITUTION, "NORTH"),
        )

    def test_goodLoginChecksummed(self):
        """
        A checksummed 93 gets a 94 with the same sequence digit and a valid
        checksum (the spec's C{941AY1AZFDFC}).
        """
        client = self.acs.connect()
        reply = client.exchange(login(sequence=1) + b"\r")
        self.assertEqual(reply, b"941AY1AZFDFC")

    def test_badPassword(self):
        """
        A wrong password is answered 940; the connection stays open and a
        later good login succeeds.
        """
        client = self.acs.connect()
        self.assertEqual(client.exchange(login(password="Secret") + b"\r"), b"940")
        self.assertIsNone(client.server.session.account)
        self.assertEqual(client.exchange(login() + b"\r"), b"941")

    def test_unknownLogin(self):
        """
        A login that is not configured is answered 940.
        """
        client = self.acs.connect()
        reply = client.exchange(login(user="intruder") + b"\r")
        self.assertEqual(reply, b"940")

    def test_nonZeroAlgorithm(self):
        """
        A login announcing a UID or password algorithm other than 0 (plain
        text) is refused with 940, even with the right password.
        """
        client = self.acs.connect()
        reply = client.exchange(login(uidAlgorithm="1") + b"\r")
        self.assertEqual(reply, b"940")
        reply = client.exchange(login(pwdAlgorithm="2") + b"\r")
        self.assertEqual(reply, b"940")

    def test_threeBadLoginsClose(self):
        """
        The third refused login in a row is answered 940 and the
        connection is then closed.
        """
        client = self.acs.connect()
        client.send(login(password="a") + b"\r")
        client.send(login(user="nobody") + b"\r")
        client.send(login(uidAlgorithm="1") + b"\r" + login() + b"\r")
        client.waitForClose()
        self.assertEqual(client.data, b"940\r" * 3)

    def test_goodLoginResetsFailures(self):
        """
        Failures only count in a row: two refused logins and a good one
        leave the SC logged in.
        """
        client = self.acs.connect()
        client.send(login(password="a") + b"\r" + login(password="b") + b"\r")
        client.send(login() + b"\r")
        self.assertEqual(client.replies(3), [b"940", b"940", b"941"])
        self.assertEqual(client.server.session.loginFailures, 0)

    def test_refusedReloginLogsOut(self):
        """
        A refused 93 on a logged-in connection ends the earlier login: the
        next request is treated as coming from an SC that has not logged
        in, and the connection is closed.
        """
        client = self.acs.connect()
        client.send(login() + b"\r" + login(password="wrong") + b"\r")
        self.assertEqual(client.replies(2), [b"941", b"940"])
        self.assertIsNone(client.server.session.account)
        client.send(b"9900302.00\r")
        client.waitForClose()

    def test_statusBeforeLoginRefused(self):
        """
        By default a 99 before login closes the connection without a
        reply.
        """
        client = self.acs.connect()
        client.send(b"9900802.00\r")
        client.waitForClose()
        self.assertEqual(client.data, b"")

    def test_statusBeforeLoginAllowed(self):
        """
        Where the listener allows status before login, a 99 before 93 is
        answered with the institution's 98; other requests still close
        the connection.
        """
        acs = InMemoryServer(self, config=makeConfig(statusBeforeLogin=True))
        client = acs.connect()
        status = decode(client.exchange(b"9900802.00AY1AZFCA0\r"))
        self.assertEqual(
            (status.message.code, status.message.institutionId, status.sequence),
            ("98", INSTITUTION, 1),
        )
        self.assertIsNone(status.message.terminalLocation)
        client.send(patronStatus() + b"\r")
        client.waitForClose()
        self.assertEqual(acs.adapter.calls, [])

    def test_statusThenLogin(self):
        """
        A kiosk that sends 99 first (where allowed) can then log in and
        work normally.
        """
        acs = InMemoryServer(self, config=makeConfig(statusBeforeLogin=True))
        client = acs.connect()
        self.assertEqual(client.exchange(b"9900802.00\r")[:2], b"98")
        self.assertEqual(client.exchange(login() + b"\r"), b"941")
        reply = decode(client.exchange(patronStatus() + b"\r"))
        self.assertEqual(reply.message.personalName, "Ada Quillfeather")


class LoginThreadTests(TestCase):
    """
    On a real reactor, the password check leaves the reactor thread.
    """

    @inlineCallbacks
    def test_passwordCheckedOffReactorThread(self):
        """
        The password hash is checked in a worker thread, not on the
        reactor thread.
        """
        acs = InMemoryServer(self, reactor=reactor)
        threads = []
        checker = acs.server.portal.checkers[ISIPPassword]
        verify = checker.verify

        def recordingVerify(password, stored):
            threads.append(isInIOThread())
            return verify(password, stored)

        self.patch(checker, "verify", recordingVerify)
        client = acs.connect()
        client.send(login() + b"\r")
        self.assertEqual((yield client.whenReplies()), [b"941"])
        self.assertEqual(threads, [False])


class StatusTests(SynchronousTestCase):
    """
    99 is answered with 98: the institution's policy and a C{BX} built from
    what the adapter really supports.
    """

    def status(self, adapter=None, clock=None, **institution):
        acs = InMemoryServer(
            self, adapter=adapter, config=makeConfig(**institution), clock=clock
        )
        client = acs.loggedIn()
        reply = client.exchange(b"9900802.00AY2AZFC9F\r")
        return decode(reply)

    def test_defaultPolicyWithMemoryILS(self):
        """
        With the default policy and L{MemoryILS}: on-line, checkin,
        checkout and renewal allowed, no status update (it cannot block
        patrons), no off-line; 60 s timeout as 600 tenths; 3 retries; the
        institution id and library name; protocol 2.00.
        """
        reply = self.status()
        m = reply.message
        self.assertEqual(reply.sequence, 2)
        self.assertEqual(
            (m.onlineStatus, m.checkinOk, m.checkoutOk, m.renewalPolicy,
             m.statusUpdateOk, m.offlineOk),
            (True, True, True, True, False, False),
        )
        self.assertEqual((m.timeoutPeriod, m.retriesAllowed), (600, 3))
        self.assertEqual(m.protocolVersion, "2.00")
        self.assertEqual(
            (m.institutionId, m.libraryName), (INSTITUTION, "Harbour Street Library")
        )

    def test_supportedMessagesOfMemoryILS(self):
        """
        C{BX} has C{Y} exactly for what L{MemoryILS} implements (patron
        status and information, checkout, checkin, item information,
        renew, end session) and the session's own status, resend and
        login; C{N} for the rest.
        """
        reply = self.status()
        self.assertEqual(reply.message.supportedMessages, "YYYNYYYYYNYNNNYN")
        adapter = makeILS()
        expected = "".join("Y" if adapter.supports(op) else "N" for op in OPERATIONS)
        self.assertEqual(reply.message.supportedMessages, expected)

    def test_supportedMessagesOfFullAdapter(self):
        """
        An adapter that implements everything gets an all-C{Y} C{BX}, and
        status update is allowed.
        """
        reply = self.status(adapter=makeILS(FullILS))
        self.assertEqual(reply.message.supportedMessages, "Y" * 16)
        self.assertTrue(reply.message.statusUpdateOk)

    def test_supportedMessagesOfCheckinOnlyAdapter(self):
        """
        An adapter that only checks in: C{BX} says so, and 98 reports
        checkout and renewal as not allowed whatever the policy says.
        """
        reply = self.status(adapter=CheckinOnlyILS())
        m = reply.message
        self.assertEqual(m.supportedMessages, "NNYNYYYNNNNNNNNN")
        self.assertEqual(
            (m.checkinOk, m.checkoutOk, m.renewalPolicy), (True, False, False)
        )

    def test_institutionPolicy(self):
        """
        The institution's configured policy is what 98 reports: flags, the
        timeout period in tenths of a second, retries, library name.
        """
        reply = self.status(
            checkin=False,
            renewal=False,
            offline=True,
            timeoutPeriod=12.5,
            retries=7,
            libraryName="Quay Branch",
        )
        m = reply.message
        self.assertEqual(
            (m.checkinOk, m.checkoutOk, m.renewalPolicy, m.offlineOk),
            (False, True, False, True),
        )
        self.assertEqual((m.timeoutPeriod, m.retriesAllowed), (125, 7))
        self.assertEqual(m.libraryName, "Quay Branch")

    def test_dateTimeSyncAndLocation(self):
        """
        The 98 date/time sync is the ACS's clock, and the terminal location
        the SC logged in with is reported in C{AN}.
        """
        clock = Clock()
        clock.advance(1741947300)
        acs = InMemoryServer(self, clock=clock)
        client = acs.connect()
        client.exchange(login(locationCode="QUAY") + b"\r")
        reply = decode(client.exchange(b"9900802.00\r"))
        self.assertEqual(reply.message.dateTimeSync, datetime.fromtimestamp(1741947300))
        self.assertEqual(reply.message.terminalLocation, "QUAY")


class RequestTests(SynchronousTestCase):
    """
    Every request type reaches the adapter and gets a response of the
    right type with the right fields.
    """

    def connect(self, adapter=None, **kwargs):
        self.acs = InMemoryServer(self, adapter=adapter, **kwargs)
        self.adapter = self.acs.adapter
        client = self.acs.loggedIn()
        return client

    def test_patronStatus(self):
        """
        23 gets a 24 with the patron's status, name, C{BLY}, C{CQY} for the
        right PIN, the fee amount, the institution and the sequence digit.
        """
        client = self.connect()
        reply = client.ask(patronStatus(sequence=3, patronPassword=ADA_PIN))
        m = reply.message
        self.assertEqual((m.code, reply.sequence), ("24", 3))
        self.assertEqual(m.patronStatus, " " * 14)
        self.assertEqual(m.language, "001")
        self.assertEqual(
            (m.institutionId, m.patronIdentifier, m.personalName),
            (INSTITUTION, ADA, "Ada Quillfeather"),
        )
        self.assertEqual((m.validPatron, m.validPatronPassword), (True, True))
        self.assertEqual((m.currencyType, m.feeAmount), ("USD", "0.00"))
        self.assertEqual(self.adapter.calls[-1], ("lookupPatron", ADA))

    def test_currencyFallsBackToTheSetting(self):
        """
        An amount whose currency the adapter does not say is in the
        institution's C{currency} setting (C{USD} without one: see
        L{test_patronStatus}).
        """
        client = self.connect(config=makeConfig(currency="EUR"))
        m = client.ask(patronStatus(patronPassword=ADA_PIN)).message
        self.assertEqual((m.currencyType, m.feeAmount), ("EUR", "0.00"))

    def test_patronStatusWrongOrNoPin(self):
        """
        A wrong PIN gives C{CQN}; no PIN at all gives no C{CQ}.
        """
        client = self.connect()
        wrong = client.ask(patronStatus(patronPassword="0000"))
        self.assertEqual(
            (wrong.message.validPatron, wrong.message.validPatronPassword), (True, False)
        )
        none = client.ask(patronStatus())
        self.assertIsNone(none.message.validPatronPassword)

    def test_patronStatusUnknownPatron(self):
        """
        An unknown patron gets C{BLN}, the all-blocked status, an empty
        name, the barcode echoed and the adapter's screen message.
        """
        client = self.connect()
        reply = client.ask(patronStatus("P404"))
        m = reply.message
        self.assertEqual(
            (m.patronStatus, m.patronIdentifier, m.personalName, m.validPatron),
            ("YYYY" + " " * 10, "P404", "", False),
        )
        self.assertEqual(m.screenMessage, ("Unknown patron.",))

    def test_patronInformationSummaryPositions(self):
        """
        63 with a C{Y} in summary position 0 to 5 gets a 64 with all six
        counts and the one list asked for: holds (C{AS}), overdue (C{AT}),
        charged (C{AU}), fines with their amounts (C{AV}), recalls (C{BU})
        and unavailable holds (C{CD}).
        """
        client = self.connect(adapter=makeILS(ListsILS))
        expected = [
            ("holdItems", ("H1", "H2")),
            ("overdueItems", ("O1",)),
            ("chargedItems", ("C1", "C2", "C3", "C4", "C5")),
            ("fineItems", ("F1 1.50", "F2 12.00")),
            ("recallItems", ("R1",)),
            ("unavailableHoldItems", ("U1", "U2", "U3")),
        ]
        names = [name for name, _ in expected]
        for position, (name, items) in enumerate(expected):
            summary = " " * position + "Y" + " " * (9 - position)
            reply = client.ask(
                request(codec.PatronInformation, sequence=position,
                        patronIdentifier=ADA, summary=summary)
            )
            m = reply.message
            self.assertEqual((m.code, reply.sequence), ("64", position))
            self.assertEqual(
                (m.holdItemsCount, m.overdueItemsCount, m.chargedItemsCount,
                 m.fineItemsCount, m.recallItemsCount, m.unavailableHoldsCount),
                (2, 1, 5, 2, 1, 3),
            )
            self.assertEqual(getattr(m, name), items, name)
            for other in names:
                if other != name:
                    self.assertEqual(getattr(m, other), (), other)

    def test_patronInformationFields(self):
        """
        64 carries the patron's status flags, limits, fees, e-mail and
        C{BL}/C{CQ}, and no list when the summary asks for none.
        """
        client = self.connect(adapter=makeILS(ListsILS))
        reply = client.ask(
            request(codec.PatronInformation, patronIdentifier=ADA,
                    patronPassword=ADA_PIN)
        )
        m = reply.message
        self.assertEqual(m.patronStatus, " " * 10 + "Y" + " " * 3)
        self.assertEqual(
            (m.chargedItemsLimit, m.feeAmount, m.feeLimit, m.currencyType),
            (20, "13.50", "10.00", "USD"),
        )
        self.assertEqual(m.emailAddress, "ada@example.org")
        self.assertEqual((m.validPatron, m.validPatronPassword), (True, True))
        self.assertEqual((m.chargedItems, m.holdItems), ((), ()))

    def test_patronInformationWindow(self):
        """
        C{BP}/C{BQ} select a window of the list (1-based, inclusive);
        C{BP} alone runs to the end.
        """
        client = self.connect(adapter=makeILS(ListsILS))
        summary = "  Y       "
        window = client.ask(
            request(codec.PatronInformation, patronIdentifier=ADA, summary=summary,
                    startItem=2, endItem=3)
        )
        self.assertEqual(window.message.chargedItems, ("C2", "C3"))
        self.assertEqual(window.message.chargedItemsCount, 5)
        tail = client.ask(
            request(codec.PatronInformation, patronIdentifier=ADA, summary=summary,
                    startItem=4)
        )
        self.assertEqual(tail.message.chargedItems, ("C4", "C5"))

    def test_patronInformationMemoryILS(self):
        """
        Against L{MemoryILS}, 63 lists the patron's real loans.
        """
        client = self.connect()
        reply = client.ask(
            request(codec.PatronInformation, patronIdentifier=ADA, summary="  Y       ")
        )
        self.assertEqual(reply.message.chargedItems, (ADA_LOAN,))
        self.assertEqual(reply.message.chargedItemsCount, 1)

    def test_patronInformationUnknownPatron(self):
        """
        63 for an unknown patron: C{BLN}, zero counts, the screen message.
        """
        client = self.connect()
        reply = client.ask(request(codec.PatronInformation, patronIdentifier="P404"))
        m = reply.message
        self.assertEqual((m.code, m.validPatron, m.chargedItemsCount), ("64", False, 0))
        self.assertEqual(m.screenMessage, ("Unknown patron.",))

    def test_checkout(self):
        """
        11 checks the item out: 12 with ok, no renewal, desensitize, the
        title, an 18-character due date, C{BLY}, and the echoed ids.
        """
        client = self.connect()
        reply = client.ask(checkout(sequence=6, patronPassword=ADA_PIN))
        m = reply.message
        self.assertEqual((m.code, reply.sequence), ("12", 6))
        self.assertEqual(
            (m.ok, m.renewalOk, m.desensitize, m.magneticMedia), (True, False, True, False)
        )
        self.assertEqual(
            (m.institutionId, m.patronIdentifier, m.itemIdentifier, m.titleIdentifier),
            (INSTITUTION, ADA, FREE_ITEM, "Clockwork Gardens"),
        )
        self.assertIsNotNone(codec.parseDate(m.dueDate))
        self.assertEqual((m.validPatron, m.validPatronPassword), (True, True))
        self.assertEqual(self.adapter.items[FREE_ITEM].borrower, ADA)

    def test_checkoutRefused(self):
        """
        A refused checkout (item out to someone else) is a 12 with ok 0, no
        desensitize, an empty due date and the adapter's screen message.
        """
        client = self.connect()
        reply = client.ask(checkout(ADA_LOAN, patron=ZOE))
        m = reply.message
        self.assertEqual((m.ok, m.desensitize, m.dueDate), (False, False, ""))
        self.assertEqual(m.screenMessage, ("This item is checked out to someone else.",))

    def test_checkin(self):
        """
        09 checks the item in: 10 with ok, resensitize, its home location,
        its title and the patron who had it.
        """
        client = self.connect()
        reply = client.ask(
            request(codec.Checkin, sequence=8, itemIdentifier=ADA_LOAN,
                    currentLocation="MAIN")
        )
        m = reply.message
        self.assertEqual((m.code, reply.sequence, m.ok, m.resensitize), ("10", 8, True, True))
        self.assertEqual(
            (m.itemIdentifier, m.permanentLocation, m.titleIdentifier, m.patronIdentifier),
            (ADA_LOAN, "MAIN", "Lantern Stories", ADA),
        )
        self.assertIsNone(self.adapter.items[ADA_LOAN].borrower)

    def test_checkinUnknownItem(self):
        """
        Checking in an unknown item: ok 0, alert, alert type 99, screen
        message.
        """
        client = self.connect()
        reply = client.ask(request(codec.Checkin, itemIdentifier="B0000"))
        m = reply.message
        self.assertEqual((m.ok, m.alert, m.alertType), (False, True, "99"))
        self.assertEqual(m.screenMessage, ("Unknown item.",))

    def test_itemInformation(self):
        """
        17 gets an 18 with the circulation status (03 on the shelf, 04
        charged), the title, locations and media type.
        """
        client = self.connect()
        shelf = client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        m = shelf.message
        self.assertEqual(
            (m.code, m.circulationStatus, m.itemIdentifier, m.titleIdentifier),
            ("18", "03", FREE_ITEM, "Clockwork Gardens"),
        )
        self.assertEqual((m.permanentLocation, m.mediaType), ("MAIN", "001"))
        loan = client.ask(request(codec.ItemInformation, itemIdentifier=ADA_LOAN))
        self.assertEqual(loan.message.circulationStatus, "04")
        self.assertEqual(loan.message.dueDate, "20250320    235900")

    def test_itemInformationUnknownItem(self):
        """
        An unknown item is reported with circulation status 01 (other) and
        an empty title.
        """
        client = self.connect()
        reply = client.ask(request(codec.ItemInformation, itemIdentifier="B0000"))
        m = reply.message
        self.assertEqual(
            (m.circulationStatus, m.itemIdentifier, m.titleIdentifier), ("01", "B0000", "")
        )

    def test_renew(self):
        """
        29 renews a loan: 30 with ok, renewal ok and the new due date.
        """
        client = self.connect()
        reply = client.ask(
            request(codec.Renew, sequence=1, patronIdentifier=ADA, itemIdentifier=ADA_LOAN)
        )
        m = reply.message
        self.assertEqual((m.code, m.ok, m.renewalOk), ("30", True, True))
        self.assertEqual(m.dueDate, "20250403    235900")
        self.assertEqual(m.titleIdentifier, "Lantern Stories")

    def test_renewRefused(self):
        """
        Renewing an item the patron does not have: ok 0 with a screen
        message.
        """
        client = self.connect()
        reply = client.ask(
            request(codec.Renew, patronIdentifier=ZOE, itemIdentifier=ADA_LOAN)
        )
        self.assertEqual(
            (reply.message.ok, reply.message.screenMessage),
            (False, ("You do not have this item.",)),
        )

    def test_endPatronSession(self):
        """
        35 gets a 36 with end session Y and the adapter's message.
        """
        client = self.connect()
        reply = client.ask(
            request(codec.EndPatronSession, sequence=9, patronIdentifier=ADA)
        )
        m = reply.message
        self.assertEqual((m.code, reply.sequence, m.endSession), ("36", 9, True))
        self.assertEqual((m.patronIdentifier, m.screenMessage), (ADA, ("Thank you!",)))

    def test_blockPatron(self):
        """
        01 reaches an adapter that can block patrons, and is answered with
        a 24 showing the patron's new status.
        """
        client = self.connect(adapter=makeILS(FullILS))
        reply = client.ask(
            request(codec.BlockPatron, patronIdentifier=ADA, cardRetained=True,
                    blockedCardMessage="Card found in return slot")
        )
        m = reply.message
        self.assertEqual((m.code, m.patronStatus), ("24", "YYYY" + " " * 10))
        self.assertEqual((m.patronIdentifier, m.personalName), (ADA, "Ada Quillfeather"))
        self.assertEqual(
            self.adapter.calls[-1],
            ("blockPatron", ADA, True, "Card found in return slot"),
        )

    def test_itemStatusUpdate(self):
        """
        19 reaches the adapter and gets a 20 with the new properties.
        """
        client = self.connect(adapter=makeILS(FullILS))
        reply = client.ask(
            request(codec.ItemStatusUpdate, itemIdentifier=FREE_ITEM,
                    itemProperties="Large print")
        )
        m = reply.message
        self.assertEqual(
            (m.code, m.itemPropertiesOk, m.titleIdentifier, m.itemProperties),
            ("20", True, "Clockwork Gardens", "Large print"),
        )

    def test_patronEnable(self):
        """
        25 reaches the adapter and gets a 26 with the patron's status and
        C{CQ} for the PIN.
        """
        client = self.connect(adapter=makeILS(FullILS))
        reply = client.ask(
            request(codec.PatronEnable, patronIdentifier=ADA, patronPassword=ADA_PIN)
        )
        m = reply.message
        self.assertEqual(
            (m.code, m.patronStatus, m.personalName, m.validPatronPassword),
            ("26", " " * 14, "Ada Quillfeather", True),
        )
        self.assertEqual(self.adapter.calls[-1], ("enablePatron", ADA))

    def test_hold(self):
        """
        15 reaches the adapter with its mode and gets a 16 with the queue
        position and pickup location.
        """
        client = self.connect(adapter=makeILS(FullILS))
        reply = client.ask(
            request(codec.Hold, holdMode="+", patronIdentifier=ADA,
                    itemIdentifier=OTHER_ITEM, pickupLocation="QUAY")
        )
        m = reply.message
        self.assertEqual(
            (m.code, m.ok, m.available, m.queuePosition, m.pickupLocation),
            ("16", True, False, 2, "QUAY"),
        )
        self.assertEqual(self.adapter.calls[-1], ("hold", "add", ADA, OTHER_ITEM))

    def test_renewAll(self):
        """
        65 reaches the adapter and gets a 66 with the counts and lists of
        renewed and unrenewed items.
        """
        client = self.connect(adapter=makeILS(FullILS))
        reply = client.ask(request(codec.RenewAll, patronIdentifier=ADA))
        m = reply.message
        self.assertEqual(
            (m.code, m.ok, m.renewedCount, m.unrenewedCount), ("66", True, 1, 1)
        )
        self.assertEqual((m.renewedItems, m.unrenewedItems), ((ADA_LOAN,), ("B9999 lost",)))

    def test_feePaid(self):
        """
        37 reaches the adapter with the exact amount and gets a 38 with
        payment accepted and the ACS's transaction id.
        """
        client = self.connect(adapter=makeILS(FullILS))
        reply = client.ask(
            request(codec.FeePaid, patronIdentifier=ADA, feeAmount="2.50",
                    feeIdentifier="FINE-7", transactionId="TILL-1")
        )
        m = reply.message
        self.assertEqual((m.code, m.paymentAccepted, m.patronIdentifier), ("38", True, ADA))
        self.assertTrue(m.transactionId.startswith("ACS-"))
        self.assertEqual(self.adapter.calls[-1], ("feePaid", ADA, Decimal("2.50"), "FINE-7"))

    def test_malformedRequest(self):
        """
        A known request cut short inside its fixed part is answered with a
        refusal of the right type, without reaching the adapter.
        """
        client = self.connect()
        reply = client.ask(b"11NN20250314")
        m = reply.message
        self.assertEqual((m.code, m.ok), ("12", False))
        self.assertEqual(m.screenMessage, ("Malformed request.",))
        self.assertEqual(self.adapter.calls, [])


class UnsupportedTests(SynchronousTestCase):
    """
    Requests the adapter does not support are answered with a refusal of
    the right type carrying a screen message, without calling the adapter.
    """

    def setUp(self):
        self.acs = InMemoryServer(self)
        self.client = self.acs.loggedIn()

    def refused(self, frame, code):
        reply = self.client.ask(frame)
        self.assertEqual(reply.message.code, code)
        self.assertEqual(reply.message.screenMessage, (UNAVAILABLE,))
        self.assertEqual(self.acs.adapter.calls, [])
        return reply.message

    def test_blockPatron(self):
        """
        01 is answered with a 24 showing an unknown (all blocked) status.
        """
        m = self.refused(
            request(codec.BlockPatron, patronIdentifier=ADA, blockedCardMessage="x"), "24"
        )
        self.assertEqual((m.patronStatus, m.patronIdentifier), ("YYYY" + " " * 10, ADA))

    def test_itemStatusUpdate(self):
        """
        19 is answered with a 20, item properties ok 0.
        """
        m = self.refused(
            request(codec.ItemStatusUpdate, itemIdentifier=FREE_ITEM, itemProperties="x"),
            "20",
        )
        self.assertFalse(m.itemPropertiesOk)

    def test_patronEnable(self):
        """
        25 is answered with a 26 showing an unknown status.
        """
        m = self.refused(request(codec.PatronEnable, patronIdentifier=ADA), "26")
        self.assertEqual(m.patronStatus, "YYYY" + " " * 10)

    def test_hold(self):
        """
        15 is answered with a 16, ok 0, not available.
        """
        m = self.refused(
            request(codec.Hold, patronIdentifier=ADA, itemIdentifier=FREE_ITEM), "16"
        )
        self.assertEqual((m.ok, m.available), (False, False))

    def test_renewAll(self):
        """
        65 is answered with a 66, ok 0, nothing renewed.
        """
        m = self.refused(request(codec.RenewAll, patronIdentifier=ADA), "66")
        self.assertEqual((m.ok, m.renewedCount, m.unrenewedCount), (False, 0, 0))

    def test_feePaid(self):
        """
        37 is answered with a 38, payment not accepted.
        """
        m = self.refused(
            request(codec.FeePaid, patronIdentifier=ADA, feeAmount="1.00"), "38"
        )
        self.assertFalse(m.paymentAccepted)

    def test_adapterSaysUnsupported(self):
        """
        An adapter that fails with L{UnsupportedOperation} gets the same
        refusal, and nothing is logged as an error.
        """
        acs = InMemoryServer(self, adapter=makeILS(ChangedMindILS))
        client = acs.loggedIn()
        reply = client.ask(
            request(codec.Renew, patronIdentifier=ADA, itemIdentifier=ADA_LOAN)
        )
        self.assertEqual(
            (reply.message.code, reply.message.ok, reply.message.screenMessage),
            ("30", False, (UNAVAILABLE,)),
        )
        self.assertEqual(self.flushLoggedErrors(), [])


class AdapterFailureTests(SynchronousTestCase):
    """
    An adapter that fails or never answers gives a refusal with a screen
    message, and the connection stays usable.
    """

    def test_failedDeferred(self):
        """
        A checkout whose Deferred fails is answered with a 12, ok 0, saying
        the library system is unavailable; the failure is logged and the
        next request is answered.
        """
        acs = InMemoryServer(self, adapter=makeILS(FailingILS))
        client = acs.loggedIn()
        reply = client.ask(checkout(sequence=1))
        m = reply.message
        self.assertEqual((m.code, reply.sequence, m.ok), ("12", 1, False))
        self.assertEqual(m.screenMessage, (SYSTEM_DOWN,))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        status = client.ask(patronStatus())
        self.assertEqual(status.message.personalName, "Ada Quillfeather")

    def test_adapterRaises(self):
        """
        An adapter method that raises instead of returning a Deferred is
        treated like a failed Deferred.
        """
        acs = InMemoryServer(self, adapter=makeILS(FailingILS))
        client = acs.loggedIn()
        reply = client.ask(request(codec.ItemInformation, itemIdentifier=FREE_ITEM))
        m = reply.message
        self.assertEqual((m.code, m.circulationStatus, m.itemIdentifier), ("18", "01", FREE_ITEM))
        self.assertEqual(m.screenMessage, (SYSTEM_DOWN,))
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_adapterNeverAnswers(self):
        """
        An adapter that never answers is cut off after the server's ILS
        timeout (on the sessions' clock): its Deferred is cancelled and the
        SC gets a refusal, after which the connection works.
        """
        clock = Clock()
        adapter = makeILS(SilentILS)
        acs = InMemoryServer(self, adapter=adapter, ilsTimeout=10, clock=clock)
        client = acs.loggedIn()
        client.send(checkout(sequence=2) + b"\r")
        clock.advance(9.9)
        self.assertEqual(adapter.cancelled, [])
        self.assertTrue(client.server.paused)
        self.assertRaises(NoReply, client.reply)
        clock.advance(0.1)
        reply = decode(client.reply())
        self.assertEqual(
            (reply.message.code, reply.sequence, reply.message.ok), ("12", 2, False)
        )
        self.assertEqual(reply.message.screenMessage, (SYSTEM_DOWN,))
        self.assertEqual(adapter.cancelled, adapter.pending)
        # A slow ILS is an operational event, logged as such, not an error.
        self.assertEqual(self.flushLoggedErrors(), [])
        status = client.ask(patronStatus())
        self.assertEqual(status.message.code, "24")


class ErrorDetectionTests(SynchronousTestCase):
    """
    Checksums, resend (97/96) and replay of retransmitted requests.
    """

    def setUp(self):
        self.acs = InMemoryServer(
            self,
            adapter=makeILS(FullILS),
            config=makeConfig(
                accounts=[
                    makeAccount(),
                    makeAccount("strict", errorDetection="required"),
                    makeAccount("plain", errorDetection="off"),
                ]
            ),
        )

    def test_resendWithNothingToResend(self):
        """
        97 before any response has been sent is answered 96: bare, or
        C{96AZFEF6} when the 97 carried a checksum.
        """
        client = self.acs.connect()
        self.assertEqual(client.exchange(b"97\r"), b"96")
        self.assertEqual(client.exchange(b"97AZFEF5\r"), b"96AZFEF6")
        self.assertEqual(client.exchange(login() + b"\r"), b"941")

    def test_resendRepeatsLastResponse(self):
        """
        97 resends the last response byte for byte (its sequence digit and
        checksum included), and a 97 does not itself become the last
        response.
        """
        client = self.acs.loggedIn()
        original = client.exchange(patronStatus(sequence=4) + b"\r")
        self.assertEqual(client.exchange(b"97AZFEF5\r"), original)
        self.assertEqual(client.exchange(b"97\r"), original)
        self.assertEqual(client.data.count(original + b"\r"), 3)
        self.assertEqual(self.acs.adapter.calls, [("lookupPatron", ADA)])

    def test_resendAfterRefusedLogin(self):
        """
        A 97 after a refused login resends the 940.
        """
        client = self.acs.connect()
        self.assertEqual(client.exchange(login(password="x", sequence=0) + b"\r"),
                         b"940AY0AZFDFE")
        self.assertEqual(client.exchange(b"97AZFEF5\r"), b"940AY0AZFDFE")

    def test_badChecksum(self):
        """
        A request whose checksum does not verify is answered C{96AZFEF6},
        never reaches the adapter, and the connection stays open for the
        SC's retransmission.
        """
        client = self.acs.loggedIn()
        good = checkout(sequence=1)
        bad = good[:-4] + (b"0000" if good[-4:] != b"0000" else b"0001")
        self.assertEqual(client.exchange(bad + b"\r"), b"96AZFEF6")
        self.assertEqual(self.acs.adapter.calls, [])
        reply = decode(client.exchange(good + b"\r"))
        self.assertEqual((reply.message.code, reply.message.ok, reply.sequence), ("12", True, 1))

    def test_badChecksumOnLogin(self):
        """
        A 93 with a bad checksum is answered C{96AZFEF6} (not closed), and
        the retransmitted login succeeds.
        """
        client = self.acs.connect()
        good = login(sequence=3)
        self.assertEqual(client.exchange(good[:-4] + b"FFFF\r"), b"96AZFEF6")
        self.assertEqual(client.exchange(good + b"\r"), b"941AY3AZFDFA")

    def test_errorDetectionMirrored(self):
        """
        A request with C{AY3AZ...} gets a response ending in C{AY3AZ} and
        a valid checksum; a request without gets a response without.
        """
        client = self.acs.loggedIn()
        checked = client.exchange(patronStatus(sequence=3) + b"\r")
        match = TRAILER.search(checked)
        self.assertIsNotNone(match)
        self.assertEqual(match.group(1), b"3")
        self.assertTrue(codec.checksumOk(checked))
        plain = client.exchange(patronStatus() + b"\r")
        self.assertNotIn(b"AY", plain)
        self.assertNotIn(b"AZ", plain)
        self.assertTrue(plain.endswith(b"|"))

    def test_checksumWithoutSequence(self):
        """
        A request with C{AZ} but no C{AY} gets a response with a checksum
        and no sequence number.
        """
        client = self.acs.loggedIn()
        frame = withChecksum(b"1720250314    101500AODEMO|AB" + FREE_ITEM.encode() + b"|AZ")
        reply = client.exchange(frame + b"\r")
        self.assertRegex(reply, rb"\|AZ[0-9A-F]{4}\Z")
        self.assertNotIn(b"AY", reply)
        self.assertTrue(codec.checksumOk(reply))

    def test_requiredErrorDetection(self):
        """
        For an account with error detection required, a request without a
        checksum is answered C{96AZFEF6} and not run; a checksummed one is
        answered normally.
        """
        client = self.acs.connect()
        self.assertEqual(
            client.exchange(login("strict", sequence=0) + b"\r"), b"941AY0AZFDFD"
        )
        self.assertEqual(client.exchange(patronStatus() + b"\r"), b"96AZFEF6")
        self.assertEqual(self.acs.adapter.calls, [])
        reply = client.exchange(patronStatus(sequence=1) + b"\r")
        self.assertEqual(decode(reply).sequence, 1)

    def test_errorDetectionOff(self):
        """
        For an account with error detection off, responses never carry
        C{AY}/C{AZ}, even when the request did; a bad checksum still gets
        a (bare) 96.
        """
        client = self.acs.connect()
        client.exchange(login("plain") + b"\r")
        reply = client.exchange(patronStatus(sequence=5) + b"\r")
        self.assertEqual(reply[:2], b"24")
        self.assertNotIn(b"AY", reply)
        self.assertNotIn(b"AZ", reply)
        self.assertEqual(
            client.exchange(patronStatus(sequence=6)[:-4] + b"0000\r"), b"96"
        )

    def test_retransmittedCheckoutReplayed(self):
        """
        A checkout retransmitted with the same sequence digit and checksum
        (the kiosk lost the response) gets the previous response again,
        byte for byte, and the item is checked out only once.
        """
        events = captureLogs(self)
        client = self.acs.loggedIn()
        frame = checkout(sequence=4) + b"\r"
        first = client.exchange(frame)
        self.assertTrue(decode(first).message.ok)
        again = client.exchange(frame)
        self.assertEqual(again, first)
        checkouts = [call for call in self.acs.adapter.calls if call[0] == "checkout"]
        self.assertEqual(checkouts, [("checkout", ADA, FREE_ITEM)])
        self.assertTrue(
            [e for e in events if "retransmitted" in e.get("log_format", "")]
        )

    def test_retransmittedPaymentReplayed(self):
        """
        A retransmitted fee payment is not charged twice.
        """
        client = self.acs.loggedIn()
        frame = request(codec.FeePaid, sequence=7, patronIdentifier=ADA, feeAmount="3.00") + b"\r"
        first = client.exchange(frame)
        self.assertEqual(client.exchange(frame), first)
        payments = [call for call in self.acs.adapter.calls if call[0] == "feePaid"]
        self.assertEqual(len(payments), 1)

    def test_newSequenceRunsAgain(self):
        """
        The same checkout with a new sequence digit is a new request: it
        runs (and, the item being out already, is refused).
        """
        client = self.acs.loggedIn()
        first = decode(client.exchange(checkout(sequence=4) + b"\r"))
        second = decode(client.exchange(checkout(sequence=5) + b"\r"))
        self.assertEqual((first.message.ok, second.message.ok), (True, False))
        self.assertEqual(second.message.screenMessage, ("You already have this item.",))
        checkouts = [call for call in self.acs.adapter.calls if call[0] == "checkout"]
        self.assertEqual(len(checkouts), 2)

    def test_onlyPreviousRequestReplayed(self):
        """
        Only a repeat of the immediately previous request is a
        retransmission: A, B, A runs A twice.
        """
        client = self.acs.loggedIn()
        a = checkout(sequence=1) + b"\r"
        b = request(codec.ItemInformation, sequence=2, itemIdentifier=FREE_ITEM) + b"\r"
        client.exchange(a)
        client.exchange(b)
        third = decode(client.exchange(a))
        self.assertFalse(third.message.ok)
        checkouts = [call for call in self.acs.adapter.calls if call[0] == "checkout"]
        self.assertEqual(len(checkouts), 2)

    def test_uncheckedRepeatRunsAgain(self):
        """
        Without error detection a repeated request cannot be told from a
        new one, and runs again.
        """
        client = self.acs.loggedIn()
        client.exchange(patronStatus() + b"\r")
        client.exchange(patronStatus() + b"\r")
        self.assertEqual(self.acs.adapter.calls, [("lookupPatron", ADA)] * 2)


class EncodingTests(SynchronousTestCase):
    """
    The account's terminator and character set apply to what the ACS
    sends, and to how it reads the SC's requests.
    """

    def setUp(self):
        self.acs = InMemoryServer(
            self,
            config=makeConfig(
                accounts=[
                    makeAccount(),
                    makeAccount("crlf", terminator=b"\r\n"),
                    makeAccount("dos", encoding="cp850"),
                    makeAccount("unicode", encoding="utf-8"),
                    makeAccount("western", encoding="latin-1"),
                ]
            ),
        )

    def test_crlfTerminator(self):
        """
        An account with the CRLF terminator gets every reply, from the
        941 on, ended by CRLF.
        """
        client = self.acs.connect()
        client.exchange(login("crlf") + b"\r\n")
        status = client.exchange(patronStatus(sequence=1) + b"\r\n")
        junk = client.exchange(b"junk\r\n")
        self.assertEqual(junk, b"96")
        self.assertEqual(client.data, b"941\r\n" + status + b"\r\n96\r\n")

    def nameAs(self, account, encoding, patron=ZOE):
        client = self.acs.loggedIn(account, encoding=encoding)
        raw = client.exchange(patronStatus(patron, sequence=2) + b"\r")
        return raw

    def test_cp850(self):
        """
        A cp850 account gets the patron's name in code page 850, with a
        checksum computed over those bytes.
        """
        raw = self.nameAs("dos", "cp850")
        self.assertIn(b"|AEZo\x89 Marsh|", raw)
        self.assertEqual(codec.checksum(raw[:-4]).encode("ascii"), raw[-4:])
        self.assertEqual(decode(raw, "cp850").message.personalName, "Zo\u00eb Marsh")

    def test_utf8(self):
        """
        A UTF-8 account gets the name in UTF-8, checksummed over those
        bytes.
        """
        raw = self.nameAs("unicode", "utf-8")
        self.assertIn(b"|AEZo\xc3\xab Marsh|", raw)
        self.assertEqual(codec.checksum(raw[:-4]).encode("ascii"), raw[-4:])
        self.assertEqual(decode(raw, "utf-8").message.personalName, "Zo\u00eb Marsh")

    def test_latin1(self):
        """
        A Latin-1 account gets the name in ISO 8859-1.
        """
        raw = self.nameAs("western", "latin-1")
        self.assertIn(b"|AEZo\xeb Marsh|", raw)
        self.assertTrue(codec.checksumOk(raw))

    def test_asciiFoldsAccents(self):
        """
        An ASCII account gets the name with its accent dropped.
        """
        raw = self.nameAs(makeAccount().login, "ascii")
        self.assertIn(b"|AEZoe Marsh|", raw)
        self.assertTrue(codec.checksumOk(raw))

    def test_requestsReadInAccountEncoding(self):
        """
        Requests are decoded with the account's character set: a non-ASCII
        barcode sent in cp850 or UTF-8 comes back, echoed, in the same
        bytes.
        """
        for account, encoding in [("dos", "cp850"), ("unicode", "utf-8")]:
            client = self.acs.loggedIn(account, encoding=encoding)
            frame = request(codec.PatronStatus, sequence=1, encoding=encoding,
                            patronIdentifier="Zo\u00eb")
            raw = client.exchange(frame + b"\r")
            self.assertIn(b"|AA" + "Zo\u00eb".encode(encoding) + b"|", raw)
            self.assertTrue(codec.checksumOk(raw))
            self.assertEqual(
                decode(raw, encoding).message.patronIdentifier, "Zo\u00eb"
            )


class PrintWidthTests(SynchronousTestCase):
    """
    Print lines are wrapped at the width the SC's 99 announced.
    """

    def endSession(self, status=None):
        acs = InMemoryServer(self, adapter=makeILS(ReceiptILS))
        client = acs.loggedIn()
        if status is not None:
            client.exchange(status + b"\r")
        reply = client.ask(request(codec.EndPatronSession, patronIdentifier=ADA))
        return reply.message.printLine

    def test_wrappedAtMaxPrintWidth(self):
        """
        After a 99 announcing 24 columns, every C{AG} line fits in 24
        characters and the words are all there, in order.
        """
        lines = self.endSession(b"9900242.00")
        self.assertGreater(len(lines), 3)
        self.assertTrue(all(len(line) <= 24 for line in lines), lines)
        self.assertEqual(" ".join(lines), LONG_LINE + " Goodbye.")

    def test_noWidthAnnounced(self):
        """
        Without a 99 (or with width 000) print lines are sent as they are.
        """
        self.assertEqual(self.endSession(), (LONG_LINE, "Goodbye."))
        self.assertEqual(self.endSession(b"9900002.00"), (LONG_LINE, "Goodbye."))


class SecretTests(SynchronousTestCase):
    """
    The SC's password and patrons' PINs never reach the logs.
    """

    def test_noSecretsInLogs(self):
        """
        A whole conversation (refused and accepted logins, patron status
        and information, checkout, renew, payment, end of session, a bad
        checksum, a malformed request and three failed logins on another
        connection) logs neither the passwords tried nor the PIN.
        """
        password, wrong, pin = "Kiosk-Pw-x9!", "Guess-Pw-q4?", "pin-kq8841"
        adapter = FullILS(
            patrons=[MemoryPatron(ADA, "Ada Quillfeather", pin=pin)],
            items=makeILS().items.values(),
        )
        events = captureLogs(self)
        acs = InMemoryServer(
            self,
            adapter=adapter,
            config=makeConfig(accounts=[makeAccount(password=password)]),
        )
        client = acs.connect()
        self.assertEqual(client.exchange(login(password=wrong) + b"\r"), b"940")
        self.assertEqual(client.exchange(login(password=password) + b"\r"), b"941")
        for n, frame in enumerate(
            [
                patronStatus(patronPassword=pin),
                request(codec.PatronInformation, patronIdentifier=ADA, patronPassword=pin),
                checkout(patronPassword=pin),
                request(codec.Renew, patronIdentifier=ADA, itemIdentifier=ADA_LOAN,
                        patronPassword=pin),
                request(codec.FeePaid, patronIdentifier=ADA, feeAmount="1.00",
                        patronPassword=pin),
                request(codec.EndPatronSession, patronIdentifier=ADA, patronPassword=pin),
            ]
        ):
            client.ask(withChecksum(frame + b"AY%dAZ" % (n,)))
        bad = withChecksum(patronStatus(patronPassword=pin) + b"AY8AZ")
        self.assertEqual(client.exchange(bad[:-4] + b"0000\r"), b"96AZFEF6")
        client.exchange(b"23001" + b"AD" + pin.encode() + b"\r")
        other = acs.connect()
        other.send(b"".join(login(password=p) + b"\r" for p in [wrong, password + "x", pin]))
        other.waitForClose()

        self.assertGreater(len(events), 10)
        for event in events:
            text = formatEvent(event) + repr(event)
            for secret in (password, wrong, pin):
                self.assertNotIn(secret, text)


class OperationTableTests(SynchronousTestCase):
    """
    The session's dispatch and refusals follow L{sip2acs.sip.spec.OPERATIONS}.
    """

    def test_everyAdapterOperationHasARefusal(self):
        """
        Every operation with an L{IILS} method has a refusal, answered with
        the response the table gives its request, and every refusal
        belongs to such an operation; the method is one of L{IILS}.
        """
        from sip2acs.acs.refusals import ADAPTER_OPERATIONS as _OPERATION, REFUSALS as _REFUSALS
        from sip2acs.ils.interfaces import IILS
        from sip2acs.sip import spec

        adapted = [o for o in spec.OPERATIONS if o.method is not None]
        self.assertEqual(set(_REFUSALS), {o.request for o in adapted})
        self.assertEqual(_OPERATION, {o.request: o.name for o in adapted})
        for operation in adapted:
            cls, _ = _REFUSALS[operation.request]
            self.assertEqual(cls.spec.code, operation.response, operation)
            self.assertIn(operation.method, IILS.names(), operation)

    def test_sessionOperations(self):
        """
        The operations without an adapter method are the ones every
        adapter supports.
        """
        from sip2acs.ils.interfaces import SESSION_OPERATIONS

        self.assertEqual(SESSION_OPERATIONS, {"scStatus", "resend", "login"})
        ils = MemoryILS()
        self.assertEqual(ils.operations & SESSION_OPERATIONS, frozenset())
        for operation in SESSION_OPERATIONS:
            self.assertTrue(ils.supports(operation))


class OutcomeTests(SynchronousTestCase):
    """
    L{outcome} reads success from every kind of response.
    """

    def test_outcomes(self):
        """
        ok flags, payment acceptance, end of session, item properties and
        the on-line status decide; unknown items and patrons and wrong PINs
        are refusals.
        """
        from sip2acs.acs.session import outcome

        cases = [
            (codec.CheckoutResponse(ok=True), "ok"),
            (codec.CheckinResponse(ok=False), "refused"),
            (codec.FeePaidResponse(paymentAccepted=False), "refused"),
            (codec.EndSessionResponse(endSession=True), "ok"),
            (codec.ItemStatusUpdateResponse(itemPropertiesOk=True), "ok"),
            (codec.ACSStatus(onlineStatus=True), "ok"),
            (codec.ItemInformationResponse(titleIdentifier=""), "refused"),
            (codec.ItemInformationResponse(titleIdentifier="Emma"), "ok"),
            (codec.PatronStatusResponse(validPatron=False), "refused"),
            (
                codec.PatronInformationResponse(validPatron=True, validPatronPassword=False),
                "refused",
            ),
            (codec.PatronInformationResponse(validPatron=True), "ok"),
        ]
        for response, expected in cases:
            self.assertEqual(outcome(response), expected, response)
