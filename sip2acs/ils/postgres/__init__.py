"""
The circulation system on PostgreSQL: PostgreSQL's side of the SQL store
seam, with the circulation rules shared from L{sip2acs.ils.sql}; several
sip2acs instances may share one database.

  - C{adapter}: L{PostgresILS}, the L{IILS <sip2acs.ils.interfaces.IILS>}
    service (worker threads, the bounded connection pool, start and stop);
  - C{store}: what is PostgreSQL's own (the URL and password, migrations
    with the version in C{sip2acs_schema}, serializable transactions run
    again after a conflict, placeholders, rows, explaining its errors);
  - C{schema/}: the migrations, as package data.
"""

from sip2acs.ils.postgres.adapter import POOL_NAME, PostgresILS
from sip2acs.ils.postgres.store import Location, isPostgresURL, migrate, migrations

__all__ = ["PostgresILS", "Location", "isPostgresURL", "migrate", "migrations", "POOL_NAME"]
