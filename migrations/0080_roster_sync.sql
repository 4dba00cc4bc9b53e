-- LMS roster sync (LTI Names and Role Provisioning Services 2.0, issue #10 §1).

-- A person a roster sync prepared for their first launch is linked before that launch: the link
-- records how it was made.
ALTER TABLE identity_links DROP CONSTRAINT identity_links_matched_by_check;
ALTER TABLE identity_links ADD CONSTRAINT identity_links_matched_by_check
  CHECK (matched_by IN ('claim', 'email', 'jit', 'roster'));

-- Where a course's roster comes from: the NRPS context_memberships_url of its latest launch, and
-- the differences URL the last sync was given (used instead of a full read while it is fresh).
CREATE TABLE course_roster_sources (
  tenant_id         uuid NOT NULL REFERENCES tenants (id),
  course_id         uuid NOT NULL REFERENCES courses (id),
  platform_id       uuid NOT NULL REFERENCES lti_platforms (id),
  memberships_url   text NOT NULL CHECK (length(memberships_url) BETWEEN 1 AND 2000),
  service_versions  text[] NOT NULL DEFAULT '{}',
  differences_url   text CHECK (length(differences_url) <= 2000),
  last_full_sync_at timestamptz,
  last_sync_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, course_id)
);

-- One row per sync: queued by a launch, the API, the CLI or the schedule; its counts once done.
CREATE TABLE roster_syncs (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  course_id    uuid NOT NULL REFERENCES courses (id),
  trigger      text NOT NULL CHECK (trigger IN ('launch', 'api', 'cli', 'schedule')),
  requested_by text NOT NULL,
  status       text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  mode         text CHECK (mode IN ('full', 'differences')),
  attempts     integer NOT NULL DEFAULT 0,
  members      integer NOT NULL DEFAULT 0,
  added        integer NOT NULL DEFAULT 0,
  updated      integer NOT NULL DEFAULT 0,
  ended        integer NOT NULL DEFAULT 0,
  unchanged    integer NOT NULL DEFAULT 0,
  errors       integer NOT NULL DEFAULT 0,
  -- per member: [{ userId, reason, message }], at most 100 kept
  problems     jsonb NOT NULL DEFAULT '[]'::jsonb,
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz
);
CREATE INDEX roster_syncs_course ON roster_syncs (tenant_id, course_id, created_at DESC);
-- At most one sync of a course waits or runs at a time: a second request joins it.
CREATE UNIQUE INDEX roster_syncs_one_open ON roster_syncs (tenant_id, course_id) WHERE status IN ('queued', 'running');

-- A tenant's roster schedule: every course with a known roster is synced this often.
CREATE TABLE roster_sync_schedules (
  tenant_id      uuid PRIMARY KEY REFERENCES tenants (id),
  every_minutes  integer NOT NULL CHECK (every_minutes BETWEEN 15 AND 10080),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
