"""The gateway adapter: an institution's operations forwarded to an upstream SIP2 server."""
