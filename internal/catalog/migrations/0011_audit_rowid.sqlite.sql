-- SQLite only: the audit trail rebuilt with one B-tree fewer, its rows
-- copied. A SQLite table whose primary key is not exactly INTEGER
-- PRIMARY KEY is two B-trees, the rows by a hidden rowid and the key, and
-- every insert writes both. audit_events' seq (BIGINT PRIMARY KEY) becomes
-- the rowid: the same integers, one B-tree, and the inbox appends a
-- record with every message. PostgreSQL keeps its schema (there is no
-- 0011 for it).
--
-- Measured and not done (bench hl7, docs/benchmarks.md): rebuilding the
-- clinical tables WITHOUT ROWID. Patients, encounters, orders and results
-- stored in their random ids or keyed hashes made the writer 20-30 %
-- slower: each insert then puts a whole sealed record (a few hundred
-- bytes) on a random page of a large tree, splitting pages often, where a
-- rowid table appends it and only a small index entry lands at random.
-- Patient identifiers WITHOUT ROWID wrote one page more a message: the
-- index by patient then carries the 64-character hash instead of a rowid.
-- hl7_messages holds whole sealed messages, which a WITHOUT ROWID table
-- spills to overflow pages past about 1 KB, and its ids are time-ordered
-- (clinical.NewMessageID), so its id index is appended to anyway.
CREATE TABLE audit_events_new (
	seq         INTEGER PRIMARY KEY,
	time        BIGINT NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	resource    TEXT NOT NULL,
	patient     TEXT NOT NULL,
	outcome     TEXT NOT NULL,
	detail      TEXT NOT NULL,
	prev        TEXT NOT NULL,
	hash        TEXT NOT NULL,
	source      TEXT NOT NULL DEFAULT '',
	break_glass TEXT NOT NULL DEFAULT ''
);
INSERT INTO audit_events_new SELECT seq, time, actor, action, resource, patient, outcome, detail, prev, hash, source, break_glass FROM audit_events ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_patient ON audit_events(patient, seq);
