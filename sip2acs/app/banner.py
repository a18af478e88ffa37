# -*- test-case-name: tests.test_startup -*-
"""
The start-up banner: what a server that has just started serves, where,
and from what, in a few log lines (L{bannerLines}).
"""

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from twisted.internet.interfaces import IAddress

from sip2acs._version import __version__
from sip2acs.config import Config, InstitutionConfig

__all__ = ["Listening", "bannerLines", "describeAddress", "describeInstitution"]

Listening = tuple[str, str, IAddress | None]
"""
A listener as it listens: C{(transport, endpoint description, bound
address or None)}.
"""


def describeAddress(address: IAddress | None) -> str:
    """
    C{127.0.0.1:6001}, C{[::1]:6001} or a UNIX socket's path.
    """
    if address is None:
        return "(not bound)"
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        if ":" in host:
            return "[%s]:%d" % (host, port)
        return "%s:%d" % (host, port)
    name = getattr(address, "name", None)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return str(name) if name is not None else str(address)


def _hidePassword(url: str) -> str:
    """
    A database URL with its password (if any) replaced by C{***}.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc="%s:***@%s" % (user, netloc[1])))


def describeInstitution(institution: InstitutionConfig) -> str:
    """
    One institution, its adapter and where its data is: C{DEMO (sip2acs
    Demo Library): sqlite, database sip2acs.sqlite3}. A database URL's
    password is not shown.
    """
    options = institution.options
    name = institution.id
    if institution.libraryName:
        name += " (%s)" % (institution.libraryName,)
    if institution.adapter == "sip2":
        return "%s: sip2 gateway to %s" % (name, options.get("upstream"))
    database = options.get("database")
    if institution.adapter in ("sqlite", "postgresql"):
        database = database if database is not None else "sip2acs.sqlite3"
    if isinstance(database, str):
        return "%s: %s, database %s" % (name, institution.adapter, _hidePassword(database))
    return "%s: %s" % (name, institution.adapter)


def bannerLines(
    config: Config,
    listening: Sequence[Listening],
    admin: IAddress | None = None,
    demoCreated: str | None = None,
) -> list[str]:
    """
    The banner, one log line each: the version, each listener with its
    transport and the address it is bound to, the admin URL, each
    institution and, when the demo library was just created, how to log
    in to it.

    @param listening: The listeners, in the configuration's order.
    @param admin: The admin listener's bound address, if it has one.
    @param demoCreated: The database the demo library was created in on
        this start, or L{None}.
    """
    lines = ["sip2acs %s serving" % (__version__,)]
    for transport, description, address in listening:
        lines.append(
            "listener %s on %s (%s)" % (transport, describeAddress(address), description)
        )
    if admin is not None:
        lines.append("admin http://%s/ (status page, /metrics, /health)"
                     % (describeAddress(admin),))
    for institution in config.institutions.values():
        lines.append("institution %s" % (describeInstitution(institution),))
    if demoCreated is not None:
        port = next(
            (getattr(a, "port", None) for t, _, a in listening if t == "raw"), None
        )
        lines.append(
            "created the demo library in %s; log in with: sip2acs client --login demo"
            "%s status (password demo)"
            % (demoCreated, "" if port in (None, 6001) else " --port %s" % (port,))
        )
    return lines
