# -*- test-case-name: tests.test_config -*-
"""
Loading a configuration file, TOML or a Koha/Evergreen XML file.
"""

import tomllib

from sip2acs.config import xml
from sip2acs.config.endpoints import endpointProblems
from sip2acs.config.model import Config, ConfigError
from sip2acs.config.toml import parseConfig

__all__ = ["loadConfig"]


def loadConfig(path: str, warnings: list[str] | None = None) -> Config:
    """
    Read and validate a TOML configuration file, or a Koha SIPconfig.xml /
    Evergreen oils_sip.xml (a C{.xml} name, or text starting with C{<}),
    which L{sip2acs.config.xml} converts.

    @param warnings: For an XML file, a list to append what was not carried
        over to; when L{None} it is logged.
    @raise ConfigError: The file cannot be read, is not TOML (or XML), or
        does not describe a server that can run (an endpoint start-up
        would refuse included: L{endpointProblems}).
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(["cannot read it: %s" % (e.strerror,)], path) from e
    if xml.looksLikeXML(path, raw):
        config = xml.loadXMLConfig(path, raw, warnings)
    else:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(["is not valid TOML: %s" % (e,)], path) from e
        config = parseConfig(data, path)
    problems = endpointProblems(config)
    if problems:
        raise ConfigError(problems, path)
    return config
