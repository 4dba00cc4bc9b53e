-- Privileges: a per-tenant catalogue, LTI role defaults, one row per (course, person, privilege)
-- grant, group grants, invitations with their mail outbox, and change notifications that keep the
-- authorization cache honest (see src/domain/authorize.ts).

-- Composite keys so grants and memberships can only point at a course/person of their own tenant.
CREATE UNIQUE INDEX courses_tenant_id_key ON courses (tenant_id, id);
CREATE UNIQUE INDEX people_tenant_id_key ON people (tenant_id, id);
CREATE UNIQUE INDEX groups_tenant_id_key ON groups (tenant_id, id);
-- personRef `key:…` matches externalId case-insensitively; door 2 and bulk look up by these.
CREATE INDEX people_external_id_lower ON people (tenant_id, lower(external_id)) WHERE deleted_at IS NULL AND external_id IS NOT NULL;
-- The people search of the admin page and courses by title.
CREATE INDEX courses_tenant_title ON courses (tenant_id, lower(title), id) WHERE deleted_at IS NULL;

CREATE TABLE privilege_catalogue (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  key          text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

-- LTI role short names (the fragment after '#' of a role URI) to the privileges they imply.
CREATE TABLE role_privilege_defaults (
  tenant_id  uuid NOT NULL,
  role       text NOT NULL CHECK (role ~ '^[A-Za-z][A-Za-z0-9]*$'),
  privilege  text NOT NULL,
  PRIMARY KEY (tenant_id, role, privilege),
  FOREIGN KEY (tenant_id, privilege) REFERENCES privilege_catalogue (tenant_id, key) ON DELETE CASCADE
);

CREATE TABLE privilege_grants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL,
  course_id   uuid NOT NULL,
  person_id   uuid NOT NULL,
  privilege   text NOT NULL,
  effect      text NOT NULL CHECK (effect IN ('allow', 'deny')),
  granted_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, course_id) REFERENCES courses (tenant_id, id),
  FOREIGN KEY (tenant_id, person_id) REFERENCES people (tenant_id, id),
  FOREIGN KEY (tenant_id, privilege) REFERENCES privilege_catalogue (tenant_id, key)
);
CREATE UNIQUE INDEX privilege_grants_key ON privilege_grants (tenant_id, course_id, person_id, privilege);
CREATE INDEX privilege_grants_person ON privilege_grants (tenant_id, person_id);

CREATE TABLE group_privilege_grants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL,
  course_id   uuid NOT NULL,
  group_id    uuid NOT NULL,
  privilege   text NOT NULL,
  effect      text NOT NULL CHECK (effect IN ('allow', 'deny')),
  granted_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, course_id) REFERENCES courses (tenant_id, id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, privilege) REFERENCES privilege_catalogue (tenant_id, key)
);
CREATE UNIQUE INDEX group_privilege_grants_key ON group_privilege_grants (tenant_id, course_id, group_id, privilege);
CREATE INDEX group_privilege_grants_group ON group_privilege_grants (tenant_id, group_id);

CREATE TABLE invitations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL,
  person_id     uuid NOT NULL,
  course_id     uuid,
  email         text NOT NULL CHECK (email = lower(email)),
  token_hash    text NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'expired', 'revoked')),
  expires_at    timestamptz NOT NULL,
  sent_count    integer NOT NULL DEFAULT 0,
  last_sent_at  timestamptz,
  accepted_at   timestamptz,
  accepted_by   uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, person_id) REFERENCES people (tenant_id, id)
);
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
-- At most one open invitation per person; a resend replaces its token.
CREATE UNIQUE INDEX invitations_pending_person ON invitations (tenant_id, person_id) WHERE status = 'pending';

CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  kind        text NOT NULL DEFAULT 'mail',
  recipient   text NOT NULL,
  subject     text NOT NULL,
  body        text NOT NULL,
  status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'logged', 'failed')),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz
);
CREATE INDEX outbox_queued ON outbox (id) WHERE status = 'queued';

-- Every tenant starts with the default catalogue and role defaults; existing tenants get them now.
CREATE FUNCTION rb_seed_privileges(t uuid) RETURNS void LANGUAGE sql AS $$
  INSERT INTO privilege_catalogue (tenant_id, key, description) VALUES
    (t, 'course.view', 'See the course'),
    (t, 'content.edit', 'Edit course content'),
    (t, 'grades.view', 'See grades'),
    (t, 'grades.edit', 'Enter and change grades'),
    (t, 'members.view', 'See the course''s people'),
    (t, 'members.manage', 'Enrol and remove people'),
    (t, 'privileges.manage', 'Grant and deny privileges in the course')
  ON CONFLICT DO NOTHING;
  INSERT INTO role_privilege_defaults (tenant_id, role, privilege)
  SELECT t, r.role, r.privilege FROM (VALUES
    ('Instructor', 'course.view'), ('Instructor', 'content.edit'), ('Instructor', 'grades.view'),
    ('Instructor', 'grades.edit'), ('Instructor', 'members.view'), ('Instructor', 'members.manage'),
    ('Instructor', 'privileges.manage'),
    ('Administrator', 'course.view'), ('Administrator', 'content.edit'), ('Administrator', 'grades.view'),
    ('Administrator', 'grades.edit'), ('Administrator', 'members.view'), ('Administrator', 'members.manage'),
    ('Administrator', 'privileges.manage'),
    ('TeachingAssistant', 'course.view'), ('TeachingAssistant', 'content.edit'), ('TeachingAssistant', 'grades.view'),
    ('TeachingAssistant', 'grades.edit'), ('TeachingAssistant', 'members.view'),
    ('ContentDeveloper', 'course.view'), ('ContentDeveloper', 'content.edit'),
    ('Mentor', 'course.view'), ('Mentor', 'grades.view'),
    ('Learner', 'course.view')
  ) AS r (role, privilege)
  ON CONFLICT DO NOTHING;
$$;

CREATE FUNCTION rb_seed_privileges_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM rb_seed_privileges(NEW.id);
  RETURN NEW;
END $$;
CREATE TRIGGER tenants_seed_privileges AFTER INSERT ON tenants FOR EACH ROW EXECUTE FUNCTION rb_seed_privileges_trigger();
SELECT rb_seed_privileges(id) FROM tenants;

-- Any change that can alter an authorization decision (or a token's validity) notifies
-- 'rb_authz' with the tenant id. PostgreSQL folds identical notifications of one transaction into
-- one, so a 10,000-row bulk sends one. Listeners drop that tenant's cached decisions.
CREATE FUNCTION rb_notify_authz() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('rb_authz', OLD.tenant_id::text);
  ELSE
    PERFORM pg_notify('rb_authz', NEW.tenant_id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER privilege_grants_authz AFTER INSERT OR UPDATE OR DELETE ON privilege_grants FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER group_privilege_grants_authz AFTER INSERT OR UPDATE OR DELETE ON group_privilege_grants FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER role_privilege_defaults_authz AFTER INSERT OR UPDATE OR DELETE ON role_privilege_defaults FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER privilege_catalogue_authz AFTER INSERT OR UPDATE OR DELETE ON privilege_catalogue FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER course_memberships_authz AFTER INSERT OR UPDATE OR DELETE ON course_memberships FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER group_members_authz AFTER INSERT OR UPDATE OR DELETE ON group_members FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER groups_authz AFTER UPDATE OR DELETE ON groups FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER person_emails_authz AFTER INSERT OR UPDATE OR DELETE ON person_emails FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER courses_authz AFTER INSERT OR UPDATE OR DELETE ON courses FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER api_tokens_authz AFTER UPDATE OF revoked_at, expires_at, tenant_id OR DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE TRIGGER people_authz AFTER INSERT OR UPDATE OR DELETE ON people FOR EACH ROW EXECUTE FUNCTION rb_notify_authz();
CREATE FUNCTION rb_notify_authz_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('rb_authz', NEW.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER tenants_authz AFTER UPDATE ON tenants FOR EACH ROW EXECUTE FUNCTION rb_notify_authz_tenant();
