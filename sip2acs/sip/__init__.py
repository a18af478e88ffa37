"""
The SIP2 language, with no Twisted and no I/O: the table of messages and
fields and the one table of operations (L{sip2acs.sip.spec}), the codec
between bytes and typed messages (L{sip2acs.sip.codec}), whether a
response says its request succeeded (L{sip2acs.sip.success}) and what the
codes mean to people (L{sip2acs.sip.codes}).
"""
