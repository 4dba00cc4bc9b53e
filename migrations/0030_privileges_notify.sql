-- Narrows the people trigger of 0030_privileges.sql: an UPDATE notifies 'rb_authz' only when it
-- changes what decisions or personRef resolution read (status, active, deletion, merge, the keys a
-- personRef matches), not on every SCIM attribute write. NOTIFY serialises the commits that send
-- one, so fewer is better for SCIM write throughput.
DROP TRIGGER people_authz ON people;
CREATE TRIGGER people_authz AFTER INSERT OR DELETE ON people FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER people_authz_update AFTER UPDATE ON people FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.active IS DISTINCT FROM NEW.active
        OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR OLD.merged_into IS DISTINCT FROM NEW.merged_into
        OR OLD.user_name IS DISTINCT FROM NEW.user_name OR OLD.external_id IS DISTINCT FROM NEW.external_id
        OR OLD.primary_email IS DISTINCT FROM NEW.primary_email OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
  EXECUTE FUNCTION rb_notify_authz();
