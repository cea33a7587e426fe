-- Settings the clinical tables were written under, by name. The first is
-- patient_identifier_scheme: a fingerprint of how patient identifiers
-- became patient_ids' keyed hashes (the matching rule and the configured
-- authority aliases). When the running configuration's differs, the
-- clinical layer hashes every patient's identifiers again from their
-- sealed demographics, in one transaction.
CREATE TABLE clinical_settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
