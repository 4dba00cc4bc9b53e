-- Rate-limit counters need no durability: losing them in a crash only hands every token a fresh
-- minute's budget. As an unlogged table its upsert (one per SCIM request) writes no WAL, so the
-- transaction commits without waiting for a WAL flush (docs/decisions/0006). Unlogged tables are
-- emptied after a crash and are not copied to streaming replicas, which is what we want here.
ALTER TABLE rate_limits SET UNLOGGED;
