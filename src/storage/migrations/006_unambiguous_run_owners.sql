-- Owners of runs and conversations (`subject`) were `external:<issuer>:<subject>` with
-- both parts as they came, so issuer `https://gw.example` + subject `8443:alice` and issuer
-- `https://gw.example:8443` + subject `alice` shared one owner. Both parts now have `%`
-- escaped as `%25` and `:` as `%3A` (src/apps/run-service.ts), so a key splits one way only.
--
-- A stored key is re-keyed when exactly one known issuer explains it: the issuers the server
-- is configured with (SSO_OIDC_ISSUER, TRUSTED_JWT_ISSUERS; passed as tessera.known_issuers)
-- and every issuer recorded with external tokens, device grants and app grants. With no known
-- issuer, a key whose rest holds a single `:` splits there. Anything else cannot be told
-- apart and is set aside as `unattributed:<old key>`: no caller's key ever has that form, so
-- those rows are shown to nobody (docs/apps.md).

CREATE TEMP TABLE known_issuers ON COMMIT DROP AS
SELECT DISTINCT issuer
FROM (
  SELECT jsonb_array_elements_text(coalesce(nullif(current_setting('tessera.known_issuers', true), ''), '[]')::jsonb) AS issuer
  UNION SELECT subject_issuer FROM oauth_access_tokens WHERE account_id IS NULL
  UNION SELECT subject_issuer FROM device_grants WHERE account_id IS NULL
  UNION SELECT subject_issuer FROM app_grants
) found
WHERE issuer IS NOT NULL AND issuer <> '';

CREATE TEMP TABLE old_owners ON COMMIT DROP AS
SELECT DISTINCT subject AS old, substr(subject, length('external:') + 1) AS rest
FROM (
  SELECT subject FROM conversations
  UNION SELECT subject FROM messages
  UNION SELECT subject FROM workflow_runs
) owners
WHERE subject LIKE 'external:%';

CREATE TEMP TABLE owner_splits ON COMMIT DROP AS
SELECT o.old, o.rest, count(i.issuer) AS candidates, max(i.issuer) AS issuer
FROM old_owners o
LEFT JOIN known_issuers i ON left(o.rest, length(i.issuer) + 1) = i.issuer || ':'
GROUP BY o.old, o.rest;

CREATE TEMP TABLE rekeyed ON COMMIT DROP AS
SELECT old,
  CASE
    WHEN candidates = 1 THEN 'external:' || replace(replace(issuer, '%', '%25'), ':', '%3A') || ':'
      || replace(replace(substr(rest, length(issuer) + 2), '%', '%25'), ':', '%3A')
    WHEN candidates = 0 AND rest ~ '^[^:]+:[^:]+$' THEN 'external:' || replace(split_part(rest, ':', 1), '%', '%25') || ':'
      || replace(split_part(rest, ':', 2), '%', '%25')
    ELSE 'unattributed:' || old
  END AS new
FROM owner_splits;

UPDATE conversations t SET subject = r.new FROM rekeyed r WHERE t.subject = r.old;
UPDATE messages t SET subject = r.new FROM rekeyed r WHERE t.subject = r.old;
UPDATE workflow_runs t SET subject = r.new FROM rekeyed r WHERE t.subject = r.old;
