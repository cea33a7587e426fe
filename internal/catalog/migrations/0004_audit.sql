-- The audit trail, completed: where each action came from and the
-- break-glass reason when one was given (both '' in records written before
-- this migration, whose hashes do not cover them, see catalog.AuditHash),
-- an index for the accounting of disclosures by patient, signed
-- checkpoints, the checkpoint-signing keys (private seed wrapped by the key
-- provider) and the SIEM export cursors (last seq sent to each destination).
ALTER TABLE audit_events ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN break_glass TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_patient ON audit_events(patient, seq);

CREATE TABLE audit_checkpoints (
	seq       BIGINT PRIMARY KEY,
	hash      TEXT NOT NULL,
	time      BIGINT NOT NULL,
	key_id    TEXT NOT NULL,
	signature TEXT NOT NULL
);

CREATE TABLE audit_keys (
	id          TEXT PRIMARY KEY,
	public_key  TEXT NOT NULL,
	key_name    TEXT NOT NULL,
	key_version TEXT NOT NULL,
	wrapped     TEXT NOT NULL,
	created     BIGINT NOT NULL
);

CREATE TABLE audit_cursors (
	name    TEXT PRIMARY KEY,
	seq     BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
