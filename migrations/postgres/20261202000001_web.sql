-- The web interface (issue "A web interface"): people sign in with a username and a password
-- (argon2id hash), locked out for a while after repeated failures; server-side sessions, stored
-- as hashes of their cookie token, each with its CSRF token; each user's interface language.
ALTER TABLE users ADD COLUMN username TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE users ADD COLUMN deactivated_at TEXT;
CREATE UNIQUE INDEX users_username ON users (username);

CREATE TABLE web_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
