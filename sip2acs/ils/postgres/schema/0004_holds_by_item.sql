-- sip2acs circulation system on PostgreSQL, schema version 4: the hold
-- queue of one item without scanning the holds (SQLite's schema version 3,
-- the same indexes).
--
-- Checkin, checkout and item information read the active holds that could
-- take an item: those on the copy (item_id), the one that trapped it
-- (trapped_item_id) and the title-level ones (title_key). An index on each
-- of the three lets the planner answer the OR with a bitmap OR of index
-- scans instead of reading every active hold. They also serve the foreign
-- keys from holds to items.

CREATE INDEX holds_by_item ON holds (item_id, status);
CREATE INDEX holds_by_trapped_item ON holds (trapped_item_id, status);
