-- Request budgets shared by every instance of the service (rate-limiter-flexible's PostgreSQL
-- store; its column layout): key = limiter prefix + token id, points spent in the current
-- window, expire = end of the window in epoch milliseconds. Not a tenant's data (no tenant_id):
-- rows expire within minutes and are swept by the limiter.
CREATE TABLE rate_limits (
  key    varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
