"""
The ACS core, knowing no transport: the per-connection session
(L{sip2acs.acs.session}), the checks a frame passes before dispatch
(L{sip2acs.acs.frames}: error detection, resend, replay, the login gate),
logins through twisted.cred (L{sip2acs.acs.auth}), how it frames
responses (L{sip2acs.acs.wire}), dispatches requests
(L{sip2acs.acs.dispatch}, with the ILS watchdog of L{sip2acs.acs.watchdog})
to one handler per request (L{sip2acs.acs.handlers}) and refuses them
(L{sip2acs.acs.refusals}); the connection interface and registry
(L{sip2acs.acs.interfaces}, L{sip2acs.acs.registry}); the state every
connection shares (L{sip2acs.acs.server}), login cooling-off
(L{sip2acs.acs.throttle}), address lists (L{sip2acs.acs.addresses}) and the
logging of adapter failures (L{sip2acs.acs.failurelog}).
"""
