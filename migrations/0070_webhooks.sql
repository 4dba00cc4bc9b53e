-- Outgoing webhooks (src/domain/webhooks.ts). A tenant's endpoints; events written by the change
-- that causes them, in its transaction (rb_webhook_emit, called by domain code and by the people
-- triggers below); one delivery per (event, endpoint) with its attempts. Deliveries are sent by
-- jobs on the pg-boss queue (docs/decisions/0007-job-queue.md).
CREATE TABLE webhook_endpoints (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  url          text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
  event_types  text[] NOT NULL CHECK (cardinality(event_types) > 0),
  -- The signing secret (whsec_…), sealed like the tool's keys when TOOL_KEY_SECRET is set.
  secret       jsonb NOT NULL,
  description  text CHECK (description IS NULL OR length(description) <= 500),
  created_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_events (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  type        text NOT NULL,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX webhook_events_tenant ON webhook_events (tenant_id, created_at);

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  event_id         uuid NOT NULL REFERENCES webhook_events (id),
  endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id),
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sending', 'succeeded', 'dead', 'cancelled')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- A 'sending' delivery whose lease ran out (its process died) is pending again.
  lease_until      timestamptz,
  -- Whether a job for the next attempt is on the queue (set in the transaction that adds it).
  queued           boolean NOT NULL DEFAULT false,
  last_status_code integer,
  last_error       text,
  replay_of        uuid REFERENCES webhook_deliveries (id),
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at      timestamptz
);
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant_id, created_at DESC);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');

CREATE TABLE webhook_attempts (
  id           bigserial PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id),
  attempt      integer NOT NULL,
  started_at   timestamptz NOT NULL,
  duration_ms  integer NOT NULL,
  status_code  integer,
  error        text,
  response     text
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

-- Writes an event and its deliveries (one per live endpoint of the tenant subscribed to the type),
-- in the caller's transaction; nothing when no endpoint listens.
CREATE FUNCTION rb_webhook_emit(p_tenant uuid, p_type text, p_data jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  ev uuid;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints
                  WHERE tenant_id = p_tenant AND deleted_at IS NULL AND p_type = ANY (event_types)) THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_events (tenant_id, type, data) VALUES (p_tenant, p_type, p_data) RETURNING id INTO ev;
  INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id)
  SELECT p_tenant, ev, e.id FROM webhook_endpoints e
   WHERE e.tenant_id = p_tenant AND e.deleted_at IS NULL AND p_type = ANY (e.event_types);
  RETURN ev;
END $$;

-- person.provisioned / person.realized / person.deprovisioned come from the people table itself,
-- so every door that writes people (SCIM, its batched fast path, launches, rosters, imports)
-- emits them in its own transaction without each remembering to.
CREATE FUNCTION rb_person_view(p people) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('id', p.id, 'userName', p.user_name, 'externalId', p.external_id,
    'email', p.primary_email, 'displayName', p.display_name, 'status', p.status, 'source', p.source)
$$;

CREATE FUNCTION rb_people_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status NOT IN ('invited', 'merged') AND NEW.deleted_at IS NULL THEN
      PERFORM rb_webhook_emit(NEW.tenant_id, 'person.provisioned', jsonb_build_object('person', rb_person_view(NEW)));
    END IF;
    RETURN NULL;
  END IF;
  IF NEW.status = 'merged' THEN RETURN NULL; END IF;
  -- An admin's placeholder adopted by the IdP (not by a launch).
  IF OLD.status = 'invited' AND NEW.status <> 'invited' AND NEW.deleted_at IS NULL
     AND OLD.first_launch_at IS NOT DISTINCT FROM NEW.first_launch_at THEN
    PERFORM rb_webhook_emit(NEW.tenant_id, 'person.provisioned', jsonb_build_object('person', rb_person_view(NEW)));
  END IF;
  IF OLD.first_launch_at IS NULL AND NEW.first_launch_at IS NOT NULL THEN
    PERFORM rb_webhook_emit(NEW.tenant_id, 'person.realized',
      jsonb_build_object('person', rb_person_view(NEW), 'previousStatus', OLD.status, 'firstLaunchAt', NEW.first_launch_at));
  END IF;
  IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
    PERFORM rb_webhook_emit(NEW.tenant_id, 'person.deprovisioned',
      jsonb_build_object('person', rb_person_view(NEW), 'reason', 'deleted'));
  ELSIF OLD.active AND NOT NEW.active AND NEW.deleted_at IS NULL THEN
    PERFORM rb_webhook_emit(NEW.tenant_id, 'person.deprovisioned',
      jsonb_build_object('person', rb_person_view(NEW), 'reason', 'deactivated'));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER people_webhooks_insert AFTER INSERT ON people FOR EACH ROW EXECUTE FUNCTION rb_people_webhooks();
CREATE TRIGGER people_webhooks_update AFTER UPDATE ON people FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.active IS DISTINCT FROM NEW.active
        OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR OLD.first_launch_at IS DISTINCT FROM NEW.first_launch_at)
  EXECUTE FUNCTION rb_people_webhooks();
