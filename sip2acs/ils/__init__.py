"""
ILS adapters: the circulation systems sip2acs can sit in front of.
"""
