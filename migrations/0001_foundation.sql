-- Foundation: tenants, their API tokens, the audit log and the people table.
-- Every table carries tenant_id and every unique key leads with it (DESIGN.md "Databases").

CREATE TABLE tenants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug        text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  seat_limit  integer CHECK (seat_limit IS NULL OR seat_limit >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
-- A slug is unique among live tenants; a soft-deleted tenant keeps its data and frees its slug.
CREATE UNIQUE INDEX tenants_slug_live ON tenants (slug) WHERE deleted_at IS NULL;

CREATE TABLE api_tokens (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  kind          text NOT NULL CHECK (kind IN ('scim', 'admin')),
  name          text NOT NULL,
  token_hash    text NOT NULL,
  prefix        text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  last_used_at  timestamptz
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at);

CREATE TABLE audit_events (
  id           bigserial PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor        text NOT NULL,
  action       text NOT NULL,
  target_type  text NOT NULL,
  target_id    text NOT NULL,
  before       jsonb,
  after        jsonb,
  request_id   text
);
CREATE INDEX audit_events_tenant_at ON audit_events (tenant_id, at DESC, id DESC);
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_type, target_id, at DESC);

-- A person exists before any login does: the IdP (SCIM), an admin ("can't find") or a roster
-- names them, and every grant and membership points here with a NOT NULL foreign key.
CREATE TABLE people (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  status           text NOT NULL CHECK (status IN ('provisioned', 'invited', 'active', 'suspended', 'deprovisioned', 'merged')),
  user_name        text,
  external_id      text,
  primary_email    text CHECK (primary_email = lower(primary_email)),
  given_name       text,
  family_name      text,
  display_name     text,
  active           boolean NOT NULL DEFAULT true,
  source           text NOT NULL CHECK (source IN ('scim', 'invite', 'lti', 'roster', 'admin')),
  scim             jsonb NOT NULL DEFAULT '{}'::jsonb,
  version          integer NOT NULL DEFAULT 1,
  first_launch_at  timestamptz,
  merged_into      uuid REFERENCES people (id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
-- userName is case-insensitive (RFC 7643 caseExact=false); unique among the tenant's live people.
CREATE UNIQUE INDEX people_user_name_live ON people (tenant_id, lower(user_name))
  WHERE deleted_at IS NULL AND user_name IS NOT NULL AND status <> 'merged';
CREATE UNIQUE INDEX people_external_id_live ON people (tenant_id, external_id)
  WHERE deleted_at IS NULL AND external_id IS NOT NULL AND status <> 'merged';
-- Email is a weak key: indexed for lookup, never unique (schools recycle addresses).
CREATE INDEX people_primary_email ON people (tenant_id, primary_email) WHERE deleted_at IS NULL;
CREATE INDEX people_tenant_id ON people (tenant_id, id);
