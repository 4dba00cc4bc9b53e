-- LTI 1.3 tool: platforms and deployments per tenant, login identities, OIDC login states, launch
-- tickets, and the tool's own signing keys.

-- A platform registration belongs to one tenant. Several tenants may register the same
-- (issuer, client_id) — Canvas Cloud shares both across schools — and are told apart by deployment_id.
CREATE TABLE lti_platforms (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES tenants (id),
  issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2000),
  client_id       text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 500),
  auth_login_url  text NOT NULL,
  auth_token_url  text NOT NULL,
  jwks_url        text NOT NULL,
  trust_email     boolean NOT NULL DEFAULT false,
  jit_create      boolean NOT NULL DEFAULT false,
  -- which launch claim names the person: 'lis.person_sourcedid' (default), 'email' is never used here,
  -- or 'custom.<name>' for a custom claim such as Canvas's $Canvas.user.sisIntegrationId substitution.
  identity_claim  text NOT NULL DEFAULT 'lis.person_sourcedid',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz
);
CREATE UNIQUE INDEX lti_platforms_live ON lti_platforms (tenant_id, issuer, client_id) WHERE deleted_at IS NULL;
CREATE INDEX lti_platforms_issuer ON lti_platforms (issuer, client_id) WHERE deleted_at IS NULL;

-- (issuer, client_id, deployment_id) names exactly one tenant: issuer and client_id are copied here so
-- that rule is a unique index rather than a hope.
CREATE TABLE lti_deployments (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  platform_id    uuid NOT NULL REFERENCES lti_platforms (id),
  issuer         text NOT NULL,
  client_id      text NOT NULL,
  deployment_id  text NOT NULL CHECK (length(deployment_id) BETWEEN 1 AND 500),
  created_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);
CREATE UNIQUE INDEX lti_deployments_live ON lti_deployments (issuer, client_id, deployment_id) WHERE deleted_at IS NULL;
CREATE INDEX lti_deployments_tenant ON lti_deployments (tenant_id, platform_id);

-- The login identity: one platform user (sub) is one person, and never two.
CREATE TABLE identity_links (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  person_id    uuid NOT NULL REFERENCES people (id),
  platform_id  uuid NOT NULL REFERENCES lti_platforms (id),
  sub          text NOT NULL CHECK (length(sub) BETWEEN 1 AND 255),
  matched_by   text NOT NULL CHECK (matched_by IN ('claim', 'email', 'jit')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_launch_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX identity_links_sub ON identity_links (tenant_id, platform_id, sub);
-- one person has at most one sub per platform registration: never re-link to another sub
CREATE UNIQUE INDEX identity_links_person ON identity_links (tenant_id, platform_id, person_id);

-- OIDC login states: single use, short-lived, bound to the browser by a cookie secret (its hash here).
-- The tenant is not known before the signed launch names the deployment, so no tenant_id.
CREATE TABLE lti_states (
  state_hash       text PRIMARY KEY,
  nonce            text NOT NULL,
  issuer           text NOT NULL,
  client_id        text NOT NULL,
  deployment_hint  text,
  target_link_uri  text NOT NULL,
  storage_target   text,
  auth_origin      text NOT NULL,
  browser_hash     text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  used_at          timestamptz
);
CREATE INDEX lti_states_expiry ON lti_states (expires_at);

-- Nonces seen in accepted launches (per issuer): a nonce is accepted once, even outside its state.
CREATE TABLE lti_nonces (
  issuer      text NOT NULL,
  nonce       text NOT NULL,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (issuer, nonce)
);

-- Redeemed launch tickets. A ticket (a signed 60 s token the launched page exchanges for a bearer
-- session, LTI-NOTES §6.1) is recorded here when redeemed, which makes it single use.
CREATE TABLE lti_tickets (
  ticket_hash  text PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  session      jsonb NOT NULL,
  redirect_to  text NOT NULL,
  -- when set, the page must prove it read this state back from platform storage
  state_check  text,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);

-- The tool's own RSA key pairs (JWKS at /lti/jwks). One active key signs; retiring keys stay
-- published until retire_after so platforms holding a cached JWKS keep verifying.
CREATE TABLE tool_keys (
  kid           text PRIMARY KEY,
  status        text NOT NULL CHECK (status IN ('active', 'retiring')),
  public_jwk    jsonb NOT NULL,
  private_jwk   jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  retire_after  timestamptz
);
CREATE UNIQUE INDEX tool_keys_one_active ON tool_keys (status) WHERE status = 'active';

-- One-time dynamic registration links (`platform register-link --tenant S`).
CREATE TABLE lti_registration_links (
  token_hash  text PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);

CREATE INDEX courses_by_platform ON courses (tenant_id, lti_platform_id) WHERE lti_platform_id IS NOT NULL;
