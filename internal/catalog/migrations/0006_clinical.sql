-- The clinical database: patients, their identifiers, encounters, orders,
-- results, and the HL7 v2 messages received. Patient data (names, dates,
-- identifier values, result values, message bodies) is sealed by the
-- clinical layer (AES-256-GCM, base64) before it reaches these tables;
-- lookups go through keyed hashes (blind indexes) of identifiers. Ids are
-- random and pseudonymous.
CREATE TABLE sealing_keys (
	name        TEXT PRIMARY KEY,
	key_name    TEXT NOT NULL,
	key_version TEXT NOT NULL,
	wrapped     TEXT NOT NULL,
	created     BIGINT NOT NULL
);

CREATE TABLE patients (
	id          TEXT PRIMARY KEY,
	merged_into TEXT NOT NULL,
	sealed      TEXT NOT NULL,
	created     BIGINT NOT NULL,
	updated     BIGINT NOT NULL
);

CREATE TABLE patient_ids (
	hash       TEXT PRIMARY KEY,
	patient_id TEXT NOT NULL REFERENCES patients(id)
);
CREATE INDEX patient_ids_patient ON patient_ids(patient_id);

CREATE TABLE encounters (
	id         TEXT PRIMARY KEY,
	patient_id TEXT NOT NULL REFERENCES patients(id),
	key_hash   TEXT NOT NULL UNIQUE,
	sealed     TEXT NOT NULL,
	updated    BIGINT NOT NULL
);
CREATE INDEX encounters_patient ON encounters(patient_id);

CREATE TABLE orders (
	id         TEXT PRIMARY KEY,
	patient_id TEXT NOT NULL REFERENCES patients(id),
	key_hash   TEXT NOT NULL UNIQUE,
	sample_id  TEXT NOT NULL,
	status     TEXT NOT NULL,
	sealed     TEXT NOT NULL,
	updated    BIGINT NOT NULL
);
CREATE INDEX orders_patient ON orders(patient_id);
CREATE INDEX orders_sample ON orders(sample_id);

CREATE TABLE results (
	id         TEXT PRIMARY KEY,
	patient_id TEXT NOT NULL REFERENCES patients(id),
	order_id   TEXT NOT NULL,
	key_hash   TEXT NOT NULL UNIQUE,
	sealed     TEXT NOT NULL,
	updated    BIGINT NOT NULL
);
CREATE INDEX results_patient ON results(patient_id);

CREATE TABLE hl7_messages (
	id         TEXT PRIMARY KEY,
	sender     TEXT NOT NULL,
	control_id TEXT NOT NULL,
	received   BIGINT NOT NULL,
	type       TEXT NOT NULL,
	state      TEXT NOT NULL,
	error      TEXT NOT NULL,
	ack        TEXT NOT NULL,
	patient_id TEXT NOT NULL,
	sealed     TEXT NOT NULL,
	UNIQUE (sender, control_id)
);
CREATE INDEX hl7_messages_state ON hl7_messages(state, received);
