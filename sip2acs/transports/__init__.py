"""
How kiosks reach the ACS: raw SIP2 framing (L{sip2acs.transports.protocol}),
the telnet-login prelude (L{sip2acs.transports.telnet}), native TLS
(L{sip2acs.transports.tls}), the PROXY protocol
(L{sip2acs.transports.proxy}), allow lists and the per-address cap
(L{sip2acs.transports.access}), and half-closes through protocol wrappers
(L{sip2acs.transports.halfclose}).
"""
