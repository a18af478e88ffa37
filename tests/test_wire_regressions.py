"""
Regression tests for the wire-level defects of issue 9 (items 1, 11, 12,
13, 14, 17 and 18): a kiosk talking in memory (L{tests.memory}) to the
ACS and the embedded SQLite circulation system with the demo library.
"""

from datetime import datetime
from decimal import Decimal

from twisted.internet.defer import inlineCallbacks
from twisted.logger import eventAsJSON, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.acs.session import MAX_FEE_AMOUNT, feeAmount
from sip2acs.config import ConfigError, parseConfig
from sip2acs.sip import codec
from tests.fixtures import captureLogs, makeAccount, makeConfig, withChecksum
from tests.memory import demoInMemory

NOW = datetime(2025, 3, 14, 10, 15)
WHEN = b"20250101    120000"


class DemoLibraryTestCase(TestCase):
    """
    A kiosk logged in (with C{AY2}, as the issue's client does) to an ACS
    serving the demo library: Alice Able is C{P0001}, Jack Jones C{P0010},
    both with the PIN C{1234}.
    """

    timeout = 60
    accountSettings: dict = {}

    @inlineCallbacks
    def setUp(self):
        self.events = captureLogs(self)
        config = makeConfig(accounts=[makeAccount(**self.accountSettings)])
        self.ils, self.acs, self.client = yield demoInMemory(self, NOW, config, sequence=2)

    def logs(self):
        """
        Every log event so far, formatted and as JSON, as one text.
        """
        # Floats (log_time, durations) zeroed in the JSON: their digits may
        # hold a PIN's by chance.
        return "\n".join(
            formatEvent(event)
            + "\n"
            + eventAsJSON({k: 0.0 if isinstance(v, float) else v for k, v in event.items()})
            for event in self.events
        )


def patronInformation(patron, pin=b"1234", sequence=b"2"):
    """
    The issue's 63 for C{patron}, with C{AY<sequence>} and its checksum.
    """
    return withChecksum(
        b"63000" + WHEN + b"          AODEMO|AA" + patron + b"|AD" + pin
        + b"|AY" + sequence + b"AZ"
    )


class ReplayTests(DemoLibraryTestCase):
    """
    Item 1: only a byte-identical frame is a retransmission.
    """

    @inlineCallbacks
    def test_sameChecksumOtherPatronNotReplayed(self):
        """
        C{AAP0001} and C{AAP0010} have the same byte sum, so their 63s with
        the same sequence digit have the same checksum; the second is a new
        request all the same, answered with Jack Jones's record, not Alice
        Able's.
        """
        alice = patronInformation(b"P0001")
        jack = patronInformation(b"P0010")
        self.assertEqual(alice[-4:], jack[-4:])
        first = yield self.client.askLater(alice)
        self.assertEqual(first.message.personalName, "Alice Able")
        second = yield self.client.askLater(jack)
        self.assertEqual(second.message.patronIdentifier, "P0010")
        self.assertEqual(second.message.personalName, "Jack Jones")
        self.assertNotIn(b"Alice", self.client.data.split(b"\r")[-2])

    @inlineCallbacks
    def test_byteIdenticalRetransmissionReplayed(self):
        """
        The same frame again, byte for byte, is a retransmission: the
        previous answer is replayed as it was sent.
        """
        frame = patronInformation(b"P0001") + b"\r"
        first = yield self.client.exchangeLater(frame)
        again = yield self.client.exchangeLater(frame)
        self.assertEqual(again, first)
        self.assertIn("replaying the previous response", self.logs())


class PrintableRepliesTests(DemoLibraryTestCase):
    """
    Items 13 and 18: replies carry printable text only, whatever the
    request's fields held.
    """

    @inlineCallbacks
    def test_controlCharactersNotEchoed(self):
        """
        A 23 whose language (a fixed field echoed in the 24) holds NUL,
        ESC and DEL, and which carries an unknown field full of control
        characters, is answered with a 24 whose every byte is printable
        ASCII; the language comes back as blanks.
        """
        frame = withChecksum(
            b"23\x00\x1b\x7f" + WHEN + b"AODEMO|AAP0001|AC|AD1234|"
            b"ZZ\x00\x01\x02\x1b[2J\x7f|AY3AZ"
        )
        reply = yield self.client.exchangeLater(frame + b"\r")
        self.assertEqual(reply[:2], b"24")
        self.assertEqual(
            [byte for byte in reply if not 0x20 <= byte < 0x7F], [], reply
        )
        decoded = codec.decode(reply)
        self.assertEqual(decoded.message.language, "   ")
        self.assertEqual(decoded.message.personalName, "Alice Able")
        self.assertEqual(decoded.sequence, 3)


class DeployedClientTests(DemoLibraryTestCase):
    """
    Item 17: what deployed kiosks send is understood.
    """

    @inlineCallbacks
    def test_renewAllWithoutTransactionDate(self):
        """
        C{65AODEMO|AAP0001|AD1234|BON|}, a 65 without its transaction date
        as a widely copied client class sends it, renews Alice Able's
        loans instead of being refused as malformed.
        """
        reply = yield self.client.askLater(b"65AODEMO|AAP0001|AD1234|BON|")
        message = reply.message
        self.assertIsInstance(message, codec.RenewAllResponse)
        self.assertTrue(message.ok, message)
        self.assertIn("I0003", message.renewedItems)
        self.assertNotIn("Malformed request.", message.screenMessage)

    @inlineCallbacks
    def test_shortChecksum(self):
        """
        A 17 whose checksum is below C{0x1000} and sent without its leading
        zero is verified as the number it is and answered with the item and
        a correct four-digit checksum; a wrong short checksum gets a 96.
        """
        for size in range(2000):
            prefix = (
                b"17" + WHEN + b"AODEMO|ABI0001|XZ" + b"~" * size + b"|AY4AZ"
            )
            value = int(codec.checksum(prefix), 16)
            if value < 0x1000:
                break
        short = prefix + b"%X" % (value,)
        reply = yield self.client.exchangeLater(short + b"\r")
        self.assertRegex(reply, rb"\|AY4AZ[0-9A-F]{4}\Z")
        self.assertTrue(codec.checksumOk(reply))
        decoded = codec.decode(reply)
        self.assertEqual(decoded.message.itemIdentifier, "I0001")
        self.assertTrue(decoded.message.titleIdentifier)
        wrong = prefix + b"%X" % (value + 1,)
        self.assertEqual((yield self.client.exchangeLater(wrong + b"\r")), b"96AZFEF6")


PINS = ("97531", "97532", "97533", "97534", "97535", "97536")


class TraceMaskingMixin:
    """
    Item 11: with tracing on, PINs in frames that do not decode are masked
    like those of well-formed ones.
    """

    @inlineCallbacks
    def test_undecodableFramesMasked(self):
        """
        A 63 shorter than its fixed part, an unknown command, a 63 using
        C{^} instead of the account's C{|}, one whose PIN field is the last
        and lacks its delimiter, and a 23 with a fixed part one character
        short are traced (in and out) without their PIN.
        """
        frames = [
            b"63AD" + PINS[0].encode() + b"|",
            b"6XAD" + PINS[1].encode() + b"|AAP0001|",
            b"63000" + WHEN + b"          AODEMO^AAP0001^AD"
            + PINS[2].encode() + b"^",
            b"63000" + WHEN + b"          AODEMO|AAP0001|AD" + PINS[3].encode(),
            b"23000" + WHEN[:-1] + b"AD" + PINS[4].encode() + b"|AODEMO|AAP0001|",
            # The delimiter before AD lost: the PIN is in the patron id's
            # field, and echoed back in it.
            b"23000" + WHEN + b"AODEMO|AAP0001AD" + PINS[5].encode() + b"|",
        ]
        for frame in frames:
            yield self.client.exchangeLater(frame + b"\r")
        logs = self.logs()
        self.assertIn("trace kiosk@127.0.0.1 in 63AD***|", logs)
        self.assertIn("trace kiosk@127.0.0.1 in 6XAD***|AAP0001|", logs)
        for pin in PINS[:5]:
            self.assertNotIn(pin, logs)
        # In what the kiosk sent. (The answer echoes the patron id as the
        # kiosk sent it, with the PIN it put there.)
        sent = [line for line in logs.splitlines() if " in 23" in line]
        self.assertIn("AAP0001AD***|", sent[-1])
        self.assertNotIn(PINS[5], sent[-1])


class RedactedTraceTests(TraceMaskingMixin, DemoLibraryTestCase):
    accountSettings = dict(trace="redacted")


class FullTraceTests(TraceMaskingMixin, DemoLibraryTestCase):
    accountSettings = dict(trace="full")


def patronFieldIds(reply):
    """
    The ids of the identified fields of a 64 (its fixed part is 61 bytes).
    """
    return {segment[:2] for segment in reply[61:].split(b"|") if segment}


class WrongPinTests(DemoLibraryTestCase):
    """
    Item 12: a 63 with a wrong PIN gets a 64 without personal data.
    """

    @inlineCallbacks
    def test_wrongPinNoPersonalData(self):
        """
        Alice Able's 63 with a wrong PIN, asking for her charged items, gets
        a 64 with her status, C{BL Y}, C{CQ N}, an empty C{AE} and the
        counts blank: no name, address, e-mail, phone, birth date, amount
        or item list.
        """
        frame = b"63000" + WHEN + b"  Y       AODEMO|AAP0001|AD9999|"
        reply = yield self.client.exchangeLater(frame + b"\r")
        message = codec.decode(reply).message
        self.assertEqual((message.validPatron, message.validPatronPassword), (True, False))
        self.assertEqual(message.personalName, "")
        self.assertEqual(message.patronStatus, " " * 14)
        self.assertIsNone(message.chargedItemsCount)
        self.assertEqual(
            patronFieldIds(reply) & {b"AE", b"BD", b"BE", b"BF", b"PB", b"AU", b"BV"},
            {b"AE"},
        )
        for personal in [b"Alice", b"alice@", b"555-", b"I0003"]:
            self.assertNotIn(personal, reply)

    @inlineCallbacks
    def test_rightOrNoPin(self):
        """
        With the right PIN, or with no PIN at all, the 64 carries the
        patron's name and item list as before.
        """
        for pin in [b"AD1234|", b""]:
            frame = b"63000" + WHEN + b"  Y       AODEMO|AAP0001|" + pin
            reply = yield self.client.exchangeLater(frame + b"\r")
            message = codec.decode(reply).message
            self.assertEqual(message.personalName, "Alice Able")
            self.assertIn("I0003", message.chargedItems)


class WrongPinAllowedTests(DemoLibraryTestCase):
    """
    Item 12: C{personal-data-on-wrong-pin = true} keeps the full answer.
    """

    accountSettings = dict(personalDataOnWrongPin=True)

    @inlineCallbacks
    def test_wrongPinPersonalDataAllowed(self):
        """
        For an account that allows it, a wrong PIN's 64 carries the name,
        e-mail and item list, with C{CQ N}.
        """
        frame = b"63000" + WHEN + b"  Y       AODEMO|AAP0001|AD9999|"
        message = (yield self.client.askLater(frame)).message
        self.assertEqual(message.validPatronPassword, False)
        self.assertEqual(message.personalName, "Alice Able")
        self.assertEqual(message.emailAddress, "alice@example.org")
        self.assertIn("I0003", message.chargedItems)


class WrongPinSettingTests(SynchronousTestCase):
    """
    The account setting C{personal-data-on-wrong-pin}.
    """

    def config(self, **account):
        account.update(login="sc1", password=makeAccount().passwordHash, institution="LIB")
        return parseConfig(
            {
                "listener": [{"endpoint": "tcp:0:interface=127.0.0.1"}],
                "institution": [{"id": "LIB", "database": "x.sqlite3"}],
                "account": [account],
            }
        )

    def test_setting(self) -> None:
        """
        It is off by default, C{true} turns it on, and a value that is not a
        boolean is a configuration error naming the key.
        """
        self.assertIs(self.config().accounts["sc1"].personalDataOnWrongPin, False)
        config = self.config(**{"personal-data-on-wrong-pin": True})
        self.assertIs(config.accounts["sc1"].personalDataOnWrongPin, True)
        error = self.assertRaises(
            ConfigError, self.config, **{"personal-data-on-wrong-pin": "yes"}
        )
        self.assertIn("personal-data-on-wrong-pin", str(error))


BAD_AMOUNTS = [
    "1E+999999",
    "9" * 40,
    "NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "-1.00",
    "1.005",
    "10000000.00",
    "",
    "one",
]


class FeeAmountTests(DemoLibraryTestCase):
    """
    Item 14: absurd fee amounts are refused as invalid, before the
    circulation system.
    """

    def feePaid(self, amount):
        return (
            b"37" + WHEN + b"0400USDBV" + amount.encode() + b"|AODEMO|AAP0001|"
        )

    @inlineCallbacks
    def test_invalidAmounts(self):
        """
        A 37 paying C{1E+999999}, forty nines, NaN, Infinity, a negative
        amount, more than two decimals or more than 9,999,999.99 gets a 38
        with payment accepted N and "The amount is not valid.", logs no
        failure, and leaves Alice Able's fees as they were (2.50); a valid
        amount is then taken.
        """
        for amount in BAD_AMOUNTS:
            message = (yield self.client.askLater(self.feePaid(amount))).message
            self.assertIsInstance(message, codec.FeePaidResponse, amount)
            self.assertIs(message.paymentAccepted, False, amount)
            self.assertEqual(message.screenMessage, ("The amount is not valid.",), amount)
        status = yield self.client.askLater(
            b"23000" + WHEN + b"AODEMO|AAP0001|AC|AD1234|"
        )
        self.assertEqual(status.message.feeAmount, "2.50")
        self.assertEqual([e for e in self.events if "log_failure" in e], [])
        self.assertNotIn("critical", [str(e.get("log_level")) for e in self.events])
        paid = (yield self.client.askLater(self.feePaid("1.00"))).message
        self.assertIs(paid.paymentAccepted, True, paid)


class FeeAmountParsingTests(SynchronousTestCase):
    """
    L{sip2acs.acs.session.feeAmount}.
    """

    def test_amounts(self) -> None:
        """
        Plain amounts of at most two decimals up to 9,999,999.99 are read
        exactly; everything else is L{None}.
        """
        for text, value in [
            ("1.00", Decimal("1.00")),
            (" 2.5 ", Decimal("2.5")),
            ("0", Decimal("0")),
            ("3.100", Decimal("3.1")),
            ("9999999.99", MAX_FEE_AMOUNT),
        ]:
            self.assertEqual(feeAmount(text), value, text)
        for text in BAD_AMOUNTS:
            self.assertIsNone(feeAmount(text), text)
