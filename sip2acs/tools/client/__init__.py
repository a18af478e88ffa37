"""
C{sip2acs client}: a SIP2 troubleshooting client.

It connects to any SIP2 server (sip2acs or another) the way a self-check
kiosk does, over raw TCP, the telnet login prelude or TLS, logs in, sends
one request by name and prints the response as a table: field ids, names,
values and what the codes mean.

    sip2acs client --host 127.0.0.1 --login demo status
    SIP2ACS_PASSWORD=demo sip2acs client --login demo --institution DEMO \\
        patron-info --patron P0001 --summary charged
    sip2acs client --login demo -e checkout --patron P0001 --item I0001
    sip2acs client --tls --host sip.example.org --ca ca.pem --login kiosk1 \\
        item-info I0001 --json
    sip2acs client --telnet --port 8023 --login kiosk1 --status-first status
    sip2acs client --login demo raw '9900802.00' --raw
    sip2acs client --login demo shell       # or -i: an interactive shell

The password comes from C{--password}, the C{SIP2ACS_PASSWORD} environment
variable or a prompt; the patron PIN from C{--pin}, C{SIP2ACS_PIN} or
C{--ask-pin}. Passwords and PINs (C{CO}, C{AD}, C{AC}) are shown as C{***}
unless C{--show-secrets} is given.

Exit status: 0 the server answered and the operation succeeded, 1 it
answered but refused or failed, 2 no answer, a connection or a protocol
error, 3 a usage error.

The client is plain blocking Python (L{sip2acs.client.blocking}); it needs
no reactor. Its parts, one module each:

    - L{requests <sip2acs.tools.client.requests>}: L{buildRequest} makes
      the request message a name and L{RequestOptions} call for;
    - L{render <sip2acs.tools.client.render>}: L{describe} turns any
      message into table rows, L{responseOk} says whether a response
      means success;
    - L{options <sip2acs.tools.client.options>}: the argument parsers;
    - L{command <sip2acs.tools.client.command>}: one run (L{ClientCommand})
      and L{main};
    - L{shell <sip2acs.tools.client.shell>}: the interactive shell.
    - L{colour <sip2acs.tools.client.colour>}: ANSI colour, on a terminal
      unless C{NO_COLOR} (C{--color});
    - L{hints <sip2acs.tools.client.hints>}: what to check after a refused
      login or on a port of the wrong transport;
    - L{progress <sip2acs.tools.client.progress>}: the C{waiting for...}
      line on a terminal.

The connection itself (L{SIP2Connection}) and its errors come from
L{sip2acs.client}; they are re-exported here, as before the split.
"""

from sip2acs.client.blocking import SIP2Connection, openSocket
from sip2acs.sip.exchange import (
    MAX_FRAME,
    ConnectionFailed,
    Exchange,
    LoginRefused,
    NoAnswer,
    ProtocolError,
    TelnetFilter,
)
from sip2acs.tools.client.command import (
    ClientCommand,
    _run,
    main,
    makeTLSContext,
    register,
)
from sip2acs.tools.client.errors import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    UsageError,
)
from sip2acs.tools.client.options import (
    DEFAULT_PORTS,
    ENCODINGS,
    EPILOG,
    HISTORY_FILE,
    TERMINATORS,
    makeParser,
    makeShellParser,
)
from sip2acs.tools.client.render import (
    Row,
    describe,
    formatTable,
    maskFrame,
    messageTitle,
    responseOk,
)
from sip2acs.tools.client.requests import (
    REQUESTS,
    RequestKind,
    RequestOptions,
    buildRequest,
    withPositional,
)
from sip2acs.tools.client.shell import (
    SECRET_OPTIONS,
    ClientShell,
    completeOption,
    completeRequest,
    parseShellLine,
)

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_NO_ANSWER",
    "EXIT_USAGE",
    "REQUESTS",
    "UsageError",
    "ConnectionFailed",
    "NoAnswer",
    "ProtocolError",
    "LoginRefused",
    "RequestOptions",
    "Exchange",
    "Row",
    "SIP2Connection",
    "ClientShell",
    "buildRequest",
    "describe",
    "formatTable",
    "maskFrame",
    "makeTLSContext",
    "openSocket",
    "responseOk",
    "register",
    "main",
]

# Names the module had before it became a package, kept importable.
_compatible = (
    DEFAULT_PORTS, ENCODINGS, EPILOG, HISTORY_FILE, MAX_FRAME, SECRET_OPTIONS, TERMINATORS,
    ClientCommand, RequestKind, TelnetFilter, _run, completeOption, completeRequest,
    makeParser, makeShellParser, messageTitle, parseShellLine, withPositional,
)
