"""
sip2acs: a SIP2 automated circulation server (ACS) on Twisted.

The package is layered, each layer importing from the ones below it:
L{sip2acs.sip} (the SIP2 language, no Twisted), L{sip2acs.ils} (circulation
systems and their contract), L{sip2acs.acs} (sessions and the state they
share), L{sip2acs.transports} (how kiosks connect), L{sip2acs.ops}
(running it: admin listener, metrics, reload, log observers),
L{sip2acs.app} (the twistd programs) and L{sip2acs.tools} (the C{sip2acs}
command). Configuration is L{sip2acs.config}.
"""
