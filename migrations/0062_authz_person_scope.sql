-- Narrows the 'rb_authz' notification of the tables whose rows belong to one person (grants,
-- memberships, emails, the person row itself) to "tenant person": listeners then drop only that
-- person's cached decisions and the tenant's person references, not the whole school's cache, so
-- SCIM writes in a busy tenant leave everyone else's decisions cached. Identical payloads of one
-- transaction still fold into one; other tables keep notifying the whole tenant.
CREATE FUNCTION rb_notify_authz_person() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rec record;
  person uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
  IF TG_TABLE_NAME = 'people' THEN
    person := rec.id;
  ELSE
    person := rec.person_id;
  END IF;
  PERFORM pg_notify('rb_authz', rec.tenant_id::text || ' ' || person::text);
  -- A row moved to another person or tenant changes the old one's decisions too. (Nested IFs:
  -- plpgsql resolves every field an expression names, and people rows have no person_id.)
  IF TG_OP = 'UPDATE' THEN
    IF TG_TABLE_NAME = 'people' THEN
      IF OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
        PERFORM pg_notify('rb_authz', OLD.tenant_id::text);
      END IF;
    ELSIF OLD.person_id IS DISTINCT FROM NEW.person_id OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
      PERFORM pg_notify('rb_authz', OLD.tenant_id::text || ' ' || OLD.person_id::text);
    END IF;
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER privilege_grants_authz ON privilege_grants;
CREATE TRIGGER privilege_grants_authz AFTER INSERT OR UPDATE OR DELETE ON privilege_grants
  FOR EACH ROW EXECUTE FUNCTION rb_notify_authz_person();
DROP TRIGGER course_memberships_authz ON course_memberships;
CREATE TRIGGER course_memberships_authz AFTER INSERT OR UPDATE OR DELETE ON course_memberships
  FOR EACH ROW EXECUTE FUNCTION rb_notify_authz_person();
DROP TRIGGER person_emails_authz ON person_emails;
CREATE TRIGGER person_emails_authz AFTER INSERT OR UPDATE OR DELETE ON person_emails
  FOR EACH ROW EXECUTE FUNCTION rb_notify_authz_person();
DROP TRIGGER people_authz ON people;
CREATE TRIGGER people_authz AFTER INSERT OR DELETE ON people
  FOR EACH ROW EXECUTE FUNCTION rb_notify_authz_person();
DROP TRIGGER people_authz_update ON people;
CREATE TRIGGER people_authz_update AFTER UPDATE ON people FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.active IS DISTINCT FROM NEW.active
        OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR OLD.merged_into IS DISTINCT FROM NEW.merged_into
        OR OLD.user_name IS DISTINCT FROM NEW.user_name OR OLD.external_id IS DISTINCT FROM NEW.external_id
        OR OLD.primary_email IS DISTINCT FROM NEW.primary_email OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
  EXECUTE FUNCTION rb_notify_authz_person();
