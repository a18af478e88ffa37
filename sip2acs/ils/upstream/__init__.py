"""
The gateway adapter: an institution's operations forwarded to the SIP2
server of the library system it already runs (the upstream).

  - L{translate}: each operation as a SIP2 request, and the answer as the
    domain value (pure).
  - L{link}, L{pool}: upstream connections, logged in, reconnected with
    backoff; shared by kiosks, one request in flight on each.
  - L{adapter}: L{SIP2UpstreamILS}, the L{IILS
    <sip2acs.ils.interfaces.IILS>} provider, with the fault rules.
  - L{offline}: the durable queue of what was taken while the upstream
    was away.
  - L{settings}: the institution's keys.
"""

from sip2acs.ils.upstream.adapter import SIP2UpstreamILS

__all__ = ["SIP2UpstreamILS"]
