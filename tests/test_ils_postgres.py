"""
Tests for L{sip2acs.ils.postgres}: the adapter contract on a real
PostgreSQL (a throwaway cluster, see L{tests.postgres}), concurrent
checkouts of one item through two adapters (two instances), and what is
PostgreSQL's own: the URL and password, migrations, an unreachable
database, the dialect.
"""

import logging
import os
import threading
from decimal import Decimal
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, gatherResults
from twisted.logger import LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.ils.base import ILSUnavailable
from sip2acs.ils.postgres import Location, PostgresILS, isPostgresURL
from sip2acs.ils.postgres.adapter import PoolWarnings
from sip2acs.ils.postgres.store import NamedRow, migrations, translate
from sip2acs.ils.sql.store import writeTime
from sip2acs.ils.testing import (
    CONTRACT_NOW,
    ContractCase,
    ContractLibrary,
    ILSContractMixin,
    contractLibrary,
)
from sip2acs.ils.values import (
    CheckinRequest,
    CheckoutRequest,
    HoldRequest,
    Payment,
    Reason,
    Terminal,
)
from tests.contractrows import contractTables
from tests.fixtures import captureLogs
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


RACE_ROUNDS = int(os.environ.get("SIP2ACS_RACE_ROUNDS", "25"))
"""
Rounds of each race test: 25 by default, more with C{SIP2ACS_RACE_ROUNDS}.
"""


class RaceTests(PostgresTestMixin, TestCase):
    """
    Kiosks on two instances (two adapters with four connections each, on
    one database) doing conflicting things at the same moment, C{ROUNDS}
    times over: checkouts of one item, of the last copy on a hold shelf,
    holds placed on one title, payments of one fee, renew-all racing a
    checkin. Each test counts the operations tried and the anomalies
    found (every one a failure), and prints them with the transactions
    tried and retried after a conflict.
    """

    ROUNDS = RACE_ROUNDS
    KIOSKS = 8
    timeout = 600

    async def twoInstances(self) -> Any:
        """
        The contract library with C{KIOSKS} more patrons (C{R1}...), two
        adapters on it (C{self.instances}) and a connection to look with
        (C{self.check}).

        @return: The database URL.
        """
        import psycopg

        url = self.contractDatabase(contractLibrary(self.NOW))
        self.check = psycopg.connect(url, autocommit=True)
        self.addCleanup(self.check.close)
        self.check.execute(
            "INSERT INTO patrons (barcode, name, patron_class, home_branch, language)"
            " SELECT 'R' || n, 'Racer ' || n, 'ADULT', 'MAIN', '000'"
            " FROM generate_series(1, %s) n",
            (self.KIOSKS,),
        )
        self.instances = (await self.startILS(url), await self.startILS(url))
        self.terminals = [
            Terminal(account="kiosk%d" % (n,), institution="DEMO", location="MAIN",
                     peer="192.0.2.%d" % (n,))
            for n in range(self.KIOSKS)
        ]
        return url

    def kiosk(self, n: int) -> tuple[PostgresILS, Terminal]:
        """
        The adapter and terminal of kiosk C{n}: even kiosks on one
        instance, odd ones on the other.
        """
        return self.instances[n % 2], self.terminals[n % self.KIOSKS]

    def addItems(self, prefix: str) -> None:
        """
        One available item per round, C{prefix1}..., each its own title.
        """
        self.check.execute(
            "INSERT INTO items (barcode, title, item_type, home_branch, current_branch)"
            " SELECT %s || n, %s || n, 'BOOK', 'MAIN', 'MAIN'"
            " FROM generate_series(1, %s) n",
            (prefix, "Title " + prefix, self.ROUNDS),
        )

    def value(self, sql: str, *params: Any) -> Any:
        row = self.check.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def report(self, race: str, tried: int, anomalies: list[str]) -> None:
        """
        Print the counts of a race, then fail on any anomaly.
        """
        counts = [ils.counts() for ils in self.instances]
        print(
            "\nrace %s: %d operations in %d rounds, %d anomalies; transactions %d,"
            " retried after a conflict %d"
            % (race, tried, self.ROUNDS, len(anomalies),
               sum(c["attempts"] for c in counts), sum(c["retries"] for c in counts))
        )
        self.assertEqual(anomalies, [])

    async def test_concurrentCheckoutsOneLoan(self):
        """
        In each round, C{KIOSKS} kiosks check out the same item for
        different patrons at once: one loan is made, every other kiosk is
        refused because the item is out to another patron, and the
        database never holds two open loans of one item. The item is then
        checked in.
        """
        await self.twoInstances()
        self.addItems("RACE")
        anomalies = []
        for round in range(1, self.ROUNDS + 1):
            item = "RACE%d" % (round,)
            results = await gatherResults([
                self.kiosk(n)[0].checkout(
                    self.kiosk(n)[1], CheckoutRequest("R%d" % (n + 1,), item)
                )
                for n in range(self.KIOSKS)
            ])
            winners = [r for r in results if r.ok]
            if len(winners) != 1:
                anomalies.append("round %d: %d checkouts made" % (round, len(winners)))
            for result in results:
                if not result.ok and (
                    result.reason != Reason.OUT_TO_OTHER or not result.screenMessages
                ):
                    anomalies.append("round %d: refused with %r" % (round, result))
            openLoans = self.value(
                "SELECT count(*) FROM loans JOIN items ON items.id = loans.item_id"
                " WHERE items.barcode = %s AND loans.returned_at IS NULL", item
            )
            if openLoans != 1:
                anomalies.append("round %d: %d open loans" % (round, openLoans))
            # Returned, so that no racer reaches a loan limit.
            self.assertIs((await self.instances[0].checkin(
                self.terminals[0], CheckinRequest(item))).ok, True)
        loans = self.value(
            "SELECT count(*) FROM loans JOIN items ON items.id = loans.item_id"
            " WHERE items.barcode LIKE 'RACE%%'"
        )
        if loans != self.ROUNDS:
            anomalies.append("%d loans in %d rounds" % (loans, self.ROUNDS))
        self.report("checkout", self.ROUNDS * self.KIOSKS, anomalies)

    async def test_lastCopyOnHoldShelf(self):
        """
        In each round, the only copy of a title waits on the hold shelf
        for C{R1}'s hold, and C{KIOSKS} kiosks check it out at once for
        C{R1} and the other racers: C{R1} gets it (the hold is filled),
        every other kiosk is refused because the item is held for, or
        already lent to, another patron.
        """
        await self.twoInstances()
        self.addItems("SHELF")
        now = writeTime(self.NOW, self.ZONE)
        self.check.execute(
            "UPDATE items SET status = 'on_hold_shelf' WHERE barcode LIKE 'SHELF%%'"
        )
        self.check.execute(
            "INSERT INTO holds (patron_id, title_key, title, pickup_branch, placed_at,"
            " status, trapped_item_id, trapped_at, shelf_expires_at)"
            " SELECT patrons.id, items.title_key, items.title, 'MAIN', %s, 'ready',"
            " items.id, %s, %s FROM patrons, items"
            " WHERE patrons.barcode = 'R1' AND items.barcode LIKE 'SHELF%%'",
            (now, now, now),
        )
        anomalies = []
        for round in range(1, self.ROUNDS + 1):
            item = "SHELF%d" % (round,)
            results = await gatherResults([
                self.kiosk(n)[0].checkout(
                    self.kiosk(n)[1], CheckoutRequest("R%d" % (n + 1,), item)
                )
                for n in range(self.KIOSKS)
            ])
            if not results[0].ok:
                anomalies.append("round %d: the hold's patron refused: %r"
                                 % (round, results[0]))
            for n, result in enumerate(results[1:], start=2):
                if result.ok or result.reason not in (
                    Reason.ON_HOLD_FOR_OTHER, Reason.OUT_TO_OTHER
                ):
                    anomalies.append("round %d: R%d got %r" % (round, n, result))
            borrowers = [row[0] for row in self.check.execute(
                "SELECT patrons.barcode FROM loans"
                " JOIN patrons ON patrons.id = loans.patron_id"
                " JOIN items ON items.id = loans.item_id WHERE items.barcode = %s",
                (item,),
            )]
            status = self.value(
                "SELECT holds.status FROM holds JOIN items"
                " ON items.id = holds.trapped_item_id WHERE items.barcode = %s", item
            )
            if borrowers != ["R1"] or status != "filled":
                anomalies.append("round %d: loans to %s, hold %s"
                                 % (round, borrowers, status))
            await self.instances[1].checkin(self.terminals[0], CheckinRequest(item))
        self.report("last copy on the hold shelf", self.ROUNDS * self.KIOSKS, anomalies)

    async def test_holdQueuePositions(self):
        """
        In each round, C{KIOSKS} patrons place a hold on one item (even
        rounds) or title (odd rounds) at once: every hold is placed, and
        their queue positions are 1 to C{KIOSKS}, each once, as the
        database orders the queue.
        """
        await self.twoInstances()
        self.addItems("QUEUE")
        anomalies = []
        for round in range(1, self.ROUNDS + 1):
            item, title = "QUEUE%d" % (round,), "Title QUEUE%d" % (round,)
            byTitle = round % 2
            results = await gatherResults([
                self.kiosk(n)[0].hold(self.kiosk(n)[1], HoldRequest(
                    "+", "R%d" % (n + 1,), itemId=None if byTitle else item,
                    titleId=title if byTitle else None, pickupLocation="MAIN",
                ))
                for n in range(self.KIOSKS)
            ])
            positions = sorted(r.queuePosition for r in results if r.ok)
            if positions != list(range(1, self.KIOSKS + 1)):
                anomalies.append("round %d: positions %s" % (round, positions))
            queue = [row[0] for row in self.check.execute(
                "SELECT patrons.barcode FROM holds"
                " JOIN patrons ON patrons.id = holds.patron_id"
                " WHERE holds.title = %s AND holds.status = 'waiting'"
                " ORDER BY holds.placed_at, holds.id", (title,),
            )]
            told = {"R%d" % (n + 1,): r.queuePosition for n, r in enumerate(results)}
            if [told[barcode] for barcode in queue] != list(range(1, len(queue) + 1)):
                anomalies.append("round %d: queue %s, told %s" % (round, queue, told))
            # Closed, so that no racer reaches the hold limit.
            self.check.execute(
                "UPDATE holds SET status = 'cancelled' WHERE title = %s", (title,)
            )
        self.report("hold queue position", self.ROUNDS * self.KIOSKS, anomalies)

    async def test_feePaidTwice(self):
        """
        In each round, C{R1} owes one fee of 5.00 and C{KIOSKS} kiosks pay
        5.00 of it at once: one payment is taken, every other is refused
        as more than is owed, and the balance is 0: never negative, no
        credit made.
        """
        await self.twoInstances()
        now = writeTime(self.NOW, self.ZONE)
        anomalies = []
        for round in range(1, self.ROUNDS + 1):
            self.check.execute(
                "INSERT INTO fees (patron_id, fee_type, description, amount_cents,"
                " balance_cents, created_at) SELECT id, '01', %s, 500, 500, %s"
                " FROM patrons WHERE barcode = 'R1'",
                ("Race %d" % (round,), now),
            )
            results = await gatherResults([
                self.kiosk(n)[0].feePaid(self.kiosk(n)[1], Payment(
                    "R1", Decimal("5.00"), transactionId="T%d.%d" % (round, n)
                ))
                for n in range(self.KIOSKS)
            ])
            taken = [r for r in results if r.accepted]
            refused = [r for r in results if not r.accepted
                       and r.reason == Reason.OVERPAYMENT]
            if len(taken) != 1 or len(refused) != self.KIOSKS - 1:
                anomalies.append("round %d: %r" % (round, results))
            balance, lowest = self.check.execute(
                "SELECT sum(balance_cents), min(balance_cents) FROM fees"
                " JOIN patrons ON patrons.id = fees.patron_id"
                " WHERE patrons.barcode = 'R1' AND voided_at IS NULL"
            ).fetchone()
            paid = self.value(
                "SELECT sum(amount_cents) FROM payments JOIN patrons"
                " ON patrons.id = payments.patron_id WHERE patrons.barcode = 'R1'"
            )
            if (balance, lowest, paid) != (0, 0, 500 * round):
                anomalies.append("round %d: balance %s (lowest fee %s), paid %s"
                                 % (round, balance, lowest, paid))
        self.report("fee paid twice", self.ROUNDS * self.KIOSKS, anomalies)

    async def test_renewAllRacesCheckin(self):
        """
        In each round, C{R1} has two loans; a renew-all of C{R1} on one
        instance races a checkin of one of the items on the other. Either
        order is right, but nothing else: the returned item's loan stays
        closed, and it was renewed exactly when the renew-all says so; the
        other loan is renewed once.
        """
        await self.twoInstances()
        self.addItems("KEEP")
        self.addItems("BACK")
        anomalies = []
        for round in range(1, self.ROUNDS + 1):
            keep, back = "KEEP%d" % (round,), "BACK%d" % (round,)
            for item in (keep, back):
                result = await self.instances[0].checkout(
                    self.terminals[0], CheckoutRequest("R1", item))
                self.assertIs(result.ok, True, result)
            renewer, returner = self.kiosk(round), self.kiosk(round + 1)

            def startRenewAll(renewer=renewer):
                return renewer[0].renewAll(renewer[1], "R1")

            def startCheckin(returner=returner, back=back):
                return returner[0].checkin(returner[1], CheckinRequest(back))

            # Sent in one order two rounds out of three, the other in the third.
            calls = [startRenewAll, startCheckin] if round % 3 else [startCheckin, startRenewAll]
            results = await gatherResults([call() for call in calls])
            renewAll, checkin = results if round % 3 else results[::-1]
            loans = {barcode: (renewals, returned) for barcode, renewals, returned in
                     self.check.execute(
                         "SELECT items.barcode, loans.renewals,"
                         " loans.returned_at IS NOT NULL FROM loans"
                         " JOIN items ON items.id = loans.item_id"
                         " WHERE items.barcode IN (%s, %s)", (keep, back))}
            status = self.value("SELECT status FROM items WHERE barcode = %s", back)
            renewedBack = back in renewAll.renewed
            if not (checkin.ok and renewAll.ok):
                anomalies.append("round %d: %r, %r" % (round, renewAll, checkin))
            elif (
                loans != {keep: (1, False), back: (int(renewedBack), True)}
                or status == "charged"
                or keep not in renewAll.renewed
                or any(line.startswith(back) for line in renewAll.unrenewed)
            ):
                anomalies.append("round %d: loans %s, %s %s, renewed %s, not %s"
                                 % (round, loans, back, status, renewAll.renewed,
                                    renewAll.unrenewed))
            await self.instances[0].checkin(self.terminals[0], CheckinRequest(keep))
        self.report("renew-all racing a checkin", self.ROUNDS * 2, anomalies)

    async def test_transactionIdsUnique(self):
        """
        The transaction ids (C{BK}) two instances give at the same time
        are all different: each is the id of the operation's own row in
        the shared transaction log, which one sequence numbers for every
        instance.
        """
        await self.twoInstances()
        self.check.execute(
            "INSERT INTO items (barcode, title, item_type, home_branch, current_branch)"
            " SELECT 'BK' || n, 'Title BK' || n, 'BOOK', 'MAIN', 'MAIN'"
            " FROM generate_series(1, %s) n",
            (self.ROUNDS * self.KIOSKS,),
        )
        given: list[tuple[str, str]] = []
        for round in range(self.ROUNDS):
            items = ["BK%d" % (round * self.KIOSKS + n + 1,) for n in range(self.KIOSKS)]
            results = await gatherResults([
                self.kiosk(n)[0].checkout(
                    self.kiosk(n)[1], CheckoutRequest("R%d" % (n + 1,), items[n])
                )
                for n in range(self.KIOSKS)
            ])
            self.assertTrue(all(r.ok for r in results), results)
            given += [(r.transactionId, "checkout") for r in results]
            await gatherResults([
                self.kiosk(n + 1)[0].checkin(self.kiosk(n)[1], CheckinRequest(items[n]))
                for n in range(self.KIOSKS)
            ])
        ids = [transactionId for transactionId, _ in given]
        logged = dict(self.check.execute(
            "SELECT id::text, operation FROM transaction_log WHERE id::text = ANY(%s)",
            (ids,),
        ).fetchall())
        anomalies = ["%s given %d times" % (i, ids.count(i)) for i in set(ids)
                     if ids.count(i) > 1]
        anomalies += ["%s for a %s logs %s" % (i, operation, logged.get(i))
                      for i, operation in given if logged.get(i) != operation]
        self.report("transaction ids", len(ids), anomalies)

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


class SharedLoginFailuresTests(PostgresTestMixin, TestCase):
    """
    The login cooling-off of two instances counted in their PostgreSQL
    database (L{sip2acs.ils.postgres.throttle}), as C{twistd sip2acs}
    wires it (L{sharedThrottleStore <sip2acs.app.tap.sharedThrottleStore>}).
    """

    async def twoThrottles(self, limit: int) -> tuple[Any, Any, str]:
        from sip2acs.acs.throttle import LoginThrottle
        from sip2acs.app.tap import sharedThrottleStore

        url = freshDatabase(self)
        first, second = await self.startILS(url), await self.startILS(url)
        return (
            LoginThrottle(limit, 60, reactor, sharedThrottleStore({"LIB": first})),
            LoginThrottle(limit, 60, reactor, sharedThrottleStore({"LIB": second})),
            url,
        )

    async def test_failuresCountOnEveryInstance(self):
        """
        Two failures on instance A and one on instance B start the
        cooling-off (of three); A then refuses the login unchecked.
        """
        first, second, url = await self.twoThrottles(3)

        async def failOnce(throttle):
            self.assertIsNone(await throttle.attempt("192.0.2.7", "kiosk"))
            cooling = throttle.failed("192.0.2.7", "kiosk")
            await throttle.settled()
            return cooling

        self.assertEqual([await failOnce(first), await failOnce(first)], [False, False])
        self.assertIs(await failOnce(second), True)
        self.assertIn("cooling off", await first.attempt("192.0.2.7", "kiosk"))
        self.assertIsNone(await first.attempt("192.0.2.8", "kiosk"))

    async def test_concurrentFailuresAllCount(self):
        """
        Failures on both instances at the same moment all count: none is
        lost to another's write.
        """
        import psycopg

        first, second, url = await self.twoThrottles(100)
        throttles = [first, second] * 8
        for n, throttle in enumerate(throttles):
            self.assertIsNone(await throttle.attempt("192.0.2.%d" % (n % 2,), None))
        for n, throttle in enumerate(throttles):
            throttle.failed("192.0.2.%d" % (n % 2,), None)
        await gatherResults([first.settled(), second.settled()])
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT address, login, failures FROM login_failures ORDER BY address"
            ).fetchall()
        self.assertEqual(rows, [("192.0.2.0", "", 8), ("192.0.2.1", "", 8)])

    def test_onlyWithPostgreSQL(self):
        """
        Without an institution on PostgreSQL there is no shared store.
        """
        from sip2acs.app.tap import sharedThrottleStore
        from sip2acs.testing import MemoryILS

        self.assertIsNone(sharedThrottleStore({"LIB": MemoryILS()}))


class FailoverTests(PostgresTestMixin, TestCase):
    """
    The database restarting under a running adapter, as after a failover:
    every pooled connection is stale.
    """

    timeout = 300

    async def outcomes(self, calls: list[Deferred]) -> list[str]:
        """
        C{"ok"}, or the error's message, for each call.
        """
        outcomes: list[str] = []
        for d in calls:
            d.addCallbacks(lambda _: outcomes.append("ok"),
                           lambda f: outcomes.append(f.getErrorMessage()))
        await DeferredList(calls)
        return outcomes

    async def test_restartCostsNoRequest(self):
        """
        Once the database is back after a restart, no request fails for a
        connection the restart closed: each stale one is found out before
        its transaction begins, the pool checked, and the transaction run
        on a new connection. Reads and writes, as many at once as the pool
        has connections and more, on each of several restarts.
        """
        url = self.contractDatabase(contractLibrary(self.NOW))
        ils = await self.startILS(url, poolSize=4)
        terminal = ContractCase.terminal
        restarts, requests, failed = 3, 0, []
        for _ in range(restarts):
            # Every connection of the pool in use once, so that all are stale.
            self.assertEqual(set(await self.outcomes([
                ils.lookupPatron(terminal, "P0001") for _ in range(8)
            ])), {"ok"})
            cluster().restart()
            calls = [ils.lookupPatron(terminal, "P0001") for _ in range(8)]
            calls += [ils.checkout(terminal, CheckoutRequest("P0001", "I0001")),
                      ils.lookupItem(terminal, "I0001"),
                      ils.checkin(terminal, CheckinRequest("I0001"))]
            outcomes = await self.outcomes(calls)
            requests += len(outcomes)
            failed += [outcome for outcome in outcomes if outcome != "ok"]
        print("\nfailover: %d database restarts, %d requests after them, %d failed;"
              " transactions begun again on a new connection %d"
              % (restarts, requests, len(failed), ils.counts()["reconnections"]))
        self.assertEqual(failed, [])

    async def test_databaseStillDown(self):
        """
        While the database is down, a request fails with L{ILSUnavailable}
        saying it cannot be reached (after one more try on a new
        connection), not with a driver error.
        """
        url = self.contractDatabase(contractLibrary(self.NOW))
        ils = await self.startILS(url, poolSize=2, timeout=2)
        terminal = ContractCase.terminal
        await ils.lookupPatron(terminal, "P0001")
        cluster().stopServer()
        self.addCleanup(cluster().restart)
        with self.assertRaises(ILSUnavailable) as caught:
            await ils.lookupPatron(terminal, "P0001")
        self.assertIn("PostgreSQL database %s" % (url,), str(caught.exception))


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
        ils = await self.startILS(url, timeout=2)
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
        from sip2acs.config import ConfigError, loadConfig

        path = self.mktemp()
        with open(path, "w") as f:
            f.write(
                '[[listener]]\nendpoint = "tcp:0"\n\n[[institution]]\nid = "LIB"\n'
                'database = "postgresql://sip:hunter2@db:5432/lib"\n'
            )
        with self.assertRaises(ConfigError) as caught:
            loadConfig(path)
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


class PoolWarningsTests(SynchronousTestCase):
    """
    psycopg_pool's warnings reach the Twisted log (on the reactor thread),
    not standard error.
    """

    def test_warningLogged(self) -> None:
        """
        A warning record of the pool becomes one Twisted warning naming the
        pool; the call goes through the reactor's C{callFromThread}.
        """
        calls: list[tuple[Any, ...]] = []

        class Reactor:
            def callFromThread(self, f: Any, *args: Any, **kw: Any) -> None:
                calls.append((f, args, kw))
                f(*args, **kw)

        events = captureLogs(self)
        handler = PoolWarnings(Reactor())
        record = logging.LogRecord(
            "psycopg.pool", logging.WARNING, "pool.py", 730,
            "discarding closed connection: %s", ("<conn>",), None,
        )
        handler.handle(record)
        self.assertEqual(len(calls), 1)
        [event] = [e for e in events if e.get("log_namespace") == "sip2acs.ils.postgres.pool"]
        self.assertEqual(
            formatEvent(event),
            "PostgreSQL connection pool: discarding closed connection: <conn>",
        )
        self.assertEqual(event["log_level"], LogLevel.warn)

    def test_infoLeftOut(self) -> None:
        """
        The pool's C{INFO} lines (each connection lent and returned) are
        not logged.
        """
        handler = PoolWarnings(reactor)
        record = logging.LogRecord(
            "psycopg.pool", logging.INFO, "pool.py", 208,
            "connection requested from %r", ("pool-1",), None,
        )
        events = captureLogs(self)
        handler.handle(record)
        self.assertEqual(
            [e for e in events if e.get("log_namespace") == "sip2acs.ils.postgres.pool"], []
        )

    def test_installOnce(self) -> None:
        """
        Installing twice adds one handler, and the pool's records no longer
        reach Python's root logger (standard error).
        """
        logger = logging.getLogger("psycopg.pool")
        PoolWarnings.install(reactor)
        PoolWarnings.install(reactor)
        self.assertEqual(
            len([h for h in logger.handlers if isinstance(h, PoolWarnings)]), 1
        )
        self.assertFalse(logger.propagate)
