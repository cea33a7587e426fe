-- The outbox: messages to deliver to outside systems (HL7 ORU over MLLP,
-- FHIR bundles), in order per destination, retried until delivered or
-- dead-lettered. Payloads are sealed by the clinical layer.
CREATE TABLE outbox (
	id           TEXT PRIMARY KEY,
	destination  TEXT NOT NULL,
	seq          BIGINT NOT NULL,
	kind         TEXT NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt BIGINT NOT NULL,
	last_error   TEXT NOT NULL,
	patient_id   TEXT NOT NULL,
	sealed       TEXT NOT NULL,
	created      BIGINT NOT NULL,
	updated      BIGINT NOT NULL
);
CREATE INDEX outbox_destination ON outbox(destination, state, seq);
