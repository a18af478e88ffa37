# -*- test-case-name: tests.test_session,tests.test_protocol -*-
"""
Fixtures every session and transport test shares: a configuration with one
listener, the C{DEMO} institution and its accounts, a small in-memory
library, requests built the way a kiosk builds them, and log capture.

Nothing here listens or connects: L{tests.memory} talks to a server in
memory, L{tests.loopback} over real loopback sockets.
"""

from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher

from sip2acs.config import (
    AccessSettings,
    AccountConfig,
    Config,
    InstitutionConfig,
    ListenerConfig,
    ProxySettings,
    TLSSettings,
)
from sip2acs.ils.memory import MemoryILS, MemoryItem, MemoryPatron
from sip2acs.passwords import hashPassword
from sip2acs.sip import codec
from sip2acs.sip.spec import FIELDS

__all__ = [
    "ADA",
    "ADA_DUE",
    "ADA_LOAN",
    "ADA_PIN",
    "FREE_ITEM",
    "INSTITUTION",
    "LOGIN",
    "OTHER_ITEM",
    "PASSWORD",
    "TIMEOUT",
    "WHEN",
    "ZOE",
    "ZOE_PIN",
    "captureLogs",
    "login",
    "makeAccount",
    "makeConfig",
    "makeILS",
    "makeListener",
    "request",
    "runInline",
    "startDemoILS",
    "withChecksum",
]

INSTITUTION = "DEMO"
LOGIN = "kiosk"
PASSWORD = "secret"
WHEN = "20250314    101500"
"""
A transaction date for requests: SIP's 18-character local-time form.
"""

TIMEOUT = 5.0
"""
How long a helper waits for a reply or a close before failing the test.
"""

# Patrons and items of the default in-memory library.
ADA = "P1001"
ADA_PIN = "7319"
ZOE = "P1002"
ZOE_PIN = "5802"
FREE_ITEM = "B2001"
OTHER_ITEM = "B2002"
ADA_LOAN = "B2003"
ADA_DUE = datetime(2025, 3, 20, 23, 59)

_hashes: dict[str, str] = {}


def _hash(password: str) -> str:
    """
    A cheap (cost 10) hash of C{password}, computed once per test run.
    """
    if password not in _hashes:
        _hashes[password] = hashPassword(password, cost=10)
    return _hashes[password]


def makeAccount(login: str = LOGIN, password: str = PASSWORD, **settings: Any) -> AccountConfig:
    """
    An SC account of the C{DEMO} institution.

    @param settings: Other L{AccountConfig} attributes (C{errorDetection},
        C{encoding}, C{terminator}, C{location}, ...).
    """
    settings.setdefault("institution", INSTITUTION)
    return AccountConfig(login=login, passwordHash=_hash(password), **settings)


_TLS_SETTINGS = {
    "certificate": "certificate",
    "privateKey": "privateKey",
    "chain": "chain",
    "clientCA": "clientCA",
    "tlsMinimum": "minimum",
}
_ACCESS_SETTINGS = ("allow", "maxConnectionsPerAddress", "loginFailuresBeforeCooloff", "cooloff")


def makeListener(endpoint: str = "tcp:0:interface=127.0.0.1", **settings: Any) -> ListenerConfig:
    """
    A L{ListenerConfig} from settings named as the TOML keys are, flat:
    C{certificate}, C{privateKey}, C{chain}, C{clientCA} and C{tlsMinimum}
    make its L{TLSSettings} (given C{transport="tls"}); C{proxyProtocol}
    and C{proxyFrom} its L{ProxySettings}; C{allow},
    C{maxConnectionsPerAddress}, C{loginFailuresBeforeCooloff} and
    C{cooloff} its L{AccessSettings}; the rest are L{ListenerConfig}'s own.
    """
    tls = {_TLS_SETTINGS[name]: settings.pop(name) for name in _TLS_SETTINGS if name in settings}
    access = {name: settings.pop(name) for name in _ACCESS_SETTINGS if name in settings}
    if settings.pop("proxyProtocol", False):
        settings["proxy"] = ProxySettings(settings.pop("proxyFrom", None))
    if settings.get("transport") == "tls":
        settings["tls"] = TLSSettings(**tls)
    if (tls and "tls" not in settings) or "proxyFrom" in settings:
        raise TypeError("TLS files need transport='tls', proxyFrom proxyProtocol=True")
    return ListenerConfig(endpoint=endpoint, access=AccessSettings(**access), **settings)


def makeConfig(
    loginTimeout: float = 30.0,
    idleTimeout: float | None = 600.0,
    maxFrame: int = 16384,
    statusBeforeLogin: bool = False,
    accounts: list[AccountConfig] | None = None,
    **institution: Any,
) -> Config:
    """
    A configuration with one loopback listener, the C{DEMO} institution and
    the accounts given (by default C{kiosk}/C{secret}, error detection
    mirrored, ASCII, CR).

    @param institution: L{InstitutionConfig} attributes overriding the
        defaults (C{timeoutPeriod}, C{retries}, C{checkin}, ...).
    """
    if accounts is None:
        accounts = [makeAccount()]
    institution.setdefault("libraryName", "Harbour Street Library")
    return Config(
        listeners=(
            ListenerConfig(
                endpoint="tcp:0:interface=127.0.0.1",
                loginTimeout=loginTimeout,
                idleTimeout=idleTimeout,
                maxFrame=maxFrame,
                statusBeforeLogin=statusBeforeLogin,
            ),
        ),
        institutions={
            INSTITUTION: InstitutionConfig(
                id=INSTITUTION, adapter="memory", **institution
            )
        },
        accounts={account.login: account for account in accounts},
    )


def makeILS(cls: type[MemoryILS] = MemoryILS) -> MemoryILS:
    """
    A small in-memory library: two patrons with PINs (one with a
    non-ASCII name), two items on the shelf and one on loan to the first
    patron.

    @param cls: L{MemoryILS} or a subclass.
    """
    return cls(
        patrons=[
            MemoryPatron(ADA, "Ada Quillfeather", pin=ADA_PIN),
            MemoryPatron(ZOE, "Zo\N{LATIN SMALL LETTER E WITH DIAERESIS} Marsh", pin=ZOE_PIN),
        ],
        items=[
            MemoryItem(FREE_ITEM, "Clockwork Gardens"),
            MemoryItem(OTHER_ITEM, "Tidal Maps of the North"),
            MemoryItem(ADA_LOAN, "Lantern Stories", borrower=ADA, dueDate=ADA_DUE),
        ],
    )


def startDemoILS(testCase: Any, now: datetime) -> Deferred[Any]:
    """
    The embedded SQLite system with the demo library, its clock pinned at
    C{now}, started now and stopped when the test ends.

    @return: A Deferred firing with the L{SQLiteILS
        <sip2acs.ils.sqlite.SQLiteILS>} once its database is open.
    """
    from sip2acs.ils.sqlite import SQLiteILS

    ils = SQLiteILS(testCase.mktemp(), demo=True, clock=lambda: now, allowOverpayment=False)

    def started(ignored: object) -> Any:
        testCase.addCleanup(ils.stopService)
        return ils

    return ils.startService().addCallback(started)


# -- building requests ------------------------------------------------------


def withChecksum(prefix: bytes) -> bytes:
    """
    Complete a frame that ends in the literal C{AZ} with its checksum.

    @type prefix: L{bytes}
    """
    return prefix + codec.checksum(prefix).encode("ascii")


def request(
    cls: type[codec.Message],
    sequence: int | None = None,
    checksum: bool = False,
    encoding: str = "ascii",
    **fields: Any,
) -> bytes:
    """
    Encode a request (without terminator) the way a kiosk would.

    Fixed fields left out get harmless defaults: the transaction date
    L{WHEN}, C{N} flags, the institution C{DEMO}.
    """
    names = {field.name for field in cls.spec.fixed}
    for name, default in [
        ("transactionDate", WHEN),
        ("scRenewalPolicy", False),
        ("noBlock", False),
        ("nbDueDate", None),
        ("returnDate", None),
        ("language", "001"),
        ("cardRetained", False),
        ("holdMode", "+"),
        ("summary", " " * 10),
        ("thirdPartyAllowed", False),
        ("feeType", "01"),
        ("paymentType", "00"),
        ("currencyType", "USD"),
        ("uidAlgorithm", "0"),
        ("pwdAlgorithm", "0"),
    ]:
        if name in names:
            fields.setdefault(name, default)
    if "transactionDate" in fields and isinstance(fields["transactionDate"], str):
        fields["transactionDate"] = codec.parseDate(fields["transactionDate"])
    if "institutionId" in {FIELDS[fid].name for fid in cls.spec.fields}:
        fields.setdefault("institutionId", INSTITUTION)
    return codec.encode(
        cls(**fields), sequence=sequence, checksum=checksum, encoding=encoding
    )


def runInline(f: Any, *args: Any) -> Deferred[Any]:
    """
    An L{ACSServer}'s C{runInThread} for servers on a test clock, which has
    no thread pool: the work runs at once.
    """
    return succeed(f(*args))


def login(
    user: str = LOGIN, password: str = PASSWORD, sequence: int | None = None, **fields: Any
) -> bytes:
    """
    A 93 login request for C{user}.
    """
    return request(
        codec.Login, sequence=sequence, loginUserId=user, loginPassword=password,
        **fields,
    )


# -- logs -----------------------------------------------------------------


def captureLogs(testCase: Any) -> EventLoggingObserver:
    """
    Collect every log event published while the test runs.

    @return: An L{EventLoggingObserver}, a sequence of events.
    """
    return EventLoggingObserver.createWithCleanup(testCase, globalLogPublisher)
