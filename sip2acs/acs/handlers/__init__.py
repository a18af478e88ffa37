# -*- test-case-name: tests.test_handlers -*-
"""
The request handlers: one function per SIP2 request, grouped by concern.

  - L{status}: 93 (login) and 99 (SC status), the session's own;
  - L{patron}: 23, 63, 01, 25, 35;
  - L{items}: 17, 19;
  - L{circulation}: 11, 29, 65, 09;
  - L{holds}: 15;
  - L{fees}: 37;
  - L{common}: what they share (the L{Session} they see, amounts, PINs).

A handler is C{handler(session, request)}, returning a Deferred firing with
the response (see L{Handler}). The session looks it up in L{HANDLERS} by the
request's command identifier, after its own checks (decoding, error
detection, resend, the login gate, whether the adapter supports the
operation), and bounds and refuses adapter failures itself.

To answer a new request: write its handler in the module of its group and
name it in L{_BY_OPERATION} under its operation name in
L{sip2acs.sip.spec.OPERATIONS}; importing this package fails if a request
of that table has no handler.
"""

from sip2acs.acs.handlers import circulation, fees, holds, items, patron, status
from sip2acs.acs.handlers.common import Handler, Session
from sip2acs.sip.spec import OPERATIONS

__all__ = ["HANDLERS", "PIPELINE_OPERATIONS", "Handler", "Session"]

PIPELINE_OPERATIONS = frozenset({"resend"})
"""
The operations the session's frame pipeline answers itself, with no
handler: 97 (resend) repeats the last response.
"""

_BY_OPERATION: dict[str, Handler] = {
    "login": status.login,
    "scStatus": status.scStatus,
    "patronStatus": patron.patronStatus,
    "patronInformation": patron.patronInformation,
    "blockPatron": patron.blockPatron,
    "patronEnable": patron.patronEnable,
    "endPatronSession": patron.endPatronSession,
    "itemInformation": items.itemInformation,
    "itemStatusUpdate": items.itemStatusUpdate,
    "checkout": circulation.checkout,
    "renew": circulation.renew,
    "renewAll": circulation.renewAll,
    "checkin": circulation.checkin,
    "hold": holds.hold,
    "feePaid": fees.feePaid,
}


def _handlers() -> dict[str, Handler]:
    """
    The handler of each request of L{OPERATIONS}, by request code.

    @raise RuntimeError: A request (other than the pipeline's own) has no
        handler, or a handler answers no request.
    """
    expected = {o.name for o in OPERATIONS} - PIPELINE_OPERATIONS
    if expected != set(_BY_OPERATION):
        raise RuntimeError(
            "request handlers do not match OPERATIONS: missing %s, unknown %s"
            % (sorted(expected - set(_BY_OPERATION)), sorted(set(_BY_OPERATION) - expected))
        )
    return {
        operation.request: _BY_OPERATION[operation.name]
        for operation in OPERATIONS
        if operation.name in expected
    }


HANDLERS = _handlers()
"""
Request code (C{"11"}) to its L{Handler}: every request of
L{sip2acs.sip.spec.OPERATIONS} but those in L{PIPELINE_OPERATIONS}.
"""
