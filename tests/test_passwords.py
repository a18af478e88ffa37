"""
Tests for L{sip2acs.passwords}.
"""

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.passwords import hashPassword, isHashed, verifyPassword


class PasswordTests(SynchronousTestCase):
    def test_roundTrip(self) -> None:
        """
        A hash verifies its own secret and no other.
        """
        stored = hashPassword("s3cret", cost=4)
        self.assertTrue(isHashed(stored))
        self.assertTrue(verifyPassword("s3cret", stored))
        self.assertFalse(verifyPassword("s3cret ", stored))
        self.assertFalse(verifyPassword("", stored))

    def test_salted(self) -> None:
        """
        Two hashes of one secret differ (random salt) and neither contains
        it.
        """
        a, b = hashPassword("1234", cost=4), hashPassword("1234", cost=4)
        self.assertNotEqual(a, b)
        self.assertNotIn("1234", a.split("$", 4)[-1])

    def test_costRecorded(self) -> None:
        """
        The work factor is part of the stored form, so hashes of different
        costs verify side by side.
        """
        self.assertTrue(hashPassword("x", cost=5).startswith("scrypt$5$8$1$"))
        self.assertTrue(verifyPassword("x", hashPassword("x", cost=5)))

    def test_unicode(self) -> None:
        """
        Non-ASCII secrets hash as UTF-8.
        """
        self.assertTrue(verifyPassword("Zoë", hashPassword("Zoë", cost=4)))

    def test_malformed(self) -> None:
        """
        A malformed or missing stored value never matches and never raises.
        """
        for stored in [None, "", "demo", "scrypt$x$8$1$aa$bb", "scrypt$4$8$1$!!$??"]:
            self.assertFalse(verifyPassword("demo", stored))
        self.assertFalse(verifyPassword(None, hashPassword("x", cost=4)))
