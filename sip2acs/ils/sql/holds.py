# -*- test-case-name: tests.test_ils_sqlite -*-
# The result values of ils/values.py take lists (and None) through attrs converters that
# mypy types as their stored tuples (and str): arguments are not checked here until they are.
"""
Holds (15): placing, cancelling and changing them, and the queue a
returned item is matched against.

A hold is on an item or, without one, on a title (C{title_key}). It is
C{waiting}, then C{in_transit} or C{ready} once a returned copy is trapped
for it (see L{sip2acs.ils.sql.checkin}), and finally C{filled},
C{cancelled} or C{expired}.
"""

from __future__ import annotations

from datetime import datetime

from sip2acs.ils.sql.items import Items
from sip2acs.ils.sql.patrons import Patrons
from sip2acs.ils.sql.rules import ACTIVE_HOLD, MAX_HOLD_PERIOD, MESSAGES, Rules
from sip2acs.ils.sql.store import Operation, Row, Store
from sip2acs.ils.values import HoldRequest, HoldResult, Reason

__all__ = ["Holds"]


def _holdRefusal(reason: str, message: str | None = None) -> HoldResult:
    return HoldResult(
        ok=False, reason=reason, screenMessages=[message or MESSAGES[reason]]
    )


class Holds:
    """
    The hold operations, on a L{Store}.
    """

    def __init__(self, store: Store, rules: Rules, patrons: Patrons,
                 items: Items) -> None:
        self.store = store
        self.rules = rules
        self.patrons = patrons
        self.items = items

    def nextWaiting(self, op: Operation, item: Row,
                    queue: list[Row] | None = None) -> Row | None:
        """
        The first waiting hold that could take C{item}; holds past their
        expiration on the way are closed as expired.

        @param queue: The item's hold queue, when the caller has just read
            it (and changed no hold since); read here otherwise.
        """
        for hold in self.items.holdQueue(item) if queue is None else queue:
            if hold["status"] != "waiting":
                continue
            if hold["expires_at"] is not None and hold["expires_at"] < self.store.stamp(op.now):
                self.store.execute(
                    "UPDATE holds SET status = 'expired', closed_at = ? WHERE id = ?",
                    (self.store.stamp(op.now), hold["id"]),
                )
                op.details.append("hold %d expired" % (hold["id"],))
                continue
            return hold
        return None

    def untrap(self, hold: Row) -> None:
        """
        Put a hold that had trapped an item back in the queue.
        """
        self.store.execute(
            "UPDATE holds SET status = 'waiting', trapped_item_id = NULL,"
            " trapped_at = NULL, shelf_expires_at = NULL WHERE id = ?",
            (hold["id"],),
        )

    def hold(self, op: Operation, request: HoldRequest) -> HoldResult:
        """
        Place, cancel or change a hold (15).
        """
        mode = {"+": "add", "-": "cancel", "*": "alter"}.get(request.mode, request.mode)
        op.details.append(mode)
        patron = self.patrons.row(request.patronId, balance=mode == "add")
        if patron is None:
            return _holdRefusal(Reason.UNKNOWN_PATRON)
        if self.patrons.checkPin(patron, request.pin) is False:
            return _holdRefusal(Reason.BAD_PIN)
        if mode not in ("add", "cancel", "alter"):
            return _holdRefusal(Reason.UNSUPPORTED)
        if request.itemId:
            item = self.items.row(request.itemId)
            items = [item] if item is not None else []
        else:
            item = None
            items = self.items.forTitle(request.titleId)
        if not items:
            return _holdRefusal(Reason.UNKNOWN_ITEM)
        titleKey = items[0]["title_key"]
        if mode == "add":
            return self._addHold(op, request, patron, item, items, titleKey)
        if item is not None:
            existing = self.store.row(
                "SELECT * FROM holds WHERE patron_id = ? AND status IN "
                + ACTIVE_HOLD + " AND (item_id = ? OR trapped_item_id = ?"
                " OR (item_id IS NULL AND title_key = ?)) ORDER BY id LIMIT 1",
                (patron["id"], item["id"], item["id"], titleKey),
            )
        else:
            existing = self.store.row(
                "SELECT * FROM holds WHERE patron_id = ? AND status IN "
                + ACTIVE_HOLD + " AND title_key = ? ORDER BY id LIMIT 1",
                (patron["id"], titleKey),
            )
        if existing is None:
            return _holdRefusal(Reason.NO_SUCH_HOLD)
        if mode == "cancel":
            return self._cancelHold(op, existing)
        return self._alterHold(op, request, existing)

    def _holdExpiration(
        self, op: Operation, request: HoldRequest
    ) -> tuple[datetime | None, HoldResult | None]:
        """
        The hold expiration asked for, in the institution's zone: after now
        and at most L{MAX_HOLD_PERIOD} ahead.

        @return: C{(expiration or None, refusal or None)}.
        """
        if request.expiration is None:
            return None, None
        expiration = self.store.local(request.expiration)
        if expiration is None or not (
            op.now < expiration <= op.now + MAX_HOLD_PERIOD
        ):
            return None, _holdRefusal(Reason.BAD_DATE)
        return expiration, None

    def _addHold(self, op: Operation, request: HoldRequest, patron: Row, item: Row | None,
                 items: list[Row], titleKey: str) -> HoldResult:
        expiration, refusal = self._holdExpiration(op, request)
        if refusal is not None:
            return refusal
        # No fee was written since the patron row (and its balance) was read.
        state = self.patrons.state(op, patron, patron["balance_now"])
        if state.blocks:
            return _holdRefusal(*state.blocks[0])
        active = self.store.row(
            "SELECT count(*) FROM holds WHERE patron_id = ? AND status IN "
            + ACTIVE_HOLD,
            (patron["id"],),
        )[0]
        if state.rule.maxHolds is not None and active >= state.rule.maxHolds:
            return _holdRefusal(
                Reason.HOLD_NOT_ALLOWED,
                "You have reached your limit of %d holds." % (state.rule.maxHolds,),
            )
        circulating = [
            row for row in items
            if self.rules.rule(patron["patron_class"], row["item_type"]).circulates
        ]
        if not circulating:
            return _holdRefusal(
                Reason.HOLD_NOT_ALLOWED,
                "This item is for use in the library only and cannot be held.",
            )
        if item is not None and item["status"] in ("lost", "missing"):
            return _holdRefusal(
                Reason.ITEM_LOST if item["status"] == "lost" else Reason.ITEM_MISSING
            )
        if self.store.row(
            "SELECT 1 FROM holds WHERE patron_id = ? AND title_key = ?"
            " AND status IN " + ACTIVE_HOLD,
            (patron["id"], titleKey),
        ):
            return _holdRefusal(
                Reason.HOLD_NOT_ALLOWED, "You already have a hold on this title."
            )
        if any(loan["barcode"] in {row["barcode"] for row in items}
               for loan in state.loans):
            return _holdRefusal(
                Reason.HOLD_NOT_ALLOWED, "You already have this item checked out."
            )
        pickup = request.pickupLocation or patron["home_branch"] or (
            op.institution.defaultBranch
        )
        if not self.rules.isBranch(pickup):
            return _holdRefusal(
                Reason.HOLD_NOT_ALLOWED,
                "%r is not a pickup location." % (pickup,) if pickup
                else "There is no pickup location.",
            )
        holdId = self.store.insert(
            "INSERT INTO holds (patron_id, item_id, title_key, title,"
            " pickup_branch, placed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (patron["id"], item["id"] if item is not None else None, titleKey,
             items[0]["title"], pickup, self.store.stamp(op.now), self.store.stamp(expiration)),
        )
        queue = self.items.holdQueue(item if item is not None else items[0])
        if item is None:
            queue = self.store.rows(
                "SELECT id FROM holds WHERE title_key = ? AND status IN "
                + ACTIVE_HOLD + " ORDER BY placed_at, id",
                (titleKey,),
            )
        position = [row["id"] for row in queue].index(holdId) + 1
        available = position == 1 and any(
            row["status"] == "available" for row in circulating
        )
        op.details.append("hold %d, position %d" % (holdId, position))
        return HoldResult(
            ok=True,
            available=available,
            expiration=expiration,
            queuePosition=position,
            pickupLocation=pickup,
            itemId=item["barcode"] if item is not None else None,
            title=items[0]["title"],
            screenMessages=[
                "Your hold was placed. You are number %d in the queue." % (position,)
            ],
        )

    def _cancelHold(self, op: Operation, hold: Row) -> HoldResult:
        self.store.execute(
            "UPDATE holds SET status = 'cancelled', closed_at = ? WHERE id = ?",
            (self.store.stamp(op.now), hold["id"]),
        )
        if hold["status"] == "ready" and hold["trapped_item_id"] is not None:
            self.store.execute(
                "UPDATE items SET status = 'reshelving', destination = NULL"
                " WHERE id = ? AND status = 'on_hold_shelf'",
                (hold["trapped_item_id"],),
            )
        op.details.append("hold %d cancelled" % (hold["id"],))
        return HoldResult(
            ok=True,
            pickupLocation=hold["pickup_branch"],
            title=hold["title"],
            screenMessages=["Your hold was cancelled."],
        )

    def _alterHold(self, op: Operation, request: HoldRequest, hold: Row) -> HoldResult:
        pickup = request.pickupLocation or hold["pickup_branch"]
        if not self.rules.isBranch(pickup):
            return _holdRefusal(
                Reason.HOLD_NOT_ALLOWED, "%r is not a pickup location." % (pickup,)
            )
        expiration, refusal = self._holdExpiration(op, request)
        if refusal is not None:
            return refusal
        expires = (
            self.store.stamp(expiration) if expiration is not None else hold["expires_at"]
        )
        self.store.execute(
            "UPDATE holds SET pickup_branch = ?, expires_at = ? WHERE id = ?",
            (pickup, expires, hold["id"]),
        )
        op.details.append("hold %d now at %s" % (hold["id"], pickup))
        return HoldResult(
            ok=True,
            available=hold["status"] == "ready",
            expiration=self.store.time(expires, "holds.expires_at"),
            pickupLocation=pickup,
            title=hold["title"],
            screenMessages=["Your hold was changed."],
        )
