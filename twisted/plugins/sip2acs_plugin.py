"""
twistd plugin for sip2acs: C{twistd -n sip2acs}.

This file stays tiny: L{ServiceMaker} imports L{sip2acs.tap} lazily.
"""

from twisted.application.service import ServiceMaker

sip2acs = ServiceMaker(
    "sip2acs",
    "sip2acs.tap",
    "SIP2 automated circulation server (self-check kiosks, sorters, PC booking).",
    "sip2acs",
)
