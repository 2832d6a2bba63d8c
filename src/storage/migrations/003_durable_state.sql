-- State that must survive a restart of the store (Redis), and run liveness.

-- Console sessions. The cookie is a JWS that any replica verifies without a lookup;
-- this row is what sign-out changes, so a signed-out cookie stays dead even when the
-- store comes back empty. The store only caches the row's verdict.
CREATE TABLE console_sessions (
  -- SHA-256 (hex) of the cookie's `sid` (128 random bits); the sid itself is never stored
  id text PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- A user's decision on a device code, written through from the store, so an approved
-- code can still be collected after the store restarts. Collection is one conditional
-- update of this row in the transaction that mints the token: exactly once, whichever
-- path (store or this table) a poll takes.
CREATE TABLE device_grants (
  -- sha256(device_code), as in the store
  code_hash text PRIMARY KEY,
  client_id text NOT NULL,
  scope text NOT NULL,
  device_label text NOT NULL,
  status text NOT NULL CHECK (status IN ('approved', 'denied')),
  account_id uuid REFERENCES accounts (id) ON DELETE CASCADE,
  subject_email text NOT NULL,
  subject_issuer text NOT NULL DEFAULT 'tessera:account',
  expires_at timestamptz NOT NULL,
  decided_at timestamptz NOT NULL DEFAULT now(),
  collected_at timestamptz,
  token_id uuid
);
CREATE INDEX device_grants_expires ON device_grants (expires_at);

-- Runs in progress are touched by their replica every few seconds; a `running` row
-- whose heartbeat stopped (a crashed replica, a final write lost to a database
-- outage) is ended as `failed` by the run sweeper.
ALTER TABLE messages ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE workflow_runs ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX messages_running ON messages (heartbeat_at) WHERE status = 'running';
CREATE INDEX workflow_runs_running ON workflow_runs (heartbeat_at) WHERE status = 'running';
