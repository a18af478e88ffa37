"""
The log observers' first name, kept for unit files and scripts written
before they moved to L{sip2acs.ops.observers}:
C{twistd --logger=sip2acs.observers.stdout} still works.
"""

from sip2acs.ops.observers import FastTextObserver, jsonlines, logfile, stdout, syslog

__all__ = ["FastTextObserver", "stdout", "logfile", "jsonlines", "syslog"]
