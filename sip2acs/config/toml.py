# -*- test-case-name: tests.test_config -*-
"""
Reading the TOML configuration (see C{etc/sip2acs.toml}): L{parseConfig}
validates a parsed document and reports every problem at once, each with
its location (C{account[2].encoding: ...}), as a L{ConfigError}.
"""

import difflib
import os
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, time, tzinfo
from typing import Any, NotRequired, TypedDict, TypeVar, overload

import attrs

from sip2acs.acs import behaviour as _b
from sip2acs.acs.addresses import AddressList
from sip2acs.acs.templates import TemplateError, compileTemplate, screenMessageRewriter
from sip2acs.config.model import (
    ENCODINGS,
    ERROR_DETECTION,
    ITEM_LISTS,
    TERMINATORS,
    TRACING,
    TRANSPORTS,
    AccessSettings,
    AccountConfig,
    AdminConfig,
    Config,
    InstitutionConfig,
    ListenerConfig,
    ProxySettings,
    TLSSettings,
)
from sip2acs.config.problems import ConfigError, Problem
from sip2acs.ils.sql.store import isPostgresURL
from sip2acs.ils.zones import zoneNamed
from sip2acs.passwords import isHashed
from sip2acs.transports.tls import TLS_VERSIONS, TLSMaterialError, loadMaterial, normalizeSubject

__all__ = ["parseConfig"]

_T = TypeVar("_T")

_KINDS: dict[type, str] = {
    bool: "true or false",
    int: "a whole number (like 10)",
    float: "a number (like 10)",
    str: "text in quotes",
    list: "a list in brackets",
    dict: "a table",
}
"""
What each kind of value a setting takes is called in a problem, in the
words of the file rather than Python's.
"""

_SECTIONS = ("listener", "institution", "account", "admin")


def tomlValue(value: object) -> str:
    """
    A value as the TOML file writes it, for a problem: C{"ten"} for a
    string, C{true} for a boolean, C{[1, "a"]} for a list, C{a table} for
    a table.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % (value.replace("\\", "\\\\").replace('"', '\\"'),)
    if isinstance(value, list):
        return "[%s]" % (", ".join(tomlValue(each) for each in value),)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def didYouMean(word: str, known: Iterable[str]) -> str:
    """
    C{'; did you mean "transport"?'} when C{word} is close to one of
    C{known} (a misspelling), else C{""}.
    """
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.75)
    return '; did you mean "%s"?' % (close[0],) if close else ""


class _Table:
    """
    Reads typed keys from one TOML table, collecting problems instead of
    stopping at the first.

    @ivar section: The table's kind (C{"listener"}, ...), for its problems.
    @ivar index: Its place in its array of tables, or L{None} for a plain
        table (C{[admin]}).
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        section: str,
        index: int | None,
        problems: list[Problem],
        prefix: str = "",
    ) -> None:
        """
        @param prefix: Put before each key in its problems: the sub-table
            it is in (C{"account-defaults."}).
        """
        # Parsed TOML: a value may be of any TOML type until get checks it.
        self.data: dict[str, Any] = dict(data)
        self.section = section
        self.index = index
        self.problems = problems
        self.prefix = prefix
        self.known: set[str] = set()

    def problem(self, key: str, text: str) -> None:
        self.problems.append(Problem(self.section, self.index, self.prefix + key, text))

    @overload
    def get(
        self,
        key: str,
        kind: type[_T],
        default: attrs.NothingType | None = attrs.NOTHING,
        choices: Collection[str] | None = None,
    ) -> _T | None: ...

    @overload
    def get(
        self, key: str, kind: type[_T], default: _T, choices: Collection[str] | None = None
    ) -> _T: ...

    def get(
        self,
        key: str,
        kind: type[_T],
        default: _T | attrs.NothingType | None = attrs.NOTHING,
        choices: Collection[str] | None = None,
    ) -> _T | None:
        """
        Take C{key} from the table: a value of C{kind} (an integer for a
        float), of C{choices} when given.

        @return: The value; when it is missing or wrong, the problem is
            noted and C{default} given back (L{None} for a required key).
        """
        self.known.add(key)
        if key not in self.data:
            if default is attrs.NOTHING:
                self.problem(key, "is required")
                return None
            return default
        value = self.data.pop(key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (
            kind is int and isinstance(value, bool)
        ):
            self.problem(
                key,
                "must be %s, not %s"
                % (_KINDS.get(kind, kind.__name__), tomlValue(value)),
            )
            return default if default is not attrs.NOTHING else None
        if choices is not None and value not in choices:
            self.problem(
                key,
                "must be one of %s, not %s"
                % (", ".join(choices), tomlValue(value)),
            )
            return default if default is not attrs.NOTHING else None
        return value

    def rest(self) -> dict[str, Any]:
        return self.data

    def noMore(self) -> None:
        """
        Note every key not read as a setting that is not known, with the
        known one it is closest to.
        """
        for key in self.data:
            self.problem(key, "is not a known setting" + didYouMean(key, self.known))

    def path(self, key: str, base: str | None) -> str | None:
        """
        Read an optional file name, relative to C{base} (the configuration
        file's directory) when it is relative and C{base} is given.
        """
        return _resolve(self.get(key, str, None), base)


def _resolve(name: str | None, base: str | None) -> str | None:
    """
    A file name a setting gives, read from C{base} when it is relative.
    """
    if name is None or base is None or not name or os.path.isabs(name):
        return name
    return os.path.join(base, name)


_ADAPTER_FILES = ("database-password-file", "upstream-password-file", "offline-queue")
"""
The institution keys of the built-in adapters that name a file.
"""


def _adapterPaths(options: dict[str, Any], adapter: str, base: str | None) -> None:
    """
    Read the file names of a built-in adapter's options (an SQLite
    C{database}, password files, the gateway's C{offline-queue}) from
    C{base}; a custom adapter's options are left as written.
    """
    if adapter not in ("sqlite", "postgresql", "sip2"):
        return
    for key in _ADAPTER_FILES:
        if isinstance(options.get(key), str):
            options[key] = _resolve(options[key], base)
    database = options.get("database")
    if isinstance(database, str) and database != ":memory:" and not isPostgresURL(database):
        options["database"] = _resolve(database, base)


def _addressList(t: _Table, key: str) -> AddressList | None:
    """
    Read an optional list of addresses and networks.
    """
    entries = t.get(key, list, None)
    if entries is None:
        return None
    addresses, problems = AddressList.parse(entries)
    for text in problems:
        t.problem(key, text)
    return None if problems else addresses


def _listenerTLS(t: _Table, transport: str, base: str | None) -> TLSSettings | None:
    """
    Read a listener's TLS keys, and check its files: they must exist and
    hold a certificate and its key.

    @param base: The directory relative file names are read from, or
        L{None} for the working directory.

    @return: Its L{TLSSettings}, or L{None} when it is not a TLS listener.
        A missing file is named C{""} after its problem is noted: such a
        listener never leaves L{parseConfig}, which keeps it only for its
        checks across tables.
    """
    files = {
        key: t.path(key, base) for key in ("certificate", "private-key", "chain", "client-ca")
    }
    minimumGiven = "tls-minimum" in t.data
    minimum = t.get("tls-minimum", str, "1.2", tuple(TLS_VERSIONS))
    if transport != "tls":
        for key, value in files.items():
            if value is not None:
                t.problem(key, 'is only for transport = "tls"')
        if minimumGiven:
            t.problem("tls-minimum", 'is only for transport = "tls"')
        return None
    certificate, privateKey = files["certificate"], files["private-key"]
    for key in ("certificate", "private-key"):
        if files[key] is None:
            t.problem(key, 'is required for transport = "tls"')
    if certificate is not None and privateKey is not None:
        try:
            loadMaterial(certificate, privateKey, files["chain"], files["client-ca"])
        except TLSMaterialError as e:
            for key, text in e.problems:
                t.problem(key, text)
    return TLSSettings(
        certificate or "", privateKey or "", files["chain"], files["client-ca"], minimum
    )


def _listenerProxy(t: _Table) -> ProxySettings | None:
    """
    Read a listener's PROXY protocol keys.
    """
    proxy = t.get("proxy-protocol", bool, False)
    trusted = _addressList(t, "proxy-from")
    if trusted is not None and not proxy:
        t.problem("proxy-from", "is only for proxy-protocol = true")
    return ProxySettings(trusted) if proxy else None


def _listenerAccess(t: _Table, allow: AddressList | None) -> AccessSettings:
    """
    Read a listener's cap per address and login cooling-off.
    """
    perAddress = t.get("max-connections-per-address", int, 0)
    if perAddress is not None and perAddress < 0:
        t.problem("max-connections-per-address", "must be 0 (no cap) or more")
    failures = t.get("login-failures-before-cooloff", int, 10)
    if failures is not None and failures < 0:
        t.problem("login-failures-before-cooloff", "must be 0 (never cool off) or more")
    cooloff = t.get("cooloff", float, 300.0)
    if cooloff is not None and not 0 < cooloff <= 86400:
        t.problem("cooloff", "must be more than 0 and at most 86400 seconds")
    return AccessSettings(
        allow=allow,
        maxConnectionsPerAddress=perAddress or 0,
        loginFailuresBeforeCooloff=failures if failures is not None else 10,
        cooloff=cooloff or 300.0,
    )


def _listener(
    data: Mapping[str, Any], index: int, problems: list[Problem], base: str | None = None
) -> ListenerConfig | None:
    t = _Table(data, "listener", index, problems)
    endpoint = t.get("endpoint", str)
    transport = t.get("transport", str, "raw", TRANSPORTS)
    tls = _listenerTLS(t, transport, base)
    allow = _addressList(t, "allow")
    proxy = _listenerProxy(t)
    access = _listenerAccess(t, allow)
    if endpoint is not None:
        kind = endpoint.split(":", 1)[0].strip().lower()
        if transport == "tls" and kind in ("ssl", "tls"):
            t.problem(
                "endpoint",
                'give a plain endpoint (tcp:45550:...): transport = "tls" adds'
                " TLS itself",
            )
        if kind == "haproxy" and (
            proxy is not None or allow is not None or access.maxConnectionsPerAddress
            or transport != "raw"
        ):
            t.problem(
                "endpoint",
                "use a plain endpoint with proxy-protocol = true instead of a"
                " haproxy: endpoint, so that allow lists see the kiosk's address",
            )
    login = t.get("login-timeout", float, 30.0)
    idle = t.get("idle-timeout", float, 600.0)
    maxFrame = t.get("max-frame", int, 16384)
    if maxFrame is not None and not 64 <= maxFrame <= 1048576:
        t.problem("max-frame", "must be between 64 and 1048576 bytes")
    before = t.get("status-before-login", bool, False)
    institution = t.get("institution", str, None)
    t.noMore()
    if endpoint is None:
        return None
    return ListenerConfig(
        endpoint=endpoint,
        transport=transport,
        loginTimeout=login,
        idleTimeout=idle or None,
        maxFrame=maxFrame,
        statusBeforeLogin=before,
        institution=institution,
        tls=tls,
        proxy=proxy,
        access=access,
    )


class _InstitutionSettings(TypedDict):
    """
    An institution's settings but its id, as L{InstitutionConfig} names
    them; C{zone} is left out when the C{timezone} key is wrong.
    """

    libraryName: str | None
    checkin: bool
    checkout: bool
    renewal: bool
    statusUpdate: bool
    offline: bool
    timeoutPeriod: float
    retries: int
    currency: str | None
    adapter: str
    zone: NotRequired[tzinfo]


def _institution(
    data: Mapping[str, Any], index: int, problems: list[Problem], base: str | None = None
) -> InstitutionConfig | None:
    t = _Table(data, "institution", index, problems)
    institutionId = t.get("id", str)
    values = _InstitutionSettings(
        libraryName=t.get("library-name", str, None),
        checkin=t.get("checkin", bool, True),
        checkout=t.get("checkout", bool, True),
        renewal=t.get("renewal", bool, True),
        statusUpdate=t.get("status-update", bool, True),
        offline=t.get("offline", bool, False),
        timeoutPeriod=t.get("timeout-period", float, 60.0),
        retries=t.get("retries", int, 3),
        currency=t.get("currency", str, None),
        adapter=t.get("adapter", str, "sqlite"),
    )
    zoneSetting = t.get("timezone", str, None)
    try:
        values["zone"] = zoneNamed(zoneSetting)
    except ValueError as e:
        t.problem("timezone", str(e))
    if values["timeoutPeriod"] is not None and not 0 <= values["timeoutPeriod"] <= 99.9:
        t.problem("timeout-period", "must be between 0 and 99.9 seconds")
    if values["retries"] is not None and not 0 <= values["retries"] <= 999:
        t.problem("retries", "must be between 0 and 999")
    if institutionId is None:
        return None
    options = t.rest()
    _adapterPaths(options, values["adapter"], base)
    return InstitutionConfig(id=institutionId, options=options, **values)


_FIELD_ID = re.compile(r"[A-Z0-9]{2}\Z")
_PAYMENT_TYPE = re.compile(r"[0-9]{2}\Z")

_BEHAVIOUR_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "checkin-not-out": ("checkinNotOut", _b.CHECKIN_NOT_OUT),
    "overpayment": ("overpayment", _b.OVERPAYMENT),
    "empty-pin": ("emptyPin", _b.EMPTY_PIN),
    "hold-list": ("holdList", _b.HOLD_LISTS),
    "fee-format": ("feeFormat", _b.FEE_FORMATS),
    "unknown-item-security": ("unknownItemSecurity", _b.SECURITY),
    "patron-status-permit": ("patronStatusPermit", _b.PATRON_STATUS_PERMIT),
    "patron-class": ("patronClass", _b.PATRON_CLASS),
}
"""
The per-account options that take one of a few words: TOML key to the
L{Behaviour <sip2acs.acs.behaviour.Behaviour>} field and its choices.
"""

_BEHAVIOUR_FLAGS = {
    "cv-on-success": "cvOnSuccess",
    "alert-only-with-cv": "alertOnlyWithCV",
    "always-send-ct": "alwaysSendCT",
    "holds-block-checkin": "holdsBlockCheckin",
    "holds-capture": "holdsCapture",
    "overdues-block-checkout": "overduesBlockCheckout",
    "home-library-in-af": "homeLibraryInAF",
    "renewal-desensitize": "renewalDesensitize",
    "show-outstanding-amount": "showOutstandingAmount",
    "show-checkin-message": "showCheckinMessage",
}
"""
The per-account options that are true or false.
"""

_BEHAVIOUR_TEMPLATES = {
    "ae-template": "aeTemplate",
    "da-template": "daTemplate",
    "av-template": "avTemplate",
}


def _fieldId(t: _Table, key: str, fid: object, what: str = "a field id") -> str | None:
    """
    C{fid} if it is a field id (two capital letters or digits) an answer
    may carry, else L{None} with the problem noted.
    """
    if not isinstance(fid, str) or not _FIELD_ID.match(fid):
        t.problem(key, "%r is not %s (two capital letters or digits, like AE)" % (fid, what))
        return None
    if fid in _b.UNHIDEABLE:
        t.problem(key, "%s is the wire's own field (sequence number and checksum)" % (fid,))
        return None
    return fid


def _template(t: _Table, key: str, text: object) -> Any:
    """
    C{text} compiled as a template, or L{None} with the problem noted.
    """
    if not isinstance(text, str):
        t.problem(key, "must be a template (text in quotes), not %s" % (tomlValue(text),))
        return None
    try:
        return compileTemplate(text, key)
    except TemplateError as e:
        t.problem(key, str(e))
        return None


def _fieldTemplates(t: _Table, key: str) -> dict[str, Any] | None:
    """
    A table of field id to template (C{patron-fields}, C{item-fields}).
    """
    table = t.get(key, dict, None)
    if table is None:
        return None
    fields = {}
    for fid, text in table.items():
        checked = _fieldId(t, key, fid)
        template = _template(t, "%s.%s" % (key, fid), text)
        if checked is not None and template is not None:
            fields[checked] = template
    return fields


def _paymentTypes(t: _Table) -> dict[str, str] | None:
    table = t.get("payment-types", dict, None)
    if table is None:
        return None
    kinds = {}
    for code, kind in table.items():
        if not _PAYMENT_TYPE.match(code):
            t.problem("payment-types", "%r is not a SIP2 payment type (00 to 99)" % (code,))
        elif kind not in _b.PAYMENT_KINDS:
            t.problem(
                "payment-types.%s" % (code,),
                "must be one of %s, not %r" % (", ".join(_b.PAYMENT_KINDS), kind),
            )
        else:
            kinds[code] = kind
    return kinds


def _rewrites(t: _Table) -> list[tuple[str, str]] | None:
    entries = t.get("screen-message-rewrites", list, None)
    if entries is None:
        return None
    rewrites = []
    for position, entry in enumerate(entries):
        try:
            screenMessageRewriter([entry])
        except TemplateError as e:
            t.problem("screen-message-rewrites[%d]" % (position,), str(e))
            continue
        rewrites.append((entry[0], entry[1]))
    return rewrites


def _dueDateFormat(t: _Table) -> str | None:
    pattern = t.get("due-date-format", str, None)
    if pattern is None or pattern == "sip":
        return pattern
    if "%" not in pattern:
        t.problem(
            "due-date-format",
            'must be "sip" or a strftime pattern like "%%m/%%d/%%Y", not %r' % (pattern,),
        )
        return None
    try:
        datetime(2025, 3, 14, 23, 59).strftime(pattern)
    except ValueError as e:
        t.problem("due-date-format", "%r is not a strftime pattern: %s" % (pattern, e))
        return None
    return pattern


def _lostItems(t: _Table) -> int | None:
    count = t.get("lost-items-block-checkout", int, None)
    if count is not None and count < 1:
        t.problem(
            "lost-items-block-checkout",
            "must be a number of lost items, 1 or more, not %r" % (count,),
        )
        return None
    return count


def _itemTypes(t: _Table) -> tuple[str, ...] | None:
    types = t.get("blocked-item-types", list, None)
    if types is None:
        return None
    codes = []
    for code in types:
        if not isinstance(code, str) or not code.strip():
            t.problem("blocked-item-types", "%r is not an item type code" % (code,))
        else:
            codes.append(code.strip())
    return tuple(codes)


def _nonprinting(t: _Table) -> str | None:
    """
    C{nonprinting-characters}: C{"keep"} as it is (the caller makes it
    L{None}, which then overrides an institution's default), C{"replace"}
    a space, any other text the replacement itself (C{""} drops them).
    """
    value = t.get("nonprinting-characters", str, None)
    return " " if value == "replace" else value


def _behaviourSettings(t: _Table) -> dict[str, Any]:
    """
    Read the per-account options C{t} gives (an C{[[account]]} table or
    an institution's C{account-defaults}).

    @return: The fields of L{Behaviour <sip2acs.acs.behaviour.Behaviour>}
        given, with their values; a wrong one is left out, its problem
        noted.
    """
    values: dict[str, Any] = {}
    t.known.update(_BEHAVIOUR_TEMPLATES)
    for key, (name, choices) in _BEHAVIOUR_CHOICES.items():
        values[name] = t.get(key, str, None, choices)
    for key, name in _BEHAVIOUR_FLAGS.items():
        values[name] = t.get(key, bool, None)
    for key, name in _BEHAVIOUR_TEMPLATES.items():
        if key in t.data:
            values[name] = _template(t, key, t.data.pop(key))
    values["registerId"] = t.get("register-id", str, None)
    values["lostItemsBlockCheckout"] = _lostItems(t)
    values["blockedItemTypes"] = _itemTypes(t)
    values["paymentTypes"] = _paymentTypes(t)
    hidden = t.get("hide-fields", list, None)
    if hidden is not None:
        checked = [_fieldId(t, "hide-fields", fid) for fid in hidden]
        values["hiddenFields"] = tuple(fid for fid in checked if fid is not None)
    allowed = t.get("allow-fields", list, None)
    if allowed is not None:
        checked = [_fieldId(t, "allow-fields", fid) for fid in allowed]
        values["allowedFields"] = tuple(fid for fid in checked if fid is not None)
    expiry = t.get("expiry-field", str, None)
    if expiry is not None:
        values["expiryField"] = _fieldId(t, "expiry-field", expiry)
    values["dueDateFormat"] = _dueDateFormat(t)
    values["nonprintingCharacters"] = _nonprinting(t)
    values["patronFields"] = _fieldTemplates(t, "patron-fields")
    values["itemFields"] = _fieldTemplates(t, "item-fields")
    values["screenMessageRewrites"] = _rewrites(t)
    settings = {name: value for name, value in values.items() if value is not None}
    if settings.get("nonprintingCharacters") == "keep":
        settings["nonprintingCharacters"] = None
    return settings


def _accountDefaults(
    data: object, index: int, problems: list[Problem]
) -> dict[str, Any]:
    """
    Read an institution's C{[institution.account-defaults]} sub-table.
    """
    if not isinstance(data, dict):
        problems.append(
            Problem(
                "institution", index, "account-defaults",
                "must be a table ([institution.account-defaults])",
            )
        )
        return {}
    t = _Table(data, "institution", index, problems, prefix="account-defaults.")
    settings = _behaviourSettings(t)
    t.noMore()
    return settings


def _behaviour(
    t: _Table, defaults: Mapping[str, Any]
) -> _b.Behaviour:
    """
    An account's L{Behaviour <sip2acs.acs.behaviour.Behaviour>}: its own
    keys over its institution's C{defaults}, over the built-in defaults.
    """
    settings = dict(defaults)
    settings.update(_behaviourSettings(t))
    if settings.get("feeFormat") == "template" and settings.get("avTemplate") is None:
        t.problem("fee-format", '"template" needs an av-template')
        settings["feeFormat"] = "amount"
    return _b.Behaviour(**settings)


class _AccountSettings(TypedDict):
    """
    An account's settings but its login, password and institution, as
    L{AccountConfig} names them.
    """

    errorDetection: str
    encoding: str
    terminator: bytes
    delimiter: str
    location: str | None
    itemList: str
    personalDataOnWrongPin: bool
    trace: str
    allow: AddressList | None
    addresses: AddressList | None
    certificateSubject: str | None
    upstreamLogin: str | None
    upstreamPasswordFile: str | None
    behaviour: _b.Behaviour


def _account(
    data: Mapping[str, Any],
    index: int,
    problems: list[Problem],
    defaults: Mapping[str, Mapping[str, Any]],
    base: str | None = None,
) -> AccountConfig | None:
    """
    Read one C{[[account]]} table.

    @param defaults: The C{account-defaults} of each institution, by id.
    @param base: The directory relative file names are read from, or
        L{None} for the working directory.
    """
    t = _Table(data, "account", index, problems)
    login = t.get("login", str)
    password = t.get("password", str)
    if password is not None and not isHashed(password):
        t.problem(
            "password",
            "must be a hash made by `sip2acs hash-password`, never the password itself",
        )
    institution = t.get("institution", str)
    values = _AccountSettings(
        errorDetection=t.get("error-detection", str, "auto", ERROR_DETECTION),
        encoding=t.get("encoding", str, "ascii", ENCODINGS),
        # get gives one of the choices or the default: always a key.
        terminator=TERMINATORS[t.get("terminator", str, "CR", tuple(TERMINATORS))],
        delimiter=t.get("delimiter", str, "|"),
        location=t.get("location", str, None),
        itemList=t.get("item-list", str, "barcode", ITEM_LISTS),
        personalDataOnWrongPin=t.get("personal-data-on-wrong-pin", bool, False),
        trace=t.get("trace", str, "off", TRACING),
        allow=_addressList(t, "allow"),
        addresses=_addressList(t, "addresses"),
        certificateSubject=t.get("certificate-subject", str, None),
        upstreamLogin=t.get("upstream-login", str, None),
        upstreamPasswordFile=t.path("upstream-password-file", base),
        behaviour=_b.Behaviour(),
    )
    institutionDefaults = defaults.get(institution, {}) if institution is not None else {}
    values["behaviour"] = _behaviour(t, institutionDefaults)
    subject = values["certificateSubject"]
    if subject is not None:
        try:
            values["certificateSubject"] = normalizeSubject(subject)
        except ValueError as e:
            t.problem(
                "certificate-subject",
                "%r %s; write it as `openssl x509 -noout -subject -nameopt"
                " RFC2253 -in kiosk.pem` prints it, e.g. CN=kiosk1,O=Harbour Library"
                % (subject, e),
            )
            values["certificateSubject"] = None
    if values["allow"] is not None and values["addresses"] is not None:
        outside = values["allow"].covers(values["addresses"])
        if outside:
            t.problem(
                "addresses",
                "%s is not inside this account's allow list"
                % (", ".join(str(n) for n in outside),),
            )
    delimiter = values["delimiter"]
    if delimiter is not None and (
        len(delimiter) != 1 or delimiter.isalnum() or delimiter in "\r\n\x00"
    ):
        t.problem("delimiter", "must be one punctuation character, like |")
    t.noMore()
    if login is None or password is None or institution is None:
        return None
    return AccountConfig(
        login=login, passwordHash=password, institution=institution, **values
    )


def _admin(data: object, problems: list[Problem]) -> AdminConfig:
    if not isinstance(data, dict):
        problems.append(Problem("admin", None, None, "must be a table ([admin])"))
        return AdminConfig()
    t = _Table(data, "admin", None, problems)
    endpoint = t.get("endpoint", str, None)
    if endpoint is not None and not endpoint.strip():
        t.problem("endpoint", "must not be empty (leave it out for no admin listener)")
        endpoint = None
    timeout = t.get("health-timeout", float, 5.0)
    if timeout is not None and not 0 < timeout <= 300:
        t.problem("health-timeout", "must be more than 0 and at most 300 seconds")
        timeout = 5.0
    t.noMore()
    return AdminConfig(endpoint=endpoint, healthTimeout=timeout)


def _checkAccountAccess(
    located: list[tuple[int, AccountConfig]],
    listeners: list[ListenerConfig],
    problems: list[Problem],
) -> None:
    """
    Checks across accounts and listeners: no address may log two accounts
    in, and an account bound to a certificate subject needs a listener
    that asks for client certificates.

    @param located: C{(index, account)} pairs.
    """
    bound = [
        (index, account.addresses, account.login)
        for index, account in located
        if account.addresses
    ]
    for position, (index, addresses, _login) in enumerate(bound):
        for otherIndex, otherAddresses, otherLogin in bound[position + 1 :]:
            for mine, theirs in addresses.overlapping(otherAddresses):
                problems.append(
                    Problem(
                        "account",
                        index,
                        "addresses",
                        "%s overlaps %s of account[%d] (%r): each address may log in one account"
                        % (mine, theirs, otherIndex, otherLogin),
                    )
                )
    mutual = any(each.tls is not None and each.tls.clientCA for each in listeners)
    for index, account in located:
        if account.certificateSubject is not None and not mutual:
            problems.append(
                Problem(
                    "account",
                    index,
                    "certificate-subject",
                    'no [[listener]] with transport = "tls" and a client-ca asks for'
                    " client certificates, so this account could never log in",
                )
            )


def parseConfig(
    data: Mapping[str, Any], source: str = "configuration", base: str | None = None
) -> Config:
    """
    Validate parsed TOML data into a L{Config}.

    @type data: L{dict}
    @param base: The directory the relative file names of the
        configuration are read from (the configuration file's, see
        L{loadConfig <sip2acs.config.loadConfig>}); L{None} leaves them
        relative to the working directory.
    @raise ConfigError: With every problem found, as L{Problem}s.
    """
    problems: list[Problem] = []
    # Parsed TOML: any TOML value under each key, checked as it is read.
    data = dict(data)

    def tables(key: str) -> list[dict[str, Any]]:
        value = data.pop(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            problems.append(
                Problem(key, None, None, "must be an array of tables ([[%s]])" % (key,))
            )
            return []
        return value

    listeners = []
    for index, table in enumerate(tables("listener")):
        listener = _listener(table, index, problems, base)
        if listener is not None:
            listeners.append(listener)
    institutions = {}
    defaults: dict[str, dict[str, Any]] = {}
    for index, table in enumerate(tables("institution")):
        table = dict(table)
        accountDefaults = _accountDefaults(table.pop("account-defaults", {}), index, problems)
        institution = _institution(table, index, problems, base)
        if institution is None:
            continue
        defaults.setdefault(institution.id, accountDefaults)
        if institution.id in institutions:
            problems.append(
                Problem("institution", index, "id", "%r is defined twice" % (institution.id,))
            )
        institutions[institution.id] = institution
    accounts = {}
    located = []
    for index, table in enumerate(tables("account")):
        account = _account(table, index, problems, defaults, base)
        if account is None:
            continue
        located.append((index, account))
        if account.login in accounts:
            problems.append(
                Problem("account", index, "login", "%r is defined twice" % (account.login,))
            )
        if account.institution not in institutions:
            problems.append(
                Problem(
                    "account",
                    index,
                    "institution",
                    "%r is not a configured institution" % (account.institution,),
                )
            )
        accounts[account.login] = account
    for institutionId, institution in institutions.items():
        logins = tuple(
            (account.login, account.upstreamLogin, account.upstreamPasswordFile)
            for account in accounts.values()
            if account.institution == institutionId
            and (account.upstreamLogin or account.upstreamPasswordFile)
        )
        if logins:
            institutions[institutionId] = attrs.evolve(institution, accountLogins=logins)
    _checkAccountAccess(located, listeners, problems)
    for index, listener in enumerate(listeners):
        if listener.institution is not None and listener.institution not in institutions:
            problems.append(
                Problem(
                    "listener",
                    index,
                    "institution",
                    "%r is not a configured institution" % (listener.institution,),
                )
            )
    admin = _admin(data.pop("admin", {}), problems)
    for index, listener in enumerate(listeners):
        if admin.endpoint is not None and listener.endpoint == admin.endpoint:
            problems.append(
                Problem(
                    "admin",
                    None,
                    "endpoint",
                    "%r is also listener[%d]'s endpoint" % (admin.endpoint, index),
                )
            )
    for key in data:
        problems.append(
            Problem(key, None, None, "is not a known section" + didYouMean(key, _SECTIONS))
        )
    if not listeners:
        problems.append(
            Problem("listener", None, None, "at least one [[listener]] is needed")
        )
    if not institutions:
        problems.append(
            Problem("institution", None, None, "at least one [[institution]] is needed")
        )
    if problems:
        raise ConfigError(problems, source)
    return Config(tuple(listeners), institutions, accounts, admin=admin)
