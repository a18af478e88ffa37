# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
Items: looking them up (17), their open loan and hold queue, and storing
the properties a kiosk sends (19).

An item row as the operations see it (L{Items.row}) carries its effective
media type and magnetic flag: its own, else its item type's.
"""

from __future__ import annotations

from typing import Any

from sip2acs.ils.sql.rules import ACTIVE_HOLD, MESSAGES, Rules
from sip2acs.ils.sql.store import Operation, Row, Store, fromCents
from sip2acs.ils.values import (
    CirculationStatus,
    FeeType,
    Item,
    ItemStatusResult,
    Reason,
)

__all__ = ["Items", "itemFields", "STATUS_CODES"]

STATUS_CODES = {
    "available": CirculationStatus.AVAILABLE,
    "charged": CirculationStatus.CHARGED,
    "on_hold_shelf": CirculationStatus.ON_HOLD_SHELF,
    "in_transit": CirculationStatus.IN_TRANSIT,
    "lost": CirculationStatus.LOST,
    "missing": CirculationStatus.MISSING,
    "in_process": CirculationStatus.IN_PROCESS,
    "on_order": CirculationStatus.ON_ORDER,
    "claimed_returned": CirculationStatus.CLAIMED_RETURNED,
    "reshelving": CirculationStatus.WAITING_RESHELVING,
    "other": CirculationStatus.OTHER,
}
"""
The SIP2 circulation status of each stored item status.
"""


def itemFields(item: Row) -> dict[str, Any]:
    """
    What every checkout, renewal and cancelled checkin reports of the item:
    title, media type, magnetic media.
    """
    return dict(
        title=item["title"],
        mediaType=item["effective_media"],
        magneticMedia=bool(item["effective_magnetic"]),
    )


class Items:
    """
    Item lookups, on a L{Store}.
    """

    def __init__(self, store: Store, rules: Rules) -> None:
        self.store = store
        self.rules = rules
        # The select of an item with its open loan, and the loan's columns
        # in it (made on first use: see withLoan).
        self._withLoanSelect: str | None = None
        self._loanColumns: list[str] = []

    _ITEM_COLUMNS = (
        "SELECT items.*,"
        " coalesce(items.media_type, t.media_type, '001') AS effective_media,"
        " coalesce(items.magnetic, t.magnetic, 0) AS effective_magnetic"
    )
    _ITEM_SELECT = (
        _ITEM_COLUMNS + " FROM items LEFT JOIN item_types t ON t.code = items.item_type"
    )
    _LOAN_PREFIX = "open_loan__"

    def row(self, barcode: str | None) -> Row | None:
        """
        The item with this barcode, with its effective media fields.
        """
        if not barcode:
            return None
        return self.store.row(self._ITEM_SELECT + " WHERE items.barcode = ?", (barcode,))

    def withLoan(self, barcode: str | None) -> tuple[Row | None, Row | None]:
        """
        The item with this barcode (as L{row} reads it) and its open loan
        (as L{openLoan} reads it), in one statement.

        @return: C{(item or None, open loan or None)}; the loan is a
            L{dict} of the loan's columns, with C{patron_barcode} and
            C{patron_class}.
        """
        if not barcode:
            return None, None
        if self._withLoanSelect is None:
            # The loan's columns as the database has them (no list here to
            # fall behind a migration), each under a name no item column has.
            prefix = self._LOAN_PREFIX
            sources = [("open_loan.id", "id")] + [
                ("open_loan." + column, column)
                for column in self.store.columns("loans") if column != "id"
            ] + [
                ("loan_patron.barcode", "patron_barcode"),
                ("loan_patron.patron_class", "patron_class"),
            ]
            self._loanColumns = [name for _, name in sources]
            self._withLoanSelect = (
                self._ITEM_COLUMNS + ", " + ", ".join(
                    "%s AS %s%s" % (source, prefix, name) for source, name in sources
                ) +
                " FROM items LEFT JOIN item_types t ON t.code = items.item_type"
                " LEFT JOIN loans open_loan ON open_loan.item_id = items.id"
                " AND open_loan.returned_at IS NULL"
                " LEFT JOIN patrons loan_patron ON loan_patron.id = open_loan.patron_id"
                " WHERE items.barcode = ?"
            )
        item = self.store.row(self._withLoanSelect, (barcode,))
        if item is None:
            return None, None
        # The loan's columns are the row's last, its id first among them
        # (read by position: a row finds a name by searching its columns).
        start = len(item) - len(self._loanColumns)
        if item[start] is None:
            return item, None
        return item, dict(zip(self._loanColumns, item[start:], strict=True))

    def byId(self, itemId: int) -> Row:
        """
        The item with this row id (one that exists: a loan's).
        """
        return self.store.row(self._ITEM_SELECT + " WHERE items.id = ?", (itemId,))

    def forTitle(self, titleId: str | None) -> list[Row]:
        """
        The copies of a title, by title key or exact title.
        """
        if not titleId:
            return []
        return self.store.rows(
            self._ITEM_SELECT + " WHERE items.title_key = ? OR items.title = ?"
            " ORDER BY items.title_key = ? DESC, items.id",
            (titleId, titleId, titleId),
        )

    def openLoan(self, itemId: int) -> Row | None:
        """
        The item's open loan, with the borrower's barcode and class, or
        L{None}.
        """
        return self.store.row(
            "SELECT loans.*, patrons.barcode AS patron_barcode,"
            " patrons.patron_class AS patron_class FROM loans"
            " JOIN patrons ON patrons.id = loans.patron_id"
            " WHERE loans.item_id = ? AND loans.returned_at IS NULL",
            (itemId,),
        )

    def holdQueue(self, item: Row) -> list[Row]:
        """
        Active holds that could take C{item}, oldest first.
        """
        return self.store.rows(
            "SELECT holds.*, patrons.barcode AS patron_barcode,"
            " patrons.name AS patron_name FROM holds"
            " JOIN patrons ON patrons.id = holds.patron_id"
            " WHERE holds.status IN " + ACTIVE_HOLD +
            " AND (holds.item_id = ? OR holds.trapped_item_id = ?"
            " OR (holds.item_id IS NULL AND holds.trapped_item_id IS NULL"
            " AND holds.title_key = ?))"
            " ORDER BY holds.placed_at, holds.id",
            (item["id"], item["id"], item["title_key"]),
        )

    def trappedHold(self, item: Row, queue: list[Row] | None = None) -> Row | None:
        """
        The hold that has trapped C{item}, or L{None}.

        @param queue: The item's L{holdQueue}, when the caller has just
            read it (and changed no hold since); read here otherwise.
        """
        for hold in self.holdQueue(item) if queue is None else queue:
            if hold["trapped_item_id"] == item["id"]:
                return hold
        return None

    def result(self, op: Operation, item: Row, loan: Row | None) -> Item:
        """
        What a lookup (17) reports of C{item} and its open C{loan} (see
        L{withLoan}).
        """
        queue = self.holdQueue(item)
        trapped = self.trappedHold(item, queue)
        rule = self.rules.rule("*", item["item_type"])
        rental = rule.rentalFeeCents
        messages = []
        if item["status"] in ("lost", "missing"):
            messages.append(MESSAGES[
                Reason.ITEM_LOST if item["status"] == "lost" else Reason.ITEM_MISSING
            ])
        if not rule.circulates:
            messages.append(MESSAGES[Reason.NOT_CIRCULATING])
        return Item(
            found=True,
            itemId=item["barcode"],
            title=item["title"],
            circulationStatus=STATUS_CODES[item["status"]],
            feeType=FeeType.RENTAL if rental else FeeType.OTHER,
            feeAmount=fromCents(rental) if rental else None,
            currency=op.institution.currency if rental else None,
            dueDate=self.store.time(loan["due_at"], "loans.due_at") if loan else None,
            holdPickupDate=(
                self.store.time(trapped["shelf_expires_at"], "holds.shelf_expires_at")
                if trapped else None
            ),
            holdQueueLength=len(queue),
            owner=op.institution.id,
            mediaType=item["effective_media"],
            magneticMedia=bool(item["effective_magnetic"]),
            permanentLocation=item["home_branch"],
            currentLocation=item["current_branch"],
            destination=item["destination"],
            callNumber=item["call_number"],
            collectionCode=item["collection_code"],
            properties=item["properties"],
            holdPatronId=trapped["patron_barcode"] if trapped else None,
            fields=self.fields(item),
            screenMessages=messages,
        )

    def fields(self, item: Row) -> list[tuple[str, str]]:
        """
        The item's extra fields, C{(code, value)} by code.
        """
        return [
            (row["code"], row["value"]) for row in self.store.rows(
                "SELECT code, value FROM item_fields WHERE item_id = ? ORDER BY code",
                (item["id"],),
            )
        ]

    def lookup(self, op: Operation) -> Item:
        """
        Look up C{op.item} (17).
        """
        item, loan = self.withLoan(op.item)
        if item is None:
            return Item(
                found=False,
                itemId=op.item or "",
                screenMessages=[MESSAGES[Reason.UNKNOWN_ITEM]],
            )
        return self.result(op, item, loan)

    def updateStatus(self, op: Operation, properties: str | None) -> ItemStatusResult:
        """
        Store the item properties the SC sent (19).
        """
        item = self.row(op.item)
        if item is None:
            return ItemStatusResult(
                ok=False, reason=Reason.UNKNOWN_ITEM,
                screenMessages=[MESSAGES[Reason.UNKNOWN_ITEM]],
            )
        self.store.execute(
            "UPDATE items SET properties = ? WHERE id = ?", (properties, item["id"])
        )
        return ItemStatusResult(ok=True, title=item["title"], properties=properties)
