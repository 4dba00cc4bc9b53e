-- Who runs a school's tenant: exactly one owner (once one is named) and any number of admins, each
-- a person of the tenant (a placeholder is fine: the IdP may push them later) or a named operator
-- account of the hosting team. Ownership moves only by transfer (src/domain/tenant-admins.ts).
CREATE TABLE tenant_admins (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  role        text NOT NULL CHECK (role IN ('owner', 'admin')),
  person_id   uuid REFERENCES people (id),
  operator    text CHECK (operator IS NULL OR length(operator) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((person_id IS NULL) <> (operator IS NULL))
);
-- At most one owner per tenant; a transfer demotes the old owner before it promotes the new one.
CREATE UNIQUE INDEX tenant_admins_one_owner ON tenant_admins (tenant_id) WHERE role = 'owner';
CREATE UNIQUE INDEX tenant_admins_person ON tenant_admins (tenant_id, person_id) WHERE person_id IS NOT NULL;
CREATE UNIQUE INDEX tenant_admins_operator ON tenant_admins (tenant_id, lower(operator)) WHERE operator IS NOT NULL;
