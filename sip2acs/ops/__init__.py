"""
Running sip2acs: the admin HTTP listener (metrics, health, readiness, the
status page), the metrics themselves, configuration reload on SIGHUP and
the log observers for C{twistd --logger}.
"""
