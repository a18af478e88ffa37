-- sip2acs embedded circulation system, schema version 1.
--
-- Applied by sip2acs.ils.sqlite.migrate() inside one transaction, which then
-- sets PRAGMA user_version to 1. Never edit a migration that has shipped:
-- add NNNN_name.sql with the next number instead.
--
-- Conventions: money in integer cents (*_cents), times as naive local
-- 'YYYY-MM-DD HH:MM:SS' text, dates as 'YYYY-MM-DD' text, flags as 0/1.

CREATE TABLE branches (
    code TEXT PRIMARY KEY NOT NULL CHECK (code <> ''),
    name TEXT NOT NULL DEFAULT ''
);

-- One row per institution id (SIP2 AO). A terminal whose institution has no
-- row uses the first row.
CREATE TABLE institutions (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
    default_branch TEXT REFERENCES branches (code),
    hold_shelf_days INTEGER NOT NULL DEFAULT 7 CHECK (hold_shelf_days >= 0)
);

CREATE TABLE item_types (
    code TEXT PRIMARY KEY NOT NULL CHECK (code <> '' AND code <> '*'),
    name TEXT NOT NULL DEFAULT '',
    media_type TEXT NOT NULL DEFAULT '001'
        CHECK (length(media_type) = 3 AND media_type GLOB '[0-9][0-9][0-9]'),
    magnetic INTEGER NOT NULL DEFAULT 0 CHECK (magnetic IN (0, 1))
);

-- Loan rules. '*' matches any patron class or item type; the most specific
-- row wins: (class, type), then (*, type), then (class, *), then (*, *).
-- Patron-wide limits (max_loans as a total, fee_limit_cents, max_overdue,
-- max_holds) come from the (class, *) row, else the (*, *) row. A max_loans
-- on a row with a specific item type limits loans of that type.
-- loan_days = 0 means the item type does not circulate (in-library use).
CREATE TABLE loan_rules (
    patron_class TEXT NOT NULL DEFAULT '*' CHECK (patron_class <> ''),
    item_type TEXT NOT NULL DEFAULT '*' CHECK (item_type <> ''),
    loan_days INTEGER NOT NULL CHECK (loan_days >= 0),
    max_loans INTEGER CHECK (max_loans >= 0),
    max_renewals INTEGER NOT NULL DEFAULT 2 CHECK (max_renewals >= 0),
    fine_per_day_cents INTEGER NOT NULL DEFAULT 0 CHECK (fine_per_day_cents >= 0),
    fine_cap_cents INTEGER CHECK (fine_cap_cents >= 0),
    rental_fee_cents INTEGER NOT NULL DEFAULT 0 CHECK (rental_fee_cents >= 0),
    fee_limit_cents INTEGER CHECK (fee_limit_cents >= 0),
    max_overdue INTEGER CHECK (max_overdue >= 0),
    max_holds INTEGER CHECK (max_holds >= 0),
    PRIMARY KEY (patron_class, item_type)
);

CREATE TABLE patrons (
    id INTEGER PRIMARY KEY,
    barcode TEXT NOT NULL UNIQUE CHECK (barcode <> ''),
    name TEXT NOT NULL DEFAULT '',
    -- Only hashes made by sip2acs.passwords.hashPassword; never a clear PIN.
    pin_hash TEXT CHECK (pin_hash IS NULL OR pin_hash GLOB 'scrypt$*'),
    patron_class TEXT NOT NULL DEFAULT 'ADULT' CHECK (patron_class <> '' AND patron_class <> '*'),
    home_branch TEXT REFERENCES branches (code),
    expires TEXT,
    card_lost INTEGER NOT NULL DEFAULT 0 CHECK (card_lost IN (0, 1)),
    blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    block_note TEXT,
    blocked_at TEXT,
    language TEXT NOT NULL DEFAULT '000',
    email TEXT,
    phone TEXT,
    address TEXT,
    birth_date TEXT
);

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    barcode TEXT NOT NULL UNIQUE CHECK (barcode <> ''),
    title TEXT NOT NULL DEFAULT '',
    -- The bibliographic record id; title-level holds and renewals by title
    -- use title_key (the record id, or the title when there is none).
    title_id TEXT,
    title_key TEXT GENERATED ALWAYS AS (coalesce(nullif(title_id, ''), title)) VIRTUAL,
    author TEXT,
    call_number TEXT,
    collection_code TEXT,
    shelving_location TEXT,
    item_type TEXT NOT NULL DEFAULT 'BOOK' REFERENCES item_types (code),
    -- NULL: from the item type.
    media_type TEXT CHECK (media_type IS NULL OR (length(media_type) = 3 AND media_type GLOB '[0-9][0-9][0-9]')),
    magnetic INTEGER CHECK (magnetic IS NULL OR magnetic IN (0, 1)),
    home_branch TEXT NOT NULL REFERENCES branches (code),
    current_branch TEXT REFERENCES branches (code),
    -- charged iff an open loan exists; on_hold_shelf/in_transit follow holds.
    status TEXT NOT NULL DEFAULT 'available' CHECK (status IN (
        'available', 'charged', 'on_hold_shelf', 'in_transit', 'lost',
        'missing', 'in_process', 'on_order', 'claimed_returned',
        'reshelving', 'other')),
    destination TEXT REFERENCES branches (code),
    properties TEXT
);
CREATE INDEX items_title_key ON items (title_key);

CREATE TABLE loans (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items (id),
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    branch TEXT REFERENCES branches (code),
    out_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    renewals INTEGER NOT NULL DEFAULT 0,
    last_renewed_at TEXT,
    no_block INTEGER NOT NULL DEFAULT 0,
    returned_at TEXT,
    checked_in_at TEXT,
    checkin_branch TEXT REFERENCES branches (code),
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX loans_one_open_per_item ON loans (item_id) WHERE returned_at IS NULL;
CREATE INDEX loans_open_by_patron ON loans (patron_id) WHERE returned_at IS NULL;
CREATE INDEX loans_by_item ON loans (item_id, id);

-- The hold queue. A copy-level hold has item_id; a title-level hold only
-- title_key. Active holds are waiting, in_transit (trapped, on its way to
-- the pickup branch) or ready (on the hold shelf).
CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    item_id INTEGER REFERENCES items (id),
    title_key TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    pickup_branch TEXT NOT NULL REFERENCES branches (code),
    placed_at TEXT NOT NULL,
    expires_at TEXT,
    status TEXT NOT NULL DEFAULT 'waiting' CHECK (status IN (
        'waiting', 'in_transit', 'ready', 'filled', 'cancelled', 'expired')),
    trapped_item_id INTEGER REFERENCES items (id),
    trapped_at TEXT,
    shelf_expires_at TEXT,
    filled_loan_id INTEGER REFERENCES loans (id),
    closed_at TEXT
);
CREATE INDEX holds_active_by_title ON holds (title_key, placed_at)
    WHERE status IN ('waiting', 'in_transit', 'ready');
CREATE INDEX holds_by_patron ON holds (patron_id, status);

-- Fees and credits: a credit (overpayment) is a row with a negative amount.
CREATE TABLE fees (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    item_id INTEGER REFERENCES items (id),
    loan_id INTEGER REFERENCES loans (id),
    fee_type TEXT NOT NULL DEFAULT '01' CHECK (length(fee_type) = 2),
    description TEXT NOT NULL DEFAULT '',
    amount_cents INTEGER NOT NULL,
    balance_cents INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    voided_at TEXT
);
CREATE INDEX fees_by_patron ON fees (patron_id, created_at);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    credit_cents INTEGER NOT NULL DEFAULT 0,
    fee_type TEXT,
    payment_type TEXT,
    currency TEXT,
    -- The payment device's own transaction id (SIP2 BK in 37).
    device_transaction_id TEXT,
    paid_at TEXT NOT NULL,
    terminal TEXT
);

CREATE TABLE payment_lines (
    payment_id INTEGER NOT NULL REFERENCES payments (id),
    fee_id INTEGER NOT NULL REFERENCES fees (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (payment_id, fee_id)
);

-- Append-only: one row per operation (and per import). The row id is the
-- transaction id reported to the SC (BK). Never holds a PIN.
CREATE TABLE transaction_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    terminal TEXT,
    institution TEXT,
    location TEXT,
    peer TEXT,
    operation TEXT NOT NULL,
    patron TEXT,
    item TEXT,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    reason TEXT,
    amount_cents INTEGER,
    detail TEXT
);
CREATE TRIGGER transaction_log_no_update BEFORE UPDATE ON transaction_log
BEGIN
    SELECT RAISE(ABORT, 'transaction_log is append-only');
END;
CREATE TRIGGER transaction_log_no_delete BEFORE DELETE ON transaction_log
BEGIN
    SELECT RAISE(ABORT, 'transaction_log is append-only');
END;

-- Starter data: the common item types and a catch-all loan rule, so that a
-- database with only patrons and items imported can circulate.
INSERT INTO item_types (code, name, media_type, magnetic) VALUES
    ('BOOK', 'Book', '001', 0),
    ('MAGAZINE', 'Magazine', '002', 0),
    ('AUDIO', 'Audio cassette', '004', 1),
    ('VIDEO', 'Video cassette', '005', 1),
    ('CD', 'CD', '006', 0),
    ('DVD', 'DVD', '006', 0),
    ('BOOKCD', 'Book with CD', '009', 0),
    ('REF', 'Reference', '001', 0);

INSERT INTO loan_rules (patron_class, item_type, loan_days, max_renewals) VALUES
    ('*', '*', 21, 2),
    ('*', 'REF', 0, 0);
