"""
The C{sip2acs} command (L{sip2acs.tools.cli}): C{hash-password},
C{config check}, the C{db} commands (L{sip2acs.tools.dbcli}), the
troubleshooting client (L{sip2acs.tools.client}) and the benchmark
(L{sip2acs.tools.bench}).
"""

import argparse
from typing import TypeAlias

__all__ = ["Subparsers"]

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""
What C{ArgumentParser.add_subparsers()} returns: the C{register} of each
command group (C{db}, C{bench}, C{client}) adds its command to it.
"""
