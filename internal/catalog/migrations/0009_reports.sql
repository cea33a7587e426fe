-- Clinical reports. The content (patient, variants, conclusion...) is
-- PHI: it is sealed by the report layer (AES-256-GCM under the clinical
-- data key, bound to the report id) and only the workflow state is in the
-- clear: ids, status, the report it amends, its version, the pseudonymous
-- patient id and the internal order id, the times, and content_hash, the
-- sha256 of the sealed content.
--
-- A signed report never changes. When a report is signed its content hash
-- is also written to report_signoffs (insert-only) and to the audit trail;
-- every read compares the row with both, so a direct UPDATE of a signed
-- report's content is detected (the catalog refuses to return it).
CREATE TABLE reports (
	id           TEXT PRIMARY KEY,
	status       TEXT NOT NULL,
	amends       TEXT NOT NULL,
	version      INTEGER NOT NULL,
	patient_id   TEXT NOT NULL,
	order_id     TEXT NOT NULL,
	sealed       TEXT NOT NULL,
	content_hash TEXT NOT NULL,
	created      BIGINT NOT NULL,
	updated      BIGINT NOT NULL,
	signed       BIGINT NOT NULL
);
CREATE INDEX reports_patient ON reports(patient_id, created);
CREATE INDEX reports_status ON reports(status, created);
CREATE INDEX reports_signed ON reports(signed);
-- A signed report is amended at most once: the amendment, once signed,
-- supersedes it, and a later correction amends the amendment.
CREATE UNIQUE INDEX reports_amends ON reports(amends) WHERE amends <> '';

CREATE TABLE report_signoffs (
	report_id    TEXT PRIMARY KEY REFERENCES reports(id),
	content_hash TEXT NOT NULL,
	signed       BIGINT NOT NULL
);
