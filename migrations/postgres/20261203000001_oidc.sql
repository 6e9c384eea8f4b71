-- OpenID Connect sign-in (issue "A web interface"): a user an administrator linked to the
-- identity provider's subject identifier (issuer + sub: unique together, as OpenID Connect Core
-- 1.0 §2 defines a person's identity at a provider) signs in through that provider.
ALTER TABLE users ADD COLUMN oidc_issuer TEXT;
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc ON users (oidc_issuer, oidc_subject);
