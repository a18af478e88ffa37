# -*- test-case-name: tests.test_config -*-
"""
Loading a configuration file, TOML or a Koha/Evergreen XML file.
"""

import os
import tomllib

from sip2acs.config import xml
from sip2acs.config.adapters import adapterProblems
from sip2acs.config.endpoints import endpointProblems
from sip2acs.config.lines import locate
from sip2acs.config.model import Config, ConfigError
from sip2acs.config.problems import Problem
from sip2acs.config.toml import parseConfig

__all__ = ["loadConfig"]


def _inOrder(problems: list[Problem]) -> list[Problem]:
    """
    Problems in the order of their lines in the file; those with no line
    (about what the file leaves out) last.
    """
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def loadConfig(path: str, warnings: list[str] | None = None) -> Config:
    """
    Read and validate a TOML configuration file, or a Koha SIPconfig.xml /
    Evergreen oils_sip.xml (a C{.xml} name, or text starting with C{<}),
    which L{sip2acs.config.xml} converts.

    A TOML file's relative paths (an SQLite C{database}, TLS files,
    password files, an C{offline-queue}) are read from the file's own
    directory, not the working directory, and each problem names its
    line (C{"sip2acs.toml line 12: listener[0].transprot: ..."}).

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
            text = raw.decode("utf-8")
            data = tomllib.loads(text)
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(["is not valid TOML: %s" % (e,)], path) from e
        base = os.path.dirname(os.path.abspath(path))
        try:
            config = parseConfig(data, path, base=base)
        except ConfigError as e:
            raise ConfigError(_inOrder(locate(text, e.details)), path) from None
        problems = endpointProblems(config) + adapterProblems(config)
        if problems:
            raise ConfigError(_inOrder(locate(text, problems)), path)
        return config
    problems = endpointProblems(config) + adapterProblems(config)
    if problems:
        raise ConfigError(problems, path)
    return config
