"""
twistd plugin for the sip2acs branch bridge: C{twistd -n sip2acs-bridge}.

This file stays tiny: L{ServiceMaker} imports L{sip2acs.app.bridgetap} lazily.
"""

from twisted.application.service import ServiceMaker

sip2acsBridge = ServiceMaker(
    "sip2acs-bridge",
    "sip2acs.app.bridgetap",
    "Relay plain SIP2 from a branch's kiosks to a central sip2acs over TLS.",
    "sip2acs-bridge",
)
