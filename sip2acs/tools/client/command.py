# -*- test-case-name: tests.test_client -*-
"""
One run of C{sip2acs client} (L{ClientCommand}): connect with the
blocking client (L{sip2acs.client.blocking}), log in, send, show; and
the entry points L{main} and L{register}.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, cast

import attrs

from sip2acs.client import blocking
from sip2acs.client.blocking import SIP2Connection, openSocket
from sip2acs.sip import codec
from sip2acs.sip.exchange import ConnectionFailed, Exchange, LoginRefused, ProtocolError
from sip2acs.tools import Subparsers
from sip2acs.tools.client.colour import Painter, wantColour
from sip2acs.tools.client.errors import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    UsageError,
)
from sip2acs.tools.client.hints import NO_LOGIN_WARNING, loginHint, transportHint
from sip2acs.tools.client.options import DEFAULT_PORTS, TERMINATORS, makeParser
from sip2acs.tools.client.progress import Progress
from sip2acs.tools.client.render import (
    describe,
    formatTable,
    maskFrame,
    messageTitle,
    responseOk,
)
from sip2acs.tools.client.requests import RequestOptions, buildRequest, withPositional
from sip2acs.tools.client.shell import ClientShell

__all__ = ["ClientCommand", "main", "register", "makeTLSContext"]


def makeTLSContext(
    ca: str | None = None, certificate: str | None = None,
    privateKey: str | None = None, insecure: bool = False,
) -> ssl.SSLContext:
    """
    L{blocking.makeTLSContext}, for the command line.

    @raise UsageError: A file cannot be loaded.
    """
    try:
        return blocking.makeTLSContext(ca, certificate, privateKey, insecure)
    except blocking.TLSFilesError as e:
        raise UsageError(str(e)) from e


def _askSecret(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            "%s not given and no terminal to ask on" % (prompt.rstrip(": "),)
        )
    return getpass.getpass(prompt)


class ClientCommand:
    """
    One run of C{sip2acs client}: its connection, its options and its
    output.

    @ivar connection: The L{SIP2Connection}, or L{None} when not connected.
    @ivar options: The request options from the command line (and the
        shell's C{set}).
    @ivar paintOut: Colours standard output (L{Painter}).
    @ivar paintErr: Colours standard error.
    @ivar progress: The progress line on standard error (L{Progress}).
    """

    def __init__(
        self,
        args: argparse.Namespace,
        out: IO[str],
        err: IO[str],
        environ: Mapping[str, str],
        askSecret: Callable[[str], str] = _askSecret,
    ) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.environ = environ
        self.askSecret = askSecret
        self.connection: SIP2Connection | None = None
        self.json = args.json
        self.showRaw = args.showRaw
        self.options = RequestOptions.fromNamespace(args)
        colour = getattr(args, "color", "auto")
        self.paintOut = Painter(wantColour(colour, out, environ))
        self.paintErr = Painter(wantColour(colour, err, environ))
        self.progress = Progress.forStream(err)
        if self.options.pin is None and environ.get("SIP2ACS_PIN"):
            self.options = attrs.evolve(self.options, pin=environ["SIP2ACS_PIN"])

    # -- set up --

    def transport(self) -> str:
        """
        The transport: C{tls} when a TLS option is given and none is named.

        @raise UsageError: TLS options with another transport.
        """
        args = self.args
        tlsOptions = [
            name
            for name, value in [
                ("--ca", args.ca),
                ("--certificate", args.certificate),
                ("--private-key", args.privateKey),
                ("--server-name", args.serverName),
                ("--insecure", args.insecure),
            ]
            if value
        ]
        transport = args.transport or ("tls" if tlsOptions else "raw")
        if tlsOptions and transport != "tls":
            raise UsageError("%s only go with --tls" % (", ".join(tlsOptions),))
        if args.privateKey and not args.certificate:
            raise UsageError("--private-key needs --certificate")
        if transport == "telnet" and not args.login:
            raise UsageError("the telnet prelude needs --login")
        return transport

    def resolveSecrets(self) -> None:
        """
        Get the login password and the PIN from the environment or a
        prompt when they are not on the command line.
        """
        options = self.options
        if options.login and options.password is None:
            password = self.environ.get("SIP2ACS_PASSWORD")
            if password is None:
                password = self.askSecret("Password for %s: " % (options.login,))
            options = attrs.evolve(options, password=password)
        if self.args.askPin:
            options = attrs.evolve(options, pin=self.askSecret("Patron PIN: "))
        self.options = options

    def connect(self) -> int | None:
        """
        Connect and log in (93 or the telnet prelude), optionally followed
        by a 99.

        @return: L{None} when connected and logged in, else the exit
            status.
        """
        args = self.args
        transport = self.transport()
        port = args.port or DEFAULT_PORTS[transport]
        context = None
        if transport == "tls":
            context = makeTLSContext(
                args.ca, args.certificate, args.privateKey, args.insecure
            )
        peer = "%s:%d" % (args.host, port)
        try:
            with self.progress.waiting(peer):
                sock = openSocket(args.host, port, args.timeout, context, args.serverName)
        except ConnectionFailed as e:
            return self.failed("connect", e)
        self.connection = SIP2Connection(
            sock,
            encoding=args.encoding,
            delimiter=args.delimiter,
            errorDetection=args.errorDetection,
            terminator=TERMINATORS[args.terminator],
            timeout=args.timeout,
            sequence=args.sequence,
            peer=peer,
        )
        if transport == "telnet":
            try:
                # transport() refuses the telnet prelude without --login.
                with self.progress.waiting(peer):
                    self.connection.telnetLogin(
                        cast(str, self.options.login), self.options.password or ""
                    )
            except LoginRefused as e:
                hint = loginHint(self.localAddress())
                self.disconnect()
                return self.failed("login", e, EXIT_REFUSED, hint)
            except ConnectionFailed as e:
                return self.failed("login", e, hint=self.portHint(e))
        elif self.options.login:
            status = self.perform("login")
            if status == EXIT_REFUSED:
                self.hint(loginHint(self.localAddress()))
            if status != EXIT_OK:
                self.disconnect()
                return status
        if args.statusFirst:
            status = self.perform("status")
            if status == EXIT_NO_ANSWER:
                return status
        return None

    def localAddress(self) -> str | None:
        """
        This machine's address on the connection, if connected.
        """
        if self.connection is None:
            return None
        try:
            return str(self.connection.sock.getsockname()[0])
        except OSError:
            return None

    def portHint(self, error: ConnectionFailed) -> str | None:
        """
        What the bytes received on the failed connection say about the
        port (L{transportHint}); the connection is closed.
        """
        hint = None
        if self.connection is not None:
            hint = transportHint(
                self.transport(), self.connection.peer, self.connection.firstBytes, error
            )
        self.disconnect()
        return hint

    def disconnect(self) -> None:
        """
        Close the connection, if any.
        """
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    # -- requests and output --

    def perform(
        self, name: str, options: RequestOptions | None = None, value: str | None = None
    ) -> int:
        """
        Send the request C{name} and print its response.

        @return: The exit status for this request.
        @raise UsageError: The request cannot be built.
        """
        options = withPositional(name, options or self.options, value)
        request = buildRequest(name, options)
        if self.connection is None:
            return self.failed(name, ConnectionFailed("not connected (use reconnect)"))
        try:
            with self.progress.waiting(self.connection.peer):
                exchange = self.connection.exchange(request, name)
        except ConnectionFailed as e:
            return self.failed(name, e, hint=self.portHint(e))
        return self.show(exchange)

    def show(self, exchange: Exchange) -> int:
        """
        Print one exchange as a table (or JSON).

        @return: Its exit status.
        """
        # An exchange is shown right after it was made on the connection.
        connection = cast(SIP2Connection, self.connection)
        message = exchange.decoded.message
        request: codec.Message | str | None = exchange.requestMessage
        if isinstance(request, str):
            try:
                request = codec.decode(
                    exchange.sent, connection.encoding, connection.delimiter
                ).message
            except codec.SIP2Error:
                request = None
        ok = responseOk(message, request)
        status = EXIT_OK if ok else EXIT_REFUSED
        if exchange.unexpected:
            status = EXIT_NO_ANSWER
        secrets = self.args.showSecrets
        rows = describe(
            message,
            exchange.received,
            connection.encoding,
            connection.delimiter,
            secrets,
        )
        sent = maskFrame(
            exchange.sent, connection.encoding, connection.delimiter, secrets
        )
        received = maskFrame(
            exchange.received, connection.encoding, connection.delimiter, secrets
        )
        if self.json:
            self.out.write(
                json.dumps(
                    {
                        "request": exchange.request,
                        "code": message.code,
                        "message": type(message).__name__,
                        "ok": status == EXIT_OK,
                        "status": status,
                        "sequence": exchange.decoded.sequence,
                        "checksum": exchange.decoded.checksum,
                        "fields": [row.asDict() for row in rows],
                        "raw": received,
                        "sent": sent,
                        "warnings": list(exchange.warnings),
                    }
                )
                + "\n"
            )
        else:
            verdict, style = {
                EXIT_OK: ("ok", "ok"),
                EXIT_REFUSED: ("refused or failed", "refused"),
                EXIT_NO_ANSWER: ("unexpected response", "warning"),
            }[status]
            paint = self.paintOut.paint
            self.out.write(
                "%s (%s)\n"
                % (
                    paint("%s: %s" % (exchange.request, messageTitle(message)), "heading"),
                    paint(verdict, style),
                )
            )
            for warning in exchange.warnings:
                self.out.write("  %s %s\n" % (paint("warning:", "warning"), warning))
            if self.showRaw:
                self.out.write("  sent:     %s\n  received: %s\n" % (sent, received))
            self.out.write(formatTable(rows) + "\n\n")
        self.out.flush()
        return status

    def hint(self, text: str | None) -> None:
        """
        Write a hint on standard error (nothing if C{text} is L{None}).
        """
        if text:
            self.err.write(self.paintErr.paint(text.rstrip("\n"), "warning") + "\n")
            self.err.flush()

    def failed(
        self,
        name: str,
        error: Exception,
        status: int = EXIT_NO_ANSWER,
        hint: str | None = None,
    ) -> int:
        """
        Report an error (on standard error, and as JSON with C{--json}).

        @param hint: What to check, said after the error.
        @return: C{status}.
        """
        text = str(error)
        if (
            isinstance(error, ProtocolError)
            and error.frame is not None
            and self.showRaw
        ):
            text += "\n  received: %s" % (maskFrame(error.frame),)
        self.err.write(
            "%s %s\n"
            % (self.paintErr.paint("sip2acs client: %s:" % (name,), "refused"), text)
        )
        self.hint(hint)
        if self.json:
            self.out.write(
                json.dumps(
                    {
                        "request": name,
                        "ok": False,
                        "status": status,
                        "error": str(error),
                    }
                )
                + "\n"
            )
            self.out.flush()
        return status

    # -- running --

    def run(self, stdin: IO[str] | None = None) -> int:
        """
        Do what the command line asks.

        @return: The exit status.
        """
        args = self.args
        interactive = args.interactive or args.request == "shell"
        if interactive:
            if args.value is not None or args.request not in (None, "shell"):
                raise UsageError("the shell takes no request or argument")
        elif args.request is None:
            raise UsageError("name a request (or shell)")
        else:
            buildRequest(
                args.request, withPositional(args.request, self.options, args.value)
            )
        self.transport()
        if not args.login:
            self.hint(NO_LOGIN_WARNING)
        self.resolveSecrets()
        if interactive:
            return self.shell(stdin)
        failure = self.connect()
        try:
            if failure is not None:
                return failure
            if args.request == "login":
                return EXIT_OK
            return self.perform(args.request, value=args.value)
        finally:
            self.disconnect()

    def shell(self, stdin: IO[str] | None = None) -> int:
        """
        Connect and run the interactive shell until C{quit} or end of
        input.

        @return: The exit status of connecting (2 or 1 when it fails),
            else 0.
        """
        failure = self.connect()
        if failure is not None:
            return failure
        historyFile = None
        if stdin is None and not sys.stdin.isatty():
            # Lines from a pipe or a file: no prompt, no readline history.
            stdin = sys.stdin
        elif stdin is None and self.args.historyFile:
            historyFile = os.path.expanduser(self.args.historyFile)
        shell = ClientShell(self, stdin=stdin, historyFile=historyFile)
        try:
            shell.run()
        finally:
            self.disconnect()
        return EXIT_OK



def main(
    argv: Sequence[str] | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    askSecret: Callable[[str], str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """
    Run C{sip2acs client}.

    @param argv: The arguments after C{client}.
    @param out: Where tables and JSON go (standard output).
    @param err: Where errors go (standard error).
    @param environ: The environment (for C{SIP2ACS_PASSWORD},
        C{SIP2ACS_PIN}).
    @param askSecret: A function C{prompt -> str} that asks for a secret;
        L{getpass.getpass} on a terminal.
    @param stdin: Shell input; the terminal (with readline) if L{None}.
    @return: The exit status.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    environ = os.environ if environ is None else environ
    parser = makeParser(out)
    try:
        args = parser.parse_intermixed_args(argv)
        if not 0 <= args.sequence <= 9:
            raise UsageError("--sequence is a digit, 0 to 9")
        if len(args.delimiter) != 1:
            raise UsageError("--delimiter is one character")
        command = ClientCommand(args, out, err, environ, askSecret or _askSecret)
        return command.run(stdin)
    except UsageError as e:
        err.write(parser.format_usage())
        err.write("sip2acs client: error: %s\n" % (e,))
        return EXIT_USAGE
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        err.write("sip2acs client: interrupted\n")
        return EXIT_NO_ANSWER


def _run(args: argparse.Namespace) -> int:
    return main(args.argv)


def register(subparsers: Subparsers) -> argparse.ArgumentParser:
    """
    Add the C{client} command to the C{sip2acs} command line.

    The command's own parser (L{makeParser}) reads everything after
    C{client}, so that its usage errors exit with status 3.

    @param subparsers: The result of C{ArgumentParser.add_subparsers()}.
    @return: The C{client} parser.
    """
    client = subparsers.add_parser(
        "client",
        help="a SIP2 troubleshooting client (sip2acs client --help)",
        add_help=False,
        prefix_chars="+",
    )
    client.add_argument("argv", nargs=argparse.REMAINDER)
    client.set_defaults(func=_run)
    return client



if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
