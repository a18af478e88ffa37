"""
The ACS core, knowing no transport: the per-connection session
(L{sip2acs.acs.session}: error detection, resend, replay, the login gate,
the ILS watchdog and the translation of each request), the state every
connection shares (L{sip2acs.acs.server}), login cooling-off
(L{sip2acs.acs.throttle}), address lists (L{sip2acs.acs.addresses}) and the
logging of adapter failures (L{sip2acs.acs.failurelog}).
"""
