"""
Running sip2acs: the admin HTTP listener (metrics, health, readiness, the
status page), the metrics themselves, the signals (L{sip2acs.ops.signals}:
SIGHUP reloads the configuration, SIGUSR1/SIGUSR2 drain and resume) and
the log observers for C{twistd --logger}.
"""
