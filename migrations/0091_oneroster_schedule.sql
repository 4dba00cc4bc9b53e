-- A tenant's OneRoster API pull on a schedule: every N minutes (NULL: on demand only). The job
-- queue's minute tick queues a pull for each connection that is due.
ALTER TABLE oneroster_connections
  ADD COLUMN sync_every_minutes integer CHECK (sync_every_minutes BETWEEN 15 AND 10080);
