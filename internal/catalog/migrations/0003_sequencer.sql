-- Sequencer run folders the ingest watcher has seen, and the FASTQ objects
-- (in the lake) registered for each sample of a run, per lane.
CREATE TABLE sequencer_runs (
	name       TEXT PRIMARY KEY,
	instrument TEXT NOT NULL,
	state      TEXT NOT NULL,
	error      TEXT NOT NULL,
	samples    INTEGER NOT NULL,
	created    BIGINT NOT NULL,
	updated    BIGINT NOT NULL
);

CREATE TABLE sample_fastqs (
	sample_id TEXT NOT NULL REFERENCES samples(id),
	run_name  TEXT NOT NULL REFERENCES sequencer_runs(name),
	lane      INTEGER NOT NULL,
	r1        TEXT NOT NULL,
	r2        TEXT NOT NULL,
	PRIMARY KEY (sample_id, run_name, lane)
);
