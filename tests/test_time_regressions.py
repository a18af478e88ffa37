"""
Regression tests for the time model and the bounds on what reaches
storage (issue 9, items 3, 4 and 14): a kiosk talking in memory to the ACS
session (L{tests.memory}) and the embedded SQLite circulation system with
the demo library, in the institution's zone C{America/Chicago} (the host's
zone, or a configured one on a host in another zone), both clocks pinned
at L{NOW}.
"""

import os
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import Clock
from twisted.logger import LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.app.tap import adapterKey
from sip2acs.config import ConfigError, parseConfig
from sip2acs.ils.base import HOST_ZONE, inZone, wallTime, zoneName
from sip2acs.ils.sqlite import SQLiteILS, openDatabase
from sip2acs.ils.sqlite.demo import loadDemo
from sip2acs.passwords import hashPassword
from sip2acs.sip import codec
from tests.fixtures import captureLogs, login, makeConfig
from tests.memory import InMemoryServer

ZONE = ZoneInfo("America/Chicago")
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=ZONE)
NOW_WALL = NOW.replace(tzinfo=None)
NOW_WIRE = "20261201    120000"


def setHostZone(testCase, name):
    """
    Run the test with the host's local zone set to C{name} (C{TZ}).
    """
    old = os.environ.get("TZ")

    def restore():
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()

    os.environ["TZ"] = name
    time.tzset()
    testCase.addCleanup(restore)


def sipDue(days):
    """
    The SIP2 form of the due date of a loan of C{days} days made at L{NOW}.
    """
    return codec.formatDate(
        (NOW + timedelta(days=days)).replace(hour=23, minute=59, tzinfo=None)
    )


class TimeRegressionTests(TestCase):
    """
    Dates with and without a zone, and absurd dates and amounts, from a
    kiosk.
    """

    timeout = 60
    hostZone = "America/Chicago"

    def zoneSettings(self):
        """
        The institution's C{zone}, for the adapter and the configuration:
        none, so the host's.
        """
        return {}

    def prepare(self, conn):
        """
        Override to change the demo database before the server opens it.
        """

    @inlineCallbacks
    def setUp(self):
        setHostZone(self, self.hostZone)
        self.logs = captureLogs(self)
        path = self.path = self.mktemp()
        conn, _ = openDatabase(path)
        loadDemo(conn, NOW_WALL)
        self.prepare(conn)
        conn.close()
        self.ils = SQLiteILS(path, clock=lambda: NOW_WALL, **self.zoneSettings())
        yield self.ils.startService()
        self.addCleanup(self.ils.stopService)
        clock = Clock()
        clock.advance(NOW.timestamp())
        self.acs = InMemoryServer(
            self, adapter=self.ils, config=makeConfig(**self.zoneSettings()),
            clock=clock,
        )
        self.client = self.acs.connect()
        reply = self.client.ask(login())
        self.assertEqual(reply.message, codec.LoginResponse(ok=True))

    def ask(self, text):
        """
        Send a request written as a kiosk writes it; C{<now>} is L{NOW}.
        """
        frame = text.replace("<now>", NOW_WIRE).encode("ascii")
        return self.client.askLater(frame).addCallback(lambda decoded: decoded.message)

    def stored(self, sql, params=()):
        """
        The first row of a query on the database, read from a separate
        connection.
        """
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql, params).fetchone()
        finally:
            conn.close()

    def assertNoErrors(self):
        bad = [
            event for event in self.logs
            if event.get("log_level") in (LogLevel.error, LogLevel.critical)
        ]
        self.assertEqual(bad, [])

    # Item 4: a checkin with a UTC return date

    @inlineCallbacks
    def test_checkinUTCReturnDate(self):
        """
        A checkin whose return date has the zone letter C{Z} succeeds: the
        date is converted to the institution's zone and compared with the
        loan's (I0003 is out to P0001).
        """
        checkin = yield self.ask(
            "09N<now>20261201   Z105548APMAIN|AODEMO|ABI0003|AC|"
        )
        self.assertEqual(checkin.ok, True, checkin)
        self.assertEqual(checkin.patronIdentifier, "P0001")
        self.assertEqual(checkin.transactionDate, datetime(2026, 12, 1, 12, 0))
        item = yield self.ask("17<now>AODEMO|ABI0003|")
        self.assertEqual(item.circulationStatus, "03")
        self.assertNoErrors()

    @inlineCallbacks
    def test_noBlockCheckoutUTCDates(self):
        """
        A no-block checkout with its transaction date and due date in UTC is
        stored at those instants, and the due date goes back as the
        institution's wall time with a blank zone.
        """
        checkout = yield self.ask(
            "11NY20261130   Z150000"
            "20261215   Z180000AODEMO|AAP0001|ABI0002|AC|AD1234|BON|BIN|"
        )
        self.assertEqual(checkout.ok, True, checkout)
        self.assertEqual(checkout.dueDate, "20261215    120000")
        self.assertEqual(
            self.stored("SELECT out_at, due_at FROM loans WHERE item_id = 2"),
            ("2026-11-30 09:00:00", "2026-12-15 12:00:00"),
        )
        item = yield self.ask("17<now>AODEMO|ABI0002|")
        self.assertEqual(item.dueDate, "20261215    120000")
        self.assertNoErrors()

    @inlineCallbacks
    def test_noBlockRenewUTCDueDate(self):
        """
        A no-block renewal with a due date in UTC answers it as the
        institution's wall time with a blank zone.
        """
        renew = yield self.ask(
            "29NY<now>20261220   Z060000AODEMO|AAP0001|ABI0003|AC|AD1234|BON|"
        )
        self.assertEqual(renew.ok, True, renew)
        self.assertEqual(renew.dueDate, "20261220    000000")
        self.assertNoErrors()

    @inlineCallbacks
    def test_holdUTCExpiration(self):
        """
        A hold expiration in UTC is answered in the institution's zone.
        """
        hold = yield self.ask(
            "15+<now>BW20270301   Z060000|AODEMO|AAP0001|ABI0001|AD1234|"
        )
        self.assertEqual(hold.ok, True, hold)
        self.assertEqual(hold.expirationDate, datetime(2027, 3, 1, 0, 0))
        self.assertNoErrors()

    # Item 3: a date that cannot be stored

    @inlineCallbacks
    def checkEverythingAnswers(self, itemId, patronId):
        """
        17, 23, 63, 65 and 29 for the item and the patron answer without an
        error, and a checkin of the item closes the loan.
        """
        item = yield self.ask("17<now>AODEMO|AB%s|" % (itemId,))
        self.assertEqual(item.circulationStatus, "04", item)
        status = yield self.ask("23001<now>AODEMO|AA%s|AC|AD1234|" % (patronId,))
        self.assertEqual(status.validPatron, True, status)
        info = yield self.ask(
            "63001<now>  Y       AODEMO|AA%s|AC|AD1234|" % (patronId,)
        )
        self.assertIn(itemId, info.chargedItems)
        renewAll = yield self.ask("65<now>AODEMO|AA%s|AC|AD1234|" % (patronId,))
        self.assertEqual(renewAll.ok, True, renewAll)
        renew = yield self.ask("29NN<now>%sAODEMO|AA%s|AB%s|AC|AD1234|"
                               % (" " * 18, patronId, itemId))
        self.assertIsNotNone(renew.ok)
        self.assertNotIn("not available", " ".join(renew.screenMessage))
        checkin = yield self.ask("09N<now><now>APMAIN|AODEMO|AB%s|AC|" % (itemId,))
        self.assertEqual(checkin.ok, True, checkin)
        self.assertEqual(checkin.patronIdentifier, patronId)
        self.assertNoErrors()

    @inlineCallbacks
    def test_noBlockDueDateYear28(self):
        """
        A no-block checkout with a due date in year 28 keeps the loan with
        the rule's due date (the kiosk lent the item already), and the item
        and the patron answer every request afterwards.
        """
        checkout = yield self.ask(
            "11NY<now>00280105    104126AODEMO|AAP0001|ABI0002|AC|AD1234|BON|BIN|"
        )
        self.assertEqual(checkout.ok, True, checkout)
        self.assertEqual(checkout.dueDate, sipDue(21))
        self.assertEqual(
            self.stored("SELECT due_at FROM loans WHERE item_id = 2"
                        " AND returned_at IS NULL"),
            ("2026-12-22 23:59:00",),
        )
        item = yield self.ask("17<now>AODEMO|ABI0002|")
        self.assertEqual(item.dueDate, sipDue(21))
        yield self.checkEverythingAnswers("I0002", "P0001")

    @inlineCallbacks
    def test_noBlockTransactionDateOutOfBounds(self):
        """
        A no-block checkout dated in the future, or longer ago than the
        bound, keeps the loan, made now, and the transaction log says why.
        """
        for itemId, when in (("I0002", "20991231    235959"),
                             ("I0001", "20250101    120000")):
            checkout = yield self.ask(
                "11NY%s20261215    120000AODEMO|AAP0001|AB%s|AC|AD1234|BON|BIN|"
                % (when, itemId)
            )
            self.assertEqual(checkout.ok, True, checkout)
            self.assertEqual(checkout.dueDate, "20261215    120000")
            self.assertEqual(
                self.stored(
                    "SELECT out_at FROM loans JOIN items ON items.id = item_id"
                    " WHERE barcode = ? AND returned_at IS NULL", (itemId,)
                ),
                ("2026-12-01 12:00:00",),
            )
            detail = self.stored(
                "SELECT detail FROM transaction_log WHERE item = ?"
                " ORDER BY id DESC LIMIT 1", (itemId,)
            )[0]
            self.assertIn("transaction date", detail)
            self.assertIn("out of bounds", detail)
        yield self.checkEverythingAnswers("I0002", "P0001")

    @inlineCallbacks
    def test_holdExpirationOutOfBounds(self):
        """
        A hold expiring in year 28, or beyond the next two years, is refused
        with a screen message.
        """
        for date in ("00280105    104126", "20990101    000000"):
            hold = yield self.ask(
                "15+<now>BW%s|AODEMO|AAP0001|ABI0001|AD1234|" % (date,)
            )
            self.assertEqual(hold.ok, False, hold)
            self.assertEqual(
                hold.screenMessage,
                ("A hold must expire in the future and within two years.",),
            )
        self.assertNoErrors()

    # Item 14: absurd amounts

    @inlineCallbacks
    def test_absurdAmounts(self):
        """
        Absurd payment amounts are refused as not valid, never "not
        available", and nothing is recorded.
        """
        for amount in ("1E+999999", "9" * 40, "-5.00", "1000000.01"):
            paid = yield self.ask(
                "37<now>0100USDBV%s|AODEMO|AAP0001|AD1234|" % (amount,)
            )
            self.assertEqual(paid.paymentAccepted, False, (amount, paid))
            self.assertNotIn("not available", " ".join(paid.screenMessage), amount)
        status = yield self.ask("23001<now>AODEMO|AAP0001|AC|AD1234|")
        self.assertEqual(status.feeAmount, "2.50")
        self.assertNoErrors()


class StoredDateTests(TimeRegressionTests):
    """
    The same with rows that cannot be read written into the database by
    hand, as an older version wrote them: the loan's due date, the card's
    expiry and a hold's shelf expiry. Every request still answers.
    """

    def prepare(self, conn):
        conn.execute(
            "UPDATE loans SET due_at = '28-01-05 10:41:26', out_at = 'garbage'"
            " WHERE item_id = 3"
        )
        conn.execute("UPDATE patrons SET expires = '28-01-05' WHERE id = 1")
        conn.execute(
            "UPDATE holds SET shelf_expires_at = '28-01-05 10:41:26' WHERE id = 1"
        )

    @inlineCallbacks
    def test_unreadableRows(self):
        """
        Item I0003 (out to P0001 with an unreadable due date) and P0001
        (unreadable expiry) answer 17, 23, 63, 65, 29 and 09; I0008 (on the
        hold shelf with an unreadable shelf expiry) answers 17. Each
        unreadable value is logged once, as a warning.
        """
        item = yield self.ask("17<now>AODEMO|ABI0003|")
        self.assertIsNone(item.dueDate)
        shelf = yield self.ask("17<now>AODEMO|ABI0008|")
        self.assertEqual(shelf.circulationStatus, "08")
        yield self.checkEverythingAnswers("I0003", "P0001")
        warnings = [
            formatEvent(event) for event in self.logs
            if event.get("log_level") == LogLevel.warn
        ]
        self.assertEqual(len(warnings), len(set(warnings)))
        self.assertIn("'28-01-05 10:41:26'", " ".join(warnings))


class ConfiguredZoneTests(TimeRegressionTests):
    """
    The same with the institution's C{timezone} set on a host whose own
    zone is another (Tokyo).
    """

    hostZone = "Asia/Tokyo"

    def zoneSettings(self):
        return {"zone": ZONE}


class ZoneSettingTests(SynchronousTestCase):
    """
    The institution's C{timezone} setting, the host zone and the adapter
    key.
    """

    def config(self, **institution):
        institution.setdefault("id", "LIB")
        return parseConfig({
            "listener": [{"endpoint": "tcp:0:interface=127.0.0.1"}],
            "institution": [institution],
            "account": [{"login": "sc1", "password": hashPassword("pw", cost=4),
                         "institution": "LIB"}],
        })

    def test_timezone(self):
        """
        C{timezone} names the institution's zone; without it the zone is the
        host's. It is not passed to the adapter as an option.
        """
        institution = self.config(timezone="America/Chicago").institutions["LIB"]
        self.assertEqual(institution.zone, ZONE)
        self.assertNotIn("timezone", institution.options)
        self.assertIs(self.config().institutions["LIB"].zone, HOST_ZONE)

    def test_unknownTimezone(self):
        """
        An unknown zone name is a located problem.
        """
        for name in ("Mars/Olympus_Mons", "", "../../etc/passwd", 5):
            error = self.assertRaises(ConfigError, self.config, timezone=name)
            self.assertEqual(len(error.problems), 1, error.problems)
            self.assertTrue(
                error.problems[0].startswith("institution[0].timezone: "),
                error.problems,
            )

    def test_adapterKey(self):
        """
        Institutions in different zones do not share an adapter.
        """
        config = parseConfig({
            "listener": [{"endpoint": "tcp:0:interface=127.0.0.1"}],
            "institution": [
                {"id": "A", "database": "x.sqlite3"},
                {"id": "B", "database": "x.sqlite3"},
                {"id": "C", "database": "x.sqlite3", "timezone": "America/Chicago"},
            ],
            "account": [{"login": "sc1", "password": hashPassword("pw", cost=4),
                         "institution": "A"}],
        })
        keys = [adapterKey(config.institutions[name]) for name in "ABC"]
        self.assertEqual(keys[0], keys[1])
        self.assertNotEqual(keys[0], keys[2])

    def test_hostZoneFollowsDaylightSaving(self):
        """
        The host zone follows the host's clock, daylight saving included,
        and converts both ways.
        """
        setHostZone(self, "America/Chicago")
        winter = datetime(2025, 1, 15, 12, 0, tzinfo=HOST_ZONE)
        summer = datetime(2025, 7, 15, 12, 0, tzinfo=HOST_ZONE)
        self.assertEqual(winter.utcoffset(), timedelta(hours=-6))
        self.assertEqual(summer.utcoffset(), timedelta(hours=-5))
        self.assertEqual(summer.tzname(), "CDT")
        self.assertEqual(
            inZone(datetime(2025, 11, 2, 7, 30, tzinfo=timezone.utc), HOST_ZONE)
            .replace(tzinfo=None),
            datetime(2025, 11, 2, 1, 30),
        )
        self.assertEqual(
            wallTime(datetime(2026, 12, 1, 10, 55, 48, tzinfo=timezone.utc), HOST_ZONE),
            datetime(2026, 12, 1, 4, 55, 48),
        )
        self.assertIsNone(inZone(datetime(1, 1, 1, tzinfo=timezone.utc), HOST_ZONE))
        self.assertEqual(zoneName(HOST_ZONE), "local")
