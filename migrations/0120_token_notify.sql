-- The per-process API token cache (src/domain/tokens.ts, docs/decisions/0008) listens on its own
-- channel: 'rb_authz' also fires for every people and membership write, which would drop a
-- tenant's cached tokens on every SCIM create. 'rb_tokens' carries the tenant id of a token whose
-- validity changed (revoked, expiry, kind, moved, deleted) or of a tenant that changed (status,
-- deletion, seat limit, slug, name: all read with the token).
CREATE FUNCTION rb_notify_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'tenants' THEN
    IF TG_OP = 'DELETE' THEN
      PERFORM pg_notify('rb_tokens', OLD.id::text);
    ELSE
      PERFORM pg_notify('rb_tokens', NEW.id::text);
    END IF;
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('rb_tokens', OLD.tenant_id::text);
  ELSE
    PERFORM pg_notify('rb_tokens', NEW.tenant_id::text);
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
      PERFORM pg_notify('rb_tokens', OLD.tenant_id::text);
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER api_tokens_token_cache AFTER UPDATE OF revoked_at, expires_at, kind, tenant_id, token_hash OR DELETE ON api_tokens
  FOR EACH ROW EXECUTE FUNCTION rb_notify_tokens();
CREATE TRIGGER tenants_token_cache AFTER UPDATE OR DELETE ON tenants FOR EACH ROW EXECUTE FUNCTION rb_notify_tokens();
