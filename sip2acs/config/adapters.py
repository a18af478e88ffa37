# -*- test-case-name: tests.test_config -*-
"""
The settings of each institution's circulation system, checked the way
start-up will: L{adapterProblems} builds every built-in adapter (the
embedded SQLite or PostgreSQL system, the SIP2 gateway) from its settings
without starting it, so that C{sip2acs config check} and a start refuse
the same files, and a misspelt key is named on its line with the key it
resembles.

Adapters of your own (a dotted name) are only built at start: building one
may do anything.
"""

from collections.abc import Callable

from sip2acs.config.model import Config, InstitutionConfig
from sip2acs.config.problems import Problem
from sip2acs.config.toml import didYouMean
from sip2acs.ils.base import UnknownSettings

__all__ = ["BUILT_IN", "adapterProblems"]

BUILT_IN = ("sqlite", "postgresql", "sip2")
"""
The adapters sip2acs ships, built and checked by L{adapterProblems}.
"""


def _build(institution: InstitutionConfig) -> object:
    from twisted.internet import reactor

    from sip2acs.acs.server import makeAdapter

    return makeAdapter(institution, reactor)


def adapterProblems(
    config: Config, build: Callable[[InstitutionConfig], object] = _build
) -> list[Problem]:
    """
    What each institution's built-in adapter refuses in its settings.

    @param build: Builds an institution's adapter without starting it
        (L{sip2acs.acs.server.makeAdapter} by default).
    """
    problems: list[Problem] = []
    for index, institution in enumerate(config.institutions.values()):
        if institution.adapter not in BUILT_IN:
            continue
        try:
            build(institution)
        except UnknownSettings as e:
            problems.extend(
                Problem("institution", index, key,
                        "is not a setting of the %s%s" % (e.adapter, didYouMean(key, e.known)))
                for key in e.keys
            )
        except (ValueError, TypeError) as e:
            problems.append(
                Problem("institution", index, None,
                        "%s's adapter %r: %s" % (institution.id, institution.adapter, e))
            )
    return problems
