# -*- test-case-name: tests.test_ils_sqlite,tests.test_dbcopy -*-
"""
Demo data for the circulation system, on SQLite or PostgreSQL (through the
store seam): every case a kiosk meets.

Load it with C{sip2acs db demo}, or C{demo = true} in an institution's
configuration (loaded when the server creates the database); all dates
are relative to the moment it is loaded. Every patron with a PIN
has PIN C{1234}. Two branches: C{MAIN} (Main Library, the default) and
C{EAST} (East Branch); institution C{DEMO}, currency USD. Terminals whose
location (C{CP}/C{AP}) is not a branch code are at C{MAIN}.

Patrons::

  ======= ============ ==== =========================================================
  Barcode Name         PIN  Demonstrates
  ======= ============ ==== =========================================================
  P0001   Alice Able   1234 good standing (ADULT, MAIN): 3 loans (I0003, I0009, I0013),
                            owes 2.50, e-mail/phone/address/birth date, card
                            expiry, internet privileges FULL, attributes
                            LOCKER 17 and SCHOOL Springfield College
  P0002   Bob Baker    1234 expired card (expired yesterday)
  P0003   Carol Clark  1234 card reported lost
  P0004   Dave Dunn    1234 card blocked by a kiosk (01), card retained
  P0005   Eve Evans    1234 owes 15.00, over the 10.00 limit; has I0014 out
  P0006   Frank Ford   1234 too many overdue: I0015 (10 days), I0016 (30 days),
                            I0017 (3 days) overdue, limit 2
  P0007   Grace Green  1234 CHILD at the loan limit of 3 (I0018, I0019, I0020);
                            internet privileges FILTERED
  P0008   Henry Hill   none no PIN set (any PIN given is wrong)
  P0009   Ivy Irwin    1234 home EAST; hold ready at MAIN (I0008), waiting for I0004
  P0010   Jack Jones   1234 has I0004 out (renewal refused: Ivy waits); title-level
                            hold on Jane Eyre for pickup at EAST
  ======= ============ ==== =========================================================

Items (books at MAIN unless said otherwise)::

  ======= ========================== ============================================
  Barcode Title                      Demonstrates
  ======= ========================== ============================================
  I0001   Pride and Prejudice        available (copy 1 of title B001); extra
                                     fields format Paperback, language eng
  I0002   Pride and Prejudice        available (copy 2 of title B001)
  I0003   Moby Dick                  out to P0001, renewable
  I0004   Emma                       out to P0010; checkin traps Ivy's hold here
                                     (CV 01)
  I0005   Oxford English Dictionary  REF: in-library use only (desensitize N)
  I0006   Ulysses                    lost
  I0007   War and Peace              missing
  I0008   Middlemarch                on the hold shelf at MAIN for P0009
  I0009   Dracula                    EAST's, out to P0001; checkin at MAIN
                                     sends it home (CV 04)
  I0010   Metropolis                 DVD with a 1.00 rental fee (BO)
  I0011   Casablanca                 VIDEO cassette: magnetic media
  I0012   Persuasion                 EAST's, available at EAST
  I0013   Frankenstein               out to P0001, renewal limit reached
  I0014   Jane Eyre                  out to P0005; checkin traps Jack's title
                                     hold for EAST (CV 02)
  I0015   Bleak House                10 days overdue (P0006): fine 2.50
  I0016   Great Expectations         30 days overdue (P0006): fine capped 5.00
  I0017   Hard Times                 3 days overdue (P0006)
  I0018   Peter Pan                  out to P0007
  I0019   Alice in Wonderland        out to P0007
  I0020   The Secret Garden          out to P0007
  I0021   The Time Machine           EAST's, in transit to EAST
  ======= ========================== ============================================

Rules: 21 days, 2 renewals, 0.25 a day up to 5.00, blocked over 10.00 owed or
more than 2 overdue, 10 loans and 5 holds; DVDs 7 days, 1 renewal, 1.00 a
day up to 10.00, rental 1.00, 3 at a time; video cassettes 7 days; REF does
not circulate; CHILD: 3 loans, 0.10 a day up to 2.00, blocked over 5.00.
The patron classes are named: ADULT "Adult", CHILD "Child" (C{PC} shows the
name, or the code where an account asks for it). Every card but Bob's
expires a year from the day the demo is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sip2acs.ils.sql.store import Store, writeTime
from sip2acs.ils.values import FeeType
from sip2acs.passwords import PIN_COST, hashPassword

__all__ = ["loadDemo", "DEMO_PIN", "DEMO_TABLES"]

DEMO_PIN = "1234"

DEMO_TABLES = ("patrons", "items", "loans", "holds", "fees")
"""
The tables the demo fills with explicit ids.
"""

DEMO_ATTRIBUTES = {1: {"LOCKER": "17", "SCHOOL": "Springfield College"}}
"""
The demo patrons' attributes, by patron id.
"""

DEMO_FIELDS = {1: {"format": "Paperback", "language": "eng"}}
"""
The demo items' extra fields, by item id.
"""


def _ts(value: datetime) -> str | None:
    return writeTime(value)


def _due(now: datetime, days: int) -> str | None:
    return _ts((now + timedelta(days=days)).replace(hour=23, minute=59, second=0))


def loadDemo(store: Store, now: datetime) -> None:
    """
    Load the demo data, in one transaction of C{store}.

    @param store: The database's L{Store} (migrated), outside any
        transaction.
    @param now: The time the demo is set at: aware (its wall time is
        used, in its own zone) or naive wall time.
    @raise ValueError: If the database already has patrons or items.
    """

    def body() -> None:
        if store.row(
            "SELECT (SELECT count(*) FROM patrons) + (SELECT count(*) FROM items)"
        )[0]:
            raise ValueError("the database already has patrons or items")
        _load(store, now.replace(microsecond=0))
        for table in DEMO_TABLES:
            store.followIds(table)
        store.journal(now, "demo", detail="demo data loaded")

    store.atomically(body)


def _insert(store: Store, table: str, rows: Iterable[Mapping[str, Any]],
            key: Sequence[str] = ()) -> None:
    """
    Insert rows given as mappings (a column missing from one is C{NULL}
    in it, as long as another row has it); with a C{key}, a row whose key
    exists updates that row's other columns instead.
    """
    rows = list(rows)
    names: list[str] = []
    for row in rows:
        names.extend(name for name in row if name not in names)
    sql = "INSERT INTO %s (%s) VALUES (%s)" % (
        table, ", ".join(names), ", ".join("?" * len(names))
    )
    if key:
        sql += " ON CONFLICT (%s) DO UPDATE SET %s" % (
            ", ".join(key),
            ", ".join("%s = excluded.%s" % (name, name) for name in names
                      if name not in key),
        )
    store.executemany(sql, [[row.get(name) for name in names] for row in rows])


def _load(store: Store, now: datetime) -> None:
    today = now.date()
    _insert(
        store,
        "branches",
        [
            {"code": "MAIN", "name": "Main Library"},
            {"code": "EAST", "name": "East Branch"},
        ],
        key=("code",),
    )
    _insert(
        store,
        "institutions",
        [{"id": "DEMO", "name": "Demo Library", "currency": "USD",
          "default_branch": "MAIN", "hold_shelf_days": 7}],
        key=("id",),
    )
    rule = dict(max_renewals=2, fine_cap_cents=None, rental_fee_cents=0,
                fee_limit_cents=None, max_overdue=None, max_holds=None,
                max_loans=None)
    _insert(
        store,
        "loan_rules",
        [
            dict(rule, patron_class="*", item_type="*", loan_days=21, max_loans=10,
                 fine_per_day_cents=25, fine_cap_cents=500, fee_limit_cents=1000,
                 max_overdue=2, max_holds=5),
            dict(rule, patron_class="*", item_type="DVD", loan_days=7, max_loans=3,
                 max_renewals=1, fine_per_day_cents=100, fine_cap_cents=1000,
                 rental_fee_cents=100),
            dict(rule, patron_class="*", item_type="VIDEO", loan_days=7,
                 max_renewals=1, fine_per_day_cents=50, fine_cap_cents=500),
            dict(rule, patron_class="CHILD", item_type="*", loan_days=21,
                 max_loans=3, fine_per_day_cents=10, fine_cap_cents=200,
                 fee_limit_cents=500, max_overdue=2, max_holds=3),
        ],
        key=("patron_class", "item_type"),
    )
    _insert(
        store,
        "patron_classes",
        [{"code": "ADULT", "name": "Adult"}, {"code": "CHILD", "name": "Child"}],
        key=("code",),
    )

    expires = (today + timedelta(days=365)).isoformat()
    patrons: list[tuple[str, dict[str, Any]]] = [
        ("Alice Able", {"email": "alice@example.org", "phone": "555-0101",
                        "address": "1 Library Lane, Springfield",
                        "birth_date": "1990-04-01", "internet_privileges": "FULL"}),
        ("Bob Baker", {"expires": (today - timedelta(days=1)).isoformat()}),
        ("Carol Clark", {"card_lost": 1}),
        ("Dave Dunn", {"blocked": 1, "block_note": "Card retained at a kiosk",
                       "blocked_at": _ts(now - timedelta(days=2))}),
        ("Eve Evans", {}),
        ("Frank Ford", {}),
        ("Grace Green", {"patron_class": "CHILD", "birth_date": "2016-09-12",
                         "internet_privileges": "FILTERED"}),
        ("Henry Hill", {"pin_hash": None}),
        ("Ivy Irwin", {"home_branch": "EAST", "email": "ivy@example.org"}),
        ("Jack Jones", {"phone": "555-0110"}),
    ]
    _insert(
        store,
        "patrons",
        (dict(
            {"id": number, "barcode": "P%04d" % (number,), "name": name,
             "pin_hash": hashPassword(DEMO_PIN, cost=PIN_COST),
             "patron_class": "ADULT", "home_branch": "MAIN",
             "expires": expires, "language": "001", "card_lost": 0,
             "blocked": 0, "block_note": None, "blocked_at": None,
             "email": None, "phone": None, "address": None,
             "birth_date": None},
            **extra,
        )
        for number, (name, extra) in enumerate(patrons, start=1)),
    )

    items = [
        ("Pride and Prejudice", "BOOK", "MAIN", "available", {"title_id": "B001"}),
        ("Pride and Prejudice", "BOOK", "MAIN", "available", {"title_id": "B001"}),
        ("Moby Dick", "BOOK", "MAIN", "charged", {}),
        ("Emma", "BOOK", "MAIN", "charged", {}),
        ("Oxford English Dictionary", "REF", "MAIN", "available",
         {"collection_code": "REF", "shelving_location": "Reference"}),
        ("Ulysses", "BOOK", "MAIN", "lost", {}),
        ("War and Peace", "BOOK", "MAIN", "missing", {}),
        ("Middlemarch", "BOOK", "MAIN", "on_hold_shelf", {"destination": "MAIN"}),
        ("Dracula", "BOOK", "EAST", "charged", {}),
        ("Metropolis", "DVD", "MAIN", "available", {"collection_code": "AV"}),
        ("Casablanca", "VIDEO", "MAIN", "available", {"collection_code": "AV"}),
        ("Persuasion", "BOOK", "EAST", "available", {}),
        ("Frankenstein", "BOOK", "MAIN", "charged", {}),
        ("Jane Eyre", "BOOK", "MAIN", "charged", {"title_id": "B014"}),
        ("Bleak House", "BOOK", "MAIN", "charged", {}),
        ("Great Expectations", "BOOK", "MAIN", "charged", {}),
        ("Hard Times", "BOOK", "MAIN", "charged", {}),
        ("Peter Pan", "BOOK", "MAIN", "charged", {"collection_code": "JUV"}),
        ("Alice in Wonderland", "BOOK", "MAIN", "charged", {"collection_code": "JUV"}),
        ("The Secret Garden", "BOOK", "MAIN", "charged", {"collection_code": "JUV"}),
        ("The Time Machine", "BOOK", "EAST", "in_transit", {"destination": "EAST"}),
    ]
    _insert(
        store,
        "items",
        (dict(
            {"id": number, "barcode": "I%04d" % (number,), "title": title,
             "item_type": itemType, "home_branch": home,
             "current_branch": "MAIN" if status != "available" else home,
             "status": status, "call_number": "DEMO %04d" % (number,),
             "collection_code": "FIC", "shelving_location": "Stacks"},
            **extra,
        )
        for number, (title, itemType, home, status, extra) in enumerate(items, start=1)),
    )

    _insert(
        store,
        "patron_attributes",
        [{"patron_id": patron, "code": code, "value": value}
         for patron, attributes in DEMO_ATTRIBUTES.items()
         for code, value in attributes.items()],
    )
    _insert(
        store,
        "item_fields",
        [{"item_id": item, "code": code, "value": value}
         for item, fields in DEMO_FIELDS.items() for code, value in fields.items()],
    )

    # (item, patron, days until due, renewals)
    loans = [
        (3, 1, 10, 0), (9, 1, 5, 0), (13, 1, 12, 2),
        (4, 10, 7, 0), (14, 5, 14, 0),
        (15, 6, -10, 0), (16, 6, -30, 0), (17, 6, -3, 0),
        (18, 7, 14, 0), (19, 7, 15, 0), (20, 7, 16, 0),
    ]
    _insert(
        store,
        "loans",
        (
            {"id": number, "item_id": item, "patron_id": patron, "branch": "MAIN",
             "out_at": _ts(now + timedelta(days=due - 21)), "due_at": _due(now, due),
             "renewals": renewals}
            for number, (item, patron, due, renewals) in enumerate(loans, start=1)
        ),
    )

    _insert(
        store,
        "holds",
        [
            {"id": 1, "patron_id": 9, "item_id": 8, "title_key": "Middlemarch",
             "title": "Middlemarch", "pickup_branch": "MAIN",
             "placed_at": _ts(now - timedelta(days=6)), "status": "ready",
             "trapped_item_id": 8, "trapped_at": _ts(now - timedelta(days=1)),
             "shelf_expires_at": _due(now, 6)},
            {"id": 2, "patron_id": 9, "item_id": 4, "title_key": "Emma",
             "title": "Emma", "pickup_branch": "MAIN",
             "placed_at": _ts(now - timedelta(days=3)), "status": "waiting"},
            {"id": 3, "patron_id": 10, "item_id": None, "title_key": "B014",
             "title": "Jane Eyre", "pickup_branch": "EAST",
             "placed_at": _ts(now - timedelta(days=2)), "status": "waiting"},
        ]
    )

    fee = {"description": "", "created_at": _ts(now - timedelta(days=20))}
    _insert(
        store,
        "fees",
        [
            dict(fee, id=1, patron_id=1, item_id=2, fee_type=FeeType.OVERDUE,
                 description="Overdue 10 days: Pride and Prejudice",
                 amount_cents=250, balance_cents=250),
            dict(fee, id=2, patron_id=5, item_id=6, fee_type=FeeType.DAMAGE,
                 description="Damage: Ulysses", amount_cents=1100,
                 balance_cents=1100),
            dict(fee, id=3, patron_id=5, item_id=None, fee_type=FeeType.OVERDUE,
                 description="Overdue fines", amount_cents=400, balance_cents=400,
                 created_at=_ts(now - timedelta(days=10))),
        ]
    )

