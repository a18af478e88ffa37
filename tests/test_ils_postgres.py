"""
Tests for L{sip2acs.ils.postgres}: the adapter contract on a real
PostgreSQL (a throwaway cluster, see L{tests.postgres}), concurrent
checkouts of one item through two adapters (two instances), and what is
PostgreSQL's own: the URL and password, migrations, an unreachable
database, the dialect.
"""

import os
import threading
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.postgres import Location, PostgresILS, isPostgresURL
from sip2acs.ils.postgres.store import NamedRow, migrations, translate
from sip2acs.ils.testing import (
    CONTRACT_NOW,
    ContractCase,
    ContractLibrary,
    ILSContractMixin,
    contractLibrary,
)
from sip2acs.ils.values import CheckinRequest, CheckoutRequest, Reason, Terminal
from tests.contractrows import contractTables
from tests.postgres import cluster, freshDatabase


def loadContractLibrary(url: str, library: ContractLibrary) -> None:
    """
    Migrate the database at C{url} and write the contract library into
    it, through the tables the import commands write.
    """
    import psycopg

    from sip2acs.ils.postgres.store import migrate

    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        with conn.transaction():
            for table, key, rows in contractTables(library):
                for row in rows:
                    columns = list(row)
                    conflict = ""
                    if key:
                        conflict = " ON CONFLICT (%s) DO UPDATE SET %s" % (
                            ", ".join(key),
                            ", ".join("%s = excluded.%s" % (c, c) for c in columns),
                        )
                    conn.execute(
                        "INSERT INTO %s (%s) VALUES (%s)%s" % (
                            table, ", ".join(columns), ", ".join(["%s"] * len(columns)),
                            conflict,
                        ),
                        list(row.values()),
                    )
                if rows and "id" in rows[0] and not key:
                    conn.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, 'id')::regclass,"
                        " (SELECT max(id) FROM " + table + ")::bigint)",
                        (table,),
                    )


class PostgresTestMixin:
    """
    Start L{PostgresILS} services on fresh databases, stopped when the
    test ends.
    """

    NOW = CONTRACT_NOW
    ZONE = ContractCase.ZONE

    def contractDatabase(self, library: ContractLibrary) -> str:
        """
        A fresh database holding C{library}: a copy of a template filled
        once per test process.
        """
        template = cluster().template(
            ("contract", library),
            lambda url: loadContractLibrary(url, library),
        )
        return freshDatabase(self, template)

    async def startILS(self, url: str, **kw: Any) -> PostgresILS:
        kw.setdefault("clock", lambda: self.NOW)
        kw.setdefault("zone", self.ZONE)
        ils = PostgresILS(url, reactor, **kw)
        await ils.startService()
        self.addCleanup(ils.stopService)  # type: ignore[attr-defined]
        return ils


class PostgresContractTests(PostgresTestMixin, ILSContractMixin, TestCase):
    """
    The adapter contract on L{PostgresILS}.
    """

    def makeILS(self, library: ContractLibrary) -> Deferred:
        return Deferred.fromCoroutine(self.startILS(self.contractDatabase(library)))


class RaceTests(PostgresTestMixin, TestCase):
    """
    Kiosks on two instances checking out the same item at the same
    moment: exactly one loan, the others a clear refusal.
    """

    ROUNDS = int(os.environ.get("SIP2ACS_RACE_ROUNDS", "25"))
    KIOSKS = 8
    timeout = 600

    async def test_concurrentCheckoutsOneLoan(self):
        """
        In each round, C{KIOSKS} kiosks, half on each of two adapters with
        four connections each, check out the same item for different
        patrons at once: one loan is made, every other kiosk is refused
        because the item is out to another patron, and the database never
        holds two open loans of one item. The item is then checked in.
        """
        import psycopg

        url = self.contractDatabase(contractLibrary(self.NOW))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO patrons (barcode, name, patron_class, home_branch, language)"
                " SELECT 'R' || n, 'Racer ' || n, 'ADULT', 'MAIN', '000'"
                " FROM generate_series(1, %s) n",
                (self.KIOSKS,),
            )
            conn.execute(
                "INSERT INTO items (barcode, title, item_type, home_branch, current_branch)"
                " SELECT 'RACE' || n, 'Contested ' || n, 'BOOK', 'MAIN', 'MAIN'"
                " FROM generate_series(1, %s) n",
                (self.ROUNDS,),
            )
        first = await self.startILS(url)
        second = await self.startILS(url)
        terminals = [
            Terminal(account="kiosk%d" % (n,), institution="DEMO", location="MAIN",
                     peer="192.0.2.%d" % (n,))
            for n in range(self.KIOSKS)
        ]
        wins = refusals = doubles = 0
        check = psycopg.connect(url, autocommit=True)
        self.addCleanup(check.close)
        for round in range(1, self.ROUNDS + 1):
            item = "RACE%d" % (round,)
            results = await gatherResults([
                (first if n % 2 else second).checkout(
                    terminals[n], CheckoutRequest("R%d" % (n + 1,), item)
                )
                for n in range(self.KIOSKS)
            ])
            winners = [r for r in results if r.ok]
            self.assertEqual(len(winners), 1, results)
            for result in results:
                if not result.ok:
                    self.assertEqual(result.reason, Reason.OUT_TO_OTHER, result)
                    self.assertTrue(result.screenMessages)
            wins += len(winners)
            refusals += len(results) - len(winners)
            (openLoans,) = check.execute(
                "SELECT count(*) FROM loans JOIN items ON items.id = loans.item_id"
                " WHERE items.barcode = %s AND loans.returned_at IS NULL", (item,)
            ).fetchone()
            doubles += openLoans > 1
            # Returned, so that no racer reaches a loan limit.
            self.assertIs((await first.checkin(terminals[0], CheckinRequest(item))).ok, True)
        (loans,) = check.execute(
            "SELECT count(*) FROM loans JOIN items ON items.id = loans.item_id"
            " WHERE items.barcode LIKE 'RACE%%'"
        ).fetchone()
        self.assertEqual((doubles, loans, wins), (0, self.ROUNDS, self.ROUNDS))
        counts = [first.counts(), second.counts()]
        print(
            "\nrace: %d checkouts in %d rounds, %d loans, %d refused, %d double"
            " loans; transactions %d, retried after a conflict %d"
            % (self.ROUNDS * self.KIOSKS, self.ROUNDS, loans, refusals, doubles,
               sum(c["attempts"] for c in counts), sum(c["retries"] for c in counts))
        )

    async def test_checkinRacesCheckout(self):
        """
        A checkin and a new checkout of the same loaned item racing on two
        instances: the item ends with at most one open loan.
        """
        url = self.contractDatabase(contractLibrary(self.NOW))
        first = await self.startILS(url)
        second = await self.startILS(url)
        terminal = ContractCase.terminal
        checkin, checkout = await gatherResults([
            first.checkin(terminal, CheckinRequest("I0003")),
            second.checkout(terminal, CheckoutRequest("P0005", "I0003")),
        ])
        self.assertIs(checkin.ok, True, checkin)
        item = await first.lookupItem(terminal, "I0003")
        patron = await first.lookupPatron(terminal, "P0005")
        charged = "I0003" in {ref.itemId for ref in patron.chargedItems}
        self.assertEqual(charged, bool(checkout.ok))
        self.assertEqual(item.circulationStatus == "04", bool(checkout.ok))


class AdapterTests(PostgresTestMixin, TestCase):
    """
    Starting, the schema version, health and an unreachable database.
    """

    async def test_schemaVersionRecorded(self):
        """
        Starting on an empty database applies every migration and records
        the version; starting again applies none.
        """
        import psycopg

        url = freshDatabase(self)
        ils = await self.startILS(url)
        await ils.stopService()
        await self.startILS(url)
        with psycopg.connect(url) as conn:
            versions = [row[0] for row in conn.execute(
                "SELECT version FROM sip2acs_schema ORDER BY version"
            )]
        self.assertEqual(versions, list(range(1, len(migrations()) + 1)))

    async def test_health(self):
        """
        The health check answers while the database does.
        """
        ils = await self.startILS(freshDatabase(self))
        self.assertIsNone(await ils.healthCheck())

    async def test_currency(self):
        """
        The currency the database keeps the institution's amounts in.
        """
        library = contractLibrary(self.NOW)
        ils = await self.startILS(self.contractDatabase(library))
        self.assertEqual(await ils.currency(library.institution), library.currency)

    async def test_unreachable(self):
        """
        A database nobody listens for fails the start with a sentence
        naming it and the reason.
        """
        url = "postgresql://postgres@127.0.0.1:1/nothing"
        ils = PostgresILS(url, reactor, timeout=2)
        self.addCleanup(ils.stopService)
        with self.assertRaises(ILSUnavailable) as caught:
            await ils.startService()
        message = str(caught.exception)
        self.assertIn("the PostgreSQL database %s cannot be reached" % (url,), message)

    async def test_databaseGone(self):
        """
        Operations on a database that went away fail with L{ILSUnavailable}
        saying so, not with a driver error.
        """
        url = self.contractDatabase(contractLibrary(self.NOW))
        ils = await self.startILS(url)
        cluster().admin("DROP DATABASE %s WITH (FORCE)" % (url.rsplit("/", 1)[1],))
        with self.assertRaises(ILSUnavailable) as caught:
            await ils.lookupPatron(ContractCase.terminal, "P0001")
        self.assertIn("PostgreSQL database %s" % (url,), str(caught.exception))

    async def test_workerThreads(self):
        """
        Operations run on the adapter's worker threads, never the
        reactor's.
        """
        url = self.contractDatabase(contractLibrary(self.NOW))
        ils = await self.startILS(url, poolSize=2)
        names = set()
        original = ils._callSync

        def recording(method, args):
            names.add(threading.current_thread().name)
            return original(method, args)

        ils._callSync = recording
        await gatherResults([
            ils.lookupPatron(ContractCase.terminal, "P0001") for _ in range(8)
        ])
        self.assertTrue(names)
        self.assertTrue(names <= {"PoolThread-sip2acs-postgres-0",
                                  "PoolThread-sip2acs-postgres-1"}, names)


class LocationTests(SynchronousTestCase):
    """
    The C{database} URL and the other settings, without a database.
    """

    def test_isPostgresURL(self):
        self.assertTrue(isPostgresURL("postgresql://u@h:5432/db"))
        self.assertTrue(isPostgresURL("postgres://u@h/db"))
        self.assertFalse(isPostgresURL("sip2acs.sqlite3"))
        self.assertFalse(isPostgresURL("/var/lib/sip2acs/postgresql.sqlite3"))

    def test_passwordRefused(self):
        """
        A password in the URL is refused, saying where it belongs.
        """
        with self.assertRaises(ValueError) as caught:
            Location.fromURL("postgresql://sip:secret@db.example:5432/library")
        message = str(caught.exception)
        self.assertIn("must not hold a password", message)
        self.assertIn("database-password-file", message)
        self.assertNotIn("secret", message)

    def test_noDatabase(self):
        with self.assertRaises(ValueError):
            Location.fromURL("postgresql://sip@db.example:5432/")

    def test_passwordFile(self):
        """
        The first line of the password file is the password.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("s3cret\nignored\n")
        location = Location.fromURL("postgresql://sip@h/db", path)
        self.assertEqual(location.connectArguments(5)["password"], "s3cret")
        self.assertNotIn("password", Location.fromURL("postgresql://sip@h/db")
                         .connectArguments(5))

    def test_fromConfig(self):
        """
        The adapter's settings: unknown keys and bad values are refused.
        """
        ils = PostgresILS.fromConfig(
            {"database": "postgresql://sip@h:5433/lib", "pool-size": 8,
             "database-password-file": "/etc/sip2acs/db-password"},
            reactor,
        )
        self.assertEqual((ils.poolSize, ils.location.passwordFile),
                         (8, "/etc/sip2acs/db-password"))
        with self.assertRaises(ValueError) as caught:
            PostgresILS.fromConfig(
                {"database": "postgresql://sip@h/lib", "synchronous": "full"}, reactor
            )
        self.assertIn("unknown postgresql ILS settings: synchronous", str(caught.exception))
        with self.assertRaises(ValueError):
            PostgresILS.fromConfig({"database": "postgresql://sip@h/lib",
                                    "pool-size": 0}, reactor)

    def test_translate(self):
        """
        The shared SQL's placeholders become psycopg's; a literal percent
        sign stays one.
        """
        self.assertEqual(
            translate("SELECT * FROM t WHERE a = ? AND b LIKE 'x%'"),
            "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%'",
        )

    def test_namedRow(self):
        row = NamedRow((1, "a", 2), {"id": 0, "code": 1, "n": 2})
        self.assertEqual((row["code"], row[0], len(row), list(row)), ("a", 1, 3, [1, "a", 2]))


class ConfigurationTests(SynchronousTestCase):
    """
    An institution's C{database} chooses the store: a path SQLite, a
    C{postgresql://} URL PostgreSQL; the configuration file says so.
    """

    def institution(self, **options: Any) -> Any:
        from sip2acs.config import InstitutionConfig

        return InstitutionConfig(id="LIB", options=options)

    def test_chosenFromURL(self):
        from sip2acs.acs.server import makeAdapter
        from sip2acs.ils.sqlite import SQLiteILS

        ils = makeAdapter(self.institution(database="postgresql://sip@db:5432/lib"), reactor)
        self.assertIsInstance(ils, PostgresILS)
        self.assertEqual(ils.location.url, "postgresql://sip@db:5432/lib")
        self.assertIsInstance(makeAdapter(self.institution(database="lib.sqlite3"), reactor),
                              SQLiteILS)

    def test_passwordInURLIsAConfigurationError(self):
        """
        A configuration whose database URL holds a password does not load;
        the error names the institution and says where the password goes.
        """
        from sip2acs.app.tap import buildAdapters
        from sip2acs.config import ConfigError, loadConfig

        path = self.mktemp()
        with open(path, "w") as f:
            f.write(
                '[[listener]]\nendpoint = "tcp:0"\n\n[[institution]]\nid = "LIB"\n'
                'database = "postgresql://sip:hunter2@db:5432/lib"\n'
            )
        with self.assertRaises(ConfigError) as caught:
            buildAdapters(loadConfig(path), reactor)
        message = str(caught.exception)
        self.assertIn("LIB", message)
        self.assertIn("must not hold a password", message)
        self.assertNotIn("hunter2", message)


class HarnessTests(SynchronousTestCase):
    """
    Without PostgreSQL the tests skip saying how to install it, except in
    CI, where that is a failure.
    """

    def setUp(self):
        from tests import postgres

        self.harness = postgres
        self.patch(postgres, "_cluster", None)
        self.patch(postgres, "_failure", None)
        self.patch(postgres, "_programs", lambda: None)

    def test_skipWithoutPostgreSQL(self):
        self.patch(os, "environ", {k: v for k, v in os.environ.items() if k != "CI"})
        with self.assertRaises(Exception) as caught:
            self.harness.cluster()
        from twisted.trial.unittest import SkipTest

        self.assertIsInstance(caught.exception, SkipTest)
        self.assertIn("apt-get install postgresql", str(caught.exception))

    def test_failureInCI(self):
        self.patch(os, "environ", dict(os.environ, CI="true"))
        with self.assertRaises(RuntimeError) as caught:
            self.harness.cluster()
        self.assertIn("apt-get install postgresql", str(caught.exception))
