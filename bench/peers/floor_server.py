"""
The floor: a server that reads each SIP2 frame and writes back a canned
answer of the right kind, with nothing in between (no decoding, no
library, no log). What it costs per request is what the event loop, the
sockets and the kernel cost: no SIP2 server on the same loop can spend
less. C{bench/peers/run.py} measures it next to sip2acs and pysip2.

    python bench/peers/floor_server.py --port 6001 --loop twisted
    python bench/peers/floor_server.py --port 6001 --loop asyncio

C{twisted}: a C{LineReceiver} on Twisted's default reactor (epoll),
answering with C{transport.write}. C{asyncio}: an C{asyncio.Protocol}
splitting frames itself, answering with C{transport.write} (which sends at
once when it can). The answers have the length of sip2acs's (about 60
to 120 bytes) and, when the request carried C{AY}/C{AZ}, the same
sequence digit and a checksum, so that the bench's kiosks accept them.
"""

import argparse
import asyncio
import sys

CANNED = {
    b"93": b"941",
    b"99": b"98YYYNYN60000320261201    0000002.00AOBENCH|AMsip2acs bench|"
           b"BXYYYYYYYYYYYYYYYY|",
    b"63": b"64              00120261201    000000000000000000000000AOBENCH|"
           b"AABP000001|AEPatron 1|BLY|BHUSD|BV0.00|",
    b"17": b"1803000120261201    AOBENCH|ABBI0000001|AJItem 1|AQMAIN|APMAIN|",
    b"11": b"121NNY20261201    AOBENCH|AABP000001|ABBI0000001|AJItem 1|"
           b"AH20261222    000000|BT01|",
    b"09": b"101YNN20261201    AOBENCH|ABBI0000001|AQMAIN|AJItem 1|AABP000001|",
}
"""
The answer to each request kind the bench sends.
"""


def answer(frame: bytes) -> bytes:
    """
    The canned answer to one frame (without its terminator), with the
    frame's sequence digit and a checksum when it had them, and the CR.
    """
    body = CANNED.get(frame[:2], b"96")
    if frame[-6:-4] == b"AZ" and frame[-9:-7] == b"AY":
        body += b"AY" + frame[-7:-6] + b"AZ"
        body += b"%04X" % ((-sum(body)) & 0xFFFF,)
    return body + b"\r"


def runTwisted(port: int) -> None:
    """
    Serve with Twisted: a LineReceiver per connection.
    """
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory
    from twisted.protocols.basic import LineReceiver

    class Canned(LineReceiver):
        delimiter = b"\r"

        def lineReceived(self, line: bytes) -> None:
            line = line.strip(b"\n")
            if line:
                self.transport.write(answer(line))

    reactor.listenTCP(port, Factory.forProtocol(Canned), interface="127.0.0.1")
    reactor.run()


def runAsyncio(port: int) -> None:
    """
    Serve with asyncio: a Protocol per connection.
    """

    class Canned(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            *frames, self.buffer = (self.buffer + data).split(b"\r")
            for frame in frames:
                frame = frame.strip(b"\n")
                if frame:
                    self.transport.write(answer(frame))  # type: ignore[attr-defined]

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("twisted", "asyncio"), default="twisted")
    args = parser.parse_args(argv)
    if args.loop == "twisted":
        runTwisted(args.port)
    else:
        runAsyncio(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
