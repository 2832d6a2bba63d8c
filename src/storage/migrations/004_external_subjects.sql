-- External SSO subjects (enterprise): who a tse_ token belongs to, and which apps they may use.

-- The IdP's `sub` and display name of a tse_ token's subject (NULL for account tokens).
ALTER TABLE oauth_access_tokens
  ADD COLUMN subject_sub text,
  ADD COLUMN subject_name text;
CREATE INDEX oauth_access_tokens_external ON oauth_access_tokens (subject_issuer, subject_email, created_at) WHERE account_id IS NULL;

-- Grants of an app to external subjects: one email, or every email of a domain, at one issuer.
-- Emails and domains are stored lower-case; the issuer exactly as the IdP's `iss`.
CREATE TABLE app_grants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  app_id uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  subject_issuer text NOT NULL,
  email text CHECK (email = lower(email)),
  email_domain text CHECK (email_domain = lower(email_domain)),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((email IS NULL) <> (email_domain IS NULL))
);
CREATE UNIQUE INDEX app_grants_by_email ON app_grants (app_id, subject_issuer, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX app_grants_by_domain ON app_grants (app_id, subject_issuer, email_domain) WHERE email_domain IS NOT NULL;
CREATE INDEX app_grants_subject_email ON app_grants (subject_issuer, email) WHERE email IS NOT NULL;
CREATE INDEX app_grants_subject_domain ON app_grants (subject_issuer, email_domain) WHERE email_domain IS NOT NULL;
