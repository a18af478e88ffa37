# -*- test-case-name: tests.test_config -*-
"""
sip2acs configuration: listeners, institutions and SC accounts.

The configuration is a TOML file (see C{etc/sip2acs.toml}); with no file,
L{defaultConfig} gives the out-of-the-box server: raw SIP2 on
127.0.0.1:6001, the embedded SQLite circulation system in
C{./sip2acs.sqlite3} with demo data, and one SC account C{demo}/C{demo}.

L{loadConfig} validates everything before the server starts and reports
every problem at once, each with its location (C{account[2].encoding:
...}), as a L{ConfigError}.
"""

import tomllib

import attrs

from sip2acs.passwords import hashPassword, isHashed

__all__ = [
    "ConfigError",
    "ListenerConfig",
    "InstitutionConfig",
    "AccountConfig",
    "Config",
    "loadConfig",
    "parseConfig",
    "defaultConfig",
]

TRANSPORTS = ("raw",)
ERROR_DETECTION = ("auto", "required", "off")
ENCODINGS = ("ascii", "latin-1", "cp850", "utf-8")
TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n"}
ITEM_LISTS = ("barcode", "title")
TRACING = ("off", "redacted", "full")


class ConfigError(ValueError):
    """
    A configuration that cannot run. C{problems} lists every problem found,
    each prefixed with where it is.
    """

    def __init__(self, problems, source="configuration"):
        self.problems = list(problems)
        self.source = source
        ValueError.__init__(
            self,
            "%s has %d problem(s):\n  %s"
            % (source, len(self.problems), "\n  ".join(self.problems)),
        )


@attrs.frozen
class ListenerConfig:
    """
    One listening port.

    @ivar endpoint: A Twisted server endpoint description, e.g.
        C{tcp:6001:interface=127.0.0.1}.
    @ivar transport: C{raw} (SIP2 login with 93).
    @ivar loginTimeout: Seconds an unauthenticated connection may stay.
    @ivar idleTimeout: Seconds without a message before an authenticated
        connection is closed; L{None} for never.
    @ivar maxFrame: Longest message in bytes; longer closes the connection.
    @ivar statusBeforeLogin: Answer 99 before 93 (some kiosks need it), with
        the policy of C{institution}.
    @ivar institution: The institution reported to a 99 before login.
    """

    endpoint: str
    transport: str = "raw"
    loginTimeout: float = 30.0
    idleTimeout: float | None = 600.0
    maxFrame: int = 16384
    statusBeforeLogin: bool = False
    institution: str | None = None


@attrs.frozen
class InstitutionConfig:
    """
    An institution: its policy as reported in 98 and the ILS adapter that
    serves it.

    @ivar timeoutPeriod: Seconds the SC should wait for an answer (98
        reports tenths of a second).
    @ivar adapter: C{"sqlite"}, or a dotted name C{package.module.factory}
        of a callable C{factory(options, reactor)} returning an L{IILS
        <sip2acs.interfaces.IILS>} provider.
    @ivar options: Every other key of the institution's table, for the
        adapter (e.g. C{database}, C{demo}).
    """

    id: str
    libraryName: str | None = None
    checkin: bool = True
    checkout: bool = True
    renewal: bool = True
    statusUpdate: bool = True
    offline: bool = False
    timeoutPeriod: float = 60.0
    retries: int = 3
    currency: str = "USD"
    adapter: str = "sqlite"
    options: dict = attrs.field(factory=dict, eq=False)


@attrs.frozen
class AccountConfig:
    """
    An SC account (a kiosk's login).

    @ivar passwordHash: The password, hashed with C{sip2acs hash-password};
        never the clear text. Not shown in C{repr}.
    @ivar errorDetection: C{auto} mirrors the request's AY/AZ; C{required}
        answers 96 to a request without a checksum; C{off} never adds one.
    @ivar location: The SC's location (a branch code), used when the 93
        carries no C{CP}.
    @ivar itemList: Whether the item lists of 64 carry barcodes or titles.
    @ivar trace: Log every message of this account's connections: C{off},
        C{redacted} (personal data masked) or C{full}. Passwords and PINs
        are masked in every mode.
    """

    login: str
    passwordHash: str = attrs.field(repr=False)
    institution: str
    errorDetection: str = "auto"
    encoding: str = "ascii"
    terminator: bytes = b"\r"
    delimiter: str = "|"
    location: str | None = None
    itemList: str = "barcode"
    trace: str = "off"


@attrs.frozen
class Config:
    """
    A whole, validated configuration.
    """

    listeners: tuple[ListenerConfig, ...]
    institutions: dict
    accounts: dict


def defaultConfig(database="sip2acs.sqlite3", endpoints=("tcp:6001:interface=127.0.0.1",)):
    """
    The configuration of C{twistd -n sip2acs} with no C{--config}.

    @param database: Where the embedded SQLite system keeps its data; it is
        created with the demo data on first run.
    @param endpoints: Raw SIP2 listeners.
    """
    return Config(
        listeners=tuple(ListenerConfig(endpoint=e) for e in endpoints),
        institutions={
            "DEMO": InstitutionConfig(
                id="DEMO",
                libraryName="sip2acs Demo Library",
                options={"database": database, "demo": True},
            )
        },
        accounts={
            "demo": AccountConfig(
                login="demo",
                passwordHash=hashPassword("demo"),
                institution="DEMO",
                location="MAIN",
            )
        },
    )


class _Table:
    """
    Reads typed keys from one TOML table, collecting problems instead of
    stopping at the first.
    """

    def __init__(self, data, where, problems):
        self.data = dict(data)
        self.where = where
        self.problems = problems

    def problem(self, key, text):
        self.problems.append("%s.%s: %s" % (self.where, key, text))

    def get(self, key, kind, default=attrs.NOTHING, choices=None):
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
            self.problem(key, "must be a %s, not %r" % (kind.__name__, value))
            return default if default is not attrs.NOTHING else None
        if choices is not None and value not in choices:
            self.problem(
                key, "must be one of %s, not %r" % (", ".join(choices), value)
            )
            return default if default is not attrs.NOTHING else None
        return value

    def rest(self):
        return self.data

    def noMore(self):
        for key in self.data:
            self.problem(key, "is not a known setting")


def _listener(data, where, problems):
    t = _Table(data, where, problems)
    endpoint = t.get("endpoint", str)
    transport = t.get("transport", str, "raw", TRANSPORTS)
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
    )


def _institution(data, where, problems):
    t = _Table(data, where, problems)
    values = dict(
        id=t.get("id", str),
        libraryName=t.get("library-name", str, None),
        checkin=t.get("checkin", bool, True),
        checkout=t.get("checkout", bool, True),
        renewal=t.get("renewal", bool, True),
        statusUpdate=t.get("status-update", bool, True),
        offline=t.get("offline", bool, False),
        timeoutPeriod=t.get("timeout-period", float, 60.0),
        retries=t.get("retries", int, 3),
        currency=t.get("currency", str, "USD"),
        adapter=t.get("adapter", str, "sqlite"),
    )
    if values["timeoutPeriod"] is not None and not 0 <= values["timeoutPeriod"] <= 99.9:
        t.problem("timeout-period", "must be between 0 and 99.9 seconds")
    if values["retries"] is not None and not 0 <= values["retries"] <= 999:
        t.problem("retries", "must be between 0 and 999")
    if values["id"] is None:
        return None
    return InstitutionConfig(options=t.rest(), **values)


def _account(data, where, problems):
    t = _Table(data, where, problems)
    login = t.get("login", str)
    password = t.get("password", str)
    if password is not None and not isHashed(password):
        t.problem(
            "password",
            "must be a hash made by `sip2acs hash-password`, never the password itself",
        )
    values = dict(
        institution=t.get("institution", str),
        errorDetection=t.get("error-detection", str, "auto", ERROR_DETECTION),
        encoding=t.get("encoding", str, "ascii", ENCODINGS),
        terminator=TERMINATORS.get(t.get("terminator", str, "CR", tuple(TERMINATORS))),
        delimiter=t.get("delimiter", str, "|"),
        location=t.get("location", str, None),
        itemList=t.get("item-list", str, "barcode", ITEM_LISTS),
        trace=t.get("trace", str, "off", TRACING),
    )
    delimiter = values["delimiter"]
    if delimiter is not None and (
        len(delimiter) != 1 or delimiter.isalnum() or delimiter in "\r\n\x00"
    ):
        t.problem("delimiter", "must be one punctuation character, like |")
    t.noMore()
    if login is None or password is None or values["institution"] is None:
        return None
    return AccountConfig(login=login, passwordHash=password, **values)


def parseConfig(data, source="configuration"):
    """
    Validate parsed TOML data into a L{Config}.

    @type data: L{dict}
    @raise ConfigError: With every problem found.
    """
    problems = []
    data = dict(data)

    def tables(key):
        value = data.pop(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            problems.append("%s: must be an array of tables ([[%s]])" % (key, key))
            return []
        return value

    listeners = []
    for index, table in enumerate(tables("listener")):
        listener = _listener(table, "listener[%d]" % (index,), problems)
        if listener is not None:
            listeners.append(listener)
    institutions = {}
    for index, table in enumerate(tables("institution")):
        where = "institution[%d]" % (index,)
        institution = _institution(table, where, problems)
        if institution is None:
            continue
        if institution.id in institutions:
            problems.append("%s.id: %r is defined twice" % (where, institution.id))
        institutions[institution.id] = institution
    accounts = {}
    for index, table in enumerate(tables("account")):
        where = "account[%d]" % (index,)
        account = _account(table, where, problems)
        if account is None:
            continue
        if account.login in accounts:
            problems.append("%s.login: %r is defined twice" % (where, account.login))
        if account.institution not in institutions:
            problems.append(
                "%s.institution: %r is not a configured institution"
                % (where, account.institution)
            )
        accounts[account.login] = account
    for index, listener in enumerate(listeners):
        if listener.institution is not None and listener.institution not in institutions:
            problems.append(
                "listener[%d].institution: %r is not a configured institution"
                % (index, listener.institution)
            )
    for key in data:
        problems.append("%s: is not a known section" % (key,))
    if not listeners:
        problems.append("listener: at least one [[listener]] is needed")
    if not institutions:
        problems.append("institution: at least one [[institution]] is needed")
    if problems:
        raise ConfigError(problems, source)
    return Config(tuple(listeners), institutions, accounts)


def loadConfig(path):
    """
    Read and validate a TOML configuration file.

    @raise ConfigError: The file cannot be read, is not TOML, or does not
        describe a server that can run.
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(["cannot read it: %s" % (e.strerror,)], path)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(["is not valid TOML: %s" % (e,)], path)
    return parseConfig(data, path)
