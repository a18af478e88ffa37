"""
The version of sip2acs.
"""

__version__ = "0.1.0.dev0"
