-- Personal API tokens: only the sha256 of the secret is kept.
CREATE TABLE api_tokens (
	id      TEXT PRIMARY KEY,
	name    TEXT NOT NULL,
	owner   TEXT NOT NULL,
	hash    TEXT NOT NULL,
	grants  TEXT NOT NULL,
	perms   TEXT NOT NULL,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	revoked BIGINT NOT NULL
);
CREATE INDEX api_tokens_owner ON api_tokens(owner);
