-- sip2acs embedded circulation system, schema version 2: what Koha and
-- Evergreen kiosks read of patrons and items, and how payments are kept.
--
--   - patrons.internet_privileges: the patron's internet access profile
--     (Evergreen's PI in 64).
--   - patron_classes: the name of each patron class code (patrons.patron_class
--     is the code; a class without a row is shown by its code).
--   - patron_attributes: a patron's extra attributes, code -> value (Koha's
--     patron attributes), for templates and extra fields.
--   - item_fields: an item's extra fields, code -> value.
--   - payments.kind: 'payment', or 'writeoff' for an amount the library
--     forgave; payments.register: the cash register it was taken at.

ALTER TABLE patrons ADD COLUMN internet_privileges TEXT;

CREATE TABLE patron_classes (
    code TEXT PRIMARY KEY NOT NULL CHECK (code <> '' AND code <> '*'),
    name TEXT NOT NULL DEFAULT ''
);

CREATE TABLE patron_attributes (
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    code TEXT NOT NULL CHECK (code <> ''),
    value TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (patron_id, code)
);

CREATE TABLE item_fields (
    item_id INTEGER NOT NULL REFERENCES items (id),
    code TEXT NOT NULL CHECK (code <> ''),
    value TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (item_id, code)
);

ALTER TABLE payments ADD COLUMN kind TEXT NOT NULL DEFAULT 'payment'
    CHECK (kind IN ('payment', 'writeoff'));
ALTER TABLE payments ADD COLUMN register TEXT;
