"""
pysip2 0.1.0 serving the data set of C{sip2acs bench} from memory: the peer
that C{bench/peers/run.py} measures side by side with sip2acs.

    python bench/peers/pysip2_server.py --port 6001 --patrons 10000 --items 100000

The backend (L{Library}) is this project's own: patrons C{BP000000}...,
items C{BI0000000}... (L{sip2acs.tools.bench.data}), one SC account
(C{bench}/C{bench-password}), PIN C{1234} with C{--pins}; its handlers
answer 93, 99 (pysip2's built-in 98), 63, 17, 11 and 09 with the fields
sip2acs's in-memory adapter gives (valid patron, charged count, circulation
status, due date 21 days ahead, transaction id...). The handlers are
coroutines: the library is a dict, so nothing blocks and nothing is handed
to a thread, as in sip2acs's own in-memory adapter.

pysip2 is MIT-licensed and used here only as a dependency; nothing of its
code is copied.
"""

import argparse
import sys
from datetime import date, timedelta
from typing import Any

import anyio
from pysip2 import (
    CHECKIN,
    CHECKOUT,
    ITEM_INFORMATION,
    LOGIN,
    PATRON_INFORMATION,
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    SIP2Server,
)

from sip2acs.tools.bench.data import INSTITUTION, LOGIN as BENCH_LOGIN, PASSWORD, itemId, patronId

PIN = "1234"
LOAN_DAYS = 21
LOCATION = "MAIN"
MEDIA_BOOK = "001"


class Item:
    """
    One copy: its title, and the patron it is charged to (or L{None}) with
    its due date.
    """

    __slots__ = ("title", "patron", "due")

    def __init__(self, title: str) -> None:
        self.title = title
        self.patron: str | None = None
        self.due = ""


class Patron:
    """
    One patron: name, PIN (or L{None}) and how many items they hold.
    """

    __slots__ = ("name", "pin", "charged")

    def __init__(self, name: str, pin: str | None) -> None:
        self.name = name
        self.pin = pin
        self.charged = 0


class Library:
    """
    The bench's data set in dicts, and the circulation the bench uses.
    """

    def __init__(self, patrons: int, items: int, pins: bool) -> None:
        self.patrons = {patronId(n): Patron("Bench Patron %d" % n, PIN if pins else None)
                        for n in range(patrons)}
        self.items = {itemId(n): Item("Bench Title %d" % n) for n in range(items)}
        self.transactions = 0

    def pinOK(self, patron: Patron, given: str | None) -> bool:
        """
        Whether C{given} opens C{patron}'s record: any, when they have no PIN.
        """
        return patron.pin is None or given == patron.pin


def _due() -> str:
    return (date.today() + timedelta(days=LOAN_DAYS)).strftime("%Y%m%d") + "    235900"


def makeServer(library: Library) -> SIP2Server:
    """
    A pysip2 server whose handlers answer from C{library}.
    """
    app = SIP2Server(institution_id=INSTITUTION, library_name="pysip2 bench",
                     terminal_location=LOCATION, login_required=True)

    @app.route(LOGIN)
    async def login(req: LoginRequest, ctx: Any) -> LoginResponse:
        ok = req.login_user_id == BENCH_LOGIN and req.login_password == PASSWORD
        return LoginResponse(ok="1" if ok else "0")

    @app.route(PATRON_INFORMATION)
    async def patronInformation(req: PatronInformationRequest,
                                ctx: Any) -> PatronInformationResponse:
        patron = library.patrons.get(req.patron_identifier)
        if patron is None:
            return PatronInformationResponse(
                patron_status="YYYY          ", language=req.language,
                transaction_date=ctx.now_18(), hold_items_count="0000",
                overdue_items_count="0000", charged_items_count="0000",
                fine_items_count="0000", recall_items_count="0000",
                unavailable_holds_count="0000", institution_id=req.institution_id,
                patron_identifier=req.patron_identifier, personal_name="",
                valid_patron="N", screen_message=("Unknown patron.",))
        pinOK = library.pinOK(patron, req.patron_password)
        return PatronInformationResponse(
            patron_status=" " * 14, language=req.language, transaction_date=ctx.now_18(),
            hold_items_count="0000", overdue_items_count="0000",
            charged_items_count="%04d" % (patron.charged,), fine_items_count="0000",
            recall_items_count="0000", unavailable_holds_count="0000",
            institution_id=req.institution_id, patron_identifier=req.patron_identifier,
            personal_name=patron.name, valid_patron="Y",
            valid_patron_password=None if req.patron_password is None
            else "Y" if pinOK else "N",
            currency_type="USD", fee_amount="0.00")

    @app.route(ITEM_INFORMATION)
    async def itemInformation(req: ItemInformationRequest, ctx: Any) -> ItemInformationResponse:
        item = library.items.get(req.item_identifier)
        if item is None:
            return ItemInformationResponse(
                circulation_status="01", security_marker="00", fee_type="01",
                transaction_date=ctx.now_18(), item_identifier=req.item_identifier,
                title_identifier="", screen_message=("Unknown item.",))
        return ItemInformationResponse(
            circulation_status="04" if item.patron else "03", security_marker="02",
            fee_type="01", transaction_date=ctx.now_18(),
            due_date=item.due if item.patron else None,
            item_identifier=req.item_identifier, title_identifier=item.title,
            media_type=MEDIA_BOOK, permanent_location=LOCATION, current_location=LOCATION)

    @app.route(CHECKOUT)
    async def checkout(req: CheckoutRequest, ctx: Any) -> CheckoutResponse:
        patron = library.patrons.get(req.patron_identifier)
        item = library.items.get(req.item_identifier)
        refusal = None
        if patron is None:
            refusal = "Unknown patron."
        elif not library.pinOK(patron, req.patron_password):
            refusal = "Wrong PIN."
        elif item is None:
            refusal = "Unknown item."
        elif item.patron is not None and item.patron != req.patron_identifier:
            refusal = "This item is checked out to someone else."
        if refusal is not None or patron is None or item is None:
            return CheckoutResponse(
                ok="0", renewal_ok="N", magnetic_media="N", desensitize="N",
                transaction_date=ctx.now_18(), institution_id=req.institution_id,
                patron_identifier=req.patron_identifier, item_identifier=req.item_identifier,
                title_identifier=item.title if item else "", due_date="",
                screen_message=(refusal or "",))
        renewal = item.patron is not None
        if not renewal:
            item.patron = req.patron_identifier
            patron.charged += 1
        item.due = _due()
        library.transactions += 1
        return CheckoutResponse(
            ok="1", renewal_ok="Y" if renewal else "N", magnetic_media="N", desensitize="Y",
            transaction_date=ctx.now_18(), institution_id=req.institution_id,
            patron_identifier=req.patron_identifier, item_identifier=req.item_identifier,
            title_identifier=item.title, due_date=item.due, media_type=MEDIA_BOOK,
            transaction_id="PY-%d" % (library.transactions,))

    @app.route(CHECKIN)
    async def checkin(req: CheckinRequest, ctx: Any) -> CheckinResponse:
        item = library.items.get(req.item_identifier)
        if item is None:
            return CheckinResponse(
                ok="0", resensitize="N", magnetic_media="N", alert="N",
                transaction_date=ctx.now_18(), institution_id=req.institution_id,
                item_identifier=req.item_identifier, permanent_location="",
                screen_message=("Unknown item.",))
        holder = item.patron
        message: tuple[str, ...] = ()
        if holder is None:
            message = ("This item was not checked out.",)
        else:
            library.patrons[holder].charged -= 1
            item.patron = None
            item.due = ""
        return CheckinResponse(
            ok="1", resensitize="Y", magnetic_media="N", alert="N",
            transaction_date=ctx.now_18(), institution_id=req.institution_id,
            item_identifier=req.item_identifier, permanent_location=LOCATION,
            title_identifier=item.title, patron_identifier=holder, media_type=MEDIA_BOOK,
            screen_message=message)

    return app


def main(argv: list[str] | None = None) -> int:
    """
    Serve the bench's data set with pysip2 on 127.0.0.1 until killed.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--patrons", type=int, default=10000)
    parser.add_argument("--items", type=int, default=100000)
    parser.add_argument("--pins", action="store_true", help="every patron has PIN 1234")
    args = parser.parse_args(argv)
    app = makeServer(Library(args.patrons, args.items, args.pins))
    try:
        anyio.run(app.serve, "127.0.0.1", args.port)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
