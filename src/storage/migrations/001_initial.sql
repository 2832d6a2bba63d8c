CREATE TABLE accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  name text NOT NULL,
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE workspaces (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'normal')),
  current boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, workspace_id)
);
CREATE UNIQUE INDEX memberships_one_current ON memberships (account_id) WHERE current;
CREATE INDEX memberships_workspace ON memberships (workspace_id);

CREATE TABLE apps (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  mode text NOT NULL CHECK (mode IN ('chat', 'completion', 'workflow')),
  enable_api boolean NOT NULL DEFAULT true,
  -- workspace: every member; members: only app_members; external: external SSO subjects too
  access_mode text NOT NULL DEFAULT 'workspace' CHECK (access_mode IN ('workspace', 'members', 'external')),
  config jsonb NOT NULL,
  tags text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX apps_workspace ON apps (workspace_id, created_at);

CREATE TABLE app_members (
  app_id uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  PRIMARY KEY (app_id, account_id)
);

-- Device-flow tokens. Only sha256(token) is stored; token_hash is cleared when a
-- token is revoked or hard-expired so the row survives for audit.
CREATE TABLE oauth_access_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash text UNIQUE,
  prefix text NOT NULL,
  subject_email text NOT NULL,
  subject_issuer text NOT NULL,
  account_id uuid REFERENCES accounts (id) ON DELETE CASCADE,
  client_id text NOT NULL,
  device_label text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE UNIQUE INDEX oauth_access_tokens_live_device
  ON oauth_access_tokens (subject_email, subject_issuer, client_id, device_label)
  WHERE revoked_at IS NULL;
CREATE INDEX oauth_access_tokens_account ON oauth_access_tokens (account_id, created_at);
CREATE INDEX oauth_access_tokens_prune ON oauth_access_tokens (coalesce(revoked_at, expires_at));

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text UNIQUE,
  prefix text NOT NULL,
  scopes text[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);
