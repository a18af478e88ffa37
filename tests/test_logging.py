"""
Logs never carry PINs or passwords; message tracing masks personal data
unless an account's tracing is C{full}.
"""

import json
import re

from twisted.logger import eventAsJSON, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.ops import observers
from sip2acs.sip import codec
from tests.fixtures import (
    ADA,
    ADA_PIN,
    FREE_ITEM,
    captureLogs,
    login,
    makeAccount,
    makeConfig,
    request,
)
from tests.memory import InMemoryServer

SECRETS = (ADA_PIN, "secret", "terminal-pw")


def conversation():
    """
    A patron's visit at a kiosk, every request carrying the PIN and the
    terminal password.
    """
    common = dict(institutionId="DEMO", patronIdentifier=ADA, patronPassword=ADA_PIN)
    return [
        request(codec.SCStatus, statusCode="0", maxPrintWidth=40, protocolVersion="2.00"),
        request(codec.PatronStatus, language="001", terminalPassword="terminal-pw", **common),
        request(codec.PatronInformation, language="001", summary="  Y       ",
                terminalPassword="terminal-pw", **common),
        request(codec.Checkout, itemIdentifier=FREE_ITEM, terminalPassword="terminal-pw",
                **common),
        request(codec.Checkin, currentLocation="MAIN", itemIdentifier=FREE_ITEM,
                terminalPassword="terminal-pw", institutionId="DEMO"),
        request(codec.EndPatronSession, **common),
    ]


class RedactionTests(SynchronousTestCase):
    def converse(self, trace):
        events = captureLogs(self)
        config = makeConfig(accounts=[makeAccount(trace=trace)])
        acs = InMemoryServer(self, config=config)
        client = acs.connect()
        reply = client.ask(login())
        self.assertTrue(reply.message.ok)
        for frame in conversation():
            client.ask(frame)
        texts = []
        for event in events:
            texts.append(formatEvent(event))
            texts.append(eventAsJSON(event))
        return "\n".join(texts)

    def test_noSecretsInAnyMode(self):
        """
        With tracing off, redacted or full, no log event (formatted, or
        every field as JSON) contains the PIN, the account password or the
        terminal password of a whole conversation.
        """
        for trace in ("off", "redacted", "full"):
            logs = self.converse(trace)
            self.assertIn("11->12 ok", logs)
            for secret in SECRETS:
                # Not inside a number: an event's log_time or duration
                # (12.573191) may hold a PIN's digits by chance.
                found = re.search(r"(?<![\d.])%s(?!\d)" % (re.escape(secret),), logs)
                self.assertIsNone(found, (trace, secret))

    def test_redactedHidesPersonalData(self):
        """
        Redacted tracing logs every frame with the patron's name masked;
        full tracing shows it; neither shows the PIN.
        """
        logs = self.converse("redacted")
        self.assertIn("trace kiosk@127.0.0.1 in 11", logs)
        self.assertIn("trace kiosk@127.0.0.1 out 12", logs)
        self.assertIn("AE***|", logs)
        self.assertNotIn("Ada", logs)
        logs = self.converse("full")
        self.assertIn("AEAda", logs)
        self.assertIn("AD***|", logs)

    def test_offLogsNoFrames(self):
        """
        With tracing off (the default) no frame is logged, only the one
        line per transaction.
        """
        logs = self.converse("off")
        self.assertNotIn("trace kiosk", logs)


class ObserverFactoryTests(SynchronousTestCase):
    def test_jsonlines(self) -> None:
        """
        C{sip2acs.ops.observers.jsonlines} writes one JSON object per event to
        the file C{SIP2ACS_LOG} names.
        """
        path = self.mktemp()
        self.patch(observers.os, "environ", {"SIP2ACS_LOG": path})
        observer = observers.jsonlines()
        observer({"log_format": "hello {who}", "who": "kiosk", "log_time": 1.0,
                  "log_namespace": "test"})
        observer.flush()
        with open(path) as f:
            event = json.loads(f.readline())
        self.assertEqual(event["who"], "kiosk")

    def test_syslogFacility(self) -> None:
        """
        C{sip2acs.ops.observers.syslog} uses local6 unless told otherwise, and
        refuses an unknown facility by name.
        """
        self.patch(observers.os, "environ", {})
        self.assertTrue(callable(observers.syslog()))
        self.patch(observers.os, "environ", {"SIP2ACS_SYSLOG_FACILITY": "nowhere"})
        self.assertRaises(SystemExit, observers.syslog)
