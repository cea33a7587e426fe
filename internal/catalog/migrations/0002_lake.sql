-- The lake: object paths (their retention state), the versions of each
-- object (the encrypted blob, its wrapped data key and plaintext sha256),
-- resumable uploads in progress, and the audit trail.
CREATE TABLE lake_objects (
	path         TEXT PRIMARY KEY,
	patient      TEXT NOT NULL,
	current      TEXT NOT NULL,
	deleted      BIGINT NOT NULL,
	hold         TEXT NOT NULL,
	retain_until BIGINT NOT NULL,
	created      BIGINT NOT NULL,
	updated      BIGINT NOT NULL
);

CREATE TABLE lake_versions (
	id           TEXT PRIMARY KEY,
	path         TEXT NOT NULL REFERENCES lake_objects(path),
	blob         TEXT NOT NULL,
	size         BIGINT NOT NULL,
	stored_size  BIGINT NOT NULL,
	sha256       TEXT NOT NULL,
	chunk_size   INTEGER NOT NULL,
	key_name     TEXT NOT NULL,
	key_version  TEXT NOT NULL,
	wrapped_key  TEXT NOT NULL,
	kind         TEXT NOT NULL,
	run_id       TEXT NOT NULL,
	tier         TEXT NOT NULL,
	created      BIGINT NOT NULL,
	purged       BIGINT NOT NULL,
	verified     BIGINT NOT NULL,
	verify_error TEXT NOT NULL
);
CREATE INDEX lake_versions_path ON lake_versions(path, created);
CREATE INDEX lake_versions_key ON lake_versions(key_name);

CREATE TABLE lake_uploads (
	id          TEXT PRIMARY KEY,
	path        TEXT NOT NULL,
	version_id  TEXT NOT NULL,
	blob        TEXT NOT NULL,
	size        BIGINT NOT NULL,
	sha256      TEXT NOT NULL,
	patient     TEXT NOT NULL,
	kind        TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	key_name    TEXT NOT NULL,
	key_version TEXT NOT NULL,
	wrapped_key TEXT NOT NULL,
	part_size   BIGINT NOT NULL,
	parts       INTEGER NOT NULL,
	upload_off  BIGINT NOT NULL,
	hash_state  TEXT NOT NULL,
	created     BIGINT NOT NULL,
	updated     BIGINT NOT NULL
);

CREATE TABLE audit_events (
	seq      BIGINT PRIMARY KEY,
	time     BIGINT NOT NULL,
	actor    TEXT NOT NULL,
	action   TEXT NOT NULL,
	resource TEXT NOT NULL,
	patient  TEXT NOT NULL,
	outcome  TEXT NOT NULL,
	detail   TEXT NOT NULL,
	prev     TEXT NOT NULL,
	hash     TEXT NOT NULL
);
