-- A webhook endpoint can be disabled: by the service when the receiver answers 410 Gone (Standard
-- Webhooks: the endpoint is gone for good), or by an admin. A disabled endpoint gets no new
-- deliveries until it is enabled again; why and when it was disabled are kept beside it.
ALTER TABLE webhook_endpoints
  ADD COLUMN disabled_at     timestamptz,
  ADD COLUMN disabled_reason text CHECK (disabled_reason IS NULL OR length(disabled_reason) <= 500);

-- As in 0070, but only to endpoints that are enabled.
CREATE OR REPLACE FUNCTION rb_webhook_emit(p_tenant uuid, p_type text, p_data jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  ev uuid;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_endpoints
                  WHERE tenant_id = p_tenant AND deleted_at IS NULL AND disabled_at IS NULL
                    AND p_type = ANY (event_types)) THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_events (tenant_id, type, data) VALUES (p_tenant, p_type, p_data) RETURNING id INTO ev;
  INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id)
  SELECT p_tenant, ev, e.id FROM webhook_endpoints e
   WHERE e.tenant_id = p_tenant AND e.deleted_at IS NULL AND e.disabled_at IS NULL AND p_type = ANY (e.event_types);
  RETURN ev;
END $$;
