"""
Run the real C{twistd -n sip2acs} in a child process for end-to-end tests.

The server listens on 127.0.0.1 port 0; the port it got is read from its
log ("... starting on 43127").
"""

import os
import re
import sys

from twisted.internet import defer, protocol, reactor

# A raw listener's factory logs as "SIP2ServerFactory"; wrapped in TLS, an
# access gate or a PROXY reader as "SIP2ServerFactory (TLS) (AccessGate)".
_PORT = re.compile(rb"SIP2ServerFactory(?: \([^)]*\))* starting on (\d+)")
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _ServerProcess(protocol.ProcessProtocol):
    def __init__(self):
        self.output = b""
        self.started = defer.Deferred()
        self.ended = defer.Deferred()
        self.ports = []

    def outReceived(self, data):
        self.output += data
        for match in _PORT.finditer(data):
            self.ports.append(int(match.group(1)))
        if self.ports and not self.started.called:
            self.started.callback(self.ports[0])

    errReceived = outReceived

    def processEnded(self, reason):
        if not self.started.called:
            self.started.errback(
                RuntimeError(
                    "twistd exited before listening:\n"
                    + self.output.decode("utf-8", "replace")
                )
            )
        self.ended.callback(reason.value)


class ServerProcess:
    """
    A running C{twistd -n sip2acs}.

    @ivar port: The first SIP2 port it listens on.
    """

    def __init__(self, transport, proto):
        self.transport = transport
        self.proto = proto
        self.port = proto.ports[0]

    @property
    def output(self):
        """
        Everything the server logged so far.
        """
        return self.proto.output.decode("utf-8", "replace")

    def signal(self, name):
        """
        Send a signal (C{"TERM"}, C{"KILL"}) and wait for the exit.

        @return: Deferred firing with how it ended: a L{ProcessDone
            <twisted.internet.error.ProcessDone>} or L{ProcessTerminated
            <twisted.internet.error.ProcessTerminated>} (whose C{signal} is
            set when a signal ended it: twistd re-raises the signal that
            stopped it after a clean shutdown).
        """
        if self.proto.ended.called:
            return defer.succeed(None)
        self.transport.signalProcess(name)
        return self.proto.ended


def _spawn(testCase, proto, pluginArgs, cwd, twistdArgs=("--logfile=-",)):
    """
    Spawn C{twistd -n sip2acs PLUGINARGS} for C{proto}, killed when the test
    ends if it still runs.

    @return: The process transport.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([TOP, env.get("PYTHONPATH", "")])
    args = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "--nodaemon",
        "--pidfile=",
        *twistdArgs,
        "sip2acs",
        *pluginArgs,
    ]
    transport = reactor.spawnProcess(
        proto, sys.executable, args, env=env, path=cwd or os.getcwd()
    )

    def cleanup():
        if transport.pid is not None:
            transport.signalProcess("KILL")
            return proto.ended

    testCase.addCleanup(cleanup)
    return transport


@defer.inlineCallbacks
def startServer(testCase, pluginArgs, cwd=None, timeout=30):
    """
    Start C{twistd -n sip2acs PLUGINARGS} and wait until it listens.

    The server is killed when the test ends, whatever happens.

    @return: Deferred firing with a L{ServerProcess}.
    """
    proto = _ServerProcess()
    transport = _spawn(testCase, proto, pluginArgs, cwd)
    timer = reactor.callLater(
        timeout,
        lambda: proto.started.called
        or proto.started.errback(
            RuntimeError("twistd did not listen within %ss:\n%s" % (timeout, proto.output))
        ),
    )
    try:
        yield proto.started
    finally:
        if timer.active():
            timer.cancel()
    return ServerProcess(transport, proto)


@defer.inlineCallbacks
def runServer(testCase, pluginArgs, cwd=None, twistdArgs=("--logfile=-",), timeout=30):
    """
    Run C{twistd -n sip2acs PLUGINARGS} until it exits on its own (a
    server that cannot start). It is killed when the test ends, whatever
    happens.

    @return: Deferred firing with C{(output, exit code)}, the output being
        standard output and standard error together, decoded.
    """
    proto = _ServerProcess()
    # It is not expected to listen.
    proto.started.addErrback(lambda failure: None)
    _spawn(testCase, proto, pluginArgs, cwd, twistdArgs)
    # A Deferred of its own to time out, so the cleanup still waits for
    # the real end.
    ended = defer.Deferred()
    proto.ended.addBoth(lambda reason: ended.called or ended.callback(reason))
    reason = yield ended.addTimeout(timeout, reactor)
    return proto.output.decode("utf-8", "replace"), getattr(reason, "exitCode", None)


__all__ = ["startServer", "runServer", "ServerProcess"]
