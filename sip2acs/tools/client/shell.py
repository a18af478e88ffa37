# -*- test-case-name: tests.test_client -*-
"""
The interactive shell of C{sip2acs client} (L{ClientShell}): one request
per line, with line parsing (L{parseShellLine}) and completion.
"""

from __future__ import annotations

import argparse
import cmd
import os
import shlex
from collections.abc import Sequence
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

import attrs

from sip2acs.client.blocking import reason
from sip2acs.sip import codes
from sip2acs.tools.client.errors import EXIT_OK, EXIT_USAGE, UsageError
from sip2acs.tools.client.options import _requestList, makeShellParser
from sip2acs.tools.client.requests import REQUESTS, SUMMARY_NAMES, RequestOptions

if TYPE_CHECKING:
    # For the annotations only: the command module imports this one.
    from sip2acs.tools.client.command import ClientCommand

__all__ = ["ClientShell", "parseShellLine", "completeRequest", "completeOption"]

SECRET_OPTIONS = ("--pin", "--password", "--terminal-password")


def parseShellLine(
    line: str, stream: IO[str] | None = None
) -> tuple[str, str | None, argparse.Namespace]:
    """
    Parse one shell line: a request name, its argument and options.

    C{raw} takes the rest of the line as it is (spaces included).

    @return: C{(name, value, namespace)}.
    @raise UsageError: The line is not a valid request.
    @raise SystemExit: The line asked for C{--help} (printed on
        C{stream}).
    """
    line = line.strip()
    head, _, rest = line.partition(" ")
    if head == "raw":
        if not rest.strip():
            raise UsageError("raw needs the message, e.g. raw 9900802.00")
        return "raw", rest.strip(), argparse.Namespace()
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise UsageError(str(e)) from e
    if not words:
        raise UsageError("empty line")
    if words[0] not in REQUESTS:
        raise UsageError("unknown request %r (help lists them)" % (words[0],))
    namespace = makeShellParser(stream).parse_intermixed_args(words)
    return namespace.request, getattr(namespace, "value", None), namespace


def completeRequest(text: str, names: Sequence[str] | None = None) -> list[str]:
    """
    The request (and shell command) names that start with C{text}.
    """
    names = list(REQUESTS) + list(ClientShell.commands) if names is None else names
    return [name for name in names if name.startswith(text)]


_CHOICES = {
    "--summary": SUMMARY_NAMES,
    "--hold-mode": ["+", "-", "*"],
    "--hold-type": list(codes.HOLD_TYPE),
    "--fee-type": list(codes.FEE_TYPE),
    "--payment-type": list(codes.PAYMENT_TYPE),
    "--sc-status": ["0", "1", "2"],
}


def completeOption(name: str, text: str, previous: str | None = None) -> list[str]:
    """
    Complete a word of request C{name}'s line: its option names, or the
    values of an option that has a fixed list (C{--summary ch} gives
    C{charged}). C{set} completes the options of every request.

    @param previous: The word before the one being completed.
    """
    if previous in _CHOICES:
        return [value for value in _CHOICES[previous] if value.startswith(text)]
    if text and not text.startswith("-"):
        return []
    options: Sequence[str]
    if name == "set":
        options = sorted({o for kind in REQUESTS.values() for o in kind.options})
    elif name in REQUESTS:
        options = REQUESTS[name].options
    else:
        return []
    return [option for option in options if option.startswith(text)]


class ClientShell(cmd.Cmd):
    """
    The interactive shell: one request per line, with the same syntax as
    the command line (C{checkout I0001 --patron P0001}), plus C{set} for
    options that stay, C{output}, C{reconnect} and C{quit}. History is
    kept with readline when it is available.
    """

    prompt = "sip2> "
    identchars = cmd.Cmd.identchars + "-"
    commands = ("help", "set", "output", "reconnect", "quit", "exit")
    intro: str | None = (
        "Type a request (help lists them; Tab completes), or quit."
        " Secrets typed here stay out of the history."
    )

    def __init__(
        self, command: ClientCommand, stdin: IO[str] | None = None, historyFile: str | None = None
    ) -> None:
        """
        @param command: The L{ClientCommand} to send requests with.
        @param stdin: Where lines come from (no prompt, no history); the
            terminal, with readline, if L{None}.
        @param historyFile: Where readline history is kept, or L{None}.
        """
        cmd.Cmd.__init__(self, stdin=stdin, stdout=command.out)
        if stdin is not None:
            self.use_rawinput = False
            self.prompt = ""
            self.intro = None
        self.command = command
        self.historyFile = historyFile
        self.lastStatus = EXIT_OK
        self._readline: ModuleType | None = None

    def run(self) -> None:
        """
        Run until C{quit}; Ctrl-C cancels the line being typed.
        """
        while True:
            try:
                self.cmdloop()
                return
            except KeyboardInterrupt:
                self.stdout.write("^C\n")
                self.intro = None

    # -- readline --

    def preloop(self) -> None:
        if not self.use_rawinput or self._readline is not None:
            return
        try:
            import readline
        except ImportError:  # pragma: no cover
            return
        self._readline = readline
        self._delims = readline.get_completer_delims()
        readline.set_completer_delims(" \t\n")
        readline.set_history_length(1000)
        if self.historyFile:
            try:
                readline.read_history_file(self.historyFile)
            except OSError:
                pass

    def postloop(self) -> None:
        readline = self._readline
        if readline is None:
            return
        readline.set_completer_delims(self._delims)
        if self.historyFile:
            try:
                readline.write_history_file(self.historyFile)
                # Patron and item barcodes are in there.
                os.chmod(self.historyFile, 0o600)
            except OSError as e:
                self.command.err.write("cannot save the history: %s\n" % (reason(e),))

    def precmd(self, line: str) -> str:
        readline = self._readline
        if readline is not None and any(s in line for s in SECRET_OPTIONS):
            length = readline.get_current_history_length()
            if length:
                readline.remove_history_item(length - 1)
        return line

    # -- commands --

    def emptyline(self) -> bool:
        """
        Do nothing: repeating the last request (the L{cmd.Cmd} default)
        could check an item out twice.
        """
        return False

    def do_EOF(self, arg: str) -> bool:
        """
        End of input (Ctrl-D): leave the shell.
        """
        self.stdout.write("\n")
        return True

    # The stub says None, but cmd.Cmd.onecmd returns what default returns:
    # whether to stop.
    def default(self, line: str) -> bool:  # type: ignore[override]
        try:
            name, value, namespace = parseShellLine(line, self.stdout)
            options = RequestOptions.fromNamespace(namespace, self.command.options)
            self.lastStatus = self.command.perform(name, options, value)
        except UsageError as e:
            self.stdout.write("error: %s\n" % (e,))
            self.lastStatus = EXIT_USAGE
        except SystemExit:
            pass
        return False

    def do_set(self, arg: str) -> None:
        """
        set [OPTIONS]: keep request options for the next requests
        (set --patron P0001 --institution DEMO); without options, show them.
        """
        if not arg.strip():
            for field in attrs.fields(RequestOptions):
                value = getattr(self.command.options, field.name)
                if field.name in ("password", "pin", "terminalPassword") and value:
                    value = "***"
                if value not in (None, "", False) and field.name != "password":
                    self.stdout.write("%s = %s\n" % (field.name, value))
            return
        try:
            words = shlex.split(arg)
            namespace = makeShellParser(self.stdout).parse_intermixed_args(
                ["status", *words]
            )
            if getattr(namespace, "value", None) is not None:
                raise UsageError("set takes options only, e.g. set --patron P0001")
        except (UsageError, ValueError) as e:
            self.stdout.write("error: %s\n" % (e,))
            return
        except SystemExit:
            return
        self.command.options = RequestOptions.fromNamespace(
            namespace, self.command.options
        )

    def do_output(self, arg: str) -> None:
        """
        output text|raw|json: tables, tables with the raw lines, or JSON.
        """
        arg = arg.strip()
        if arg not in ("text", "raw", "json"):
            self.stdout.write("output is text, raw or json\n")
            return
        self.command.json = arg == "json"
        self.command.showRaw = arg == "raw"

    def do_reconnect(self, arg: str) -> None:
        """
        reconnect: open a new connection and log in again.
        """
        self.command.disconnect()
        status = self.command.connect()
        self.lastStatus = EXIT_OK if status is None else status

    def do_quit(self, arg: str) -> bool:
        """
        quit: leave the shell.
        """
        return True

    do_exit = do_quit

    def do_help(self, arg: str) -> None:
        """
        help [REQUEST]: list the requests, or the options of one.
        """
        arg = arg.strip()
        if arg in REQUESTS:
            kind = REQUESTS[arg]
            usage = arg + (" [%s]" % kind.positional.upper() if kind.positional else "")
            self.stdout.write("%s\n  %s\n" % (usage, kind.summary))
            if kind.options:
                self.stdout.write("  options: %s\n" % (" ".join(kind.options),))
            return
        if arg:
            cmd.Cmd.do_help(self, arg)
            return
        self.stdout.write("requests:\n%s\n" % (_requestList(),))
        self.stdout.write(
            "shell commands:\n"
            "  set [OPTIONS]  keep options (set --patron P0001); set alone shows them\n"
            "  output MODE    text, raw (with the raw lines) or json\n"
            "  reconnect      connect and log in again\n"
            "  help REQUEST   the options of a request\n"
            "  quit           leave (also exit, Ctrl-D)\n"
        )

    # -- completion (a single match gets a space, as in a Unix shell) --

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return _spaced(completeRequest(text))

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        words = line[:begidx].split()
        if not words:
            return []
        previous = words[-1] if len(words) > 1 else None
        return _spaced(completeOption(words[0], text, previous))

    def complete_help(self, text: str, *ignored: Any) -> list[str]:
        return _spaced(completeRequest(text))


def _spaced(matches: list[str]) -> list[str]:
    return [matches[0] + " "] if len(matches) == 1 else matches
