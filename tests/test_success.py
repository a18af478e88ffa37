"""
Tests for L{sip2acs.sip.success}: the one rule for whether a response says
its request succeeded, in its strict and lenient readings.
"""

import attrs
from twisted.trial.unittest import SynchronousTestCase

from sip2acs.sip import codec
from sip2acs.sip.success import FLAGS, succeeded

_BLOCKED = "Y" + " " * 13


class SucceededTests(SynchronousTestCase):
    """
    Tests for L{succeeded}.
    """

    def assertReadings(self, cases):
        """
        Each case is C{(response, request, strict, lenient)}: what the
        strict and the lenient reading say.
        """
        for response, request, strict, lenient in cases:
            self.assertEqual(succeeded(response, request), strict, (response, request))
            self.assertEqual(succeeded(response, lenient=True), lenient, response)

    def test_oneFlagPerResponse(self):
        """
        Every message has at most one of the success flags, and every
        response answering a circulation request or a login has one.
        """
        for name in codec.__all__:
            cls = getattr(codec, name)
            if isinstance(cls, type) and attrs.has(cls):
                names = {f.name for f in attrs.fields(cls)}
                self.assertLessEqual(len(names & set(FLAGS)), 1, name)
        for code in ("94", "98", "12", "10", "20", "16", "30", "66", "36", "38"):
            names = {f.name for f in attrs.fields(codec.messageClass(code))}
            self.assertEqual(len(names & set(FLAGS)), 1, code)

    def test_flags(self):
        """
        A set flag decides in both readings; a missing one is a failure to
        the strict reading and decides nothing to the lenient one.
        """
        self.assertReadings(
            [
                (codec.LoginResponse(ok=True), None, True, True),
                (codec.CheckoutResponse(ok=False), None, False, False),
                (codec.ACSStatus(onlineStatus=False), None, False, False),
                (codec.ItemStatusUpdateResponse(itemPropertiesOk=True), None, True, True),
                (codec.EndSessionResponse(endSession=True), None, True, True),
                (codec.FeePaidResponse(paymentAccepted=False), None, False, False),
                (codec.HoldResponse(), None, False, True),
                (codec.CheckoutResponse(validPatron=False), None, False, False),
            ]
        )

    def test_patrons(self):
        """
        A patron answer fails when C{BL} or C{CQ} says N. Without C{BL}, the
        strict reading wants a name; the lenient one counts it known. Only
        the strict reading, given the request, reads a Block Patron's
        answer's charge-privileges-denied flag.
        """
        self.assertReadings(
            [
                (codec.PatronStatusResponse(validPatron=True), None, True, True),
                (codec.PatronStatusResponse(validPatron=False, personalName="A"), None,
                 False, False),
                (codec.PatronInformationResponse(validPatron=True, validPatronPassword=False),
                 None, False, False),
                (codec.PatronEnableResponse(personalName="Ada"), None, True, True),
                (codec.PatronStatusResponse(personalName=""), None, False, True),
                (codec.PatronStatusResponse(validPatron=True, patronStatus=_BLOCKED),
                 codec.BlockPatron(), True, True),
                (codec.PatronStatusResponse(validPatron=True, patronStatus=" " * 14),
                 codec.BlockPatron(), False, True),
            ]
        )

    def test_items(self):
        """
        An 18 with a title succeeds. Without one, the strict reading counts
        the item known when its circulation status is not C{01}; the
        lenient reading counts it a refusal.
        """
        self.assertReadings(
            [
                (codec.ItemInformationResponse(titleIdentifier="Emma"), None, True, True),
                (codec.ItemInformationResponse(circulationStatus="01"), None, False, False),
                (codec.ItemInformationResponse(circulationStatus="03"), None, True, False),
                (codec.ItemInformationResponse(), None, False, False),
            ]
        )

    def test_otherMessages(self):
        """
        A message that is none of these (a 96) is no success to the strict
        reading and a success to the lenient one.
        """
        self.assertReadings([(codec.RequestSCResend(), None, False, True)])
