-- The school admin page (/app/admin): its sign-in sessions and the two logs it shows.
--
-- admin_sessions: a tenant admin signed in to the page, by pasting an admin token (token_id) or
-- by an LTI launch with the LMS Administrator role (person_id). The cookie holds a random secret;
-- only its SHA-256 is kept. A session ends at expires_at, at sign-out (ended_at), or when its
-- token is revoked or expires.
CREATE TABLE admin_sessions (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  secret_hash  text NOT NULL,
  via          text NOT NULL CHECK (via IN ('token', 'lti')),
  token_id     uuid REFERENCES api_tokens (id),
  person_id    uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  ended_at     timestamptz,
  CHECK ((via = 'token') = (token_id IS NOT NULL)),
  CHECK ((via = 'lti') = (person_id IS NOT NULL))
);
CREATE UNIQUE INDEX admin_sessions_secret ON admin_sessions (secret_hash);
CREATE INDEX admin_sessions_tenant ON admin_sessions (tenant_id, expires_at);

-- provisioning_log: the last SCIM requests of each tenant (bounded: pruned to the newest few
-- hundred, always keeping the latest success). What an admin needs and nothing more: method,
-- resource type, the id of the person or group it touched (names are looked up when shown, so a
-- wiped person leaves no name behind), status and the error detail. Never bodies, filters or
-- tokens.
CREATE TABLE provisioning_log (
  id           bigserial PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  method       text NOT NULL,
  resource     text NOT NULL,
  target_id    text,
  operations   integer,
  status       integer NOT NULL,
  detail       text,
  token_id     uuid,
  request_id   text
);
CREATE INDEX provisioning_log_tenant ON provisioning_log (tenant_id, id DESC);
CREATE INDEX provisioning_log_success ON provisioning_log (tenant_id, id DESC) WHERE status < 400;

-- launch_log: the last LTI launches of each tenant, successful or not; a failed one names the
-- check that failed (lti/errors.ts LtiCheck). Bounded like provisioning_log.
CREATE TABLE launch_log (
  id             bigserial PRIMARY KEY,
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  platform_id    uuid,
  deployment_id  text,
  ok             boolean NOT NULL,
  failed_check   text,
  detail         text,
  person_id      uuid,
  course_id      uuid,
  roles          text[] NOT NULL DEFAULT '{}',
  request_id     text
);
CREATE INDEX launch_log_tenant ON launch_log (tenant_id, id DESC);
