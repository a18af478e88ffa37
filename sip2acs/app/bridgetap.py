# -*- test-case-name: tests.test_bridge -*-
"""
C{twistd sip2acs-bridge}: options and the service tree of the branch
bridge (see L{sip2acs.app.bridge}).

    twistd -n sip2acs-bridge --upstream sip.library.example:45550 \\
        --ca central-ca.pem --certificate branch.pem --private-key branch.key

L{Options} reads and checks the PEM files, so a bad one stops the bridge
before twistd daemonizes; the listeners bind when the service starts, and
SIGHUP re-reads the files for new connections.
"""

from typing import cast

from twisted.application.service import MultiService
from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from sip2acs.app.bridge import BridgeFactory, BridgeTLS
from sip2acs.app.services import IServerReactor, ListeningService
from sip2acs.ops.reload import ReloadService
from sip2acs.transports.tls import TLSMaterialError

__all__ = ["Options", "makeService", "parseUpstream"]

DEFAULT_LISTEN = "tcp:6001:interface=127.0.0.1"


def parseUpstream(text: str) -> tuple[str, int]:
    """
    Split C{HOST:PORT} (C{[v6address]:PORT} for IPv6 addresses).

    @return: C{(host, port)}.
    @raise ValueError: It is not of that form.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be HOST:PORT, e.g. sip.library.example:45550")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("write an IPv6 address in brackets: [2001:db8::5]:45550")
    return host, int(port)


class Options(usage.Options):
    """
    Options of C{twistd sip2acs-bridge}.
    """

    synopsis = (
        "--upstream HOST:PORT [--listen ENDPOINT]... [--ca PEM]"
        " [--certificate PEM --private-key PEM] [--server-name NAME]"
    )
    longdesc = (
        "Listen for plain SIP2 from the branch's kiosks and relay each "
        "connection over TLS to a central sip2acs TLS listener, verifying its "
        "certificate and name and presenting this branch's client "
        "certificate. A kiosk whose upstream cannot be reached, or drops, is "
        "disconnected; the next connection tries again. SIGHUP re-reads the "
        "PEM files. See tap.md."
    )
    optParameters = [
        [
            "upstream",
            "u",
            None,
            "HOST:PORT of the central sip2acs TLS listener (required).",
        ],
        [
            "ca",
            None,
            None,
            "PEM file of the CA certificate(s) that issued the server's "
            "certificate. Default: the system's trust store.",
        ],
        [
            "certificate",
            None,
            None,
            "PEM file of this branch's client certificate (its chain may follow it).",
        ],
        [
            "private-key",
            None,
            None,
            "PEM file of the client certificate's unencrypted key.",
        ],
        [
            "server-name",
            None,
            None,
            "The name the server's certificate must carry (DNS name or IP "
            "address). Default: the upstream host.",
        ],
        [
            "timeout",
            None,
            10.0,
            "Seconds to connect upstream and to complete the TLS handshake.",
            float,
        ],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []

    def opt_listen(self, endpoint: str) -> None:
        self["listen"].append(endpoint)

    opt_listen.__doc__ = (
        "Listen for kiosks on this Twisted endpoint description (repeatable; "
        "default %s). Use the branch's LAN address only where kiosks must reach "
        "the bridge over the network." % (DEFAULT_LISTEN,)
    )

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        if self["upstream"] is None:
            raise usage.UsageError("--upstream HOST:PORT is required")
        try:
            self["host"], self["port"] = parseUpstream(self["upstream"])
        except ValueError as e:
            raise usage.UsageError("--upstream %s" % (e,)) from e
        if (self["certificate"] is None) != (self["private-key"] is None):
            raise usage.UsageError("--certificate and --private-key go together")
        if self["timeout"] <= 0:
            raise usage.UsageError("--timeout must be more than 0")
        if self["server-name"] is None:
            self["server-name"] = self["host"]
        try:
            self["tls"] = BridgeTLS(
                self["server-name"],
                ca=self["ca"],
                certificate=self["certificate"],
                privateKey=self["private-key"],
            )
        except TLSMaterialError as e:
            names = {
                "certificate": "--certificate",
                "private-key": "--private-key",
                "ca": "--ca",
            }
            raise usage.UsageError(
                "; ".join(
                    "%s: %s" % (names.get(key, key), text) for key, text in e.problems
                )
            ) from e


class BridgeService(MultiService):
    """
    The bridge's service tree.

    @ivar bridgeFactory: The L{BridgeFactory} every listener shares.
    @ivar reloader: The L{ReloadService} reloading the TLS files on SIGHUP.
    @ivar listeners: The L{ListeningService} of each C{--listen}.
    """

    def __init__(self, bridgeFactory: BridgeFactory, reloader: ReloadService) -> None:
        MultiService.__init__(self)
        self.bridgeFactory = bridgeFactory
        self.reloader = reloader
        self.listeners: list[ListeningService] = []
        reloader.setServiceParent(self)


def makeService(options: usage.Options, reactor: IServerReactor | None = None) -> BridgeService:
    """
    The bridge: one listener per C{--listen}, all relaying to the upstream,
    and SIGHUP reloading the TLS files.

    @rtype: L{BridgeService}
    """
    if reactor is None:
        from twisted.internet import reactor as installed

        reactor = cast(IServerReactor, installed)
    factory = BridgeFactory(
        reactor, options["host"], options["port"], options["tls"], options["timeout"]
    )
    reloader = ReloadService(reactor)
    reloader.addReloader("bridge TLS files", options["tls"].reload)
    top = BridgeService(factory, reloader)
    for description in options["listen"]:
        try:
            endpoint = serverFromString(reactor, description)
        except (ValueError, TypeError, KeyError) as e:
            raise SystemExit("--listen %s: bad endpoint: %s" % (description, e)) from e
        service = ListeningService(endpoint, factory)
        service.setServiceParent(top)
        top.listeners.append(service)
    return top
