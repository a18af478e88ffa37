# -*- test-case-name: tests.test_cli -*-
"""
The C{sip2acs} command: tools around the server (the server itself runs
under C{twistd sip2acs}).

    sip2acs hash-password          hash an SC account password for the config
    sip2acs config check FILE      validate a configuration file
    sip2acs config example         print an example configuration ([--gateway]), unit
                                   ([--unit], [--instance-unit]) or [--logrotate] file
    sip2acs config convert XML     write a Koha/Evergreen SIPconfig.xml as TOML
    sip2acs db ...                 the embedded SQLite circulation database
    sip2acs offline show|clear     a gateway's offline queue
"""

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from sip2acs._version import __version__
from sip2acs.config import ConfigError, loadConfig, xml as xmlconfig
from sip2acs.passwords import hashPassword
from sip2acs.tools import bench, client, dbcli, examples, offlinecli

__all__ = ["main"]


def _hashPassword(args: argparse.Namespace) -> int:
    if args.stdin or not sys.stdin.isatty():
        # From a pipe or a file there is nobody to prompt: the first line
        # is the password, as with --stdin.
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("SC account password: ")
        if getpass.getpass("Again: ") != password:
            print("The two passwords differ; nothing was hashed.", file=sys.stderr)
            return 1
    if not password:
        print("An empty password cannot be hashed.", file=sys.stderr)
        return 1
    print(hashPassword(password))
    return 0


def _configCheck(args: argparse.Namespace) -> int:
    warnings: list[str] = []
    try:
        config = loadConfig(args.path, warnings)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    for warning in warnings:
        print("warning: %s" % (warning,), file=sys.stderr)
    print(
        "%s: ok (%d listener(s), %d institution(s), %d account(s))"
        % (
            args.path,
            len(config.listeners),
            len(config.institutions),
            len(config.accounts),
        )
    )
    return 0


def makeParser() -> argparse.ArgumentParser:
    """
    The argument parser of the C{sip2acs} command.
    """
    parser = argparse.ArgumentParser(
        prog="sip2acs",
        description="Tools for the sip2acs SIP2 server "
        "(run the server with: twistd -n sip2acs).",
    )
    parser.add_argument(
        "--version", action="version", version="sip2acs %s" % (__version__,)
    )
    commands = parser.add_subparsers(dest="command", required=True)

    hashing = commands.add_parser(
        "hash-password",
        help="hash an SC account password for the 'password' key of an [[account]]",
    )
    hashing.add_argument(
        "--stdin",
        action="store_true",
        help="read the password from standard input (the default when it is not a terminal)",
    )
    hashing.set_defaults(func=_hashPassword)

    config = commands.add_parser("config", help="configuration files")
    configCommands = config.add_subparsers(dest="action", required=True)
    check = configCommands.add_parser(
        "check", help="validate a configuration file and list every problem"
    )
    check.add_argument("path", help="the TOML file (or a SIPconfig.xml / oils_sip.xml)")
    check.set_defaults(func=_configCheck)
    example = configCommands.add_parser(
        "example",
        help="print the example configuration (the embedded circulation system and its"
        " demo library), e.g. sip2acs config example > /etc/sip2acs/sip2acs.toml",
    )
    shown = example.add_mutually_exclusive_group()
    for flag, kind, what in [
        ("--gateway", "gateway", "the example of a gateway in front of an ILS's own SIP2"
         " server instead"),
        ("--unit", "unit", "the hardened systemd unit instead"
         " (> /etc/systemd/system/sip2acs.service)"),
        ("--instance-unit", "instance-unit", "the systemd unit template for several"
         " instances on one machine instead (> /etc/systemd/system/sip2acs@.service)"),
        ("--logrotate", "logrotate", "logrotate's file for a --logfile instead"
         " (> /etc/logrotate.d/sip2acs)"),
    ]:
        shown.add_argument(flag, dest="kind", action="store_const", const=kind, help=what)
    example.set_defaults(func=examples.printExample, kind="standalone")
    convert = configCommands.add_parser(
        "convert",
        help="write the TOML equivalent of a Koha SIPconfig.xml or Evergreen "
        "oils_sip.xml (passwords hashed; what is not carried over is listed)",
    )
    convert.add_argument("path", help="the SIPconfig.xml or oils_sip.xml file")
    convert.add_argument(
        "-o", "--output", help="write the TOML here instead of to standard output"
    )
    convert.add_argument(
        "--upstream",
        metavar="ENDPOINT",
        help="serve the institutions through the gateway (adapter = \"sip2\") to the"
        " ILS's own SIP2 server at this client endpoint, e.g."
        " tcp:host=127.0.0.1:port=6101, instead of the embedded SQLite system",
    )
    convert.set_defaults(
        func=lambda args: xmlconfig.convertFile(
            args.path, args.output, upstream=args.upstream
        )
    )

    dbcli.register(commands)
    offlinecli.register(commands)
    bench.register(commands)
    client.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the C{sip2acs} command.

    @return: The exit status.
    """
    args = makeParser().parse_args(argv)
    try:
        status: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (`sip2acs client ... | head`): nothing more
        # to say, and nothing to say it to. Point standard output at
        # /dev/null so that the interpreter's own flush at exit is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
