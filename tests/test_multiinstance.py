"""
Several instances for real: one PostgreSQL (L{tests.postgres}), two
C{twistd sip2acs} processes on it with admin listeners, and HAProxy in
front (L{tests.haproxy}, configured from C{etc/haproxy.cfg}), kiosks
connecting through HAProxy only.

  - a thousand kiosks log in and check out and in their own items; one
    instance is killed (SIGKILL) in the middle: its kiosks reconnect
    through HAProxy to the other and carry on, and every operation a kiosk
    was told succeeded is in PostgreSQL;
  - one instance is drained (SIGUSR1): its C{/ready} answers 503, HAProxy
    sends every new kiosk to the other, and its own kiosks are still served.

Without PostgreSQL or HAProxy the tests skip, saying how to install them;
with C{CI=true} they fail instead. The figures are printed (the issue's
closing note quotes them); only outcomes are asserted, with generous
deadlines, never speed.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.client import SIP2ClientProtocol, connect
from sip2acs.config import loadConfig
from sip2acs.ils.testing import CONTRACT_NOW, contractLibrary
from sip2acs.sip.exchange import ConnectionFailed, NoAnswer, ProtocolError
from sip2acs.tools.bench.load import raiseFileLimit
from tests.haproxy import (
    TEMPLATE,
    HAProxy,
    Server,
    renderConfig,
    requireHAProxy,
    startHAProxy,
)
from tests.postgres import cluster, freshDatabase
from tests.process import TOP, ServerProcess, startServer
from tests.test_admin import httpRequest
from tests.test_ils_postgres import loadContractLibrary

KIOSKS = int(os.environ.get("SIP2ACS_MULTI_KIOSKS", "1000"))
"""
Kiosks in the SIGKILL test.
"""

ROUNDS = 3
"""
Checkouts and checkins of its own item each kiosk makes.
"""

DATE = "20250314    101500"
BLANK_DATE = " " * 18
INSTITUTION = "DEMO"
# The hash of "demo", as in etc/sip2acs.toml.
PASSWORD_HASH = (
    "scrypt$14$8$1$S0MxVXNmZdyAp2VEn7f5eA$8/P7MeemUWj86S31fM7QTNMPY3HMRIPDqITYsXpFtj4"
)
LOGIN_FRAME = "9300CNdemo|COdemo|CPMAIN|"
ANSWER_TIMEOUT = 120.0
DEADLINE = 90.0
"""
Seconds a kiosk keeps trying to reconnect before it gives up.
"""

UNAVAILABLE = b"The library system is not available"
_ADMIN = re.compile(r"AdminSite starting on (\d+)")

INSTANCE = """\
[[listener]]
endpoint = "tcp:0:interface=127.0.0.1"
proxy-protocol = true
proxy-from = ["127.0.0.1"]

[admin]
endpoint = "tcp:port=0:interface=127.0.0.1"

[[institution]]
id = "{institution}"
database = "{database}"
pool-size = 4

[[account]]
login = "demo"
password = "{password}"
institution = "{institution}"
location = "MAIN"
"""


def patronId(n: int) -> str:
    """
    The barcode of kiosk C{n}'s patron.
    """
    return "K%05d" % (n,)


def itemId(n: int) -> str:
    """
    The barcode of kiosk C{n}'s item.
    """
    return "KI%05d" % (n,)


def libraryDatabase(testCase: TestCase, kiosks: int) -> str:
    """
    A fresh database with the contract library (institution, branches,
    rules) and, for each kiosk, a patron without a PIN and an item of its
    own.

    @return: Its URL.
    """
    import psycopg

    library = contractLibrary(CONTRACT_NOW)
    template = cluster().template(
        ("contract", library), lambda url: loadContractLibrary(url, library)
    )
    url = freshDatabase(testCase, template)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO patrons (barcode, name, patron_class, home_branch, language)"
            " SELECT 'K' || lpad(n::text, 5, '0'), 'Kiosk patron ' || n, 'ADULT', 'MAIN',"
            " '000' FROM generate_series(0, %s) n",
            (kiosks - 1,),
        )
        conn.execute(
            "INSERT INTO items (barcode, title, item_type, home_branch, current_branch)"
            " SELECT 'KI' || lpad(n::text, 5, '0'), 'Kiosk item ' || n, 'BOOK', 'MAIN',"
            " 'MAIN' FROM generate_series(0, %s) n",
            (kiosks - 1,),
        )
    return url


@attrs.define
class Instance:
    """
    One running C{twistd sip2acs}.
    """

    name: str
    process: ServerProcess
    admin: int

    @property
    def server(self) -> Server:
        """
        How HAProxy's backend names it.
        """
        return Server(self.name, self.process.port, self.admin)

    async def get(self, path: str) -> tuple[int, Any]:
        """
        C{GET path} on its admin listener: the status and the body (decoded
        when JSON).
        """
        status, headers, body = await httpRequest(self.admin, path)
        if headers.get("content-type", "").startswith("application/json"):
            body = json.loads(body)
        return status, body

    async def kioskPorts(self) -> set[int]:
        """
        The source ports of the kiosks connected to it, as the PROXY
        headers told it (every kiosk is on 127.0.0.1).
        """
        status, body = await self.get("/status.json")
        assert status == 200, (status, body)
        return {row["port"] for row in body["kiosks"]}


class Deployment:
    """
    The database, the instances and HAProxy of one test.
    """

    def __init__(self, testCase: TestCase) -> None:
        self.testCase = testCase
        self.database = ""
        self.instances: list[Instance] = []
        self.haproxy: HAProxy | None = None

    async def start(self, kiosks: int, count: int = 2) -> None:
        """
        Make the database for C{kiosks} kiosks, start C{count} instances
        on it and HAProxy in front, and wait until HAProxy finds every
        instance up.
        """
        requireHAProxy()  # before anything starts: skip (or fail in CI) without it
        raiseFileLimit(kiosks * 2 + 1000)
        self.database = libraryDatabase(self.testCase, kiosks)
        folder = os.path.abspath(self.testCase.mktemp())
        os.makedirs(folder)
        config = INSTANCE.format(institution=INSTITUTION, database=self.database,
                                 password=PASSWORD_HASH)
        started = []
        for number in range(1, count + 1):
            path = os.path.join(folder, "instance-%d.toml" % (number,))
            with open(path, "w") as f:
                f.write(config)
            started.append(startServer(self.testCase, ["--config", path], cwd=TOP))
        processes = await gatherResults(started)
        for number, process in enumerate(processes, start=1):
            admin = await self._adminPort(process)
            self.instances.append(Instance("acs%d" % (number,), process, admin))
        self.haproxy = await startHAProxy(
            self.testCase, {"sip2acs-raw": [i.server for i in self.instances]}, ["sip2-raw"]
        )
        await self.haproxy.waitFor("sip2acs-raw", {i.name: "UP" for i in self.instances})

    async def _adminPort(self, process: ServerProcess) -> int:
        """
        The port of C{process}'s admin listener, from its log.
        """
        for _ in range(300):
            match = _ADMIN.search(process.output)
            if match:
                return int(match.group(1))
            await deferLater(reactor, 0.1)
        raise RuntimeError("the admin listener did not start:\n" + process.output)

    @property
    def port(self) -> int:
        """
        The port kiosks connect to: HAProxy's raw SIP2 frontend.
        """
        assert self.haproxy is not None
        return self.haproxy.ports["sip2-raw"]

    async def connections(self) -> dict[str, int]:
        """
        Each instance's open connections, from its C{/status.json}.
        """
        counts = {}
        for instance in self.instances:
            counts[instance.name] = len(await instance.kioskPorts())
        return counts

    def journal(self) -> Counter[tuple[str, str]]:
        """
        The successful checkouts and checkins of each item in the
        transaction log: C{(operation, item) -> count}.
        """
        import psycopg

        with psycopg.connect(self.database) as conn:
            rows = conn.execute(
                "SELECT operation, item, count(*) FROM transaction_log"
                " WHERE ok = 1 AND operation IN ('checkout', 'checkin')"
                " GROUP BY operation, item"
            ).fetchall()
        return Counter({(operation, item): count for operation, item, count in rows})

    def openLoans(self) -> dict[str, int]:
        """
        Item barcode -> open loans of it, for the kiosks' items.
        """
        import psycopg

        with psycopg.connect(self.database) as conn:
            rows = conn.execute(
                "SELECT items.barcode, count(*) FROM loans JOIN items"
                " ON items.id = loans.item_id"
                " WHERE loans.returned_at IS NULL AND items.barcode LIKE 'KI%'"
                " GROUP BY items.barcode"
            ).fetchall()
        return dict(rows)


class Tally:
    """
    What the kiosks of one test were told, all together.

    @ivar acknowledged: C{(operation, item) -> count} of operations a kiosk
        was told succeeded.
    @ivar answered: Answers received, of every kind.
    @ivar refused: Requests refused that should not have been, as
        C{(kiosk, frame, answer)}.
    @ivar dropped: Requests in flight when a connection dropped.
    @ivar unavailable: Requests answered that the library system is not
        available (then sent again).
    @ivar reconnected: The kiosks that lost their connection and logged in
        again.
    """

    def __init__(self) -> None:
        self.acknowledged: Counter[tuple[str, str]] = Counter()
        self.answered = 0
        self.refused: list[tuple[int, str, str]] = []
        self.dropped = 0
        self.unavailable = 0
        self.reconnected: set[int] = set()
        self._waiting: list[tuple[int, Deferred[None]]] = []

    def answer(self) -> None:
        """
        Count one answer.
        """
        self.answered += 1
        for pair in list(self._waiting):
            if self.answered >= pair[0]:
                self._waiting.remove(pair)
                pair[1].callback(None)

    def reached(self, count: int) -> Deferred[None]:
        """
        A Deferred firing once C{count} answers have been received.
        """
        d: Deferred[None] = Deferred()
        if self.answered >= count:
            d.callback(None)
        else:
            self._waiting.append((count, d))
        return d


class Kiosk:
    """
    A kiosk connecting through HAProxy: it logs in, and when its
    connection drops it connects and logs in again and sends the request
    that was in flight once more.

    @ivar localPort: Its connection's source port (how the instances'
        status pages name it).
    """

    def __init__(self, number: int, port: int, tally: Tally) -> None:
        self.number = number
        self.port = port
        self.tally = tally
        self.client: SIP2ClientProtocol | None = None
        self.localPort = 0
        self.connections = 0

    async def connect(self) -> None:
        """
        Connect and log in, trying again (for up to L{DEADLINE} seconds)
        while HAProxy has nowhere to send it or the connection drops.
        """
        deadline = reactor.seconds() + DEADLINE
        while True:
            try:
                client = await connect(reactor, "127.0.0.1", self.port,
                                       timeout=ANSWER_TIMEOUT)
                exchange = await client.exchange(LOGIN_FRAME)
            except (ConnectionFailed, NoAnswer, ProtocolError, OSError) as e:
                if reactor.seconds() > deadline:
                    raise RuntimeError("kiosk %d could not log in: %s" % (self.number, e)) from e
                await deferLater(reactor, 0.2)
                continue
            if not exchange.received.startswith(b"941"):
                raise RuntimeError("kiosk %d: login refused: %r" % (self.number,
                                                                   exchange.received))
            self.client = client
            assert client.transport is not None
            self.localPort = client.transport.getHost().port  # type: ignore[attr-defined]
            self.connections += 1
            if self.connections > 1:
                self.tally.reconnected.add(self.number)
            return

    async def send(self, frame: str, expect: str, operation: str | None = None,
                   item: str | None = None) -> bytes:
        """
        Send C{frame} until it is answered (reconnecting when the
        connection drops); count it as acknowledged when the answer starts
        with C{expect}.

        A request sent again after a drop may find its first sending done
        (a checkout then answers that the patron has it already): only an
        answer to a request sent once must start with C{expect}.
        """
        again = False
        while True:
            if self.client is None:
                await self.connect()
            assert self.client is not None
            try:
                exchange = await self.client.exchange(frame)
            except (ConnectionFailed, NoAnswer, ProtocolError):
                self.tally.dropped += 1
                self.client = None
                again = True
                continue
            received: bytes = exchange.received
            self.tally.answer()
            if UNAVAILABLE in received and not received.startswith(expect.encode("ascii")):
                # The patron is told to try again, and does.
                self.tally.unavailable += 1
                await deferLater(reactor, 0.1)
                continue
            if received.startswith(expect.encode("ascii")):
                if operation is not None and item is not None:
                    self.tally.acknowledged[operation, item] += 1
            elif not again:
                self.tally.refused.append((self.number, frame, received.decode("ascii",
                                                                               "replace")))
            return received

    async def work(self, rounds: int) -> None:
        """
        Patron information, then C{rounds} checkouts and checkins of the
        kiosk's own item by its own patron.
        """
        patron, item = patronId(self.number), itemId(self.number)
        await self.send("63001%s          AO%s|AA%s|" % (DATE, INSTITUTION, patron), "64")
        for _ in range(rounds):
            await self.send("11NN%s%sAO%s|AA%s|AB%s|AC|" % (
                DATE, BLANK_DATE, INSTITUTION, patron, item), "121", "checkout", item)
            await self.send("09N%s%sAPMAIN|AO%s|AB%s|AC|" % (
                DATE, DATE, INSTITUTION, item), "101", "checkin", item)

    async def status(self) -> None:
        """
        An SC status (99).
        """
        await self.send("9900802.00", "98")

    def close(self) -> None:
        """
        Drop the connection, if there is one.
        """
        if self.client is not None:
            self.client.disconnect()


async def connectAll(fleet: Sequence[Kiosk], batch: int = 100) -> None:
    """
    Connect and log in every kiosk, C{batch} at a time.
    """
    for start in range(0, len(fleet), batch):
        await gatherResults([Deferred.fromCoroutine(k.connect())
                             for k in fleet[start:start + batch]])


class MultiInstanceTests(TestCase):
    """
    Two instances on one PostgreSQL behind HAProxy.
    """

    timeout = 600

    async def deployment(self, kiosks: int) -> Deployment:
        """
        A started L{Deployment} of two instances for C{kiosks} kiosks.
        """
        deployment = Deployment(self)
        await deployment.start(kiosks)
        return deployment

    def fleet(self, deployment: Deployment, tally: Tally, numbers: range) -> list[Kiosk]:
        """
        Kiosks numbered C{numbers} (not connected yet), disconnected when
        the test ends.
        """
        fleet = [Kiosk(n, deployment.port, tally) for n in numbers]

        def closeAll() -> None:
            for kiosk in fleet:
                kiosk.close()

        self.addCleanup(closeAll)
        return fleet

    async def test_killedInstance(self) -> None:
        """
        L{KIOSKS} kiosks log in through HAProxy and land on both
        instances. Each checks its own item out and in L{ROUNDS} times; a
        quarter of the way through, one instance is killed. Its kiosks
        reconnect through HAProxy to the other and carry on; every kiosk
        finishes and answers a last SC status. Every checkout and checkin a
        kiosk was told succeeded is in the transaction log, no more than
        one more (the request in flight at the kill) for any item, and every
        item ends returned.
        """
        deployment = await self.deployment(KIOSKS)
        tally = Tally()
        fleet = self.fleet(deployment, tally, range(KIOSKS))
        await connectAll(fleet)
        before = await deployment.connections()
        self.assertEqual(sum(before.values()), KIOSKS, before)
        self.assertTrue(all(before.values()), before)
        killed = deployment.instances[1]
        onKilled = await killed.kioskPorts()
        # The PROXY headers told each instance the kiosks' own ports.
        self.assertEqual(onKilled | await deployment.instances[0].kioskPorts(),
                         {k.localPort for k in fleet})
        kioskOnKilled = {k.number for k in fleet if k.localPort in onKilled}

        perKiosk = 1 + 2 * ROUNDS
        work = [Deferred.fromCoroutine(k.work(ROUNDS)) for k in fleet]
        await tally.reached(KIOSKS * perKiosk // 4)
        acknowledgedAtKill = sum(tally.acknowledged.values())
        await killed.process.signal("KILL")
        await gatherResults(work)
        await gatherResults([Deferred.fromCoroutine(k.status()) for k in fleet])
        assert deployment.haproxy is not None
        await deployment.haproxy.waitFor("sip2acs-raw", {killed.name: "DOWN"})
        after = await deployment.instances[0].kioskPorts()

        self.assertEqual(tally.refused, [])
        self.assertEqual(after, {k.localPort for k in fleet})
        journal = deployment.journal()
        lost = {key: (count, journal[key]) for key, count in tally.acknowledged.items()
                if journal[key] < count}
        extra = {key: (tally.acknowledged[key], count) for key, count in journal.items()
                 if count > tally.acknowledged[key] + 1}
        self.assertEqual(lost, {})
        self.assertEqual(extra, {})
        self.assertEqual(deployment.openLoans(), {})
        self.assertEqual(tally.reconnected, kioskOnKilled)
        acknowledged = sum(tally.acknowledged.values())
        print(
            "\nfailover: %d kiosks (%d and %d per instance); %d checkouts/checkins"
            " acknowledged (%d before the SIGKILL), %d requests in flight dropped,"
            " %d kiosks reconnected to the other instance, %d acknowledged operations"
            " lost; %d answers in all, %d of them 'not available' (sent again)"
            % (KIOSKS, before["acs1"], before["acs2"], acknowledged, acknowledgedAtKill,
               tally.dropped, len(tally.reconnected), len(lost), tally.answered,
               tally.unavailable)
        )
        # Conflicts between concurrent transactions are retried inside the
        # store (RETRY_BUDGET): a kiosk is never told "not available" for them.
        self.assertEqual(tally.unavailable, 0)

    async def test_drain(self) -> None:
        """
        SIGUSR1 drains an instance: its C{/ready} answers 503, HAProxy marks
        it down, every new kiosk lands on the other instance, and the
        kiosks already on the drained one are still served.
        """
        first, second = 100, 100
        deployment = await self.deployment(first + second)
        tally = Tally()
        fleet = self.fleet(deployment, tally, range(first))
        await connectAll(fleet)
        before = await deployment.connections()
        self.assertTrue(all(before.values()), before)
        drained = deployment.instances[1]
        onDrained = await drained.kioskPorts()

        drained.process.transport.signalProcess(signal.SIGUSR1)
        assert deployment.haproxy is not None
        await deployment.haproxy.waitFor("sip2acs-raw", {"acs1": "UP", drained.name: "DOWN"})
        status, body = await drained.get("/ready")
        self.assertEqual((status, body), (503, {"status": "draining"}))

        newcomers = self.fleet(deployment, tally, range(first, first + second))
        await connectAll(newcomers)
        after = await deployment.connections()
        self.assertEqual(after, {"acs1": before["acs1"] + second, drained.name: len(onDrained)})
        self.assertEqual({k.localPort for k in newcomers} & await drained.kioskPorts(), set())

        await gatherResults([Deferred.fromCoroutine(k.work(1)) for k in fleet + newcomers])
        self.assertEqual((tally.refused, tally.dropped, tally.reconnected), ([], 0, set()))
        self.assertEqual(await drained.kioskPorts(), onDrained)
        print(
            "\ndrain: before SIGUSR1 %s; after it and %d new kiosks %s; the %d kiosks"
            " on the drained instance all served (%d answers 'not available', sent again)"
            % (before, second, after, len(onDrained), tally.unavailable)
        )
        self.assertEqual(tally.unavailable, 0)


class ReferenceDeploymentTests(SynchronousTestCase):
    """
    The files of the reference deployment in C{etc/}.
    """

    def test_instanceConfigurations(self) -> None:
        """
        The example instance configurations load, each with one raw
        listener taking PROXY headers from the two HAProxy nodes, an admin
        listener and a PostgreSQL database, and they are the instances
        C{etc/haproxy.cfg} sends kiosks to and checks: the first two
        servers of its raw backend, at the listeners' addresses and ports,
        checked on the admin ports.
        """
        with open(TEMPLATE) as f:
            servers = re.findall(
                r"^\s*server\s+\S+\s+(\S+)\s.*\bport\s+(\d+)", f.read(), re.MULTILINE
            )
        for number, (address, checkPort) in zip((1, 2), servers[:2], strict=True):
            config = loadConfig(os.path.join(TOP, "etc", "instance-%d.toml" % (number,)))
            (listener,) = config.listeners
            assert listener.proxy is not None and listener.proxy.trusted is not None
            self.assertEqual([str(n) for n in listener.proxy.trusted.networks],
                             ["10.0.0.2/32", "10.0.0.3/32"])
            host, port = address.split(":")
            self.assertEqual(
                (listener.endpoint, config.admin.endpoint),
                ("tcp:%s:interface=%s" % (port, host),
                 "tcp:%s:interface=%s" % (checkPort, host)),
            )
            self.assertTrue(config.institutions["DEMO"].options["database"]
                            .startswith("postgresql://"))

    def test_haproxyConfigurationValid(self) -> None:
        """
        C{haproxy -c} accepts C{etc/haproxy.cfg}.
        """
        import subprocess

        executable = requireHAProxy()
        result = subprocess.run([executable, "-c", "-f", TEMPLATE], capture_output=True,
                                text=True, check=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_renderConfig(self) -> None:
        """
        The test configuration keeps the template's defaults and the
        frontends and backends named, on loopback, with a server line for
        each instance shaped like the template's first; a name the
        template lacks is an error.
        """
        with open(TEMPLATE) as f:
            template = f.read()
        config = renderConfig(
            template, {"sip2-raw": 7001},
            {"sip2acs-raw": [Server("acs1", 8001, 9001), Server("acs2", 8002, 9002)]},
            "/tmp/stats.sock",
        )
        self.assertIn("\n    bind 127.0.0.1:7001\n", config)
        self.assertIn("\n    server acs2 127.0.0.1:8002 send-proxy-v2 check port 9002"
                      " inter 200ms fall 2 rise 2\n", config)
        self.assertIn("\n    timeout client 30m\n", config)
        for absent in ("acs3", "sip2-tls", "chroot", "10.0.0."):
            self.assertNotIn(absent, config)
        with self.assertRaises(ValueError):
            renderConfig(template, {"sip2-telnet": 7001}, {}, "/tmp/stats.sock")
