-- The platform's own FHIR store (internal/fhir/server's sealed store): the
-- current version of each resource of the read-only FHIR API. A resource
-- is PHI: its JSON is sealed by the FHIR layer (AES-256-GCM under the
-- clinical data key, bound to type/id) and only what holds no patient
-- data is in the clear: type, id (ours, pseudonymous), version, the
-- insertion order (seq, for paging snapshots), the last update, and the
-- pseudonymous patient id (for the audit trail).
--
-- Search tokens ("identifier|sv=urn:mrn|12345") are kept as keyed hashes
-- (HMAC-SHA256 under the clinical hash key): a search hashes its tokens the
-- same way and matches by equality, so no identifier value is stored.
--
-- Written in the SQL common to SQLite and PostgreSQL (the migration runner
-- applies the same file to both).
CREATE TABLE fhir_resources (
	type       TEXT NOT NULL,
	id         TEXT NOT NULL,
	version    INTEGER NOT NULL,
	seq        BIGINT NOT NULL,
	updated    BIGINT NOT NULL,
	patient_id TEXT NOT NULL,
	sealed     TEXT NOT NULL,
	PRIMARY KEY (type, id)
);
CREATE UNIQUE INDEX fhir_resources_seq ON fhir_resources(seq);
CREATE INDEX fhir_resources_type_seq ON fhir_resources(type, seq);
CREATE INDEX fhir_resources_patient ON fhir_resources(patient_id);

CREATE TABLE fhir_tokens (
	type  TEXT NOT NULL,
	id    TEXT NOT NULL,
	token TEXT NOT NULL,
	PRIMARY KEY (type, id, token)
);
CREATE INDEX fhir_tokens_token ON fhir_tokens(type, token, id);
