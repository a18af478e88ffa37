"""
The programs twistd runs: C{twistd sip2acs} (L{sip2acs.app.tap}: options
and the service tree) and C{twistd sip2acs-bridge}, the branch TLS bridge
(L{sip2acs.app.bridgetap}, L{sip2acs.app.bridge}).
"""
