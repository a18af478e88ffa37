"""
Tests for L{sip2acs.passwords}.
"""

from twisted.trial.unittest import SynchronousTestCase

from sip2acs.passwords import VerifiedCache, hashPassword, isHashed, verifyPassword


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


class VerifiedCacheTests(SynchronousTestCase):
    def setUp(self):
        self.now = 1000.0
        self.cache = VerifiedCache(size=2, ttl=60, now=lambda: self.now)
        self.stored = hashPassword("1234", cost=4)

    def test_verifies(self) -> None:
        """
        The cache answers like L{verifyPassword}, the first time and again.
        """
        for _ in range(2):
            self.assertTrue(self.cache.verify("1234", self.stored))
            self.assertFalse(self.cache.verify("1235", self.stored))
        self.assertFalse(self.cache.verify(None, self.stored))
        self.assertFalse(self.cache.verify("1234", "garbage"))

    def test_remembersSuccessOnly(self) -> None:
        """
        A verified secret is answered without scrypt until it expires; a
        wrong one always pays for scrypt.
        """
        calls = []
        import sip2acs.passwords as passwords

        real = passwords.verifyPassword
        self.patch(passwords, "verifyPassword", lambda *a: calls.append(a) or real(*a))
        self.cache.verify("1234", self.stored)
        self.cache.verify("1234", self.stored)
        self.assertEqual(len(calls), 1)
        self.cache.verify("0000", self.stored)
        self.cache.verify("0000", self.stored)
        self.assertEqual(len(calls), 3)
        self.now += 61
        self.cache.verify("1234", self.stored)
        self.assertEqual(len(calls), 4)

    def test_newHashNotMatched(self) -> None:
        """
        After a PIN change (a new stored hash) the old PIN fails at once.
        """
        self.assertTrue(self.cache.verify("1234", self.stored))
        self.assertFalse(self.cache.verify("1234", hashPassword("9999", cost=4)))

    def test_remembers(self) -> None:
        """
        L{VerifiedCache.remembers} answers from the cache alone: a secret
        verified against this hash and not expired, nothing else.
        """
        self.assertFalse(self.cache.remembers("1234", self.stored))
        self.cache.verify("1234", self.stored)
        self.assertTrue(self.cache.remembers("1234", self.stored))
        self.assertFalse(self.cache.remembers("1235", self.stored))
        self.assertFalse(self.cache.remembers("1234", hashPassword("1234", cost=4)))
        self.assertFalse(self.cache.remembers(None, self.stored))
        self.assertFalse(self.cache.remembers("1234", None))
        self.now += 61
        self.assertFalse(self.cache.remembers("1234", self.stored))

    def test_bounded(self) -> None:
        """
        Beyond C{size} entries the oldest is forgotten; entries are 32-byte
        HMAC digests, not secrets.
        """
        for pin in ("a", "b", "c"):
            self.cache.verify(pin, hashPassword(pin, cost=4))
        self.assertEqual(len(self.cache._entries), 2)
        for digest in self.cache._entries:
            self.assertEqual(len(digest), 32)
