"""
The CPU cost of the SIP2 codec alone: µs per decode and per encode of the
frames the bench's kiosks and sip2acs exchange (63/64, 17/18, 11/12,
09/10, 93/94, 99/98).

    .venv/bin/python bench/codec.py [--rounds N] [--number N] [--checksum]

Decode is of the frame as received (without its terminator); encode is of
the message as the server builds it (fields in the spec's order, a
transaction date of "now"), as the bench's kiosk request is answered: with
C{--checksum}, every frame carries C{AY}/C{AZ} and every encode writes them.
Each figure is the best of C{--rounds} timings of C{--number} calls, in
process CPU time (other processes on the machine do not count).
"""

import argparse
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

import attrs

from sip2acs.sip import codec

FRAMES = [
    # The bench kiosk's loop (sip2acs.tools.bench.load) and sip2acs's answers.
    b"6300120250314    101500          AOBENCH|AABP000000|",
    b"64              00120250314    101500" + b"0000" * 6
    + b"AOBENCH|AABP000000|AEBench Patron 0|BLY|BHUSD|BV0.00|",
    b"1720250314    101500AOBENCH|ABBI0000000|",
    b"1803020120250314    101500ABBI0000000|AJBench Title 0|CK001|AQMAIN|APMAIN|",
    b"11NN20250314    101500                  AOBENCH|AABP000000|ABBI0000000|AC|",
    b"121NNY20250314    101500AOBENCH|AABP000000|ABBI0000000|AJBench Title 0|"
    b"AH20261215    235900|CK001|BKMEM-1|BLY|",
    b"09N20250314    10150020250314    101500APMAIN|AOBENCH|ABBI0000000|AC|",
    b"101YNN20250314    101500AOBENCH|ABBI0000000|AQMAIN|AJBench Title 0|"
    b"AABP000000|CK001|",
    # The log-in and status exchange.
    b"9300CNbench|COsecret|CPMAIN|",
    b"941",
    b"9900402.00",
    b"98YYYYNN03000320250314    1015002.00AOBENCH|AMBench Library|"
    b"BXYYYYYYYYYYYYYYYY|ANMAIN|AFWelcome|",
]


def _best(call: Callable[[], object], rounds: int, number: int) -> float:
    """
    The best of C{rounds} timings of C{number} calls, in µs per call.
    """
    timings = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(number):
            call()
        timings.append(time.process_time() - started)
    return min(timings) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--checksum", action="store_true")
    args = parser.parse_args()
    now = datetime.now().replace(microsecond=0)
    sequence = 1 if args.checksum else None
    totals = [0.0, 0.0]
    print("code  decode µs  encode µs")
    for frame in FRAMES:
        message = codec.decode(frame).message
        if args.checksum:
            frame = codec.encode(message, sequence=sequence)
        # As the server builds a message: in the spec's order, dated now.
        built = attrs.evolve(message, order=None)
        if any(field.name == "transactionDate" for field in built.spec.fixed):
            built = attrs.evolve(built, transactionDate=now)
        decodeCost = _best(partial(codec.decode, frame), args.rounds, args.number)
        encodeCost = _best(
            partial(codec.encode, built, sequence=sequence), args.rounds, args.number
        )
        totals[0] += decodeCost
        totals[1] += encodeCost
        print("%s    %9.2f  %9.2f" % (frame[:2].decode(), decodeCost, encodeCost))
    print("all   %9.2f  %9.2f" % tuple(totals))


if __name__ == "__main__":
    main()
