"""
The C{sip2acs} command (L{sip2acs.tools.cli}): C{hash-password},
C{config check}, the C{db} commands (L{sip2acs.tools.dbcli}), the
troubleshooting client (L{sip2acs.tools.client}) and the benchmark
(L{sip2acs.tools.bench}).
"""
