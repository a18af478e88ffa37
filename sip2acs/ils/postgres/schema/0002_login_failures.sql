-- sip2acs circulation system on PostgreSQL, schema version 2: the failed
-- logins of every sip2acs instance on this database, so that a listener's
-- cooling-off (login-failures-before-cooloff) counts across instances
-- (sip2acs.acs.throttle, sip2acs.ils.postgres.throttle). PostgreSQL only:
-- one SQLite file has one instance.
--
-- One row per scope (the cooling-off settings, e.g. '10/300'), address
-- and login id ('' for every login id that is not configured). Times are
-- seconds since the epoch on the instances' clocks. A row whose window
-- and cooling-off have both ended (expires) means nothing and is deleted
-- from time to time. Never a password.

CREATE TABLE login_failures (
    scope TEXT NOT NULL,
    address TEXT NOT NULL,
    login TEXT NOT NULL,
    failures INTEGER NOT NULL CHECK (failures >= 0),
    since DOUBLE PRECISION NOT NULL,
    cooling_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    expires DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, address, login)
);
CREATE INDEX login_failures_expires ON login_failures (expires);
