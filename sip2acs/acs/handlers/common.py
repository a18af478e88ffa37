"""
What the request handlers share: the L{Session} they see, the L{Handler}
type, small conversions (amounts, flags, the PIN of a request, due dates
in the account's format), the account's L{Behaviour} and the adapter's
extra fields on a response (L{withExtra}).
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from sip2acs.acs.behaviour import Behaviour
from sip2acs.acs.templates import Template
from sip2acs.sip import codec
from sip2acs.sip.spec import FIELDS

__all__ = [
    "DEFAULT_CURRENCY",
    "behaviourOf",
    "dueDateText",
    "renderedFields",
    "Handler",
    "MAX_FEE_AMOUNT",
    "Session",
    "currencyOf",
    "feeAmount",
    "money",
    "pin",
    "withExtra",
    "yn",
]

MAX_FEE_AMOUNT = Decimal("9999999.99")
"""
The largest amount a 37 may pay: seven digits before the decimal point.
"""

_CENT = Decimal("0.01")


class Session(Protocol):
    """
    What a handler may use of the L{ACSSession
    <sip2acs.acs.session.ACSSession>} it answers for: the SC's identity,
    its adapter, the institution's clock and zone, and L{refuse}.
    """

    log: Logger
    clock: IReactorTime
    server: Any
    listener: Any
    peer: Any
    account: Any
    institution: Any
    ils: Any
    terminal: Any
    certificateSubject: str | None
    maxPrintWidth: int | None

    def now(self) -> datetime:
        """
        The institution's wall time, as sent on the wire.
        """

    def fromWire(self, value: datetime | None) -> datetime | None:
        """
        A date from a request, for the adapter.
        """

    def toWire(self, value: datetime | None) -> datetime | None:
        """
        A date from the adapter, for a response.
        """

    def refuse(self, code: str, request: Any, text: str) -> Any:
        """
        A refusal of request C{code} with screen message C{text}.
        """

    def institutionBeforeLogin(self) -> str:
        """
        The institution an SC that has not logged in is served by.
        """

    def login(self, account: Any, location: str | None = None) -> None:
        """
        Make C{account} the SC's identity.
        """

    def authenticate(
        self,
        credentials: Any,
        location: str | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> "Deferred[Any]":
        """
        Log the SC in through the server's portal, or count the refusal:
        fires with C{True} or C{False}.
        """

    def loginFailed(self) -> bool:
        """
        Count a refused login; whether the connection must now close.
        """

    @property
    def tooManyLoginFailures(self) -> bool:
        """
        Whether the SC failed to log in too often: its connection must close.
        """


Handler = Callable[[Session, Any], "Deferred[Any]"]
"""
A request handler: C{handler(session, request)} returns a Deferred firing
with the response (or C{(response, close)}); adapter failures are left to
the session, which turns them into refusals.
"""


def money(amount: Decimal | str | int | None) -> str | None:
    """
    An amount as sent on the wire (two decimals), or L{None}.
    """
    return None if amount is None else format(Decimal(amount), ".2f")


def feeAmount(text: str) -> Decimal | None:
    """
    The amount a 37's C{BV} field pays, or L{None} when it is not a valid
    amount: not a number, not finite (C{NaN}, C{Infinity}), negative, with
    more than two decimals, or above L{MAX_FEE_AMOUNT} (C{1E+999999}, forty
    nines).

    @type text: L{str}
    @rtype: L{Decimal} or L{None}
    """
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_FEE_AMOUNT:
        return None
    if amount != amount.quantize(_CENT):
        return None
    return amount


DEFAULT_CURRENCY = "USD"
"""
The currency of amounts when neither the circulation system nor the
institution's C{currency} setting says.
"""


def currencyOf(session: Session, reported: str | None) -> str:
    """
    The currency (C{BH}) of an amount the adapter reported in
    C{reported}: the circulation system's, which keeps the amounts, else
    the institution's C{currency} setting, else L{DEFAULT_CURRENCY}.
    """
    return reported or session.institution.currency or DEFAULT_CURRENCY


def yn(value: object) -> bool | None:
    """
    An optional flag: L{None} stays L{None}, anything else becomes a bool.
    """
    return None if value is None else bool(value)


def pin(message: Any) -> str | None:
    """
    The patron's PIN a request carries, or L{None} (01, Block Patron, has
    no patron password field).
    """
    return getattr(message, "patronPassword", None) or None


_WIRE_FIELDS = frozenset({"AY", "AZ"})
"""
The fields the wire adds to a response (sequence number, checksum): never
taken from an adapter.
"""


def withExtra(response: Any, extra: Iterable[tuple[str, str]]) -> Any:
    """
    C{response} carrying the identified fields an adapter put in a result's
    C{extra} (see L{sip2acs.ils.values}), in their order, after the fields
    the handler set, less those that would make the frame say something
    twice or wrong: a field whose id the response already carries (set by
    the handler, or required and sent empty), a second field with the id
    of a SIP2 field that is not repeatable, C{AY} and C{AZ} (the wire adds
    them) and an id that is not two characters. Every handler passes its
    result's C{extra} through here, so a careless adapter cannot send a
    field twice.

    @param response: A message built by a handler (no C{extra} of its own).
    @param extra: C{(id, text)} pairs.
    @return: C{response} itself when nothing is added, else a copy with
        the fields kept as its C{extra}.
    """
    extra = tuple(extra)
    if not extra:
        return response
    carried = {fid for fid, _ in response.fields()} | set(response.spec.required)
    kept = []
    for fid, value in extra:
        if len(fid) != 2 or fid in _WIRE_FIELDS or fid in carried:
            continue
        info = FIELDS.get(fid)
        if info is not None and not info.repeatable:
            carried.add(fid)
        kept.append((fid, value))
    if not kept:
        return response
    return attrs.evolve(response, extra=response.extra + tuple(kept))


_BUILT_IN = Behaviour()


def behaviourOf(session: Session) -> Behaviour:
    """
    The L{Behaviour} of the SC's account; the built-in one before login.
    """
    behaviour = getattr(session.account, "behaviour", None)
    return behaviour if isinstance(behaviour, Behaviour) else _BUILT_IN


def dueDateText(session: Session, value: datetime | None) -> str | None:
    """
    A due date from the adapter as C{AH} carries it for the account: the
    18-character SIP2 date of the institution's wall time, or that time
    in the account's C{due-date-format}; L{None} for no date.
    """
    wall = session.toWire(value)
    if wall is None:
        return None
    pattern = behaviourOf(session).dueDateFormat
    return codec.formatDate(wall) if pattern == "sip" else wall.strftime(pattern)


def renderedFields(
    templates: Mapping[str, Template], **context: object
) -> list[tuple[str, str]]:
    """
    The extra fields an account's field templates (C{patron-fields},
    C{item-fields}) give with C{context}, in their order: C{(id, text)}
    pairs, leaving out a template that renders nothing.
    """
    fields = []
    for fid, template in templates.items():
        text = template.render(**context)
        if text:
            fields.append((fid, text))
    return fields
