-- SCIM (issue 3).

-- externalId is not unique (RFC 7643 §3.1 gives it no uniqueness, so §2.2's default "none"
-- applies, and Microsoft's reference client sends several users with one externalId). userName
-- stays unique per tenant and is what makes concurrent creates of one person yield one row.
-- Lookups by externalId keep their (now non-unique) indexes.
DROP INDEX people_external_id_live;
CREATE INDEX people_external_id_live ON people (tenant_id, external_id)
  WHERE deleted_at IS NULL AND external_id IS NOT NULL AND status <> 'merged';
DROP INDEX groups_external_id_live;
CREATE INDEX groups_external_id_live ON groups (tenant_id, external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL;

-- Attributes of a group membership that no schema models (e.g. a member's "displayName" as
-- Microsoft's reference client sends it) round-trip like every other unknown attribute.
ALTER TABLE group_members ADD COLUMN scim jsonb;

-- Paging (index and cursor) walks people and groups in id order within a tenant: the foundation's
-- people_tenant_id and groups_tenant_id indexes serve it, so no index of our own (each one more
-- write on every create).
