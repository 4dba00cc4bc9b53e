-- OneRoster imports (CSV bundles and the 1.2 rostering REST API). The SIS's sourcedIds are kept
-- beside the people and courses they map to, with the import that last brought each record: a
-- bulk file replaces what earlier imports brought, a delta file changes only the rows it names,
-- and a record whose digest did not change is not written again (re-importing changes nothing).

CREATE TABLE oneroster_imports (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  origin       text NOT NULL CHECK (origin IN ('csv', 'api')),
  version      text NOT NULL CHECK (version IN ('1.1', '1.2')),
  files        jsonb NOT NULL DEFAULT '{}'::jsonb,
  summary      jsonb NOT NULL DEFAULT '{}'::jsonb,
  actor        text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oneroster_imports_tenant ON oneroster_imports (tenant_id, created_at DESC);

-- One row per OneRoster record of the kinds we keep (orgs, academic sessions, courses, classes,
-- users); a user points at its person, a class at its course.
CREATE TABLE oneroster_records (
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  kind         text NOT NULL CHECK (kind IN ('org', 'academicSession', 'course', 'class', 'user')),
  sourced_id   text NOT NULL,
  status       text NOT NULL CHECK (status IN ('active', 'deleted')),
  digest       text NOT NULL,
  person_id    uuid REFERENCES people (id),
  course_id    uuid REFERENCES courses (id),
  created_here boolean NOT NULL DEFAULT false,
  import_id    uuid NOT NULL REFERENCES oneroster_imports (id),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, kind, sourced_id)
);
CREATE INDEX oneroster_records_person ON oneroster_records (tenant_id, person_id) WHERE person_id IS NOT NULL;
CREATE INDEX oneroster_records_course ON oneroster_records (tenant_id, course_id) WHERE course_id IS NOT NULL;

CREATE TABLE oneroster_enrollments (
  tenant_id          uuid NOT NULL REFERENCES tenants (id),
  sourced_id         text NOT NULL,
  status             text NOT NULL CHECK (status IN ('active', 'deleted')),
  digest             text NOT NULL,
  class_sourced_id   text NOT NULL,
  user_sourced_id    text NOT NULL,
  role               text NOT NULL,
  person_id          uuid NOT NULL REFERENCES people (id),
  course_id          uuid NOT NULL REFERENCES courses (id),
  import_id          uuid NOT NULL REFERENCES oneroster_imports (id),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX oneroster_enrollments_pair ON oneroster_enrollments (tenant_id, course_id, person_id);

-- A tenant's OneRoster 1.2 rostering API: where to pull from and the OAuth 2 client credentials
-- (the secret sealed like the tool keys when TOOL_KEY_SECRET is set).
CREATE TABLE oneroster_connections (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  base_url       text NOT NULL,
  token_url      text NOT NULL,
  client_id      text NOT NULL,
  client_secret  jsonb NOT NULL,
  scope          text,
  page_size      integer NOT NULL DEFAULT 1000 CHECK (page_size BETWEEN 1 AND 10000),
  last_sync_at   timestamptz,
  last_result    jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX oneroster_connections_tenant ON oneroster_connections (tenant_id);
