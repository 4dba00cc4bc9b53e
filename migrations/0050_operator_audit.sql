-- What operators do to whole tenants (wipe-out, import, restore, export). Not in audit_events:
-- those rows belong to a tenant and go with it when it is wiped; these outlive the tenant, so they
-- carry its id and slug as plain values, not a foreign key, under names that are not tenant_id
-- (a tenant_id column marks a table as the tenant's own: wiped and exported with it).
CREATE TABLE operator_audit_events (
  id                 bigserial PRIMARY KEY,
  at                 timestamptz NOT NULL DEFAULT now(),
  actor              text NOT NULL,
  action             text NOT NULL,
  target_tenant_id   uuid NOT NULL,
  target_tenant_slug text NOT NULL,
  detail             jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX operator_audit_events_tenant ON operator_audit_events (target_tenant_id, at DESC);
