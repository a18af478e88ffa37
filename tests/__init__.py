"""sip2acs test suite."""
