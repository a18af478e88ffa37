# -*- test-case-name: tests.test_codec -*-
"""
The SIP 2.00 message table: every message, its fixed fields and its
identified fields, transcribed from C{shared/spec/SIP2.md} sections 2 and 3.

This module is data only. L{sip2acs.sip.codec} builds the message classes, the
parser and the encoder from it, so adding a vendor field or correcting a
length is a one-line change here.

Kinds of value (the Python type the codec gives them):
 - C{text}: L{str}, exactly the characters sent.
 - C{ok}: L{bool}; C{"1"} is true, anything else false (94, 12, 10, ...).
 - C{yn}: L{bool}; C{"Y"} is true, anything else false.
 - C{ynu}: L{bool} or L{None}; C{"Y"}, C{"N"}, anything else (C{"U"}) is
   L{None} (magnetic media, desensitize).
 - C{date}: L{datetime.datetime} or L{None}; the 18-character
   C{YYYYMMDDZZZZHHMMSS} form. Blanks and garbage are L{None}.
 - C{int}: L{int} or L{None}; digits (zero-padded to the width when the
   field has one). Four blanks (an unsupported count) are L{None}.
"""

from collections.abc import Iterable

import attrs


@attrs.frozen
class FixedField:
    """
    A fixed-length field: position is implied by the order in the message.
    """

    name: str
    length: int
    kind: str = "text"


@attrs.frozen
class FieldInfo:
    """
    What an identified (two-letter) field is, wherever it appears.
    """

    fid: str
    name: str
    kind: str = "text"
    repeatable: bool = False
    width: int = 0


@attrs.frozen
class MessageSpec:
    """
    One message: its command identifier, class name, fixed fields and the
    identified fields it may carry, in the spec's order.

    @ivar required: Identified fields the spec requires; the encoder always
        writes them (empty when there is no value).
    """

    code: str
    name: str
    fixed: tuple[FixedField, ...]
    fields: tuple[str, ...]
    required: frozenset[str] = frozenset()
    request: bool = True


FIELDS = {
    info.fid: info
    for info in [
        FieldInfo("AA", "patronIdentifier"),
        FieldInfo("AB", "itemIdentifier"),
        FieldInfo("AC", "terminalPassword"),
        FieldInfo("AD", "patronPassword"),
        FieldInfo("AE", "personalName"),
        FieldInfo("AF", "screenMessage", repeatable=True),
        FieldInfo("AG", "printLine", repeatable=True),
        FieldInfo("AH", "dueDate"),
        FieldInfo("AJ", "titleIdentifier"),
        FieldInfo("AL", "blockedCardMessage"),
        FieldInfo("AM", "libraryName"),
        FieldInfo("AN", "terminalLocation"),
        FieldInfo("AO", "institutionId"),
        FieldInfo("AP", "currentLocation"),
        FieldInfo("AQ", "permanentLocation"),
        FieldInfo("AS", "holdItems", repeatable=True),
        FieldInfo("AT", "overdueItems", repeatable=True),
        FieldInfo("AU", "chargedItems", repeatable=True),
        FieldInfo("AV", "fineItems", repeatable=True),
        FieldInfo("BD", "homeAddress"),
        FieldInfo("BE", "emailAddress"),
        FieldInfo("BF", "homePhoneNumber"),
        FieldInfo("BG", "owner"),
        FieldInfo("BH", "currencyType"),
        FieldInfo("BI", "cancel", "yn"),
        FieldInfo("BK", "transactionId"),
        FieldInfo("BL", "validPatron", "yn"),
        FieldInfo("BM", "renewedItems", repeatable=True),
        FieldInfo("BN", "unrenewedItems", repeatable=True),
        FieldInfo("BO", "feeAcknowledged", "yn"),
        FieldInfo("BP", "startItem", "int"),
        FieldInfo("BQ", "endItem", "int"),
        FieldInfo("BR", "queuePosition", "int"),
        FieldInfo("BS", "pickupLocation"),
        FieldInfo("BT", "feeType"),
        FieldInfo("BU", "recallItems", repeatable=True),
        FieldInfo("BV", "feeAmount"),
        FieldInfo("BW", "expirationDate", "date"),
        FieldInfo("BX", "supportedMessages"),
        FieldInfo("BY", "holdType"),
        FieldInfo("BZ", "holdItemsLimit", "int", width=4),
        FieldInfo("CA", "overdueItemsLimit", "int", width=4),
        FieldInfo("CB", "chargedItemsLimit", "int", width=4),
        FieldInfo("CC", "feeLimit"),
        FieldInfo("CD", "unavailableHoldItems", repeatable=True),
        FieldInfo("CF", "holdQueueLength", "int"),
        FieldInfo("CG", "feeIdentifier"),
        FieldInfo("CH", "itemProperties"),
        FieldInfo("CI", "securityInhibit", "yn"),
        FieldInfo("CJ", "recallDate", "date"),
        FieldInfo("CK", "mediaType"),
        FieldInfo("CL", "sortBin"),
        FieldInfo("CM", "holdPickupDate", "date"),
        FieldInfo("CN", "loginUserId"),
        FieldInfo("CO", "loginPassword"),
        FieldInfo("CP", "locationCode"),
        FieldInfo("CQ", "validPatronPassword", "yn"),
        # 3M "SIP2 Extensions" (sorters and hold slips), spec section 3.2.
        FieldInfo("CR", "collectionCode"),
        FieldInfo("CS", "callNumber"),
        FieldInfo("CT", "destinationLocation"),
        FieldInfo("CV", "alertType"),
        FieldInfo("CY", "holdPatronId"),
        FieldInfo("DA", "holdPatronName"),
        # Common vendor extensions in 64 (Evergreen, Koha), spec section 3.3.
        FieldInfo("PB", "birthDate"),
        FieldInfo("PC", "patronClass"),
    ]
}
"""
Every identified field the codec knows, by its two-letter id. A field that
is not listed for a message (or not known at all) is kept in the message's
C{extra} tuple, in the order received.
"""

_date = FixedField("transactionDate", 18, "date")
_screen = ("AF", "AG")


def _m(
    code: str,
    name: str,
    fixed: Iterable[FixedField],
    fields: Iterable[str] = (),
    required: Iterable[str] = (),
    request: bool = True,
) -> MessageSpec:
    return MessageSpec(
        code, name, tuple(fixed), tuple(fields), frozenset(required), request
    )


MESSAGES = [
    # 93 -> 94 Login
    _m(
        "93",
        "Login",
        [FixedField("uidAlgorithm", 1), FixedField("pwdAlgorithm", 1)],
        ["CN", "CO", "CP"],
        ["CN", "CO"],
    ),
    _m("94", "LoginResponse", [FixedField("ok", 1, "ok")], request=False),
    # 99 -> 98 SC Status / ACS Status
    _m(
        "99",
        "SCStatus",
        [
            FixedField("statusCode", 1),
            FixedField("maxPrintWidth", 3, "int"),
            FixedField("protocolVersion", 4),
        ],
    ),
    _m(
        "98",
        "ACSStatus",
        [
            FixedField("onlineStatus", 1, "yn"),
            FixedField("checkinOk", 1, "yn"),
            FixedField("checkoutOk", 1, "yn"),
            FixedField("renewalPolicy", 1, "yn"),
            FixedField("statusUpdateOk", 1, "yn"),
            FixedField("offlineOk", 1, "yn"),
            FixedField("timeoutPeriod", 3, "int"),
            FixedField("retriesAllowed", 3, "int"),
            FixedField("dateTimeSync", 18, "date"),
            FixedField("protocolVersion", 4),
        ],
        ["AO", "AM", "BX", "AN", *_screen],
        ["AO", "BX"],
        request=False,
    ),
    # 23 -> 24 Patron Status
    _m(
        "23",
        "PatronStatus",
        [FixedField("language", 3), _date],
        ["AO", "AA", "AC", "AD"],
        ["AO", "AA", "AC", "AD"],
    ),
    _m(
        "24",
        "PatronStatusResponse",
        [FixedField("patronStatus", 14), FixedField("language", 3), _date],
        ["AO", "AA", "AE", "BL", "CQ", "BH", "BV", *_screen],
        ["AO", "AA", "AE"],
        request=False,
    ),
    # 63 -> 64 Patron Information
    _m(
        "63",
        "PatronInformation",
        [FixedField("language", 3), _date, FixedField("summary", 10)],
        ["AO", "AA", "AC", "AD", "BP", "BQ"],
        ["AO", "AA"],
    ),
    _m(
        "64",
        "PatronInformationResponse",
        [
            FixedField("patronStatus", 14),
            FixedField("language", 3),
            _date,
            FixedField("holdItemsCount", 4, "int"),
            FixedField("overdueItemsCount", 4, "int"),
            FixedField("chargedItemsCount", 4, "int"),
            FixedField("fineItemsCount", 4, "int"),
            FixedField("recallItemsCount", 4, "int"),
            FixedField("unavailableHoldsCount", 4, "int"),
        ],
        [
            "AO", "AA", "AE", "BZ", "CA", "CB", "BL", "CQ", "BH", "BV", "CC",
            "AS", "AT", "AU", "AV", "BU", "CD", "BD", "BE", "BF", "PB", "PC",
            *_screen,
        ],
        ["AO", "AA", "AE"],
        request=False,
    ),
    # 11 -> 12 Checkout
    _m(
        "11",
        "Checkout",
        [
            FixedField("scRenewalPolicy", 1, "yn"),
            FixedField("noBlock", 1, "yn"),
            _date,
            FixedField("nbDueDate", 18, "date"),
        ],
        ["AO", "AA", "AB", "AC", "CH", "AD", "BO", "BI"],
        ["AO", "AA", "AB", "AC"],
    ),
    _m(
        "12",
        "CheckoutResponse",
        [
            FixedField("ok", 1, "ok"),
            FixedField("renewalOk", 1, "yn"),
            FixedField("magneticMedia", 1, "ynu"),
            FixedField("desensitize", 1, "ynu"),
            _date,
        ],
        [
            "AO", "AA", "AB", "AJ", "AH", "BT", "CI", "BH", "BV", "CK", "CH",
            "BK", "BL", "CQ", *_screen,
        ],
        ["AO", "AA", "AB", "AJ", "AH"],
        request=False,
    ),
    # 09 -> 10 Checkin
    _m(
        "09",
        "Checkin",
        [
            FixedField("noBlock", 1, "yn"),
            _date,
            FixedField("returnDate", 18, "date"),
        ],
        ["AP", "AO", "AB", "AC", "CH", "BI"],
        ["AP", "AO", "AB", "AC"],
    ),
    _m(
        "10",
        "CheckinResponse",
        [
            FixedField("ok", 1, "ok"),
            FixedField("resensitize", 1, "ynu"),
            FixedField("magneticMedia", 1, "ynu"),
            FixedField("alert", 1, "yn"),
            _date,
        ],
        [
            "AO", "AB", "AQ", "AJ", "CL", "AA", "CK", "CH", "CR", "CS", "CT",
            "CV", "CY", "DA", *_screen,
        ],
        ["AO", "AB", "AQ"],
        request=False,
    ),
    # 01 -> 24 Block Patron
    _m(
        "01",
        "BlockPatron",
        [FixedField("cardRetained", 1, "yn"), _date],
        ["AO", "AL", "AA", "AC"],
        ["AO", "AL", "AA", "AC"],
    ),
    # 17 -> 18 Item Information
    _m("17", "ItemInformation", [_date], ["AO", "AB", "AC"], ["AO", "AB"]),
    _m(
        "18",
        "ItemInformationResponse",
        [
            FixedField("circulationStatus", 2),
            FixedField("securityMarker", 2),
            FixedField("feeType", 2),
            _date,
        ],
        [
            "CF", "AH", "CJ", "CM", "AB", "AJ", "BG", "BH", "BV", "CK", "AQ",
            "AP", "CH", "CT", "CS", "CY", *_screen,
        ],
        ["AB", "AJ"],
        request=False,
    ),
    # 19 -> 20 Item Status Update
    _m(
        "19",
        "ItemStatusUpdate",
        [_date],
        ["AO", "AB", "AC", "CH"],
        ["AO", "AB", "CH"],
    ),
    _m(
        "20",
        "ItemStatusUpdateResponse",
        [FixedField("itemPropertiesOk", 1, "ok"), _date],
        ["AB", "AJ", "CH", *_screen],
        ["AB"],
        request=False,
    ),
    # 25 -> 26 Patron Enable
    _m(
        "25",
        "PatronEnable",
        [_date],
        ["AO", "AA", "AC", "AD"],
        ["AO", "AA"],
    ),
    _m(
        "26",
        "PatronEnableResponse",
        [FixedField("patronStatus", 14), FixedField("language", 3), _date],
        ["AO", "AA", "AE", "BL", "CQ", *_screen],
        ["AO", "AA", "AE"],
        request=False,
    ),
    # 15 -> 16 Hold
    _m(
        "15",
        "Hold",
        [FixedField("holdMode", 1), _date],
        ["BW", "BS", "BY", "AO", "AA", "AD", "AB", "AJ", "AC", "BO"],
        ["AO", "AA"],
    ),
    _m(
        "16",
        "HoldResponse",
        [FixedField("ok", 1, "ok"), FixedField("available", 1, "yn"), _date],
        ["BW", "BR", "BS", "AO", "AA", "AB", "AJ", *_screen],
        ["AO", "AA"],
        request=False,
    ),
    # 29 -> 30 Renew
    _m(
        "29",
        "Renew",
        [
            FixedField("thirdPartyAllowed", 1, "yn"),
            FixedField("noBlock", 1, "yn"),
            _date,
            FixedField("nbDueDate", 18, "date"),
        ],
        ["AO", "AA", "AD", "AB", "AJ", "AC", "CH", "BO"],
        ["AO", "AA"],
    ),
    _m(
        "30",
        "RenewResponse",
        [
            FixedField("ok", 1, "ok"),
            FixedField("renewalOk", 1, "yn"),
            FixedField("magneticMedia", 1, "ynu"),
            FixedField("desensitize", 1, "ynu"),
            _date,
        ],
        [
            "AO", "AA", "AB", "AJ", "AH", "BT", "CI", "BH", "BV", "CK", "CH",
            "BK", *_screen,
        ],
        ["AO", "AA", "AB", "AJ", "AH"],
        request=False,
    ),
    # 65 -> 66 Renew All
    _m(
        "65",
        "RenewAll",
        [_date],
        ["AO", "AA", "AD", "AC", "BO"],
        ["AO", "AA"],
    ),
    _m(
        "66",
        "RenewAllResponse",
        [
            FixedField("ok", 1, "ok"),
            FixedField("renewedCount", 4, "int"),
            FixedField("unrenewedCount", 4, "int"),
            _date,
        ],
        ["AO", "BM", "BN", *_screen],
        ["AO"],
        request=False,
    ),
    # 35 -> 36 End Patron Session
    _m(
        "35",
        "EndPatronSession",
        [_date],
        ["AO", "AA", "AC", "AD"],
        ["AO", "AA"],
    ),
    _m(
        "36",
        "EndSessionResponse",
        [FixedField("endSession", 1, "yn"), _date],
        ["AO", "AA", *_screen],
        ["AO", "AA"],
        request=False,
    ),
    # 37 -> 38 Fee Paid
    _m(
        "37",
        "FeePaid",
        [
            _date,
            FixedField("feeType", 2),
            FixedField("paymentType", 2),
            FixedField("currencyType", 3),
        ],
        ["BV", "AO", "AA", "AC", "AD", "CG", "BK"],
        ["BV", "AO", "AA"],
    ),
    _m(
        "38",
        "FeePaidResponse",
        [FixedField("paymentAccepted", 1, "yn"), _date],
        ["AO", "AA", "BK", *_screen],
        ["AO", "AA"],
        request=False,
    ),
    # 97 -> 96 resend requests (each direction has its own)
    _m("97", "RequestACSResend", []),
    _m("96", "RequestSCResend", [], request=False),
]
"""
Every SIP 2.00 message, requests and responses alike.
"""

@attrs.frozen
class Operation:
    """
    One of the 16 request kinds of SIP 2.00, as one row of L{OPERATIONS}.

    @ivar request: The request's command identifier (C{23}).
    @ivar response: The command identifier of the response answering it
        (C{24}).
    @ivar name: The operation's name for L{IILS.supports
        <sip2acs.ils.interfaces.IILS.supports>} (C{patronStatus}).
    @ivar method: The L{IILS <sip2acs.ils.interfaces.IILS>} method the
        session calls to answer it (C{lookupPatron}), or L{None} for the
        session's own operations (99, 97, 93), which every adapter supports.
    @ivar label: How tools name its position of C{BX} (spec 4.9).
    """

    request: str
    response: str
    name: str
    method: str | None
    label: str


OPERATIONS = (
    Operation("23", "24", "patronStatus", "lookupPatron", "23/24 patron status"),
    Operation("11", "12", "checkout", "checkout", "11/12 checkout"),
    Operation("09", "10", "checkin", "checkin", "09/10 checkin"),
    Operation("01", "24", "blockPatron", "blockPatron", "01 block patron"),
    Operation("99", "98", "scStatus", None, "99/98 SC/ACS status"),
    Operation("97", "96", "resend", None, "97/96 resend"),
    Operation("93", "94", "login", None, "93/94 login"),
    Operation(
        "63", "64", "patronInformation", "lookupPatron", "63/64 patron information"
    ),
    Operation(
        "35", "36", "endPatronSession", "endPatronSession", "35/36 end patron session"
    ),
    Operation("37", "38", "feePaid", "feePaid", "37/38 fee paid"),
    Operation("17", "18", "itemInformation", "lookupItem", "17/18 item information"),
    Operation(
        "19", "20", "itemStatusUpdate", "updateItemStatus", "19/20 item status update"
    ),
    Operation("25", "26", "patronEnable", "enablePatron", "25/26 patron enable"),
    Operation("15", "16", "hold", "hold", "15/16 hold"),
    Operation("29", "30", "renew", "renew", "29/30 renew"),
    Operation("65", "66", "renewAll", "renewAll", "65/66 renew all"),
)
"""
The one table of what an SC may ask, in the order of the 16 positions of
the C{BX} field of 98. Every other list of operations or request codes
(L{RESPONSE_TO}, L{SUPPORTED_MESSAGES}, the adapter operation names of
L{sip2acs.ils.interfaces.OPERATIONS}, the session's dispatch and refusals,
the client's C{BX} labels) is derived from it.
"""

OPERATION_BY_REQUEST = {operation.request: operation for operation in OPERATIONS}
"""
The row of L{OPERATIONS} for each request code.
"""

RESPONSE_TO = {operation.request: operation.response for operation in OPERATIONS}
"""
The response code each request is answered with.
"""

SUPPORTED_MESSAGES = tuple(operation.request for operation in OPERATIONS)
"""
Request codes in the order of the 16 positions of the C{BX} field of 98.
"""

SUMMARY_FIELDS = ("AS", "AT", "AU", "AV", "BU", "CD")
"""
The list field of 64 selected by each position of the 63 summary.
"""

PATRON_STATUS_FLAGS = (
    "chargePrivilegesDenied",
    "renewalPrivilegesDenied",
    "recallPrivilegesDenied",
    "holdPrivilegesDenied",
    "cardReportedLost",
    "tooManyItemsCharged",
    "tooManyItemsOverdue",
    "tooManyRenewals",
    "tooManyClaimsOfItemsReturned",
    "tooManyItemsLost",
    "excessiveOutstandingFines",
    "excessiveOutstandingFees",
    "recallOverdue",
    "tooManyItemsBilled",
)
"""
The 14 positions of the patron status field (24, 26, 64), spec 4.8.
"""
