"""
The adapter contract's library (L{sip2acs.ils.testing.ContractLibrary})
as rows of the SQL circulation schema, shared by the loaders of the SQLite
and PostgreSQL tests: the tables the import commands write, filled as
those commands would.
"""

from typing import Any

from sip2acs.ils.sql.store import toCents, writeTime
from sip2acs.ils.testing import ContractLibrary
from sip2acs.passwords import PIN_COST, hashPassword

__all__ = ["contractTables"]

Table = tuple[str, tuple[str, ...], list[dict[str, Any]]]


def contractTables(library: ContractLibrary) -> list[Table]:
    """
    The rows of C{library}, table by table in the order they can be
    written: C{(table, key columns of an upsert or (), rows)}. Patrons,
    items, loans, holds and fees carry their ids, from 1.
    """
    ids: dict[str, int] = {}
    tables: list[Table] = [
        ("branches", ("code",),
         [{"code": code, "name": name} for code, name in library.branches]),
        ("institutions", ("id",),
         [{"id": library.institution, "name": library.libraryName,
           "currency": library.currency, "default_branch": library.defaultBranch,
           "hold_shelf_days": library.holdShelfDays}]),
        ("loan_rules", ("patron_class", "item_type"),
         [{"patron_class": r.patronClass, "item_type": r.itemType,
           "loan_days": r.loanDays, "max_loans": r.maxLoans,
           "max_renewals": r.maxRenewals, "fine_per_day_cents": toCents(r.finePerDay),
           "fine_cap_cents": None if r.fineCap is None else toCents(r.fineCap),
           "rental_fee_cents": toCents(r.rentalFee),
           "fee_limit_cents": None if r.feeLimit is None else toCents(r.feeLimit),
           "max_overdue": r.maxOverdue, "max_holds": r.maxHolds}
          for r in library.rules]),
        ("patron_classes", ("code",),
         [{"code": code, "name": name} for code, name in library.patronClasses]),
    ]
    patrons = []
    for number, p in enumerate(library.patrons, start=1):
        ids[p.patronId] = number
        patrons.append({
            "id": number, "barcode": p.patronId, "name": p.name,
            "pin_hash": p.pin and hashPassword(p.pin, cost=PIN_COST),
            "patron_class": p.patronClass, "home_branch": p.homeBranch,
            "expires": p.expires and p.expires.isoformat(), "language": p.language,
            "card_lost": int(p.cardLost), "blocked": int(p.blocked),
            "block_note": p.blockNote, "blocked_at": writeTime(p.blockedAt),
            "email": p.email, "phone": p.phone, "address": p.address,
            "birth_date": p.birthDate and p.birthDate.isoformat(),
            "internet_privileges": p.internetPrivileges,
        })
    items = []
    for number, i in enumerate(library.items, start=1):
        ids[i.itemId] = number
        items.append({
            "id": number, "barcode": i.itemId, "title": i.title, "title_id": i.titleId,
            "item_type": i.itemType, "home_branch": i.homeBranch,
            "current_branch": i.homeBranch if i.status == "available" else "MAIN",
            "status": i.status, "destination": i.destination,
            "media_type": i.mediaType, "magnetic": int(i.magnetic),
            "call_number": i.callNumber, "collection_code": i.collectionCode,
        })
    tables += [("patrons", (), patrons), ("items", (), items)]
    tables.append(("patron_attributes", (), [
        {"patron_id": ids[p.patronId], "code": code, "value": value}
        for p in library.patrons for code, value in p.attributes
    ]))
    tables.append(("item_fields", (), [
        {"item_id": ids[i.itemId], "code": code, "value": value}
        for i in library.items for code, value in i.fields
    ]))
    tables.append(("loans", (), [
        {"id": number, "item_id": ids[loan.itemId], "patron_id": ids[loan.patronId],
         "branch": "MAIN", "out_at": writeTime(loan.out), "due_at": writeTime(loan.due),
         "renewals": loan.renewals}
        for number, loan in enumerate(library.loans, start=1)
    ]))
    tables.append(("holds", (), [
        {"id": number, "patron_id": ids[h.patronId],
         "item_id": h.itemId and ids[h.itemId],
         "title_key": h.titleKey, "title": h.title, "pickup_branch": h.pickup,
         "placed_at": writeTime(h.placed), "status": "ready" if h.ready else "waiting",
         "trapped_item_id": ids[h.itemId] if h.ready else None,
         "trapped_at": writeTime(h.placed) if h.ready else None,
         "shelf_expires_at": writeTime(h.shelfExpires)}
        for number, h in enumerate(library.holds, start=1)
    ]))
    tables.append(("fees", (), [
        {"id": number, "patron_id": ids[f.patronId],
         "item_id": f.itemId and ids[f.itemId],
         "fee_type": f.feeType, "description": f.description,
         "amount_cents": toCents(f.amount), "balance_cents": toCents(f.amount),
         "created_at": writeTime(f.created)}
        for number, f in enumerate(library.fees, start=1)
    ]))
    return tables
