# -*- test-case-name: tests.test_install -*-
"""
C{sip2acs config example}: the example configurations, systemd units and
logrotate file shipped inside the package (C{sip2acs/examples/}, package
data), so that an installed wheel can print them without a checkout.

The files in C{sip2acs/examples/} are the source; the same paths under
C{etc/} in the checkout are copies of them, byte for byte
(C{tests/test_install.py} checks it: edit the packaged file and copy it).
"""

import argparse
import sys
from importlib.resources import files

__all__ = ["EXAMPLES", "exampleConfiguration", "printExample"]

EXAMPLES = {
    "standalone": "sip2acs.toml",
    "gateway": "gateway.toml",
    "unit": "sip2acs.service",
    "instance-unit": "sip2acs@.service",
    "logrotate": "logrotate.d/sip2acs",
}
"""
The shipped examples by kind, as paths under C{sip2acs/examples/} (and
C{etc/}): the embedded circulation system with its demo library, the
gateway in front of an ILS's own SIP2 server, the hardened systemd unit
(and its template for several instances), and logrotate's file for a
C{--logfile}.
"""


def exampleConfiguration(kind: str = "standalone") -> str:
    """
    The text of a shipped example configuration.

    @param kind: A key of L{EXAMPLES}.
    @return: The TOML text, as C{config check} and C{twistd sip2acs} read it.
    @raise KeyError: C{kind} is not a key of L{EXAMPLES}.
    """
    resource = files("sip2acs").joinpath("examples", *EXAMPLES[kind].split("/"))
    return resource.read_text(encoding="utf-8")


def printExample(args: argparse.Namespace) -> int:
    """
    C{sip2acs config example [--gateway | --unit | --instance-unit |
    --logrotate]}: print a shipped example on standard output (the
    standalone configuration by default).

    @return: The exit status.
    """
    sys.stdout.write(exampleConfiguration(args.kind))
    return 0
