"""
Tests for the split of C{sip2acs.ils.base}: the time model in
L{sip2acs.ils.zones}, the adapter values in L{sip2acs.ils.values}, and
L{sip2acs.ils.base} keeping the base class, the errors and every name it
offered before, as the same objects.
"""

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.ils import base, values, zones
from sip2acs.ils.values import Terminal

_BEFORE = {
    # What sip2acs.ils.base defined before the split.
    "HostZone", "HOST_ZONE", "zoneNamed", "zoneName", "inZone", "wallTime",
    "toTuple", "toFlags", "CirculationStatus", "AlertType", "FeeType", "Reason",
    "Terminal", "ItemRef", "Patron", "Item", "CheckoutRequest", "CheckinRequest",
    "RenewRequest", "CirculationResult", "CheckinResult", "RenewAllResult",
    "HoldRequest", "HoldResult", "Payment", "PaymentResult", "ItemStatusResult",
    "SessionEnd", "UnsupportedOperation", "ILSUnavailable", "ILSBase",
}

_ADDED = {
    # What sip2acs.ils.values gained since (re-exported whole): the 63
    # summary and the converters of Patron.itemCounts and the extra fields;
    # the mapping of patron attributes and item fields, and its converter.
    "Summary", "toCounts", "toFields", "FrozenMap", "toMap",
    # An adapter's unknown settings, which the configuration places.
    "UnknownSettings",
}


class PublicNamesTests(SynchronousTestCase):
    """
    C{sip2acs.ils.base} still offers every name it defined, and each is the
    object of its new home.
    """

    def test_everyNameKept(self):
        """
        The names C{sip2acs.ils.base} defined before are all in its
        C{__all__}, and nothing else is but the values added since.
        """
        self.assertEqual(set(base.__all__), _BEFORE | _ADDED)

    def test_sameObjects(self):
        """
        Each re-exported name is the object its new home defines, and each
        new home's C{__all__} is re-exported whole.
        """
        for home in (zones, values):
            for name in home.__all__:
                self.assertIs(getattr(base, name), getattr(home, name), name)
                self.assertIn(name, base.__all__)

    def test_homesDisjoint(self):
        """
        No name lives in two homes.
        """
        self.assertEqual(set(zones.__all__) & set(values.__all__), set())


class ILSBaseTests(SynchronousTestCase):
    """
    L{base.ILSBase} refuses what a subclass does not implement.
    """

    def test_unsupported(self):
        """
        An operation the subclass does not implement fails with
        L{base.UnsupportedOperation} naming the operation, and
        L{base.ILSBase.supports} answers from C{operations} and the
        session operations.
        """
        ils = base.ILSBase()
        failure = self.failureResultOf(
            ils.lookupItem(Terminal("sc", "DEMO"), "I1"), base.UnsupportedOperation
        )
        self.assertEqual(failure.value.args, ("itemInformation",))
        self.assertFalse(ils.supports("checkout"))
        self.assertTrue(ils.supports("login"))
