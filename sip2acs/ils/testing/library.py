# -*- test-case-name: tests.test_ils_memory,tests.test_ils_sqlite -*-
"""
The contract's own small library, as plain values: what an adapter under
the contract must hold when a test starts.

L{contractLibrary} builds it at a moment (by default L{CONTRACT_NOW}, in
L{CONTRACT_ZONE}); every time in it is aware and relative to that moment.
An adapter's loader (the C{makeILS} hook of
L{sip2acs.ils.testing.ILSContractMixin}) writes these values into a fresh
adapter however that adapter stores them.

Two branches, C{MAIN} (the default) and C{EAST}; institution C{DEMO},
currency USD. Every patron with a PIN has the PIN L{PIN}. The people and
things, each there to show one case::

  P0001 Alice Able   good standing: I0003, I0009 (EAST's), I0013 (renewed to
                     the limit) out; owes 2.50 for I0002; personal details,
                     internet privileges FULL, attributes LOCKER and SCHOOL
  P0002 Bob Baker    card expired yesterday
  P0003 Carol Clark  card reported lost
  P0004 Dave Dunn    card blocked by a kiosk
  P0005 Eve Evans    owes 15.00 (over the 10.00 limit), has I0014 out
  P0006 Frank Ford   I0015, I0016, I0017 overdue (more than the 2 allowed)
  P0007 Grace Green  CHILD, at the class's loan limit of 3; internet FILTERED
  P0008 Henry Hill   no PIN at all
  P0009 Ivy Irwin    home EAST; I0008 ready for her at MAIN, waits for I0004
  P0010 Jack Jones   has I0004 out; title-level hold on Jane Eyre (B014),
                     pickup EAST
  P0011 Kate King    has I0022 out, marked lost since, overdue 5 days (one
                     overdue item: under the limit, not blocked)

  I0001, I0002 Pride and Prejudice (title B001), on the shelf; I0001 has
                     the extra fields format and language
  I0005 a REF item (does not circulate)    I0006 lost    I0007 missing
  I0010 a DVD with a 1.00 rental fee       I0011 a video cassette (magnetic)
  I0012 EAST's, on the shelf there         I0021 EAST's, in transit home
  I0022 lost while on loan to P0011

The rules (L{ContractRule}, read like a loan rule table: C{*} matches any
patron class or item type) give 21-day loans, 2 renewals, a 10.00 fee
limit, 2 overdue items, 10 loans and 5 holds; CHILD: 3 loans; REF does not
circulate; a DVD costs 1.00 to borrow (and has its own period and fines,
which the contract leaves to each system). The patron classes have names:
ADULT is "Adult", CHILD is "Child" (C{ContractLibrary.patronClasses}).
"""

from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from sip2acs.ils.values import FeeType

__all__ = [
    "PIN",
    "CONTRACT_ZONE",
    "CONTRACT_NOW",
    "ContractPatron",
    "ContractItem",
    "ContractLoan",
    "ContractHold",
    "ContractFee",
    "ContractRule",
    "ContractLibrary",
    "contractLibrary",
]

PIN = "1234"
"""
The PIN of every patron of the contract library who has one.
"""

CONTRACT_ZONE = ZoneInfo("America/Chicago")
"""
The institution's zone; daylight saving time starts there six days after
L{CONTRACT_NOW}, so loans made then fall due in another UTC offset.
"""

CONTRACT_NOW = datetime(2025, 3, 3, 10, 0, 0, tzinfo=CONTRACT_ZONE)
"""
The moment the contract library is set at, and the adapter's clock.
"""


@attrs.frozen
class ContractPatron:
    """
    A patron. C{pin} L{None}: the patron has no PIN, so any PIN is wrong.
    C{expires} L{None}: the card never expires. C{attributes}: the
    patron's extra attributes, C{(code, value)} pairs.
    """

    patronId: str
    name: str
    pin: str | None = PIN
    patronClass: str = "ADULT"
    homeBranch: str = "MAIN"
    expires: date | None = None
    cardLost: bool = False
    blocked: bool = False
    blockNote: str | None = None
    blockedAt: datetime | None = None
    language: str = "001"
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    birthDate: date | None = None
    internetPrivileges: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class ContractItem:
    """
    An item. C{status} is C{available}, C{lost}, C{missing}, C{in_transit}
    (to C{destination}), C{on_hold_shelf} (see L{ContractHold}) or
    C{charged} (see L{ContractLoan}); C{titleId} is the record id that
    title-level holds name; C{fields}: the item's extra fields, C{(code,
    value)} pairs.
    """

    itemId: str
    title: str
    titleId: str | None = None
    itemType: str = "BOOK"
    homeBranch: str = "MAIN"
    status: str = "available"
    destination: str | None = None
    mediaType: str = "001"
    magnetic: bool = False
    collectionCode: str = "FIC"
    callNumber: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class ContractLoan:
    """
    An open loan, made at C{out} at branch C{MAIN}, due at C{due}, renewed
    C{renewals} times.
    """

    itemId: str
    patronId: str
    out: datetime
    due: datetime
    renewals: int = 0


@attrs.frozen
class ContractHold:
    """
    An active hold, in the order placed: on one copy (C{itemId}) or on a
    title (C{itemId} L{None}, C{titleKey} the record id). C{ready}: the
    item is on the hold shelf at C{pickup} until C{shelfExpires}.
    """

    patronId: str
    itemId: str | None
    titleKey: str
    title: str
    pickup: str
    placed: datetime
    ready: bool = False
    shelfExpires: datetime | None = None


@attrs.frozen
class ContractFee:
    """
    An unpaid fee, oldest C{created} first when paid.
    """

    patronId: str
    itemId: str | None
    feeType: str
    amount: Decimal
    description: str
    created: datetime


@attrs.frozen
class ContractRule:
    """
    A loan rule: for C{patronClass} and C{itemType} (C{*}: any), the loan
    period in days (0: does not circulate) and the limits. The patron-wide
    limits (C{maxLoans} on an item type C{*} row, C{feeLimit},
    C{maxOverdue}, C{maxHolds}) are read from item type C{*} rows.
    """

    loanDays: int
    patronClass: str = "*"
    itemType: str = "*"
    maxLoans: int | None = None
    maxRenewals: int = 2
    finePerDay: Decimal = Decimal("0.00")
    fineCap: Decimal | None = None
    rentalFee: Decimal = Decimal("0.00")
    feeLimit: Decimal | None = None
    maxOverdue: int | None = None
    maxHolds: int | None = None


@attrs.frozen
class ContractLibrary:
    """
    Everything an adapter must hold for the contract, at C{now} in C{zone}.

    @ivar branches: C{(code, name)} pairs; C{defaultBranch} is where a
        terminal whose location is no branch code is.
    @ivar patronClasses: C{(code, name)} pairs: the names of the patron
        classes.
    """

    now: datetime
    zone: tzinfo
    institution: str
    libraryName: str
    currency: str
    branches: tuple
    defaultBranch: str
    holdShelfDays: int
    rules: tuple
    patrons: tuple
    items: tuple
    loans: tuple
    holds: tuple
    fees: tuple
    patronClasses: tuple = (("ADULT", "Adult"), ("CHILD", "Child"))


def _rules() -> tuple[ContractRule, ...]:
    money = Decimal
    return (
        ContractRule(21, maxLoans=10, finePerDay=money("0.25"), fineCap=money("5.00"),
                     feeLimit=money("10.00"), maxOverdue=2, maxHolds=5),
        ContractRule(7, itemType="DVD", maxLoans=3, maxRenewals=1,
                     finePerDay=money("1.00"), fineCap=money("10.00"),
                     rentalFee=money("1.00")),
        ContractRule(7, itemType="VIDEO", maxRenewals=1, finePerDay=money("0.50"),
                     fineCap=money("5.00")),
        ContractRule(0, itemType="REF"),
        ContractRule(21, patronClass="CHILD", maxLoans=3, finePerDay=money("0.10"),
                     fineCap=money("2.00"), feeLimit=money("5.00"), maxOverdue=2,
                     maxHolds=3),
    )


def _patrons(today: date, blockedAt: datetime) -> tuple[ContractPatron, ...]:
    card = today + timedelta(days=365)
    return (
        ContractPatron("P0001", "Alice Able", expires=card, email="alice@example.org",
                       phone="555-0101", address="1 Library Lane, Springfield",
                       birthDate=date(1990, 4, 1), internetPrivileges="FULL",
                       attributes=(("LOCKER", "17"), ("SCHOOL", "Springfield College"))),
        ContractPatron("P0002", "Bob Baker", expires=today - timedelta(days=1)),
        ContractPatron("P0003", "Carol Clark", expires=card, cardLost=True),
        ContractPatron("P0004", "Dave Dunn", expires=card, blocked=True,
                       blockNote="Card retained at a kiosk", blockedAt=blockedAt),
        ContractPatron("P0005", "Eve Evans", expires=card),
        ContractPatron("P0006", "Frank Ford", expires=card),
        ContractPatron("P0007", "Grace Green", expires=card, patronClass="CHILD",
                       birthDate=date(2016, 9, 12), internetPrivileges="FILTERED"),
        ContractPatron("P0008", "Henry Hill", pin=None, expires=card),
        ContractPatron("P0009", "Ivy Irwin", expires=card, homeBranch="EAST",
                       email="ivy@example.org"),
        ContractPatron("P0010", "Jack Jones", expires=card, phone="555-0110"),
        ContractPatron("P0011", "Kate King", expires=card),
    )


def _items() -> tuple[ContractItem, ...]:
    out, juvenile = "charged", {"collectionCode": "JUV"}
    shelved: list[tuple[str, str, dict[str, Any]]] = [
        ("Pride and Prejudice", "available",
         {"titleId": "B001", "fields": (("format", "Paperback"), ("language", "eng"))}),
        ("Pride and Prejudice", "available", {"titleId": "B001"}),
        ("Moby Dick", out, {}),
        ("Emma", out, {}),
        ("Oxford English Dictionary", "available",
         {"itemType": "REF", "collectionCode": "REF"}),
        ("Ulysses", "lost", {}),
        ("War and Peace", "missing", {}),
        ("Middlemarch", "on_hold_shelf", {"destination": "MAIN"}),
        ("Dracula", out, {"homeBranch": "EAST"}),
        ("Metropolis", "available",
         {"itemType": "DVD", "mediaType": "006", "collectionCode": "AV"}),
        ("Casablanca", "available",
         {"itemType": "VIDEO", "mediaType": "005", "magnetic": True,
          "collectionCode": "AV"}),
        ("Persuasion", "available", {"homeBranch": "EAST"}),
        ("Frankenstein", out, {}),
        ("Jane Eyre", out, {"titleId": "B014"}),
        ("Bleak House", out, {}),
        ("Great Expectations", out, {}),
        ("Hard Times", out, {}),
        ("Peter Pan", out, juvenile),
        ("Alice in Wonderland", out, juvenile),
        ("The Secret Garden", out, juvenile),
        ("The Time Machine", "in_transit", {"homeBranch": "EAST", "destination": "EAST"}),
        ("Robinson Crusoe", "lost", {}),
    ]
    return tuple(
        ContractItem("I%04d" % (number,), title, status=status,
                     callNumber="DEMO %04d" % (number,), **extra)
        for number, (title, status, extra) in enumerate(shelved, start=1)
    )


def contractLibrary(now: datetime = CONTRACT_NOW) -> ContractLibrary:
    """
    The contract library set at C{now}, an aware time whose zone is the
    institution's.
    """
    zone = now.tzinfo
    assert zone is not None, "the contract library needs an aware time"
    today = now.date()

    def dueIn(days: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(23, 59), tzinfo=zone)

    def ago(days: int) -> datetime:
        return now - timedelta(days=days)

    # (item, patron, days until due, renewals); loans run 21 days.
    loans = tuple(
        ContractLoan(item, patron, out=ago(21 - days), due=dueIn(days), renewals=renewals)
        for item, patron, days, renewals in [
            ("I0003", "P0001", 10, 0), ("I0009", "P0001", 5, 0),
            ("I0013", "P0001", 12, 2), ("I0004", "P0010", 7, 0),
            ("I0014", "P0005", 14, 0), ("I0015", "P0006", -10, 0),
            ("I0016", "P0006", -30, 0), ("I0017", "P0006", -3, 0),
            ("I0018", "P0007", 14, 0), ("I0019", "P0007", 15, 0),
            ("I0020", "P0007", 16, 0), ("I0022", "P0011", -5, 0),
        ]
    )
    holds = (
        ContractHold("P0009", "I0008", "Middlemarch", "Middlemarch", "MAIN", ago(6),
                     ready=True, shelfExpires=dueIn(6)),
        ContractHold("P0009", "I0004", "Emma", "Emma", "MAIN", ago(3)),
        ContractHold("P0010", None, "B014", "Jane Eyre", "EAST", ago(2)),
    )
    fees = (
        ContractFee("P0001", "I0002", FeeType.OVERDUE, Decimal("2.50"),
                    "Overdue 10 days: Pride and Prejudice", ago(20)),
        ContractFee("P0005", "I0006", FeeType.DAMAGE, Decimal("11.00"),
                    "Damage: Ulysses", ago(20)),
        ContractFee("P0005", None, FeeType.OVERDUE, Decimal("4.00"),
                    "Overdue fines", ago(10)),
    )
    return ContractLibrary(
        now=now,
        zone=zone,
        institution="DEMO",
        libraryName="Demo Library",
        currency="USD",
        branches=(("MAIN", "Main Library"), ("EAST", "East Branch")),
        defaultBranch="MAIN",
        holdShelfDays=7,
        rules=_rules(),
        patrons=_patrons(today, ago(2)),
        items=_items(),
        loans=loans,
        holds=holds,
        fees=fees,
    )
