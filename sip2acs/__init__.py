"""
sip2acs: a SIP2 automated circulation server (ACS) on Twisted.

The pure codec lives in L{sip2acs.sip.codec}, the per-connection session in
L{sip2acs.acs.session}, the ILS adapter contract in L{sip2acs.ils.interfaces} and the
twistd plugin glue in L{sip2acs.app.tap}.
"""
