-- sip2acs embedded circulation system, schema version 3: the hold queue of
-- one item without scanning the holds.
--
-- Checkin, checkout and item information read the active holds that could
-- take an item: those on the copy (item_id), the one that trapped it
-- (trapped_item_id) and the title-level ones (title_key). With an index on
-- each of the three, SQLite answers the OR with a search of each index
-- (MULTI-INDEX OR); without the first two it read every active hold
-- (bench/growth.py --plans shows the plans). They also serve the foreign
-- keys from holds to items.

CREATE INDEX holds_by_item ON holds (item_id, status);
CREATE INDEX holds_by_trapped_item ON holds (trapped_item_id, status);
