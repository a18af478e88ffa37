# -*- test-case-name: tests.test_client -*-
"""
The exit statuses of C{sip2acs client} and its usage error; the
connection errors are the client's (L{sip2acs.sip.exchange}).
"""

__all__ = ["EXIT_OK", "EXIT_REFUSED", "EXIT_NO_ANSWER", "EXIT_USAGE", "UsageError"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_NO_ANSWER = 2
EXIT_USAGE = 3


class UsageError(Exception):
    """
    The command line or a shell line is wrong (exit status 3).
    """
