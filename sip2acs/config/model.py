# -*- test-case-name: tests.test_config -*-
"""
The configuration model: listeners (each with its optional TLS and PROXY
parts and its access rules), institutions, SC accounts and the admin
listener, as validated frozen values. L{defaultConfig} gives the
out-of-the-box server. The error that lists a file's problems is
L{sip2acs.config.problems}; L{ConfigError} is importable from here too.
"""

from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

import attrs

from sip2acs.acs.addresses import AddressList
from sip2acs.acs.behaviour import Behaviour
from sip2acs.config.problems import ConfigError
from sip2acs.ils.zones import HOST_ZONE
from sip2acs.passwords import hashPassword

__all__ = [
    "ConfigError",
    "ListenerConfig",
    "TLSSettings",
    "ProxySettings",
    "AccessSettings",
    "InstitutionConfig",
    "AccountConfig",
    "AdminConfig",
    "Config",
    "DEFAULT_ADMIN_ENDPOINT",
    "defaultConfig",
]

TRANSPORTS = ("raw", "telnet", "tls")
ERROR_DETECTION = ("auto", "required", "off")
ENCODINGS = ("ascii", "latin-1", "cp850", "utf-8")
TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n"}
ITEM_LISTS = ("barcode", "title")
TRACING = ("off", "redacted", "full")


@attrs.frozen
class TLSSettings:
    """
    The TLS part of a listener with C{transport = "tls"}.

    @ivar certificate: The server certificate's PEM file (further
        certificates in it are its chain).
    @ivar privateKey: The unencrypted private key's PEM file.
    @ivar chain: A PEM file of intermediate certificates, or L{None}.
    @ivar clientCA: A PEM bundle of the CAs whose certificates kiosks must
        present (mutual TLS), or L{None} for no client certificates.
    @ivar minimum: The oldest version accepted, C{"1.2"}, C{"1.3"}, or the
        insecure C{"1.0"}/C{"1.1"} (setting C{tls-minimum}).
    """

    certificate: str
    privateKey: str
    chain: str | None = None
    clientCA: str | None = None
    minimum: str = "1.2"


@attrs.frozen
class ProxySettings:
    """
    The PROXY protocol part of a listener with C{proxy-protocol = true}:
    its connections start with a PROXY (v1 or v2) header from a load
    balancer, naming the kiosk's address.

    @ivar trusted: The balancers' addresses allowed to send those headers
        (setting C{proxy-from}), or L{None} for any.
    """

    trusted: AddressList | None = None


@attrs.frozen
class AccessSettings:
    """
    Who may connect to a listener, and how often they may fail to log in.

    @ivar allow: An L{AddressList} of the addresses that may connect, or
        L{None} for every address.
    @ivar maxConnectionsPerAddress: Open connections allowed per address;
        C{0} for no cap.
    @ivar loginFailuresBeforeCooloff: Failed logins from one address
        (within C{cooloff} seconds) after which its logins are refused for
        C{cooloff} seconds; C{0} turns this off.
    @ivar cooloff: Seconds of the cooling-off.
    """

    allow: AddressList | None = None
    maxConnectionsPerAddress: int = 0
    loginFailuresBeforeCooloff: int = 10
    cooloff: float = 300.0

    @property
    def gated(self) -> bool:
        """
        Whether connections pass a gate before SIP2 (an allow list or a
        cap per address); the login throttle is not a gate.
        """
        return self.allow is not None or bool(self.maxConnectionsPerAddress)


def _tlsForTransport(
    listener: "ListenerConfig", attribute: "attrs.Attribute[TLSSettings | None]", value: object
) -> None:
    """
    A listener has a TLS part exactly when its transport is C{tls}.
    """
    if (value is not None) != (listener.transport == "tls"):
        raise ValueError(
            "a listener has TLS settings exactly when its transport is tls"
            " (transport %r, tls %r)" % (listener.transport, value)
        )


@attrs.frozen
class ListenerConfig:
    """
    One listening port: the endpoint and SIP2 settings every listener has,
    and its optional parts.

    @ivar endpoint: A Twisted server endpoint description, e.g.
        C{tcp:6001:interface=127.0.0.1}.
    @ivar transport: C{raw} (SIP2 login with 93), C{telnet} (a
        C{login:}/C{password:} prelude, then SIP2; see
        L{sip2acs.transports.telnet}) or C{tls} (SIP2 in TLS; see
        L{sip2acs.transports.tls}).
    @ivar loginTimeout: Seconds an unauthenticated connection may stay.
    @ivar idleTimeout: Seconds without a message before an authenticated
        connection is closed; L{None} for never.
    @ivar maxFrame: Longest message in bytes; longer closes the connection.
    @ivar statusBeforeLogin: Answer 99 before 93 (some kiosks need it), with
        the policy of C{institution}.
    @ivar institution: The institution reported to a 99 before login.
    @ivar tls: The L{TLSSettings}: given exactly when C{transport} is
        C{tls}.
    @ivar proxy: The L{ProxySettings} when connections start with a PROXY
        protocol header, else L{None}.
    @ivar access: The L{AccessSettings}: allow list, cap per address and
        login cooling-off.
    """

    endpoint: str
    transport: str = "raw"
    loginTimeout: float = 30.0
    idleTimeout: float | None = 600.0
    maxFrame: int = 16384
    statusBeforeLogin: bool = False
    institution: str | None = None
    tls: TLSSettings | None = attrs.field(default=None, validator=_tlsForTransport)
    proxy: ProxySettings | None = None
    access: AccessSettings = AccessSettings()


@attrs.frozen
class InstitutionConfig:
    """
    An institution: its policy as reported in 98 and the ILS adapter that
    serves it.

    @ivar timeoutPeriod: Seconds the SC should wait for an answer (98
        reports tenths of a second).
    @ivar adapter: C{"sqlite"}, or a dotted name C{package.module.factory}
        of a callable C{factory(options, reactor)} returning an L{IILS
        <sip2acs.ils.interfaces.IILS>} provider.
    @ivar options: Every other key of the institution's table, for the
        adapter (e.g. C{database}, C{demo}).
    @ivar zone: The institution's time zone (setting C{timezone}, an IANA
        name), L{HOST_ZONE <sip2acs.ils.zones.HOST_ZONE>} by default: the
        zone of every time the adapter takes and gives, and of the dates
        with a blank zone on the wire (see L{sip2acs.ils.zones}).
    @ivar accountLogins: For a gateway in pass-through mode, C{(login,
        upstream-login, upstream-password-file)} of each of the
        institution's accounts that names its own upstream login.
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
    currency: str | None = None
    adapter: str = "sqlite"
    # The rest of a parsed TOML table: values of any TOML type, read by the
    # adapter.
    options: dict[str, Any] = attrs.field(factory=dict, eq=False)
    zone: tzinfo = HOST_ZONE
    accountLogins: tuple[tuple[str, str | None, str | None], ...] = ()


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
    @ivar personalDataOnWrongPin: Whether answers to a request with a wrong
        PIN still carry the patron's personal data (name, address, e-mail,
        phone, birth date, amounts, item lists), as sites whose kiosks
        depend on it need. Off by default: the answer then carries only the
        patron's status.
    @ivar trace: Log every message of this account's connections: C{off},
        C{redacted} (personal data masked) or C{full}. Passwords and PINs
        are masked in every mode.
    @ivar allow: An L{AddressList} of the addresses this account may log
        in from, or L{None} for every address.
    @ivar addresses: An L{AddressList} of addresses whose connections are
        logged in as this account without a 93 (a 93 still overrides), or
        L{None}.
    @ivar certificateSubject: The subject (RFC 4514, as
        L{normalizeSubject <sip2acs.transports.tls.normalizeSubject>} writes it) the
        kiosk's TLS client certificate must have to log in as this
        account, or L{None}.
    @ivar upstreamLogin: For a gateway institution in pass-through mode,
        the upstream SIP2 login this account's requests go out under.
    @ivar upstreamPasswordFile: The file holding that login's password.
    @ivar behaviour: The account's L{Behaviour <sip2acs.acs.behaviour.Behaviour>}
        (Koha and Evergreen per-login options): its own keys over its
        institution's C{account-defaults}.
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
    personalDataOnWrongPin: bool = False
    trace: str = "off"
    allow: AddressList | None = None
    addresses: AddressList | None = None
    certificateSubject: str | None = None
    upstreamLogin: str | None = None
    upstreamPasswordFile: str | None = None
    behaviour: Behaviour = Behaviour()


@attrs.frozen
class AdminConfig:
    """
    The admin HTTP listener (metrics, health, readiness, status page; see
    L{sip2acs.ops.admin}).

    @ivar endpoint: A Twisted server endpoint description, e.g.
        C{tcp:6080:interface=127.0.0.1}; L{None} for no admin listener.
    @ivar healthTimeout: Seconds each ILS adapter has to answer C{/health}.
    """

    endpoint: str | None = None
    healthTimeout: float = 5.0


DEFAULT_ADMIN_ENDPOINT = "tcp:6080:interface=127.0.0.1"
"""
The admin listener of the built-in configuration: loopback only.
"""


@attrs.frozen
class Config:
    """
    A whole, validated configuration.

    @ivar admin: The L{AdminConfig}; no admin listener by default.
    """

    listeners: tuple[ListenerConfig, ...]
    institutions: dict[str, InstitutionConfig]
    accounts: dict[str, AccountConfig]
    admin: AdminConfig = AdminConfig()


def defaultConfig(
    database: str = "sip2acs.sqlite3",
    endpoints: Iterable[str] = ("tcp:6001:interface=127.0.0.1",),
    admin: str | None = DEFAULT_ADMIN_ENDPOINT,
) -> Config:
    """
    The configuration of C{twistd -n sip2acs} with no C{--config}.

    @param database: Where the embedded SQLite system keeps its data; it is
        created with the demo data on first run.
    @param endpoints: Raw SIP2 listeners.
    @param admin: The admin listener's endpoint (loopback port 6080 by
        default), or L{None} for none.
    """
    return Config(
        admin=AdminConfig(endpoint=admin),
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
