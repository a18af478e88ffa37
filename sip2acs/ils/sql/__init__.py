"""
The circulation system on an SQL database: one implementation of the
circulation rules, shared by the SQLite and PostgreSQL stores.

  - C{store}: the seam, L{Store <sip2acs.ils.sql.store.Store>} (what a
    dialect provides, and what every store shares: the cache of reference
    rows, the stored form of times and money, the journal);
  - C{circulation}: L{Circulation <sip2acs.ils.sql.circulation.Circulation>},
    the facade saying which operation is which transaction;
  - C{service}: the IILS operations as calls of the facade, for the
    adapters;
  - C{rules}: loan rules, limits, sort bins, refusal messages;
  - C{patrons}, C{items}: lookups; C{checkout}, C{checkin}, C{renewals},
    C{holds}, C{fees}: one module per operation group;
  - C{importing}, C{demo}, C{copying}: what the C{sip2acs db} commands do
    to a whole database (the CSV import, the demo data, copying a library
    between two databases).

The SQL here runs unchanged on both databases: C{?} placeholders (a
dialect may translate them), times as C{YYYY-MM-DD HH:MM:SS} text, money
in integer cents, flags as 0/1 integers, and C{rowid} for the order rows
were added in (a PostgreSQL schema gives the tables that are ordered so
a C{rowid} column).
"""
