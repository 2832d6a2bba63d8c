-- Sender-constrained device sessions (DPoP, RFC 9449; docs/tokens.md, "DPoP").
-- The JWK SHA-256 thumbprint (RFC 7638, base64url) of the key a session's access and refresh
-- tokens are bound to: each token is accepted only with a proof signed by that key. NULL: a
-- bearer session, as every session made before this migration.
ALTER TABLE oauth_access_tokens ADD COLUMN dpop_jkt text;
