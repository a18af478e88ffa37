# -*- test-case-name: tests.test_install -*-
"""
C{sip2acs config example}: the example configurations shipped inside the
package (C{sip2acs/examples/}, package data), so that an installed wheel
can print them without a checkout.

The files in C{sip2acs/examples/} are the source; C{etc/sip2acs.toml} and
C{etc/gateway.toml} in the checkout are copies of them, byte for byte
(C{tests/test_install.py} checks it: edit the packaged file and copy it).
"""

import argparse
import sys
from importlib.resources import files

__all__ = ["EXAMPLES", "exampleConfiguration", "printExample"]

EXAMPLES = {"standalone": "sip2acs.toml", "gateway": "gateway.toml"}
"""
The shipped examples by kind: the embedded circulation system with its demo
library, and the gateway in front of an ILS's own SIP2 server.
"""


def exampleConfiguration(kind: str = "standalone") -> str:
    """
    The text of a shipped example configuration.

    @param kind: A key of L{EXAMPLES}.
    @return: The TOML text, as C{config check} and C{twistd sip2acs} read it.
    @raise KeyError: C{kind} is not a key of L{EXAMPLES}.
    """
    resource = files("sip2acs").joinpath("examples", EXAMPLES[kind])
    return resource.read_text(encoding="utf-8")


def printExample(args: argparse.Namespace) -> int:
    """
    C{sip2acs config example [--gateway]}: print an example configuration
    on standard output.

    @return: The exit status.
    """
    sys.stdout.write(exampleConfiguration("gateway" if args.gateway else "standalone"))
    return 0
