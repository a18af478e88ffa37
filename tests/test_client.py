# -*- test-case-name: tests.test_client -*-
"""
Tests for L{sip2acs.tools.client} (the C{sip2acs client} troubleshooting tool)
and L{sip2acs.sip.codes}.

The request builder, the tables, the option parsing and the shell's
parsing and completion are tested directly. L{SIP2Connection} is tested
over a L{socket.socketpair}, the test writing the server's side. The
whole command runs in a thread (L{deferToThread}) against a real sip2acs
on 127.0.0.1 (L{tests.loopback.LoopbackServer}), against small scripted
telnet and silent servers, and over TLS with certificates minted for the
test.
"""

import io
import json
import socket
from datetime import datetime

import attrs
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    trustRootFromCertificates,
)
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from sip2acs.sip import codec, codes
from sip2acs.tools import client
from sip2acs.tools.cli import makeParser as makeCommandParser
from sip2acs.tools.client import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    REQUESTS,
    ClientCommand,
    ClientShell,
    ConnectionFailed,
    LoginRefused,
    NoAnswer,
    ProtocolError,
    RequestOptions,
    SIP2Connection,
    TelnetFilter,
    UsageError,
    buildRequest,
    completeOption,
    completeRequest,
    describe,
    formatTable,
    maskFrame,
    parseShellLine,
    responseOk,
    withPositional,
)
from tests.certs import CertificateAuthority, certificatePEM, keyPEM
from tests.loopback import (
    ADA,
    ADA_LOAN,
    ADA_PIN,
    FREE_ITEM,
    INSTITUTION,
    LOGIN,
    OTHER_ITEM,
    PASSWORD,
    WHEN,
    LoopbackServer,
    makeAccount,
    makeConfig,
    withChecksum,
)

NOW = datetime(2025, 3, 14, 10, 15)
LOGIN_REQUEST = codec.Login(
    uidAlgorithm="0", pwdAlgorithm="0", loginUserId="a", loginPassword="b"
)
W = WHEN.encode("ascii")
BLANK_DATE = b" " * 18
TIMEOUT = "5"


def options(**kwargs):
    """
    Request options of the C{DEMO} institution.
    """
    kwargs.setdefault("institution", INSTITUTION)
    return RequestOptions(**kwargs)


def build(name, value=None, **kwargs):
    """
    The bytes of request C{name} built at L{NOW}, without error detection.
    """
    request = buildRequest(name, withPositional(name, options(**kwargs), value), NOW)
    if isinstance(request, str):
        return request.encode("ascii")
    return codec.encode(request)


def parseArgs(*argv):
    """
    Parse a C{sip2acs client} command line.
    """
    return client.makeParser(io.StringIO()).parse_intermixed_args(list(argv))


def noSecrets(prompt):
    """
    An C{askSecret} that fails the test: nothing should be asked.
    """
    raise AssertionError("unexpected prompt %r" % (prompt,))


@attrs.frozen
class Result:
    """
    What a run of C{sip2acs client} did.
    """

    status: int
    out: str
    err: str

    def json(self):
        """
        The JSON objects printed, one per line.
        """
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def runClient(argv, environ=None, askSecret=noSecrets, stdin=None):
    """
    Run C{sip2acs client argv} in a thread, so that the reactor keeps
    serving the test's servers.

    @return: A Deferred firing with a L{Result}.
    """
    out, err = io.StringIO(), io.StringIO()
    if environ is None:
        environ = {"SIP2ACS_PASSWORD": PASSWORD}
    d = deferToThread(
        client.main,
        list(argv),
        out=out,
        err=err,
        environ=environ,
        askSecret=askSecret,
        stdin=stdin,
    )
    return d.addCallback(lambda status: Result(status, out.getvalue(), err.getvalue()))


# -- codes ------------------------------------------------------------------


class CodesTests(SynchronousTestCase):
    """
    Tests for the code tables of L{sip2acs.sip.codes}.
    """

    def test_tablesComplete(self):
        """
        The tables have every code of the spec's section 4.
        """
        self.assertEqual(
            sorted(codes.CIRCULATION_STATUS), ["%02d" % n for n in range(1, 14)]
        )
        self.assertEqual(sorted(codes.FEE_TYPE), ["%02d" % n for n in range(1, 10)])
        self.assertEqual(sorted(codes.MEDIA_TYPE), ["%03d" % n for n in range(11)])
        self.assertEqual(sorted(codes.LANGUAGE), ["%03d" % n for n in range(28)])
        self.assertEqual(len(codes.PATRON_STATUS), 14)
        self.assertEqual(len(codes.SUPPORTED_MESSAGES), 16)
        self.assertEqual(
            [fid for _, _, fid in codes.SUMMARY], ["AS", "AT", "AU", "AV", "BU", "CD"]
        )

    def test_tablesFollowSpec(self):
        """
        The positional tables follow L{sip2acs.sip.spec}'s order: patron
        status flags, C{BX} message pairs and summary fields.
        """
        from sip2acs.sip import spec

        self.assertEqual(
            [name.replace(" ", "") for name in codes.PATRON_STATUS],
            [name.lower() for name in spec.PATRON_STATUS_FLAGS],
        )
        self.assertEqual(
            [name[:2] for name in codes.SUPPORTED_MESSAGES],
            list(spec.SUPPORTED_MESSAGES),
        )
        self.assertEqual(tuple(fid for _, _, fid in codes.SUMMARY), spec.SUMMARY_FIELDS)

    def test_flagsSet(self):
        """
        L{codes.flagsSet} names the positions holding C{Y}.
        """
        self.assertEqual(
            codes.flagsSet("Y   Y         ", codes.PATRON_STATUS),
            ["charge privileges denied", "card reported lost"],
        )
        self.assertEqual(codes.flagsSet(" " * 14, codes.PATRON_STATUS), [])

    def test_supportedMessages(self):
        """
        L{codes.supportedMessages} splits C{BX}; missing positions are
        unsupported.
        """
        supported, unsupported = codes.supportedMessages("YYYYYYYYYNYNNNYN")
        self.assertEqual(len(supported), 11)
        self.assertEqual(
            unsupported,
            [
                "37/38 fee paid",
                "19/20 item status update",
                "25/26 patron enable",
                "15/16 hold",
                "65/66 renew all",
            ],
        )
        self.assertEqual(len(codes.supportedMessages("YY")[1]), 14)

    def test_codeFor(self):
        """
        L{codes.codeFor} finds a code by code, short code, meaning or
        unambiguous prefix of a meaning.
        """
        self.assertEqual(codes.codeFor(codes.FEE_TYPE, "04"), "04")
        self.assertEqual(codes.codeFor(codes.FEE_TYPE, "4"), "04")
        self.assertEqual(codes.codeFor(codes.FEE_TYPE, "Overdue"), "04")
        self.assertEqual(codes.codeFor(codes.PAYMENT_TYPE, "credit-card"), "02")
        self.assertEqual(codes.codeFor(codes.FEE_TYPE, "rep"), "07")
        self.assertIsNone(codes.codeFor(codes.FEE_TYPE, "r"))
        self.assertIsNone(codes.codeFor(codes.FEE_TYPE, "nothing"))
        self.assertIsNone(codes.codeFor(codes.FEE_TYPE, ""))


# -- requests -----------------------------------------------------------------


class BuildRequestTests(SynchronousTestCase):
    """
    Tests for L{buildRequest}: the bytes of each named request.
    """

    def test_login(self):
        """
        C{login} is a 93 with plain-text algorithms, the user, the password
        and the location.
        """
        self.assertEqual(
            build("login", login=LOGIN, password=PASSWORD), b"9300CNkiosk|COsecret|"
        )
        self.assertEqual(
            build("login", login=LOGIN, password=PASSWORD, location="MAIN"),
            b"9300CNkiosk|COsecret|CPMAIN|",
        )

    def test_status(self):
        """
        C{status} is a 99: status 0, print width 80, version 2.00 unless
        told otherwise.
        """
        self.assertEqual(build("status"), b"9900802.00")
        self.assertEqual(build("status", scStatus="1", printWidth=40), b"9910402.00")

    def test_patronStatus(self):
        """
        C{patron-status} is a 23 with the required AC and AD (empty when
        not given).
        """
        self.assertEqual(
            build("patron-status", ADA), b"23000" + W + b"AODEMO|AAP1001|AC|AD|"
        )
        self.assertEqual(
            build("patron-status", ADA, pin=ADA_PIN, language="001"),
            b"23001" + W + b"AODEMO|AAP1001|AC|AD7319|",
        )

    def test_patronInfo(self):
        """
        C{patron-info} is a 63 whose summary has a C{Y} at the position of
        the list asked for, with the C{BP}/C{BQ} window.
        """
        self.assertEqual(
            build("patron-info", ADA), b"63000" + W + b" " * 10 + b"AODEMO|AAP1001|"
        )
        self.assertEqual(
            build("patron-info", ADA, summary="charged", start=1, end=5),
            b"63000" + W + b"  Y       " + b"AODEMO|AAP1001|BP1|BQ5|",
        )
        self.assertEqual(
            build("patron-info", ADA, summary="unavailable")[23:33], b"     Y    "
        )

    def test_itemInfo(self):
        """
        C{item-info} is a 17.
        """
        self.assertEqual(build("item-info", FREE_ITEM), b"17" + W + b"AODEMO|ABB2001|")

    def test_itemUpdate(self):
        """
        C{item-update} is a 19 with the item properties.
        """
        self.assertEqual(
            build("item-update", FREE_ITEM, properties="blue"),
            b"19" + W + b"AODEMO|ABB2001|CHblue|",
        )

    def test_checkout(self):
        """
        C{checkout} is an 11: N flags, blank no-block due date, the
        required AC; C{--fee-ack} and C{--sc-renewal} set BO and the
        renewal policy.
        """
        self.assertEqual(
            build("checkout", FREE_ITEM, patron=ADA),
            b"11NN" + W + BLANK_DATE + b"AODEMO|AAP1001|ABB2001|AC|",
        )
        self.assertEqual(
            build(
                "checkout",
                FREE_ITEM,
                patron=ADA,
                pin=ADA_PIN,
                feeAck=True,
                scRenewal=True,
                noBlock=True,
                dueDate=datetime(2025, 3, 28),
            ),
            b"11YY"
            + W
            + b"20250328    000000"
            + b"AODEMO|AAP1001|ABB2001|AC|AD7319|BOY|",
        )

    def test_checkin(self):
        """
        C{checkin} is a 09 returned now, at the current location (the
        location by default).
        """
        self.assertEqual(
            build("checkin", FREE_ITEM), b"09N" + W + W + b"AP|AODEMO|ABB2001|AC|"
        )
        self.assertEqual(
            build("checkin", FREE_ITEM, location="MAIN")[39:],
            b"APMAIN|AODEMO|ABB2001|AC|",
        )
        self.assertEqual(
            build(
                "checkin",
                FREE_ITEM,
                location="MAIN",
                currentLocation="EAST",
                returnDate=datetime(2025, 3, 13, 9, 0),
            )[21:],
            b"20250313    090000APEAST|AODEMO|ABB2001|AC|",
        )

    def test_renew(self):
        """
        C{renew} is a 29 for an item or a title.
        """
        self.assertEqual(
            build("renew", ADA_LOAN, patron=ADA),
            b"29NN" + W + BLANK_DATE + b"AODEMO|AAP1001|ABB2003|",
        )
        self.assertEqual(
            build("renew", patron=ADA, title="Lantern Stories", thirdParty=True)[:4],
            b"29YN",
        )
        self.assertRaises(UsageError, build, "renew", patron=ADA)

    def test_renewAll(self):
        """
        C{renew-all} is a 65.
        """
        self.assertEqual(build("renew-all", ADA), b"65" + W + b"AODEMO|AAP1001|")

    def test_feePaid(self):
        """
        C{fee-paid} is a 37 with fee type, payment type and currency in the
        fixed part and the amount in C{BV}.
        """
        self.assertEqual(
            build(
                "fee-paid",
                "2.50",
                patron=ADA,
                feeType="04",
                paymentType="01",
                currency="EUR",
                feeId="F1",
                transactionId="T9",
            ),
            b"37" + W + b"0401EUR" + b"BV2.50|AODEMO|AAP1001|CGF1|BKT9|",
        )
        self.assertEqual(build("fee-paid", "1", patron=ADA)[20:27], b"0100USD")

    def test_hold(self):
        """
        C{hold} is a 15 with the hold mode, type and pickup location.
        """
        self.assertEqual(
            build("hold", OTHER_ITEM, patron=ADA, holdType="2", pickup="EAST"),
            b"15+" + W + b"BSEAST|BY2|AODEMO|AAP1001|ABB2002|",
        )
        self.assertEqual(
            build(
                "hold", patron=ADA, title="T", holdMode="-", expiry=datetime(2025, 4, 1)
            ),
            b"15-" + W + b"BW20250401    000000|AODEMO|AAP1001|AJT|",
        )
        self.assertRaises(UsageError, build, "hold", patron=ADA)

    def test_blockPatron(self):
        """
        C{block-patron} is a 01 with the reason in C{AL}.
        """
        self.assertEqual(
            build("block-patron", ADA, reason="lost card", cardRetained=True),
            b"01Y" + W + b"AODEMO|ALlost card|AAP1001|AC|",
        )

    def test_patronEnableAndEndSession(self):
        """
        C{patron-enable} is a 25 and C{end-session} a 35.
        """
        self.assertEqual(build("patron-enable", ADA), b"25" + W + b"AODEMO|AAP1001|")
        self.assertEqual(
            build("end-session", ADA, pin=ADA_PIN),
            b"35" + W + b"AODEMO|AAP1001|AD7319|",
        )

    def test_resendAndRaw(self):
        """
        C{resend} is a bare 97; C{raw} is the text given, which must start
        with a SIP2 command identifier.
        """
        self.assertEqual(build("resend"), b"97")
        self.assertEqual(build("raw", "9900802.00"), b"9900802.00")
        self.assertRaises(UsageError, build, "raw", "hello")
        self.assertRaises(UsageError, build, "raw")

    def test_missingValues(self):
        """
        A request without the patron or item it needs is a usage error
        naming the options.
        """
        error = self.assertRaises(UsageError, build, "checkout")
        self.assertEqual(str(error), "checkout needs --patron and --item")
        self.assertRaises(UsageError, build, "item-info")
        self.assertRaises(UsageError, build, "fee-paid", patron=ADA)
        self.assertRaises(UsageError, build, "login")
        self.assertRaises(UsageError, build, "nothing")

    def test_positional(self):
        """
        L{withPositional} puts a positional argument where the request
        wants it; a request without one refuses it.
        """
        base = options()
        self.assertEqual(withPositional("checkout", base, "B1").item, "B1")
        self.assertEqual(withPositional("patron-info", base, "P1").patron, "P1")
        self.assertEqual(withPositional("fee-paid", base, "1.00").amount, "1.00")
        self.assertEqual(withPositional("raw", base, "99").message, "99")
        self.assertIs(withPositional("status", base, None), base)
        self.assertRaises(UsageError, withPositional, "status", base, "x")

    def test_everyRequestHasACode(self):
        """
        Every named request but C{raw} is a SIP2 request whose answer is
        known.
        """
        from sip2acs.sip.spec import RESPONSE_TO

        for kind in REQUESTS.values():
            if kind.name != "raw":
                self.assertIn(kind.code, RESPONSE_TO)

    def test_secretsNotInRepr(self):
        """
        L{RequestOptions} does not show the password, PIN or terminal
        password in its C{repr}.
        """
        text = repr(RequestOptions(password="pw1", pin="4321", terminalPassword="tp"))
        self.assertNotIn("pw1", text)
        self.assertNotIn("4321", text)
        self.assertNotIn("tp'", text)


class CommandLineTests(SynchronousTestCase):
    """
    Tests for the command-line options of C{sip2acs client} and its usage
    errors.
    """

    def test_requestOptions(self):
        """
        Options become L{RequestOptions}; codes may be given by name and
        options not given keep their defaults.
        """
        args = parseArgs(
            "fee-paid",
            "2.00",
            "--patron",
            ADA,
            "--fee-type",
            "overdue",
            "--payment-type",
            "credit card",
            "--currency",
            "eur",
        )
        o = RequestOptions.fromNamespace(args)
        self.assertEqual(
            (o.patron, o.feeType, o.paymentType, o.currency), (ADA, "04", "02", "EUR")
        )
        self.assertEqual((o.language, o.holdMode, o.institution), ("000", "+", ""))
        self.assertEqual((args.request, args.value), ("fee-paid", "2.00"))

    def test_otherTypes(self):
        """
        Hold modes and types, languages, payment types and dates accept
        their usual spellings.
        """
        o = RequestOptions.fromNamespace(
            parseArgs(
                "hold",
                "--hold-mode",
                "cancel",
                "--hold-type",
                "title",
                "--language",
                "french",
                "--payment-type",
                "06",
                "--expiry",
                "2025-04-01T12:30",
                "--due-date",
                "20250402    101500",
            )
        )
        self.assertEqual(
            (o.holdMode, o.holdType, o.language, o.paymentType), ("-", "2", "002", "06")
        )
        self.assertEqual(o.expiry, datetime(2025, 4, 1, 12, 30))
        self.assertEqual(o.dueDate, datetime(2025, 4, 2, 10, 15))

    def test_optionsAnywhere(self):
        """
        Options may come before or after the request and its argument.
        """
        args = parseArgs("--raw", "item-info", "--json", FREE_ITEM, "--port", "7000")
        self.assertEqual(
            (args.request, args.value, args.port), ("item-info", FREE_ITEM, 7000)
        )
        self.assertTrue(args.showRaw and args.json)

    def runMain(self, *argv, **kwargs):
        out, err = io.StringIO(), io.StringIO()
        status = client.main(
            list(argv),
            out=out,
            err=err,
            environ={},
            askSecret=kwargs.get("askSecret", noSecrets),
        )
        return Result(status, out.getvalue(), err.getvalue())

    def test_usageErrors(self):
        """
        Usage errors exit with status 3 before connecting, with the
        problem on standard error.
        """
        for argv, text in [
            (["--bogus"], "unrecognized arguments"),
            ([], "name a request"),
            (["nothing"], "invalid choice"),
            (["checkout", "--patron", ADA], "checkout needs --item"),
            (["status", "extra"], "takes no argument"),
            (["--telnet", "status"], "needs --login"),
            (["--ca", "x.pem", "--transport", "raw", "status"], "--tls"),
            (["--private-key", "k.pem", "--tls", "status"], "needs --certificate"),
            (["--sequence", "10", "status"], "--sequence"),
            (["--fee-type", "free", "status"], "not a fee type"),
            (["--due-date", "tomorrow", "status"], "not a date"),
            (["-i", "status"], "no request"),
        ]:
            result = self.runMain(*argv)
            self.assertEqual(result.status, EXIT_USAGE, argv)
            self.assertIn(text, result.err, argv)
            self.assertEqual(result.out, "")

    def test_missingTLSFile(self):
        """
        A CA file that cannot be read is a usage error.
        """
        result = self.runMain("--ca", self.mktemp(), "status")
        self.assertEqual(result.status, EXIT_USAGE)
        self.assertIn("cannot load the TLS files", result.err)

    def test_noPasswordNoTerminal(self):
        """
        Without C{--password}, C{SIP2ACS_PASSWORD} or a terminal to ask
        on, C{--login} is a usage error.
        """

        def ask(prompt):
            raise UsageError("Password for kiosk not given and no terminal")

        result = self.runMain("--login", LOGIN, "status", askSecret=ask)
        self.assertEqual(result.status, EXIT_USAGE)
        self.assertIn("no terminal", result.err)

    def test_help(self):
        """
        C{--help} prints the requests, the exit statuses and examples, and
        exits with status 0.
        """
        result = self.runMain("--help")
        self.assertEqual(result.status, EXIT_OK)
        for text in [
            "exit status:",
            "3  usage error",
            "patron-info",
            "SIP2ACS_PASSWORD",
            "--insecure",
            "shell",
        ]:
            self.assertIn(text, result.out)

    def test_registered(self):
        """
        C{sip2acs client ...} hands everything after C{client} to the
        client's own parser, options included.
        """
        args = makeCommandParser().parse_args(
            ["client", "--host", "h", "status", "--json", "-h"]
        )
        self.assertEqual(args.argv, ["--host", "h", "status", "--json", "-h"])
        self.assertIs(args.func, client._run)


# -- describing messages ------------------------------------------------------


def meanings(rows):
    """
    C{{name: (value, meaning)}} of table rows (the first of repeated ones).
    """
    result = {}
    for row in rows:
        result.setdefault(row.name, (row.value, row.meaning))
    return result


class DescribeTests(SynchronousTestCase):
    """
    Tests for L{describe}, L{maskFrame}, L{formatTable} and L{responseOk}.
    """

    def describeFrame(self, frame, **kwargs):
        decoded = codec.decode(frame)
        return describe(decoded.message, frame, **kwargs)

    def test_itemInformation(self):
        """
        The codes of an 18 are explained: circulation status, security
        marker, fee type, media type; dates are read.
        """
        rows = meanings(
            self.describeFrame(
                b"18080204" + W + b"CF2|AH20250320    235900|ABB2001|AJT|CK005|"
            )
        )
        self.assertEqual(rows["circulationStatus"], ("08", "waiting on hold shelf"))
        self.assertEqual(
            rows["securityMarker"], ("02", "3M Tattle-Tape security strip")
        )
        self.assertEqual(rows["feeType"], ("04", "overdue"))
        self.assertEqual(rows["mediaType"], ("005", "video tape"))
        self.assertEqual(
            rows["transactionDate"], (WHEN, "2025-03-14 10:15:00 (local time)")
        )
        self.assertEqual(rows["dueDate"][1], "2025-03-20 23:59:00 (local time)")
        self.assertEqual(rows["holdQueueLength"], ("2", ""))

    def test_everyCirculationStatus(self):
        """
        Every circulation status code is explained; an undefined one says
        so.
        """
        for code, meaning in codes.CIRCULATION_STATUS.items():
            frame = b"18" + code.encode() + b"0101" + W + b"ABx|AJ|"
            self.assertEqual(
                meanings(self.describeFrame(frame))["circulationStatus"],
                (code, meaning),
            )
        frame = b"18990101" + W + b"ABx|AJ|"
        self.assertEqual(
            meanings(self.describeFrame(frame))["circulationStatus"][1],
            "undefined code",
        )

    def test_patronStatus(self):
        """
        The patron status flags set are named; 14 blanks mean no
        restrictions; the language, C{BL} and C{CQ} are explained.
        """
        rows = meanings(
            self.describeFrame(
                b"24  Y Y         001" + W + b"AODEMO|AAP1|AEName|BLY|CQN|"
            )
        )
        self.assertEqual(
            rows["patronStatus"][1], "recall privileges denied; card reported lost"
        )
        self.assertEqual(rows["language"], ("001", "English"))
        self.assertEqual(rows["validPatron"], ("Y", "patron known"))
        self.assertEqual(rows["validPatronPassword"], ("N", "PIN wrong"))
        rows = meanings(
            self.describeFrame(b"24" + b" " * 14 + b"000" + W + b"AO|AA|AE|")
        )
        self.assertEqual(rows["patronStatus"], (" " * 14, "no restrictions"))
        self.assertEqual(rows["personalName"], ("", ""))

    def test_allPatronStatusFlags(self):
        """
        Each of the 14 positions has its own name.
        """
        for position, name in enumerate(codes.PATRON_STATUS):
            flags = (" " * position + "Y").ljust(14).encode()
            rows = meanings(
                self.describeFrame(b"26" + flags + b"000" + W + b"AO|AA|AE|")
            )
            self.assertEqual(rows["patronStatus"][1], name)

    def test_acsStatus(self):
        """
        The 98 flags, timeout, retries and C{BX} are explained.
        """
        rows = meanings(
            self.describeFrame(
                b"98YYNYNN600999" + W + b"2.00AODEMO|BXYYYYYYYYYNYNNNYN|"
            )
        )
        self.assertEqual(rows["onlineStatus"], ("Y", "ACS in service"))
        self.assertEqual(rows["checkoutOk"], ("N", "SC may not check out"))
        self.assertEqual(rows["offlineOk"][1], "no off-line transactions")
        self.assertEqual(rows["timeoutPeriod"], ("600", "60 seconds"))
        self.assertEqual(rows["retriesAllowed"], ("999", "unknown"))
        self.assertEqual(
            rows["supportedMessages"][1],
            "not supported: 37/38 fee paid, 19/20 item status update,"
            " 25/26 patron enable, 15/16 hold, 65/66 renew all",
        )
        rows = meanings(
            self.describeFrame(
                b"98NNNNNN000003" + W + b"2.00AODEMO|BXYYYYYYYYYYYYYYYY|"
            )
        )
        self.assertEqual(rows["supportedMessages"][1], "all 16 supported")
        self.assertEqual(rows["timeoutPeriod"][1], "ACS off line")
        self.assertEqual(rows["onlineStatus"][1], "ACS off line")

    def test_checkinAlert(self):
        """
        A 10's alert and alert type are explained; extension fields are
        named.
        """
        rows = meanings(
            self.describeFrame(b"101YNY" + W + b"AODEMO|ABB1|AQMAIN|CTEAST|CV02|CYP9|")
        )
        self.assertEqual(rows["alert"][1], "alert: divert the item or sound an alarm")
        self.assertEqual(rows["alertType"], ("02", "hold for another branch"))
        self.assertEqual(rows["destinationLocation"], ("EAST", ""))
        self.assertEqual(rows["magneticMedia"], ("N", "not magnetic media"))

    def test_summaryAndCounts(self):
        """
        A 63's summary names the list asked for; blank counts in a 64 are
        "not supported".
        """
        rows = meanings(self.describeFrame(b"63001" + W + b"  Y       AODEMO|AAP1|"))
        self.assertEqual(rows["summary"][1], "charged items (AU)")
        rows = meanings(
            self.describeFrame(
                b"64" + b" " * 14 + b"000" + W + b"0001" + b"    " * 5 + b"AO|AA|AE|"
            )
        )
        self.assertEqual(rows["holdItemsCount"], ("0001", ""))
        self.assertEqual(rows["unavailableHoldsCount"], ("    ", "not supported"))

    def test_trailerAndUnknownFields(self):
        """
        With a frame, fields appear as received, unknown ones included,
        and the C{AY}/C{AZ} trailer gets rows.
        """
        frame = withChecksum(b"941AY3AZ")
        rows = self.describeFrame(frame)
        self.assertEqual(
            [(r.fid, r.value) for r in rows],
            [("", "1"), ("AY", "3"), ("AZ", frame[-4:].decode())],
        )
        rows = self.describeFrame(b"36Y" + W + b"XIabc|AO|AAP1|ZQz|")
        self.assertEqual([r.fid for r in rows], ["", "", "XI", "AO", "AA", "ZQ"])
        self.assertEqual(rows[2].label, "patron internal id (Evergreen)")
        self.assertEqual(rows[5].label, "unknown field")

    def test_withoutFrame(self):
        """
        Without a frame, the table is built from the message's values.
        """
        message = codec.CheckoutResponse(
            ok=True,
            renewalOk=False,
            magneticMedia=None,
            desensitize=True,
            transactionDate=NOW,
            institutionId="DEMO",
            patronIdentifier="P1",
            itemIdentifier="B1",
            titleIdentifier="T",
            dueDate="2025-03-28",
            feeType="06",
            validPatron=True,
        )
        rows = meanings(describe(message))
        self.assertEqual(rows["ok"], ("1", "ok"))
        self.assertEqual(rows["magneticMedia"], ("U", "unknown"))
        self.assertEqual(rows["transactionDate"][0], WHEN)
        self.assertEqual(rows["feeType"], ("06", "rental"))
        self.assertEqual(rows["validPatron"], ("Y", "patron known"))

    def test_secretsMasked(self):
        """
        C{CO}, C{AD} and C{AC} values are C{***} in tables and raw lines,
        unless secrets are to be shown; empty ones stay empty.
        """
        frame = b"23000" + W + b"AODEMO|AAP1|ACterm|AD7319|AY1AZ"
        frame = withChecksum(frame)
        rows = self.describeFrame(frame)
        values = {row.fid: row.value for row in rows}
        self.assertEqual((values["AC"], values["AD"]), ("***", "***"))
        self.assertNotIn(b"7319", maskFrame(frame).encode())
        self.assertEqual(
            maskFrame(frame),
            "23000" + WHEN + "AODEMO|AAP1|AC***|AD***|" + frame[-9:].decode(),
        )
        self.assertEqual(maskFrame(frame, showSecrets=True), frame.decode())
        shown = {r.fid: r.value for r in self.describeFrame(frame, showSecrets=True)}
        self.assertEqual(shown["AD"], "7319")
        self.assertEqual(maskFrame(b"9300CNkiosk|CO|"), "9300CNkiosk|CO|")
        self.assertEqual(maskFrame(b"9300CNkiosk|COpw|CPX|"), "9300CNkiosk|CO***|CPX|")
        self.assertEqual(maskFrame(b"99\x01"), "99\\x01")

    def test_formatTable(self):
        """
        The table is aligned in columns; long meanings wrap under their
        column; blank values are quoted.
        """
        rows = [
            client.Row("", "ok", "ok", "1", "ok"),
            client.Row("AO", "institutionId", "institution id", "DEMO"),
            client.Row("", "patronStatus", "patron status", "  ", "word " * 20),
        ]
        lines = formatTable(rows, width=60).splitlines()
        self.assertEqual(lines[0], "      ok              1     ok")
        self.assertEqual(lines[1], "  AO  institution id  DEMO")
        self.assertTrue(lines[2].startswith('      patron status   "  "  word'))
        self.assertTrue(all(line.startswith(" " * 28 + "word") for line in lines[3:]))
        self.assertGreater(len(lines), 3)
        self.assertTrue(all(len(line) <= 60 for line in lines))
        self.assertEqual(formatTable([]), "")

    def test_messageTitle(self):
        """
        Message titles read as words.
        """
        self.assertEqual(client.messageTitle(codec.ACSStatus()), "98 ACS Status")
        self.assertEqual(
            client.messageTitle(codec.CheckoutResponse()), "12 Checkout Response"
        )

    def test_responseOk(self):
        """
        L{responseOk} reads the ok flag or its equivalent per response.
        """
        cases = [
            (codec.LoginResponse(ok=True), None, True),
            (codec.LoginResponse(ok=False), None, False),
            (codec.ACSStatus(onlineStatus=False), None, False),
            (codec.CheckinResponse(ok=True), None, True),
            (codec.RenewAllResponse(ok=False), None, False),
            (codec.PatronStatusResponse(validPatron=True, personalName=""), None, True),
            (codec.PatronStatusResponse(personalName="Ada"), None, True),
            (codec.PatronStatusResponse(personalName=""), None, False),
            (
                codec.PatronInformationResponse(validPatron=False, personalName="x"),
                None,
                False,
            ),
            (
                codec.PatronInformationResponse(
                    validPatron=True, validPatronPassword=False
                ),
                None,
                False,
            ),
            (
                codec.PatronStatusResponse(validPatron=True, patronStatus="Y" * 4),
                codec.BlockPatron(),
                True,
            ),
            (
                codec.PatronStatusResponse(validPatron=True, patronStatus=" " * 14),
                codec.BlockPatron(),
                False,
            ),
            (codec.PatronEnableResponse(validPatron=True), None, True),
            (
                codec.ItemInformationResponse(
                    circulationStatus="01", titleIdentifier=""
                ),
                None,
                False,
            ),
            (
                codec.ItemInformationResponse(
                    circulationStatus="03", titleIdentifier=""
                ),
                None,
                True,
            ),
            (
                codec.ItemInformationResponse(
                    circulationStatus="01", titleIdentifier="T"
                ),
                None,
                True,
            ),
            (codec.ItemStatusUpdateResponse(itemPropertiesOk=True), None, True),
            (codec.EndSessionResponse(endSession=True), None, True),
            (codec.FeePaidResponse(paymentAccepted=False), None, False),
            (codec.HoldResponse(ok=True), None, True),
            (codec.RequestSCResend(), None, False),
        ]
        for message, request, expected in cases:
            self.assertEqual(responseOk(message, request), expected, message)


# -- the connection, over a socket pair ---------------------------------------


class ConnectionTests(SynchronousTestCase):
    """
    Tests for L{SIP2Connection}: the test plays the server on the other
    end of a L{socket.socketpair}, writing its answers in advance.
    """

    def setUp(self):
        self.near, self.far = socket.socketpair()
        self.addCleanup(self.near.close)
        self.addCleanup(self.far.close)

    def connect(self, **kwargs):
        kwargs.setdefault("timeout", 2.0)
        return SIP2Connection(self.near, peer="test", **kwargs)

    def sent(self):
        """
        Everything the client has sent so far.
        """
        self.far.setblocking(False)
        data = b""
        try:
            while True:
                chunk = self.far.recv(65536)
                if not chunk:
                    break
                data += chunk
        except BlockingIOError:
            pass
        return data

    def test_terminators(self):
        """
        Responses ending in CR, CRLF or LF are all read; the LF of a CRLF
        does not make an empty frame.
        """
        self.far.sendall(b"941\r\n940\r941\n\n940\r")
        connection = self.connect()
        self.assertEqual(
            [connection.readFrame() for _ in range(4)], [b"941", b"940", b"941", b"940"]
        )

    def test_frameInPieces(self):
        """
        A response that arrives in pieces is put back together.
        """
        connection = self.connect()
        self.far.sendall(b"9")
        self.far.sendall(b"41")
        self.far.sendall(b"\r")
        self.assertEqual(connection.readFrame(), b"941")

    def test_timeout(self):
        """
        No response within the timeout raises L{NoAnswer} with a clear
        message.
        """
        connection = self.connect(timeout=0.05)
        error = self.assertRaises(NoAnswer, connection.readFrame)
        self.assertEqual(str(error), "no response from test within 0.05 seconds")

    def test_closed(self):
        """
        A connection the server closes raises L{ConnectionFailed}.
        """
        self.far.sendall(b"94")
        self.far.close()
        error = self.assertRaises(ConnectionFailed, self.connect().readFrame)
        self.assertEqual(str(error), "test closed the connection")

    def test_exchangePlain(self):
        """
        Without error detection a request goes out with a CR and no trailer;
        the exchange's C{repr} does not show the password.
        """
        self.far.sendall(b"941\r")
        connection = self.connect()
        exchange = connection.exchange(LOGIN_REQUEST, "login")
        self.assertEqual(self.sent(), b"9300CNa|COb|\r")
        self.assertNotIn("COb", repr(exchange))
        self.assertEqual(exchange.received, b"941")
        self.assertEqual(exchange.decoded.message, codec.LoginResponse(ok=True))
        self.assertEqual(
            (exchange.request, exchange.warnings, exchange.unexpected),
            ("login", (), False),
        )

    def test_sequenceNumbers(self):
        """
        With error detection each request carries the next sequence number,
        from 0 to 9 and round again, and a checksum; the server's checksums
        are verified.
        """
        connection = self.connect(errorDetection=True, sequence=7)
        for sequence in [7, 8, 9, 0, 1]:
            self.far.sendall(
                withChecksum(
                    b"98YYYYNN600003"
                    + W
                    + b"2.00AODEMO|BX"
                    + b"Y" * 16
                    + b"|AY%dAZ" % sequence
                )
                + b"\r"
            )
            exchange = connection.exchange(
                codec.SCStatus(statusCode="0", maxPrintWidth=80, protocolVersion="2.00")
            )
            self.assertEqual(
                exchange.sent, withChecksum(b"9900802.00AY%dAZ" % sequence)
            )
            self.assertEqual(exchange.decoded.sequence, sequence)
            self.assertEqual(exchange.warnings, ())
        self.assertEqual(connection.sequence, 2)

    def test_sequenceMismatchAndMissingChecksum(self):
        """
        A response with another sequence number, or without a checksum
        while error detection is on, is accepted with a warning.
        """
        connection = self.connect(errorDetection=True)
        self.far.sendall(withChecksum(b"941AY5AZ") + b"\r941\r")
        login = LOGIN_REQUEST
        self.assertEqual(
            connection.exchange(login).warnings,
            ("the response carries sequence number 5, 0 expected",),
        )
        warning = "the response carries no checksum although error detection is on"
        self.assertEqual(connection.exchange(login).warnings, (warning,))

    def test_badChecksumResend(self):
        """
        A response whose checksum does not verify gets a 97, once; the
        resent response is used.
        """
        good = withChecksum(b"941AY0AZ")
        self.far.sendall(good[:-1] + b"0\r" + good + b"\r")
        connection = self.connect(errorDetection=True)
        exchange = connection.exchange(LOGIN_REQUEST)
        self.assertEqual(self.sent(), exchange.sent + b"\r97AZFEF5\r")
        self.assertEqual(exchange.received, good)
        self.assertIn("sent 97", exchange.warnings[0])

    def test_badChecksumTwice(self):
        """
        A second bad checksum is a L{ProtocolError}.
        """
        bad = withChecksum(b"941AY0AZ")[:-1] + b"0"
        self.far.sendall(bad + b"\r" + bad + b"\r")
        connection = self.connect(errorDetection=True)
        error = self.assertRaises(ProtocolError, connection.exchange, LOGIN_REQUEST)
        self.assertIn("bad checksum again", str(error))
        self.assertEqual(error.frame, bad)

    def test_badChecksumWithoutErrorDetection(self):
        """
        Without error detection a bad checksum still gets a 97, plain.
        """
        bad = withChecksum(b"941AY0AZ")[:-1] + b"0"
        self.far.sendall(bad + b"\r941\r")
        connection = self.connect()
        exchange = connection.exchange(LOGIN_REQUEST)
        self.assertEqual(self.sent(), b"9300CNa|COb|\r97\r")
        self.assertEqual(exchange.received, b"941")

    def test_serverResend(self):
        """
        A 96 from the server gets the same request again, once; a second
        96 is a L{ProtocolError}.
        """
        self.far.sendall(b"96AZFEF6\r" + withChecksum(b"941AY0AZ") + b"\r")
        connection = self.connect(errorDetection=True)
        login = LOGIN_REQUEST
        exchange = connection.exchange(login)
        self.assertEqual(self.sent(), (exchange.sent + b"\r") * 2)
        self.assertEqual(exchange.decoded.message.code, "94")
        self.far.sendall(b"96\r96\r")
        self.assertRaises(ProtocolError, connection.exchange, login)

    def test_unexpectedResponse(self):
        """
        A response of the wrong kind is returned, marked unexpected.
        """
        self.far.sendall(b"941\r")
        exchange = self.connect().exchange(codec.SCStatus(statusCode="0"))
        self.assertTrue(exchange.unexpected)
        self.assertEqual(exchange.warnings, ("a 94 answers 99; 98 expected",))

    def test_garbage(self):
        """
        Something that is not a SIP2 message is a L{ProtocolError} showing
        it.
        """
        self.far.sendall(b"HTTP/1.1 400 Bad Request\r\n")
        error = self.assertRaises(
            ProtocolError, self.connect().exchange, codec.SCStatus(statusCode="0")
        )
        self.assertIn("HTTP/1.1 400 Bad Request", str(error))

    def test_rawFrames(self):
        """
        Raw text gets the error-detection trailer unless it has one; a raw
        97 gets a checksum but no sequence number.
        """
        connection = self.connect(errorDetection=True, sequence=4)
        self.assertEqual(
            connection.frameFor("9900802.00"), (withChecksum(b"9900802.00AY4AZ"), 4)
        )
        self.assertEqual(
            connection.frameFor("9900802.00AY1AZFCA0"), (b"9900802.00AY1AZFCA0", 1)
        )
        self.assertEqual(connection.frameFor("97"), (b"97AZFEF5", None))
        self.assertEqual(connection.sequence, 5)
        plain = self.connect()
        self.assertEqual(plain.frameFor("9900802.00"), (b"9900802.00", None))
        self.assertEqual(plain.frameFor(codec.RequestACSResend()), (b"97", None))

    def test_terminatorAndEncoding(self):
        """
        Requests end with the terminator chosen and use the encoding
        chosen.
        """
        self.far.sendall(b"941\r")
        connection = self.connect(encoding="latin-1", terminator=b"\r\n")
        connection.exchange(
            codec.Login(
                uidAlgorithm="0",
                pwdAlgorithm="0",
                loginUserId="b\N{LATIN SMALL LETTER E WITH ACUTE}",
                loginPassword="x",
            )
        )
        self.assertEqual(self.sent(), b"9300CNb\xe9|COx|\r\n")

    def test_telnetLogin(self):
        """
        The telnet prelude waits for the prompts, answers them with CRLF
        lines, refuses telnet options and expects C{Login OK}; what follows
        that line is SIP.
        """
        self.far.sendall(b"\xff\xfb\x01\xff\xfd\x18Welcome\r\nlogin: ")
        self.far.sendall(b"password: ")
        self.far.sendall(b"Login OK.  Initiating SIP\r\n941\r")
        connection = self.connect()
        connection.telnetLogin("kiosk", "pw")
        self.assertEqual(
            self.sent(), b"\xff\xfe\x01\xff\xfc\x18" + b"kiosk\r\n" + b"pw\r\n"
        )
        self.assertEqual(connection.readFrame(), b"941")

    def test_telnetRefused(self):
        """
        C{Invalid login} (or a new login prompt) after the password raises
        L{LoginRefused}, without showing the password.
        """
        self.far.sendall(b"login: password: pw\r\nInvalid login\r\n")
        error = self.assertRaises(
            LoginRefused, self.connect().telnetLogin, "kiosk", "pw"
        )
        self.assertIn("Invalid login", str(error))
        self.assertNotIn("pw\\r", str(error))
        self.assertIn("***", str(error))

    def test_telnetNoPrompt(self):
        """
        No prompt within the timeout raises L{NoAnswer} showing what came.
        """
        self.far.sendall(b"hello")
        error = self.assertRaises(
            NoAnswer, self.connect(timeout=0.05).telnetLogin, "kiosk", "pw"
        )
        self.assertIn("no telnet login prompt", str(error))
        self.assertIn("hello", str(error))


class TelnetFilterTests(SynchronousTestCase):
    """
    Tests for L{TelnetFilter}.
    """

    def test_commandsRemoved(self):
        """
        Telnet commands are removed; C{DO} and C{WILL} are refused; C{IAC
        IAC} is a literal 255; NUL is dropped.
        """
        text, replies = TelnetFilter().feed(
            b"a\xff\xfd\x01b\xff\xfb\x03c\xff\xfc\x05\xff\xfe\x06\xff\xf1d\xff\xffe\x00f"
        )
        self.assertEqual(text, b"abcd\xffef")
        self.assertEqual(replies, b"\xff\xfc\x01\xff\xfe\x03")

    def test_split(self):
        """
        A command split across reads is handled.
        """
        telnet = TelnetFilter()
        self.assertEqual(telnet.feed(b"a\xff"), (b"a", b""))
        self.assertEqual(telnet.feed(b"\xfd"), (b"", b""))
        self.assertEqual(telnet.feed(b"\x18b"), (b"b", b"\xff\xfc\x18"))

    def test_subnegotiation(self):
        """
        Subnegotiations are dropped whole.
        """
        text, _ = TelnetFilter().feed(b"a\xff\xfa\x18\x01xyz\xff\xf0b")
        self.assertEqual(text, b"ab")


# -- the shell, without a connection ------------------------------------------


class ShellParsingTests(SynchronousTestCase):
    """
    Tests for the shell's line parsing, completion and commands that need
    no connection.
    """

    def makeShell(self, *argv):
        out = io.StringIO()
        command = ClientCommand(parseArgs(*argv), out, io.StringIO(), {})
        return ClientShell(command, stdin=io.StringIO()), out

    def test_parseLine(self):
        """
        A shell line has the command line's request syntax.
        """
        name, value, namespace = parseShellLine(
            "checkout B2001 --patron P1001 --fee-ack"
        )
        self.assertEqual((name, value), ("checkout", "B2001"))
        o = RequestOptions.fromNamespace(namespace, options(pin="1"))
        self.assertEqual(
            (o.item, o.patron, o.feeAck, o.pin, o.institution),
            (None, "P1001", True, "1", "DEMO"),
        )
        name, value, namespace = parseShellLine("patron-info 'P 1' --summary fines")
        self.assertEqual((value, namespace.summary), ("P 1", "fines"))

    def test_parseRaw(self):
        """
        C{raw} takes the rest of the line as it is, spaces included.
        """
        line = "raw 23001" + WHEN + "AODEMO|AAP1|AC|AD|"
        self.assertEqual(parseShellLine(line)[:2], ("raw", line[4:]))
        self.assertRaises(UsageError, parseShellLine, "raw  ")

    def test_parseErrors(self):
        """
        Unknown requests, bad options and bad quoting are L{UsageError}s.
        """
        for line in [
            "nothing",
            "checkout --bogus",
            "checkout 'B",
            "",
            "item-info --summary x",
            "status --host h",
        ]:
            self.assertRaises(UsageError, parseShellLine, line)

    def test_completeRequest(self):
        """
        Request and shell command names complete, hyphens included.
        """
        self.assertEqual(
            completeRequest("patron-"),
            ["patron-status", "patron-info", "patron-enable"],
        )
        self.assertEqual(
            completeRequest("re"), ["renew", "renew-all", "resend", "reconnect"]
        )
        self.assertEqual(completeRequest("q"), ["quit"])
        self.assertEqual(len(completeRequest("")), len(REQUESTS) + 6)

    def test_completeOption(self):
        """
        Options complete per request; options with a list of values
        complete their values.
        """
        self.assertEqual(completeOption("patron-info", "--s"), ["--summary", "--start"])
        self.assertEqual(completeOption("patron-info", "ch", "--summary"), ["charged"])
        self.assertEqual(completeOption("hold", "", "--hold-mode"), ["+", "-", "*"])
        self.assertEqual(completeOption("checkout", "--i"), ["--institution", "--item"])
        self.assertEqual(completeOption("checkout", "B2"), [])
        self.assertEqual(completeOption("nothing", "--"), [])
        self.assertIn("--summary", completeOption("set", "--s"))

    def test_shellCompletion(self):
        """
        L{ClientShell} completes names at the start of a line and options
        after a request name; a single match gets a space after it.
        """
        shell, _ = self.makeShell()
        self.assertEqual(shell.completenames("item-"), ["item-info", "item-update"])
        self.assertEqual(shell.completenames("item-u"), ["item-update "])
        self.assertEqual(
            shell.completedefault("--it", "checkout --it", 9, 13), ["--item "]
        )
        self.assertEqual(
            shell.completedefault("f", "patron-info --summary f", 22, 23), ["fines "]
        )
        self.assertEqual(shell.completedefault("x", "x", 0, 1), [])
        self.assertEqual(shell.complete_help("end"), ["end-session "])
        self.assertEqual(shell.identchars.count("-"), 1)

    def test_help(self):
        """
        C{help} lists the requests and shell commands; C{help REQUEST}
        shows its options.
        """
        shell, out = self.makeShell()
        shell.onecmd("help")
        for name in REQUESTS:
            self.assertIn(name, out.getvalue())
        self.assertIn("reconnect", out.getvalue())
        out.truncate(0)
        out.seek(0)
        shell.onecmd("help hold")
        self.assertIn("hold [ITEM]", out.getvalue())
        self.assertIn("--hold-mode", out.getvalue())

    def test_set(self):
        """
        C{set} keeps request options; alone it shows them, secrets masked.
        """
        shell, out = self.makeShell("--institution", INSTITUTION)
        shell.onecmd("set --patron P1001 --pin 9876 --summary charged")
        options = shell.command.options
        self.assertEqual(
            (options.patron, options.pin, options.summary, options.institution),
            ("P1001", "9876", "charged", "DEMO"),
        )
        shell.onecmd("set")
        self.assertIn("patron = P1001", out.getvalue())
        self.assertIn("pin = ***", out.getvalue())
        self.assertNotIn("9876", out.getvalue())
        shell.onecmd("set --bogus")
        self.assertIn("error:", out.getvalue())
        shell.onecmd("set P1002")
        self.assertIn("error: set takes options only", out.getvalue())
        self.assertEqual(shell.command.options.patron, "P1001")

    def test_notConnected(self):
        """
        A request without a connection says so; a bad line is reported;
        an empty line does nothing.
        """
        shell, out = self.makeShell()
        self.assertFalse(shell.onecmd("item-info B1"))
        self.assertEqual(shell.lastStatus, EXIT_NO_ANSWER)
        self.assertIn("not connected", shell.command.err.getvalue())
        self.assertFalse(shell.onecmd("checkout"))
        self.assertEqual(shell.lastStatus, EXIT_USAGE)
        self.assertIn("error: checkout needs", out.getvalue())
        self.assertFalse(shell.onecmd(""))
        self.assertTrue(shell.onecmd("quit"))
        self.assertTrue(shell.onecmd("EOF"))

    def test_output(self):
        """
        C{output} switches between tables, tables with raw lines and JSON.
        """
        shell, _ = self.makeShell()
        shell.onecmd("output json")
        self.assertTrue(shell.command.json)
        shell.onecmd("output raw")
        self.assertEqual((shell.command.json, shell.command.showRaw), (False, True))

    def test_secretsLeaveHistory(self):
        """
        A line with C{--pin} or C{--password} is removed from the readline
        history.
        """

        class FakeReadline:
            def __init__(self):
                self.history = ["item-info B1", "set --pin 1234"]

            def get_current_history_length(self):
                return len(self.history)

            def remove_history_item(self, index):
                del self.history[index]

        shell, _ = self.makeShell()
        readline = shell._readline = FakeReadline()
        shell.precmd("set --pin 1234")
        self.assertEqual(readline.history, ["item-info B1"])
        shell.precmd("item-info B1")
        self.assertEqual(readline.history, ["item-info B1"])


# -- end to end ---------------------------------------------------------------


class TrackingFactory(Factory):
    """
    A server factory that remembers its connections, so that a test can
    close them and wait until they are gone.
    """

    def __init__(self, protocol):
        self.protocol = protocol
        self.protocols = []

    def buildProtocol(self, addr):
        protocol = Factory.buildProtocol(self, addr)
        protocol.lost = Deferred()
        self.protocols.append(protocol)
        return protocol

    def listen(self, testCase):
        """
        Listen on 127.0.0.1 until the test ends.

        @return: The port number.
        """
        port = reactor.listenTCP(0, self, interface="127.0.0.1")

        def stop():
            for protocol in self.protocols:
                protocol.transport.loseConnection()
            d = gatherResults([p.lost for p in self.protocols], consumeErrors=True)
            return d.addBoth(lambda _: port.stopListening())

        testCase.addCleanup(stop)
        return port.getHost().port


class SilentServer(Protocol):
    """
    A server that accepts connections and never answers.
    """

    def connectionLost(self, reason):
        self.lost.callback(None)


class FakeTelnetServer(Protocol):
    """
    The SIP2 telnet prelude as Koha and Evergreen run it (with a few telnet
    commands thrown in), then a canned 98 for every request.
    """

    user, password = "kiosk", "secret"

    def connectionMade(self):
        self.received = b""
        self.buffer = b""
        self.state = "user"
        self.transport.write(b"\xff\xfb\x01\xff\xfd\x18login: ")

    def dataReceived(self, data):
        self.received += data
        self.buffer += data
        while True:
            if self.state == "sip":
                _, separator, rest = self.buffer.partition(b"\r")
                if not separator:
                    return
                self.buffer = rest
                self.transport.write(
                    b"98YYYYNN600003" + W + b"2.00AOT|BX" + b"Y" * 16 + b"|\r"
                )
                continue
            for separator in (b"\r\n", b"\n", b"\r"):
                if separator in self.buffer:
                    break
            else:
                return
            line, _, self.buffer = self.buffer.partition(separator)
            line = bytes(b for b in line if b < 0xF0 or b > 0xFF)
            line = line.replace(b"\xff", b"").lstrip(b"\x01\x03\x18")
            if self.state == "user":
                self.given = line
                self.state = "password"
                self.transport.write(b"password: ")
            elif line == self.password.encode() and self.given == self.user.encode():
                self.state = "sip"
                self.transport.write(b"Login OK.  Initiating SIP\r\n")
            else:
                self.state = "user"
                self.transport.write(b"Invalid login\r\nlogin: ")

    def connectionLost(self, reason):
        self.lost.callback(None)


def mintCertificates(directory):
    """
    A test CA (from L{tests.certs}), a server certificate for C{localhost}
    and 127.0.0.1 and a client certificate, written as PEM files into
    C{directory}.

    @return: A dict of file paths (C{ca}, C{client}, C{clientKey}) and the
        objects C{caPem}, C{serverCert}, C{serverKeyObject}.
    """
    import os

    os.makedirs(directory)
    authority = CertificateAuthority()
    server = authority.issue("localhost", ipAddresses=("127.0.0.1",))
    kiosk = authority.issue(
        "kiosk1", dnsNames=("kiosk1",), ipAddresses=(), server=False, client=True
    )

    def write(filename, data):
        path = os.path.join(directory, filename)
        with open(path, "wb") as f:
            f.write(data)
        return path

    caPem = certificatePEM(authority.certificate)
    return {
        "ca": write("ca.pem", caPem),
        "client": write("kiosk.pem", certificatePEM(kiosk.certificate)),
        "clientKey": write("kiosk.key", keyPEM(kiosk.key)),
        "caPem": caPem,
        "serverCert": server.certificate,
        "serverKeyObject": server.key,
    }


class EndToEndTests(TestCase):
    """
    C{sip2acs client} against a real sip2acs on 127.0.0.1 with the
    in-memory library of L{tests.loopback}, run in a thread.
    """

    def setUp(self):
        self.server = LoopbackServer(self)
        self.port = self.server.port.getHost().port

    def args(self, *argv):
        return [
            "--port",
            str(self.port),
            "--timeout",
            TIMEOUT,
            "--login",
            LOGIN,
            "--institution",
            INSTITUTION,
            *argv,
        ]

    @inlineCallbacks
    def test_status(self):
        """
        C{status} logs in (93) and sends a 99; both answers are printed as
        tables with what the codes mean; exit status 0.
        """
        result = yield runClient(self.args("status"))
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("login: 94 Login Response (ok)", result.out)
        self.assertIn("status: 98 ACS Status (ok)", result.out)
        self.assertRegex(result.out, r"on-line status +Y +ACS in service")
        self.assertRegex(result.out, r"AM  library name +Harbour Street Library")
        self.assertRegex(
            result.out,
            r"BX  supported messages +YYYNYYYYYNYNNNYN +"
            r"not supported: 01 block patron",
        )
        self.assertEqual(result.err, "")

    @inlineCallbacks
    def test_requestsServed(self):
        """
        Each request the in-memory library supports reaches it with the
        right identifiers and exits with status 0.
        """
        adapter = self.server.adapter
        for argv, call, text in [
            (
                ["patron-status", ADA, "--pin", ADA_PIN],
                ("lookupPatron", ADA),
                r"CQ  valid patron password +Y +PIN correct",
            ),
            (
                ["patron-info", ADA, "--summary", "charged"],
                ("lookupPatron", ADA),
                r"AU  charged items +B2003",
            ),
            (
                ["item-info", FREE_ITEM],
                ("lookupItem", FREE_ITEM),
                r"circulation status +03 +available",
            ),
            (
                ["checkout", FREE_ITEM, "--patron", ADA],
                ("checkout", ADA, FREE_ITEM),
                r"desensitize +Y +desensitize \(disarm\) the item",
            ),
            (
                ["renew", ADA_LOAN, "--patron", ADA],
                ("renew", ADA, ADA_LOAN),
                r"renewal ok +Y",
            ),
            (
                ["checkin", FREE_ITEM],
                ("checkin", FREE_ITEM),
                r"AA  patron identifier +P1001",
            ),
            (
                ["end-session", ADA],
                ("endPatronSession", ADA),
                r"end session +Y +session ended",
            ),
        ]:
            before = len(adapter.calls)
            result = yield runClient(self.args(*argv))
            self.assertEqual(result.status, EXIT_OK, (argv, result.out, result.err))
            self.assertEqual(adapter.calls[before:], [call], argv)
            self.assertRegex(result.out, text)

    @inlineCallbacks
    def test_requestsRefused(self):
        """
        Requests the server answers with a refusal (unknown item, unknown
        patron, operations the library does not support) exit with
        status 1 and show the answer.
        """
        for argv, title in [
            (["item-info", "NOPE"], "18 Item Information Response"),
            (["patron-status", "NOBODY"], "24 Patron Status Response"),
            (["patron-status", ADA, "--pin", "0000"], "24 Patron Status Response"),
            (["checkout", "NOPE", "--patron", ADA], "12 Checkout Response"),
            (["renew-all", ADA], "66 Renew All Response"),
            (["fee-paid", "1.00", "--patron", ADA], "38 Fee Paid Response"),
            (["hold", OTHER_ITEM, "--patron", ADA], "16 Hold Response"),
            (["block-patron", ADA], "24 Patron Status Response"),
            (["patron-enable", ADA], "26 Patron Enable Response"),
            (
                ["item-update", FREE_ITEM, "--properties", "x"],
                "20 Item Status Update Response",
            ),
        ]:
            result = yield runClient(self.args(*argv))
            self.assertEqual(
                result.status, EXIT_REFUSED, (argv, result.out, result.err)
            )
            self.assertIn("%s: %s (refused or failed)" % (argv[0], title), result.out)

    @inlineCallbacks
    def test_rawLines(self):
        """
        C{--raw} shows the lines sent and received, secrets masked: the
        request bytes are the ones L{buildRequest} makes.
        """
        result = yield runClient(
            self.args("--raw", "patron-status", ADA, "--pin", ADA_PIN)
        )
        self.assertEqual(result.status, EXIT_OK)
        self.assertIn("sent:     9300CNkiosk|CO***|\n", result.out)
        self.assertRegex(
            result.out,
            r"sent:     23000\d{8} {4}\d{6}AODEMO\|AAP1001\|"
            r"AC\|AD\*\*\*\|\n",
        )
        self.assertRegex(
            result.out,
            r"received: 24 {14}000\d{8} {4}\d{6}AODEMO\|"
            r"AAP1001\|AEAda Quillfeather\|BLY\|CQY\|",
        )
        self.assertNotIn(PASSWORD, result.out)
        self.assertNotIn(ADA_PIN, result.out)

    @inlineCallbacks
    def test_showSecrets(self):
        """
        C{--show-secrets} shows the password and PIN.
        """
        result = yield runClient(
            self.args("--raw", "--show-secrets", "patron-status", ADA, "--pin", ADA_PIN)
        )
        self.assertIn("CO%s|" % (PASSWORD,), result.out)
        self.assertIn("AD%s|" % (ADA_PIN,), result.out)

    @inlineCallbacks
    def test_secretsFromEnvironment(self):
        """
        The password comes from C{SIP2ACS_PASSWORD} and the PIN from
        C{SIP2ACS_PIN}; neither is printed.
        """
        result = yield runClient(
            self.args("--json", "patron-status", ADA),
            environ={"SIP2ACS_PASSWORD": PASSWORD, "SIP2ACS_PIN": ADA_PIN},
        )
        self.assertEqual(result.status, EXIT_OK, result.err)
        answer = result.json()[-1]
        self.assertIn("AD***|", answer["sent"])
        self.assertNotIn(PASSWORD, result.out)
        self.assertNotIn(ADA_PIN, result.out)

    @inlineCallbacks
    def test_secretsPrompted(self):
        """
        Without C{--password} or C{SIP2ACS_PASSWORD} the password is asked
        for; C{--ask-pin} asks for the PIN.
        """
        asked = []

        def ask(prompt):
            asked.append(prompt)
            return PASSWORD if prompt.startswith("Password") else ADA_PIN

        result = yield runClient(
            self.args("--ask-pin", "patron-status", ADA), environ={}, askSecret=ask
        )
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertEqual(asked, ["Password for kiosk: ", "Patron PIN: "])
        self.assertRegex(result.out, r"CQ  valid patron password +Y")

    @inlineCallbacks
    def test_json(self):
        """
        C{--json} prints one JSON object per response: request, code,
        fields with meanings, raw line, ok.
        """
        result = yield runClient(self.args("--json", "item-info", FREE_ITEM))
        self.assertEqual(result.status, EXIT_OK)
        login, answer = result.json()
        self.assertEqual(
            (login["request"], login["code"], login["ok"]), ("login", "94", True)
        )
        self.assertEqual(login["sent"], "9300CNkiosk|CO***|")
        self.assertEqual(
            (
                answer["request"],
                answer["code"],
                answer["message"],
                answer["ok"],
                answer["status"],
            ),
            ("item-info", "18", "ItemInformationResponse", True, 0),
        )
        fields = {field["name"]: field for field in answer["fields"]}
        self.assertEqual(fields["circulationStatus"]["meaning"], "available")
        self.assertIsNone(fields["circulationStatus"]["id"])
        self.assertEqual(fields["titleIdentifier"]["id"], "AJ")
        self.assertEqual(fields["titleIdentifier"]["value"], "Clockwork Gardens")
        self.assertTrue(answer["raw"].startswith("18030"))
        self.assertEqual(answer["warnings"], [])

    @inlineCallbacks
    def test_errorDetection(self):
        """
        With C{-e} requests carry sequence numbers and checksums, the
        server's are verified and shown; sequence numbers go on from the
        login.
        """
        result = yield runClient(self.args("-e", "--json", "item-info", FREE_ITEM))
        self.assertEqual(result.status, EXIT_OK, result.err)
        login, answer = result.json()
        self.assertTrue(
            login["sent"].endswith(codec.checksum(b"9300CNkiosk|COsecret|AY0AZ"))
        )
        self.assertEqual((login["sequence"], answer["sequence"]), (0, 1))
        self.assertRegex(answer["sent"], r"AY1AZ[0-9A-F]{4}$")
        self.assertTrue(codec.checksumOk(answer["raw"].encode("ascii")))
        fields = {field["id"]: field for field in answer["fields"]}
        self.assertEqual(fields["AZ"]["meaning"], "verified")
        self.assertEqual(answer["warnings"], [])

    @inlineCallbacks
    def test_sequenceWraps(self):
        """
        After 9 the sequence number starts again at 0.
        """
        result = yield runClient(self.args("-e", "--sequence", "9", "--json", "status"))
        self.assertEqual([answer["sequence"] for answer in result.json()], [9, 0])

    @inlineCallbacks
    def test_raw(self):
        """
        C{raw} sends the message typed, and with C{-e} adds its trailer.
        """
        result = yield runClient(self.args("-e", "--raw", "raw", "9900402.00"))
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("raw: 98 ACS Status (ok)", result.out)
        self.assertIn(
            "sent:     %s\n" % (withChecksum(b"9900402.00AY1AZ").decode(),), result.out
        )

    @inlineCallbacks
    def test_resend(self):
        """
        C{resend} (97) gets the last response again.
        """
        result = yield runClient(self.args("resend"))
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("resend: 94 Login Response (ok)", result.out)

    @inlineCallbacks
    def test_statusFirst(self):
        """
        C{--status-first} sends a 99 after the login, as kiosks do.
        """
        result = yield runClient(self.args("--status-first", "item-info", FREE_ITEM))
        self.assertEqual(result.status, EXIT_OK)
        self.assertEqual(
            [
                line.split(":")[0]
                for line in result.out.splitlines()
                if line and not line.startswith(" ")
            ],
            ["login", "status", "item-info"],
        )

    @inlineCallbacks
    def test_loginOnly(self):
        """
        C{login} only logs in.
        """
        result = yield runClient(self.args("login", "--location", "MAIN"))
        self.assertEqual(result.status, EXIT_OK)
        self.assertIn("login: 94 Login Response (ok)", result.out)

    @inlineCallbacks
    def test_loginRefused(self):
        """
        A refused login exits with status 1 and the request is not sent.
        """
        result = yield runClient(
            self.args("--password", "wrong", "item-info", FREE_ITEM)
        )
        self.assertEqual(result.status, EXIT_REFUSED)
        self.assertIn("login: 94 Login Response (refused or failed)", result.out)
        self.assertNotIn("item-info", result.out)
        self.assertEqual(self.server.adapter.calls, [])
        self.assertNotIn("wrong", result.out)

    @inlineCallbacks
    def test_noLogin(self):
        """
        Without C{--login} no 93 is sent: sip2acs closes the connection,
        which is exit status 2.
        """
        result = yield runClient(
            ["--port", str(self.port), "--timeout", TIMEOUT, "--json", "status"]
        )
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("closed the connection", result.err)
        self.assertEqual(
            result.json(),
            [
                {
                    "request": "status",
                    "ok": False,
                    "status": 2,
                    "error": "127.0.0.1:%d closed the connection" % (self.port,),
                }
            ],
        )

    @inlineCallbacks
    def test_encoding(self):
        """
        C{--encoding} decodes the server's answer.
        """
        config = makeConfig(accounts=[makeAccount(encoding="utf-8")])
        server = LoopbackServer(self, config=config)
        result = yield runClient(
            [
                "--port",
                str(server.port.getHost().port),
                "--login",
                LOGIN,
                "--institution",
                INSTITUTION,
                "--encoding",
                "utf-8",
                "patron-status",
                "P1002",
            ]
        )
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("Zo\N{LATIN SMALL LETTER E WITH DIAERESIS} Marsh", result.out)

    @inlineCallbacks
    def test_shell(self):
        """
        The shell reads requests line by line, with C{set} keeping
        options, and exits with status 0 at the end of its input.
        """
        lines = io.StringIO(
            "set --patron P1001\n"
            "patron-status --pin %s\n"
            "item-info B2001 --item x\n"
            "checkout B2001\n"
            "bogus\n"
            "quit\n"
            "item-info B2002\n" % (ADA_PIN,)
        )
        result = yield runClient(self.args("shell"), stdin=lines)
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("patron-status: 24 Patron Status Response (ok)", result.out)
        self.assertIn("item-info: 18 Item Information Response (ok)", result.out)
        self.assertIn("checkout: 12 Checkout Response (ok)", result.out)
        self.assertIn("error: unknown request 'bogus'", result.out)
        self.assertEqual(
            self.server.adapter.calls,
            [
                ("lookupPatron", ADA),
                ("lookupItem", FREE_ITEM),
                ("checkout", ADA, FREE_ITEM),
            ],
        )
        self.assertNotIn(ADA_PIN, result.out)


class ConnectionErrorTests(TestCase):
    """
    Exit status 2 when there is no usable answer.
    """

    @inlineCallbacks
    def test_serverDown(self):
        """
        Nothing listening: exit status 2 and the reason.
        """
        port = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        number = port.getHost().port
        yield port.stopListening()
        result = yield runClient(["--port", str(number), "--login", LOGIN, "status"])
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("cannot connect to 127.0.0.1:%d" % (number,), result.err)
        self.assertEqual(result.out, "")

    @inlineCallbacks
    def test_noAnswer(self):
        """
        A server that never answers: after the timeout, exit status 2 and
        a clear message.
        """
        port = TrackingFactory(SilentServer).listen(self)
        result = yield runClient(
            ["--port", str(port), "--timeout", "0.2", "--login", LOGIN, "status"]
        )
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertEqual(
            result.err,
            "sip2acs client: login: no response from"
            " 127.0.0.1:%d within 0.2 seconds\n" % (port,),
        )


class TelnetTests(TestCase):
    """
    The telnet prelude against a scripted telnet server.
    """

    def setUp(self):
        self.factory = TrackingFactory(FakeTelnetServer)
        self.port = self.factory.listen(self)

    @inlineCallbacks
    def test_login(self):
        """
        The client answers the prompts, refuses the telnet options, and
        speaks SIP after C{Login OK}: no 93 is sent.
        """
        result = yield runClient(
            [
                "--telnet",
                "--port",
                str(self.port),
                "--timeout",
                TIMEOUT,
                "--login",
                LOGIN,
                "status",
            ]
        )
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("status: 98 ACS Status (ok)", result.out)
        self.assertNotIn("login:", result.out)
        received = self.factory.protocols[0].received
        self.assertEqual(
            received, b"\xff\xfe\x01\xff\xfc\x18kiosk\r\nsecret\r\n9900802.00\r"
        )

    @inlineCallbacks
    def test_refused(self):
        """
        A wrong password exits with status 1.
        """
        result = yield runClient(
            [
                "--telnet",
                "--port",
                str(self.port),
                "--timeout",
                TIMEOUT,
                "--login",
                LOGIN,
                "status",
            ],
            environ={"SIP2ACS_PASSWORD": "wrong"},
        )
        self.assertEqual(result.status, EXIT_REFUSED)
        self.assertIn("refused the telnet login", result.err)
        self.assertNotIn("wrong", result.err)


class TLSTests(TestCase):
    """
    The real sip2acs behind a TLS listener made in the test, with
    certificates minted for it.
    """

    def setUp(self):
        self.files = mintCertificates(self.mktemp())
        self.server = LoopbackServer(self)

    def listen(self, requireClientCertificate=False):
        trustRoot = None
        if requireClientCertificate:
            trustRoot = trustRootFromCertificates(
                [Certificate.loadPEM(self.files["caPem"])]
            )
        options = CertificateOptions(
            privateKey=self.files["serverKeyObject"],
            certificate=self.files["serverCert"],
            trustRoot=trustRoot,
        )
        endpoint = SSL4ServerEndpoint(reactor, 0, options, interface="127.0.0.1")
        d = endpoint.listen(self.server.factory)

        def listening(port):
            self.addCleanup(port.stopListening)
            return port.getHost().port

        return d.addCallback(listening)

    def args(self, port, *argv):
        return [
            "--tls",
            "--port",
            str(port),
            "--timeout",
            TIMEOUT,
            "--login",
            LOGIN,
            "--institution",
            INSTITUTION,
            *argv,
        ]

    @inlineCallbacks
    def test_verified(self):
        """
        With C{--ca} the server's certificate is verified (for the IP
        address connected to) and SIP2 works over TLS.
        """
        port = yield self.listen()
        result = yield runClient(
            self.args(port, "--ca", self.files["ca"], "item-info", FREE_ITEM)
        )
        self.assertEqual(result.status, EXIT_OK, result.err)
        self.assertIn("item-info: 18 Item Information Response (ok)", result.out)

    @inlineCallbacks
    def test_hostnameChecked(self):
        """
        A certificate that does not name the server is refused (exit 2),
        unless C{--insecure} is given.
        """
        port = yield self.listen()
        result = yield runClient(
            self.args(
                port,
                "--ca",
                self.files["ca"],
                "--server-name",
                "other.example",
                "status",
            )
        )
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("certificate", result.err)
        self.assertIn("--insecure", result.err)
        result = yield runClient(
            self.args(port, "--insecure", "--server-name", "other.example", "status")
        )
        self.assertEqual(result.status, EXIT_OK, result.err)

    @inlineCallbacks
    def test_untrusted(self):
        """
        Without the CA the server's certificate is not trusted: exit 2.
        """
        port = yield self.listen()
        result = yield runClient(self.args(port, "status"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
        self.assertIn("was not accepted", result.err)

    @inlineCallbacks
    def test_clientCertificate(self):
        """
        A server that requires a client certificate accepts the one given
        with C{--certificate} and C{--private-key}, and refuses a client
        without one (exit 2).
        """
        port = yield self.listen(requireClientCertificate=True)
        result = yield runClient(
            self.args(
                port,
                "--ca",
                self.files["ca"],
                "--certificate",
                self.files["client"],
                "--private-key",
                self.files["clientKey"],
                "status",
            )
        )
        self.assertEqual(result.status, EXIT_OK, result.err)
        result = yield runClient(self.args(port, "--ca", self.files["ca"], "status"))
        self.assertEqual(result.status, EXIT_NO_ANSWER)
