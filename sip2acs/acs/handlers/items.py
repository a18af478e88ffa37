"""
The item requests: 17 (item information) and 19 (item status update).
The 18 of a known item carries its due date in the account's
C{due-date-format} and the account's C{item-fields}.
"""

from typing import Any

from twisted.internet.defer import Deferred

from sip2acs.acs.handlers.common import (
    Session,
    behaviourOf,
    dueDateText,
    money,
    renderedFields,
    withExtra,
)
from sip2acs.acs.templates import itemContext
from sip2acs.ils.values import Item, ItemStatusResult
from sip2acs.sip import codec

__all__ = ["itemInformation", "itemStatusUpdate"]


def itemInformation(session: Session, message: Any) -> "Deferred[Any]":
    """
    17: what the library knows of an item.
    """
    d = session.ils.lookupItem(session.terminal, message.itemIdentifier or "")

    def answer(item: Item) -> codec.Message:
        if not item.found:
            response = codec.ItemInformationResponse(
                circulationStatus="01",
                securityMarker="01",
                feeType="01",
                transactionDate=session.now(),
                itemIdentifier=message.itemIdentifier or "",
                titleIdentifier="",
                screenMessage=item.screenMessages,
                printLine=item.printLines,
            )
            return withExtra(response, item.extra)
        response = codec.ItemInformationResponse(
            circulationStatus=item.circulationStatus,
            securityMarker=item.securityMarker,
            feeType=item.feeType,
            transactionDate=session.now(),
            holdQueueLength=item.holdQueueLength,
            dueDate=dueDateText(session, item.dueDate),
            recallDate=session.toWire(item.recallDate),
            holdPickupDate=session.toWire(item.holdPickupDate),
            itemIdentifier=item.itemId,
            titleIdentifier=item.title,
            owner=item.owner,
            currencyType=item.currency if item.feeAmount is not None else None,
            feeAmount=money(item.feeAmount),
            mediaType=item.mediaType,
            permanentLocation=item.permanentLocation,
            currentLocation=item.currentLocation,
            itemProperties=item.properties,
            destinationLocation=item.destination,
            callNumber=item.callNumber,
            holdPatronId=item.holdPatronId,
            screenMessage=item.screenMessages,
            printLine=item.printLines,
        )
        templates = behaviourOf(session).itemFields
        added = renderedFields(templates, item=itemContext(item)) if templates else []
        return withExtra(response, [*added, *item.extra])

    return d.addCallback(answer)


def itemStatusUpdate(session: Session, message: Any) -> "Deferred[Any]":
    """
    19: set an item's properties.
    """
    d = session.ils.updateItemStatus(
        session.terminal, message.itemIdentifier or "", message.itemProperties or ""
    )

    def answer(result: ItemStatusResult) -> codec.Message:
        response = codec.ItemStatusUpdateResponse(
            itemPropertiesOk=result.ok,
            transactionDate=session.now(),
            itemIdentifier=message.itemIdentifier or "",
            titleIdentifier=result.title,
            itemProperties=result.properties,
            screenMessage=result.screenMessages,
            printLine=result.printLines,
        )
        return withExtra(response, result.extra)

    return d.addCallback(answer)
