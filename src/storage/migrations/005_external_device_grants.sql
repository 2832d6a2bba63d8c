-- A device code approved in the external-SSO branch is written through like an account
-- approval, with who approved it at the IdP, so its tse_ token can still be minted after
-- the store restarts (account_id stays NULL; subject_issuer is the IdP's issuer).
ALTER TABLE device_grants ADD COLUMN subject_sub text;
ALTER TABLE device_grants ADD COLUMN subject_name text;
