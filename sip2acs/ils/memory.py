# -*- test-case-name: tests.test_session -*-
"""
An in-memory circulation system: a test double for sip2acs's own tests and
for people writing adapters (also importable as L{sip2acs.testing}).

L{MemoryILS} is a small in-memory circulation system: patrons with PINs,
items, loans. It implements patron and item lookup, checkout, checkin,
renewal and end of session, and refuses everything else as unsupported, so
tests can see both a working and an unsupported operation. It answers
synchronously (already-fired Deferreds).
"""

from datetime import datetime, timedelta

import attrs
from twisted.internet.defer import succeed

from sip2acs.ils.base import (
    CheckinResult,
    CirculationResult,
    CirculationStatus,
    ILSBase,
    Item,
    ItemRef,
    Patron,
    Reason,
    SessionEnd,
)

__all__ = ["MemoryILS", "MemoryPatron", "MemoryItem"]


@attrs.define
class MemoryPatron:
    patronId: str
    name: str
    pin: str | None = None


@attrs.define
class MemoryItem:
    itemId: str
    title: str
    borrower: str | None = None
    dueDate: datetime | None = None
    location: str = "MAIN"


class MemoryILS(ILSBase):
    """
    An in-memory adapter. Not durable; for tests and examples only.

    @ivar calls: The operations called, in order, for tests to inspect.
    """

    name = "memory"
    operations = frozenset(
        {
            "patronStatus",
            "patronInformation",
            "itemInformation",
            "checkout",
            "checkin",
            "renew",
            "endPatronSession",
        }
    )
    loanDays = 14

    def __init__(self, patrons=(), items=(), now=datetime.now):
        self.patrons = {p.patronId: p for p in patrons}
        self.items = {i.itemId: i for i in items}
        self.now = now
        self.calls = []
        self._loans = {}
        for item in self.items.values():
            if item.borrower is not None:
                self._loans.setdefault(item.borrower, set()).add(item.itemId)

    def _pinValid(self, patron, pin):
        if pin is None:
            return None
        return patron.pin is not None and patron.pin == pin

    def lookupPatron(self, terminal, patronId, pin=None):
        self.calls.append(("lookupPatron", patronId))
        patron = self.patrons.get(patronId)
        if patron is None:
            return succeed(
                Patron(found=False, patronId=patronId, screenMessages=["Unknown patron."])
            )
        charged = [
            ItemRef(item.itemId, item.title, dueDate=item.dueDate)
            for item in (self.items[i] for i in sorted(self._loans.get(patronId, ())))
        ]
        return succeed(
            Patron(
                found=True,
                patronId=patronId,
                name=patron.name,
                pinValid=self._pinValid(patron, pin),
                chargedItems=charged,
                feeAmount=0,
            )
        )

    def lookupItem(self, terminal, itemId):
        self.calls.append(("lookupItem", itemId))
        item = self.items.get(itemId)
        if item is None:
            return succeed(Item(found=False, itemId=itemId))
        status = CirculationStatus.CHARGED if item.borrower else CirculationStatus.AVAILABLE
        return succeed(
            Item(
                found=True,
                itemId=itemId,
                title=item.title,
                circulationStatus=status,
                dueDate=item.dueDate,
                permanentLocation=item.location,
                currentLocation=item.location,
                mediaType="001",
            )
        )

    def _refuse(self, reason, text, **kw):
        return succeed(CirculationResult(ok=False, reason=reason, screenMessages=[text], **kw))

    def checkout(self, terminal, request):
        self.calls.append(("checkout", request.patronId, request.itemId))
        patron = self.patrons.get(request.patronId)
        item = self.items.get(request.itemId)
        if patron is None:
            return self._refuse(Reason.UNKNOWN_PATRON, "Unknown patron.", patronValid=False)
        if request.pin is not None and not self._pinValid(patron, request.pin):
            return self._refuse(Reason.BAD_PIN, "Wrong PIN.", patronValid=True, pinValid=False)
        if item is None:
            return self._refuse(Reason.UNKNOWN_ITEM, "Unknown item.", patronValid=True)
        renewal = item.borrower == patron.patronId
        if item.borrower is not None and not renewal:
            return self._refuse(
                Reason.OUT_TO_OTHER, "This item is checked out to someone else.",
                title=item.title, patronValid=True,
            )
        if renewal and not request.scRenewalPolicy:
            return self._refuse(
                Reason.RENEWAL_NOT_ALLOWED, "You already have this item.",
                renewal=True, title=item.title, patronValid=True,
            )
        item.borrower = patron.patronId
        self._loans.setdefault(patron.patronId, set()).add(item.itemId)
        item.dueDate = (self.now() + timedelta(days=self.loanDays)).replace(
            hour=23, minute=59, second=0, microsecond=0
        )
        return succeed(
            CirculationResult(
                ok=True,
                renewal=renewal,
                magneticMedia=False,
                desensitize=True,
                title=item.title,
                dueDate=item.dueDate,
                mediaType="001",
                patronValid=True,
                pinValid=self._pinValid(patron, request.pin),
            )
        )

    def checkin(self, terminal, request):
        self.calls.append(("checkin", request.itemId))
        item = self.items.get(request.itemId)
        if item is None:
            return succeed(
                CheckinResult(
                    ok=False, reason=Reason.UNKNOWN_ITEM, alert=True, alertType="99",
                    screenMessages=["Unknown item."],
                )
            )
        borrower, item.borrower, item.dueDate = item.borrower, None, None
        self._loans.get(borrower, set()).discard(item.itemId)
        return succeed(
            CheckinResult(
                ok=True,
                magneticMedia=False,
                title=item.title,
                permanentLocation=item.location,
                patronId=borrower,
                mediaType="001",
                screenMessages=[] if borrower else ["This item was not checked out."],
            )
        )

    def renew(self, terminal, request):
        self.calls.append(("renew", request.patronId, request.itemId))
        item = self.items.get(request.itemId or "")
        if item is None or item.borrower != request.patronId:
            return self._refuse(Reason.NOT_ON_LOAN, "You do not have this item.")
        item.dueDate = item.dueDate + timedelta(days=self.loanDays)
        return succeed(
            CirculationResult(
                ok=True, renewal=True, desensitize=True, title=item.title,
                dueDate=item.dueDate, magneticMedia=False,
            )
        )

    def endPatronSession(self, terminal, patronId, pin=None):
        self.calls.append(("endPatronSession", patronId))
        return succeed(SessionEnd(ok=True, screenMessages=["Thank you!"]))
