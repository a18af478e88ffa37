# -*- test-case-name: tests.test_passwords -*-
"""
Salted password hashes for SC account passwords and patron PINs.

Stored form: C{scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>}, so the cost
travels with the hash and can be raised later without a migration. Hashes
are compared with L{hmac.compare_digest}. Clear-text secrets are never
stored or logged; callers pass them in and forget them.

Checking a hash costs milliseconds of CPU by design: call L{verifyPassword}
from a thread (the session does), never from the reactor thread.
"""

import base64
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeGuard

__all__ = [
    "hashPassword",
    "verifyPassword",
    "isHashed",
    "VerifiedCache",
    "PASSWORD_COST",
    "PIN_COST",
]

PASSWORD_COST = 14
"""
log2 of scrypt's n for SC account passwords (16 MiB, tens of ms).
"""

PIN_COST = 12
"""
log2 of scrypt's n for patron PINs: cheaper, since patrons are imported by
the ten thousand and looked up at every kiosk transaction.
"""

_PREFIX = "scrypt$"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, salt: bytes, cost: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=2**cost,
        r=r,
        p=p,
        maxmem=2**cost * r * 256,
        dklen=32,
    )


def hashPassword(secret: str, cost: int = PASSWORD_COST, salt: bytes | None = None) -> str:
    """
    Hash a password or PIN with a fresh random salt.

    @type secret: L{str}
    @param cost: log2 of scrypt's work factor n.
    @rtype: L{str}
    """
    if salt is None:
        salt = os.urandom(16)
    r, p = 8, 1
    digest = _derive(secret, salt, cost, r, p)
    return "%s%d$%d$%d$%s$%s" % (_PREFIX, cost, r, p, _b64(salt), _b64(digest))


def isHashed(value: object) -> TypeGuard[str]:
    """
    Whether C{value} looks like a hash made by L{hashPassword}.
    """
    return isinstance(value, str) and value.startswith(_PREFIX) and (
        value.count("$") == 5
    )


def verifyPassword(secret: str | None, stored: str | None) -> bool:
    """
    Check C{secret} against a stored hash, in constant time.

    A malformed or missing stored hash never matches.

    @type secret: L{str}
    @type stored: L{str} or L{None}
    @rtype: L{bool}
    """
    if not isHashed(stored) or secret is None:
        return False
    try:
        _, cost, r, p, salt, digest = stored.split("$")
        expected = _unb64(digest)
        actual = _derive(secret, _unb64(salt), int(cost), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class VerifiedCache:
    """
    Remembers recent successful checks so that the same secret sent again
    (a kiosk re-sending the patron's PIN with every request of a visit, or
    reconnecting with its account password) costs an HMAC instead of an
    scrypt.

    Only successes are remembered, so guessing still pays the full scrypt
    price for every wrong guess. Entries are HMAC-SHA256 digests of the
    stored hash and the secret under a key made at random for this process:
    neither the secret nor anything that verifies it offline without that
    key is kept. Entries expire after C{ttl} seconds and the oldest are
    dropped beyond C{size}; a changed PIN or password has a new stored hash,
    so old entries never match it. Thread-safe.
    """

    def __init__(
        self, size: int = 10000, ttl: float = 900.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._key = os.urandom(32)
        self._size = size
        self._ttl = ttl
        self._now = now
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, secret: str, stored: str) -> bytes:
        message = stored.encode("ascii", "replace") + b"\0" + secret.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def remembers(self, secret: str | None, stored: str | None) -> bool:
        """
        Whether C{secret} was verified against C{stored} within the last
        C{ttl} seconds: the cache alone (an HMAC, no scrypt), so it may be
        asked on the reactor thread. L{False} says nothing about the
        secret; L{verify} then checks it.

        @rtype: L{bool}
        """
        if secret is None or not isHashed(stored):
            return False
        digest = self._digest(secret, stored)
        with self._lock:
            expires = self._entries.get(digest)
        return expires is not None and expires > self._now()

    def verify(self, secret: str | None, stored: str | None) -> bool:
        """
        L{verifyPassword}, answered from the cache when this secret was
        verified against C{stored} within the last C{ttl} seconds.

        @rtype: L{bool}
        """
        if secret is None or not isHashed(stored):
            return False
        digest = self._digest(secret, stored)
        now = self._now()
        with self._lock:
            expires = self._entries.get(digest)
            if expires is not None:
                if expires > now:
                    return True
                del self._entries[digest]
        if not verifyPassword(secret, stored):
            return False
        with self._lock:
            self._entries[digest] = now + self._ttl
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return True
