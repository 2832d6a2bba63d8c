-- Token lifecycle (docs/tokens.md, "Sessions and refresh tokens") and offboarding (docs/enterprise.md).

-- A row of oauth_access_tokens is one device session: the approval of one device, its
-- current access token (token_hash, expires_at) and, when refresh tokens are on, its current
-- refresh token. Rows made before this migration, or with OAUTH_REFRESH_TOKENS=false, have
-- no refresh token and end at expires_at, as before.
ALTER TABLE oauth_access_tokens
  -- sha256 of the live tsr_ refresh token; NULL when the session has none (or has ended)
  ADD COLUMN refresh_token_hash text UNIQUE,
  -- when the refresh token stops working unless used (idle lifetime, never past session_expires_at)
  ADD COLUMN refresh_expires_at timestamptz,
  -- the absolute end of the session, counted from the approval
  ADD COLUMN session_expires_at timestamptz,
  ADD COLUMN last_refreshed_at timestamptz,
  -- External subjects: the IdP's session id (`sid` of the ID token), for back-channel logout
  ADD COLUMN subject_sid text;

-- A refresh session outlives its hourly access tokens: the pruner counts from the later expiry.
DROP INDEX oauth_access_tokens_prune;
CREATE INDEX oauth_access_tokens_prune ON oauth_access_tokens (coalesce(revoked_at, greatest(expires_at, refresh_expires_at)));
-- Back-channel logout finds a subject's live sessions by the IdP's sub or sid.
CREATE INDEX oauth_access_tokens_idp_sub ON oauth_access_tokens (subject_issuer, subject_sub) WHERE account_id IS NULL AND revoked_at IS NULL;
CREATE INDEX oauth_access_tokens_idp_sid ON oauth_access_tokens (subject_issuer, subject_sid) WHERE subject_sid IS NOT NULL AND revoked_at IS NULL;

-- Refresh tokens already exchanged (rotation): presented again after the grace window, one
-- is taken as stolen and its whole session is revoked (RFC 9700 §4.14.2). Only hashes.
CREATE TABLE oauth_spent_refresh_tokens (
  token_hash text PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES oauth_access_tokens (id) ON DELETE CASCADE,
  spent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_spent_refresh_tokens_session ON oauth_spent_refresh_tokens (session_id);
CREATE INDEX oauth_spent_refresh_tokens_spent ON oauth_spent_refresh_tokens (spent_at);

-- The IdP session an SSO approval came from, carried to the session it mints.
ALTER TABLE device_grants ADD COLUMN subject_sid text;

-- `admin disable-account`: sign-in refused and nothing minted or refreshed while set.
ALTER TABLE accounts ADD COLUMN disabled_at timestamptz;
