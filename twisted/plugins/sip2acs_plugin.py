"""
twistd plugin for sip2acs: C{twistd -n sip2acs}.

This file stays tiny: L{ServiceMaker} imports L{sip2acs.app.tap} lazily.
"""

from twisted.application.service import ServiceMaker

sip2acs = ServiceMaker(
    "sip2acs",
    "sip2acs.app.tap",
    "SIP2 automated circulation server (self-check kiosks, sorters, PC booking).",
    "sip2acs",
)
