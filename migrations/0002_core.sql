-- Shared core of the three doors: multi-valued emails (SCIM filters need them), SCIM groups,
-- and courses with memberships, which exist before any launch.

CREATE TABLE person_emails (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  person_id    uuid NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  value        text NOT NULL,
  value_lower  text GENERATED ALWAYS AS (lower(value)) STORED,
  type         text,
  is_primary   boolean NOT NULL DEFAULT false,
  position     integer NOT NULL DEFAULT 0
);
CREATE INDEX person_emails_value ON person_emails (tenant_id, value_lower);
CREATE INDEX person_emails_person ON person_emails (person_id, position);

CREATE TABLE groups (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  display_name  text NOT NULL,
  external_id   text,
  scim          jsonb NOT NULL DEFAULT '{}'::jsonb,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);
CREATE INDEX groups_display_name ON groups (tenant_id, lower(display_name)) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX groups_external_id_live ON groups (tenant_id, external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL;
CREATE INDEX groups_tenant_id ON groups (tenant_id, id);

CREATE TABLE group_members (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  group_id     uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  member_type  text NOT NULL CHECK (member_type IN ('person', 'group')),
  member_id    uuid NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, group_id, member_type, member_id)
);
CREATE INDEX group_members_member ON group_members (tenant_id, member_type, member_id);

CREATE TABLE courses (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  title            text NOT NULL,
  external_key     text,
  lti_platform_id  uuid,
  lti_context_id   text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
CREATE UNIQUE INDEX courses_external_key_live ON courses (tenant_id, external_key) WHERE deleted_at IS NULL AND external_key IS NOT NULL;
CREATE UNIQUE INDEX courses_lti_context_live ON courses (tenant_id, lti_platform_id, lti_context_id)
  WHERE deleted_at IS NULL AND lti_context_id IS NOT NULL;

CREATE TABLE course_memberships (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  course_id   uuid NOT NULL REFERENCES courses (id),
  person_id   uuid NOT NULL REFERENCES people (id),
  roles       text[] NOT NULL DEFAULT '{}',
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
  source      text NOT NULL CHECK (source IN ('lti', 'api', 'bulk', 'roster')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX course_memberships_person ON course_memberships (tenant_id, course_id, person_id);
CREATE INDEX course_memberships_by_person ON course_memberships (tenant_id, person_id);
