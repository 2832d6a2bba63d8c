-- Runs of apps. `subject` is the caller a run belongs to: `account:<id>` for
-- accounts, `external:<issuer>:<subject>` for external subjects. It is text,
-- not a foreign key, because external subjects have no account row.
CREATE TABLE conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  app_id uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  subject text NOT NULL,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_app_subject ON conversations (app_id, subject, updated_at DESC);

CREATE TABLE messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- NULL for completion runs, which keep no conversation.
  conversation_id uuid REFERENCES conversations (id) ON DELETE CASCADE,
  app_id uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  subject text NOT NULL,
  query text NOT NULL,
  answer text NOT NULL DEFAULT '',
  inputs jsonb NOT NULL DEFAULT '{}',
  usage jsonb NOT NULL DEFAULT '{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}',
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'stopped')),
  error text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);

CREATE TABLE workflow_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  app_id uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  subject text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'stopped')),
  inputs jsonb NOT NULL DEFAULT '{}',
  outputs jsonb,
  error text,
  elapsed_time double precision NOT NULL DEFAULT 0,
  total_tokens integer NOT NULL DEFAULT 0,
  total_steps integer NOT NULL DEFAULT 0,
  steps jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX workflow_runs_app_subject ON workflow_runs (app_id, subject, created_at);
