"""
sip2acs configuration: listeners, institutions and SC accounts.

The configuration is a TOML file (see C{etc/sip2acs.toml}); with no file,
L{defaultConfig} gives the out-of-the-box server: raw SIP2 on
127.0.0.1:6001, the embedded SQLite circulation system in
C{./sip2acs.sqlite3} with demo data, one SC account C{demo}/C{demo}, and
the admin listener (metrics, health) on 127.0.0.1:6080.

L{loadConfig} validates everything before the server starts and reports
every problem at once, each with its location (C{account[2].encoding:
...}), as a L{ConfigError} carrying L{Problem} values
(L{sip2acs.config.problems}).

The model is L{sip2acs.config.model} (a L{ListenerConfig} has optional
L{TLSSettings} and L{ProxySettings} parts and its L{AccessSettings}),
the TOML reader L{sip2acs.config.toml}, the Koha/Evergreen XML import
and the TOML writer L{sip2acs.config.xml}; their public names are here
too.
"""

from sip2acs.config.load import loadConfig
from sip2acs.config.model import (
    DEFAULT_ADMIN_ENDPOINT,
    AccessSettings,
    AccountConfig,
    AdminConfig,
    Config,
    InstitutionConfig,
    ListenerConfig,
    ProxySettings,
    TLSSettings,
    defaultConfig,
)
from sip2acs.config.problems import ConfigError, Problem
from sip2acs.config.toml import parseConfig

__all__ = [
    "ConfigError",
    "Problem",
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
    "loadConfig",
    "parseConfig",
]
